"""`make engine`'s image step never builds over a real image, and keeps a stand-in that is up to date."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import samcli

from local.container_engine import unavailable_reason
from local.stand_in_image import (
    DIGEST_LABEL,
    EMULATOR_BASE_LABEL,
    HOST_RIE,
    STAND_IN_LABEL,
    build_digest,
    ensure_emulator_image,
    ensure_image,
    image_labels,
    rapid_image_of,
)

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


def test_a_stand_in_gets_the_hosts_build_of_sams_emulator(tiny_image: ImageBuilder, tmp_path: Path) -> None:
    if platform.machine() not in HOST_RIE:
        pytest.skip(f"the host's own emulator build is made for x86_64 hosts, not {platform.machine()}")
    base = tiny_image({STAND_IN_LABEL: "true"})
    emulator_image = rapid_image_of(TEST_IMAGE)
    try:
        done = ensure_emulator_image(TEST_IMAGE)
        again = ensure_emulator_image(TEST_IMAGE)

        # THEN its emulator file is the pinned SAM CLI's host build, recorded against this base, and kept after
        shipped = Path(samcli.__file__).parent / "local" / "rapid" / HOST_RIE[platform.machine()]
        created = subprocess.run(
            ["docker", "create", emulator_image, "/never-run"], check=True, capture_output=True, text=True
        )
        container = created.stdout.strip()
        copied = tmp_path / "aws-lambda-rie"
        subprocess.run(["docker", "cp", f"{container}:/var/rapid/aws-lambda-rie", str(copied)], check=True)
        subprocess.run(["docker", "rm", container], check=True, capture_output=True)
        assert copied.read_bytes() == shipped.read_bytes()
        assert os.access(copied, os.X_OK)
        assert image_labels(emulator_image) is not None
        assert (image_labels(emulator_image) or {})[EMULATOR_BASE_LABEL] == base
        assert done == f"{emulator_image}: SAM's emulator for {platform.machine()} hosts, built from {shipped.name}"
        assert again == f"{emulator_image}: SAM's emulator for {platform.machine()} hosts (up to date)"
    finally:
        subprocess.run(["docker", "image", "rm", "--force", emulator_image], check=False, capture_output=True)


def test_a_real_base_image_is_left_to_sam(tiny_image: ImageBuilder) -> None:
    tiny_image({})

    assert ensure_emulator_image(TEST_IMAGE) is None
    assert image_labels(rapid_image_of(TEST_IMAGE)) is None
