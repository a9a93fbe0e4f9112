"""The repository's paths and the environment the template gives the function, as the tests use them."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
EVENTS = ROOT / "events"
# Central artifact bucket: the stacks of the bucket's account and of a pipelines' account.
SOURCE_ACCOUNT_TEMPLATE = ROOT / "source-account.yaml"
PIPELINE_ACCOUNT_TEMPLATE = ROOT / "pipeline-account.yaml"

# The environment the template gives the function; conftest sets it before any test imports the handler.
FUNCTION_ENV = {
    "SOURCE_BUCKET": "my-artifact-bucket",
    "OBJECT_KEY": "my-website.zip",
    "PIPELINE_NAME": "my-website-pipeline",
    "SOURCE_ACTION_NAME": "Source",
    "OVERRIDE_OBJECT_KEY": "false",
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
