"""X-Ray as Lambda runs it: tracing on, a local UDP socket as the daemon, one invocation, the packets read back."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Any

from conftest import FUNCTION_ENV, ROOT

INVOKE_ONCE = """
import json, sys
import boto3
from botocore.stub import Stubber
from trigger_fn import handler
from trigger_fn.pipeline_client import PipelineStarter

class Context:
    function_name = "s3-pipeline-trigger-trigger"; function_version = "$LATEST"; memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:s3-pipeline-trigger-trigger"
    aws_request_id = "trace-test"
    def get_remaining_time_in_millis(self): return 30000

client = boto3.client("codepipeline", region_name="eu-west-1")
stub = Stubber(client)
stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "e-1"})
stub.activate()
event = json.load(open(sys.argv[1]))
print(json.dumps(handler.lambda_handler(event, Context(), starter=PipelineStarter(client))))
"""


def _packets(sock: socket.socket) -> list[dict[str, Any]]:
    documents = []
    sock.settimeout(0.5)
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return documents
        header, _, body = data.decode().partition("\n")
        assert json.loads(header) == {"format": "json", "version": 1}
        documents.append(json.loads(body))


def test_one_invocation_sends_one_handler_subsegment_with_the_codepipeline_call_inside() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        port = daemon.getsockname()[1]
        env = (
            {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
            | FUNCTION_ENV
            | {
                "POWERTOOLS_TRACE_DISABLED": "false",
                "PYTHONPATH": str(ROOT / "src"),
                "LAMBDA_TASK_ROOT": str(ROOT / "src"),
                "AWS_LAMBDA_FUNCTION_NAME": "s3-pipeline-trigger-trigger",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
                "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
                "_X_AMZN_TRACE_ID": "Root=1-6745f0a1-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
            }
        )
        env["POWERTOOLS_TRACE_DISABLED"] = "false"

        result = subprocess.run(
            [sys.executable, "-c", INVOKE_ONCE, str(ROOT / "events" / "put-object.json")],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout.strip().splitlines()[-1])["status"] == "started"

        (document,) = _packets(daemon)

    assert document["name"] == "## lambda_handler"
    assert document["trace_id"] == "1-6745f0a1-0123456789abcdef01234567"
    assert document["parent_id"] == "53995c3f42cd8ad8"
    assert "response" not in json.dumps(document.get("metadata", {})).lower()
    (call,) = document["subsegments"]
    assert call["name"] == "codepipeline"
    assert call["aws"]["operation"] == "StartPipelineExecution"
