"""The second yardstick: the plainest boto3 handler that makes the function's two calls.

HeadObject for the key's current version, then, if it is the event's, the first yardstick's StartPipelineExecution.
"""

import bare_handler
import boto3

# One client per execution environment, made at import: the usual shape (bare_handler makes CodePipeline's).
s3 = boto3.client("s3")


def lambda_handler(event, context):
    obj = event["detail"]["object"]
    if s3.head_object(Bucket=event["detail"]["bucket"]["name"], Key=obj["key"]).get("VersionId") != obj["version-id"]:
        return {"status": "ignored", "reasonCode": "superseded"}
    return bare_handler.lambda_handler(event, context)
