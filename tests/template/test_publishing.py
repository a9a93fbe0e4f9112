"""The template can be published to the AWS Serverless Application Repository: its metadata is complete and true."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from samcli.vendor.serverlessrepo.parser import get_app_metadata, parse_template

from ops.template_model import TEMPLATE
from support.environment import ROOT

METADATA: dict[str, Any] = parse_template(TEMPLATE.read_text(encoding="utf-8"))["Metadata"][
    "AWS::ServerlessRepo::Application"
]

# The Serverless Application Repository's limits for each property (SAM developer guide, "AWS SAM template
# Metadata section properties"); LicenseUrl and SemanticVersion are required to make an application public.
REQUIRED = {"Name", "Description", "Author", "LicenseUrl", "SemanticVersion"}
PATTERNS = {
    "Name": r"[a-zA-Z0-9\-]{1,140}",
    "Author": r"(?=.{1,127}$)[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?",
    "SemanticVersion": r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)",
    "HomePageUrl": r"https://\S+",
    "SourceCodeUrl": r"https://\S+",
}
LABEL = re.compile(r"[a-zA-Z0-9+\-_:/@]{1,127}")
# The SPDX licence each id names, as the first line of its text.
LICENSE_TITLES = {"MIT-0": "MIT No Attribution", "Apache-2.0": "Apache License"}


def test_every_property_sam_publish_requires_is_there() -> None:
    # sam publish reads the metadata with its own parser and refuses an application without these.
    app = get_app_metadata(parse_template(TEMPLATE.read_text(encoding="utf-8")))

    assert app.validate(["author", "description", "name", "semantic_version"])
    assert set(METADATA) >= REQUIRED | {"SpdxLicenseId", "ReadmeUrl", "Labels", "HomePageUrl", "SourceCodeUrl"}


def test_each_property_is_within_the_repository_limits() -> None:
    outside = {name: METADATA[name] for name, pattern in PATTERNS.items() if not re.fullmatch(pattern, METADATA[name])}

    assert not outside


def test_description_and_labels_are_within_the_repository_limits() -> None:
    assert 1 <= len(METADATA["Description"]) <= 256
    assert 1 <= len(METADATA["Labels"]) <= 10
    assert all(LABEL.fullmatch(label) for label in METADATA["Labels"])


def test_the_files_it_names_exist_and_the_license_is_the_one_it_declares() -> None:
    license_text = (ROOT / METADATA["LicenseUrl"]).read_text(encoding="utf-8")
    readme_text = (ROOT / METADATA["ReadmeUrl"]).read_text(encoding="utf-8")

    assert license_text.splitlines()[0] == LICENSE_TITLES[METADATA["SpdxLicenseId"]]
    assert readme_text.startswith("# S3 Pipeline Trigger")
    # Local files: `sam package` uploads them and puts their S3 addresses in the packaged template; 5 MB at most.
    assert max(len(license_text.encode()), len(readme_text.encode())) <= 5 * 1024 * 1024


def test_the_version_is_the_projects_and_has_a_changelog_entry() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")

    assert METADATA["SemanticVersion"] == project["version"]
    assert re.findall(r"^## (\S+)", changelog, flags=re.MULTILINE)[0] == METADATA["SemanticVersion"]
