"""download-maxReqs/minWait counted in one conditional write (``DownloadCounterStore.count``), judged as before.

``count_download`` first tries ``count`` (no read); only a new day, a first count or a refusal reads the
counter and judges it. These tests hold the one-write path to the read-and-judge path: the same
answers and the same counter for every sequence of requests, and one store call per counted request.
"""

from __future__ import annotations

from random import Random

import pytest
from scms_ra.download import count_download
from scms_service.config import Settings, load_settings
from scms_service.errors import BadRequest
from scms_service.stores.download_counters import DownloadCounter, FakeDownloadCounterStore

from scms_codec.errors import ErrorCode

DAY = 86_400
T0 = 700_000_000  # a Time32, 73 600 s into its day
CERT = "0123456789abcdef"


class CallLog(FakeDownloadCounterStore):
    """The fake store, recording which of its methods each count used."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def get(self, enrollment_cert_id: str) -> DownloadCounter | None:
        self.calls.append("get")
        return super().get(enrollment_cert_id)

    def replace(self, counter: DownloadCounter, *, expected_version: int, expires_at: int) -> None:
        self.calls.append("replace")
        super().replace(counter, expected_version=expected_version, expires_at=expires_at)

    def count(
        self, enrollment_cert_id: str, *, day: int, max_reqs: int, last_at_most: int, now: int, expires_at: int
    ) -> bool:
        counted = super().count(enrollment_cert_id, day=day, max_reqs=max_reqs, last_at_most=last_at_most,
                                now=now, expires_at=expires_at)  # fmt: skip
        self.calls.append("count" if counted else "count-refused")
        return counted


class ReadAndJudgeOnly(FakeDownloadCounterStore):
    """The store as it was before ``count``: every request is read and judged."""

    def count(
        self, enrollment_cert_id: str, *, day: int, max_reqs: int, last_at_most: int, now: int, expires_at: int
    ) -> bool:
        return False


def _settings(**over: int) -> Settings:
    return load_settings({}, **over)


def _answer(store: FakeDownloadCounterStore, now: int, settings: Settings) -> str:
    try:
        count_download(store, CERT, now=now, settings=settings)
    except BadRequest as exc:
        return str(exc.code.value if exc.code else exc)
    return "counted"


def test_a_second_request_of_the_day_is_counted_in_one_write() -> None:
    # Given a counter written by today's first request (read: none; replaced),
    store, settings = CallLog(), _settings(download_max_reqs=5, download_min_wait=0)
    count_download(store, CERT, now=T0, settings=settings)
    assert store.calls == ["count-refused", "get", "replace"]
    # When the device asks again the same day,
    store.calls.clear()
    count_download(store, CERT, now=T0 + 1, settings=settings)
    # Then one conditional write counts it: no read.
    assert store.calls == ["count"]
    counter = store.get(CERT)
    assert counter is not None and counter.days == {T0 // DAY: 2} and counter.last == T0 + 1 and counter.version == 2


def test_the_next_day_and_a_refusal_are_read_and_judged() -> None:
    store, settings = CallLog(), _settings(download_max_reqs=2, download_min_wait=0)
    count_download(store, CERT, now=T0, settings=settings)
    # Twin, a new day: the window moves, so the counter is read and replaced (yesterday still counts).
    store.calls.clear()
    count_download(store, CERT, now=T0 + DAY, settings=settings)
    assert store.calls == ["count-refused", "get", "replace"]
    # A refusal: the one-write count declines, the judgement refuses with the code, nothing is written.
    store.calls.clear()
    before = dict(store.counters)
    with pytest.raises(BadRequest) as info:
        count_download(store, CERT, now=T0 + DAY + 1, settings=settings)
    assert info.value.code is ErrorCode.DOWNLOAD_MAX_REQS
    assert store.calls == ["count-refused", "get"] and store.counters == before


def test_min_wait_is_kept_by_the_one_write_count() -> None:
    store, settings = CallLog(), _settings(download_min_wait=30)
    count_download(store, CERT, now=T0, settings=settings)
    store.calls.clear()
    assert _answer(store, T0 + 29, settings) == ErrorCode.DOWNLOAD_MIN_WAIT.value
    assert store.calls == ["count-refused", "get"]
    store.calls.clear()
    assert _answer(store, T0 + 30, settings) == "counted"
    assert store.calls == ["count"]


@pytest.mark.parametrize("seed", range(12))
def test_answers_and_counters_equal_the_read_and_judge_path(seed: int) -> None:
    # Given any sequence of requests (same second, out of order, days apart) and limits,
    rng = Random(seed)
    settings = _settings(download_max_reqs=rng.choice([1, 2, 3, 5, 20]), download_min_wait=rng.choice([0, 0, 1, 30]))
    fast, slow = FakeDownloadCounterStore(), ReadAndJudgeOnly()
    now = T0
    for _ in range(60):
        now += rng.choice([-2, 0, 0, 1, 1, 5, 31, 3600, DAY, 3 * DAY])
        # Then each answer, and the counter after it, is what reading and judging gives.
        assert _answer(fast, now, settings) == _answer(slow, now, settings), (seed, now)
        assert fast.counters == slow.counters

    # Twin: a store whose one-write count ignores the limit gives other answers (the comparison can fail).
    class Careless(FakeDownloadCounterStore):
        def count(self, enrollment_cert_id: str, *, day: int, max_reqs: int, last_at_most: int, now: int,
                  expires_at: int) -> bool:  # fmt: skip
            return super().count(enrollment_cert_id, day=day, max_reqs=10**6, last_at_most=10**12, now=now,
                                 expires_at=expires_at)  # fmt: skip

    careless, judged, limited = Careless(), ReadAndJudgeOnly(), _settings(download_max_reqs=1, download_min_wait=0)
    answers = [(_answer(careless, T0 + n, limited), _answer(judged, T0 + n, limited)) for n in range(3)]
    assert any(a != b for a, b in answers)
