"""The SAM template transformed offline into the CloudFormation AWS would run, for tests and the demo."""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE = ROOT / "template.yaml"
# Central artifact bucket: the stacks of the bucket's account and of a pipelines' account.
SOURCE_ACCOUNT_TEMPLATE = ROOT / "source-account.yaml"
PIPELINE_ACCOUNT_TEMPLATE = ROOT / "pipeline-account.yaml"
# What a deployment without Routes must give (the template's rules refuse it otherwise).
REQUIRED_PARAMETERS = {
    "SourceBucketName": "my-artifact-bucket",
    "ObjectKey": "my-website.zip",
    "PipelineName": "my-website-pipeline",
}


class BundledManagedPolicies:
    """samtranslator's own copy of the AWS managed policy ARNs, so no IAM call is needed."""

    def load(self) -> dict[str, str]:
        return get_bundled_managed_policy_map("aws") or {}


@cache
def sam_template(path: Path = TEMPLATE) -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(path.read_text(encoding="utf-8"))
    return parsed


def transformed(template_path: Path = TEMPLATE, **parameters: str) -> dict[str, Any]:
    """The transform does not depend on parameter values here (checked by test), so one result serves all."""
    return copy.deepcopy(_transformed(tuple(sorted(parameters.items())), template_path))


@cache
def _transformed(parameter_items: tuple[tuple[str, str], ...], path: Path = TEMPLATE) -> dict[str, Any]:
    parameters = dict(parameter_items)
    values = {
        "AWS::Region": "eu-west-1",
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
        "AWS::StackName": "s3-pipeline-trigger",
        **(REQUIRED_PARAMETERS if path == TEMPLATE else {}),
        **parameters,
    }
    template = copy.deepcopy(sam_template(path))
    for resource in template["Resources"].values():
        # `sam package` would upload CodeUri; the transform only needs an S3 location of that shape.
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://sam-artifacts-placeholder/code.zip"
    transformed_template: dict[str, Any] = transform(template, values, BundledManagedPolicies())
    return transformed_template


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    (item,) = resources_of_type(template, resource_type).items()
    return item


class Unresolved(str):
    """A value only CloudFormation knows at deploy time (an ARN, a generated name), kept as a readable token."""

    __slots__ = ()


def deployed(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """Resources and outputs as CloudFormation would create them for these parameters: conditions applied,
    intrinsic functions resolved where the value is known, resource attributes left as `Unresolved` tokens."""
    values = _parameter_values(template, parameters)
    conditions: dict[str, bool] = {}
    resolver = _Resolver(values, template.get("Conditions", {}), conditions)
    for name in template.get("Conditions", {}):
        resolver.condition(name)
    resources = {
        name: resolver.resolve(resource)
        for name, resource in template["Resources"].items()
        if resource.get("Condition") is None or conditions[resource["Condition"]]
    }
    outputs = {
        name: resolver.resolve(output["Value"])
        for name, output in template.get("Outputs", {}).items()
        if output.get("Condition") is None or conditions[output["Condition"]]
    }
    return {"Resources": resources, "Outputs": outputs, "Conditions": conditions}


def _parameter_values(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "AWS::Region": "eu-west-1",
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
        "AWS::StackName": "s3-pipeline-trigger",
    }
    for name, spec in template.get("Parameters", {}).items():
        value = parameters.get(name, spec.get("Default"))
        if value is None:
            raise KeyError(f"parameter {name} needs a value")
        if spec["Type"] == "CommaDelimitedList":
            value = [] if value == "" else [item.strip() for item in str(value).split(",")]
        else:
            # CloudFormation hands every other parameter over as a string (a Number's Default included).
            value = str(value)
        values[name] = value
    return values


class _NoValue:
    pass


_NO_VALUE = _NoValue()


class _Resolver:
    def __init__(self, values: dict[str, Any], definitions: dict[str, Any], conditions: dict[str, bool]) -> None:
        self.values = values
        self.definitions = definitions
        self.conditions = conditions

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.definitions[name]))
        return self.conditions[name]

    def resolve(self, node: Any) -> Any:  # noqa: PLR0911, PLR0912 - one branch per intrinsic function
        if isinstance(node, list):
            return [item for item in (self.resolve(i) for i in node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return _NO_VALUE
                return self.values[arg] if arg in self.values else Unresolved(f"<{arg}>")
            if key == "Fn::GetAtt":
                target = arg if isinstance(arg, list) else arg.split(".", 1)
                return Unresolved(f"<{target[0]}.{target[1]}>")
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return left == right
            if key == "Fn::EachMemberEquals":
                members, expected = arg
                return all(member == self.resolve(expected) for member in self.resolve(members))
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Fn::Join":
                delimiter, items = arg
                return delimiter.join(str(i) for i in self.resolve(items))
            if key == "Fn::Split":
                delimiter, text = arg
                return str(self.resolve(text)).split(delimiter)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(index)]
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                local = {name: self.resolve(value) for name, value in variables.items()}
                return _substitute(text, local, self)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}


def _substitute(text: str, local: dict[str, Any], resolver: _Resolver) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in local:
            return str(local[name])
        if "." in name:
            return f"<{name}>"
        value = resolver.values.get(name)
        return str(value) if value is not None else f"<{name}>"

    return re.sub(r"\$\{([^}!]+)\}", replace, text)
