"""Settings are checked once at start; a bad one is refused with the variable's name in the message."""

import json
import subprocess
import sys
from typing import Any

import pytest

from support.environment import FUNCTION_ENV, ROOT, one_route
from trigger_fn.route_config import SettingsError
from trigger_fn.routing import Route
from trigger_fn.settings import load_settings

SINGLE = {k: v for k, v in FUNCTION_ENV.items() if not k.startswith(("POWERTOOLS", "AWS"))}


def test_one_route_as_the_template_gives_it() -> None:
    settings = load_settings(SINGLE | {"DRY_RUN": "false"})

    assert settings.source_bucket == "my-artifact-bucket"
    assert settings.routes == (Route(key="my-website.zip", pipeline="my-website-pipeline", source_action="Source"),)
    assert settings.dry_run is False


def test_a_route_without_its_optional_fields_takes_their_defaults() -> None:
    settings = load_settings({"SOURCE_BUCKET": "my-artifact-bucket", "ROUTES": '[{"key":"a.zip","pipeline":"p"}]'})

    assert settings.routes == (Route(key="a.zip", pipeline="p", source_action="Source", override_key=False),)
    assert settings.routes[0].latest_only is True


def test_a_route_key_keeps_its_spaces() -> None:
    # S3 keys may begin or end with spaces, and the rule matches ObjectKey as given.
    env = {"SOURCE_BUCKET": "my-artifact-bucket", **one_route(" release .zip", "p")}

    assert load_settings(env).routes[0].key == " release .zip"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SOURCE_BUCKET": ""}, "SOURCE_BUCKET is not set"),
        ({"SOURCE_BUCKET": "My_Bucket"}, "SOURCE_BUCKET='My_Bucket' is not a valid S3 bucket name"),
        ({"SOURCE_BUCKET": "a..b"}, "SOURCE_BUCKET='a..b' is not a valid S3 bucket name"),
        ({"ROUTES": ""}, "ROUTES is not set; the template sets it, or pass it with --env-vars"),
        ({"ROUTES": " "}, "ROUTES is not set; the template sets it, or pass it with --env-vars"),
        (one_route("k" * 1025), "ROUTES[0].key is longer than 1024 bytes"),
        (one_route(pipeline="arn:aws:codepipeline:x"), "ROUTES[0].pipeline='arn:aws:codepipeline:x' is not a pipeline"),
        ({"DRY_RUN": "1"}, "DRY_RUN='1' must be true or false"),
        ({"TOKEN_WINDOW_SECONDS": "1h"}, "TOKEN_WINDOW_SECONDS='1h' must be a whole number of seconds from 0 to"),
        ({"TOKEN_WINDOW_SECONDS": "-5"}, "TOKEN_WINDOW_SECONDS='-5' must be a whole number"),
        ({"TOKEN_WINDOW_SECONDS": "1209601"}, "must be a whole number of seconds from 0 to 1209600"),
    ],
)
def test_invalid_settings_name_the_variable(change: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(SINGLE | change)

    assert message in str(raised.value)


def test_routes_name_each_route() -> None:
    routes = [
        {"key": "site/*.zip", "pipeline": "site-pipeline"},
        {"key": "api/release.zip", "pipeline": "api-pipeline", "sourceAction": "Artifact", "overrideKey": True},
        {"key": "*.zip", "pipeline": "audit", "variables": {"UPLOAD_KEY": "key", "UPLOAD_VERSION": "version"}},
    ]

    settings = load_settings({"SOURCE_BUCKET": "my-artifact-bucket", "ROUTES": json.dumps(routes)})

    assert settings.routes == (
        Route(key="site/*.zip", pipeline="site-pipeline"),
        Route(key="api/release.zip", pipeline="api-pipeline", source_action="Artifact", override_key=True),
        Route(key="*.zip", pipeline="audit", variables=(("UPLOAD_KEY", "key"), ("UPLOAD_VERSION", "version"))),
    )
    assert tuple(dict.fromkeys(route.pipeline for route in settings.routes)) == (
        "site-pipeline",
        "api-pipeline",
        "audit",
    )


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ("not json", "ROUTES is not valid JSON"),
        ("[]", "ROUTES must be a non-empty JSON list"),
        ('{"key": "a", "pipeline": "p"}', "ROUTES must be a non-empty JSON list"),
        ('[{"key": "a", "pipeline": "p"}, "b"]', "ROUTES[1] must be an object"),
        ('[{"key": "a"}]', "ROUTES[0].pipeline must be a string"),
        ('[{"pipeline": "p"}]', "ROUTES[0].key must be a string"),
        ('[{"key": "", "pipeline": "p"}]', "ROUTES[0].key must not be empty"),
        ('[{"key": "a", "pipeline": "p"}, {"key": "b", "pipeline": "bad name"}]', "ROUTES[1].pipeline='bad name'"),
        ('[{"key": "a", "pipeline": "p", "sourceAction": 1}]', "ROUTES[0].sourceAction must be a string"),
        ('[{"key": "a", "pipeline": "p", "overrideKey": "true"}]', "ROUTES[0].overrideKey must be true or false"),
        ('[{"key": "a", "pipeline": "p", "latestOnly": "no"}]', "ROUTES[0].latestOnly must be true or false"),
        ('[{"key": "a", "pipeline": "p", "pipline": "q"}]', "ROUTES[0] has unknown field(s) pipline"),
        ('[{"key": "a", "pipeline": "p"}, {"key": "a", "pipeline": "p"}]', "ROUTES[1] repeats key 'a'"),
        ('[{"key": "a", "pipeline": "p", "variables": ["key"]}]', "ROUTES[0].variables must be an object"),
        ('[{"key": "a", "pipeline": "p", "variables": {"A B": "key"}}]', "ROUTES[0].variables: 'A B' is not a valid"),
        ('[{"key": "a", "pipeline": "p", "variables": {"V": "colour"}}]', "ROUTES[0].variables.V: 'colour' is not"),
    ],
)
def test_a_bad_routes_entry_is_named(routes: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"SOURCE_BUCKET": "my-artifact-bucket", "ROUTES": routes})

    assert message in str(raised.value)


def test_too_many_variables_are_refused() -> None:
    variables: dict[str, Any] = {f"V{i}": "key" for i in range(51)}
    routes = json.dumps([{"key": "a", "pipeline": "p", "variables": variables}])

    with pytest.raises(SettingsError, match="at most 50"):
        load_settings({"SOURCE_BUCKET": "my-artifact-bucket", "ROUTES": routes})


def test_a_bad_setting_fails_the_cold_start_naming_the_variable() -> None:
    # GIVEN the environment Lambda would give the function, with ROUTES missing
    env = {k: v for k, v in FUNCTION_ENV.items() if k != "ROUTES"} | {"PYTHONPATH": str(ROOT / "src")}
    # WHEN Lambda imports the handler module
    result = subprocess.run(
        [sys.executable, "-c", "import trigger_fn.handler"], env=env, capture_output=True, text=True, check=False
    )
    # THEN the import fails with one readable line naming the variable
    assert result.returncode != 0
    assert "SettingsError: ROUTES is not set" in result.stderr


class TestAllowedPipelines:
    ROUTES = json.dumps([{"key": "site/*.zip", "pipeline": "site"}, {"key": "*.zip", "pipeline": "audit"}])

    def test_routes_within_the_granted_pipelines_load(self) -> None:
        settings = load_settings(
            {"SOURCE_BUCKET": "my-artifact-bucket", "ROUTES": self.ROUTES, "ALLOWED_PIPELINES": "site, audit,api"}
        )

        assert tuple(dict.fromkeys(route.pipeline for route in settings.routes)) == ("site", "audit")

    def test_a_route_to_a_pipeline_the_role_cannot_start_is_refused(self) -> None:
        with pytest.raises(SettingsError, match=r"ROUTES\[1\].pipeline 'audit' is not in ALLOWED_PIPELINES"):
            load_settings({"SOURCE_BUCKET": "my-artifact-bucket", "ROUTES": self.ROUTES, "ALLOWED_PIPELINES": "site"})

    def test_more_pipelines_than_the_template_grants_are_refused(self) -> None:
        allowed = ",".join(f"p{i}" for i in range(11))

        with pytest.raises(SettingsError, match="lists 11 pipelines; the template grants at most 10"):
            load_settings({"SOURCE_BUCKET": "my-artifact-bucket", "ROUTES": self.ROUTES, "ALLOWED_PIPELINES": allowed})


def test_routes_are_guarded_unless_they_opt_out() -> None:
    routes = [{"key": "*.zip", "pipeline": "deploy"}, {"key": "*.zip", "pipeline": "archive", "latestOnly": False}]

    settings = load_settings({"SOURCE_BUCKET": "my-artifact-bucket", "ROUTES": json.dumps(routes)})

    assert [(route.pipeline, route.latest_only) for route in settings.routes] == [("deploy", True), ("archive", False)]


@pytest.mark.parametrize(("value", "seconds"), [(None, 3600), ("", 3600), ("0", 0), ("86400", 86400)])
def test_the_token_window_defaults_to_an_hour(value: str | None, seconds: int) -> None:
    env = dict(SINGLE)
    if value is not None:
        env["TOKEN_WINDOW_SECONDS"] = value

    assert load_settings(env).token_window_s == seconds


class TestRoutesKeyFilter:
    """The rule passes only keys matching RoutesKeyFilter: a route no such key can match would never fire."""

    ROUTES = json.dumps([{"key": "site/*.zip", "pipeline": "site"}, {"key": "site/*.tar.gz", "pipeline": "tarballs"}])

    def test_a_route_outside_the_filter_fails_the_cold_start_in_one_line(self) -> None:
        with pytest.raises(SettingsError) as raised:
            load_settings({"SOURCE_BUCKET": "acme-releases", "ROUTES": self.ROUTES, "ROUTES_KEY_FILTER": "*.zip"})

        assert str(raised.value) == (
            "ROUTES[1].key 'site/*.tar.gz' can never match: the rule only passes keys matching RoutesKeyFilter "
            "'*.zip'; widen RoutesKeyFilter or fix the route"
        )

    @pytest.mark.parametrize("key_filter", ["site/*", "*", ""])
    def test_routes_within_the_filter_load(self, key_filter: str) -> None:
        settings = load_settings(
            {"SOURCE_BUCKET": "acme-releases", "ROUTES": self.ROUTES, "ROUTES_KEY_FILTER": key_filter}
        )

        assert [route.pipeline for route in settings.routes] == ["site", "tarballs"]


@pytest.mark.parametrize(
    ("change", "interval"),
    [
        ({}, 0.0),
        ({"MAX_STARTS_PER_SECOND": "10", "MAX_CONCURRENCY": "2"}, 0.201),
        # 3/s over 2 copies: one a second each, so no second holds a fourth.
        ({"MAX_STARTS_PER_SECOND": "3", "MAX_CONCURRENCY": "2"}, 1.001),
        ({"MAX_STARTS_PER_SECOND": "0.5", "MAX_CONCURRENCY": "2"}, 4.001),
        ({"MAX_STARTS_PER_SECOND": "10"}, 0.101),
    ],
)
def test_each_copy_takes_its_share_of_the_start_rate(change: dict[str, str], interval: float) -> None:
    assert load_settings(SINGLE | change).start_interval_s == pytest.approx(interval)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"MAX_STARTS_PER_SECOND": "0"}, "MAX_STARTS_PER_SECOND='0' must be a number above 0, at most 1000"),
        ({"MAX_STARTS_PER_SECOND": "ten"}, "MAX_STARTS_PER_SECOND='ten' must be a number above 0"),
        ({"MAX_STARTS_PER_SECOND": "1001"}, "MAX_STARTS_PER_SECOND='1001' must be a number above 0, at most 1000"),
        ({"MAX_STARTS_PER_SECOND": "10", "MAX_CONCURRENCY": "0"}, "MAX_CONCURRENCY='0' must be a whole number from 1"),
        ({"MAX_STARTS_PER_SECOND": "10", "MAX_CONCURRENCY": "2.5"}, "MAX_CONCURRENCY='2.5' must be a whole number"),
    ],
)
def test_a_bad_start_rate_names_the_variable(change: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(SINGLE | change)

    assert message in str(raised.value)
