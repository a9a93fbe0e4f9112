"""The template as AWS would run it: linted, transformed offline, and read resource by resource."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.sam_transform import transformed
from ops.template_model import (
    REQUIRED_PARAMETERS,
    TEMPLATE,
    Unresolved,
    deployed,
)
from support.environment import PIPELINE_ACCOUNT_TEMPLATE, ROOT, SOURCE_ACCOUNT_TEMPLATE
from trigger_fn.routing import Route
from trigger_fn.settings import load_settings

BIN = Path(sys.executable).parent
ROUTES = json.dumps(
    [
        {"key": "site/*.zip", "pipeline": "site-pipeline"},
        {"key": "api/release.zip", "pipeline": "api-pipeline", "overrideKey": True},
        {"key": "*.zip", "pipeline": "audit-pipeline", "variables": {"UPLOAD_KEY": "key"}},
    ]
)
ROUTED = {"Routes": ROUTES, "RoutedPipelines": "site-pipeline,api-pipeline,audit-pipeline", "RoutesKeyFilter": "*.zip"}


def stack(**parameters: str) -> dict[str, Any]:
    return deployed(transformed(), REQUIRED_PARAMETERS | parameters)


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in template["Resources"].items() if r["Type"] == resource_type}


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in role.get("Policies", []):
        found.extend(policy["PolicyDocument"]["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    "template", [TEMPLATE, SOURCE_ACCOUNT_TEMPLATE, PIPELINE_ACCOUNT_TEMPLATE], ids=lambda path: path.name
)
class TestLinters:
    def test_cfn_lint_is_clean(self, template: Path) -> None:
        result = subprocess.run([BIN / "cfn-lint", str(template)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_sam_validate_lint_is_clean(self, template: Path) -> None:
        env = os.environ | {"AWS_DEFAULT_REGION": "eu-west-1", "SAM_CLI_TELEMETRY": "0"}
        result = subprocess.run(
            [BIN / "sam", "validate", "--lint", "--template-file", str(template)],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            env=env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "is a valid SAM Template" in result.stdout + result.stderr


class TestEventRule:
    def test_pattern_matches_object_created_for_the_bucket_and_key(self) -> None:
        (rule,) = of_type(stack(), "AWS::Events::Rule").values()

        assert rule["EventPattern"] == {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": ["my-artifact-bucket"]}, "object": {"key": [{"wildcard": "my-website.zip"}]}},
        }

    def test_wildcard_keys_pass_through(self) -> None:
        (rule,) = of_type(stack(ObjectKey="releases/*.zip"), "AWS::Events::Rule").values()

        assert rule["EventPattern"]["detail"]["object"]["key"] == [{"wildcard": "releases/*.zip"}]

    def test_with_routes_the_rule_uses_the_routes_filter(self) -> None:
        (rule,) = of_type(stack(**ROUTED), "AWS::Events::Rule").values()

        assert rule["EventPattern"]["detail"]["object"]["key"] == [{"wildcard": "*.zip"}]

    def test_delivery_to_the_queue_is_retried_then_kept_in_the_rule_dlq(self) -> None:
        rules = of_type(stack(), "AWS::Events::Rule")
        (target,) = rules["TriggerFunctionObjectCreated"]["Targets"]

        # One path: the rule's only target is the queue, never the function itself.
        assert list(rules) == ["TriggerFunctionObjectCreated"]
        assert target["Arn"] == "<TriggerQueue.Arn>"
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 24, "MaximumEventAgeInSeconds": 3600}
        assert target["DeadLetterConfig"] == {"Arn": "<RuleDeadLetterQueue.Arn>"}

    def test_the_trigger_queue_accepts_only_this_rule(self) -> None:
        policy = of_type(stack(), "AWS::SQS::QueuePolicy")["TriggerQueuePolicy"]
        allow = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]

        assert policy["Queues"] == ["<TriggerQueue>"]
        assert allow == [
            {
                "Sid": "AllowTriggerRuleEvents",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": "<TriggerQueue.Arn>",
                "Condition": {"ArnEquals": {"aws:SourceArn": "<TriggerFunctionObjectCreated.Arn>"}},
            }
        ]

    def test_the_rule_dlq_accepts_only_this_rule(self) -> None:
        policy = of_type(stack(), "AWS::SQS::QueuePolicy")["RuleDeadLetterQueuePolicy"]
        allow = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]

        assert allow == [
            {
                "Sid": "AllowTriggerRuleDeadLetters",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": "<RuleDeadLetterQueue.Arn>",
                "Condition": {"ArnEquals": {"aws:SourceArn": "<TriggerFunctionObjectCreated.Arn>"}},
            }
        ]


class TestQueuedDelivery:
    def test_the_queue_feeds_the_function_in_batches_that_report_each_failed_record(self) -> None:
        (mapping,) = of_type(stack(), "AWS::Lambda::EventSourceMapping").values()

        assert mapping == {
            "EventSourceArn": "<TriggerQueue.Arn>",
            "FunctionName": "<TriggerFunction>",
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 0,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": "2"},
        }

    def test_max_concurrency_reaches_the_mapping(self) -> None:
        (mapping,) = of_type(stack(MaxConcurrency="25"), "AWS::Lambda::EventSourceMapping").values()

        assert mapping["ScalingConfig"] == {"MaximumConcurrency": "25"}

    def test_no_asynchronous_invocation_path_remains(self) -> None:
        template = stack()

        assert not of_type(template, "AWS::Lambda::EventInvokeConfig")
        # Nobody but the mapping invokes the function: no resource policy for EventBridge or anyone else.
        assert not of_type(template, "AWS::Lambda::Permission")

    def test_a_failed_event_reaches_the_failed_start_queue_only_after_max_receive_count_tries(self) -> None:
        queue = of_type(stack(), "AWS::SQS::Queue")["TriggerQueue"]
        tried_more = of_type(stack(MaxReceiveCount="20"), "AWS::SQS::Queue")["TriggerQueue"]

        assert queue["RedrivePolicy"] == {"deadLetterTargetArn": "<FailedStartQueue.Arn>", "maxReceiveCount": "10"}
        assert tried_more["RedrivePolicy"]["maxReceiveCount"] == "20"

    def test_visibility_timeout_is_six_times_the_function_timeout(self) -> None:
        template = stack()
        function = of_type(template, "AWS::Lambda::Function")["TriggerFunction"]
        queue = of_type(template, "AWS::SQS::Queue")["TriggerQueue"]

        # Lambda's guidance for an SQS event source, so a batch it retries is not handed out twice meanwhile.
        assert queue["VisibilityTimeout"] == 6 * function["Timeout"]

    def test_the_function_may_only_receive_delete_and_read_attributes_of_its_queue(self) -> None:
        role = of_type(stack(), "AWS::IAM::Role")["TriggerFunctionRole"]
        sqs_statements = [s for s in statements(role) if any(a.startswith("sqs:") for a in as_list(s["Action"]))]

        assert [(sorted(as_list(s["Action"])), s["Resource"]) for s in sqs_statements] == [
            (["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], "<TriggerQueue.Arn>")
        ]
        # Given the role, SAM adds no policy of its own for the SQS event: nothing duplicated, no wildcard.
        assert not role.get("ManagedPolicyArns")


class TestFunction:
    def test_runtime_tracing_and_handler(self) -> None:
        function = of_type(stack(), "AWS::Lambda::Function")["TriggerFunction"]

        assert function["Runtime"] == "python3.13"
        assert function["Architectures"] == ["arm64"]
        assert function["TracingConfig"] == {"Mode": "Active"}
        assert function["Handler"] == "trigger_fn.handler.lambda_handler"

    def test_handler_resolves_from_the_code_uri_the_way_lambda_loads_it(self) -> None:
        resource = transformed_sam_function()
        code_root = ROOT / resource["CodeUri"]
        module, function = resource["Handler"].rsplit(".", 1)

        assert (code_root / (module.replace(".", "/") + ".py")).is_file()
        probe = f"import importlib; print(callable(getattr(importlib.import_module('{module}'), '{function}')))"
        result = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            check=False,
            cwd=code_root,
            env=os.environ | {"PYTHONPATH": str(code_root)},
        )
        assert result.stdout.strip() == "True", result.stderr

    def test_environment_carries_the_settings(self) -> None:
        variables = of_type(stack(OverrideObjectKey="true"), "AWS::Lambda::Function")["TriggerFunction"]["Environment"][
            "Variables"
        ]

        assert variables | {} == {
            "POWERTOOLS_SERVICE_NAME": "s3-pipeline-trigger",
            "POWERTOOLS_METRICS_NAMESPACE": "S3PipelineTrigger",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "SOURCE_BUCKET": "my-artifact-bucket",
            # The one-route parameters reach the function as a one-route ROUTES, with its grants.
            "ROUTES": '[{"key":"my-website.zip","pipeline":"my-website-pipeline","sourceAction":"Source",'
            '"overrideKey":true,"latestOnly":true}]',
            "ALLOWED_PIPELINES": "my-website-pipeline",
            "ROUTES_KEY_FILTER": "my-website.zip",
            "TOKEN_WINDOW_SECONDS": "3600",
            "DRY_RUN": "false",
            "MAX_STARTS_PER_SECOND": "10",
            "MAX_CONCURRENCY": "2",
            # Only events of the stack's own account start pipelines while SourceBucketAccount is empty.
            "SOURCE_ACCOUNT": "123456789012",
        }

    def test_routes_are_passed_as_given(self) -> None:
        variables = of_type(stack(**ROUTED), "AWS::Lambda::Function")["TriggerFunction"]["Environment"]["Variables"]

        assert variables["ROUTES"] == ROUTES
        assert variables["ALLOWED_PIPELINES"] == "site-pipeline,api-pipeline,audit-pipeline"
        # The function refuses a route this filter never passes, at its cold start.
        assert variables["ROUTES_KEY_FILTER"] == ROUTED["RoutesKeyFilter"]


def transformed_sam_function() -> dict[str, Any]:
    from ops.template_model import sam_template

    properties: dict[str, Any] = sam_template()["Resources"]["TriggerFunction"]["Properties"]
    return properties


class TestLeastPrivilege:
    @pytest.mark.parametrize(
        "parameters",
        [
            {},
            ROUTED,
            {"CreateSourceBucket": "false"},
            {"CreateExamplePipeline": "true", "AlarmEmail": "ops@example.com"},
        ],
        ids=["default", "routes", "adopt-bucket", "example-pipeline"],
    )
    def test_no_wildcard_action_and_wildcard_resources_only_for_xray(self, parameters: dict[str, str]) -> None:
        for name, role in of_type(stack(**parameters), "AWS::IAM::Role").items():
            assert not role.get("ManagedPolicyArns"), f"{name} uses managed policies"
            for statement in statements(role):
                actions = as_list(statement["Action"])
                assert all("*" not in action for action in actions), (name, statement)
                if "*" in as_list(statement["Resource"]):
                    assert set(actions) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, (name, statement)

    def test_the_function_may_start_and_list_only_its_pipeline(self) -> None:
        role = of_type(stack(), "AWS::IAM::Role")["TriggerFunctionRole"]
        pipeline_statements = [
            s for s in statements(role) if any(a.startswith("codepipeline:") for a in as_list(s["Action"]))
        ]

        assert [(sorted(as_list(s["Action"])), s["Resource"]) for s in pipeline_statements] == [
            (
                ["codepipeline:ListPipelineExecutions", "codepipeline:StartPipelineExecution"],
                ["arn:aws:codepipeline:eu-west-1:123456789012:my-website-pipeline"],
            )
        ]

    def test_the_function_may_read_and_list_only_the_routed_keys(self) -> None:
        single = of_type(stack(ObjectKey="releases/*.zip"), "AWS::IAM::Role")["TriggerFunctionRole"]
        routed = of_type(stack(**ROUTED), "AWS::IAM::Role")["TriggerFunctionRole"]

        for role, keys in ((single, "releases/*.zip"), (routed, ROUTED["RoutesKeyFilter"])):
            s3_statements = [s for s in statements(role) if any(a.startswith("s3:") for a in as_list(s["Action"]))]
            assert [(as_list(s["Action"]), s["Resource"], s.get("Condition")) for s in s3_statements] == [
                (["s3:GetObject"], f"arn:aws:s3:::my-artifact-bucket/{keys}", None),
                # Listing only under the routed keys: enough for S3 to answer 404 for a deleted one.
                (["s3:ListBucket"], "arn:aws:s3:::my-artifact-bucket", {"StringLike": {"s3:prefix": keys}}),
            ]

    def test_with_routes_exactly_the_routed_pipelines(self) -> None:
        role = of_type(stack(**ROUTED), "AWS::IAM::Role")["TriggerFunctionRole"]
        (start,) = [s for s in statements(role) if "codepipeline:StartPipelineExecution" in as_list(s["Action"])]

        assert sorted(as_list(start["Action"])) == [
            "codepipeline:ListPipelineExecutions",
            "codepipeline:StartPipelineExecution",
        ]
        assert start["Resource"] == [
            "arn:aws:codepipeline:eu-west-1:123456789012:site-pipeline",
            "arn:aws:codepipeline:eu-west-1:123456789012:api-pipeline",
            "arn:aws:codepipeline:eu-west-1:123456789012:audit-pipeline",
        ]

    def test_ten_routed_pipelines_are_granted_and_the_eleventh_is_not(self) -> None:
        names = [f"p{i}" for i in range(11)]
        role = of_type(stack(**ROUTED | {"RoutedPipelines": ",".join(names)}), "AWS::IAM::Role")["TriggerFunctionRole"]
        (start,) = [s for s in statements(role) if "codepipeline:StartPipelineExecution" in as_list(s["Action"])]

        assert start["Resource"] == [f"arn:aws:codepipeline:eu-west-1:123456789012:p{i}" for i in range(10)]

    def test_logs_only_to_its_own_log_group_and_sends_no_message_anywhere(self) -> None:
        role = of_type(stack(), "AWS::IAM::Role")["TriggerFunctionRole"]
        by_action = {a: s["Resource"] for s in statements(role) for a in as_list(s["Action"])}

        assert by_action["logs:PutLogEvents"] == "<TriggerFunctionLogGroup.Arn>"
        # The queue's redrive policy moves failed events: the function never sends one itself.
        assert "sqs:SendMessage" not in by_action
        log_group = of_type(stack(), "AWS::Logs::LogGroup")["TriggerFunctionLogGroup"]
        function = of_type(stack(), "AWS::Lambda::Function")["TriggerFunction"]
        assert log_group["LogGroupName"] == f"/aws/lambda/{function['FunctionName']}"


class TestSourceBucket:
    def test_created_bucket_is_versioned_notifies_eventbridge_private_and_encrypted(self) -> None:
        bucket = of_type(stack(), "AWS::S3::Bucket")["SourceBucket"]

        assert bucket["BucketName"] == "my-artifact-bucket"
        assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
        assert bucket["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
        assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(bucket["PublicAccessBlockConfiguration"]) == 4
        (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}

    @pytest.mark.parametrize("parameters", [{}, {"CreateExamplePipeline": "true"}], ids=["bucket", "example"])
    def test_every_bucket_and_queue_refuses_plain_http(self, parameters: dict[str, str]) -> None:
        template = stack(**parameters)
        policies = list(of_type(template, "AWS::S3::BucketPolicy").values()) + list(
            of_type(template, "AWS::SQS::QueuePolicy").values()
        )
        protected = set()
        for policy in policies:
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement["Effect"] == "Deny" and statement.get("Condition") == {
                    "Bool": {"aws:SecureTransport": "false"}
                }:
                    protected.update(as_list(statement["Resource"]))
        for name in of_type(template, "AWS::S3::Bucket"):
            assert f"<{name}.Arn>" in protected, name
        for name in of_type(template, "AWS::SQS::Queue"):
            assert f"<{name}.Arn>" in protected, name

    def test_queues_keep_messages_14_days_encrypted(self) -> None:
        queues = of_type(stack(), "AWS::SQS::Queue")

        assert set(queues) == {"TriggerQueue", "RuleDeadLetterQueue", "FailedStartQueue"}
        for queue in queues.values():
            assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
            assert queue["SqsManagedSseEnabled"] is True

    def test_adopting_creates_no_bucket_and_turns_eventbridge_on_through_the_custom_resource(self) -> None:
        template = stack(CreateSourceBucket="false")

        assert "SourceBucket" not in template["Resources"]
        assert "SourceBucketPolicy" not in template["Resources"]
        adopt = template["Resources"]["SourceBucketEventBridge"]
        assert adopt["Type"] == "Custom::S3EventBridgeNotifications"
        assert adopt["Properties"] == {
            "ServiceToken": "<BucketAdopterFunction.Arn>",
            "ServiceTimeout": 300,
            "BucketName": "my-artifact-bucket",
            "ExpectedBucketOwner": "123456789012",
            "AdopterRecord": "bucket-tags",
        }
        role = of_type(template, "AWS::IAM::Role")["BucketAdopterRole"]
        s3_statements = [s for s in statements(role) if any(a.startswith("s3:") for a in as_list(s["Action"]))]
        # The notification configuration and the adopter record (tags) of that one bucket, nothing else.
        assert s3_statements == [
            {
                "Effect": "Allow",
                "Action": [
                    "s3:GetBucketNotification",
                    "s3:PutBucketNotification",
                    "s3:GetBucketTagging",
                    "s3:PutBucketTagging",
                ],
                "Resource": "arn:aws:s3:::my-artifact-bucket",
            }
        ]
        assert template["Outputs"]["SourceBucket"] == "my-artifact-bucket"

    def test_creating_the_bucket_needs_no_custom_resource(self) -> None:
        resources = stack()["Resources"]

        assert not [n for n, r in resources.items() if r["Type"].startswith("Custom::")]
        assert "BucketAdopterFunction" not in resources


class TestNoCloudTrail:
    @pytest.mark.parametrize(
        "parameters", [{}, ROUTED, {"CreateSourceBucket": "false"}, {"CreateExamplePipeline": "true"}]
    )
    def test_no_trail_and_no_cloudtrail_event_source(self, parameters: dict[str, str]) -> None:
        template = stack(**parameters)
        text = json.dumps(template)

        assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::CloudTrail::")]
        assert "aws.cloudtrail" not in text
        assert "AWS API Call via CloudTrail" not in text


class TestExamplePipeline:
    def test_absent_by_default(self) -> None:
        assert not of_type(stack(), "AWS::CodePipeline::Pipeline")

    def test_s3_source_without_polling_then_extract_to_a_website_bucket(self) -> None:
        template = stack(CreateExamplePipeline="true", OverrideObjectKey="true")
        (pipeline,) = of_type(template, "AWS::CodePipeline::Pipeline").values()

        assert pipeline["Name"] == "my-website-pipeline"
        assert pipeline["PipelineType"] == "V2"
        source, deploy = pipeline["Stages"]
        (source_action,) = source["Actions"]
        assert source_action["Name"] == "Source"
        assert source_action["ActionTypeId"] == {"Category": "Source", "Owner": "AWS", "Provider": "S3", "Version": "1"}
        assert source_action["Configuration"] == {
            "S3Bucket": "my-artifact-bucket",
            "S3ObjectKey": "my-website.zip",
            "PollForSourceChanges": False,
            "AllowOverrideForS3ObjectKey": "true",
        }
        (deploy_action,) = deploy["Actions"]
        assert deploy_action["ActionTypeId"]["Provider"] == "S3"
        assert deploy_action["Configuration"] == {"BucketName": "<ExampleWebsiteBucket>", "Extract": True}

    def test_pipeline_role_reads_only_the_source_key(self) -> None:
        role = of_type(stack(CreateExamplePipeline="true"), "AWS::IAM::Role")["ExamplePipelineRole"]
        reads = [s for s in statements(role) if "s3:GetObjectVersion" in as_list(s["Action"])]

        assert {s["Resource"] for s in reads} == {
            "arn:aws:s3:::my-artifact-bucket/my-website.zip",
            "<ExampleArtifactStore.Arn>/*",
        }

    def test_not_with_routes(self) -> None:
        assert not of_type(stack(**ROUTED), "AWS::CodePipeline::Pipeline")


class TestAlarms:
    def test_alarms_cover_dead_letters_backlog_failures_malformed_and_errors(self) -> None:
        alarms = of_type(stack(), "AWS::CloudWatch::Alarm")

        assert set(alarms) == {
            "RuleDeadLettersAlarm",
            "FailedStartsWaitingAlarm",
            "QueueBacklogAlarm",
            "StartFailuresAlarm",
            "MalformedEventsAlarm",
            "FunctionErrorsAlarm",
        }
        for name, queue in (
            ("RuleDeadLettersAlarm", "RuleDeadLetterQueue"),
            ("FailedStartsWaitingAlarm", "FailedStartQueue"),
        ):
            assert alarms[name]["MetricName"] == "ApproximateNumberOfMessagesVisible"
            assert alarms[name]["Dimensions"] == [{"Name": "QueueName", "Value": f"<{queue}.QueueName>"}]
        assert alarms["StartFailuresAlarm"]["MetricName"] == "PipelineStartFailures"
        assert alarms["StartFailuresAlarm"]["Dimensions"] == [{"Name": "service", "Value": "s3-pipeline-trigger"}]
        backlog = alarms.pop("QueueBacklogAlarm")
        assert (backlog["MetricName"], backlog["Statistic"], backlog["Threshold"]) == (
            "ApproximateAgeOfOldestMessage",
            "Maximum",
            900,
        )
        assert backlog["Dimensions"] == [{"Name": "QueueName", "Value": "<TriggerQueue.QueueName>"}]
        for alarm in [*alarms.values(), backlog]:
            assert alarm["Threshold"] in {1, 900}
            assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            assert "AlarmActions" not in alarm

    def test_an_email_adds_a_topic_encrypted_with_the_stacks_own_key_to_every_alarm(self) -> None:
        template = stack(AlarmEmail="ops@example.com")
        (topic,) = of_type(template, "AWS::SNS::Topic").values()

        assert topic["KmsMasterKeyId"] == "<AlarmTopicKey.Arn>"
        assert topic["Subscription"] == [{"Protocol": "email", "Endpoint": "ops@example.com"}]
        for alarm in of_type(template, "AWS::CloudWatch::Alarm").values():
            assert alarm["AlarmActions"] == ["<AlarmTopic>"]

    def test_without_an_email_there_is_no_topic_and_no_key(self) -> None:
        template = stack()

        assert not of_type(template, "AWS::SNS::Topic")
        assert not of_type(template, "AWS::KMS::Key")

    def test_alarm_names_start_with_the_stack_name(self) -> None:
        names = [alarm["AlarmName"] for alarm in of_type(stack(), "AWS::CloudWatch::Alarm").values()]

        assert sorted(names) == [
            "s3-pipeline-trigger-failed-starts-waiting",
            "s3-pipeline-trigger-function-errors",
            "s3-pipeline-trigger-malformed-events",
            "s3-pipeline-trigger-queue-backlog",
            "s3-pipeline-trigger-rule-dead-letters",
            "s3-pipeline-trigger-start-failures",
        ]

    def test_the_alarm_names_output_lists_every_alarm(self) -> None:
        # make check-alarms finds the alarms through this output: an alarm left out would never be tested.
        template = stack(AlarmEmail="ops@example.com")
        listed = [name.strip("<>") for name in template["Outputs"]["AlarmNames"].split(",")]

        assert sorted(listed) == sorted(of_type(template, "AWS::CloudWatch::Alarm"))

    def test_the_alarm_key_rotates_lets_the_account_administer_it_and_cloudwatch_only_use_it(self) -> None:
        template = stack(AlarmEmail="ops@example.com")
        resource = template["Resources"]["AlarmTopicKey"]
        key = resource["Properties"]
        by_sid = {statement["Sid"]: statement for statement in key["KeyPolicy"]["Statement"]}

        assert key["EnableKeyRotation"] is True
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"], key["PendingWindowInDays"]) == (
            "Delete",
            "Delete",
            7,
        )
        assert by_sid["AccountAdministersTheKey"] == {
            "Sid": "AccountAdministersTheKey",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
        assert by_sid["ThisStacksAlarmsPublishToTheTopic"] == {
            "Sid": "ThisStacksAlarmsPublishToTheTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:s3-pipeline-trigger-*"},
            },
        }
        assert len(by_sid) == 2

    def test_dashboard_shows_the_functions_metrics_and_queues(self) -> None:
        (dashboard,) = of_type(stack(), "AWS::CloudWatch::Dashboard").values()
        body = json.loads(dashboard["DashboardBody"])
        text = json.dumps(body)

        for metric in (
            "PipelineExecutionsStarted",
            "PipelineStartFailures",
            "EventsIgnored",
            "EventsMalformed",
            "EventsSuperseded",
            "ExecutionsAlreadyStarted",
            "VersionCheckFailures",
            "Invocations",
            "Errors",
            "ApproximateNumberOfMessagesVisible",
            "ApproximateAgeOfOldestMessage",
        ):
            assert metric in text
        (backlog,) = [w for w in body["widgets"] if w["properties"]["title"] == "Trigger queue backlog"]
        assert {metric[1] for metric in backlog["properties"]["metrics"]} == {
            "ApproximateNumberOfMessagesVisible",
            "ApproximateAgeOfOldestMessage",
        }
        (starts,) = [w for w in body["widgets"] if w["properties"]["title"] == "Starts per minute"]
        assert (starts["properties"]["period"], starts["properties"]["metrics"][0][1]) == (
            60,
            "PipelineExecutionsStarted",
        )


# Every combination that creates the alarm topic.
WITH_ALARM_MAIL = {
    "mail": {"AlarmEmail": "ops@example.com"},
    "mail-routes": {"AlarmEmail": "ops@example.com", **ROUTED},
    "mail-adopt-bucket": {"AlarmEmail": "ops@example.com", "CreateSourceBucket": "false"},
    "mail-example-no-dashboard": {
        "AlarmEmail": "ops@example.com",
        "CreateExamplePipeline": "true",
        "CreateDashboard": "false",
    },
}


class TestAlarmsCanPublishToTheirTopics:
    """AWS's rule: CloudWatch publishes to an encrypted topic only if the key policy lets cloudwatch.amazonaws.com use
    the key (kms:Decrypt, kms:GenerateDataKey*) - never with an AWS managed key such as alias/aws/sns, whose policy
    cannot be changed (SNS developer guide, "Enable compatibility between event sources from AWS services and
    encrypted topics"). Otherwise the stack deploys, alarms fire, and no notification is ever sent."""

    @pytest.mark.parametrize("parameters", WITH_ALARM_MAIL.values(), ids=WITH_ALARM_MAIL.keys())
    def test_every_topic_an_alarm_notifies_is_encrypted_with_a_key_cloudwatch_may_use_for_that_alarm(
        self, parameters: dict[str, str]
    ) -> None:
        template = stack(**parameters)
        notified = alarms_by_target(template)

        assert notified, "no alarm notifies anything"
        for target, alarm_names in notified.items():
            topic = resource_in_template(template, target, "AWS::SNS::Topic")
            assert "KmsMasterKeyId" in topic, f"{target} is not encrypted at rest"
            key = resource_in_template(template, topic["KmsMasterKeyId"], "AWS::KMS::Key")
            # SNS encrypts only with enabled symmetric encryption keys.
            assert key.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
            assert key.get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"
            assert key.get("Enabled", True) is True
            for alarm_name in alarm_names:
                alarm_arn = f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{alarm_name}"
                assert cloudwatch_may_use(key["KeyPolicy"], alarm_arn), (
                    f"the key of {target} does not let CloudWatch publish for alarm {alarm_name}"
                )


def alarms_by_target(template: dict[str, Any]) -> dict[str, set[str]]:
    """Each action target of any alarm (AlarmActions, OKActions, InsufficientDataActions), with the alarms naming it."""
    targets: dict[str, set[str]] = {}
    for name, alarm in of_type(template, "AWS::CloudWatch::Alarm").items():
        assert "AlarmName" in alarm, f"{name} has no AlarmName: a key policy condition cannot name it"
        for field in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for target in alarm.get(field, []):
                targets.setdefault(target, set()).add(alarm["AlarmName"])
    return targets


def resource_in_template(template: dict[str, Any], reference: Any, resource_type: str) -> dict[str, Any]:
    """The properties of the resource a Ref or GetAtt token names; anything else (an alias, an outside ARN) fails."""
    assert isinstance(reference, Unresolved), f"{reference!r} is no {resource_type} of this template"
    name = reference.strip("<>").split(".")[0]
    resource = template["Resources"].get(name)
    assert resource is not None, f"{reference} names no resource of this template"
    assert resource["Type"] == resource_type, f"{name} is a {resource['Type']}, not a {resource_type}"
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


def cloudwatch_may_use(key_policy: dict[str, Any], alarm_arn: str) -> bool:
    """An Allow for cloudwatch.amazonaws.com of kms:Decrypt and kms:GenerateDataKey*, for this account and alarm."""
    for statement in key_policy["Statement"]:
        principal = statement.get("Principal", {})
        services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        condition = statement.get("Condition", {})
        if (
            statement["Effect"] == "Allow"
            and "cloudwatch.amazonaws.com" in services
            and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(as_list(statement["Action"]))
            and condition.get("StringEquals", {}).get("aws:SourceAccount") == "123456789012"
            and any(
                fnmatch.fnmatchcase(alarm_arn, pattern)
                for pattern in as_list(condition.get("ArnLike", {}).get("aws:SourceArn", []))
            )
        ):
            return True
    return False


class TestBuiltArtifact:
    BUILD = ROOT / ".aws-sam" / "build" / "TriggerFunction"

    @pytest.fixture(autouse=True)
    def _built(self) -> None:
        if not (self.BUILD / "trigger_fn" / "handler.py").is_file():
            pytest.skip("run `make build` first (make test does)")

    def test_ships_the_function_and_powertools_but_not_the_runtimes_boto(self) -> None:
        assert (self.BUILD / "trigger_fn" / "handler.py").is_file()
        assert (self.BUILD / "aws_lambda_powertools").is_dir()
        assert (self.BUILD / "aws_xray_sdk").is_dir()
        assert not (self.BUILD / "boto3").exists()
        assert not (self.BUILD / "botocore").exists()

    def test_built_template_points_at_the_handler(self) -> None:
        from samcli.yamlhelper import yaml_parse

        built = yaml_parse((ROOT / ".aws-sam" / "build" / "template.yaml").read_text())
        function = built["Resources"]["TriggerFunction"]["Properties"]
        assert function["Handler"] == "trigger_fn.handler.lambda_handler"
        assert function["CodeUri"] == "TriggerFunction"


def test_unresolved_tokens_are_only_deploy_time_values() -> None:
    # The resolver must leave only resource attributes unresolved, never a parameter.
    for value in _strings(stack(**ROUTED)):
        if isinstance(value, Unresolved):
            assert value.startswith("<")
            assert value.endswith(">")
            name = value[1:-1].split(".")[0]
            assert name in transformed()["Resources"] or name.startswith("AWS::"), value


def _strings(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def test_the_transform_does_not_depend_on_parameter_values() -> None:
    assert transformed() == transformed(**ROUTED, CreateSourceBucket="false", CreateExamplePipeline="true")


@pytest.mark.parametrize(
    ("parameter", "value", "variable"),
    [
        ("DryRun", "true", "DRY_RUN"),
        ("DryRun", "false", "DRY_RUN"),
        ("LogLevel", "DEBUG", "POWERTOOLS_LOG_LEVEL"),
        ("TokenWindowSeconds", "86400", "TOKEN_WINDOW_SECONDS"),
    ],
)
def test_each_setting_parameter_reaches_its_variable(parameter: str, value: str, variable: str) -> None:
    function = of_type(stack(**{parameter: value}), "AWS::Lambda::Function")["TriggerFunction"]

    assert function["Environment"]["Variables"][variable] == value


class TestOneRouteForm:
    """The one-route parameters reach the function as ROUTES: the one form its settings reader knows."""

    @staticmethod
    def variables(**parameters: str) -> dict[str, Any]:
        function = of_type(stack(**parameters), "AWS::Lambda::Function")["TriggerFunction"]
        variables: dict[str, Any] = function["Environment"]["Variables"]
        return variables

    @pytest.mark.parametrize(
        ("parameters", "route"),
        [
            (
                {},
                '{"key":"my-website.zip","pipeline":"my-website-pipeline","sourceAction":"Source",'
                '"overrideKey":false,"latestOnly":true}',
            ),
            (
                {"ObjectKey": "releases/*.zip", "SourceActionName": "Artifact"},
                '{"key":"releases/*.zip","pipeline":"my-website-pipeline","sourceAction":"Artifact",'
                '"overrideKey":false,"latestOnly":true}',
            ),
            (
                {"OverrideObjectKey": "true", "LatestOnly": "false", "PipelineName": "audit"},
                '{"key":"my-website.zip","pipeline":"audit","sourceAction":"Source",'
                '"overrideKey":true,"latestOnly":false}',
            ),
            (
                {"ObjectKey": "release notes/café (v2)+1.zip"},
                '{"key":"release notes/café (v2)+1.zip","pipeline":"my-website-pipeline","sourceAction":"Source",'
                '"overrideKey":false,"latestOnly":true}',
            ),
        ],
        ids=["defaults", "wildcard-key-and-action", "override-every-version", "spaces-and-non-ascii"],
    )
    def test_the_parameters_become_one_route(self, parameters: dict[str, str], route: str) -> None:
        variables = self.variables(**parameters)

        assert variables["ROUTES"] == f"[{route}]"
        assert variables["ALLOWED_PIPELINES"] == json.loads(route)["pipeline"]
        assert variables["ROUTES_KEY_FILTER"] == json.loads(route)["key"]

    def test_the_function_has_no_other_route_variables(self) -> None:
        for parameters in ({}, ROUTED):
            assert not {
                "OBJECT_KEY",
                "PIPELINE_NAME",
                "SOURCE_ACTION_NAME",
                "OVERRIDE_OBJECT_KEY",
                "LATEST_ONLY",
            } & set(self.variables(**parameters))

    @pytest.mark.parametrize(
        ("parameters", "routes"),
        [
            (
                {"ObjectKey": "releases/*.zip", "OverrideObjectKey": "true"},
                (Route(key="releases/*.zip", pipeline="my-website-pipeline", override_key=True),),
            ),
            (
                {"LatestOnly": "false", "SourceActionName": "Artifact"},
                (
                    Route(
                        key="my-website.zip",
                        pipeline="my-website-pipeline",
                        source_action="Artifact",
                        latest_only=False,
                    ),
                ),
            ),
            (
                ROUTED,
                (
                    Route(key="site/*.zip", pipeline="site-pipeline"),
                    Route(key="api/release.zip", pipeline="api-pipeline", override_key=True),
                    Route(key="*.zip", pipeline="audit-pipeline", variables=(("UPLOAD_KEY", "key"),)),
                ),
            ),
        ],
        ids=["one-route-wildcard-override", "one-route-every-version", "routes"],
    )
    def test_the_deployed_environment_loads_as_those_routes(
        self, parameters: dict[str, str], routes: tuple[Route, ...]
    ) -> None:
        # The function reads exactly what CloudFormation gives it, for either parameter form.
        settings = load_settings(self.variables(**parameters))

        assert settings.routes == routes
        assert settings.source_bucket == "my-artifact-bucket"
