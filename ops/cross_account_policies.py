"""The policies a central artifact bucket's owner and the pipeline accounts add, printed as JSON.

    make cross-account-policies BUCKET=name KEY=key-or-wildcard FUNCTION_ROLE=arn PIPELINE_ROLES=arn[,arn] \
        REGION=region [KMS_KEY=arn]

- `bucketPolicy`: the statements to add to the bucket's policy (its account). The trigger function's role reads the
  current version of the routed keys (HeadObject needs s3:GetObject; s3:ListBucket, limited by s3:prefix to the
  routed keys, makes a deleted key answer 404, not 403); the pipelines' roles read the object version they start on.
- `kmsKeyPolicyStatements` (with KMS_KEY, a customer managed key of the bucket): the pipelines' roles decrypt
  through S3 only.
- `pipelineRoleStatements`: what each pipeline role's own policy must allow as well (cross-account access needs
  both sides).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}")
_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,128}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
VERSION = "2012-10-17"


class PolicyInputError(ValueError):
    """An argument is not what AWS would accept in the policy; the message names it."""


def policies(
    *,
    bucket: str,
    key: str,
    function_role: str,
    pipeline_roles: Sequence[str],
    region: str,
    kms_key: str | None = None,
) -> dict[str, Any]:
    _check(bucket=bucket, key=key, function_role=function_role, pipeline_roles=pipeline_roles, region=region)
    if kms_key is not None and not _KEY_ARN.fullmatch(kms_key):
        raise PolicyInputError(f"KMS_KEY={kms_key!r} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)")
    bucket_arn = f"{_partition(function_role)}:s3:::{bucket}"
    # An IAM * matches like the rule's wildcard, so a wildcard key still names only the routed keys.
    objects = f"{bucket_arn}/{key}"
    pipelines = sorted(set(pipeline_roles))
    readers = pipelines[0] if len(pipelines) == 1 else pipelines
    bucket_policy = {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "TriggerFunctionReadsTheRoutedKeys",
                "Effect": "Allow",
                "Principal": {"AWS": function_role},
                "Action": "s3:GetObject",
                "Resource": objects,
            },
            {
                "Sid": "TriggerFunctionListsOnlyTheRoutedKeys",
                "Effect": "Allow",
                "Principal": {"AWS": function_role},
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": key}},
            },
            {
                "Sid": "PipelinesReadTheObjectVersion",
                "Effect": "Allow",
                "Principal": {"AWS": readers},
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": objects,
            },
            {
                "Sid": "PipelinesReadTheBucketsVersioning",
                "Effect": "Allow",
                "Principal": {"AWS": readers},
                "Action": ["s3:GetBucketVersioning", "s3:GetBucketLocation"],
                "Resource": bucket_arn,
            },
        ],
    }
    role_statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": objects},
        {"Effect": "Allow", "Action": ["s3:GetBucketVersioning", "s3:GetBucketLocation"], "Resource": bucket_arn},
    ]
    printed: dict[str, Any] = {"bucketPolicy": bucket_policy}
    if kms_key is not None:
        # S3 decrypts for the reader: kms:ViaService keeps the grant to reads through S3 in the bucket's region.
        via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
        printed["kmsKeyPolicyStatements"] = [
            {
                "Sid": "PipelinesDecryptTheSourceObjectThroughS3",
                "Effect": "Allow",
                "Principal": {"AWS": readers},
                "Action": "kms:Decrypt",
                # In a key policy, "*" is the key itself.
                "Resource": "*",
                "Condition": via_s3,
            }
        ]
        role_statements.append({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": kms_key, "Condition": via_s3})
    printed["pipelineRoleStatements"] = {"Version": VERSION, "Statement": role_statements}
    return printed


def _check(*, bucket: str, key: str, function_role: str, pipeline_roles: Sequence[str], region: str) -> None:
    if not _BUCKET.fullmatch(bucket):
        raise PolicyInputError(f"BUCKET={bucket!r} is not an S3 bucket name")
    if not key or len(key.encode("utf-8")) > 1024:
        raise PolicyInputError("KEY must be an object key or * wildcard of 1 to 1024 bytes")
    for name, arn in (("FUNCTION_ROLE", function_role), *(("PIPELINE_ROLES", role) for role in pipeline_roles)):
        if not _ROLE_ARN.fullmatch(arn):
            raise PolicyInputError(f"{name}: {arn!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
    if not pipeline_roles:
        raise PolicyInputError("PIPELINE_ROLES must name at least one pipeline role ARN")
    if not _REGION.fullmatch(region):
        raise PolicyInputError(f"REGION={region!r} is not an AWS region name")


def _partition(arn: str) -> str:
    return arn.split(":", 2)[0] + ":" + arn.split(":", 2)[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make cross-account-policies", description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--key", required=True, help="the trigger stack's ObjectKey or RoutesKeyFilter")
    parser.add_argument("--function-role", required=True, help="the trigger stack's TriggerFunctionRoleArn output")
    parser.add_argument("--pipeline-roles", required=True, help="comma-separated role ARNs of the pipelines")
    parser.add_argument("--region", required=True)
    parser.add_argument("--kms-key", help="the bucket's customer managed KMS key, if it uses one")
    args = parser.parse_args(argv)
    try:
        printed = policies(
            bucket=args.bucket,
            key=args.key,
            function_role=args.function_role,
            pipeline_roles=[role.strip() for role in args.pipeline_roles.split(",") if role.strip()],
            region=args.region,
            kms_key=args.kms_key or None,
        )
    except PolicyInputError as problem:
        print(f"make cross-account-policies: {problem}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(printed, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
