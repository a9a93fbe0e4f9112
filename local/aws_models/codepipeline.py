"""CodePipeline as the function meets it, with the rules moto leaves out: the tests' one CodePipeline.

Each rule is documented in docs/decisions.md ("The tests' AWS models"), with its source:
- a `clientRequestToken` is remembered for `token_window_s`: a repeat within it returns the earlier execution
  and starts nothing (how long AWS remembers is not documented, hence the knob); a repeat with other
  parameters is recorded in `token_mismatches`;
- request validation: token `[a-zA-Z0-9-]{1,128}`, at most 50 source revisions of at most 1,500 characters,
  1-50 variables of 1-1,000 characters, `S3_OBJECT_KEY` only where the source action allows key override;
- execution modes: SUPERSEDED takes every start; QUEUED and PARALLEL refuse a start past their limit of
  executions in progress with ConcurrentPipelineExecutionsLimitExceededException;
- ListPipelineExecutions: newest first, pages of `maxResults` (1-100) with `nextToken`, each summary with the
  S3 source revision (moto drops these);
- faults on demand: scripted (`fail_next`), random by share (`random_faults`), or a start rate (`max_starts_per_s`).

With `backend=` (a moto client) the executions are also started there, so GetPipelineExecution and the rest answer
as moto does, and each pipeline's execution mode, S3 source action and key override are read from its definition
there (GetPipeline) unless the test names the pipeline itself; without, the pipelines named are the ones that exist.
"""

from __future__ import annotations

import copy
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

ENDPOINT = "https://codepipeline.eu-west-1.amazonaws.com/"
_TOKEN = re.compile(r"[a-zA-Z0-9-]{1,128}")
_VARIABLE_NAME = re.compile(r"[A-Za-z0-9@\-_]{1,128}")
MAX_SOURCE_REVISIONS = 50
MAX_REVISION_VALUE = 1500
MAX_VARIABLES = 50
MAX_VARIABLE_VALUE = 1000
MAX_PAGE = 100
# Executions in progress a QUEUED or PARALLEL pipeline takes before refusing more (a quota: tests set their own).
DEFAULT_EXECUTION_LIMIT = 50
# How long a token is remembered unless a test says otherwise: the function's default TokenWindowSeconds.
DEFAULT_TOKEN_WINDOW_S = 3600.0

_FAULTS: dict[str, tuple[str, int]] = {
    "throttled": ("ThrottlingException", 400),
    "server-error": ("InternalFailure", 500),
    "unavailable": ("ServiceUnavailable", 503),
    "conflict": ("ConflictException", 409),
    "concurrent-limit": ("ConcurrentPipelineExecutionsLimitExceededException", 400),
    "access-denied": ("AccessDeniedException", 400),
    "not-found": ("PipelineNotFoundException", 400),
}
# Faults raised before or after the service acted: the connection never got there, or the answer never came back.
CONNECTION_LOST = "connection-lost"
STARTED_ANSWER_LOST = "started-answer-lost"
FAULT_NAMES = (*_FAULTS, CONNECTION_LOST, STARTED_ANSWER_LOST)


def client_error(code: str, status: int, operation: str, message: str = "") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message or f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


@dataclass
class Pipeline:
    name: str
    mode: str = "SUPERSEDED"
    source_action: str = "Source"
    allow_key_override: bool = False
    execution_limit: int = DEFAULT_EXECUTION_LIMIT


@dataclass
class Execution:
    execution_id: str
    pipeline: str
    params: dict[str, Any]
    start_time: float
    status: str = "InProgress"

    @property
    def version_id(self) -> str | None:
        for revision in self.params.get("sourceRevisions", []):
            if revision["revisionType"] == "S3_OBJECT_VERSION_ID":
                return str(revision["revisionValue"])
        return None

    def summary(self) -> dict[str, Any]:
        revisions = [
            {"actionName": revision["actionName"], "revisionId": revision["revisionValue"]}
            for revision in self.params.get("sourceRevisions", [])
            if revision["revisionType"] == "S3_OBJECT_VERSION_ID"
        ]
        return {
            "pipelineExecutionId": self.execution_id,
            "status": self.status,
            "startTime": datetime.fromtimestamp(self.start_time, UTC),
            "lastUpdateTime": datetime.fromtimestamp(self.start_time, UTC),
            "sourceRevisions": revisions,
            "trigger": {"triggerType": "StartPipelineExecution"},
            "executionMode": "SUPERSEDED",
        }


@dataclass
class _Remembered:
    execution_id: str
    params: dict[str, Any]
    at: float


@dataclass
class FakeCodePipeline:
    """The CodePipeline model every test shares (see the module docstring for the rules it keeps)."""

    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    token_window_s: float = DEFAULT_TOKEN_WINDOW_S
    clock: Callable[[], float] = time.time
    backend: Any = None
    # Random faults: (fault name, share of calls) drawn with `rng` on every StartPipelineExecution.
    random_faults: tuple[tuple[str, float], ...] = ()
    rng: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311 - test data
    max_starts_per_s: int | None = None
    # Shared with a FakeS3 to see the order of calls across services.
    journal: list[tuple[str, str]] | None = None
    # Called with every StartPipelineExecution request before it is answered (e.g. a newer upload lands meanwhile).
    on_start: Callable[[dict[str, Any]], None] | None = None

    requests: list[dict[str, Any]] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    token_mismatches: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    replays: int = 0
    list_calls: list[dict[str, Any]] = field(default_factory=list)
    _scripted: list[tuple[str, str | None]] = field(default_factory=list)
    _tokens: dict[str, _Remembered] = field(default_factory=dict)
    _starts_in_second: Counter[int] = field(default_factory=Counter)

    @classmethod
    def with_pipelines(cls, *names: str, mode: str = "SUPERSEDED", **options: Any) -> FakeCodePipeline:
        pipeline_options = {
            name: options.pop(name)
            for name in ("source_action", "allow_key_override", "execution_limit")
            if name in options
        }
        pipelines = {name: Pipeline(name, mode=mode, **pipeline_options) for name in names}
        return cls(pipelines=pipelines, **options)

    @classmethod
    def over(cls, backend: Any, **options: Any) -> FakeCodePipeline:
        """The model's rules in front of a moto client that holds the pipelines (their definitions) and executions."""
        return cls(backend=backend, **options)

    # ------------------------------------------------------------------ injection
    def fail_next(self, *faults: str, pipeline: str | None = None) -> None:
        """The next StartPipelineExecution calls (of that pipeline, if named) fail with these, in order."""
        for fault in faults:
            if fault not in FAULT_NAMES:
                raise ValueError(f"unknown fault {fault!r}; one of {FAULT_NAMES}")
            self._scripted.append((fault, pipeline))

    def finish(self, execution_id: str, status: str = "Succeeded") -> None:
        self._execution(execution_id).status = status

    # ------------------------------------------------------------------ the API
    def start_pipeline_execution(self, **params: Any) -> dict[str, str]:
        sent = copy.deepcopy(params)
        self.requests.append(sent)
        if self.journal is not None:
            self.journal.append(("start", _version_of(sent) or ""))
        if self.on_start is not None:
            self.on_start(sent)
        fault = self._draw_fault(sent["name"])
        if fault == CONNECTION_LOST:
            raise EndpointConnectionError(endpoint_url=ENDPOINT)
        if fault is not None and fault != STARTED_ANSWER_LOST:
            code, status = _FAULTS[fault]
            raise client_error(code, status, "StartPipelineExecution")
        execution_id = self._start(sent)
        if fault == STARTED_ANSWER_LOST:
            # The execution exists; only the answer is gone. A repeat with the token must not start another.
            raise ReadTimeoutError(endpoint_url=ENDPOINT)
        return {"pipelineExecutionId": execution_id}

    def list_pipeline_executions(
        self, *, pipelineName: str, maxResults: int = MAX_PAGE, nextToken: str | None = None, **_: Any
    ) -> dict[str, Any]:
        self.list_calls.append({"pipelineName": pipelineName, "maxResults": maxResults, "nextToken": nextToken})
        self._pipeline(pipelineName, "ListPipelineExecutions")
        if not 1 <= maxResults <= MAX_PAGE:
            raise client_error("ValidationException", 400, "ListPipelineExecutions", "maxResults must be 1-100")
        # Newest first; a page token is the index of the page's first summary.
        newest_first = [e for e in reversed(self.executions) if e.pipeline == pipelineName]
        start = int(nextToken) if nextToken else 0
        page = newest_first[start : start + maxResults]
        answer: dict[str, Any] = {"pipelineExecutionSummaries": [execution.summary() for execution in page]}
        if start + maxResults < len(newest_first):
            answer["nextToken"] = str(start + maxResults)
        return answer

    def get_pipeline_execution(self, *, pipelineName: str, pipelineExecutionId: str) -> dict[str, Any]:
        if self.backend is not None:
            return dict(
                self.backend.get_pipeline_execution(pipelineName=pipelineName, pipelineExecutionId=pipelineExecutionId)
            )
        execution = self._execution(pipelineExecutionId)
        return {
            "pipelineExecution": {
                "pipelineName": execution.pipeline,
                "pipelineExecutionId": execution.execution_id,
                "status": execution.status,
                "artifactRevisions": [{"name": "SourceArtifact", "revisionId": execution.version_id}]
                if execution.version_id
                else [],
                "variables": [
                    {"name": v["name"], "resolvedValue": v["value"]} for v in execution.params.get("variables", [])
                ],
            }
        }

    def __getattr__(self, name: str) -> Any:
        # With a backend, every call the model does not own is moto's.
        backend = self.__dict__.get("backend")
        if backend is None:
            raise AttributeError(f"FakeCodePipeline has no {name} (and no backend to ask)")
        return getattr(backend, name)

    # ------------------------------------------------------------------ what tests read
    def started(self, pipeline: str | None = None) -> list[Execution]:
        return [e for e in self.executions if pipeline is None or e.pipeline == pipeline]

    def started_versions(self, pipeline: str | None = None) -> list[tuple[str, str | None]]:
        """(pipeline, version) of every execution started, oldest first."""
        return [(e.pipeline, e.version_id) for e in self.started(pipeline)]

    # ------------------------------------------------------------------ the rules
    def _start(self, params: dict[str, Any]) -> str:
        pipeline = self._pipeline(params["name"], "StartPipelineExecution")
        _validate(params, pipeline)
        token = params.get("clientRequestToken")
        now = self.clock()
        remembered = self._tokens.get(token) if token else None
        if remembered is not None and now - remembered.at < self.token_window_s:
            self.replays += 1
            if remembered.params != params:
                self.token_mismatches.append(str(token))
            return remembered.execution_id
        if pipeline is not None and pipeline.mode in ("QUEUED", "PARALLEL"):
            running = sum(1 for e in self.executions if e.pipeline == pipeline.name and e.status == "InProgress")
            if running >= pipeline.execution_limit:
                self.faults["concurrent-limit"] += 1
                raise client_error("ConcurrentPipelineExecutionsLimitExceededException", 400, "StartPipelineExecution")
        if pipeline is not None and pipeline.mode == "SUPERSEDED":
            # A newer execution overtakes the ones still running.
            for execution in self.executions:
                if execution.pipeline == pipeline.name and execution.status == "InProgress":
                    execution.status = "Superseded"
        if self.backend is not None:
            execution_id = str(self.backend.start_pipeline_execution(**params)["pipelineExecutionId"])
        else:
            execution_id = f"execution-{len(self.executions) + 1:05d}"
        self.executions.append(Execution(execution_id, params["name"], params, now))
        if token:
            self._tokens[token] = _Remembered(execution_id, params, now)
        return execution_id

    def _draw_fault(self, pipeline: str) -> str | None:
        for index, (fault, only) in enumerate(self._scripted):
            if only is None or only == pipeline:
                del self._scripted[index]
                self.faults[fault] += 1
                return fault
        if self.max_starts_per_s is not None:
            second = int(self.clock())
            if self._starts_in_second[second] >= self.max_starts_per_s:
                self.faults["throttled"] += 1
                return "throttled"
            self._starts_in_second[second] += 1
        roll = self.rng.random()
        for fault, share in self.random_faults:
            if roll < share:
                self.faults[fault] += 1
                return fault
            roll -= share
        return None

    def _pipeline(self, name: str, operation: str) -> Pipeline | None:
        if self.backend is not None:
            # moto answers PipelineNotFoundException itself; the rules follow the pipeline as moto holds it.
            if name not in self.pipelines:
                defined = _defined_in(self.backend, name)
                if defined is None:
                    return None
                self.pipelines[name] = defined
            return self.pipelines[name]
        if name not in self.pipelines:
            raise client_error("PipelineNotFoundException", 400, operation, f"pipeline {name} does not exist")
        return self.pipelines[name]

    def _execution(self, execution_id: str) -> Execution:
        for execution in self.executions:
            if execution.execution_id == execution_id:
                return execution
        raise client_error("PipelineExecutionNotFoundException", 400, "GetPipelineExecution")


def _defined_in(backend: Any, name: str) -> Pipeline | None:
    """The pipeline as the backend defines it: execution mode, S3 source action, AllowOverrideForS3ObjectKey."""
    try:
        declaration = backend.get_pipeline(name=name)["pipeline"]
    except ClientError:
        return None
    for stage in declaration.get("stages", []):
        for action in stage.get("actions", []):
            kind = action.get("actionTypeId", {})
            if (kind.get("category"), kind.get("provider")) == ("Source", "S3"):
                override = str(action.get("configuration", {}).get("AllowOverrideForS3ObjectKey", "false"))
                return Pipeline(
                    name,
                    mode=declaration.get("executionMode", "SUPERSEDED"),
                    source_action=action["name"],
                    allow_key_override=override.lower() == "true",
                )
    return None


def _validate(params: dict[str, Any], pipeline: Pipeline | None) -> None:
    """StartPipelineExecution's documented request constraints (CodePipeline API reference)."""
    token = params.get("clientRequestToken")
    if token is not None and not _TOKEN.fullmatch(token):
        raise _invalid(f"clientRequestToken {token!r} must match [a-zA-Z0-9-]{{1,128}}")
    revisions = params.get("sourceRevisions", [])
    if len(revisions) > MAX_SOURCE_REVISIONS:
        raise _invalid(f"at most {MAX_SOURCE_REVISIONS} sourceRevisions")
    for revision in revisions:
        if not 1 <= len(revision["revisionValue"]) <= MAX_REVISION_VALUE:
            raise _invalid(f"revisionValue must be 1-{MAX_REVISION_VALUE} characters")
        if pipeline is not None and revision["actionName"] != pipeline.source_action:
            raise _invalid(f"no source action {revision['actionName']!r} in pipeline {pipeline.name}")
        if revision["revisionType"] == "S3_OBJECT_KEY" and pipeline is not None and not pipeline.allow_key_override:
            raise _invalid("S3_OBJECT_KEY needs AllowOverrideForS3ObjectKey on the source action")
    variables = params.get("variables")
    if variables is not None:
        if not 1 <= len(variables) <= MAX_VARIABLES:
            raise _invalid(f"variables must be 1-{MAX_VARIABLES} entries")
        for variable in variables:
            if not _VARIABLE_NAME.fullmatch(variable["name"]):
                raise _invalid(f"variable name {variable['name']!r} is invalid")
            if not 1 <= len(variable["value"]) <= MAX_VARIABLE_VALUE:
                raise _invalid(f"variable {variable['name']} value must be 1-{MAX_VARIABLE_VALUE} characters")


def _invalid(message: str) -> ClientError:
    return client_error("ValidationException", 400, "StartPipelineExecution", message)


def _version_of(params: dict[str, Any]) -> str | None:
    for revision in params.get("sourceRevisions", []):
        if revision["revisionType"] == "S3_OBJECT_VERSION_ID":
            return str(revision["revisionValue"])
    return None
