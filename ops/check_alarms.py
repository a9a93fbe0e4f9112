"""Check that the stack's alarms reach someone: set each to ALARM and back, and say where its notifications went.

    make check-alarms [STACK=name] [REGION=region] [ARGS=--dry-run]
    PYTHONPATH=src python -m ops.check_alarms [--stack-name S] [--region R] [--config-env E] [--dry-run]

The alarms are those the stack's AlarmNames output lists. Before changing anything, every SNS topic they notify
must be able to deliver: a confirmed subscription (an e-mail address nobody confirmed receives nothing), and not
encrypted with an AWS managed key (CloudWatch cannot use one: the alarm fires and nothing is sent). Then each
alarm with actions goes to ALARM (SetAlarmState, with a reason that says it is this test), which sends its ALARM
notification, and straight back to the state it had: OK sends the OK notification, INSUFFICIENT_DATA sends none.
CloudWatch evaluates the metric again at the next period anyway, so a real breach during the test still alarms.
An alarm already in ALARM is left alone: setting ALARM again changes nothing and notifies no one.

The stack, region and profile are the ones `sam deploy` used (samconfig.toml, see ops.stack), unless given.
Exit 0: every alarm with actions went to ALARM and back (or would, with --dry-run). Exit 1: the alarms reach no
one (no actions, no confirmed subscription, an AWS managed key) or none could be tested. Exit 2: the stack or an
alarm could not be read or set; one line on stderr says why.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ops.aws_problems import explain
from ops.deploy_config import DEFAULT_ENV, SAMCONFIG, ConfigError
from ops.stack import locate, stack_outputs

ALARM_NAMES_OUTPUT = "AlarmNames"
EXIT_OK = 0
EXIT_REACHES_NO_ONE = 1
EXIT_CANNOT_CHECK = 2
# What ListSubscriptionsByTopic shows instead of an ARN for a subscription nobody confirmed yet.
PENDING_CONFIRMATION = "PendingConfirmation"
# Keys whose policy AWS owns: CloudWatch can never be allowed to use them (SNS developer guide, key management).
_AWS_MANAGED_KEY_ALIAS = "alias/aws/"


def test_reason(back_to: str) -> str:
    return (
        "Test from make check-alarms: is this notification reaching you? Nothing is wrong; "
        f"the alarm goes straight back to {back_to}."
    )


def restore_reason(state: str) -> str:
    return f"make check-alarms: back to {state}, the state before its test; CloudWatch evaluates it again next period."


class CannotCheck(Exception):
    """Nothing was changed: the stack or its alarms say why."""


@dataclass(frozen=True)
class Alarm:
    name: str
    state: str
    alarm_actions: tuple[str, ...]
    ok_actions: tuple[str, ...]
    insufficient_data_actions: tuple[str, ...]

    @property
    def targets(self) -> tuple[str, ...]:
        """Every action target, in order of first mention."""
        every = self.alarm_actions + self.ok_actions + self.insufficient_data_actions
        return tuple(dict.fromkeys(every))


@dataclass(frozen=True)
class Topic:
    arn: str
    confirmed: tuple[str, ...]  # "ops@example.com", or "https https://…" for other protocols
    pending: tuple[str, ...]
    key: str | None

    def problem(self) -> str | None:
        """Why nothing published to this topic reaches anyone, or None."""
        if self.key and _AWS_MANAGED_KEY_ALIAS in self.key:
            return (
                f"topic {self.arn} is encrypted with the AWS managed key {self.key}, which CloudWatch cannot use "
                "(the alarm fires, nothing is sent): `make deploy` this version, which encrypts it with the stack's "
                "own key"
            )
        if self.confirmed:
            return None
        if self.pending:
            return (
                f"topic {self.arn} has no confirmed subscription ({', '.join(self.pending)}: pending confirmation): "
                "open the mail 'AWS Notification - Subscription Confirmation' and confirm, then run make check-alarms "
                "again"
            )
        return f"topic {self.arn} has no subscription: set AlarmEmail and `make deploy`, then confirm the mail"


@dataclass
class Report:
    stack_name: str
    alarms: list[Alarm]
    topics: dict[str, Topic]
    # Set to ALARM and back (in a dry run: those that would be).
    tested: list[Alarm] = field(default_factory=list)
    already_in_alarm: list[Alarm] = field(default_factory=list)
    without_actions: list[Alarm] = field(default_factory=list)

    def why_no_one_hears(self) -> list[str]:
        """One line per reason no notification of these alarms can reach anyone; empty when they can."""
        if not any(alarm.targets for alarm in self.alarms):
            return [
                f"Nothing to notify: none of the {len(self.alarms)} alarms of stack {self.stack_name} has an action, "
                "because its AlarmEmail is empty: set it (make deploy GUIDED=1 asks for it), confirm the subscription "
                "mail, then run make check-alarms again."
            ]
        return [f"Alarms reach no one: {problem}." for topic in self.topics.values() if (problem := topic.problem())]


def alarm_names(cloudformation: Any, stack_name: str) -> list[str]:
    outputs = stack_outputs(cloudformation, stack_name)
    if ALARM_NAMES_OUTPUT not in outputs:
        raise CannotCheck(
            f"stack {stack_name!r} has no output {ALARM_NAMES_OUTPUT}: deployed before this version (make deploy adds "
            "it), or it is not this project's stack; pass STACK=name of the trigger stack"
        )
    return [name for name in outputs[ALARM_NAMES_OUTPUT].split(",") if name]


def describe_alarms(cloudwatch: Any, names: list[str]) -> list[Alarm]:
    found: dict[str, Alarm] = {}
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNames=names):
        for alarm in page.get("MetricAlarms", []):
            found[alarm["AlarmName"]] = Alarm(
                name=alarm["AlarmName"],
                state=alarm["StateValue"],
                alarm_actions=tuple(alarm.get("AlarmActions", [])),
                ok_actions=tuple(alarm.get("OKActions", [])),
                insufficient_data_actions=tuple(alarm.get("InsufficientDataActions", [])),
            )
    missing = [name for name in names if name not in found]
    if missing:
        raise CannotCheck(f"the stack's alarm(s) {', '.join(missing)} do not exist in CloudWatch: `make deploy` again")
    return [found[name] for name in names]


def read_topic(sns: Any, arn: str) -> Topic:
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    confirmed: list[str] = []
    pending: list[str] = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
        for subscription in page.get("Subscriptions", []):
            protocol, endpoint = subscription["Protocol"], subscription["Endpoint"]
            endpoint = endpoint if protocol == "email" else f"{protocol} {endpoint}"
            (pending if subscription["SubscriptionArn"] == PENDING_CONFIRMATION else confirmed).append(endpoint)
    return Topic(arn, tuple(confirmed), tuple(pending), attributes.get("KmsMasterKeyId") or None)


def set_to_alarm_and_back(cloudwatch: Any, alarm: Alarm) -> None:
    # Each change of state runs that state's actions: ALARM notifies, and back to OK notifies OK.
    cloudwatch.set_alarm_state(AlarmName=alarm.name, StateValue="ALARM", StateReason=test_reason(alarm.state))
    cloudwatch.set_alarm_state(AlarmName=alarm.name, StateValue=alarm.state, StateReason=restore_reason(alarm.state))


def check(cloudformation: Any, cloudwatch: Any, sns: Any, stack_name: str, *, dry_run: bool) -> Report:
    alarms = describe_alarms(cloudwatch, alarm_names(cloudformation, stack_name))
    sns_targets = dict.fromkeys(target for alarm in alarms for target in alarm.targets if ":sns:" in target)
    report = Report(stack_name, alarms, {arn: read_topic(sns, arn) for arn in sns_targets})
    if report.why_no_one_hears():
        return report
    for alarm in alarms:
        if not alarm.alarm_actions:
            report.without_actions.append(alarm)
        elif alarm.state == "ALARM":
            report.already_in_alarm.append(alarm)
        elif dry_run:
            report.tested.append(alarm)
        else:
            set_to_alarm_and_back(cloudwatch, alarm)
            report.tested.append(alarm)
    return report


def print_report(report: Report, *, dry_run: bool, out: TextIO, err: TextIO) -> int:
    problems = report.why_no_one_hears()
    for problem in problems:
        print(problem, file=err)
    if problems:
        return EXIT_REACHES_NO_ONE
    for alarm in report.tested:
        change = f"{'would go ' if dry_run else ''}{alarm.state} -> ALARM -> {alarm.state}"
        print(f"{alarm.name}: {change}, notifying {', '.join(alarm.alarm_actions)}", file=out)
    for alarm in report.already_in_alarm:
        print(f"{alarm.name}: already in ALARM, not tested (it notified when it fired)", file=out)
    for alarm in report.without_actions:
        print(f"{alarm.name}: no ALARM action, not tested", file=out)
    if not report.tested:
        print("Nothing tested: every alarm with actions is in ALARM already; check your inbox for them.", file=err)
        return EXIT_REACHES_NO_ONE
    receivers = ", ".join(dict.fromkeys(r for alarm in report.tested for r in _receivers(report, alarm)))
    # One notification per state change whose state has actions: ALARM always here, then the state it goes back to.
    back = [alarm.state for alarm in report.tested if _actions_on(alarm, alarm.state)]
    and_back = f" and {len(back)} {'/'.join(dict.fromkeys(back))}" if back else ""
    expected = f"{len(report.tested)} ALARM{and_back} notifications"
    if dry_run:
        print(f"Dry run: no alarm changed. Without --dry-run: {expected} to {receivers}.", file=out)
        return EXIT_OK
    print(
        f"Check {receivers} (subscription confirmed): {expected} should arrive from AWS Notifications within a few "
        "minutes. None? The alarm's History in the CloudWatch console (type Action) says why.",
        file=out,
    )
    return EXIT_OK


def _actions_on(alarm: Alarm, state: str) -> tuple[str, ...]:
    return {"OK": alarm.ok_actions, "INSUFFICIENT_DATA": alarm.insufficient_data_actions}.get(state, ())


def _receivers(report: Report, alarm: Alarm) -> list[str]:
    """The confirmed subscriptions of the topics an alarm notifies; any other target (not SNS) as itself."""
    receivers: list[str] = []
    for target in alarm.alarm_actions:
        receivers.extend(report.topics[target].confirmed if target in report.topics else [target])
    return receivers


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make check-alarms",
        description="Set each alarm of the stack to ALARM and back, so you can see that its notifications arrive.",
    )
    parser.add_argument("--stack-name", default=None, help="stack whose alarms to test (default: samconfig's)")
    parser.add_argument(
        "--region", default=None, help="default: samconfig.toml's, else AWS_REGION / AWS_DEFAULT_REGION / profile"
    )
    parser.add_argument("--config-env", default=DEFAULT_ENV, help="samconfig.toml environment (default: default)")
    parser.add_argument("--dry-run", action="store_true", help="check the topics and list the alarms; change nothing")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    session_factory: Callable[[], Any] | None = None,
    samconfig: Path = SAMCONFIG,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    args = parser().parse_args(argv)
    try:
        location = locate(
            args.stack_name or None, args.region or None, args.config_env, environ=environ, samconfig=samconfig
        )
    except ConfigError as problem:
        print(f"Cannot check alarms: {problem}", file=err)
        return EXIT_CANNOT_CHECK
    if not location.stack_name:
        print(
            f"Cannot check alarms: no stack name in {args.config_env!r} of samconfig.toml: deploy with `make deploy` "
            "(it saves the name there), or pass STACK=name",
            file=err,
        )
        return EXIT_CANNOT_CHECK
    try:
        session = (session_factory or location.session)()
        report = check(
            session.client("cloudformation"),
            session.client("cloudwatch"),
            session.client("sns"),
            location.stack_name,
            dry_run=args.dry_run,
        )
    except (ClientError, BotoCoreError) as error:
        print(f"Cannot check alarms: {explain(error, location)}", file=err)
        return EXIT_CANNOT_CHECK
    except CannotCheck as problem:
        print(f"Cannot check alarms: {problem}", file=err)
        return EXIT_CANNOT_CHECK
    except KeyboardInterrupt:
        print("Interrupted; an alarm left in ALARM goes back at CloudWatch's next evaluation of it.", file=err)
        return 130
    return print_report(report, dry_run=args.dry_run, out=out, err=err)


if __name__ == "__main__":
    sys.exit(main())
