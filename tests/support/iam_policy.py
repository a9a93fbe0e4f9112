"""Just enough IAM policy evaluation to ask what a role of the template may do, for the tests' AWS models.

Explicit Deny wins, then any Allow; `*` and `?` in actions, resources and StringLike values match as IAM
matches them; StringEquals/StringLike/ArnLike/ArnEquals conditions need the context key to be present
(IAM policy reference, "Policy evaluation logic" and "Condition operators").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.sam_transform import transformed
from ops.template_model import REQUIRED_PARAMETERS, TEMPLATE, deployed


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str) -> bool:
    return (
        re.fullmatch(
            "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), value, re.DOTALL
        )
        is not None
    )


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            value = context.get(key)
            if value is None:
                return False
            candidates = [str(item) for item in _as_list(expected)]
            if operator in ("StringEquals", "ArnEquals"):
                matched = value in candidates
            elif operator in ("StringLike", "ArnLike"):
                matched = any(_like(candidate, value) for candidate in candidates)
            else:
                raise NotImplementedError(f"condition operator {operator} is not modelled")
            if not matched:
                return False
    return True


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    if not any(_like(pattern.lower(), action.lower()) for pattern in _as_list(statement.get("Action", []))):
        return False
    if not any(_like(str(pattern), resource) for pattern in _as_list(statement.get("Resource", []))):
        return False
    return _condition_holds(statement.get("Condition", {}), context)


def allows(
    statements: list[dict[str, Any]], action: str, resource: str, context: Mapping[str, str] | None = None
) -> bool:
    context = context or {}
    relevant = [s for s in statements if _applies(s, action, resource, context)]
    if any(s["Effect"] == "Deny" for s in relevant):
        return False
    return any(s["Effect"] == "Allow" for s in relevant)


def role_statements(role_name: str, template: Path = TEMPLATE, **parameters: str) -> list[dict[str, Any]]:
    """Every statement of the role's inline policies, as the stack deployed with these parameters would hold:
    its own `Policies` and every AWS::IAM::RolePolicy attached to it."""
    values = (REQUIRED_PARAMETERS if template == TEMPLATE else {}) | parameters
    resources = deployed(transformed(template, **values), values)["Resources"]
    documents = [policy["PolicyDocument"] for policy in resources[role_name]["Properties"].get("Policies", [])]
    documents.extend(
        resource["Properties"]["PolicyDocument"]
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::RolePolicy" and resource["Properties"]["RoleName"] == f"<{role_name}>"
    )
    return [statement for document in documents for statement in _as_list(document["Statement"])]


def function_may_list(**parameters: str) -> Any:
    """`may_list` for the FakeS3: whether the trigger function's role may s3:ListBucket for that key."""
    statements = role_statements("TriggerFunctionRole", **parameters)

    def may_list(bucket: str, key: str) -> bool:
        # S3 puts the object's key in the s3:prefix context key when it decides between 404 and 403 for a HEAD.
        return allows(statements, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": key})

    return may_list
