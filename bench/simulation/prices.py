"""AWS's published prices the cost figures use: us-east-1, on-demand, read 2026-12-06, free tiers left out.

- Lambda (aws.amazon.com/lambda/pricing): $0.20 per 1M requests; Arm duration $0.0000133334 per GB-second
  (first 7.5 billion GB-s a month).
- SQS (aws.amazon.com/sqs/pricing): standard queue $0.40 per 1M requests (after the first million a month); every
  API action is a request, each 64 KB chunk of a payload one more (an S3 event is about 1 KB, a batch of ten < 64 KB).
- EventBridge (aws.amazon.com/eventbridge/pricing): events published by AWS services (S3's Object Created on the
  default bus) cost nothing, nor does the rule's delivery to a same-account target; custom events are $1.00 per 1M.
"""

from __future__ import annotations

LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_ARM_PER_GB_S = 0.0000133334
SQS_STANDARD_PER_REQUEST = 0.40 / 1_000_000
EVENTBRIDGE_AWS_SERVICE_EVENT = 0.0
PRICES_READ = "2026-12-06"
REGION = "us-east-1"


def lambda_cost(requests: int, billed_ms: int, memory_mb: int) -> float:
    return requests * LAMBDA_PER_REQUEST + billed_ms / 1000 * memory_mb / 1024 * LAMBDA_ARM_PER_GB_S


def sqs_cost(requests: int) -> float:
    return requests * SQS_STANDARD_PER_REQUEST
