"""What a PKI operator asks of the CRL generator beyond the CRL contents (scms_crlg.publish, on fakes).

- issueDates of one series strictly rise (the info status tells a new CRL by its issueDate);
- nextCrl never outlives the ``crlg`` certificate, and a certificate not valid now publishes nothing;
- a publisher that loses the serial to a concurrent one never overwrites the winner's octets, and
  publishes the entries the winner did not list under the next serial.
Each with its twin.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from scms_crlg.publish import CrlSigner, PublishedCrl, PublishError, latest_crl_key, publish
from scms_crlg.wiring import crl_signer
from scms_service.config import Settings, load_settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.crl_entries import CrlRecord, CrlSerialTaken, HashedEntry, InMemoryCrlEntryStore

from scms_codec.crl_check import hash_crl_revokes
from scms_codec.spdu.crl import CrlContents, parse_secured_crl

INTERVAL = 86_400
HASH_SERIES = 2


@dataclass(frozen=True)
class World:
    settings: Settings
    hierarchy: Hierarchy
    crlg: CrlSigner

    @property
    def now(self) -> int:
        return self.settings.i_period_epoch + 3 * 86_400

    @property
    def crlg_end(self) -> int:
        return self.hierarchy.certificate("crlg").validity[1]


@pytest.fixture(scope="module")
def world() -> World:
    settings = load_settings({}, crl_interval=INTERVAL, crl_hash_series=HASH_SERIES)
    store, vault = InMemoryCaStore(), InMemoryKeyVault()
    hierarchy, _ = init_hierarchy(settings, store, vault, InMemoryArtifacts(), now=settings.i_period_epoch)
    return World(settings, hierarchy, crl_signer(store, vault))


def _run(
    w: World, store: InMemoryCrlEntryStore, artifacts: InMemoryArtifacts, now: int, *, force: bool = False,
    crlg: CrlSigner | None = None,
) -> list[PublishedCrl]:  # fmt: skip
    return publish(w.settings, store=store, artifacts=artifacts, crlg=crlg or w.crlg, now=now, force=force)


def _hash_crl(artifacts: InMemoryArtifacts, key: str) -> CrlContents:
    return parse_secured_crl(artifacts.objects[key]).content


# --- issueDate ---------------------------------------------------------------------------------------


def test_two_crls_of_a_series_in_one_second_get_distinct_rising_issue_dates(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    first = _run(world, store, artifacts, world.now)
    # A revocation published in the same second as the CRL before it:
    store.add_hashed([HashedEntry(b"\x07" * 10, world.now + 86_400, "r")])
    second = _run(world, store, artifacts, world.now)
    assert [(c.crl_serial, c.issue_date) for c in first] == [(1, world.now), (1, world.now)]
    assert [(c.changed, c.issue_date, c.next_crl) for c in second] == [
        (False, world.now, world.now + INTERVAL), (True, world.now + 1, world.now + 1 + INTERVAL)]  # fmt: skip
    contents = _hash_crl(artifacts, latest_crl_key(world.crlg.craca, HASH_SERIES))
    assert (contents.issue_date, contents.next_crl) == (world.now + 1, world.now + 1 + INTERVAL)


def test_a_crl_of_a_later_second_is_dated_now(world: World) -> None:
    # Twin: no previous CRL in the same second, issueDate is the time of the publish.
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    _run(world, store, artifacts, world.now)
    later = _run(world, store, artifacts, world.now + 5, force=True)
    assert [c.issue_date for c in later] == [world.now + 5, world.now + 5]


# --- nextCrl and the crlg certificate ----------------------------------------------------------------


def test_next_crl_is_cut_to_the_end_of_the_crlg_certificate_and_not_renewed_to_no_gain(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    now = world.crlg_end - INTERVAL // 4
    out = _run(world, store, artifacts, now)
    assert [c.next_crl for c in out] == [world.crlg_end, world.crlg_end]
    # Less than half the interval is left, but a new CRL could not last longer: none is issued every hour.
    again = _run(world, store, artifacts, now + 3600)
    assert [(c.changed, c.crl_serial) for c in again] == [(False, 1), (False, 1)]
    # Twin: with a crlg certificate that lasts (here: none to check), the CRL is renewed as usual.
    unchecked = replace(world.crlg, certificate=None)
    renewed = _run(world, store, artifacts, now + 3600, crlg=unchecked)
    assert [(c.changed, c.next_crl) for c in renewed] == [(True, now + 3600 + INTERVAL)] * 2


def test_a_crlg_certificate_that_is_not_valid_now_publishes_nothing(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    with pytest.raises(PublishError, match=r"crlg certificate .* is not valid now"):
        _run(world, store, artifacts, world.crlg_end)
    assert artifacts.objects == {} and store.latest_all() == []
    # Twin: a second earlier it still publishes (a CRL lasting that second).
    assert [c.next_crl for c in _run(world, store, artifacts, world.crlg_end - 1)] == [world.crlg_end] * 2


# --- a concurrent publisher ----------------------------------------------------------------------------


class Stale(InMemoryCrlEntryStore):
    """A store whose first ``latest`` of each series answers the state before ``recorded``: a racing publisher."""

    def __init__(self, recorded: InMemoryCrlEntryStore) -> None:
        super().__init__()
        self.__dict__.update(recorded.__dict__)
        self.stale: set[int] = set()

    def latest(self, craca: bytes, series: int) -> CrlRecord | None:
        if series not in self.stale:
            self.stale.add(series)
            return None
        return super().latest(craca, series)


def test_a_lost_serial_keeps_the_winners_octets_and_the_winner_stands_when_it_lists_the_same(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    _run(world, store, artifacts, world.now)
    winner = store.latest(world.crlg.craca, HASH_SERIES)
    assert winner is not None
    served = artifacts.objects[winner.s3_key]
    # A publisher that read the store before the winner recorded serial 1, with the same entries:
    out = _run(world, Stale(store), artifacts, world.now + 5)
    assert [(c.crl_serial, c.changed, c.issue_date) for c in out] == [(1, False, world.now)] * 2
    assert artifacts.objects[winner.s3_key] == served  # not overwritten by the loser's CRL
    assert artifacts.objects[latest_crl_key(world.crlg.craca, HASH_SERIES)] == served
    assert _hash_crl(artifacts, winner.s3_key).issue_date == world.now


def test_a_lost_serial_is_published_again_when_the_winner_missed_a_revocation(world: World) -> None:
    # Twin of the above: the racing publisher was asked to publish an entry the winner did not list.
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    _run(world, store, artifacts, world.now)
    racing = Stale(store)
    racing.add_hashed([HashedEntry(b"\x09" * 10, world.now + 86_400, "r")])
    out = _run(world, racing, artifacts, world.now + 5)
    assert [(c.series, c.crl_serial, c.changed) for c in out] == [(1, 1, False), (HASH_SERIES, 2, True)]
    latest = racing.latest(world.crlg.craca, HASH_SERIES)
    assert latest is not None and hash_crl_revokes(_hash_crl(artifacts, latest.s3_key), b"\x09" * 10)
    first = racing.crls[world.crlg.craca, HASH_SERIES, 1]
    assert not hash_crl_revokes(_hash_crl(artifacts, first.s3_key), b"\x09" * 10)  # serial 1 kept its octets


def test_a_serial_lost_again_and_again_is_a_publish_error(world: World) -> None:
    class AlwaysTaken(InMemoryCrlEntryStore):
        """Every serial is taken by another publisher that lists something else."""

        serial = 0

        def latest(self, craca: bytes, series: int) -> CrlRecord | None:
            AlwaysTaken.serial += 1
            return CrlRecord(craca, series, AlwaysTaken.serial, world.now, world.now + 10, "elsewhere", "other")

        def put_crl(self, record: CrlRecord) -> None:
            raise CrlSerialTaken("taken")

    with pytest.raises(PublishError, match="concurrent publishes took the serial"):
        _run(world, AlwaysTaken(), InMemoryArtifacts(), world.now)
