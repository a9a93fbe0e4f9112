"""A stand-in SAM CLI and docker, so make invoke's emulator path runs anywhere, container engine or not.

`sam build` does nothing; `sam local start-lambda` serves the Lambda invoke API on its --port and prints what SAM
prints (a container id, "Running on ..."); `docker container inspect` says that container is the function's, published
on that same port. Each invoke is answered with FAKE_SAM_ANSWER, and an empty answer is logged the way SAM logs it:
"No response from invoke container for TriggerFunction". Every sam command line is appended to FAKE_SAM_CALLS.

`python -m support.fake_sam_cli make-invoke ARGS…` runs make invoke's module (local/try_event.py) as if a container
engine ran arm64 here, with this sam and docker (FAKE_SAM_BIN) and its emulator log in FAKE_SAM_LOG.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from support.environment import ROOT

FUNCTION = "TriggerFunction"
NO_RESPONSE = f"No response from invoke container for {FUNCTION}"


def install(bin_dir: Path) -> Path:
    """Writes `sam` and `docker` into BIN_DIR; returns BIN_DIR."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("sam", "docker"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__)}" {name} "$@"\n', encoding="utf-8")
        script.chmod(0o755)
    return bin_dir


def environment(bin_dir: Path, answer: str, **more: str) -> dict[str, str]:
    """The environment for `make-invoke` with the fake tools in BIN_DIR answering ANSWER."""
    return os.environ | {
        "PYTHONPATH": os.pathsep.join(str(path) for path in (ROOT / "src", ROOT, ROOT / "tests")),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_SAM_BIN": str(bin_dir),
        "FAKE_SAM_ANSWER": answer,
        "FAKE_SAM_CALLS": str(bin_dir / "calls.txt"),
        "FAKE_SAM_LOG": str(bin_dir / "start-lambda.log"),
        **more,
    }


def calls(bin_dir: Path) -> list[str]:
    """The sam command lines run so far (`build …`, `local start-lambda …`)."""
    path = bin_dir / "calls.txt"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def make_invoke(bin_dir: Path, *arguments: str, answer: str, **more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "support.fake_sam_cli", "make-invoke", *arguments],
        cwd=ROOT,
        env=environment(bin_dir, answer, **more),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _say(line: str) -> None:
    print(line, flush=True)


def _start_lambda(arguments: list[str]) -> int:
    port = int(arguments[arguments.index("--port") + 1])
    mode = os.environ.get("FAKE_SAM_START", "serve")
    _say(f"SAM_CONTAINER_ID: fake-{port}")
    if mode == "exit":
        _say("Error: Template file not found at .aws-sam/invoke/build/template.yaml")
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if mode == "hang":
        (Path(os.environ["FAKE_SAM_BIN"]) / "start-lambda.pid").write_text(str(os.getpid()), encoding="utf-8")
        while True:
            time.sleep(1)
    answer = os.environ.get("FAKE_SAM_ANSWER", "").encode()

    class LambdaApi(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the readiness probe on the "container's" port
            self.send_response(404)
            self.end_headers()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if answer:
                _say("START RequestId: fake-request Version: $LATEST")
                _say('{"level":"INFO","message":"fake function ran"}')
                _say("END RequestId: fake-request")
                _say("REPORT RequestId: fake-request\tDuration: 1.00 ms")
            else:
                _say(NO_RESPONSE)
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), LambdaApi)
    _say(f" * Running on http://127.0.0.1:{port}")
    server.serve_forever()
    return 0


def _docker(arguments: list[str]) -> int:
    if arguments[:3] == ["container", "inspect", "--format"]:
        template, container = arguments[3], arguments[4]
        _say(FUNCTION if "sam.cli.function.name" in template else container.removeprefix("fake-"))
        return 0
    # Asked whether a container still exists: none does, SAM "removed" it.
    return 1


def _make_invoke(arguments: list[str]) -> int:
    from local import container_engine, lambda_emulator, try_event

    container_engine.unavailable_reason = lambda: None
    lambda_emulator.SAM = Path(os.environ["FAKE_SAM_BIN"]) / "sam"
    lambda_emulator.START_TIMEOUT_S = float(os.environ.get("FAKE_SAM_START_TIMEOUT_S", "60"))
    try_event.EMULATOR_LOG = Path(os.environ["FAKE_SAM_LOG"])
    return try_event.main(arguments)


def main(argv: list[str]) -> int:
    tool, arguments = argv[0], argv[1:]
    if tool == "make-invoke":
        return _make_invoke(arguments)
    if tool == "docker":
        return _docker(arguments)
    with Path(os.environ["FAKE_SAM_CALLS"]).open("a", encoding="utf-8") as recorded:
        recorded.write(" ".join(arguments) + "\n")
    if arguments[:2] == ["local", "start-lambda"]:
        return _start_lambda(arguments)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
