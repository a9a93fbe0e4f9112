"""The SAM template transformed offline into the CloudFormation AWS would run, for inspection."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from samcli.yamlhelper import yaml_parse
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.translator.transform import transform

from conftest import ROOT

TEMPLATE = ROOT / "template.yaml"
REQUIRED_PARAMETERS = {"SourceBucketName": "my-artifact-bucket", "PipelineName": "my-website-pipeline"}


class BundledManagedPolicies:
    """samtranslator's own copy of the AWS managed policy ARNs, so no IAM call is needed."""

    def load(self) -> dict[str, str]:
        return get_bundled_managed_policy_map("aws") or {}


@cache
def sam_template() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    return parsed


def transformed(**parameters: str) -> dict[str, Any]:
    values = {
        "AWS::Region": "eu-west-1",
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
        "AWS::StackName": "s3-pipeline-trigger",
        **REQUIRED_PARAMETERS,
        **parameters,
    }
    template = copy.deepcopy(sam_template())
    for resource in template["Resources"].values():
        # `sam package` would upload CodeUri; the transform only needs an S3 location of that shape.
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://sam-artifacts-placeholder/code.zip"
    return transform(template, values, BundledManagedPolicies())  # type: ignore[arg-type]


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    (item,) = resources_of_type(template, resource_type).items()
    return item
