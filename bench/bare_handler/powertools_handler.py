"""The Powertools floor: the two-call handler with Powertools' Logger, Metrics and Tracer as Powertools documents them.

The same HeadObject and StartPipelineExecution as bare_checked_handler, under the three documented decorators,
with one INFO line and one metric per event: the least a Powertools user writing this function by hand pays.
Run from a task root that holds the function's artifact's Powertools, X-Ray SDK and wrapt (bench/run.py builds it).
"""

import bare_checked_handler
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

# As the Powertools documentation writes them: defaults throughout, service and namespace from the environment.
logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    result = bare_checked_handler.lambda_handler(event, context)
    if result["status"] == "started":
        logger.info("Started pipeline execution", extra={"pipeline_execution_id": result["pipelineExecutionId"]})
        metrics.add_metric(name="PipelineExecutionsStarted", unit=MetricUnit.Count, value=1)
    else:
        logger.info("Ignored event", extra={"reason_code": result["reasonCode"]})
        metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=1)
    return result
