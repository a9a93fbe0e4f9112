"""A V2 pipeline with an S3 source action, as the demo and tests create it in moto (or any CodePipeline)."""

from __future__ import annotations

import json
from typing import Any

_TRUST_CODEPIPELINE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def create_s3_source_pipeline(
    *,
    codepipeline: Any,
    iam: Any,
    s3: Any,
    name: str,
    source_bucket: str,
    object_key: str,
    source_action: str = "Source",
    allow_key_override: bool = False,
) -> str:
    """Create the pipeline (and its role and artifact bucket) and return its ARN."""
    role_arn = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(_TRUST_CODEPIPELINE))[
        "Role"
    ]["Arn"]
    artifact_bucket = f"{name}-artifacts"[:63].lower()
    s3.create_bucket(Bucket=artifact_bucket, CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    source_configuration = {
        "S3Bucket": source_bucket,
        "S3ObjectKey": object_key,
        # The trigger starts the pipeline; CodePipeline must not poll as well.
        "PollForSourceChanges": "false",
    }
    if allow_key_override:
        source_configuration["AllowOverrideForS3ObjectKey"] = "true"
    response = codepipeline.create_pipeline(
        pipeline={
            "name": name,
            "roleArn": role_arn,
            "pipelineType": "V2",
            "executionMode": "QUEUED",
            "artifactStore": {"type": "S3", "location": artifact_bucket},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": source_action,
                            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                            "configuration": source_configuration,
                            "outputArtifacts": [{"name": "SiteZip"}],
                        }
                    ],
                },
                {
                    "name": "Deploy",
                    "actions": [
                        {
                            "name": "Publish",
                            "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "S3", "version": "1"},
                            "configuration": {"BucketName": f"{name}-site"[:63].lower(), "Extract": "true"},
                            "inputArtifacts": [{"name": "SiteZip"}],
                        }
                    ],
                },
            ],
        }
    )
    arn: str = (
        response["pipeline"].get("pipelineArn") or codepipeline.get_pipeline(name=name)["metadata"]["pipelineArn"]
    )
    return arn
