"""`make engine`'s image step never builds over a real image, and keeps a stand-in that is up to date."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local.container_engine import unavailable_reason
from local.stand_in_image import DIGEST_LABEL, STAND_IN_LABEL, build_digest, ensure_image, rapid_image_of

pytestmark = pytest.mark.sam_local

ImageBuilder = Callable[[dict[str, str]], str]
# A name of our own, so the real base image on this machine is never touched.
TEST_IMAGE = "s3-pipeline-trigger-test/lambda-python:3.13-arm64"


def image_id(image: str) -> str:
    inspect = ["docker", "image", "inspect", "--format", "{{.Id}}", image]
    return subprocess.run(inspect, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def tiny_image(tmp_path: Path) -> Iterator[ImageBuilder]:
    """Builds a one-file image under TEST_IMAGE with the given labels (no registry needed); removed afterwards."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)

    def build(labels: dict[str, str]) -> str:
        (tmp_path / "marker").write_text("not a Lambda image\n", encoding="utf-8")
        label_args = [arg for name, value in labels.items() for arg in ("--label", f"{name}={value}")]
        (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY marker /marker\n", encoding="utf-8")
        subprocess.run(
            ["docker", "build", "--quiet", "--tag", TEST_IMAGE, *label_args, str(tmp_path)],
            check=True,
            capture_output=True,
            env=os.environ | {"DOCKER_BUILDKIT": "0"},
        )
        return image_id(TEST_IMAGE)

    yield build
    subprocess.run(["docker", "image", "rm", "--force", TEST_IMAGE], check=False, capture_output=True)


def test_an_image_without_our_label_is_real_and_left_as_it_is(tiny_image: ImageBuilder) -> None:
    before = tiny_image({})

    done = ensure_image(TEST_IMAGE)

    assert done == f"{TEST_IMAGE}: a real image is here, used as it is"
    assert image_id(TEST_IMAGE) == before


def test_a_stand_in_of_the_current_build_files_is_kept(tiny_image: ImageBuilder) -> None:
    labels = {STAND_IN_LABEL: "true", f"{STAND_IN_LABEL}.contents": "test contents", DIGEST_LABEL: build_digest()}
    before = tiny_image(labels)

    done = ensure_image(TEST_IMAGE)

    assert done == f"{TEST_IMAGE}: test contents (up to date)"
    assert image_id(TEST_IMAGE) == before


def test_the_emulator_image_sam_derives_is_named_as_sam_names_it() -> None:
    assert rapid_image_of("public.ecr.aws/lambda/python:3.13-arm64") == "public.ecr.aws/lambda/python:3.13-rapid-arm64"
