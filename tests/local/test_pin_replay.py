"""`make demo`'s last step: the same upload replayed on moto starts the pipeline pinned to the uploaded version."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support.environment import ROOT

REPLAY = """
import json
from local.pin_replay import replay_upload
pinned = replay_upload({"SourceBucketName": "local-demo-artifacts", "PipelineName": "my-website-pipeline",
                        "ObjectKey": "my-website.zip"}, "my-website.zip", b"release")
print(json.dumps(pinned.__dict__))
"""


def test_the_replayed_start_is_pinned_to_the_uploaded_version() -> None:
    # Its own process: the handler reads its settings once, at import, as in Lambda.
    finished = subprocess.run(
        [sys.executable, "-c", REPLAY],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    pinned = json.loads(finished.stdout.strip().splitlines()[-1])
    assert pinned["event_version_id"] == pinned["version_id"]
    assert pinned["source_revisions"] == [
        {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": pinned["version_id"]}
    ]
