"""assemble (scms_ra.assemble): one period zip per i to the artifacts store, read back by batch_files."""

from __future__ import annotations

import pytest
from scms_ra.assemble import assemble
from scms_ra.batch_files import BadPeriodZip, BatchName, batch_key, read_period_zip
from scms_service.config import load_settings
from scms_service.iperiod import IPeriods
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.issued_certs import FakeIssuedCertStore, IssuedCert

RH = bytes.fromhex("00112233445566ff")
NOW = 700_000_000


@pytest.fixture
def periods() -> IPeriods:
    return IPeriods.from_settings(load_settings({}))


def _issued() -> FakeIssuedCertStore:
    store = FakeIssuedCertStore()
    store.put_many([IssuedCert(RH, i, j, f"{i:04x}{j:012x}", 0, spdu=bytes([i % 256, j]) * 10)
                    for i in (5, 6) for j in range(3)])  # fmt: skip
    store.put_many([IssuedCert(RH, 6, 1, "ab" * 8, 0, refusal="400-35")])  # j 1 of period 6 was refused
    store.put_many([IssuedCert(b"\x99" * 8, 5, 0, "cd" * 8, 0, spdu=b"other device")])
    return store


def test_assemble_writes_one_readable_zip_per_period_with_its_info(periods: IPeriods) -> None:
    files = InMemoryArtifacts()
    assert assemble(_issued(), files, RH, i_first=5, i_last=6, periods=periods, now=NOW) == 2
    for i in (5, 6):
        key = batch_key(RH, i)
        assert files.content_types[key] == "application/zip"
        period = read_period_zip(files.objects[key], expected=BatchName(RH, i))
        info = period.info
        assert (info.generation_time, info.current_i, info.request_hash) == (NOW, i, RH)
        assert info.next_dl_time == periods.next_download_time(i + 1)
        expected = {j: bytes([i, j]) * 10 for j in range(3) if (i, j) != (6, 1)}  # the refused j is a gap
        assert dict(period.responses) == expected
    assert set(files.objects) == {batch_key(RH, 5), batch_key(RH, 6)}


def test_assemble_is_deterministic_for_a_retried_task(periods: IPeriods) -> None:
    first, second = InMemoryArtifacts(), InMemoryArtifacts()
    assemble(_issued(), first, RH, i_first=5, i_last=5, periods=periods, now=NOW)
    assemble(_issued(), second, RH, i_first=5, i_last=5, periods=periods, now=NOW)
    assert first.objects == second.objects
    # Twin: a zip under another period's name is refused by the reader.
    with pytest.raises(BadPeriodZip):
        read_period_zip(first.objects[batch_key(RH, 5)], expected=BatchName(RH, 6))


def test_a_period_without_certificates_gets_a_zip_with_only_its_info(periods: IPeriods) -> None:
    files = InMemoryArtifacts()
    assert assemble(FakeIssuedCertStore(), files, RH, i_first=9, i_last=9, periods=periods, now=NOW) == 1
    period = read_period_zip(files.objects[batch_key(RH, 9)])
    assert period.info.current_i == 9 and dict(period.responses) == {}


def test_an_empty_range_is_an_error(periods: IPeriods) -> None:
    files = InMemoryArtifacts()
    with pytest.raises(ValueError, match="empty range"):
        assemble(_issued(), files, RH, i_first=6, i_last=5, periods=periods, now=NOW)
    assert files.objects == {}
