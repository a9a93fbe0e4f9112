"""Clients that keep every request as sent, where moto would drop the fields the tests are about."""

from __future__ import annotations

import copy
from typing import Any


class RecordingCodePipeline:
    """A real (moto) client that also keeps every StartPipelineExecution request as sent.

    moto accepts and ignores `sourceRevisions` and `clientRequestToken`; this keeps them for the assertions.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.requests: list[dict[str, Any]] = []

    def start_pipeline_execution(self, **params: Any) -> Any:
        self.requests.append(copy.deepcopy(params))
        return self.client.start_pipeline_execution(**params)

    def __getattr__(self, name: str) -> Any:
        # Every other call goes to the real client unrecorded.
        return getattr(self.client, name)
