"""The template's own parameter checks, offline: what CloudFormation refuses before it creates anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.parameter_checks import parameter_problems
from ops.template_model import REQUIRED_PARAMETERS, TEMPLATE, UnknownFunction

ROUTES = json.dumps([{"key": "site/*.zip", "pipeline": "site"}, {"key": "api.zip", "pipeline": "api"}])


@pytest.mark.parametrize(
    "parameters",
    [
        REQUIRED_PARAMETERS | {"ObjectKey": "my-website.zip"},
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
    assert parameter_problems(parameters, complete=True) == []


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({"PipelineName": "p"}, "SourceBucketName: needs a value (no Default)"),
        (REQUIRED_PARAMETERS | {"Bucket": "x"}, "Bucket: not a parameter of the template"),
        (REQUIRED_PARAMETERS | {"SourceBucketName": "My_Bucket"}, "SourceBucketName='My_Bucket': must be an S3"),
        (REQUIRED_PARAMETERS | {"PipelineName": "my pipeline"}, "PipelineName='my pipeline': must be a CodePipel"),
        (REQUIRED_PARAMETERS | {"CreateSourceBucket": "no"}, "CreateSourceBucket='no': must be true or false"),
        (REQUIRED_PARAMETERS | {"ObjectKey": ""}, "rule ObjectKeyOrRoutes: Set ObjectKey"),
        (REQUIRED_PARAMETERS | {"ObjectKey": "k" * 1025}, f"ObjectKey='{'k' * 1025}': must be an S3 object key"),
        (REQUIRED_PARAMETERS | {"TokenWindowSeconds": "-1"}, "TokenWindowSeconds='-1': must be a whole"),
        (REQUIRED_PARAMETERS | {"TokenWindowSeconds": "9999999"}, "TokenWindowSeconds='9999999': must be a"),
        (REQUIRED_PARAMETERS | {"TokenWindowSeconds": "1h"}, "TokenWindowSeconds='1h': must be a whole"),
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
    problems = parameter_problems(parameters, complete=True)

    assert any(found.startswith(problem) for found in problems), problems


def test_a_rule_function_the_checker_does_not_know_is_an_error_not_a_pass(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    invented = "Rules:\n  Invented:\n    Assertions:\n      - Assert: {'Fn::RefAll': 'AWS::EC2::VPC::Id'}\n"
    template.write_text(TEMPLATE.read_text(encoding="utf-8").replace("Rules:\n", invented, 1), encoding="utf-8")

    with pytest.raises(UnknownFunction, match="Fn::RefAll"):
        parameter_problems(REQUIRED_PARAMETERS | {"ObjectKey": "k"}, template)


def test_a_route_the_key_filter_never_passes_is_refused_before_deploying() -> None:
    parameters = {
        "SourceBucketName": "acme-releases",
        "Routes": json.dumps([{"key": "site/*.tar.gz", "pipeline": "site"}]),
        "RoutedPipelines": "site",
        "RoutesKeyFilter": "*.zip",
    }

    assert parameter_problems(parameters, complete=True) == [
        "Routes: ROUTES[0].key 'site/*.tar.gz' can never match: the rule only passes keys matching RoutesKeyFilter "
        "'*.zip'; widen RoutesKeyFilter or fix the route"
    ]


def test_routes_the_function_would_refuse_are_refused_before_deploying() -> None:
    parameters = {"SourceBucketName": "acme-releases", "Routes": "[{", "RoutedPipelines": "site"}

    (problem,) = parameter_problems(parameters, complete=True)
    assert problem.startswith("Routes: ROUTES is not valid JSON")
