"""The yardstick: the plainest boto3 handler that sends the same StartPipelineExecution request."""

import hashlib
import os

import boto3

# The usual shape: one client per execution environment, made at import.
codepipeline = boto3.client("codepipeline")
PIPELINE_NAME = os.environ["PIPELINE_NAME"]
SOURCE_ACTION_NAME = os.environ.get("SOURCE_ACTION_NAME", "Source")


def lambda_handler(event, context):
    obj = event["detail"]["object"]
    bucket = event["detail"]["bucket"]["name"]
    material = "\0".join(("s3-pipeline-trigger/v1", PIPELINE_NAME, bucket, obj["key"], f"version:{obj['version-id']}"))
    response = codepipeline.start_pipeline_execution(
        name=PIPELINE_NAME,
        sourceRevisions=[
            {
                "actionName": SOURCE_ACTION_NAME,
                "revisionType": "S3_OBJECT_VERSION_ID",
                "revisionValue": obj["version-id"],
            }
        ],
        clientRequestToken=hashlib.sha256(material.encode("utf-8")).hexdigest(),
    )
    return {"status": "started", "pipelineExecutionId": response["pipelineExecutionId"]}
