"""The adopter record in a bucket's tags: S3's tag rules, and every tag that is not the record kept as it was."""

from __future__ import annotations

import re

import pytest

from bucket_adopter.adopter_record import (
    AdopterRecord,
    TagLimitReached,
    adopter_id,
    adopter_label,
    record_from_tags,
    with_adopter,
    without_adopter,
)

STACK_A = "arn:aws:cloudformation:eu-west-1:123456789012:stack/site-trigger/5b918d10-0000-11ef-9f3e-0a1b2c3d4e5f"
STACK_B = "arn:aws:cloudformation:eu-west-1:123456789012:stack/docs-trigger/7c0a2e30-0000-11ef-8d1c-0a1b2c3d4e5f"
A = adopter_id(STACK_A, "SourceBucketEventBridge")
B = adopter_id(STACK_B, "SourceBucketEventBridge")
OWNERS_TAGS = [
    {"Key": "team", "Value": "web"},
    {"Key": "aws:cloudformation:stack-name", "Value": "artifacts"},
]
# S3 user guide, "Tagging": keys 1-128 and values 0-256 Unicode letters, digits, white space and _ . : / = + - @
TAG_CHARACTERS = re.compile(r"[\w\s.:/=+\-@]*")


def test_adopter_ids_are_stable_short_and_one_per_custom_resource() -> None:
    assert adopter_id(STACK_A, "SourceBucketEventBridge") == A
    assert re.fullmatch(r"[0-9a-f]{12}", A)
    # Another stack, or another resource of the same stack, is another adopter.
    assert len({A, B, adopter_id(STACK_A, "SecondAdopter")}) == 3


def test_the_record_fits_s3s_tag_rules_even_for_the_longest_names() -> None:
    longest_stack = f"arn:aws:cloudformation:eu-west-1:123456789012:stack/{'s' * 128}/5b918d10"
    tags = with_adopter([], A, adopter_label(longest_stack, "L" * 255), eventbridge_was_on=False)

    for tag in tags:
        assert 1 <= len(tag["Key"]) <= 128
        assert len(tag["Value"]) <= 256
        assert TAG_CHARACTERS.fullmatch(tag["Key"])
        assert TAG_CHARACTERS.fullmatch(tag["Value"])
        assert not tag["Key"].startswith("aws:")


def test_the_label_names_the_stack_and_the_resource() -> None:
    assert adopter_label(STACK_A, "SourceBucketEventBridge") == "site-trigger/SourceBucketEventBridge"


def test_the_first_adopter_writes_the_before_fact_and_keeps_every_other_tag() -> None:
    tags = with_adopter(OWNERS_TAGS, A, "site-trigger/SourceBucketEventBridge", eventbridge_was_on=False)

    assert tags[: len(OWNERS_TAGS)] == OWNERS_TAGS
    assert record_from_tags(tags) == AdopterRecord(adopters=frozenset({A}), eventbridge_was_on=False)


def test_a_later_adopter_never_rewrites_the_before_fact() -> None:
    first = with_adopter(OWNERS_TAGS, A, "a", eventbridge_was_on=False)

    # The bucket reads "on" now because of the first adopter; the record keeps "off".
    second = with_adopter(first, B, "b", eventbridge_was_on=True)

    assert record_from_tags(second) == AdopterRecord(adopters=frozenset({A, B}), eventbridge_was_on=False)


def test_adding_an_adopter_already_recorded_keeps_one_tag_for_it() -> None:
    once = with_adopter([], A, "a", eventbridge_was_on=False)

    again = with_adopter(once, A, "a", eventbridge_was_on=True)

    assert sorted(again, key=lambda tag: tag["Key"]) == sorted(once, key=lambda tag: tag["Key"])


def test_removing_one_of_two_adopters_keeps_the_before_fact_and_the_other() -> None:
    tags = with_adopter(with_adopter(OWNERS_TAGS, A, "a", eventbridge_was_on=False), B, "b", eventbridge_was_on=True)

    remaining = without_adopter(tags, A)

    assert record_from_tags(remaining) == AdopterRecord(adopters=frozenset({B}), eventbridge_was_on=False)
    assert remaining[: len(OWNERS_TAGS)] == OWNERS_TAGS


def test_removing_the_last_adopter_removes_the_whole_record_and_nothing_else() -> None:
    tags = with_adopter(OWNERS_TAGS, A, "a", eventbridge_was_on=False)

    assert without_adopter(tags, A) == OWNERS_TAGS


@pytest.mark.parametrize(
    ("before", "was_on"), [("on", True), ("off", False), ("", True), ("OFF", True)], ids=["on", "off", "empty", "case"]
)
def test_only_an_exact_off_counts_as_off(before: str, was_on: bool) -> None:
    record = record_from_tags([{"Key": "s3-pipeline-trigger:eventbridge-before", "Value": before}])

    assert record.eventbridge_was_on is was_on


def test_no_tags_is_no_record() -> None:
    assert not record_from_tags([]).exists
    assert not record_from_tags(OWNERS_TAGS).exists


def test_the_50_tag_limit_counts_user_tags_only() -> None:
    user_tags = [{"Key": f"cost-centre-{n}", "Value": "x"} for n in range(48)]
    aws_tags = [{"Key": f"aws:cloudformation:t{n}", "Value": "x"} for n in range(3)]

    # 48 user tags + this stack + the before-fact = 50: allowed, whatever the aws: tags
    assert len(with_adopter(user_tags + aws_tags, A, "a", eventbridge_was_on=False)) == 53

    with pytest.raises(TagLimitReached) as refused:
        with_adopter([*user_tags, {"Key": "one-more", "Value": "x"}], A, "a", eventbridge_was_on=False)

    assert str(refused.value) == "the bucket has 49 tags; the adopter record needs 2 more and S3 allows 50"
