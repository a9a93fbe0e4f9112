"""The CodePipeline adapter: the exact request, bounded retries of transient errors, permanent errors at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import boto3
import pytest
from botocore.stub import Stubber

from local.aws_models.codepipeline import FakeCodePipeline
from trigger_fn.clients import AwsClients
from trigger_fn.pipeline_client import start_execution
from trigger_fn.retries import AwsCallFailed, RetryPolicy
from trigger_fn.start_requests import StartRequest

REQUEST = StartRequest(
    pipeline="my-website-pipeline",
    source_revisions=(
        {
            "actionName": "Source",
            "revisionType": "S3_OBJECT_VERSION_ID",
            "revisionValue": "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG",
        },
    ),
    client_request_token="a" * 64,
)
EXPECTED_PARAMS = {
    "name": "my-website-pipeline",
    "sourceRevisions": [
        {
            "actionName": "Source",
            "revisionType": "S3_OBJECT_VERSION_ID",
            "revisionValue": "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG",
        },
    ],
    "clientRequestToken": "a" * 64,
}
EXECUTION_ID = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def client_and_stub() -> Iterator[tuple[object, Stubber]]:
    client = boto3.client("codepipeline", region_name="eu-west-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _start(
    client: object,
    sleeps: list[float],
    request: StartRequest = REQUEST,
    remaining_s: Callable[[], float] | None = None,
    **policy: float,
) -> str:
    retry = RetryPolicy(**policy, sleep=sleeps.append, jitter=lambda low, high: high)  # type: ignore[misc]
    return start_execution(client, request.as_api_params(), retry, remaining_s)  # type: ignore[arg-type]


def test_sends_exactly_the_request_and_returns_the_execution_id(client_and_stub: tuple[object, Stubber]) -> None:
    client, stub = client_and_stub
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": EXECUTION_ID}, EXPECTED_PARAMS)

    assert _start(client, []) == EXECUTION_ID


def test_variables_are_sent_when_the_route_has_them(client_and_stub: tuple[object, Stubber]) -> None:
    client, stub = client_and_stub
    request = StartRequest(
        pipeline="p", source_revisions=(), client_request_token="t", variables=({"name": "UPLOAD_KEY", "value": "k"},)
    )
    stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": EXECUTION_ID},
        {
            "name": "p",
            "sourceRevisions": [],
            "clientRequestToken": "t",
            "variables": [{"name": "UPLOAD_KEY", "value": "k"}],
        },
    )

    assert _start(client, [], request) == EXECUTION_ID


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("ConflictException", 409),
        ("ConcurrentPipelineExecutionsLimitExceededException", 400),
        ("InternalFailure", 500),
        ("SomethingNew", 503),
    ],
)
def test_transient_errors_are_retried_with_backoff(
    client_and_stub: tuple[object, Stubber], code: str, status: int
) -> None:
    client, stub = client_and_stub
    stub.add_client_error("start_pipeline_execution", code, "try later", status, expected_params=EXPECTED_PARAMS)
    stub.add_client_error("start_pipeline_execution", code, "try later", status, expected_params=EXPECTED_PARAMS)
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": EXECUTION_ID}, EXPECTED_PARAMS)
    sleeps: list[float] = []

    assert _start(client, sleeps) == EXECUTION_ID
    # Exponential ceilings (jitter pinned to the ceiling here): 0.2 s, then 0.4 s.
    assert sleeps == [0.2, 0.4]


def test_transient_errors_give_up_after_max_attempts(client_and_stub: tuple[object, Stubber]) -> None:
    client, stub = client_and_stub
    for _ in range(4):
        stub.add_client_error("start_pipeline_execution", "ThrottlingException", "slow down", 400)
    sleeps: list[float] = []

    with pytest.raises(AwsCallFailed) as raised:
        _start(client, sleeps)

    assert (raised.value.code, raised.value.transient, raised.value.attempts) == ("ThrottlingException", True, 4)
    assert sleeps == [0.2, 0.4, 0.8]
    assert "StartPipelineExecution(my-website-pipeline) failed with ThrottlingException" in str(raised.value)


@pytest.mark.parametrize(
    "code",
    ["PipelineNotFoundException", "ValidationException", "AccessDeniedException", "PipelineVersionNotFoundException"],
)
def test_permanent_errors_raise_at_once(client_and_stub: tuple[object, Stubber], code: str) -> None:
    client, stub = client_and_stub
    stub.add_client_error("start_pipeline_execution", code, "no", 400, expected_params=EXPECTED_PARAMS)
    sleeps: list[float] = []

    with pytest.raises(AwsCallFailed) as raised:
        _start(client, sleeps)

    assert (raised.value.code, raised.value.transient, raised.value.attempts) == (code, False, 1)
    assert sleeps == []


def test_stops_retrying_when_the_invocation_is_running_out(client_and_stub: tuple[object, Stubber]) -> None:
    client, stub = client_and_stub
    stub.add_client_error("start_pipeline_execution", "ThrottlingException", "slow down", 400)
    sleeps: list[float] = []

    with pytest.raises(AwsCallFailed) as raised:
        _start(client, sleeps, remaining_s=lambda: 3.1)

    assert raised.value.attempts == 1
    assert sleeps == []


def test_connection_errors_are_transient() -> None:
    codepipeline = FakeCodePipeline.with_pipelines(REQUEST.pipeline)
    codepipeline.fail_next("connection-lost")

    execution_id = _start(codepipeline, [])

    assert codepipeline.requests == [EXPECTED_PARAMS, EXPECTED_PARAMS]
    assert [execution.execution_id for execution in codepipeline.executions] == [execution_id]


def test_a_response_without_an_execution_id_is_never_a_success(client_and_stub: tuple[object, Stubber]) -> None:
    client, stub = client_and_stub
    stub.add_response("start_pipeline_execution", {}, EXPECTED_PARAMS)

    with pytest.raises(AwsCallFailed, match="NoExecutionId"):
        _start(client, [], max_attempts=1)


def test_clients_are_made_on_first_use_never_at_import() -> None:
    # Each cold start pays for a client only when an event needs one (~50-70 ms each).
    clients = AwsClients()

    assert clients._codepipeline is None
    assert clients.codepipeline is clients.codepipeline


def test_the_real_client_leaves_retries_to_the_adapter_and_honours_the_endpoint_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", "http://127.0.0.1:5999")

    client = AwsClients().codepipeline

    assert client.meta.endpoint_url == "http://127.0.0.1:5999"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}


class VirtualClock:
    """A clock that moves only when the code under test sleeps: the attempts' times are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_paced_attempts_retries_included_are_spaced_by_the_interval(client_and_stub: tuple[object, Stubber]) -> None:
    client, stub = client_and_stub
    clock = VirtualClock()
    attempts: list[float] = []
    client.meta.events.register(  # type: ignore[attr-defined]
        "before-parameter-build.codepipeline.StartPipelineExecution", lambda **_: attempts.append(clock.now)
    )
    stub.add_client_error("start_pipeline_execution", "ThrottlingException", http_status_code=400)
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": EXECUTION_ID}, EXPECTED_PARAMS)
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": EXECUTION_ID}, EXPECTED_PARAMS)
    # A backoff far shorter than the interval: the pacer, not the retry, decides when the next attempt goes.
    retry = RetryPolicy(sleep=clock.sleep, jitter=lambda low, high: 0.01, clock=lambda: clock.now)
    pacer = AwsClients(retry=retry, start_interval_s=0.5).start_pacer

    start_execution(client, REQUEST.as_api_params(), retry, pacer=pacer)  # type: ignore[arg-type]
    start_execution(client, REQUEST.as_api_params(), retry, pacer=pacer)  # type: ignore[arg-type]

    assert [round(at - attempts[0], 6) for at in attempts] == [0.0, 0.5, 1.0]


def test_attempts_already_far_apart_are_not_delayed(client_and_stub: tuple[object, Stubber]) -> None:
    client, stub = client_and_stub
    clock = VirtualClock()
    sleeps: list[float] = []
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": EXECUTION_ID}, EXPECTED_PARAMS)
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": EXECUTION_ID}, EXPECTED_PARAMS)
    retry = RetryPolicy(sleep=sleeps.append, clock=lambda: clock.now)
    pacer = AwsClients(retry=retry, start_interval_s=0.5).start_pacer

    start_execution(client, REQUEST.as_api_params(), retry, pacer=pacer)  # type: ignore[arg-type]
    clock.now += 2.0
    start_execution(client, REQUEST.as_api_params(), retry, pacer=pacer)  # type: ignore[arg-type]

    assert sleeps == []
