"""`make engine`, second half: the Lambda image `sam local` asks for, or a stand-in built here where none can be pulled.

SAM runs the template's python3.13 arm64 function in `public.ecr.aws/lambda/python:3.13-arm64`, plus its own
Runtime Interface Emulator. Where no image registry answers, this builds an image of that name from Debian's
python3.13 (arm64) and AWS's runtime interface client from PyPI, laid out as AWS's image is, and labelled as a
stand-in with what it contains. An image of that name without our label is a real one: it is never built over.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_FILES = ROOT / "local" / "lambda_image"
REQUIREMENTS = BUILD_FILES / "requirements.txt"
WORK_DIR = ROOT / ".local" / "lambda-image"

IMAGE = "public.ecr.aws/lambda/python:3.13-arm64"
STAND_IN_LABEL = "s3-pipeline-trigger.stand-in"
DIGEST_LABEL = "s3-pipeline-trigger.stand-in.digest"
# On the emulator image: the id of the base it was made from, so a rebuilt base gets a new one.
EMULATOR_BASE_LABEL = "s3-pipeline-trigger.stand-in.emulator-base"
# The host's own build of SAM's Runtime Interface Emulator, by what platform.machine() says.
HOST_RIE = {"x86_64": "aws-lambda-rie-x86_64", "amd64": "aws-lambda-rie-x86_64"}

# Debian 13 ships Python 3.13; libstdc++6 for awslambdaric's C client, dash and coreutils for SAM's RUN step.
DEBIAN_SUITE = "trixie"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_PACKAGES = ("python3.13", "libstdc++6", "dash", "coreutils", "base-files", "base-passwd", "libc-bin", "tzdata")
WHEEL_PLATFORM = ("--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.13")


class ImageUnavailable(Exception):
    """Neither the real image nor a stand-in can be had here; the message is the one-line reason."""


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def rapid_image_of(image: str) -> str:
    """The image SAM derives from a base to add its emulator: python:3.13-arm64 -> python:3.13-rapid-arm64."""
    repository, tag = image.rsplit(":", 1)
    version, architecture = tag.rsplit("-", 1)
    return f"{repository}:{version}-rapid-{architecture}"


def image_labels(image: str) -> dict[str, str] | None:
    """The image's labels, or None when there is no image of that name here."""
    found = _docker("image", "inspect", "--format", "{{json .Config.Labels}}", image, check=False)
    if found.returncode != 0:
        return None
    labels: dict[str, str] | None = json.loads(found.stdout)
    return labels or {}


def build_digest() -> str:
    """Changes whenever anything the stand-in is built from changes, so an outdated stand-in is rebuilt."""
    digest = hashlib.sha256(f"{DEBIAN_SUITE} {' '.join(DEBIAN_PACKAGES)} {' '.join(WHEEL_PLATFORM)}".encode())
    for path in sorted(BUILD_FILES.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def pinned(package: str) -> str:
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        name, _, version = line.partition("==")
        if name.strip() == package:
            return version.strip()
    raise ImageUnavailable(f"{REQUIREMENTS.relative_to(ROOT)} pins no {package}")


def _debian_version(rootfs: Path, package: str) -> str:
    changelog = rootfs / "usr" / "share" / "doc" / package / "changelog.Debian.gz"
    first_line = gzip.decompress(changelog.read_bytes()).decode().splitlines()[0]
    return first_line.split("(", 1)[1].split(")", 1)[0]


def _lay_out_rootfs(rootfs: Path) -> None:
    packages = f"--include={','.join(DEBIAN_PACKAGES)}"
    # The extract variant unpacks without running maintainer scripts: nothing runs under emulation (~5 s, not minutes).
    debootstrap = ["mmdebstrap", "--quiet", "--variant=extract", "--arch=arm64", packages, DEBIAN_SUITE, str(rootfs)]
    subprocess.run([*debootstrap, DEBIAN_MIRROR], check=True)
    # What base-passwd's maintainer script would have written.
    for table in ("passwd", "group"):
        shutil.copyfile(rootfs / "usr" / "share" / "base-passwd" / f"{table}.master", rootfs / "etc" / table)
    runtime = rootfs / "var" / "runtime"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:"]
    subprocess.run([*pip, *WHEEL_PLATFORM, "--target", str(runtime), "--requirement", str(REQUIREMENTS)], check=True)
    shutil.copy2(BUILD_FILES / "bootstrap", runtime / "bootstrap")
    shutil.copy2(BUILD_FILES / "lambda-entrypoint.sh", rootfs / "lambda-entrypoint.sh")
    for folder in ("var/task", "opt"):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
    # Compiled here, not at every cold start under emulation; same .pyc magic across 3.13.x, paths as in the image.
    compileall = [sys.executable, "-m", "compileall", "-q", "-j0", "--invalidation-mode", "unchecked-hash"]
    in_image = ["-s", str(rootfs), "-p", "/"]
    subprocess.run([*compileall, *in_image, str(rootfs / "usr" / "lib" / "python3.13"), str(runtime)], check=True)


def _build(digest: str, image: str) -> str:
    if sys.version_info[:2] != (3, 13):
        raise ImageUnavailable("the stand-in image is compiled with Python 3.13: run this with the project's .venv")
    if shutil.which("mmdebstrap") is None:
        raise ImageUnavailable(f"{image} cannot be pulled and mmdebstrap is missing to build a stand-in")
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    try:
        rootfs = WORK_DIR / "rootfs"
        _lay_out_rootfs(rootfs)
        contents = (
            f"stand-in built locally: Debian {DEBIAN_SUITE} python3.13 {_debian_version(rootfs, 'python3.13')}, "
            f"awslambdaric {pinned('awslambdaric')}, boto3 {pinned('boto3')}"
        )
        shutil.copy2(BUILD_FILES / "Dockerfile", WORK_DIR / "Dockerfile")
        previous = _docker("image", "inspect", "--format", "{{.Id}}", image, check=False).stdout.strip()
        labels = ["--build-arg", f"STAND_IN_CONTENTS={contents}", "--build-arg", f"STAND_IN_DIGEST={digest}"]
        # The classic builder records --platform in the image; SAM then finds it as arm64 and does not pull.
        built = subprocess.run(
            ["docker", "build", "--quiet", "--platform", "linux/arm64", "--tag", image, *labels, str(WORK_DIR)],
            check=False,
            env=os.environ | {"DOCKER_BUILDKIT": "0"},
            capture_output=True,
            text=True,
        )
        if built.returncode != 0:
            why = (built.stderr.strip().splitlines() or ["no output"])[-1]
            raise ImageUnavailable(f"docker build of the stand-in failed: {why}")
        if previous:
            _docker("image", "rm", previous, check=False)
    finally:
        shutil.rmtree(WORK_DIR, ignore_errors=True)
    return contents


def ensure_emulator_image(image: str = IMAGE) -> str | None:
    """SAM's emulator image for the stand-in, with the host's build of SAM's emulator on an emulated host.

    SAM adds its emulator of the function's architecture to the base and retries the container's port for ~0.35 s;
    under qemu that emulator listens later than that on a busy machine, and SAM says "No response from invoke
    container". The host's build of the same emulator version listens at once; the function still runs in the
    arm64 Python under emulation. SAM uses an emulator image it finds (samconfig.toml: skip_pull_image).
    """
    rie = HOST_RIE.get(platform.machine())
    base_id = _docker("image", "inspect", "--format", "{{.Id}}", image, check=False).stdout.strip()
    if rie is None or not base_id or (image_labels(image) or {}).get(STAND_IN_LABEL) != "true":
        return None
    emulator_image = rapid_image_of(image)
    if (image_labels(emulator_image) or {}).get(EMULATOR_BASE_LABEL) == base_id:
        return f"{emulator_image}: SAM's emulator for {platform.machine()} hosts (up to date)"
    import samcli  # only make engine needs SAM's files: not imported by those who read this module

    rie_file = Path(samcli.__file__).parent / "local" / "rapid" / rie
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copy2(rie_file, WORK_DIR / "aws-lambda-rie")
        (WORK_DIR / "Dockerfile").write_text(
            f"FROM {image}\nCOPY aws-lambda-rie /var/rapid/aws-lambda-rie\nLABEL {EMULATOR_BASE_LABEL}={base_id}\n",
            encoding="utf-8",
        )
        built = subprocess.run(
            ["docker", "build", "--quiet", "--platform", "linux/arm64", "--tag", emulator_image, str(WORK_DIR)],
            check=False,
            env=os.environ | {"DOCKER_BUILDKIT": "0"},
            capture_output=True,
            text=True,
        )
    finally:
        shutil.rmtree(WORK_DIR, ignore_errors=True)
    if built.returncode != 0:
        why = (built.stderr.strip().splitlines() or ["no output"])[-1]
        raise ImageUnavailable(f"docker build of SAM's emulator image failed: {why}")
    return f"{emulator_image}: SAM's emulator for {platform.machine()} hosts, built from {rie_file.name}"


def ensure_image(image: str = IMAGE) -> str:
    """The base image is here afterwards (real, or our stand-in of the current build files); returns what was done."""
    labels = image_labels(image)
    if labels is not None and labels.get(STAND_IN_LABEL) != "true":
        return f"{image}: a real image is here, used as it is"
    digest = build_digest()
    if labels is not None and labels.get(DIGEST_LABEL) == digest:
        return f"{image}: {labels.get(f'{STAND_IN_LABEL}.contents')} (up to date)"
    if labels is None:
        pulled = _docker("pull", "--quiet", image, check=False)
        if pulled.returncode == 0:
            return f"{image}: pulled"
        why = (pulled.stderr.strip().splitlines() or ["no answer"])[-1]
        print(f"{image} cannot be pulled ({why}): building a stand-in", flush=True)
    started = time.monotonic()
    contents = _build(digest, image)
    # SAM would keep running the emulator image made from the previous base.
    _docker("image", "rm", rapid_image_of(image), check=False)
    return f"{image}: {contents} ({time.monotonic() - started:.0f} s)"


def main() -> int:
    try:
        print(ensure_image())
        emulator = ensure_emulator_image()
        if emulator:
            print(emulator)
    except ImageUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"{IMAGE}: `{' '.join(map(str, error.cmd))}` failed (exit {error.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
