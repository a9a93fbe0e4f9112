"""`make migrate`: find S3-source pipelines started by polling or CloudTrail rules and move them to this trigger.

    make migrate                                   # scan the region (read-only); ARGS=--json for machines
    make migrate PIPELINE=name                     # the plan for one pipeline (read-only)
    make migrate PIPELINE=name ARGS=--apply        # polling off, CloudTrail rules disabled; writes an undo record
    make migrate ARGS="--undo FILE"                # puts back what that apply changed

    PYTHONPATH=src python -m ops.migrate [--pipeline NAME] [--apply [--expect-digest D]] [--undo FILE] [--json]

The region is AWS_REGION / AWS_DEFAULT_REGION, else samconfig.toml's. AWS_ENDPOINT_URL points every call at an
emulator instead. Errors are one line on stderr and exit 2; nothing is changed without --apply or --undo.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ops.migration.account import AwsAccount, MigrationError
from ops.migration.apply import apply, undo
from ops.migration.pipelines import structure_digest
from ops.migration.plan import plan
from ops.migration.report import plan_json, plan_text, scan_json, scan_table
from ops.migration.survey import account_view, pipeline_status_of, scan
from ops.stack import default_region

EXIT_OK = 0
EXIT_REFUSED = 2
UNDO_DIR = Path("migrate-undo")


def run(args: argparse.Namespace, account: AwsAccount, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        if args.undo:
            _print_lines(undo(account, Path(args.undo)), out)
        elif args.apply:
            _print_lines(apply(account, args.pipeline, Path(args.undo_dir), expect_digest=args.expect_digest), out)
        elif args.pipeline:
            _print_plan(account, args.pipeline, as_json=args.json, out=out)
        else:
            statuses = scan(account, account_view(account))
            _print(scan_json(account.region, statuses) if args.json else scan_table(account.region, statuses), out)
    except MigrationError as problem:
        print(f"make migrate: {problem}", file=err)
        return EXIT_REFUSED
    except NoCredentialsError:
        print(
            "make migrate: no AWS credentials found (set AWS_PROFILE, or run aws configure / aws sso login)", file=err
        )
        return EXIT_REFUSED
    except (ClientError, BotoCoreError) as error:
        print(f"make migrate: {error}", file=err)
        return EXIT_REFUSED
    return EXIT_OK


def _print_plan(account: AwsAccount, pipeline: str, *, as_json: bool, out: TextIO) -> None:
    view = account_view(account)
    status = pipeline_status_of(account, pipeline, view)
    result = plan(status, account.region, structure_digest(status.structure), view.stacks)
    _print(plan_json(result) if as_json else plan_text(status, result), out)


def _print(document: str | dict[str, Any], out: TextIO) -> None:
    print(document if isinstance(document, str) else json.dumps(document, indent=2), file=out)


def _print_lines(lines: Sequence[str], out: TextIO) -> None:
    for line in lines:
        print(line, file=out)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make migrate",
        description="Move S3-source pipelines from polling or CloudTrail rules to this trigger, safely and reversibly.",
    )
    parser.add_argument("--pipeline", default=None, help="plan (or with --apply, move) this pipeline")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--apply", action="store_true", help="polling off and CloudTrail rules disabled")
    action.add_argument("--undo", metavar="FILE", default=None, help="restore what the apply of this record changed")
    parser.add_argument(
        "--expect-digest", default=None, help="with --apply: refuse if the pipeline changed since the plan"
    )
    parser.add_argument(
        "--undo-dir", default=str(UNDO_DIR), help=f"where apply writes undo records (default: {UNDO_DIR})"
    )
    parser.add_argument("--json", action="store_true", help="scan or plan as JSON")
    parser.add_argument("--region", default=None, help="default: AWS_REGION / AWS_DEFAULT_REGION, else samconfig")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser()
    args = arguments.parse_args(argv)
    if args.apply and not args.pipeline:
        arguments.error("--apply needs a pipeline: make migrate PIPELINE=name ARGS=--apply")
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or default_region()
    try:
        account = AwsAccount.from_session(boto3.Session(region_name=region))
    except NoRegionError:
        print("make migrate: no region: set AWS_REGION or pass --region", file=sys.stderr)
        return EXIT_REFUSED
    return run(args, account)


if __name__ == "__main__":
    sys.exit(main())
