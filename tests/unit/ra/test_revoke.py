"""scms_ra.revoke on the in-memory stores: each way the MA names a device, Revoked once, the chains and hashes.

The world: a device enrolled, then successor-enrolled (two enrollment certificates with their
hashes), with butterfly requests DONE and GENERATING (two chains), one still ACCEPTED and
non-butterfly ones (no chain: a DONE one whose delivered certificates' ACA requests are answered,
an ACCEPTED one); and a bystander device. Every positive test has a failing twin.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from scms_ra.revoke import (
    REVOKE_ACTOR,
    InvalidRevocation,
    LinkageChain,
    Revocation,
    RevocationTargetNotFound,
    RevokedEnrollment,
    revoke,
)
from scms_service.lifecycle import DeviceState
from scms_service.stores.auth_requests import FakeAuthRequestStore, RequestStatus
from scms_service.stores.devices import Device, EnrollmentRecord, InMemoryDeviceStore, StaleDevice
from scms_service.stores.issued_certs import FakeIssuedCertStore, IssuedCert

from scms_codec.time32 import to_unix
from tests.unit.ra.test_batch_status import record

NOW = 700_000_000
S = DeviceState


def _enrollment(n: int, *, hashed: bool = True) -> EnrollmentRecord:
    digest = hashlib.sha256(bytes([n])).hexdigest()
    return EnrollmentRecord(digest[-16:], NOW - 1000 * n, NOW + 10**6 * n, "fe" * 8, digest if hashed else None)


def _key(seed: int) -> bytes:
    return b"\x02" + bytes([seed]) * 32


@dataclass
class World:
    devices: InMemoryDeviceStore
    requests: FakeAuthRequestStore
    first: EnrollmentRecord
    second: EnrollmentRecord
    issued: FakeIssuedCertStore

    def revoke(self, by: str, value: str, cause: str = "misbehaviour report 1") -> Revocation:
        return revoke(by, value, cause, now=NOW, devices=self.devices, requests=self.requests, issued=self.issued)

    def state(self, device_id: str = "obu-1") -> Device:
        device = self.devices.get(device_id)
        assert device is not None
        return device


def _request(n: int, device_id: str, **changes: Any) -> Any:
    return record(request_hash=bytes([n]) * 8, device_id=device_id, chain_id=bytes([n]) * 16, **changes)


@pytest.fixture
def world() -> World:
    devices, requests = InMemoryDeviceStore(), FakeAuthRequestStore()
    first, second = _enrollment(1), _enrollment(2)
    for device_id, seed in (("obu-1", 1), ("obu-2", 2)):
        devices.create(Device(device_id, f"canonical-{device_id}", _key(seed)), actor="op", now_unix=to_unix(NOW) - 99)
    devices.transition("obu-1", S.ENROLLED, expected=S.REGISTERED, cause="e", actor="eca", now_unix=1,
                       enrollment=first)  # fmt: skip
    devices.transition("obu-1", S.PROVISIONING, expected=S.ENROLLED, cause="p", actor="ra", now_unix=2)
    devices.transition("obu-1", S.SUCCESSOR_ENROLLED, expected=S.PROVISIONING, cause="s", actor="ra", now_unix=3,
                       enrollment=second)  # fmt: skip
    devices.transition("obu-2", S.ENROLLED, expected=S.REGISTERED, cause="e", actor="eca", now_unix=1,
                       enrollment=_enrollment(3))  # fmt: skip
    requests.put(_request(1, "obu-1", status=RequestStatus.DONE, first_i=10, last_i=12, certs_per_period=20))
    requests.put(_request(2, "obu-1", status=RequestStatus.GENERATING, variant="compactUnified", first_i=13,
                          last_i=13, certs_per_period=5))  # fmt: skip
    requests.put(_request(3, "obu-1", status=RequestStatus.ACCEPTED))  # never reached the LAs
    requests.put(_request(4, "obu-1", status=RequestStatus.DONE, variant="plain"))  # no linkage data
    requests.put(_request(5, "obu-2", status=RequestStatus.DONE))  # the bystander's
    requests.put(_request(6, "obu-1", status=RequestStatus.GENERATING, variant="encryptionKey", first_i=11,
                          last_i=11, certs_per_period=1))  # fmt: skip
    requests.put(_request(7, "obu-1", status=RequestStatus.ACCEPTED, variant="plain"))  # never reached the ACA
    requests.put(_request(8, "obu-2", status=RequestStatus.DONE, variant="plain"))  # the bystander's
    requests.aca_requests[b"\xaa" * 8] = bytes([1]) * 8  # a delivered certificate of request 1
    issued = FakeIssuedCertStore()
    issued.put_many([
        IssuedCert(bytes([1]) * 8, 10, 0, "aa" * 8, 1, spdu=b"butterfly"),  # a pseudonym: its chain revokes it
        IssuedCert(bytes([4]) * 8, 10, 0, "4a" * 8, 1, spdu=b"plain"),
        IssuedCert(bytes([4]) * 8, 10, 1, "4b" * 8, 1, refusal="400-30"),  # the ACA issued nothing
        IssuedCert(bytes([4]) * 8, 13, 0, "4c" * 8, 1, spdu=b"outside"),  # outside the request's periods
        IssuedCert(bytes([6]) * 8, 11, 0, "6a" * 8, 1, spdu=b"private"),
        IssuedCert(bytes([8]) * 8, 10, 0, "8a" * 8, 1, spdu=b"bystander"),
    ])  # fmt: skip
    return World(devices, requests, first, second, issued)


EXPECTED_CHAINS = (LinkageChain(b"\x01" * 16, 10, 12, 20), LinkageChain(b"\x02" * 16, 13, 13, 5))
EXPECTED_ACA_REQUESTS = (b"\x4a" * 8, b"\x6a" * 8)  # the plain and the encryptionKey request's certificates


def _expected(world: World, *, already: bool = False) -> Revocation:
    hashes = tuple(RevokedEnrollment(bytes.fromhex(e.cert_hash or ""), e.valid_until)
                   for e in (world.first, world.second))  # fmt: skip
    return Revocation(already, EXPECTED_CHAINS, hashes, aca_requests=EXPECTED_ACA_REQUESTS)


@pytest.mark.parametrize(
    ("by", "value"),
    [("device", "obu-1"), ("enrollmentCert", _enrollment(1).cert_id), ("enrollmentCert", _enrollment(2).cert_id),
     ("acaRequest", "aa" * 8)],
    ids=["device", "old-enrollment-cert", "current-enrollment-cert", "aca-request"],
)  # fmt: skip
def test_each_handle_revokes_the_device_with_both_chains_and_both_enrollment_hashes(
    world: World, by: str, value: str
) -> None:
    # When the MA revokes the device by any of its handles,
    out = world.revoke(by, value)
    # Then the answer holds the chains of its butterfly requests that reached the LAs and both enrollment hashes,
    assert out == _expected(world)
    assert out.chains[0].chain_id == b"\x01" * 16 and "chain_id" not in repr(out.chains[0])
    # the device is Revoked with an audit entry by the MA, and the bystander is untouched.
    device = world.state()
    assert device.state is S.REVOKED and device.previous_state is S.SUCCESSOR_ENROLLED
    last = world.devices.audit("obu-1")[-1]
    assert (last.state, last.actor, last.cause) == (S.REVOKED, REVOKE_ACTOR, "misbehaviour report 1")
    assert world.state("obu-2").state is S.ENROLLED


def test_the_answer_names_no_other_devices_chain(world: World) -> None:
    # Twin: the bystander's chain (request 5) and the non-butterfly and ACCEPTED requests are not listed.
    out = world.revoke("device", "obu-1")
    listed = {c.chain_id for c in out.chains}
    assert listed.isdisjoint({bytes([n]) * 16 for n in (3, 4, 5)})
    assert world.revoke("device", "obu-2").chains == (LinkageChain(b"\x05" * 16, 10, 12, 4),)


def test_only_the_non_butterfly_certificates_the_aca_issued_are_named_by_their_aca_request(world: World) -> None:
    # Twin of the expected answer: the pseudonym's ACA request, the refusal, the ACCEPTED request and
    # the bystander's certificate are not named; the bystander's own revocation names only its own.
    out = world.revoke("device", "obu-1")
    assert out.aca_requests == EXPECTED_ACA_REQUESTS
    assert set(out.aca_requests).isdisjoint({b"\xaa" * 8, b"\x4b" * 8, b"\x4c" * 8, b"\x8a" * 8})
    assert world.revoke("device", "obu-2").aca_requests == (b"\x8a" * 8,)


def test_revoking_again_answers_the_same_and_writes_nothing(world: World) -> None:
    world.revoke("device", "obu-1")
    audit, version = world.devices.audit("obu-1"), world.state().version
    again = world.revoke("acaRequest", "aa" * 8, "another report")
    assert again == _expected(world, already=True)
    assert world.devices.audit("obu-1") == audit and world.state().version == version
    # Twin: the first revocation was not "already".
    assert _expected(world) != again


@pytest.mark.parametrize(
    ("by", "value"),
    [("device", "obu-9"), ("enrollmentCert", "12" * 8), ("acaRequest", "bb" * 8)],
    ids=["device", "enrollment-cert", "aca-request"],
)
def test_an_unknown_target_is_not_found_and_changes_nothing(world: World, by: str, value: str) -> None:
    before = world.state()
    with pytest.raises(RevocationTargetNotFound) as caught:
        world.revoke(by, value)
    assert value not in str(caught.value)  # the message names no handle
    assert world.state() == before


def test_an_aca_request_of_a_request_no_longer_stored_is_not_found(world: World) -> None:
    # The index names a request whose record is gone (compensated): nothing to revoke.
    world.requests.aca_requests[b"\xcc" * 8] = b"\x09" * 8
    with pytest.raises(RevocationTargetNotFound):
        world.revoke("acaRequest", "cc" * 8)
    assert world.state().state is S.SUCCESSOR_ENROLLED


@pytest.mark.parametrize(
    ("by", "value", "cause"),
    [("certificate", "obu-1", "c"), ("device", "obu 1", "c"), ("device", "", "c"), ("enrollmentCert", "AB" * 8, "c"),
     ("acaRequest", "aa" * 7, "c"), ("acaRequest", "zz" * 8, "c"), ("device", "obu-1", "x" * 201)],
    ids=["kind", "device-space", "device-empty", "upper-hex", "short-hex", "not-hex", "cause-too-long"],
)  # fmt: skip
def test_malformed_input_is_refused_and_changes_nothing(world: World, by: str, value: str, cause: str) -> None:
    before = world.state()
    with pytest.raises(InvalidRevocation):
        world.revoke(by, value, cause)
    assert world.state() == before


def test_a_cause_of_two_hundred_characters_or_none_is_accepted(world: World) -> None:
    # Twin of the cause check: the limit itself passes; an empty cause gets a default in the audit trail.
    world.revoke("device", "obu-2", "")
    assert world.devices.audit("obu-2")[-1].cause == "revoked by the MA"
    world.revoke("device", "obu-1", "y" * 200)
    assert world.devices.audit("obu-1")[-1].cause == "y" * 200


def test_a_blocked_device_is_revoked(world: World) -> None:
    world.devices.transition("obu-1", S.BLOCKED, expected=S.SUCCESSOR_ENROLLED, cause="b", actor="op", now_unix=4)
    assert world.revoke("device", "obu-1") == _expected(world)
    assert world.state().state is S.REVOKED and world.state().previous_state is S.BLOCKED


def test_a_deleted_device_stays_deleted_but_its_certificates_are_answered(world: World) -> None:
    world.devices.transition("obu-1", S.DELETED, expected=S.SUCCESSOR_ENROLLED, cause="d", actor="op", now_unix=4)
    assert world.revoke("device", "obu-1") == _expected(world)
    assert world.state().state is S.DELETED


def test_a_change_racing_the_revocation_is_read_again_and_the_device_revoked(world: World) -> None:
    # Given an operator blocking the device between the MA's read and its write,
    class Racing(InMemoryDeviceStore):
        raced = False

        def transition(self, device_id: str, target: DeviceState, **kwargs: Any) -> Device:
            if not self.raced:
                self.raced = True
                world.devices.transition(device_id, S.BLOCKED, expected=S.SUCCESSOR_ENROLLED, cause="b", actor="op",
                                         now_unix=4)  # fmt: skip
            return world.devices.transition(device_id, target, **kwargs)

        def get(self, device_id: str) -> Device | None:
            return world.devices.get(device_id)

        def get_by_enrollment_cert(self, hashed_id8_hex: str) -> Device | None:
            return world.devices.get_by_enrollment_cert(hashed_id8_hex)

    out = revoke("device", "obu-1", "c", now=NOW, devices=Racing(), requests=world.requests, issued=world.issued)
    # Then the stale write lost, the device was read again and revoked from Blocked.
    assert out == _expected(world)
    assert [a.state for a in world.devices.audit("obu-1")][-2:] == [S.BLOCKED, S.REVOKED]


def test_a_device_that_keeps_changing_gives_up_with_stale_device(world: World) -> None:
    # Twin: a store whose every write loses raises StaleDevice and leaves the device as it was.
    class AlwaysStale(InMemoryDeviceStore):
        def get(self, device_id: str) -> Device | None:
            return world.devices.get(device_id)

        def transition(self, device_id: str, target: DeviceState, **kwargs: Any) -> Device:
            raise StaleDevice("lost")

    with pytest.raises(StaleDevice):
        revoke("device", "obu-1", "c", now=NOW, devices=AlwaysStale(), requests=world.requests, issued=world.issued)
    assert world.state().state is S.SUCCESSOR_ENROLLED


def test_enrollment_records_without_a_hash_are_counted_not_answered(world: World) -> None:
    devices = InMemoryDeviceStore()
    devices.create(Device("old", "canonical-old", _key(7)), actor="op", now_unix=1)
    devices.transition("old", S.ENROLLED, expected=S.REGISTERED, cause="e", actor="eca", now_unix=2,
                       enrollment=_enrollment(7, hashed=False))  # fmt: skip
    out = revoke("device", "old", "c", now=NOW, devices=devices, requests=world.requests, issued=world.issued)
    assert (out.enrollments, out.missing_hashes) == ((), 1)
    # Twin: a record with its hash is answered and not counted.
    devices.create(Device("new", "canonical-new", _key(8)), actor="op", now_unix=1)
    devices.transition("new", S.ENROLLED, expected=S.REGISTERED, cause="e", actor="eca", now_unix=2,
                       enrollment=_enrollment(8))  # fmt: skip
    out = revoke("device", "new", "c", now=NOW, devices=devices, requests=world.requests, issued=world.issued)
    assert (len(out.enrollments), out.missing_hashes) == (1, 0)
