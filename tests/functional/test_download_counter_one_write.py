"""The download counter's one-write count (``UpdateItem`` with a condition) on moto, alone and concurrently."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from scms_ra.download import count_download
from scms_service.config import Settings, load_settings
from scms_service.errors import BadRequest
from scms_service.stores.download_counters import DownloadCounter, DynamoDbDownloadCounterStore

from scms_cli.local.cloud import _serialize_moto_dynamodb
from scms_codec.errors import ErrorCode

DAY = 86_400
T0 = 700_000_000
TODAY = T0 // DAY
CERT = "0123456789abcdef"


def _count(store: DynamoDbDownloadCounterStore, **over: int) -> bool:
    args = {"day": TODAY, "max_reqs": 3, "last_at_most": T0, "now": T0, "expires_at": 99}
    args.update(over)
    return store.count(CERT, **args)


def _item(settings: Settings) -> dict[str, Any]:
    key = {"pk": {"S": f"RADL#{CERT}"}, "sk": {"S": "COUNTER"}}
    item: dict[str, Any] = boto3.client("dynamodb").get_item(TableName=settings.ra_table, Key=key)["Item"]
    return item


def test_count_adds_one_to_todays_counter_in_one_update(aws_settings: Settings) -> None:
    # Given today's counter (1 today, 1 yesterday) written by a read-and-judge replace,
    store = DynamoDbDownloadCounterStore.from_settings(aws_settings)
    store.replace(DownloadCounter(CERT, {TODAY - 1: 1, TODAY: 1}, T0 - 5, 1), expected_version=0, expires_at=10)
    # When one more request of today is counted with one write,
    assert _count(store, now=T0 + 2, last_at_most=T0 + 2, expires_at=99) is True
    # Then today's bucket, the window's total, last, version and the TTL moved together.
    assert store.get(CERT) == DownloadCounter(CERT, {TODAY - 1: 1, TODAY: 2}, T0 + 2, 2)
    item = _item(aws_settings)
    assert (item["day"], item["inWindow"], item["expiresAt"]) == ({"N": str(TODAY)}, {"N": "3"}, {"N": "99"})


@pytest.mark.parametrize(
    ("why", "over"),
    [
        ("another day", {"day": TODAY + 1}),
        ("at download-maxReqs", {"max_reqs": 2}),
        ("within download-minWait", {"last_at_most": T0 - 6}),
    ],
)
def test_count_writes_nothing_when_its_condition_fails(aws_settings: Settings, why: str, over: dict[str, int]) -> None:
    store = DynamoDbDownloadCounterStore.from_settings(aws_settings)
    store.replace(DownloadCounter(CERT, {TODAY - 1: 1, TODAY: 1}, T0 - 5, 1), expected_version=0, expires_at=10)
    before = _item(aws_settings)
    assert _count(store, **over) is False, why
    assert _item(aws_settings) == before
    # Twin: the same counter with the condition met is counted.
    assert _count(store) is True


def test_count_declines_a_missing_counter_and_one_written_before_the_window_attributes(aws_settings: Settings) -> None:
    store = DynamoDbDownloadCounterStore.from_settings(aws_settings)
    assert _count(store) is False
    assert store.get(CERT) is None
    # A counter of the old shape (no day, no inWindow): declined, so it is read, judged and rewritten.
    key = {"pk": {"S": f"RADL#{CERT}"}, "sk": {"S": "COUNTER"}}
    old = {**key, "days": {"M": {str(TODAY): {"N": "1"}}}, "last": {"N": str(T0 - 5)}, "version": {"N": "1"}}
    boto3.client("dynamodb").put_item(TableName=aws_settings.ra_table, Item=old)
    assert _count(store) is False
    count_download(store, CERT, now=T0, settings=load_settings({}, download_max_reqs=3, download_min_wait=0))
    # Twin: rewritten with them, the next request of the day takes the one write.
    assert _item(aws_settings)["inWindow"] == {"N": "2"}
    assert _count(store, now=T0 + 1, last_at_most=T0 + 1) is True
    assert store.get(CERT) == DownloadCounter(CERT, {TODAY: 3}, T0 + 1, 3)


def _race(settings: Settings, max_reqs: int) -> list[str]:
    """Two requests of the same certificate counted at once from two threads; their answers."""
    _serialize_moto_dynamodb()  # moto's DynamoDB one request at a time, as DynamoDB writes one item
    store = DynamoDbDownloadCounterStore.from_settings(settings)
    limits = load_settings({}, download_max_reqs=max_reqs, download_min_wait=0)
    count_download(store, CERT, now=T0, settings=limits)  # today's counter exists: both take the one write
    start = threading.Barrier(2)
    answers: list[str] = []

    def one() -> None:
        start.wait()
        try:
            count_download(store, CERT, now=T0 + 1, settings=limits)
            answers.append("counted")
        except BadRequest as exc:
            answers.append(str(exc.code.value if exc.code else exc))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(answers)


def test_two_concurrent_counts_at_the_limit_count_one_and_refuse_the_other(aws_settings: Settings) -> None:
    # Given one request counted and a limit of two, When two more arrive at once,
    answers = _race(aws_settings, max_reqs=2)
    # Then exactly one is counted and the other is refused 400-75, and the counter holds two.
    assert answers == [ErrorCode.DOWNLOAD_MAX_REQS.value, "counted"]
    counter = DynamoDbDownloadCounterStore.from_settings(aws_settings).get(CERT)
    assert counter is not None and counter.days == {TODAY: 2} and counter.version == 2
    assert _item(aws_settings)["inWindow"] == {"N": "2"}


def test_two_concurrent_counts_under_the_limit_are_both_counted(aws_settings: Settings) -> None:
    # Twin: with room for both, neither is lost (no count overwrites the other).
    assert _race(aws_settings, max_reqs=3) == ["counted", "counted"]
    counter = DynamoDbDownloadCounterStore.from_settings(aws_settings).get(CERT)
    assert counter is not None and counter.days == {TODAY: 3} and counter.version == 3
    assert _item(aws_settings)["inWindow"] == {"N": "3"}
