"""The template's own parameter checks, offline: what CloudFormation refuses before it creates anything."""

from __future__ import annotations

import json

import pytest

from local.template_model import REQUIRED_PARAMETERS, parameter_problems, transformed

ROUTES = json.dumps([{"key": "site/*.zip", "pipeline": "site"}, {"key": "api.zip", "pipeline": "api"}])


@pytest.mark.parametrize(
    "parameters",
    [
        REQUIRED_PARAMETERS,
        REQUIRED_PARAMETERS
        | {"CreateSourceBucket": "false", "ObjectKey": "releases/*.zip", "OverrideObjectKey": "true"},
        {
            "SourceBucketName": "acme-releases",
            "Routes": ROUTES,
            "RoutedPipelines": "site,api",
            "RoutesKeyFilter": "*.zip",
        },
    ],
    ids=["one-route", "adopt-wildcard", "routes"],
)
def test_valid_parameters_pass(parameters: dict[str, str]) -> None:
    assert parameter_problems(transformed(), parameters) == []


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({"PipelineName": "p"}, "SourceBucketName: needs a value (no Default)"),
        (REQUIRED_PARAMETERS | {"Bucket": "x"}, "Bucket: not a parameter of the template"),
        (REQUIRED_PARAMETERS | {"SourceBucketName": "My_Bucket"}, "SourceBucketName='My_Bucket': does not match"),
        (REQUIRED_PARAMETERS | {"PipelineName": "my pipeline"}, "PipelineName='my pipeline': does not match"),
        (REQUIRED_PARAMETERS | {"CreateSourceBucket": "no"}, "CreateSourceBucket='no': not one of ['true', 'false']"),
        (REQUIRED_PARAMETERS | {"ObjectKey": ""}, "ObjectKey='': shorter than MinLength 1"),
        (REQUIRED_PARAMETERS | {"ObjectKey": "k" * 1025}, f"ObjectKey='{'k' * 1025}': longer than MaxLength 1024"),
        (REQUIRED_PARAMETERS | {"TokenWindowSeconds": "-1"}, "TokenWindowSeconds='-1': below MinValue 0"),
        (REQUIRED_PARAMETERS | {"TokenWindowSeconds": "9999999"}, "TokenWindowSeconds='9999999': above MaxValue"),
        (REQUIRED_PARAMETERS | {"TokenWindowSeconds": "1h"}, "TokenWindowSeconds='1h': not a number"),
        ({"SourceBucketName": "acme-releases"}, "rule PipelineNameOrRoutes: Set PipelineName"),
        ({"SourceBucketName": "acme-releases", "Routes": ROUTES}, "rule RoutesNameTheirPipelines: With Routes, list"),
    ],
    ids=[
        "missing",
        "unknown",
        "bucket-pattern",
        "pipeline-pattern",
        "allowed-values",
        "min",
        "max",
        "min-value",
        "max-value",
        "not-a-number",
        "rule",
        "rule-2",
    ],
)
def test_each_kind_of_check_refuses(parameters: dict[str, str], problem: str) -> None:
    problems = parameter_problems(transformed(), parameters)

    assert any(found.startswith(problem) for found in problems), problems


def test_a_rule_function_the_checker_does_not_know_is_an_error_not_a_pass() -> None:
    template = transformed()
    template["Rules"]["Invented"] = {"Assertions": [{"Assert": {"Fn::RefAll": "AWS::EC2::VPC::Id"}}]}

    with pytest.raises(ValueError, match="rule Invented: cannot evaluate"):
        parameter_problems(template, REQUIRED_PARAMETERS)
