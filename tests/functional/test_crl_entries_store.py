"""CrlEntryStore on moto (CrlTable from the template): once-only entries, forwards-only CRL records."""

from __future__ import annotations

import pytest
from scms_service.config import Settings
from scms_service.stores.crl_entries import (
    CrlRecord,
    CrlSerialTaken,
    DynamoDbCrlEntryStore,
    HashedEntry,
    InMemoryCrlEntryStore,
    LinkedEntry,
)

from tests.support.aws import aws_settings  # noqa: F401

CRACA = bytes.fromhex("0102030405060708")


def _linked(n: int) -> LinkedEntry:
    return LinkedEntry(b"\x00\x01", b"\x00\x02", bytes([n]) * 16, bytes([n + 1]) * 16, 5, 20, 9, f"rev{n}", 100)


def _record(serial: int, series: int = 1) -> CrlRecord:
    return CrlRecord(CRACA, series, serial, 100 * serial, 100 * serial + 50, f"crl/x_{series}_{serial}.oer", "d")


@pytest.fixture(params=["dynamo", "memory"])
def store(request: pytest.FixtureRequest) -> object:
    if request.param == "memory":
        return InMemoryCrlEntryStore()
    settings: Settings = request.getfixturevalue("aws_settings")
    return DynamoDbCrlEntryStore.from_settings(settings)


def test_linked_entries_are_added_once(store: DynamoDbCrlEntryStore) -> None:
    assert store.add_linked([_linked(1), _linked(2)]) == 2
    assert store.add_linked([_linked(2), _linked(3)]) == 1
    got = {e.revocation_id: e for e in store.linked()}
    assert set(got) == {"rev1", "rev2", "rev3"}
    assert got["rev2"] == _linked(2)


def test_linked_entry_with_wrong_seed_size_is_refused(store: DynamoDbCrlEntryStore) -> None:
    bad = LinkedEntry(b"\x00\x01", b"\x00\x02", b"short", bytes(16), 5, 20, 9, "r", 100)
    with pytest.raises(ValueError, match="seeds 16"):
        store.add_linked([bad])
    assert store.linked() == []


def test_hashed_entries_are_added_once_by_hashed_id10(store: DynamoDbCrlEntryStore) -> None:
    a, b = HashedEntry(bytes(10), 500, "r1"), HashedEntry(b"\x01" * 10, 600, "r2")
    assert store.add_hashed([a, b]) == 2
    assert store.add_hashed([HashedEntry(bytes(10), 999, "other")]) == 0
    assert sorted(store.hashed(), key=lambda e: e.hashed_id10) == [a, b]


def test_put_crl_moves_latest_forwards(store: DynamoDbCrlEntryStore) -> None:
    assert store.latest(CRACA, 1) is None
    store.put_crl(_record(1))
    store.put_crl(_record(2))
    store.put_crl(_record(1, series=2))
    assert store.latest(CRACA, 1) == _record(2)
    assert sorted(store.latest_all(), key=lambda r: r.series) == [_record(2), _record(1, series=2)]


@pytest.mark.parametrize("serial", [1, 2])
def test_put_crl_refuses_a_serial_not_new(store: DynamoDbCrlEntryStore, serial: int) -> None:
    store.put_crl(_record(2))
    with pytest.raises(CrlSerialTaken):
        store.put_crl(_record(serial))
    assert store.latest(CRACA, 1) == _record(2)


def test_seeds_never_in_a_repr(store: DynamoDbCrlEntryStore) -> None:
    entry = _linked(7)
    store.add_linked([entry])
    for text in (repr(entry), repr(store), repr(store.linked())):
        assert entry.seed1.hex() not in text and "seed1=" not in text
    assert "i_seed=5" in repr(entry) and "rev7" in repr(entry)  # the twin: the repr names the rest
