"""A deployed trigger stack on moto, as far as the operator tools read one: stack output, function, bucket, pipeline."""

from __future__ import annotations

import io
import json
import zipfile

import boto3

from local.example_pipeline import create_s3_source_pipeline
from trigger_fn.settings import load_settings

REGION = "eu-west-1"
BUCKET = "my-artifact-bucket"
KEY = "my-website.zip"
PIPELINE = "my-website-pipeline"
STACK = "s3-pipeline-trigger"
FUNCTION = "s3-pipeline-trigger-TriggerFunction-Q1w2E3r4"
# The trigger function's environment as the template sets it.
FUNCTION_ENV = {
    "SOURCE_BUCKET": BUCKET,
    "OBJECT_KEY": KEY,
    "PIPELINE_NAME": PIPELINE,
    "SOURCE_ACTION_NAME": "Source",
    "OVERRIDE_OBJECT_KEY": "false",
    "DRY_RUN": "false",
    "POWERTOOLS_SERVICE_NAME": "s3-pipeline-trigger",
}


def deploy(session: boto3.Session, environment: dict[str, str], *, versioned: bool = True) -> list[str]:
    """What `sam deploy` leaves behind, as far as `make start` reads it: stack output, function, bucket, pipeline."""
    s3 = session.client("s3")
    iam = session.client("iam")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    versions = [s3.put_object(Bucket=BUCKET, Key=KEY, Body=body).get("VersionId") for body in (b"v1", b"v2")]
    # CodePipeline refuses an S3_OBJECT_KEY revision unless the source action allows it: set up as the routes need.
    override = any(r.override_key for r in load_settings(environment).routes if r.pipeline == PIPELINE)
    create_s3_source_pipeline(
        codepipeline=session.client("codepipeline"),
        iam=iam,
        s3=s3,
        name=PIPELINE,
        source_bucket=BUCKET,
        object_key=KEY,
        allow_key_override=override,
    )
    role = iam.create_role(RoleName="trigger-role", AssumeRolePolicyDocument=json.dumps({}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("trigger_fn/handler.py", "def lambda_handler(event, context):\n    return None\n")
    # Created, never invoked: moto needs no Docker for that.
    session.client("lambda").create_function(
        FunctionName=FUNCTION,
        Runtime="python3.13",
        Role=role,
        Handler="trigger_fn.handler.lambda_handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": environment},
    )
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"TriggerFunctionName": {"Value": FUNCTION}},
    }
    session.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    return [version for version in versions if version]
