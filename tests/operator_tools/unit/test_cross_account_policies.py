"""`make cross-account-policies`: valid IAM policy grammar (cfn-lint's schemas), and exactly the access intended."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from ops.cross_account_policies import main, policies
from support.iam_policy import allows, role_statements

BIN = Path(sys.executable).parent
BUCKET = "central-artifacts"
FUNCTION_ROLE = "arn:aws:iam::111122223333:role/s3-pipeline-trigger-TriggerFunctionRole-AbC123"
SITE_ROLE = "arn:aws:iam::444455556666:role/site-pipeline-role"
API_ROLE = "arn:aws:iam::777788889999:role/api-pipeline-role"
KEY = "arn:aws:kms:eu-west-1:222233334444:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def printed(kms_key: str | None = KEY, pipeline_roles: tuple[str, ...] = (SITE_ROLE, API_ROLE)) -> dict[str, Any]:
    return policies(
        bucket=BUCKET,
        key="site/*.zip",
        function_role=FUNCTION_ROLE,
        pipeline_roles=pipeline_roles,
        region="eu-west-1",
        kms_key=kms_key,
    )


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted_to(policy: dict[str, Any], principal: str) -> list[dict[str, Any]]:
    """The statements of a resource policy that name this principal, as identity statements."""
    return [
        {k: v for k, v in statement.items() if k != "Principal"}
        for statement in policy["Statement"]
        if principal in as_list(statement["Principal"]["AWS"])
    ]


def test_every_document_passes_cfn_lint_as_the_resource_it_belongs_to(tmp_path: Path) -> None:
    # cfn-lint checks each property against the resource type's schema, and policy documents against IAM's grammar.
    out = printed()
    admin = {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222233334444:root"}}
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "BucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {"Bucket": BUCKET, "PolicyDocument": out["bucketPolicy"]},
            },
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "EnableKeyRotation": True,
                    "KeyPolicy": {
                        "Version": "2012-10-17",
                        "Statement": [admin | {"Action": "kms:*", "Resource": "*"}, *out["kmsKeyPolicyStatements"]],
                    },
                },
            },
            "PipelineRolePolicy": {
                "Type": "AWS::IAM::RolePolicy",
                "Properties": {
                    "RoleName": "site-pipeline-role",
                    "PolicyName": "read-the-central-bucket",
                    "PolicyDocument": out["pipelineRoleStatements"],
                },
            },
        },
    }
    path = tmp_path / "printed.json"
    path.write_text(json.dumps(template), encoding="utf-8")

    result = subprocess.run([BIN / "cfn-lint", str(path)], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_would_refuse_a_broken_policy(tmp_path: Path) -> None:
    broken = printed()["bucketPolicy"]
    broken["Statement"][0]["Effect"] = "Permit"
    template = {
        "Resources": {
            "P": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": BUCKET, "PolicyDocument": broken}}
        }
    }
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(template), encoding="utf-8")

    result = subprocess.run([BIN / "cfn-lint", str(path)], capture_output=True, text=True, check=False)

    assert result.returncode != 0
    assert "Permit" in result.stdout


def test_the_function_reads_and_lists_only_the_routed_keys() -> None:
    statements = granted_to(printed()["bucketPolicy"], FUNCTION_ROLE)

    assert allows(statements, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/site/app.zip")
    assert not allows(statements, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/secrets/app.txt")
    assert not allows(statements, "s3:GetObjectVersion", f"arn:aws:s3:::{BUCKET}/site/app.zip")
    assert allows(statements, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "site/app.zip"})
    assert not allows(statements, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "secrets/"})
    assert not allows(statements, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}")


def test_the_bucket_grants_the_function_what_its_own_role_asks_for() -> None:
    # Cross-account access needs both sides: the bucket policy must match the role policy the template gives.
    own = [
        s
        for s in role_statements("TriggerFunctionRole", SourceBucketName=BUCKET, ObjectKey="site/*.zip")
        if any(str(action).startswith("s3:") for action in as_list(s["Action"]))
    ]
    granted = granted_to(printed()["bucketPolicy"], FUNCTION_ROLE)

    assert [{k: v for k, v in s.items() if k != "Sid"} for s in granted] == own


@pytest.mark.parametrize("role", [SITE_ROLE, API_ROLE])
def test_each_pipeline_role_reads_the_object_version_and_nothing_else(role: str) -> None:
    out = printed()
    for statements in (granted_to(out["bucketPolicy"], role), out["pipelineRoleStatements"]["Statement"]):
        assert allows(statements, "s3:GetObjectVersion", f"arn:aws:s3:::{BUCKET}/site/app.zip")
        assert allows(statements, "s3:GetBucketVersioning", f"arn:aws:s3:::{BUCKET}")
        assert not allows(statements, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/secrets/app.txt")
        assert not allows(statements, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/site/app.zip")
        assert not allows(statements, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": ""})


def test_the_key_is_used_only_through_s3_by_the_pipeline_roles() -> None:
    out = printed()
    (statement,) = out["kmsKeyPolicyStatements"]
    via_s3 = {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}

    assert statement["Principal"] == {"AWS": sorted([SITE_ROLE, API_ROLE])}
    assert allows([statement], "kms:Decrypt", "*", via_s3)
    assert not allows([statement], "kms:Decrypt", "*", {"kms:ViaService": "lambda.eu-west-1.amazonaws.com"})
    assert not allows([statement], "kms:Encrypt", "*", via_s3)
    assert allows(out["pipelineRoleStatements"]["Statement"], "kms:Decrypt", KEY, via_s3)


def test_no_key_no_kms_statements() -> None:
    out = printed(kms_key=None, pipeline_roles=(SITE_ROLE,))

    assert "kmsKeyPolicyStatements" not in out
    assert "kms" not in json.dumps(out["pipelineRoleStatements"])
    assert out["bucketPolicy"]["Statement"][2]["Principal"] == {"AWS": SITE_ROLE}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--bucket", "Bad_Bucket"], "BUCKET='Bad_Bucket' is not an S3 bucket name"),
        (["--function-role", "arn:aws:iam::1:user/x"], "FUNCTION_ROLE: 'arn:aws:iam::1:user/x' is not an IAM role ARN"),
        (["--pipeline-roles", ","], "PIPELINE_ROLES must name at least one"),
        (["--kms-key", "alias/aws/s3"], "KMS_KEY='alias/aws/s3' is not a KMS key ARN"),
        (["--region", "europe"], "REGION='europe' is not an AWS region name"),
    ],
)
def test_a_bad_argument_is_named(change: list[str], message: str) -> None:
    argv = ["--bucket", BUCKET, "--key", "site/*.zip", "--function-role", FUNCTION_ROLE]
    argv += ["--pipeline-roles", SITE_ROLE, "--region", "eu-west-1", *change]
    out, err = io.StringIO(), io.StringIO()

    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)

    assert code == 2
    assert message in err.getvalue()
    assert out.getvalue() == ""
