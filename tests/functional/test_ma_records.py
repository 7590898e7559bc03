"""The MA's store, one contract for the DynamoDB adapter (moto: its conditions really run) and the fake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from botocore.exceptions import ClientError
from scms_service.config import Settings
from scms_service.errors import BadRequest, TransientStoreError
from scms_service.stores.ma_records import (
    DynamoDbMaRecordStore,
    FakeMaRecordStore,
    MaRecordStore,
    MaStoreError,
    ReportExists,
    ReportRecord,
    RevocationRecord,
)


@pytest.fixture(params=["dynamodb", "fake"])
def store(request: pytest.FixtureRequest) -> Iterator[MaRecordStore]:
    if request.param == "fake":
        yield FakeMaRecordStore()
        return
    settings: Settings = request.getfixturevalue("aws_settings")
    yield DynamoDbMaRecordStore.from_settings(settings)


def report(n: int, *, signed: int | None = None) -> ReportRecord:
    return ReportRecord(f"{n:016x}", 100 + n, b"\x01cert", "ab" * 8, b"\x03evidence", 32, "cd" * 8,
                        f"{(n if signed is None else signed) + 1000:016x}")  # fmt: skip


def revocation(rid: str = "aa" * 8, cause: str = "c") -> RevocationRecord:
    return RevocationRecord(rid, "device", "obu-1", cause, 5, 2, 1, ({"series": 1, "crlSerial": 3},), False)


def test_a_report_is_stored_once_and_read_back(store: MaRecordStore) -> None:
    store.put_report(report(1))
    assert store.get_report(f"{1:016x}") == report(1)
    assert store.report_by_signed_id(f"{1001:016x}") == f"{1:016x}"
    # Twins: the same id again, or the same signed content under another id, names the stored report
    with pytest.raises(ReportExists) as same_id:
        store.put_report(replace(report(1), signed_id=f"{5000:016x}"))
    assert same_id.value.report_id == f"{1:016x}"
    with pytest.raises(ReportExists) as same_signed:
        store.put_report(report(2, signed=1))
    assert same_signed.value.report_id == f"{1:016x}"
    assert store.get_report(f"{2:016x}") is None and store.get_report(f"{9:016x}") is None


def test_listing_pages_and_filters_by_status(store: MaRecordStore) -> None:
    for n in range(5):
        store.put_report(report(n))
    store.mark_revoked(f"{3:016x}", "bb" * 8)
    seen, token = [], None
    while True:
        page, token = store.list_reports(None, 2, token)
        assert len(page) <= 2
        seen += [r.report_id for r in page]
        if token is None:
            break
    assert sorted(seen) == [f"{n:016x}" for n in range(5)]
    revoked, _ = store.list_reports("REVOKED", 10, None)
    assert [(r.report_id, r.revocation_id) for r in revoked] == [(f"{3:016x}", "bb" * 8)]
    assert len(store.list_reports("NEW", 10, None)[0]) == 4
    with pytest.raises(BadRequest):
        store.list_reports(None, 2, "not a token")


def test_mark_revoked_keeps_the_first_revocation_and_ignores_an_absent_report(store: MaRecordStore) -> None:
    store.put_report(report(1))
    store.mark_revoked(f"{1:016x}", "bb" * 8)
    store.mark_revoked(f"{1:016x}", "cc" * 8)
    stored = store.get_report(f"{1:016x}")
    assert stored is not None and stored.status == "REVOKED" and stored.revocation_id == "bb" * 8
    store.mark_revoked(f"{7:016x}", "bb" * 8)
    assert store.get_report(f"{7:016x}") is None


def test_a_revocation_is_stored_once_and_the_first_one_wins(store: MaRecordStore) -> None:
    first = revocation()
    assert store.put_revocation(first) == (first, True)
    assert store.put_revocation(revocation(cause="later")) == (first, False)
    assert store.get_revocation("aa" * 8) == first and store.get_revocation("bb" * 8) is None
    store.put_revocation(revocation("bb" * 8))
    page, token = store.list_revocations(1, None)
    rest, end = store.list_revocations(1, token)
    assert token is not None and end is None and {page[0].revocation_id, rest[0].revocation_id} == {"aa" * 8, "bb" * 8}


def test_throttling_is_transient_and_other_failures_are_the_stores_error(aws_settings: Settings) -> None:
    class Failing:
        def __init__(self, code: str) -> None:
            self.code = code

        def __getattr__(self, name: str) -> object:
            def fail(**_: object) -> object:
                raise ClientError({"Error": {"Code": self.code, "Message": "x"}}, name)

            return fail

    with pytest.raises(TransientStoreError):
        DynamoDbMaRecordStore(aws_settings.ma_table, Failing("ProvisionedThroughputExceededException")).get_report("a")
    with pytest.raises(MaStoreError):
        DynamoDbMaRecordStore(aws_settings.ma_table, Failing("ResourceNotFoundException")).put_revocation(revocation())
    # Twin: the real table answers
    assert DynamoDbMaRecordStore(aws_settings.ma_table, boto3.client("dynamodb")).get_report("a") is None
