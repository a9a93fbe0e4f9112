"""The function's side of the central artifact bucket: which account's events it takes, which role it assumes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from support.environment import FUNCTION_ENV
from support.events import load_event
from trigger_fn.clients import REFRESH_BEFORE_EXPIRY_S, SESSION_NAME, AssumedClient, AwsClients, assumed_client
from trigger_fn.plan import Ignore, Start, plan
from trigger_fn.route_config import SettingsError
from trigger_fn.settings import load_settings

SOURCE = "111111111111"
PIPELINES = "222222222222"
ROUTES = [
    {"key": "site/*.zip", "pipeline": "site", "pipelineAccount": PIPELINES},
    {"key": "*.zip", "pipeline": "audit"},
]
CENTRAL_ENV = FUNCTION_ENV | {
    "SOURCE_ACCOUNT": SOURCE,
    "ROUTES": json.dumps(ROUTES),
    "PIPELINE_ACCOUNTS": PIPELINES,
    "PIPELINE_STARTER_ROLE_NAME": "s3-pipeline-trigger-starter",
    "PARTITION": "aws",
}


def upload(key: str, account: str = SOURCE) -> dict[str, Any]:
    event = load_event("put-object.json") | {"account": account}
    event["detail"]["object"]["key"] = key
    return event


class TestSettings:
    def test_the_starter_role_of_a_pipeline_account(self) -> None:
        settings = load_settings(CENTRAL_ENV)

        assert settings.source_account == SOURCE
        assert settings.starter_role_in(PIPELINES) == f"arn:aws:iam::{PIPELINES}:role/s3-pipeline-trigger-starter"
        assert settings.starter_role_in(None) is None

    def test_without_source_account_the_account_is_not_checked(self) -> None:
        environ = {k: v for k, v in FUNCTION_ENV.items() if k != "SOURCE_ACCOUNT"}

        assert load_settings(environ).source_account is None

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"SOURCE_ACCOUNT": "12345"}, "SOURCE_ACCOUNT='12345' is not an AWS account id"),
            (
                {"PIPELINE_ACCOUNTS": "333333333333"},
                "ROUTES[0].pipelineAccount '222222222222' is not in PIPELINE_ACCOUNTS",
            ),
            ({"PIPELINE_ACCOUNTS": "2222"}, "PIPELINE_ACCOUNTS: '2222' is not an AWS account id"),
            ({"PIPELINE_STARTER_ROLE_NAME": ""}, "PIPELINE_STARTER_ROLE_NAME='' is not an IAM role name"),
            (
                {"ROUTES": json.dumps([{"key": "*.zip", "pipeline": "p", "account": "444444444444"}])},
                "ROUTES[0].account '444444444444' is not the source bucket's account",
            ),
            (
                {"ROUTES": json.dumps([{"key": "*.zip", "pipeline": "p", "pipelineAccount": 222222222222}])},
                "ROUTES[0].pipelineAccount must be an AWS account id",
            ),
            ({"PIPELINE_ACCOUNTS": ",".join(f"{n:012d}" for n in range(11))}, "at most 10"),
        ],
    )
    def test_a_bad_setting_is_named(self, change: dict[str, str], message: str) -> None:
        with pytest.raises(SettingsError) as raised:
            load_settings(CENTRAL_ENV | change)

        assert message in str(raised.value)

    def test_a_route_may_name_the_source_account(self) -> None:
        routes = json.dumps([{"key": "*.zip", "pipeline": "p", "account": SOURCE}])

        (route,) = load_settings(CENTRAL_ENV | {"ROUTES": routes, "PIPELINE_ACCOUNTS": ""}).routes

        assert route.account == SOURCE


class TestDecide:
    def test_each_request_carries_the_role_of_its_pipelines_account(self) -> None:
        decision = plan(upload("site/app.zip"), load_settings(CENTRAL_ENV))

        assert isinstance(decision, Start)
        assert [(r.pipeline, r.role_arn) for r in decision.requests] == [
            ("site", f"arn:aws:iam::{PIPELINES}:role/s3-pipeline-trigger-starter"),
            ("audit", None),
        ]
        # The role is not part of the request CodePipeline sees.
        assert "role_arn" not in json.dumps([r.as_api_params() for r in decision.requests])

    @pytest.mark.parametrize("account", ["123456789012", "999999999999", None])
    def test_an_event_of_another_account_is_ignored(self, account: str | None) -> None:
        event = upload("site/app.zip")
        if account is None:
            del event["account"]
        else:
            event["account"] = account

        decision = plan(event, load_settings(CENTRAL_ENV))

        assert isinstance(decision, Ignore)
        assert decision.reason_code == "other_account"
        assert f"not the source bucket's account '{SOURCE}'" in decision.reason

    def test_the_same_pipeline_name_in_two_accounts_starts_twice(self) -> None:
        routes = [
            {"key": "*.zip", "pipeline": "site", "pipelineAccount": PIPELINES},
            {"key": "*.zip", "pipeline": "site"},
        ]
        decision = plan(upload("app.zip"), load_settings(CENTRAL_ENV | {"ROUTES": json.dumps(routes)}))

        assert isinstance(decision, Start)
        assert [r.role_arn is None for r in decision.requests] == [False, True]


class FakeSts:
    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []

    def assume_role(self, **params: str) -> dict[str, Any]:
        self.calls.append(params)
        return {
            "Credentials": {
                "AccessKeyId": "ASIA0000000000000000",
                "SecretAccessKey": "secret",
                "SessionToken": "token",
                "Expiration": datetime(2030, 1, 1, tzinfo=UTC),
            }
        }


class TestClients:
    ROLE = f"arn:aws:iam::{PIPELINES}:role/s3-pipeline-trigger-starter"

    def test_own_account_uses_the_functions_client(self) -> None:
        own = object()
        clients = AwsClients(own, assumed_codepipeline=lambda _: pytest.fail("assumed"))  # type: ignore[arg-type]

        assert clients.codepipeline_as(None) is own

    def test_one_assumed_client_per_role_until_it_nears_expiry(self) -> None:
        now = [1000.0]
        made: list[str] = []

        def assume(role_arn: str) -> AssumedClient:
            made.append(role_arn)
            return AssumedClient(object(), expires_at=now[0] + 3600)  # type: ignore[arg-type]

        clients = AwsClients(assumed_codepipeline=assume, clock=lambda: now[0])

        first = clients.codepipeline_as(self.ROLE)
        assert clients.codepipeline_as(self.ROLE) is first
        now[0] += 3600 - REFRESH_BEFORE_EXPIRY_S + 1
        assert clients.codepipeline_as(self.ROLE) is not first
        assert made == [self.ROLE, self.ROLE]

    def test_assumes_exactly_that_role_with_a_named_session(self) -> None:
        sts = FakeSts()

        assumed = assumed_client(self.ROLE, sts)  # type: ignore[arg-type]

        assert sts.calls == [{"RoleArn": self.ROLE, "RoleSessionName": SESSION_NAME}]
        assert assumed.expires_at == datetime(2030, 1, 1, tzinfo=UTC).timestamp()
        assert assumed.client.meta.service_model.service_name == "codepipeline"
