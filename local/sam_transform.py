"""The SAM template transformed offline into the CloudFormation AWS would run, for the moto demo and the tests.

ops/template_model.py evaluates the result (`deployed`); this module only runs SAM's own translator.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.translator.transform import transform

from ops.template_model import PSEUDO_PARAMETERS, REQUIRED_PARAMETERS, TEMPLATE, sam_template


class BundledManagedPolicies:
    """samtranslator's own copy of the AWS managed policy ARNs, so no IAM call is needed."""

    def load(self) -> dict[str, str]:
        return get_bundled_managed_policy_map("aws") or {}


def transformed(template_path: Path = TEMPLATE, **parameters: str) -> dict[str, Any]:
    """The transform does not depend on parameter values here (checked by test), so one result serves all."""
    return copy.deepcopy(_transformed(tuple(sorted(parameters.items())), template_path))


@cache
def _transformed(parameter_items: tuple[tuple[str, str], ...], path: Path = TEMPLATE) -> dict[str, Any]:
    values = PSEUDO_PARAMETERS | (REQUIRED_PARAMETERS if path == TEMPLATE else {}) | dict(parameter_items)
    template = copy.deepcopy(sam_template(path))
    for resource in template["Resources"].values():
        # `sam package` would upload CodeUri; the transform only needs an S3 location of that shape.
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://sam-artifacts-placeholder/code.zip"
    transformed_template: dict[str, Any] = transform(template, values, BundledManagedPolicies())
    return transformed_template
