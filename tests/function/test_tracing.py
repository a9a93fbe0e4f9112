"""X-Ray as Lambda runs it: tracing on, a local UDP socket as the daemon, one invocation, the packets read back."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Any

from support.environment import FUNCTION_ENV, ROOT

INVOKE_ONCE = """
import json, sys
import boto3
from botocore.stub import Stubber
from trigger_fn import handler
from trigger_fn.clients import AwsClients
from local.lambda_context import LocalLambdaContext

from support.events import fresh

event = fresh(json.load(open(sys.argv[1])))
s3 = boto3.client("s3", region_name="eu-west-1")
s3_stub = Stubber(s3)
s3_stub.add_response("head_object", {"VersionId": event["detail"]["object"]["version-id"]})
s3_stub.activate()
codepipeline = boto3.client("codepipeline", region_name="eu-west-1")
stub = Stubber(codepipeline)
stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "e-1"})
stub.activate()
context = LocalLambdaContext(request_id="trace-test")
print(json.dumps(handler.lambda_handler(event, context, clients=AwsClients(codepipeline, s3=s3))))
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


def test_one_invocation_traces_the_handler_and_its_two_aws_calls_inside_it() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        port = daemon.getsockname()[1]
        env = (
            {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
            | FUNCTION_ENV
            | {
                "POWERTOOLS_TRACE_DISABLED": "false",
                "PYTHONPATH": os.pathsep.join((str(ROOT / "src"), str(ROOT), str(ROOT / "tests"))),
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

        documents = _packets(daemon)

    # Powertools streams each subsegment as it closes (no batching: a batch past the UDP limit would be lost).
    by_name = {document["name"]: document for document in documents}
    assert sorted(by_name) == ["## lambda_handler", "codepipeline", "s3"], documents
    handler_segment = by_name["## lambda_handler"]
    assert {document["trace_id"] for document in documents} == {"1-6745f0a1-0123456789abcdef01234567"}
    assert handler_segment["parent_id"] == "53995c3f42cd8ad8"
    # The current-version check, then the start, both inside the handler's subsegment.
    assert by_name["s3"]["parent_id"] == by_name["codepipeline"]["parent_id"] == handler_segment["id"]
    assert by_name["s3"]["aws"]["operation"] == "HeadObject"
    assert by_name["codepipeline"]["aws"]["operation"] == "StartPipelineExecution"
    # capture_response=False: the function's result (tokens, versions) stays out of the trace.
    assert "response" not in json.dumps(handler_segment.get("metadata", {})).lower()
