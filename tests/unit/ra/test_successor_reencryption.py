"""Successor requests: another ciphertext of a stored request is its replay, never a second certificate.

1609.2 ECIES (§5.3.5) leaves the y-parity of the ephemeral key V unauthenticated, so toggling
``compressed-y-0``/``-1`` of ``encKey.v`` gives a valid ciphertext of the same plaintext under another
requestHash; a device may also re-sign or re-encrypt its outer layer. The RA keys such copies by the
SHA-256 of the inner ``EeEcaCertRequestSpdu`` (protocol.md §3.4; ``scms_ra.successor`` module docstring).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from scms_service.hierarchy import Hierarchy
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.successor_requests import (
    FakeSuccessorStore,
    SuccessorExists,
    SuccessorRecord,
    SuccessorStatus,
)

from scms_codec.errors import CodecError, ErrorCode
from scms_codec.secured.encrypted_data import decrypt
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.recipients import CertRecipient
from scms_codec.spdu import (
    build_successor_request,
    parse_ra_ee_enrollment_cert_ack,
    parse_successor_request,
    request_hash,
)
from tests.unit.ra.test_successor import NOW, World, hierarchy, make_world, successor_request  # noqa: F401


@pytest.fixture
def world(hierarchy: Hierarchy) -> World:  # noqa: F811 (the module fixture imported above)
    return make_world(hierarchy)


def _keyring(world: World) -> Keyring:
    keyring = Keyring()
    keyring.add_certificate(world.ra, world.hierarchy.encryption_private_key("ra"))
    return keyring


def parity_flipped(world: World, data: bytes) -> bytes:
    """The same request in another valid ciphertext: the ECIES ephemeral key's y-parity toggled (V → -V)."""
    keyring = _keyring(world)
    plaintext = decrypt(data, keyring).plaintext
    for index, octet in enumerate(data):
        if octet in (0x82, 0x83):
            copy_ = bytearray(data)
            copy_[index] ^= 0x01
            try:
                if decrypt(bytes(copy_), keyring).plaintext == plaintext:
                    return bytes(copy_)
            except CodecError:
                continue
    raise AssertionError("no re-encryption found")


def inner_of(world: World, data: bytes) -> bytes:
    return parse_successor_request(
        data, _keyring(world), resolve_signer=world.hierarchy.by_hashed_id8
    ).content.inner_spdu


def resigned(world: World, data: bytes) -> bytes:
    """The same inner request, signed and encrypted again by the device's current certificate."""
    return build_successor_request(inner_of(world, data), world.holder.signer, CertRecipient(world.ra))


class FailingArtifacts(InMemoryArtifacts):
    """Artifacts whose next ``put`` fails once (a crash after the ECA issued: the request stays PENDING)."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next = True

    def put(self, key: str, value: bytes, *, content_type: str = "application/octet-stream") -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError("crash")
        super().put(key, value, content_type=content_type)


def _pending(world: World) -> tuple[bytes, SuccessorRecord]:
    """A successor request left PENDING by a crash after issuance."""
    world.artifacts = FailingArtifacts()
    data, _ = successor_request(world.holder, world.ra)
    with pytest.raises(OSError):
        world.enroll(data)
    record = world.requests.get(request_hash(data))
    assert record is not None and record.status is SuccessorStatus.PENDING
    return data, record


@pytest.mark.parametrize("copy_of", [parity_flipped, resigned], ids=["parity-flipped", "re-signed"])
def test_another_ciphertext_of_a_pending_request_finishes_it_with_its_ack(world: World, copy_of: object) -> None:
    # Given a request left PENDING (its certificate issued by the ECA, not yet stored nor linked)
    data, record = _pending(world)
    calls = world.eca_calls
    # When another ciphertext of the same inner request arrives
    copy_ = copy_of(world, data)  # type: ignore[operator]
    assert request_hash(copy_) != request_hash(data)
    ack = world.enroll(copy_, now=NOW + 5)
    # Then it is answered as the first request's replay: its ack, the same certificate, no second request
    assert ack == record.ack and parse_ra_ee_enrollment_cert_ack(ack).content.request_hash == request_hash(data)
    assert set(world.requests.requests) == {request_hash(data)}
    assert world.requests.requests[request_hash(data)].status is SuccessorStatus.DONE
    assert world.eca_calls == calls + 1  # the first request's ECA claim again (same outer requestHash)
    assert (
        world.eca_requests.get(request_hash(data)) is not None and world.eca_requests.get(request_hash(copy_)) is None
    )
    device = world.device()
    assert device.state is DeviceState.SUCCESSOR_ENROLLED and len(device.enrollments) == 2


def test_a_different_request_while_one_is_pending_is_not_its_replay(world: World) -> None:
    # Twin: a new inner request (another key) of the same certificate is a request of its own.
    data, record = _pending(world)
    other, _ = successor_request(world.holder, world.ra, generation_time=NOW - 1)
    ack = world.enroll(other, now=NOW + 5)
    assert ack != record.ack
    assert parse_ra_ee_enrollment_cert_ack(ack).content.request_hash == request_hash(other)
    assert set(world.requests.requests) == {request_hash(data), request_hash(other)}


def test_another_ciphertext_of_a_done_request_is_its_stored_ack_and_writes_nothing(world: World) -> None:
    data, _ = successor_request(world.holder, world.ra)
    ack = world.enroll(data)
    before = world.snapshot()
    calls = world.eca_calls
    assert world.enroll(parity_flipped(world, data), now=NOW + 30) == ack
    assert world.snapshot() == before and world.eca_calls == calls
    # Twin: a new inner request by the same (now superseded) certificate is refused, not replayed.
    world.refused(world.request(generation_time=NOW + 1), ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, now=NOW + 1)


def test_a_reencryption_is_a_replay_even_within_the_successor_min_wait(world: World) -> None:
    data, record = _pending(world)
    assert world.enroll(parity_flipped(world, data), now=NOW + 5, ra_successor_min_wait=600) == record.ack
    # Twin: a new request at the same generationTime is refused by the same setting.
    other, _ = successor_request(world.holder, world.ra)
    world.refused(other, ErrorCode.RA_MIN_WAIT, now=NOW + 5, ra_successor_min_wait=600)


def test_the_same_inner_request_under_another_certificate_is_refused(world: World) -> None:
    # Given a request done, and the device now holding its successor
    data, key = successor_request(world.holder, world.ra)
    world.advance(data, key, world.enroll(data))
    # When the new certificate wraps the already-used inner request: refused (400-32), nothing written
    wrapped = build_successor_request(inner_of(world, data), world.holder.signer, CertRecipient(world.ra))
    world.refused(wrapped, ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, now=NOW + 1)
    # Twin: the new certificate wrapping a fresh inner request is accepted.
    assert world.enroll(world.request(generation_time=NOW + 1), now=NOW + 1)


class LateTwinStore(FakeSuccessorStore):
    """A store whose first ``by_inner_hash`` misses: the other ciphertext is stored between the look and the put."""

    def __init__(self) -> None:
        super().__init__()
        self.misses = 1

    def by_inner_hash(self, inner_hash: bytes) -> SuccessorRecord | None:
        if self.misses:
            self.misses -= 1
            return None
        return super().by_inner_hash(inner_hash)


def test_two_ciphertexts_racing_store_one_request(world: World) -> None:
    # Given the first ciphertext stored, and the second one's look-up made before that
    data, _ = successor_request(world.holder, world.ra)
    ack = world.enroll(data)
    store = LateTwinStore()
    store.requests, store.rates, store.inner = world.requests.requests, world.requests.rates, world.requests.inner
    world.requests = store
    # When the second one is put, its inner item's condition fails: the answer is the winner's
    copy_ = parity_flipped(world, data)
    # (the current-certificate check would refuse it first: the winner is found there the same way)
    assert world.enroll(copy_, now=NOW + 5) == ack
    assert set(store.requests) == {request_hash(data)}
    # Twin: the conditional put itself refuses a second record carrying the same inner request.
    record = store.requests[request_hash(data)]
    with pytest.raises(SuccessorExists):
        store.put(replace(record, request_hash=request_hash(copy_)))
    assert set(store.requests) == {request_hash(data)}


def test_a_pending_race_is_settled_by_the_inner_item(world: World) -> None:
    # The PENDING case of the race: the second ciphertext passes every check and reaches the put.
    data, record = _pending(world)
    store = LateTwinStore()
    store.requests, store.rates, store.inner = world.requests.requests, world.requests.rates, world.requests.inner
    world.requests = store
    assert world.enroll(parity_flipped(world, data), now=NOW + 5) == record.ack
    assert set(store.requests) == {request_hash(data)}
    assert store.requests[request_hash(data)].status is SuccessorStatus.DONE
    # Twin: without the inner hash on the record (a request stored before it was kept) nothing links them
    plain = FakeSuccessorStore()
    plain.put(replace(record, request_hash=b"\x01" * 8, inner_hash=None))
    plain.put(replace(record, request_hash=b"\x02" * 8, inner_hash=None))
    assert len(plain.requests) == 2
