"""template.yaml as CloudFormation reads it, offline: each parameter's value from its Default and Type, the Rules'
assertions, the Conditions, and the intrinsic functions resolved wherever the value is known before deploying.

The one evaluator of the template's functions: `make deploy`'s checks, the local demos and the tests all ask it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
# What a deployment without Routes must give (the template's rules refuse it otherwise).
REQUIRED_PARAMETERS = {
    "SourceBucketName": "my-artifact-bucket",
    "ObjectKey": "my-website.zip",
    "PipelineName": "my-website-pipeline",
}
# The account a stack is modelled in; only CloudFormation knows the real one at deploy time.
PSEUDO_PARAMETERS = {
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "s3-pipeline-trigger",
}


class UnknownFunction(ValueError):
    """A function this evaluator does not know; it must be added here, never skipped as if it held."""


class Unresolved(str):
    """A value only CloudFormation knows at deploy time (an ARN, a generated name), kept as a readable token."""

    __slots__ = ()


@cache
def sam_template(path: Path = TEMPLATE) -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(path.read_text(encoding="utf-8"))
    return parsed


def list_items(text: str) -> list[str]:
    """A CommaDelimitedList as Ref gives it: one string more than there are commas, each space-trimmed.

    So "" is [""], never []: CloudFormation's documented rule (docs/decisions.md, "One template evaluator").
    """
    return [item.strip() for item in text.split(",")]


def parameter_texts(declared: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """Each declared parameter as the text CloudFormation receives: the value given, else its Default."""
    texts: dict[str, str] = {}
    for name, spec in declared.items():
        if name in given:
            texts[name] = given[name]
        elif "Default" in spec:
            texts[name] = _text(spec["Default"])
        else:
            raise KeyError(f"parameter {name} needs a value (no Default)")
    return texts


def parameter_values(declared: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """What Ref gives for each parameter and pseudo parameter: a list for a CommaDelimitedList, else the text."""
    typed = {
        name: list_items(text) if declared[name].get("Type") == "CommaDelimitedList" else text
        for name, text in parameter_texts(declared, given).items()
    }
    return PSEUDO_PARAMETERS | typed


def _text(default: Any) -> str:
    # A YAML `true` or `5` reaches CloudFormation as the text it was written as.
    if isinstance(default, bool):
        return str(default).lower()
    return str(default)


def broken_rules(rules: Mapping[str, Any], values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Each failed assertion of the template's Rules as (rule name, AssertDescription), in template order."""
    evaluator = Evaluator(values)
    return [
        (rule_name, assertion.get("AssertDescription", "assertion failed"))
        for rule_name, rule in rules.items()
        if "RuleCondition" not in rule or evaluator.truth(rule["RuleCondition"])
        for assertion in rule.get("Assertions", [])
        if not evaluator.truth(assertion["Assert"])
    ]


def deployed(template: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """Resources and outputs as CloudFormation would create them for these parameters: conditions applied,
    intrinsic functions resolved where the value is known, resource attributes left as `Unresolved` tokens."""
    evaluator = Evaluator(parameter_values(template.get("Parameters", {}), parameters), template.get("Conditions", {}))
    conditions = {name: evaluator.condition(name) for name in template.get("Conditions", {})}

    def kept(item: dict[str, Any]) -> bool:
        return item.get("Condition") is None or conditions[item["Condition"]]

    resources = {name: evaluator.resolve(r) for name, r in template["Resources"].items() if kept(r)}
    outputs = {name: evaluator.resolve(o["Value"]) for name, o in template.get("Outputs", {}).items() if kept(o)}
    return {"Resources": resources, "Outputs": outputs, "Conditions": conditions}


class _NoValue:
    pass


_NO_VALUE = _NoValue()
# ${Name}, ${Resource.Attribute}, and ${!Literal}, which CloudFormation writes out as ${Literal}.
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Evaluator:
    """The intrinsic and condition functions over known values; what only a deployed stack knows stays a token."""

    def __init__(self, values: Mapping[str, Any], conditions: Mapping[str, Any] | None = None) -> None:
        self.values = values
        self.definitions = conditions or {}
        self.conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = self.truth(self.definitions[name])
        return self.conditions[name]

    def truth(self, node: Any) -> bool:
        value = self.resolve(node)
        if not isinstance(value, bool):
            raise UnknownFunction(f"cannot evaluate {node!r} to true or false")
        return value

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self.resolve(i) for i in node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref" or key.startswith("Fn::") or (key == "Condition" and isinstance(argument, str)):
                return self._function(key, argument)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def _function(self, key: str, argument: Any) -> Any:  # noqa: PLR0911, PLR0912 - one branch per function
        if key == "Ref":
            if argument == "AWS::NoValue":
                return _NO_VALUE
            return self.values[argument] if argument in self.values else Unresolved(f"<{argument}>")
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::GetAtt":
            target = argument if isinstance(argument, list) else argument.split(".", 1)
            return Unresolved(f"<{target[0]}.{target[1]}>")
        if key == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return left == right
        if key == "Fn::Not":
            return not self.truth(argument[0])
        if key == "Fn::And":
            return all(self.truth(item) for item in argument)
        if key == "Fn::Or":
            return any(self.truth(item) for item in argument)
        if key == "Fn::Join":
            delimiter, items = argument
            return delimiter.join(str(item) for item in self.resolve(items))
        if key == "Fn::Split":
            delimiter, text = argument
            return str(self.resolve(text)).split(delimiter)
        if key == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return self._substitute(text, {name: self.resolve(value) for name, value in variables.items()})
        if key == "Fn::EachMemberEquals":
            members, expected = (self.resolve(item) for item in argument)
            return all(member == expected for member in members)
        if key == "Fn::EachMemberIn":
            members, allowed = (self.resolve(item) for item in argument)
            return all(member in allowed for member in members)
        if key == "Fn::Contains":
            members, expected = (self.resolve(item) for item in argument)
            return expected in members
        raise UnknownFunction(f"{key} is not evaluated offline; add it to ops/template_model.py")

    def _substitute(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if name in self.values:
                return str(self.values[name])
            # A resource's Ref or attribute: known only once it exists.
            return f"<{name}>"

        return _SUB_VARIABLE.sub(replace, text)
