"""The template's own checks on parameter values, run before anything is uploaded: undeclared names,
AllowedValues, AllowedPattern, MinLength/MaxLength, MinValue/MaxValue and the Rules' assertions, each failure
worded with the template's ConstraintDescription or AssertDescription, as CloudFormation would refuse it.

A parameter left out is taken at its default, as for a new stack (for an existing one `sam deploy` keeps the
previous value, and CloudFormation has the last word).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ops.template_model import TEMPLATE, broken_rules, list_items, parameter_texts, parameter_values, sam_template
from trigger_fn.route_config import SettingsError, routes_from_json, routes_outside_filter


def template_checks(template: Path = TEMPLATE) -> tuple[dict[str, Any], dict[str, Any]]:
    """The template's Parameters and Rules."""
    document = sam_template(template)
    return document.get("Parameters", {}), document.get("Rules", {})


def parameter_problems(given: Mapping[str, str], template: Path = TEMPLATE, *, complete: bool = False) -> list[str]:
    """Each refusal in words; empty when CloudFormation would accept the values.

    complete=True: `given` is every value of a new stack, so a parameter without a Default must be among them.
    """
    declared, rules = template_checks(template)
    problems = [f"{name}: not a parameter of the template" for name in given if name not in declared]
    if complete:
        problems.extend(
            f"{name}: needs a value (no Default)"
            for name, spec in declared.items()
            if name not in given and "Default" not in spec
        )
    for name, value in given.items():
        if name in declared:
            problems.extend(f"{name}={value!r}: {problem}" for problem in _value_problems(value, declared[name]))
    if problems:
        return problems
    # A value an existing stack keeps from its last deployment is not known here: blank, as in a new stack's form.
    unknown = {name: "" for name, spec in declared.items() if "Default" not in spec}
    values = unknown | dict(given)
    problems.extend(
        f"rule {rule_name}: {description}"
        for rule_name, description in broken_rules(rules, parameter_values(declared, values))
    )
    return problems or _route_problems(parameter_texts(declared, values))


def _route_problems(values: Mapping[str, str]) -> list[str]:
    """What the function's cold start would refuse in Routes: caught here, before anything is deployed."""
    text = values.get("Routes", "").strip()
    if not text:
        return []
    try:
        routes = routes_from_json(text)
    except SettingsError as error:
        return [f"Routes: {error}"]
    return [f"Routes: {problem}" for problem in routes_outside_filter(routes, values.get("RoutesKeyFilter") or "*")]


def _value_problems(value: str, spec: dict[str, Any]) -> list[str]:
    items = list_items(value) if spec.get("Type") == "CommaDelimitedList" else [value]
    broken = []
    for item in items:
        if "AllowedValues" in spec and item not in [str(allowed) for allowed in spec["AllowedValues"]]:
            broken.append(f"not one of {', '.join(str(allowed) for allowed in spec['AllowedValues'])}")
        # CloudFormation matches AllowedPattern against the whole value.
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], item):
            broken.append(f"does not match {spec['AllowedPattern']}")
    if spec.get("Type") == "Number":
        broken.extend(_number_problems(value, spec))
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        broken.append(f"shorter than {spec['MinLength']} characters")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        broken.append(f"longer than {spec['MaxLength']} characters")
    if broken and "ConstraintDescription" in spec:
        # What CloudFormation shows the user instead of the raw check.
        return [f"must be {spec['ConstraintDescription'].rstrip('.')}"]
    return broken


def _number_problems(value: str, spec: dict[str, Any]) -> list[str]:
    try:
        number = float(value)
    except ValueError:
        return ["not a number"]
    if "MinValue" in spec and number < float(spec["MinValue"]):
        return [f"below {spec['MinValue']}"]
    if "MaxValue" in spec and number > float(spec["MaxValue"]):
        return [f"above {spec['MaxValue']}"]
    return []
