"""download-maxReqs (400-75) and download-minWait (400-76) per enrollment certificate (``count_download``)."""

from __future__ import annotations

import pytest
from scms_ra.download import count_download
from scms_service.config import Settings, load_settings
from scms_service.errors import BadRequest, Conflict
from scms_service.stores.download_counters import CounterChanged, DownloadCounter, FakeDownloadCounterStore

from scms_codec.errors import ErrorCode

DAY = 86_400
T0 = 700_000_000  # a Time32, 73 600 s into its day
CERT = "0123456789abcdef"


def _settings(**over: int) -> Settings:
    return load_settings({}, **over)


def _refused(code: ErrorCode, store: FakeDownloadCounterStore, now: int, settings: Settings) -> None:
    before = dict(store.counters)
    with pytest.raises(BadRequest) as info:
        count_download(store, CERT, now=now, settings=settings)
    assert info.value.code is code
    assert store.counters == before  # a refusal counts nothing


def test_requests_up_to_max_reqs_are_counted_and_the_next_is_400_75() -> None:
    store, settings = FakeDownloadCounterStore(), _settings(download_max_reqs=3)
    for n in range(3):
        count_download(store, CERT, now=T0 + n, settings=settings)
    counter = store.get(CERT)
    assert counter is not None and sum(counter.days.values()) == 3 and counter.version == 3
    _refused(ErrorCode.DOWNLOAD_MAX_REQS, store, T0 + 10, settings)


def test_the_count_is_per_enrollment_certificate() -> None:
    store, settings = FakeDownloadCounterStore(), _settings(download_max_reqs=1)
    count_download(store, CERT, now=T0, settings=settings)
    count_download(store, "fedcba9876543210", now=T0, settings=settings)  # another device: its own count
    _refused(ErrorCode.DOWNLOAD_MAX_REQS, store, T0 + 1, settings)


def test_requests_older_than_seven_days_no_longer_count() -> None:
    store, settings = FakeDownloadCounterStore(), _settings(download_max_reqs=1)
    count_download(store, CERT, now=T0, settings=settings)
    _refused(ErrorCode.DOWNLOAD_MAX_REQS, store, T0 + 6 * DAY, settings)
    count_download(store, CERT, now=T0 + 7 * DAY, settings=settings)
    counter = store.get(CERT)
    assert counter is not None and list(counter.days) == [(T0 + 7 * DAY) // DAY]  # old buckets dropped


def test_a_retry_within_min_wait_is_400_76_and_one_after_it_is_counted() -> None:
    store, settings = FakeDownloadCounterStore(), _settings(download_min_wait=30)
    count_download(store, CERT, now=T0, settings=settings)
    _refused(ErrorCode.DOWNLOAD_MIN_WAIT, store, T0 + 29, settings)
    count_download(store, CERT, now=T0 + 30, settings=settings)


def test_min_wait_zero_allows_back_to_back_requests() -> None:
    store, settings = FakeDownloadCounterStore(), _settings(download_min_wait=0)
    count_download(store, CERT, now=T0, settings=settings)
    count_download(store, CERT, now=T0, settings=settings)


def test_min_wait_zero_counts_a_request_older_than_one_counted_concurrently() -> None:
    # Two parallel downloads: the later-stamped one counted first; the earlier one is still counted.
    store, settings = FakeDownloadCounterStore(), _settings(download_min_wait=0)
    count_download(store, CERT, now=T0 + 1, settings=settings)
    count_download(store, CERT, now=T0, settings=settings)
    counter = store.get(CERT)
    assert counter is not None and sum(counter.days.values()) == 2 and counter.last == T0 + 1
    # Twin: with a minimum wait, the earlier-stamped request is within it and refused.
    store2, settings2 = FakeDownloadCounterStore(), _settings(download_min_wait=5)
    count_download(store2, CERT, now=T0 + 1, settings=settings2)
    _refused(ErrorCode.DOWNLOAD_MIN_WAIT, store2, T0, settings2)


class RacingStore(FakeDownloadCounterStore):
    """A store where another request counts first, ``races`` times, just before each of our writes."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def replace(self, counter: DownloadCounter, *, expected_version: int, expires_at: int) -> None:
        if self.races > 0:
            self.races -= 1
            current = self.get(counter.enrollment_cert_id)
            version = current.version if current is not None else 0
            rival = DownloadCounter(counter.enrollment_cert_id, {T0 // DAY: version + 1}, T0, version + 1)
            super().replace(rival, expected_version=version, expires_at=expires_at)
        super().replace(counter, expected_version=expected_version, expires_at=expires_at)


def test_a_concurrent_count_makes_the_request_judge_again() -> None:
    store, settings = RacingStore(races=1), _settings(download_max_reqs=2)
    count_download(store, CERT, now=T0, settings=settings)
    counter = store.get(CERT)
    assert counter is not None and counter.days == {T0 // DAY: 2}  # the rival's and ours


def test_the_request_that_loses_the_race_to_the_limit_is_refused() -> None:
    # The rival's count reaches the limit: judged again, ours is over it.
    store, settings = RacingStore(races=1), _settings(download_max_reqs=1)
    with pytest.raises(BadRequest) as info:
        count_download(store, CERT, now=T0, settings=settings)
    assert info.value.code is ErrorCode.DOWNLOAD_MAX_REQS


def test_a_counter_that_keeps_changing_is_409() -> None:
    store, settings = RacingStore(races=10), _settings()
    with pytest.raises(Conflict):
        count_download(store, CERT, now=T0, settings=settings)


def test_fake_store_refuses_a_stale_version() -> None:
    store = FakeDownloadCounterStore()
    store.replace(DownloadCounter(CERT, {1: 1}, T0, 1), expected_version=0, expires_at=1)
    with pytest.raises(CounterChanged):
        store.replace(DownloadCounter(CERT, {1: 2}, T0, 2), expected_version=0, expires_at=1)
    store.replace(DownloadCounter(CERT, {1: 2}, T0, 2), expected_version=1, expires_at=1)
