"""`make invoke EVENT=events/put-object.json`: the handler on one sample event, in-process, like `sam local invoke`.

Uses the same `--env-vars` file (events/env.json, DRY_RUN=true by default) and needs no Docker. With DRY_RUN=false
it would call the CodePipeline endpoint your AWS credentials and AWS_ENDPOINT_URL_CODEPIPELINE point at.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from local.lambda_context import LocalLambdaContext


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("event", type=Path, help="event file, e.g. events/put-object.json")
    parser.add_argument("--env-vars", type=Path, default=Path("events/env.json"), help="sam-style env file")
    args = parser.parse_args(argv)

    settings = json.loads(args.env_vars.read_text(encoding="utf-8"))
    os.environ.update({k: str(v) for k, v in settings.get("TriggerFunction", {}).items()})
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "s3-pipeline-trigger")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "S3PipelineTrigger")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    from trigger_fn.handler import lambda_handler
    from trigger_fn.s3_event import MalformedEventError

    event = json.loads(args.event.read_text(encoding="utf-8"))
    try:
        result = lambda_handler(event, LocalLambdaContext())
    except MalformedEventError as error:
        print(json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}))
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
