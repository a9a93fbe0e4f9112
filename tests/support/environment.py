"""The repository's paths and the environment the template gives the function, as the tests use them."""

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
EVENTS = ROOT / "events"
# The function's settings for `make invoke` and `sam local invoke --env-vars`.
ENV_VARS_FILE = ROOT / "local" / "env.json"


def one_route(key: str = "my-website.zip", pipeline: str = "my-website-pipeline", **fields: Any) -> dict[str, str]:
    """What the template gives the function for one route (ObjectKey, PipelineName, ...): ROUTES and its grants.

    `fields` are the route's other JSON fields (sourceAction, overrideKey, latestOnly, variables, ...).
    """
    route = {"key": key, "pipeline": pipeline, **fields}
    return {"ROUTES": json.dumps([route]), "ALLOWED_PIPELINES": pipeline, "ROUTES_KEY_FILTER": key}


def several_routes(routes: list[dict[str, Any]], key_filter: str = "*") -> dict[str, str]:
    """What the template gives the function for Routes: ROUTES, RoutedPipelines and RoutesKeyFilter."""
    pipelines = ",".join(dict.fromkeys(route["pipeline"] for route in routes))
    return {"ROUTES": json.dumps(routes), "ALLOWED_PIPELINES": pipelines, "ROUTES_KEY_FILTER": key_filter}


# Central artifact bucket: the stacks of the bucket's account and of a pipelines' account.
SOURCE_ACCOUNT_TEMPLATE = ROOT / "source-account.yaml"
PIPELINE_ACCOUNT_TEMPLATE = ROOT / "pipeline-account.yaml"

# The environment the template gives the function; conftest sets it before any test imports the handler.
FUNCTION_ENV = {
    "SOURCE_BUCKET": "my-artifact-bucket",
    # ROUTES alone: tests that give other routes need not also change the grants checked with them.
    "ROUTES": one_route(sourceAction="Source", overrideKey=False)["ROUTES"],
    "DRY_RUN": "false",
    "SOURCE_ACCOUNT": "123456789012",
    "POWERTOOLS_SERVICE_NAME": "s3-pipeline-trigger",
    "POWERTOOLS_METRICS_NAMESPACE": "S3PipelineTrigger",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
