"""Folders by audience: what each may import, so the tree stays the architecture diagram."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from support.environment import ROOT

# What Lambda's python3.13 runtime and the function's own build provide.
RUNTIME_LIBRARIES = {"boto3", "botocore", "aws_lambda_powertools", "aws_xray_sdk", "typing_extensions"}
SRC_PACKAGES = {
    path.stem for path in (ROOT / "src").iterdir() if path.suffix == ".py" or (path / "__init__.py").exists()
}


def _imported_top_levels(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("src"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_lambda_code_imports_only_itself_and_its_runtime(path: Path) -> None:
    foreign = {
        name
        for name in _imported_top_levels(path)
        if name not in sys.stdlib_module_names
        and name not in SRC_PACKAGES | RUNTIME_LIBRARIES
        and not name.startswith("mypy_boto3_")  # type hints only, under TYPE_CHECKING
    }

    assert not foreign


@pytest.mark.parametrize("path", _modules("ops"), ids=lambda p: str(p.relative_to(ROOT)))
def test_operator_tools_never_import_the_local_tooling_or_the_tests(path: Path) -> None:
    assert not _imported_top_levels(path) & {"local", "support", "tests", "bench"}


@pytest.mark.parametrize("path", _modules("local") + _modules("bench"), ids=lambda p: str(p.relative_to(ROOT)))
def test_local_tooling_and_bench_never_import_the_tests(path: Path) -> None:
    assert not _imported_top_levels(path) & {"support", "tests", "conftest"}
