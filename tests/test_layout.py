"""Folders by audience: what each may import, so the tree stays the architecture diagram."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from support.environment import ROOT

# What Lambda's python3.13 runtime and the function's own build provide.
RUNTIME_LIBRARIES = {"boto3", "botocore", "aws_lambda_powertools", "aws_xray_sdk", "typing_extensions"}
SRC_PACKAGES = {
    path.stem for path in (ROOT / "src").iterdir() if path.suffix == ".py" or (path / "__init__.py").exists()
}
# The emulators and servers behind ports: never in a unit test, which runs with the network refused (the bucket
# adopter's loopback stand-in for CloudFormation's pre-signed URL is the one exception, tests/conftest.py).
SERVERS = {"moto.server", "local.local_stack", "local.lambda_emulator", "local.container_engine"}
# The one evaluator of template.yaml lives with the operator tools (make deploy's checks); every product's tests
# read the deployed template through it.
SHARED_TEMPLATE_MODEL = {"ops.template_model"}


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _imported_top_levels(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imported_modules(path)}


def _modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _offenders(paths: list[Path], forbidden: dict[Path, set[str]]) -> dict[str, list[str]]:
    """Each file that imports something it may not, with what."""
    assert paths, "no files: the folder moved"
    return {str(path.relative_to(ROOT)): sorted(forbidden[path]) for path in paths if forbidden[path]}


def test_the_lambda_code_imports_only_itself_and_its_runtime() -> None:
    paths = _modules("src")
    foreign = {
        path: {
            name
            for name in _imported_top_levels(path)
            if name not in sys.stdlib_module_names
            and name not in SRC_PACKAGES | RUNTIME_LIBRARIES
            and not name.startswith("mypy_boto3_")  # type hints only, under TYPE_CHECKING
        }
        for path in paths
    }

    assert not _offenders(paths, foreign)


def test_operator_tools_never_import_the_local_tooling_or_the_tests() -> None:
    paths = _modules("ops")
    forbidden = {path: _imported_top_levels(path) & {"local", "support", "tests", "bench"} for path in paths}

    assert not _offenders(paths, forbidden)


def test_local_tooling_and_bench_never_import_the_tests() -> None:
    paths = _modules("local", "bench")
    forbidden = {path: _imported_top_levels(path) & {"support", "tests", "conftest"} for path in paths}

    assert not _offenders(paths, forbidden)


def test_the_function_and_the_bucket_adopter_are_tested_without_each_other_or_the_operator_tools() -> None:
    others = {"function": {"bucket_adopter", "ops"}, "bucket_adopter": {"trigger_fn", "ops"}}
    paths = _modules("tests/function", "tests/bucket_adopter")
    forbidden = {
        path: {
            name
            for name in _imported_modules(path) - SHARED_TEMPLATE_MODEL
            if name.split(".")[0] in others[path.relative_to(ROOT).parts[1]]
        }
        for path in paths
    }

    assert not _offenders(paths, forbidden)


def test_unit_tests_start_no_server_and_no_emulator() -> None:
    paths = sorted(ROOT.glob("tests/*/unit/*.py"))
    forbidden = {path: _imported_modules(path) & SERVERS for path in paths}

    assert not _offenders(paths, forbidden)
