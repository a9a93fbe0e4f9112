"""`make check-alarms` on a stack on moto: each alarm with actions goes to ALARM with a reason naming the test and
straight back to the state it had; alarms that would reach no one (no actions, no confirmed subscription, a topic on
an AWS managed key) are named and nothing is changed."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from ops import check_alarms
from support.deployed_stack import (
    ACCOUNT,
    ALARM_TOPIC,
    REGION,
    STACK,
    alarm_states,
    create_stack,
    deploy_alarms,
    leave_unconfirmed,
)
from support.environment import ROOT

TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{ALARM_TOPIC}"
ALARMS = [
    f"{STACK}-rule-dead-letters",
    f"{STACK}-failed-starts-waiting",
    f"{STACK}-queue-backlog",
    f"{STACK}-start-failures",
    f"{STACK}-malformed-events",
    f"{STACK}-function-errors",
]
CREATED = ("OK", "Unchecked: Initial alarm creation")


@dataclass
class Run:
    code: int
    out: list[str]
    err: list[str]


def check(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    # The shipped samconfig.toml names the stack; the region comes from the shell, as for a first-time user.
    code = check_alarms.main(list(argv), environ={"AWS_DEFAULT_REGION": REGION}, out=out, err=err)
    return Run(code, out.getvalue().splitlines(), err.getvalue().splitlines())


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(region_name=REGION)


@pytest.fixture
def stack(aws: boto3.Session) -> boto3.Session:
    """The stack deployed with AlarmEmail, its subscription confirmed."""
    create_stack(aws, deploy_alarms(aws))
    return aws


def test_each_alarm_goes_to_alarm_with_the_tests_reason_then_back(stack: boto3.Session) -> None:
    run = check()

    assert run.code == check_alarms.EXIT_OK, run.err
    assert run.err == []
    for name in ALARMS:
        assert alarm_states(name) == [
            CREATED,
            ("ALARM", check_alarms.test_reason("OK")),
            ("OK", check_alarms.restore_reason("OK")),
        ]
    assert "make check-alarms" in check_alarms.test_reason("OK")
    assert run.out[:-1] == [f"{name}: OK -> ALARM -> OK, notifying {TOPIC_ARN}" for name in ALARMS]
    # The malformed-events alarm has no OK action: four OK notifications, not five.
    assert run.out[-1].startswith(
        "Check ops@example.com (subscription confirmed): 6 ALARM and 5 OK notifications should arrive"
    )


def test_an_alarm_without_data_goes_back_to_insufficient_data(stack: boto3.Session) -> None:
    cloudwatch = stack.client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=ALARMS[0], StateValue="INSUFFICIENT_DATA", StateReason="no data yet")

    run = check()

    assert run.code == check_alarms.EXIT_OK, run.err
    assert alarm_states(ALARMS[0])[-2:] == [
        ("ALARM", check_alarms.test_reason("INSUFFICIENT_DATA")),
        ("INSUFFICIENT_DATA", check_alarms.restore_reason("INSUFFICIENT_DATA")),
    ]
    assert run.out[0] == f"{ALARMS[0]}: INSUFFICIENT_DATA -> ALARM -> INSUFFICIENT_DATA, notifying {TOPIC_ARN}"
    # INSUFFICIENT_DATA has no actions here: going back to it notifies no one.
    assert "6 ALARM and 4 OK notifications" in run.out[-1]


def test_an_alarm_already_in_alarm_is_left_alone(stack: boto3.Session) -> None:
    stack.client("cloudwatch").set_alarm_state(AlarmName=ALARMS[1], StateValue="ALARM", StateReason="queue not empty")
    before = alarm_states(ALARMS[1])

    run = check()

    assert run.code == check_alarms.EXIT_OK, run.err
    assert alarm_states(ALARMS[1]) == before
    assert f"{ALARMS[1]}: already in ALARM, not tested (it notified when it fired)" in run.out
    assert "5 ALARM and 4 OK notifications" in run.out[-1]


def test_a_dry_run_changes_nothing_and_says_what_would_happen(stack: boto3.Session) -> None:
    run = check("--dry-run")

    assert run.code == check_alarms.EXIT_OK, run.err
    for name in ALARMS:
        assert alarm_states(name) == [CREATED]
    assert run.out == [
        *(f"{name}: would go OK -> ALARM -> OK, notifying {TOPIC_ARN}" for name in ALARMS),
        "Dry run: no alarm changed. Without --dry-run: 6 ALARM and 5 OK notifications to ops@example.com.",
    ]


def test_without_alarm_actions_there_is_nothing_to_notify(aws: boto3.Session) -> None:
    # GIVEN the stack deployed without AlarmEmail
    create_stack(aws, deploy_alarms(aws, alarm_email=""))

    run = check()

    assert run.code == check_alarms.EXIT_REACHES_NO_ONE
    assert run.out == []
    assert run.err == [
        f"Nothing to notify: none of the 6 alarms of stack {STACK} has an action, because its AlarmEmail is empty: "
        "set it (make deploy GUIDED=1 asks for it), confirm the subscription mail, then run make check-alarms again."
    ]
    for name in ALARMS:
        assert alarm_states(name) == [CREATED]


@pytest.mark.parametrize("argv", [[], ["--dry-run"]], ids=["run", "dry-run"])
def test_an_unconfirmed_subscription_is_a_silent_failure_and_nothing_is_changed(
    stack: boto3.Session, argv: list[str]
) -> None:
    leave_unconfirmed(TOPIC_ARN)

    run = check(*argv)

    assert run.code == check_alarms.EXIT_REACHES_NO_ONE
    assert run.out == []
    assert run.err == [
        f"Alarms reach no one: topic {TOPIC_ARN} has no confirmed subscription (ops@example.com: pending "
        "confirmation): open the mail 'AWS Notification - Subscription Confirmation' and confirm, then run "
        "make check-alarms again."
    ]
    for name in ALARMS:
        assert alarm_states(name) == [CREATED]


def test_a_topic_without_any_subscription_reaches_no_one(stack: boto3.Session) -> None:
    sns = stack.client("sns")
    for subscription in sns.list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])

    run = check()

    assert run.code == check_alarms.EXIT_REACHES_NO_ONE
    assert run.err == [
        f"Alarms reach no one: topic {TOPIC_ARN} has no subscription: set AlarmEmail and `make deploy`, "
        "then confirm the mail."
    ]


def test_a_topic_on_the_aws_managed_key_reaches_no_one(aws: boto3.Session) -> None:
    # GIVEN a stack deployed before this version: its topic on alias/aws/sns, which CloudWatch cannot use
    create_stack(aws, deploy_alarms(aws, topic_key="alias/aws/sns"))

    run = check()

    assert run.code == check_alarms.EXIT_REACHES_NO_ONE
    assert run.err == [
        f"Alarms reach no one: topic {TOPIC_ARN} is encrypted with the AWS managed key alias/aws/sns, which "
        "CloudWatch cannot use (the alarm fires, nothing is sent): `make deploy` this version, which encrypts it "
        "with the stack's own key."
    ]
    for name in ALARMS:
        assert alarm_states(name) == [CREATED]


def test_an_alarm_the_output_names_but_cloudwatch_lacks(aws: boto3.Session) -> None:
    outputs = deploy_alarms(aws)
    aws.client("cloudwatch").delete_alarms(AlarmNames=[ALARMS[2]])
    create_stack(aws, outputs)

    run = check()

    assert run.code == check_alarms.EXIT_CANNOT_CHECK
    assert run.err == [
        f"Cannot check alarms: the stack's alarm(s) {ALARMS[2]} do not exist in CloudWatch: `make deploy` again"
    ]


def test_the_command_line_runs_against_aws_endpoint_url(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    session = boto3.Session(region_name=REGION)
    create_stack(session, deploy_alarms(session))
    environment = {name: value for name, value in os.environ.items() if name != "AWS_PROFILE"}
    environment.update(PYTHONPATH="src", AWS_DEFAULT_REGION=REGION)

    finished = subprocess.run(
        [sys.executable, "-m", "ops.check_alarms", "--stack-name", STACK],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines()[0] == f"{ALARMS[0]}: OK -> ALARM -> OK, notifying {TOPIC_ARN}"
    assert [state for state, _ in alarm_states(ALARMS[0])] == ["OK", "ALARM", "OK"]


def test_make_check_alarms_passes_stack_region_config_env_and_args() -> None:
    finished = subprocess.run(
        [
            "make",
            "-n",
            "--no-print-directory",
            "check-alarms",
            "STACK=prod",
            "REGION=us-east-2",
            "CONFIG_ENV=prod",
            "ARGS=--dry-run",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines()[-1].endswith(
        '-m ops.check_alarms --stack-name "prod" --region "us-east-2" --config-env "prod" --dry-run'
    )
