"""arm64 containers on an x86_64 Linux host: Debian's qemu-aarch64 registered with the kernel's binfmt_misc."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

BINFMT_MISC = Path("/proc/sys/fs/binfmt_misc")
QEMU_ENTRY = BINFMT_MISC / "qemu-aarch64"


def runs_natively() -> bool:
    """arm64 machines, and Docker Desktop (macOS, Windows), which brings its own emulation."""
    return platform.system() != "Linux" or platform.machine() in {"aarch64", "arm64"}


def entry_enabled() -> bool:
    try:
        return QEMU_ENTRY.read_text(encoding="utf-8").splitlines()[0] == "enabled"
    except OSError:
        return False


def unavailable_reason() -> str | None:
    """Why this host cannot run an arm64 container, or None when it can."""
    if runs_natively() or entry_enabled():
        return None
    return "arm64 containers cannot run here: qemu-aarch64 is not registered in binfmt_misc (make engine does that)"


def enable() -> tuple[bool, bool]:
    """Register qemu-aarch64; returns (mounted binfmt_misc, enabled the entry) so a stop can undo exactly that."""
    if runs_natively() or entry_enabled():
        return False, False
    mounted = not (BINFMT_MISC / "register").exists()
    if mounted:
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_MISC)], check=True)
    subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], check=True)
    return mounted, True


def disable(*, unmount: bool) -> None:
    if entry_enabled():
        subprocess.run(["update-binfmts", "--disable", "qemu-aarch64"], check=True)
    if unmount and (BINFMT_MISC / "register").exists():
        subprocess.run(["umount", str(BINFMT_MISC)], check=True)
