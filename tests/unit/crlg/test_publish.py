"""The CRL generator's publish use case (scms_crlg.publish) on fakes: contents, receiver check, serial rules."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from scms_crlg.publish import CrlSigner, PublishedCrl, PublishError, crl_key, latest_crl_key, publish
from scms_crlg.wiring import crl_signer
from scms_service.config import Settings, load_settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.iperiod import IPeriods
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.crl_entries import HashedEntry, InMemoryCrlEntryStore, LinkedEntry

from scms_codec import asn1
from scms_codec.cert.chain import verify_chain
from scms_codec.crl_check import hash_crl_revokes, linked_crl_revokes
from scms_codec.crypto import linkage
from scms_codec.errors import CodecError, InvalidSignature
from scms_codec.secured.signer import Signer
from scms_codec.spdu.crl import CRL_PSID, CrlContents, parse_secured_crl

LA1, LA2 = b"\x00\x01", b"\x00\x02"
INTERVAL = 86_400
JMAX = 4


@dataclass(frozen=True)
class World:
    settings: Settings
    hierarchy: Hierarchy
    crlg: CrlSigner


@pytest.fixture(scope="module")
def world() -> World:
    settings = load_settings({}, crl_interval=INTERVAL, certs_per_period=JMAX, i_period_length=7 * 86_400)
    store, vault = InMemoryCaStore(), InMemoryKeyVault()
    start = settings.i_period_epoch
    hierarchy, _ = init_hierarchy(settings, store, vault, InMemoryArtifacts(), now=start)
    return World(settings, hierarchy, crl_signer(store, vault))


@dataclass
class Chain:
    """One device's linkage chain as its LAs hold it: ls(0) at period ``origin`` (protocol.md §4.6)."""

    origin: int
    seed1: bytes = field(default_factory=linkage.initial_seed, repr=False)
    seed2: bytes = field(default_factory=linkage.initial_seed, repr=False)

    def lv(self, i: int, j: int) -> bytes:
        s1 = linkage.seed_at(LA1, self.seed1, self.origin, i)
        s2 = linkage.seed_at(LA2, self.seed2, self.origin, i)
        return linkage.linkage_value(linkage.pre_linkage_value(LA1, s1, j), linkage.pre_linkage_value(LA2, s2, j))

    def entry(self, i: int, i_max: int, jmax: int = JMAX) -> LinkedEntry:
        """What the MA stores after LA1/LA2 ``seed_task(chainId, i)``: both seeds at max(i, origin)."""
        i_seed = max(i, self.origin)
        return LinkedEntry(
            LA1, LA2, linkage.seed_at(LA1, self.seed1, self.origin, i_seed),
            linkage.seed_at(LA2, self.seed2, self.origin, i_seed), i_seed, jmax, i_max, "rev", 1,
        )  # fmt: skip


def _now(w: World, i: int, into: int = 10) -> int:
    return IPeriods.from_settings(w.settings).start(i) + into


def _run(
    w: World, store: InMemoryCrlEntryStore, artifacts: InMemoryArtifacts, now: int, force: bool = False
) -> list[PublishedCrl]:
    return publish(w.settings, store=store, artifacts=artifacts, crlg=w.crlg, now=now, force=force)


def _open(w: World, artifacts: InMemoryArtifacts, series: int) -> CrlContents:
    data = artifacts.objects[latest_crl_key(w.crlg.craca, series)]
    opened = parse_secured_crl(data)
    assert opened.signer == w.hierarchy.certificate("crlg")
    return opened.content


def test_linked_crl_revokes_every_revoked_i_j_and_no_other(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    i_rev = 5
    revoked = [Chain(origin=2), Chain(origin=4)]
    kept = [Chain(origin=2), Chain(origin=5)]
    store.add_linked([c.entry(i_rev, i_max=i_rev + 2) for c in revoked])
    _run(world, store, artifacts, _now(world, i_rev))
    crl = _open(world, artifacts, world.settings.crl_series)
    assert crl.type_specific[0] == "fullLinkedCrl" and crl.type_specific[1]["iRev"] == i_rev
    for i in range(i_rev, i_rev + 4):
        for j in range(JMAX + 2):
            for chain in revoked:
                assert linked_crl_revokes(crl, chain.lv(i, j), i) is (j < JMAX and i <= i_rev + 2), (i, j)
            for chain in kept:
                assert not linked_crl_revokes(crl, chain.lv(i, j), i)


def test_entries_are_grouped_by_jmax_la_pair_and_imax(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    a, b, c = Chain(0), Chain(0), Chain(0)
    store.add_linked([a.entry(3, 9, jmax=4), b.entry(3, 9, jmax=4), c.entry(3, 7, jmax=2)])
    _run(world, store, artifacts, _now(world, 3))
    individual = _open(world, artifacts, world.settings.crl_series).type_specific[1]["individual"]
    shape = [(g["jmax"], [(la["la1Id"], [(im["iMax"], len(im["contents"])) for im in la["contents"]])
                          for la in g["contents"]]) for g in individual]  # fmt: skip
    assert shape == [(2, [(LA1, [(7, 1)])]), (4, [(LA1, [(9, 2)])])]
    assert linked_crl_revokes(_open(world, artifacts, 1), c.lv(3, 1), 3)
    assert not linked_crl_revokes(_open(world, artifacts, 1), c.lv(3, 2), 3)  # twin: j = 2 is c's jmax


def test_expired_chains_are_dropped_and_future_seeds_wait(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    old, now_, future = Chain(0), Chain(0), Chain(origin=8)
    store.add_linked([old.entry(2, i_max=4), now_.entry(5, i_max=9), future.entry(5, i_max=12)])
    _run(world, store, artifacts, _now(world, 5))
    crl = _open(world, artifacts, 1)
    assert not linked_crl_revokes(crl, old.lv(5, 0), 5)  # dropped: iMax 4 < iRev 5 (all expired)
    assert linked_crl_revokes(crl, now_.lv(5, 0), 5)
    assert not linked_crl_revokes(crl, future.lv(8, 0), 8)  # iSeed 8 > iRev 5: not yet
    _run(world, store, artifacts, _now(world, 8))
    later = _open(world, artifacts, 1)
    assert linked_crl_revokes(later, future.lv(8, 0), 8)
    assert linked_crl_revokes(later, now_.lv(9, JMAX - 1), 9)


def test_hash_crl_lists_unexpired_entries(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    now = _now(world, 3)
    store.add_hashed([HashedEntry(b"\x01" * 10, now + 5, "r"), HashedEntry(b"\x02" * 10, now - 1, "r"),
                      HashedEntry(b"\x03" * 10, now, "r")])  # fmt: skip
    _run(world, store, artifacts, now)
    crl = _open(world, artifacts, world.settings.crl_hash_series)
    assert crl.type_specific[0] == "fullHashCrl"
    assert crl.crl_series == world.settings.crl_hash_series and crl.crl_craca == world.crlg.craca
    assert hash_crl_revokes(crl, b"\x01" * 10) and hash_crl_revokes(crl, b"\x03" * 10)
    assert not hash_crl_revokes(crl, b"\x02" * 10)  # expired before now
    assert not linked_crl_revokes(crl, Chain(0).lv(3, 0), 3)


def test_crl_verifies_against_the_crlg_certificate_and_its_ssp(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    now = _now(world, 2)
    _run(world, store, artifacts, now)
    crlg = world.hierarchy.certificate("crlg")
    ssp = next(e["ssp"][1] for e in crlg.tbs["appPermissions"] if e["psid"] == CRL_PSID)
    series = asn1.decode("CrlSsp", bytes(ssp))["crls"]
    for s in (world.settings.crl_series, world.settings.crl_hash_series):
        opened = parse_secured_crl(artifacts.objects[latest_crl_key(world.crlg.craca, s)])
        assert opened.signer == crlg and s in series
        assert opened.content.crl_craca == world.hierarchy.certificate("root").hashed_id8
        assert (opened.content.issue_date, opened.content.next_crl) == (now, now + INTERVAL)
    verify_chain(crlg, [world.hierarchy.certificate("ica")], world.hierarchy.anchors(), at=now)


def test_crl_signed_by_another_key_does_not_verify(world: World) -> None:
    impostor = CrlSigner(
        world.crlg.craca, lambda: Signer(ec.generate_private_key(ec.SECP256R1()), world.hierarchy.certificate("crlg"))
    )
    artifacts = InMemoryArtifacts()
    publish(world.settings, store=InMemoryCrlEntryStore(), artifacts=artifacts, crlg=impostor, now=_now(world, 2))
    with pytest.raises(InvalidSignature):
        parse_secured_crl(artifacts.objects[latest_crl_key(world.crlg.craca, 1)])


def test_crl_decodes_strictly(world: World) -> None:
    artifacts = InMemoryArtifacts()
    _run(world, InMemoryCrlEntryStore(), artifacts, _now(world, 2))
    data = artifacts.objects[latest_crl_key(world.crlg.craca, 1)]
    parse_secured_crl(data)
    with pytest.raises(CodecError):
        parse_secured_crl(data + b"\x00")


def test_serial_objects_and_records(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    now = _now(world, 2)
    out = _run(world, store, artifacts, now)
    assert [(c.series, c.crl_serial, c.changed, c.next_crl) for c in out] == [(1, 1, True, now + INTERVAL),
                                                                              (2, 1, True, now + INTERVAL)]  # fmt: skip
    for series in (1, 2):
        record = store.latest(world.crlg.craca, series)
        octets = artifacts.objects[latest_crl_key(world.crlg.craca, series)]
        assert record is not None and record.s3_key == crl_key(world.crlg.craca, series, 1, octets)
        assert artifacts.objects[record.s3_key] == octets
    digest = hashlib.sha256(b"x").hexdigest()[:16]
    assert crl_key(world.crlg.craca, 1, 1, b"x") == f"crl/{world.crlg.craca.hex()}_1_1_{digest}.oer"


def test_no_new_serial_without_a_change(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    now = _now(world, 2)
    _run(world, store, artifacts, now)
    before = dict(artifacts.objects)
    again = _run(world, store, artifacts, now + 60)
    assert [(c.crl_serial, c.changed, c.issue_date) for c in again] == [(1, False, now), (1, False, now)]
    assert artifacts.objects == before
    store.add_hashed([HashedEntry(b"\x07" * 10, now + 10_000, "r")])  # the twin: a change
    changed = _run(world, store, artifacts, now + 120)
    assert [(c.crl_serial, c.changed) for c in changed] == [(1, False), (2, True)]
    hash_crl = _open(world, artifacts, 2)
    assert hash_crl.type_specific[1]["crlSerial"] == 2 and hash_crl_revokes(hash_crl, b"\x07" * 10)


def test_force_issues_new_serials(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    now = _now(world, 2)
    _run(world, store, artifacts, now)
    forced = _run(world, store, artifacts, now + 1, force=True)
    assert [(c.crl_serial, c.changed, c.issue_date) for c in forced] == [(2, True, now + 1), (2, True, now + 1)]
    assert all(store.crls[world.crlg.craca, 1, n].s3_key in artifacts.objects for n in (1, 2))


@pytest.mark.parametrize(("elapsed", "renewed"), [(INTERVAL // 2, False), (INTERVAL // 2 + 1, True)])
def test_new_crl_when_less_than_half_the_interval_is_left(world: World, elapsed: int, renewed: bool) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    now = _now(world, 2)
    _run(world, store, artifacts, now)
    out = _run(world, store, artifacts, now + elapsed)
    assert [c.changed for c in out] == [renewed, renewed]
    assert [c.crl_serial for c in out] == [2 if renewed else 1] * 2


def test_index_within_i_counts_per_irev(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    now = _now(world, 2)
    indexes = []
    for k in range(3):
        _run(world, store, artifacts, now + k, force=True)
        indexes.append(_open(world, artifacts, 1).type_specific[1]["indexWithinI"])
    _run(world, store, artifacts, _now(world, 3))  # a new iRev changes the linked CRL
    body = _open(world, artifacts, 1).type_specific[1]
    assert indexes == [0, 1, 2] and (body["iRev"], body["indexWithinI"]) == (3, 0)


def test_seeds_of_the_store_are_evolved_not_copied(world: World) -> None:
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    chain = Chain(0)
    entry = chain.entry(2, 9)
    store.add_linked([entry])
    _run(world, store, artifacts, _now(world, 4))
    body = _open(world, artifacts, 1).type_specific[1]
    seed = body["individual"][0]["contents"][0]["contents"][0]["contents"][0]["linkageSeed1"]
    assert seed == linkage.seed_at(LA1, chain.seed1, 0, 4) and seed != entry.seed1


@pytest.mark.parametrize("change", [{"crl_hash_series": 1}, {"crl_interval": 0}])
def test_bad_settings_are_refused(world: World, change: dict[str, int]) -> None:
    # dataclasses.replace: load_settings itself refuses a crl_interval under MIN_CRL_INTERVAL; publish checks again.
    settings = dataclasses.replace(load_settings({}, crl_interval=INTERVAL), **change)
    store, artifacts = InMemoryCrlEntryStore(), InMemoryArtifacts()
    with pytest.raises(PublishError):
        publish(settings, store=store, artifacts=artifacts, crlg=world.crlg, now=_now(world, 2))
    assert artifacts.objects == {} and store.latest_all() == []
    # The twin: the defaults publish.
    assert len(publish(world.settings, store=store, artifacts=artifacts, crlg=world.crlg, now=_now(world, 2))) == 2
