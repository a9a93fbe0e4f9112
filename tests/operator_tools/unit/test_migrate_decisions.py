"""`make migrate`'s pure decisions: sources, CloudTrail rules, trail selectors, coverage, plan, apply and undo."""

from __future__ import annotations

import copy
import json
import tomllib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from samcli.cli.types import CfnParameterOverridesType

from local.sam_transform import transformed
from ops.migration.changes import (
    UndoConflict,
    changes,
    read_undo_record,
    refusals,
    restore,
    trail_notes,
    undo_record,
)
from ops.migration.event_rules import EventRule, is_cloudtrail_s3_pattern
from ops.migration.pipelines import S3Source, differences, s3_sources, structure_digest, without_polling
from ops.migration.plan import (
    deployment,
    key_pattern,
    new_stack_name,
    route_parameters,
    routes_key_filter,
)
from ops.migration.samconfig import NotExpressible, environment_block, json_for_sam, sam_override, toml_string
from ops.migration.start_modes import (
    APPLY_PENDING,
    MIGRATED,
    NOT_STARTED,
    TO_MIGRATE,
    BucketFacts,
    pipeline_status,
    source_status,
)
from ops.migration.trails import Trail, selectors_logging
from ops.migration.trigger_stacks import trigger_stack
from ops.parameter_checks import parameter_problems
from ops.template_model import REQUIRED_PARAMETERS, deployed
from support.console_account import console_rule_pattern
from support.environment import one_route
from trigger_fn.route_config import routes_from_json
from trigger_fn.routing import Route, Wildcard
from trigger_fn.settings import load_settings

ARN = "arn:aws:codepipeline:eu-west-1:123456789012:site"
BUCKET = "releases"
VERSIONED_EB_ON = BucketFacts(BUCKET, eventbridge=True, versioning="Enabled")
VERSIONED_EB_OFF = BucketFacts(BUCKET, eventbridge=False, versioning="Enabled")


def s3_action(name: str, key: str, **configuration: str) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"S3Bucket": BUCKET, "S3ObjectKey": key, **configuration},
        "outputArtifacts": [{"name": f"{name}Out"}],
        "runOrder": 1,
    }


def structure(*actions: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "site",
        "roleArn": "arn:aws:iam::123456789012:role/site",
        "artifactStore": {"type": "S3", "location": "site-store"},
        "stages": [
            {"name": "Source", "actions": list(actions)},
            {
                "name": "Deploy",
                "actions": [
                    {
                        "name": "Publish",
                        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "S3", "version": "1"},
                        "configuration": {"BucketName": "site-web", "Extract": "true"},
                    }
                ],
            },
        ],
        "version": 3,
    }


def console_rule(name: str = "site-rule", key: str = "site.zip", state: str = "ENABLED", **more: Any) -> EventRule:
    return EventRule(name, state, console_rule_pattern(BUCKET, key), (more.get("target", ARN),))


def single_route_stack(name: str, pipeline: str, key: str, action: str = "Source", **parameters: str) -> Any:
    environment = {"SOURCE_BUCKET": BUCKET, **one_route(key, pipeline, sourceAction=action)}
    deployed = {"SourceBucketName": BUCKET, "CreateSourceBucket": "false", "ObjectKey": key, "PipelineName": pipeline}
    return trigger_stack(name, f"{name}-fn", environment, deployed | parameters)


def stack_environment(parameters: dict[str, str]) -> dict[str, str]:
    """The function's environment as CloudFormation would set it for these parameters."""
    template = deployed(transformed(), REQUIRED_PARAMETERS | {"SourceBucketName": BUCKET, **parameters})
    variables: dict[str, str] = template["Resources"]["TriggerFunction"]["Properties"]["Environment"]["Variables"]
    return variables


def status_of(
    pipeline: dict[str, Any],
    *,
    rules: tuple[EventRule, ...] = (),
    stacks: tuple[Any, ...] = (),
    trails: tuple[Trail, ...] = (),
    bucket: BucketFacts = VERSIONED_EB_OFF,
) -> Any:
    sources = tuple(
        source_status("site", source, bucket=bucket, rules=rules, stacks=stacks, trails=trails)
        for source in s3_sources(pipeline)
    )
    return pipeline_status("site", ARN, pipeline, sources, rules)


# ---------------------------------------------------------------- pipeline structure


class TestSources:
    def test_polls_when_the_flag_is_absent_or_true_in_any_case(self) -> None:
        pipeline = structure(
            s3_action("A", "a.zip"),
            s3_action("B", "b.zip", PollForSourceChanges="True"),
            s3_action("C", "c.zip", PollForSourceChanges="false"),
        )

        assert [(s.action, s.polling) for s in s3_sources(pipeline)] == [("A", True), ("B", True), ("C", False)]

    def test_only_s3_source_actions_count(self) -> None:
        github = {
            "name": "Code",
            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection"},
            "configuration": {"S3Bucket": "not-really"},
        }

        [source] = s3_sources(structure(github, s3_action("Zip", "x.zip", AllowOverrideForS3ObjectKey="true")))

        assert source == S3Source("Source", "Zip", BUCKET, "x.zip", polling=True, allow_key_override=True)

    def test_without_polling_changes_exactly_the_named_actions_flag(self) -> None:
        before = structure(s3_action("A", "a.zip"), s3_action("B", "b.zip", PollForSourceChanges="true"))
        [a, _] = s3_sources(before)

        after = without_polling(before, [a])

        assert differences(before, after) == ["stages[0].actions[0].configuration.PollForSourceChanges"]
        assert after["stages"][0]["actions"][0]["configuration"]["PollForSourceChanges"] == "false"
        assert before == structure(s3_action("A", "a.zip"), s3_action("B", "b.zip", PollForSourceChanges="true"))

    def test_digest_ignores_version_and_key_order_but_not_content(self) -> None:
        pipeline = structure(s3_action("A", "a.zip"))
        reordered = json.loads(json.dumps(pipeline, sort_keys=True))
        bumped = pipeline | {"version": 9}
        edited = copy.deepcopy(pipeline)
        edited["stages"][0]["actions"][0]["configuration"]["S3ObjectKey"] = "b.zip"

        assert structure_digest(pipeline) == structure_digest(reordered) == structure_digest(bumped)
        assert structure_digest(edited) != structure_digest(pipeline)


# ---------------------------------------------------------------- rules


class TestCloudTrailRules:
    def test_the_guides_pattern_is_recognised_and_matches_its_key_only(self) -> None:
        rule = console_rule()

        assert rule.cloudtrail_s3
        assert rule.starts_writes_to(BUCKET, "site.zip")
        assert not rule.starts_writes_to(BUCKET, "other.zip")
        assert not rule.starts_writes_to("other-bucket", "site.zip")
        assert rule.literal_objects() == ((BUCKET, "site.zip"),)

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            ({"detail-type": ["Object Created"]}, False),
            ({"source": ["aws.codecommit"]}, False),
            ({"detail": {"eventSource": ["s3.amazonaws.com"], "eventName": ["GetObject"]}}, False),
            ({"detail": {"eventSource": ["s3.amazonaws.com"], "eventName": ["CompleteMultipartUpload"]}}, True),
            ({"detail": {"eventName": ["PutObject"]}}, True),
        ],
        ids=["native-s3-event", "other-source", "reads-only", "one-write", "no-event-source"],
    )
    def test_what_counts_as_a_cloudtrail_s3_write_rule(self, change: dict[str, Any], expected: bool) -> None:
        assert is_cloudtrail_s3_pattern(console_rule_pattern(BUCKET, "k") | change) is expected

    @pytest.mark.parametrize(
        ("matchers", "key", "expected"),
        [
            ([{"prefix": "site/"}], "site/a.zip", True),
            ([{"prefix": "site/"}], "api/a.zip", False),
            ([{"suffix": ".zip"}], "site/a.zip", True),
            ([{"wildcard": "site/*.zip"}], "site/x/a.zip", True),
            ([{"anything-but": ["tmp.zip"]}], "site.zip", True),
            ([{"anything-but": {"prefix": "tmp/"}}], "tmp/a.zip", False),
            ([{"equals-ignore-case": "SITE.ZIP"}], "site.zip", True),
            ([{"numeric": [">", 1]}], "site.zip", False),
        ],
        ids=["prefix", "prefix-no", "suffix", "wildcard", "anything-but", "anything-but-prefix", "ignore-case", "num"],
    )
    def test_key_operators(self, matchers: list[Any], key: str, expected: bool) -> None:
        pattern = console_rule_pattern(BUCKET, "x")
        pattern["detail"]["requestParameters"]["key"] = matchers
        rule = EventRule("r", "ENABLED", pattern, (ARN,))

        assert rule.starts_writes_to(BUCKET, key) is expected
        assert rule.literal_objects() is None

    def test_a_rule_without_a_key_starts_on_every_key_of_its_bucket(self) -> None:
        pattern = console_rule_pattern(BUCKET, "x")
        del pattern["detail"]["requestParameters"]["key"]

        assert EventRule("r", "ENABLED", pattern, (ARN,)).starts_writes_to(BUCKET, "anything/at/all.zip")


# ---------------------------------------------------------------- trails


def basic_trail(*values: str, read_write: str = "WriteOnly", logging: bool = True) -> Trail:
    selector = {"ReadWriteType": read_write, "DataResources": [{"Type": "AWS::S3::Object", "Values": list(values)}]}
    return Trail("audit", logging, event_selectors=(selector,))


def advanced_trail(*fields: dict[str, Any]) -> Trail:
    base = [{"Field": "eventCategory", "Equals": ["Data"]}, {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}]
    return Trail(
        "audit", True, advanced_event_selectors=({"Name": "s3-writes", "FieldSelectors": base + list(fields)},)
    )


class TestTrailSelectors:
    @pytest.mark.parametrize(
        ("value", "logs"),
        [
            (f"arn:aws:s3:::{BUCKET}/site.zip", True),
            (f"arn:aws:s3:::{BUCKET}/site", True),
            (f"arn:aws:s3:::{BUCKET}/", True),
            ("arn:aws:s3", True),
            ("arn:aws:s3:::", True),
            (f"arn:aws:s3:::{BUCKET}/other.zip", False),
            ("arn:aws:s3:::other-bucket/", False),
        ],
        ids=["the-key", "a-prefix", "the-bucket", "all-buckets", "all-buckets-colons", "other-key", "other-bucket"],
    )
    def test_basic_selector_values_are_arn_prefixes(self, value: str, logs: bool) -> None:
        assert bool(selectors_logging(basic_trail(value), BUCKET, "site.zip")) is logs

    def test_a_read_only_selector_does_not_log_writes(self) -> None:
        assert selectors_logging(basic_trail("arn:aws:s3", read_write="ReadOnly"), BUCKET, "site.zip") == ()

    def test_the_selector_is_named_with_its_trail_and_logging_state(self) -> None:
        [covering] = selectors_logging(basic_trail(f"arn:aws:s3:::{BUCKET}/", logging=False), BUCKET, "site.zip")

        assert (covering.trail, covering.selector, covering.trail_logging) == (
            "audit",
            f"arn:aws:s3:::{BUCKET}/",
            False,
        )

    @pytest.mark.parametrize(
        ("fields", "logs"),
        [
            ([{"Field": "resources.ARN", "StartsWith": [f"arn:aws:s3:::{BUCKET}/"]}], True),
            ([{"Field": "resources.ARN", "Equals": [f"arn:aws:s3:::{BUCKET}/site.zip"]}], True),
            ([{"Field": "resources.ARN", "NotStartsWith": [f"arn:aws:s3:::{BUCKET}/"]}], False),
            ([{"Field": "resources.ARN", "EndsWith": [".tar"]}], False),
            ([{"Field": "readOnly", "Equals": ["true"]}], False),
            ([{"Field": "eventName", "Equals": ["CopyObject"]}], True),
            ([{"Field": "eventName", "NotEquals": ["PutObject", "CopyObject", "CompleteMultipartUpload"]}], False),
            ([{"Field": "userIdentity.arn", "Equals": ["arn:aws:iam::123456789012:role/ci"]}], True),
        ],
        ids=["bucket-prefix", "exact", "not-bucket", "other-suffix", "reads", "copy", "no-writes", "unknowable-field"],
    )
    def test_advanced_selectors_need_every_field_to_hold(self, fields: list[dict[str, Any]], logs: bool) -> None:
        found = selectors_logging(advanced_trail(*fields), BUCKET, "site.zip")

        assert bool(found) is logs
        if logs:
            assert found[0].selector == "advanced selector 's3-writes'"


# ---------------------------------------------------------------- coverage and verdicts


class TestStartModes:
    def test_console_pipeline_is_started_by_its_cloudtrail_rule(self) -> None:
        trail = basic_trail(f"arn:aws:s3:::{BUCKET}/site.zip")
        status = status_of(
            structure(s3_action("Source", "site.zip", PollForSourceChanges="false")),
            rules=(console_rule(),),
            trails=(trail,),
        )

        [source] = status.sources
        assert source.started_by == ("CloudTrail rule site-rule",)
        assert [s.trail for s in source.trails] == ["audit"]
        assert status.verdict == TO_MIGRATE

    def test_polling_pipeline(self) -> None:
        status = status_of(structure(s3_action("Source", "site.zip")))

        assert status.sources[0].started_by == ("polling",)
        assert status.verdict == TO_MIGRATE

    def test_covered_and_nothing_else_is_migrated(self) -> None:
        stack = single_route_stack("trigger", "site", "site.zip")
        status = status_of(structure(s3_action("Source", "site.zip", PollForSourceChanges="false")), stacks=(stack,))

        assert status.sources[0].started_by == ("trigger stack trigger",)
        assert status.verdict == MIGRATED

    def test_covered_but_still_polled_is_pending_apply(self) -> None:
        stack = single_route_stack("trigger", "site", "site.zip")

        assert status_of(structure(s3_action("Source", "site.zip")), stacks=(stack,)).verdict == APPLY_PENDING

    def test_nothing_starts_it(self) -> None:
        status = status_of(
            structure(s3_action("Source", "site.zip", PollForSourceChanges="false")),
            rules=(console_rule(state="DISABLED"),),
        )

        assert status.sources[0].started_by == ()
        assert [rule.name for rule in status.disabled_cloudtrail_rules] == ["site-rule"]
        assert status.verdict == NOT_STARTED

    @pytest.mark.parametrize(
        ("environment", "covers"),
        [
            (one_route("site.zip", "site"), True),
            (one_route("*.zip", "site"), True),
            (one_route("site.zip", "other"), False),
            (one_route("site.zip", "site", sourceAction="Fetch"), False),
            (one_route("api.zip", "site"), False),
            (one_route("site.zip", "site") | {"SOURCE_BUCKET": "elsewhere"}, False),
            ({"ROUTES": json.dumps([{"key": "x", "pipeline": "x"}, {"key": "s*", "pipeline": "site"}])}, True),
        ],
        ids=["exact", "wildcard", "other-pipeline", "other-action", "other-key", "other-bucket", "routes"],
    )
    def test_coverage_is_the_functions_own_routing(self, environment: dict[str, str], covers: bool) -> None:
        stack = trigger_stack("trigger", "fn", {"SOURCE_BUCKET": BUCKET} | environment, {})
        [source] = s3_sources(structure(s3_action("Source", "site.zip")))

        assert stack.covers("site", source) is covers

    def test_a_function_whose_settings_do_not_load_covers_nothing_and_says_why(self) -> None:
        stack = trigger_stack("broken", "fn", {"SOURCE_BUCKET": BUCKET, "ROUTES_KEY_FILTER": "site.zip"}, {})
        [source] = s3_sources(structure(s3_action("Source", "site.zip")))

        assert not stack.covers("site", source)
        assert stack.settings_problem == "ROUTES is not set; the template sets it, or pass it with --env-vars"

    def test_a_function_of_an_older_template_is_told_to_redeploy(self) -> None:
        older = {"SOURCE_BUCKET": BUCKET, "OBJECT_KEY": "site.zip", "PIPELINE_NAME": "site"}

        stack = trigger_stack("old", "fn", older, {"ObjectKey": "site.zip", "PipelineName": "site"})

        assert stack.settings is None
        assert stack.settings_problem == (
            "ROUTES is not set: the function was deployed by an older version of the template (it has OBJECT_KEY); "
            "redeploy the stack with this version (make deploy)"
        )


# ---------------------------------------------------------------- plan


class TestPlan:
    def test_keys_are_escaped_for_the_triggers_wildcards(self) -> None:
        assert key_pattern("a*b\\c.zip") == "a\\*b\\\\c.zip"
        assert Wildcard.parse(key_pattern("a*b\\c.zip")).matches("a*b\\c.zip")
        assert not Wildcard.parse(key_pattern("a*b.zip")).matches("aXb.zip")

    @given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=5))
    def test_the_routes_filter_matches_every_routed_key(self, keys: list[str]) -> None:
        key_filter = routes_key_filter(key_pattern(key) for key in keys)

        assert all(Wildcard.parse(key_filter).matches(key) for key in keys), key_filter

    def test_the_routes_filter_is_as_narrow_as_the_keys_allow(self) -> None:
        assert routes_key_filter(["site/app.zip", "site/config/settings.zip"]) == "site/*.zip"
        assert routes_key_filter(["ab", "abab"]) == "ab*"
        assert routes_key_filter(["same.zip", "same.zip"]) == "same.zip"
        assert routes_key_filter(["a.zip", "b.tar"]) == "*"
        assert routes_key_filter(["releases/*.zip", "releases/app.zip"]) == "releases/*.zip"

    def test_one_route_uses_the_single_route_parameters(self) -> None:
        route = Route("site.zip", "site", "Fetch", override_key=True)

        assert route_parameters([route]) == (
            ("ObjectKey", "site.zip"),
            ("PipelineName", "site"),
            ("SourceActionName", "Fetch"),
            ("OverrideObjectKey", "true"),
            ("LatestOnly", "true"),
        )

    @pytest.mark.parametrize("key", ['say "hi".zip', "back\\slash.zip", "line\nbreak.zip"])
    def test_a_key_objectkey_refuses_goes_into_routes_json(self, key: str) -> None:
        parameters = route_parameters([Route(key, "site")])

        assert json.loads(dict(parameters)["Routes"]) == [{"key": key, "pipeline": "site"}]
        assert parameter_problems({"SourceBucketName": BUCKET, **dict(parameters)}) == []

    @pytest.mark.parametrize(
        "route",
        [
            Route("site.zip", "site", latest_only=False),
            Route("releases/*.zip", "site", "Fetch", override_key=True),
            Route("release notes/café.zip", "site"),
        ],
    )
    def test_the_one_route_parameters_planned_are_the_route_and_deploy(self, route: Route) -> None:
        parameters = dict(route_parameters([route]))
        deployed_environment = stack_environment(parameters)

        assert "Routes" not in parameters
        assert parameter_problems({"SourceBucketName": BUCKET, **parameters}) == []
        assert load_settings(deployed_environment).routes == (route,)

    def test_what_one_route_parameters_cannot_say_survives_in_routes_json(self) -> None:
        routes = (
            Route("site.zip", "site", latest_only=False, pipeline_account="222222222222"),
            Route("*.zip", "audit", account="111111111111", variables=(("K", "key"),)),
        )

        parameters = dict(route_parameters(routes))

        assert routes_from_json(parameters["Routes"]) == routes

    def test_a_key_sam_cannot_carry_as_a_parameter_goes_into_routes_json(self) -> None:
        [(name, value), *_] = route_parameters([Route("odd\\ key.zip", "site")])

        assert name == "Routes"
        assert json.loads(value) == [{"key": "odd\\ key.zip", "pipeline": "site"}]

    def test_a_new_stack_adopts_the_bucket(self) -> None:
        [source] = s3_sources(structure(s3_action("Source", "site.zip")))

        planned = deployment(BUCKET, "site", [source], [])

        assert planned.stack_name == "s3-pipeline-trigger-releases"
        assert planned.existing_stack is None
        assert planned.parameters[:2] == (("SourceBucketName", BUCKET), ("CreateSourceBucket", "false"))

    def test_the_stack_already_serving_the_bucket_is_updated_with_both_routes(self) -> None:
        existing = single_route_stack("releases-trigger", "api", "api.zip", AlarmEmail="ops@example.com", DryRun="")
        [source] = s3_sources(structure(s3_action("Source", "site.zip")))

        planned = deployment(BUCKET, "site", [source], [existing])

        parameters = dict(planned.parameters)
        assert planned.stack_name == "releases-trigger"
        assert json.loads(parameters["Routes"]) == [
            {"key": "api.zip", "pipeline": "api"},
            {"key": "site.zip", "pipeline": "site"},
        ]
        assert parameters["RoutedPipelines"] == "api,site"
        assert parameters["RoutesKeyFilter"] == "*.zip"
        # Kept as deployed; the empty one is the template's default and left to UsePreviousValue.
        assert parameters["AlarmEmail"] == "ops@example.com"
        assert "DryRun" not in parameters
        assert "ObjectKey" not in parameters
        assert not planned.up_to_date

    def test_a_covered_source_needs_no_deploy(self) -> None:
        existing = single_route_stack("releases-trigger", "site", "site.zip")
        [source] = s3_sources(structure(s3_action("Source", "site.zip")))

        assert deployment(BUCKET, "site", [source], [existing]).up_to_date

    def test_stack_names_from_bucket_names(self) -> None:
        assert new_stack_name("my.bucket.with.dots") == "s3-pipeline-trigger-my-bucket-with-dots"
        assert len(new_stack_name("b" * 63)) <= 128


# ---------------------------------------------------------------- samconfig text

SAM_READER = CfnParameterOverridesType()


class TestSamconfigText:
    @given(st.text(max_size=40))
    def test_what_sam_override_writes_sam_reads_back_exactly(self, value: str) -> None:
        try:
            written = sam_override("ObjectKey", value)
        except NotExpressible:
            assert "\\" in value
            return
        assert SAM_READER.convert([written], None, None) == {"ObjectKey": value}

    @given(st.lists(st.fixed_dictionaries({"key": st.text(min_size=1), "pipeline": st.text(min_size=1)}), min_size=1))
    def test_routes_json_survives_sam_whatever_the_keys(self, routes: list[dict[str, str]]) -> None:
        written = sam_override("Routes", json_for_sam(routes))

        assert json.loads(SAM_READER.convert([written], None, None)["Routes"]) == routes

    @given(st.text())
    def test_toml_strings_read_back_exactly(self, text: str) -> None:
        assert tomllib.loads(f"value = {toml_string(text)}")["value"] == text

    def test_an_environment_block_is_valid_toml_that_sam_reads_as_written(self) -> None:
        parameters = (("SourceBucketName", BUCKET), ("Routes", json_for_sam([{"key": 'a "b".zip', "pipeline": "p"}])))

        text = environment_block("prod", {"stack_name": "prod", "confirm_changeset": True}, parameters)

        deploy = tomllib.loads(text)["prod"]["deploy"]["parameters"]
        assert deploy["stack_name"] == "prod"
        assert deploy["confirm_changeset"] is True
        assert SAM_READER.convert(deploy["parameter_overrides"], None, None) == dict(parameters)


# ---------------------------------------------------------------- apply and undo


class TestApplyDecisions:
    def test_refused_without_a_covering_stack_or_with_eventbridge_off(self) -> None:
        pipeline = structure(s3_action("Source", "site.zip"))
        stack = single_route_stack("trigger", "site", "site.zip")

        [no_stack] = refusals(status_of(pipeline, bucket=VERSIONED_EB_ON))
        [eventbridge_off] = refusals(status_of(pipeline, stacks=(stack,), bucket=VERSIONED_EB_OFF))

        assert no_stack.startswith("no deployed trigger stack covers Source (s3://releases/site.zip)")
        assert eventbridge_off.startswith("s3://releases has EventBridge notifications off")
        assert refusals(status_of(pipeline, stacks=(stack,), bucket=VERSIONED_EB_ON)) == []

    def test_a_rule_with_other_targets_is_not_disabled_behind_their_back(self) -> None:
        rule = EventRule(
            "shared",
            "ENABLED",
            console_rule_pattern(BUCKET, "site.zip"),
            (ARN, "arn:aws:sqs:eu-west-1:123456789012:audit"),
        )
        stack = single_route_stack("trigger", "site", "site.zip")

        [problem] = refusals(
            status_of(
                structure(s3_action("Source", "site.zip")), rules=(rule,), stacks=(stack,), bucket=VERSIONED_EB_ON
            )
        )

        assert problem.startswith("rule shared also targets arn:aws:sqs:eu-west-1:123456789012:audit")

    def test_changes_switch_polled_sources_and_disable_enabled_cloudtrail_rules(self) -> None:
        pipeline = structure(s3_action("A", "site.zip"), s3_action("B", "b.zip", PollForSourceChanges="false"))
        status = status_of(pipeline, rules=(console_rule(), console_rule("old", state="DISABLED")))

        change = changes(status)

        assert change.switched_actions == ("A",)
        assert differences(pipeline, change.after) == ["stages[0].actions[0].configuration.PollForSourceChanges"]
        assert [(r.name, r.before, r.after) for r in change.rules] == [("site-rule", "ENABLED", "DISABLED")]

    def test_a_migrated_pipeline_needs_no_change(self) -> None:
        status = status_of(structure(s3_action("Source", "site.zip", PollForSourceChanges="false")))

        assert changes(status).nothing

    def test_the_undo_record_round_trips_through_json(self) -> None:
        change = changes(status_of(structure(s3_action("A", "site.zip")), rules=(console_rule(),)))

        document = json.loads(json.dumps(undo_record(change, "eu-west-1", "2026-11-26T07:00:00Z")))
        record = read_undo_record(document)

        assert record.before == {k: v for k, v in change.before.items() if k != "version"}
        assert record.after == {k: v for k, v in change.after.items() if k != "version"}
        assert [(r.name, r.before, r.after) for r in record.rules] == [("site-rule", "ENABLED", "DISABLED")]

    @pytest.mark.parametrize(
        ("document", "message"),
        [
            ({"kind": "something else"}, "not an undo record written by make migrate"),
            ({"kind": "s3-pipeline-trigger migrate undo record", "format": 2}, "format 2"),
            ({"kind": "s3-pipeline-trigger migrate undo record", "format": 1}, "missing or has a malformed field"),
        ],
        ids=["other-json", "newer-format", "truncated"],
    )
    def test_a_file_that_is_not_an_undo_record_is_refused(self, document: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            read_undo_record(document)

    def test_restore_puts_back_before_only_over_after(self) -> None:
        change = changes(status_of(structure(s3_action("A", "site.zip")), rules=(console_rule(),)))
        record = read_undo_record(undo_record(change, "eu-west-1", "t"))
        applied = change.after | {"version": 4}

        todo = restore(record, applied, {"site-rule": "DISABLED"})

        assert todo.structure == change.before | {"version": 4}
        assert [(r.name, r.after) for r in todo.rules] == [("site-rule", "ENABLED")]
        assert restore(record, change.before | {"version": 5}, {"site-rule": "ENABLED"}).nothing

    def test_restore_refuses_over_someone_elses_change(self) -> None:
        change = changes(status_of(structure(s3_action("A", "site.zip")), rules=(console_rule(),)))
        record = read_undo_record(undo_record(change, "eu-west-1", "t"))
        edited = copy.deepcopy(change.after)
        edited["stages"][1]["actions"][0]["configuration"]["BucketName"] = "new-web"

        with pytest.raises(UndoConflict, match=r"stages\[1\]\.actions\[0\]\.configuration\.BucketName"):
            restore(record, edited, {"site-rule": "DISABLED"})
        with pytest.raises(UndoConflict, match="rule site-rule is gone"):
            restore(record, change.after, {"site-rule": None})

    def test_trail_notes_say_whether_another_rule_still_relies_on_the_selector(self) -> None:
        trail = basic_trail(f"arn:aws:s3:::{BUCKET}/")
        status = status_of(structure(s3_action("A", "site.zip")), rules=(console_rule(),), trails=(trail,))
        api_rule = console_rule("api-rule", key="api.zip", target="arn:aws:codepipeline:eu-west-1:123456789012:api")
        elsewhere = EventRule("elsewhere", "ENABLED", console_rule_pattern("other-bucket", "x.zip"), ())

        [alone] = trail_notes(status, [trail], [console_rule(), elsewhere], ["site-rule"])
        [shared] = trail_notes(status, [trail], [console_rule(), api_rule], ["site-rule"])

        assert alone == (
            f"trail audit unchanged: selector arn:aws:s3:::{BUCKET}/ logs s3://{BUCKET}/site.zip; "
            "no enabled CloudTrail rule here uses it any more: delete it yourself if nothing else needs it"
        )
        assert shared.endswith("; still used by rule(s) api-rule")
