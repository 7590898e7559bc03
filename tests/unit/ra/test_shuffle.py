"""draw and deliver (scms_ra.shuffle) on the fake pool and certificate stores, with the real ACA use case."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from scms_aca.issue import HierarchyRaCertificates, IssuePolicy, issue_batch
from scms_ra.shuffle import AcaCertificates, Drawn, Ticket, deliver, draw, open_aca_response
from scms_service.config import load_settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.iperiod import IPeriods
from scms_service.stores.aca_responses import FakeAcaResponseStore
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.issued_certs import FakeIssuedCertStore, IssuedCert
from scms_service.stores.shuffle_pool import FakeShufflePool, Lease, PoolItem, shard_of

from scms_codec import time32
from scms_codec.errors import ErrorCode
from scms_codec.spdu import request_hash
from scms_codec.spdu.ra_aca import AcaRaCertResponse, build_aca_ra_cert_response, parse_aca_ra_cert_response
from tests.unit.aca.simulator import Ra

NOW = 700_000_000  # Time32
OWNERS = (b"\x0a" * 8, b"\x0b" * 8)


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    ca, _ = init_hierarchy(load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(),
                           now=NOW - 10_000)  # fmt: skip
    return ca


@dataclass
class World:
    hierarchy: Hierarchy
    pool: FakeShufflePool
    issued: FakeIssuedCertStore
    aca_store: FakeAcaResponseStore
    ras: dict[bytes, Ra]
    periods: IPeriods

    @property
    def aca_certs(self) -> AcaCertificates:
        h = self.hierarchy
        return AcaCertificates([c for r in h.records() if r.role == "aca" if (c := h.by_hashed_id8(r.hashed_id8))])

    def issue(self, spdus: Sequence[bytes]) -> tuple[list[bytes | None], dict[int, ErrorCode]]:
        """The ACA's answers as the ``issue_task`` result carries them (responses aligned, refusals by index)."""
        h = self.hierarchy
        certificates = [c for r in h.records() if (c := h.by_hashed_id8(r.hashed_id8)) is not None]
        results = issue_batch(
            list(spdus), aca=h.signer("aca"), ra_certificate_resolver=HierarchyRaCertificates(
                certificates, h.anchors(), now=NOW), plv_keys=next(iter(self.ras.values())).lines.aca_keyring(),
            now=NOW, policy=IssuePolicy(h.certificate("root").hashed_id3, 1), responses=self.aca_store,
        )  # fmt: skip
        refused = {n: r.refusal for n, r in enumerate(results) if r.refusal is not None}
        return [r.response for r in results], refused

    def deliver(self, drawn: Drawn, responses: Sequence[bytes | None], refused: dict[int, ErrorCode]) -> Any:
        return deliver(self.pool, self.issued, lease=drawn.lease, keys=[i.key for i in drawn.items],
                       responses=responses, refused=refused, aca=self.aca_certs, periods=self.periods)  # fmt: skip


def _pool_key(owner: bytes, i: int, j: int) -> str:
    return hashlib.sha256(owner + bytes([i, j])).hexdigest()[:32]


@pytest.fixture
def world(hierarchy: Hierarchy) -> World:
    """Two owners with 2 x 4 pooled requests each, in a pool of 2 shards."""
    ra = Ra(hierarchy.signer("ra"), epoch=NOW - 1000)
    shared = ra.lines
    ras = {owner: Ra(hierarchy.signer("ra"), lines=shared, epoch=NOW - 1000) for owner in OWNERS}
    pool = FakeShufflePool(shards=2)
    items = [
        PoolItem(_pool_key(owner, i, j), owner, i, j, ras[owner].request("explicit", "unified", i, j,
                                                                        generation_time=NOW).spdu)
        for owner in OWNERS for i in (0, 1) for j in range(4)
    ]  # fmt: skip
    pool.put_many(items, expires_at=time32.to_unix(NOW) + 3600)
    return World(hierarchy, pool, FakeIssuedCertStore(), FakeAcaResponseStore(), ras,
                 IPeriods.from_settings(load_settings({})))  # fmt: skip


def _draw(world: World, **kwargs: Any) -> Drawn:
    values: dict[str, Any] = {"batch_size": 100, "lease_seconds": 60, "now": NOW}
    values.update(kwargs)
    drawn = draw(world.pool, **values)
    assert drawn is not None
    return drawn


# --------------------------------------------------------------------------------------------
# draw


def test_draw_leases_one_shard_and_takes_its_requests_of_every_owner(world: World) -> None:
    drawn = _draw(world)
    in_shard = [k for k in world.pool.items if shard_of(k, 2) == drawn.lease.shard]
    assert sorted(i.key for i in drawn.items) == sorted(in_shard)
    assert {i.owner for i in drawn.items} == set(OWNERS)
    assert world.pool.leases[drawn.lease.shard][0] == drawn.lease.holder


def test_draw_takes_at_most_the_batch_size(world: World) -> None:
    assert len(_draw(world, batch_size=3).items) == 3
    # Twin: a batch size above the shard's items takes them all.
    other = draw(world.pool, batch_size=100, lease_seconds=60, now=NOW)
    assert other is not None and len(other.items) == sum(
        1 for k in world.pool.items if shard_of(k, 2) == other.lease.shard
    )


def test_a_leased_shard_is_passed_over_until_its_lease_expires(world: World) -> None:
    first = _draw(world, holder="a")
    second = _draw(world, holder="b", lease_seconds=600)
    assert second.lease.shard != first.lease.shard
    # Both shards are leased now: nothing to draw.
    assert draw(world.pool, batch_size=100, lease_seconds=60, now=NOW, holder="c") is None
    # Twin: after the first lease expires, its shard can be drawn again.
    later = draw(world.pool, batch_size=100, lease_seconds=60, now=NOW + 61, holder="c")
    assert later is not None and later.lease.shard == first.lease.shard


def test_an_empty_pool_draws_nothing_and_keeps_no_lease() -> None:
    pool = FakeShufflePool(shards=4)
    assert draw(pool, batch_size=10, lease_seconds=60, now=NOW) is None
    assert pool.leases == {}
    # Twin: one pooled request is drawn, its shard leased.
    pool.put_many([PoolItem("ff" * 16, OWNERS[0], 0, 0, b"x")], expires_at=0)
    drawn = draw(pool, batch_size=10, lease_seconds=60, now=NOW)
    assert drawn is not None and [i.key for i in drawn.items] == ["ff" * 16] and list(pool.leases) == [3]


def test_a_failed_read_gives_the_lease_back(world: World) -> None:
    class Busy(FakeShufflePool):
        def read(self, shard: int, limit: int) -> list[PoolItem]:
            raise TimeoutError("busy")

    busy = Busy(shards=2)
    busy.items = world.pool.items
    with pytest.raises(TimeoutError):
        draw(busy, batch_size=10, lease_seconds=60, now=NOW)
    assert busy.leases == {}
    # Twin: a read that works keeps the lease for the delivery.
    assert draw(world.pool, batch_size=10, lease_seconds=60, now=NOW) is not None and len(world.pool.leases) == 1


class _Recording(random.Random):
    def __init__(self) -> None:
        super().__init__(7)
        self.shuffled = 0

    def shuffle(self, x: Any) -> None:
        self.shuffled += 1
        super().shuffle(x)


def test_draw_shuffles_the_batch(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the default generator replaced by a recording one (draw must use secrets.SystemRandom),
    recording = _Recording()
    monkeypatch.setattr("scms_ra.shuffle.secrets.SystemRandom", lambda: recording)
    drawn = _draw(world)
    assert recording.shuffled == 1
    keys = [i.key for i in drawn.items]
    assert keys != sorted(keys) and sorted(keys) == sorted(
        k for k in world.pool.items if shard_of(k, 2) == drawn.lease.shard
    )


class _NoShuffle(random.Random):
    def shuffle(self, x: Any) -> None:
        return None


def test_without_the_shuffle_the_batch_would_come_in_key_order(world: World) -> None:
    # The twin of the test above: the order it sees is the shuffle's doing, not the store's.
    drawn = _draw(world, rng=_NoShuffle(1))
    keys = [i.key for i in drawn.items]
    assert keys == sorted(keys)


# --------------------------------------------------------------------------------------------
# deliver


def _expected(world: World, drawn: Drawn) -> set[tuple[bytes, int, int]]:
    return {(i.owner, i.i, i.j) for i in drawn.items}


def test_deliver_stores_each_inner_response_under_its_owner_then_clears_pool_and_lease(world: World) -> None:
    drawn = _draw(world)
    responses, refused = world.issue([i.spdu for i in drawn.items])
    assert refused == {}
    out = world.deliver(drawn, responses, refused)
    assert (out.delivered, out.refused, out.gone, out.released) == (len(drawn.items), 0, 0, True)
    assert set(world.issued.items) == _expected(world, drawn)
    for item, response in zip(drawn.items, responses, strict=True):
        cert = world.issued.items[(item.owner, item.i, item.j)]
        assert response is not None
        assert cert.spdu == parse_aca_ra_cert_response(response).content.response_spdu
        assert cert.aca_request_id == request_hash(item.spdu).hex()
        assert cert.expires_at > time32.to_unix(time32.validity_end(world.periods.validity(item.i)))
    assert not any(i.key in world.pool.items for i in drawn.items)
    assert drawn.lease.shard not in world.pool.leases


class _Crash(Exception):
    pass


class _CrashingPool(FakeShufflePool):
    """A pool whose ``step`` fails once, as a Lambda killed between two writes would leave it."""

    def __init__(self, inner: FakeShufflePool, step: str) -> None:
        super().__init__(inner.shards)
        self.items, self.expires, self.leases = inner.items, inner.expires, inner.leases
        self.step = step

    def delete_many(self, keys: Any) -> None:
        if self.step == "delete":
            self.step = ""
            raise _Crash
        super().delete_many(keys)

    def release(self, lease: Lease) -> bool:
        if self.step == "release":
            self.step = ""
            raise _Crash
        return super().release(lease)


class _CrashingIssued(FakeIssuedCertStore):
    def __init__(self) -> None:
        super().__init__()
        self.crash = True

    def put_many(self, certs: Sequence[IssuedCert]) -> None:
        if self.crash:
            self.crash = False
            raise _Crash
        super().put_many(certs)


@pytest.mark.parametrize("step", ["certificates", "delete", "release"])
def test_deliver_repeated_after_a_crash_at_each_step_ends_as_one_clean_delivery(world: World, step: str) -> None:
    # Given a drawn batch the ACA answered,
    drawn = _draw(world, rng=random.Random(3))
    responses, refused = world.issue([i.spdu for i in drawn.items])
    answered = len(world.aca_store.items)
    if step == "certificates":
        world.issued = _CrashingIssued()
    else:
        world.pool = _CrashingPool(world.pool, step)
    # When deliver crashes at that step,
    with pytest.raises(_Crash):
        world.deliver(drawn, responses, refused)
    if step == "certificates":
        # nothing was stored and the requests are still pooled: after the lease lapses they are drawn
        # again and the ACA answers them from its response store (the same octets).
        assert world.issued.items == {} and all(i.key in world.pool.items for i in drawn.items)
        drawn = _draw(world, now=NOW + 61, rng=random.Random(3))  # the same shard again
        responses_again, refused = world.issue([i.spdu for i in drawn.items])
        by_key = dict(zip([i.key for i in drawn.items], responses_again, strict=True))
        assert set(by_key.values()) == set(responses)
        responses = responses_again
        assert len(world.aca_store.items) == answered  # no second certificate
    # and is repeated,
    world.deliver(drawn, responses, refused)
    # Then every (i, j) has one certificate, the pool items and the lease are gone.
    assert set(world.issued.items) == _expected(world, drawn)
    assert all(c.spdu is not None for c in world.issued.items.values())
    assert not any(i.key in world.pool.items for i in drawn.items)
    assert drawn.lease.shard not in world.pool.leases


def test_refused_items_are_stored_as_refusals(world: World) -> None:
    drawn = _draw(world)
    responses, _ = world.issue([i.spdu for i in drawn.items])
    responses[0] = None
    out = world.deliver(drawn, responses, {0: ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED})
    first = drawn.items[0]
    cert = world.issued.items[(first.owner, first.i, first.j)]
    assert cert.refusal == "400-35" and cert.spdu is None
    assert (out.delivered, out.refused) == (len(drawn.items) - 1, 1)
    # Twin: the others are certificates.
    assert all(c.spdu is not None for k, c in world.issued.items.items() if k != (first.owner, first.i, first.j))


def test_an_answer_missing_without_a_refusal_is_a_refusal_not_a_drop(world: World) -> None:
    drawn = _draw(world)
    responses, _ = world.issue([i.spdu for i in drawn.items])
    responses[1] = None
    world.deliver(drawn, responses, {})
    second = drawn.items[1]
    assert world.issued.items[(second.owner, second.i, second.j)].refusal == "400-42"
    assert len(world.issued.items) == len(drawn.items)


def test_a_bad_aca_signature_is_refused_with_400_43(world: World) -> None:
    drawn = _draw(world)
    responses, _ = world.issue([i.spdu for i in drawn.items])
    bad = bytearray(responses[0] or b"")
    bad[-1] ^= 1
    responses[0] = bytes(bad)
    world.deliver(drawn, responses, {})
    first, second = drawn.items[0], drawn.items[1]
    assert world.issued.items[(first.owner, first.i, first.j)].refusal == "400-43"
    # Twin: the untouched response next to it is stored.
    assert world.issued.items[(second.owner, second.i, second.j)].spdu is not None


def test_a_response_signed_by_another_authority_is_refused(world: World, hierarchy: Hierarchy) -> None:
    drawn = _draw(world)
    responses, _ = world.issue([i.spdu for i in drawn.items])
    assert responses[0] is not None
    content = parse_aca_ra_cert_response(responses[0]).content
    forged = build_aca_ra_cert_response(content, hierarchy.signer("ra"))  # right request, wrong signer
    with pytest.raises(Exception) as info:
        open_aca_response(forged, request_hash(drawn.items[0].spdu), world.aca_certs)
    assert info.value.code is ErrorCode.SIGNATURE_VERIFICATION_FAILED  # type: ignore[attr-defined]
    # Twin: the same content signed by the ACA (through the codec's builder) opens.
    genuine = build_aca_ra_cert_response(content, hierarchy.signer("aca"))
    assert open_aca_response(genuine, request_hash(drawn.items[0].spdu), world.aca_certs) == content.response_spdu


def test_a_response_to_another_request_is_refused(world: World, hierarchy: Hierarchy) -> None:
    drawn = _draw(world)
    responses, _ = world.issue([i.spdu for i in drawn.items])
    responses[0], responses[1] = responses[1], responses[0]
    world.deliver(drawn, responses, {})
    for item in drawn.items[:2]:
        assert world.issued.items[(item.owner, item.i, item.j)].refusal == "400-42"
    # Twin: a response for the right request (built by the codec) opens.
    other = AcaRaCertResponse(NOW, request_hash(drawn.items[2].spdu), "plain", b"\x03\x80\x01\x00")
    data = build_aca_ra_cert_response(other, hierarchy.signer("aca"))
    assert open_aca_response(data, request_hash(drawn.items[2].spdu), world.aca_certs) == b"\x03\x80\x01\x00"


def test_deliver_needs_one_response_per_key(world: World) -> None:
    drawn = _draw(world)
    with pytest.raises(ValueError, match="one response per drawn key"):
        world.deliver(drawn, [None], {})
    assert world.issued.items == {} and drawn.lease.shard in world.pool.leases


# --------------------------------------------------------------------------------------------
# Tickets: what deliver needs of a drawn request, handed over by draw through the state machine


class _CountingPool(FakeShufflePool):
    def __init__(self, inner: FakeShufflePool) -> None:
        super().__init__(inner.shards)
        self.items, self.expires, self.leases = inner.items, inner.expires, inner.leases
        self.reads = 0

    def get_many(self, keys: Any) -> dict[str, PoolItem]:
        self.reads += 1
        return super().get_many(keys)


def _deliver_tickets(world: World, drawn: Drawn, responses: Sequence[bytes | None]) -> Any:
    tickets = [Ticket.decode(Ticket.of(i).encode()) for i in drawn.items]  # as they come back from the state
    return deliver(world.pool, world.issued, lease=drawn.lease, keys=tickets, responses=responses, refused={},
                   aca=world.aca_certs, periods=world.periods)  # fmt: skip


def test_deliver_of_tickets_under_its_lease_reads_no_pool_item_and_stores_the_same(world: World) -> None:
    # Given a drawn batch the ACA answered, delivered with the draw's tickets while the lease stands,
    drawn = _draw(world)
    responses, _ = world.issue([i.spdu for i in drawn.items])
    world.pool = pool = _CountingPool(world.pool)
    out = _deliver_tickets(world, drawn, responses)
    # Then no pool item was read, and the certificates are those a delivery by pool keys stores.
    assert pool.reads == 0
    assert (out.delivered, out.gone, out.released) == (len(drawn.items), 0, True)
    assert set(world.issued.items) == _expected(world, drawn)
    for item in drawn.items:
        cert = world.issued.items[(item.owner, item.i, item.j)]
        assert cert.aca_request_id == request_hash(item.spdu).hex() and cert.spdu is not None
    assert not any(i.key in world.pool.items for i in drawn.items)


class _StartAt(random.Random):
    """A draw's random source whose first shard is the given one (the shuffles stay random)."""

    def __init__(self, shard: int) -> None:
        super().__init__()
        self._shard = shard

    def randrange(self, *args: Any, **kwargs: Any) -> int:
        return self._shard


def test_deliver_of_tickets_after_a_takeover_reads_the_pool_and_skips_what_is_gone(world: World) -> None:
    # Given a batch whose lease lapsed and whose shard another lane drew and delivered meanwhile,
    first = _draw(world, holder="slow")
    responses, _ = world.issue([i.spdu for i in first.items])
    second = _draw(world, now=NOW + 61, holder="fast", rng=_StartAt(first.lease.shard))
    assert second.lease.shard == first.lease.shard
    world.deliver(second, world.issue([i.spdu for i in second.items])[0], {})
    written = world.issued.writes
    world.pool = pool = _CountingPool(world.pool)
    # When the first holder delivers its tickets late,
    out = _deliver_tickets(world, first, responses)
    # Then it read the pool (its lease is gone), found every item delivered, and wrote nothing.
    assert pool.reads == 1
    assert (out.delivered, out.gone, out.released) == (0, len(first.items), False)
    assert world.issued.writes == written


def test_a_ticket_round_trips_and_anything_else_is_refused() -> None:
    ticket = Ticket("ab" * 16, b"\x01" * 8, 655, 19, b"\x02" * 8)
    assert Ticket.decode(ticket.encode()) == ticket
    assert "0101" not in repr(ticket) and "0202" not in repr(ticket)  # owner and request hash stay out
    text = ticket.encode()
    for bad in [text + ".1", text.replace("ab", "AB", 1), text[1:], text.replace(".655.", ".-1."),
                text.replace(".19.", ".1x."), text.replace(".19.", ".123456."), "ab" * 16, ""]:  # fmt: skip
        with pytest.raises(ValueError):
            Ticket.decode(bad)
