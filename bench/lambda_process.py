"""One Lambda execution environment, in this process: init the handler, send events, write timings.

Run by bench/run.py as `python -I -S -B lambda_process.py SPEC.json` with Lambda's environment
variables already set. sys.path is built the way Lambda builds it (task root first, then the
runtime's folder that holds boto3). StartPipelineExecution and HeadObject are answered in-process at botocore's
`before-send` hook (after serialising and signing, before any socket): the same hook, installed the
same way, for every handler measured.
"""

# Only what Lambda's own bootstrap has loaded before it imports a handler is imported before the clock starts.
import importlib
import json
import os
import sys
import time

# The context class stands in for the one Lambda's bootstrap has loaded already: imported before the clock, then
# the repository leaves sys.path again, so nothing of the handler's can resolve from it.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from local.lambda_context import LocalLambdaContext

del sys.path[0]

# Warm events sent before the recorded ones: the first few after the cold start still fill botocore's caches.
UNRECORDED_WARM_EVENTS = 20

STARTED_NS = time.perf_counter_ns()
# CPU time too: on a busy machine it shows the work without the waits for a core.
STARTED_CPU_NS = time.process_time_ns()


def lambda_context(request_id: str) -> LocalLambdaContext:
    return LocalLambdaContext(
        os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        request_id=request_id,
        region=os.environ["AWS_REGION"],
        memory_mb=int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]),
    )


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: object) -> object:
        yield self._data


class AwsAnswers:
    """Answers StartPipelineExecution and HeadObject like the services would; remembers the first start request.

    HeadObject reports `current_version` as the key's current version. The time spent inside both SDK calls is
    summed, so the handler's own work can be told apart from botocore's.
    """

    CALLS = (("codepipeline", "StartPipelineExecution"), ("s3", "HeadObject"))

    def __init__(self, current_version: str) -> None:
        self.current_version = current_version
        self.first_request: dict[str, object] | None = None
        self.calls = 0
        self.sdk_ns = 0
        self.sdk_cpu_ns = 0
        self._call_started_ns = 0
        self._call_started_cpu_ns = 0

    def install(self, events: object) -> None:
        for service, operation in self.CALLS:
            answer = self.answer_start if operation == "StartPipelineExecution" else self.answer_head
            events.register(f"before-send.{service}.{operation}", answer)  # type: ignore[attr-defined]
            events.register(f"provide-client-params.{service}.{operation}", self.call_started)  # type: ignore[attr-defined]
            events.register(f"after-call.{service}.{operation}", self.call_ended)  # type: ignore[attr-defined]

    def call_started(self, **_: object) -> None:
        self._call_started_cpu_ns = time.process_time_ns()
        self._call_started_ns = time.perf_counter_ns()

    def call_ended(self, **_: object) -> None:
        self.sdk_ns += time.perf_counter_ns() - self._call_started_ns
        self.sdk_cpu_ns += time.process_time_ns() - self._call_started_cpu_ns

    def answer_start(self, request: object, **_: object) -> object:
        from botocore.awsrequest import AWSResponse  # noqa: PLC0415 - botocore comes from the task's sys.path

        self.calls += 1
        if self.first_request is None:
            self.first_request = json.loads(request.body)  # type: ignore[attr-defined]
        body = json.dumps({"pipelineExecutionId": f"00000000-0000-4000-8000-{self.calls:012d}"}).encode()
        headers = {"x-amzn-RequestId": "bench", "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 200, headers, _Body(body))  # type: ignore[attr-defined]

    def answer_head(self, request: object, **_: object) -> object:
        from botocore.awsrequest import AWSResponse  # noqa: PLC0415 - as above

        headers = {"x-amz-request-id": "bench", "x-amz-version-id": self.current_version, "Content-Length": "0"}
        return AWSResponse(request.url, 200, headers, _Body(b""))  # type: ignore[attr-defined]


def _trace_header(n: int) -> str:
    # Lambda's header; X-Ray samples the first request each second and 5% of the rest.
    sampled = os.environ.get("BENCH_TRACE_SAMPLED", "1")
    return f"Root=1-67453a00-{n:024x};Parent={n:016x};Sampled={sampled}"


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as file:
        spec = json.load(file)
    # Lambda: task root first, then the runtime's own packages (boto3, botocore, ...).
    sys.path[:0] = [spec["task_root"], spec["runtime_dir"]]
    # Function output goes where Lambda's log capture would be; the figures go to a file.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    if not spec["keep_stderr"]:
        os.dup2(devnull, 2)

    # The bench's stand-in for CodePipeline, on the default session every boto3.client() call uses.
    import boto3  # noqa: PLC0415 - after the clock started and sys.path is Lambda's

    with open(spec["event"], encoding="utf-8") as file:
        event = json.load(file)
    boto3.setup_default_session()
    answer = AwsAnswers(current_version=event["detail"]["object"]["version-id"])
    answer.install(boto3.DEFAULT_SESSION.events)  # type: ignore[attr-defined]
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    init_done_ns = time.perf_counter_ns()
    # Lambda sets the trace header per invocation, not during init.
    os.environ["_X_AMZN_TRACE_ID"] = _trace_header(1)
    init_cpu_ns = time.process_time_ns()
    first_result = handler(event, lambda_context("req-1"))
    first_done_ns = time.perf_counter_ns()
    first_cpu_ns = time.process_time_ns()

    import resource  # noqa: PLC0415 - not something Lambda loads before the handler

    peak_after_first_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    total_ns: list[int] = []
    own_ns: list[int] = []
    own_cpu_ns: list[int] = []
    total_cpu_ns: list[int] = []
    warm_events = spec["warm_events"]
    unrecorded = UNRECORDED_WARM_EVENTS if warm_events else 0
    contexts = [lambda_context(f"req-{n}") for n in range(unrecorded + warm_events)]
    for n, context in enumerate(contexts, start=2):
        os.environ["_X_AMZN_TRACE_ID"] = _trace_header(n)
        sdk_before, sdk_cpu_before = answer.sdk_ns, answer.sdk_cpu_ns
        cpu_before = time.process_time_ns()
        before = time.perf_counter_ns()
        handler(event, context)
        spent = time.perf_counter_ns() - before
        spent_cpu = time.process_time_ns() - cpu_before
        if n - 2 < unrecorded:
            continue
        own_cpu_ns.append(spent_cpu - (answer.sdk_cpu_ns - sdk_cpu_before))
        total_cpu_ns.append(spent_cpu)
        total_ns.append(spent)
        own_ns.append(spent - (answer.sdk_ns - sdk_before))

    report = {
        "init_ms": (init_done_ns - STARTED_NS) / 1e6,
        "cold_ms": (first_done_ns - STARTED_NS) / 1e6,
        "first_event_ms": (first_done_ns - init_done_ns) / 1e6,
        "init_cpu_ms": (init_cpu_ns - STARTED_CPU_NS) / 1e6,
        "cold_cpu_ms": (first_cpu_ns - STARTED_CPU_NS) / 1e6,
        "peak_rss_kib_first": peak_after_first_kib,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "warm_total_us": [ns / 1000 for ns in total_ns],
        "warm_own_us": [ns / 1000 for ns in own_ns],
        "warm_own_cpu_us": [ns / 1000 for ns in own_cpu_ns],
        "warm_total_cpu_us": [ns / 1000 for ns in total_cpu_ns],
        "first_result": first_result,
        "first_request": answer.first_request,
        "calls": answer.calls,
        "botocore_file": sys.modules["botocore"].__file__,
        "modules": len(sys.modules),
    }
    with open(spec["report"], "w", encoding="utf-8") as file:
        json.dump(report, file)


if __name__ == "__main__":
    main()
