"""Successor enrollment through the RA with fakes: repeatable, replay-safe, every refusal with a passing twin."""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from scms_eca.successor import issue_successor
from scms_ra.authorize import authorize
from scms_ra.download import BatchNotReady
from scms_ra.successor import artifact_key, successor_download, successor_enroll, successor_filename
from scms_service.config import Settings, load_settings
from scms_service.errors import BadRequest
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.iperiod import IPeriods
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.auth_requests import FakeAuthRequestStore
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.devices import Device, InMemoryDeviceStore
from scms_service.stores.eca_requests import FakeEcaRequestStore
from scms_service.stores.successor_requests import FakeSuccessorStore, SuccessorStatus

from scms_codec.cert.certificate import Certificate
from scms_codec.errors import ErrorCode
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.recipients import CertRecipient
from scms_codec.secured.signer import Signer
from scms_codec.spdu import (
    build_successor_request,
    parse_eca_ee_cert_response,
    parse_ra_ee_enrollment_cert_ack,
    request_hash,
)
from scms_codec.spdu.download import EeRaDownloadRequest, build_ee_ra_download_request
from tests.unit.eca.ee import Ee
from tests.unit.ra.ee_auth import EnrolledEe

NOW = 700_000_000
ENROLLED_AT = NOW - 5000


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    ca, _ = init_hierarchy(load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(),
                           now=NOW - 10_000)  # fmt: skip
    return ca


@dataclass
class Holder:
    """What the device holds: its current enrollment certificate and key (and the older ones)."""

    ee: Ee
    certificate: Certificate
    history: list[Signer] = field(default_factory=list)  # older certificates and their keys, oldest first

    @property
    def signer(self) -> Signer:
        return Signer(self.ee.enrollment, self.certificate)


def successor_request(
    holder: Holder,
    ra: Certificate,
    *,
    generation_time: int = NOW,
    new_key: ec.EllipticCurvePrivateKey | None = None,
    sign_with: Signer | None = None,
    **inner: Any,
) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    """``EeRaSuccessorEnrollmentCertRequestSpdu`` bytes and the new key (protocol.md §3.4 step 1)."""
    key = new_key or ec.generate_private_key(ec.SECP256R1())
    inner.setdefault("canonical_id", None)
    inner_spdu = replace(holder.ee, enrollment=key).request(generation_time=generation_time, **inner)
    signer = sign_with if sign_with is not None else holder.signer
    return build_successor_request(inner_spdu, signer, CertRecipient(ra)), key


@dataclass
class World:
    hierarchy: Hierarchy
    settings: Settings
    devices: InMemoryDeviceStore
    requests: FakeSuccessorStore
    eca_requests: FakeEcaRequestStore
    artifacts: InMemoryArtifacts
    holder: Holder
    eca_calls: int = 0

    @property
    def ra(self) -> Certificate:
        return self.hierarchy.certificate("ra")

    def eca(self, inner_spdu: bytes, *, request_hash: bytes, device: Device, now: int) -> bytes:
        self.eca_calls += 1
        return issue_successor(
            inner_spdu, request_hash=request_hash, device=device, now=now, settings=self.settings,
            requests=self.eca_requests, ca=self.hierarchy,
        )  # fmt: skip

    def enroll(self, data: bytes, *, now: int = NOW, **overrides: Any) -> bytes:
        settings = replace(self.settings, **overrides) if overrides else self.settings
        return successor_enroll(
            data, now=now, settings=settings, periods=IPeriods.from_settings(settings), devices=self.devices,
            requests=self.requests, ra=self.hierarchy, eca=self.eca, artifacts=self.artifacts,
        )  # fmt: skip

    def request(self, **kwargs: Any) -> bytes:
        return successor_request(self.holder, self.ra, **kwargs)[0]

    def device(self) -> Device:
        device = self.devices.get(self.holder.ee.device_id)
        assert device is not None
        return device

    def snapshot(self) -> tuple[Any, ...]:
        return (
            copy.deepcopy(self.requests.requests),
            copy.deepcopy(self.requests.rates),
            copy.deepcopy(self.eca_requests.__dict__),
            dict(self.artifacts.objects),
            self.device(),
        )

    def refused(self, data: bytes, code: ErrorCode, **kwargs: Any) -> None:
        before = self.snapshot()
        with pytest.raises(BadRequest) as info:
            self.enroll(data, **kwargs)
        assert info.value.code is code, info.value.message
        assert self.snapshot() == before

    def advance(self, data: bytes, key: ec.EllipticCurvePrivateKey, ack: bytes) -> Certificate:
        """The device takes the downloaded successor as its current certificate (as scms-ee does)."""
        rh = parse_ra_ee_enrollment_cert_ack(ack).content.request_hash
        response = self.artifacts.get(artifact_key(rh))
        assert response is not None
        content = parse_eca_ee_cert_response(response).content
        assert content.request_hash == request_hash(data)
        assert content.certificate.public_key() == key.public_key()
        self.holder.history.append(self.holder.signer)
        self.holder = Holder(replace(self.holder.ee, enrollment=key), content.certificate, self.holder.history)
        return content.certificate

    def download_header(self, filename: str, *, signer: Signer | None = None, generation_time: int = NOW) -> str:
        content = EeRaDownloadRequest(generation_time, filename)
        spdu = build_ee_ra_download_request(content, signer or self.holder.signer, CertRecipient(self.ra))
        return base64.b64encode(spdu).decode()

    def download(self, header: str | None, filename: str | None = None, *, now: int = NOW) -> bytes:
        keyring = Keyring()
        keyring.add_certificate(self.ra, self.hierarchy.encryption_private_key("ra"))
        found = successor_download(
            header, filename, now=now, settings=self.settings, keyring=keyring, ra_anchors=self.hierarchy,
            requests=self.requests, devices=self.devices, artifacts=self.artifacts,
        )  # fmt: skip
        return found.body


def make_world(hierarchy: Hierarchy, **settings: Any) -> World:
    s = load_settings({}, **settings)
    devices = InMemoryDeviceStore()
    eca_requests = FakeEcaRequestStore()
    enrolled = EnrolledEe.enroll(hierarchy=hierarchy, devices=devices, eca_requests=eca_requests, settings=s,
                                 now=ENROLLED_AT)  # fmt: skip
    holder = Holder(enrolled.ee, enrolled.certificate)
    return World(hierarchy, s, devices, FakeSuccessorStore(), eca_requests, InMemoryArtifacts(), holder)


@pytest.fixture
def world(hierarchy: Hierarchy) -> World:
    return make_world(hierarchy)


# --- acceptance -------------------------------------------------------------------------------


def test_successor_request_is_acked_issued_stored_and_linked(world: World) -> None:
    # Given an enrolled device's successor request for a new key
    data, key = successor_request(world.holder, world.ra)
    # When the RA takes it
    ack_bytes = world.enroll(data)
    # Then the ack is RA-signed RaEeCertInfo naming the request, the file is stored, the device linked
    opened = parse_ra_ee_enrollment_cert_ack(ack_bytes)
    assert opened.signer is not None and opened.signer.hashed_id8 == world.ra.hashed_id8
    ack = opened.content
    assert ack.request_hash == request_hash(data)
    assert ack.current_i == IPeriods.from_settings(world.settings).i_at(NOW) and ack.next_dl_time == NOW
    new = world.advance(data, key, ack_bytes)
    device = world.device()
    assert device.state is DeviceState.SUCCESSOR_ENROLLED
    ids = [s.certificate.hashed_id8.hex() for s in world.holder.history if s.certificate is not None]
    assert [e.cert_id for e in device.enrollments] == [*ids, new.hashed_id8.hex()]
    record = world.requests.get(request_hash(data))
    assert record is not None and record.status is SuccessorStatus.DONE and record.new_cert_id == new.hashed_id8.hex()


def test_successor_enrollment_works_twice_in_a_row_with_the_new_certificate(world: World) -> None:
    first, key = successor_request(world.holder, world.ra)
    world.advance(first, key, world.enroll(first))
    second, key2 = successor_request(world.holder, world.ra, generation_time=NOW + 1)
    newest = world.advance(second, key2, world.enroll(second, now=NOW + 1))
    device = world.device()
    assert len(device.enrollments) == 3 and device.enrollment is not None
    assert device.enrollment.cert_id == newest.hashed_id8.hex()
    assert device.state is DeviceState.SUCCESSOR_ENROLLED


def test_a_superseded_certificate_may_not_ask_for_another_successor(world: World) -> None:
    # Given a device whose first certificate has a successor
    first, key = successor_request(world.holder, world.ra)
    world.advance(first, key, world.enroll(first))
    old = world.holder.history[0]
    # When the old certificate signs a successor request (a fork of the line): refused, nothing written
    fork, _ = successor_request(world.holder, world.ra, generation_time=NOW + 1, sign_with=old)
    world.refused(fork, ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, now=NOW + 1)
    # Twin: the current certificate may.
    assert world.enroll(world.request(generation_time=NOW + 1), now=NOW + 1)


def test_a_superseded_certificate_still_makes_authorization_requests_until_it_expires(world: World) -> None:
    # Policy: the old certificate stays valid for everything but successor requests.
    first, key = successor_request(world.holder, world.ra)
    world.advance(first, key, world.enroll(first))
    old = world.holder.history[0]
    assert old.certificate is not None
    device_side = EnrolledEe(replace(world.holder.ee, enrollment=old.key), old.certificate)
    requests = FakeAuthRequestStore()
    periods = IPeriods.from_settings(world.settings)

    def run(generation_time: int) -> bytes:
        return authorize(device_side.request(world.ra, generation_time=generation_time), now=generation_time,
                         settings=world.settings, periods=periods, devices=world.devices, requests=requests,
                         ra=world.hierarchy)  # fmt: skip

    assert run(NOW)
    assert world.device().state is DeviceState.PROVISIONING
    # Twin: once the device is blocked, the old certificate is refused with all the others.
    world.devices.transition(world.holder.ee.device_id, DeviceState.BLOCKED, expected=DeviceState.PROVISIONING,
                             cause="t", actor="t", now_unix=1)  # fmt: skip
    with pytest.raises(BadRequest) as info:
        run(NOW + 2)
    assert info.value.code is ErrorCode.ENROLLMENT_CERT_BLOCKED


def test_replay_answers_the_same_ack_and_issues_nothing_new(world: World) -> None:
    data, key = successor_request(world.holder, world.ra)
    ack = world.enroll(data)
    before = world.snapshot()
    calls = world.eca_calls
    assert world.enroll(data, now=NOW + 30) == ack
    assert world.snapshot() == before and world.eca_calls == calls
    # Twin: other bytes (the next request, by the new certificate) are processed and change the stores.
    world.advance(data, key, ack)
    world.enroll(world.request(generation_time=NOW + 1), now=NOW + 1)
    assert world.snapshot() != before and world.eca_calls == calls + 1


def test_replay_of_a_device_blocked_since_is_refused(world: World) -> None:
    data = world.request()
    world.enroll(data)
    device = world.device()
    world.devices.transition(device.device_id, DeviceState.BLOCKED, expected=device.state, cause="t", actor="t",
                             now_unix=1)  # fmt: skip
    world.refused(data, ErrorCode.ENROLLMENT_CERT_BLOCKED)


def test_a_crash_after_issuance_is_finished_by_the_replay_with_the_same_certificate(world: World) -> None:
    # Given the artifacts store failing once, after the ECA issued
    data, key = successor_request(world.holder, world.ra)
    failing = world.artifacts

    class Once(InMemoryArtifacts):
        failed = False

        def put(self, key: str, value: bytes, *, content_type: str = "application/octet-stream") -> None:
            if not Once.failed:
                Once.failed = True
                raise OSError("crash")
            failing.put(key, value)

        def get(self, key: str) -> bytes | None:
            return failing.get(key)

    world.artifacts = Once()
    with pytest.raises(OSError):
        world.enroll(data)
    record = world.requests.get(request_hash(data))
    assert record is not None and record.status is SuccessorStatus.PENDING
    assert world.device().state is DeviceState.ENROLLED  # not linked yet
    issued = world.eca_requests.get(request_hash(data))
    assert issued is not None and issued.response is not None
    # When the device sends the same bytes again, the request is finished with the SAME certificate
    ack = world.enroll(data, now=NOW + 5)
    world.artifacts = failing
    new = world.advance(data, key, ack)
    assert parse_eca_ee_cert_response(issued.response).content.certificate.hashed_id8 == new.hashed_id8
    assert [e.cert_id for e in world.device().enrollments][-1] == new.hashed_id8.hex()
    assert len(world.device().enrollments) == 2


# --- refusals (each writes nothing; the accepted twin above) ------------------------------------


def test_not_encrypted_garbage_and_wrong_signature_are_refused(world: World) -> None:
    data = world.request()
    world.refused(b"\x03\x80" + data[2:40], ErrorCode.FAILED_PARSING)
    world.refused(b"", ErrorCode.FAILED_PARSING)
    plain_inner = replace(world.holder.ee, enrollment=ec.generate_private_key(ec.SECP256R1())).request(
        canonical_id=None
    )
    world.refused(plain_inner, ErrorCode.NOT_ENCRYPTED)
    # Signed with a key that is not the enrollment certificate's.
    forged = Signer(ec.generate_private_key(ec.SECP256R1()), world.holder.certificate)
    world.refused(world.request(sign_with=forged), ErrorCode.SIGNATURE_VERIFICATION_FAILED)
    assert world.enroll(data)  # twin


def test_unknown_and_blocked_devices_are_refused(world: World, hierarchy: Hierarchy) -> None:
    other = make_world(hierarchy)  # enrolled in another RA's device store: unknown here
    world.refused(successor_request(other.holder, world.ra)[0], ErrorCode.ENROLLMENT_CERT_UNREGISTERED)
    data = world.request()
    device = world.device()
    world.devices.transition(device.device_id, DeviceState.BLOCKED, expected=device.state, cause="t", actor="t",
                             now_unix=1)  # fmt: skip
    world.refused(data, ErrorCode.ENROLLMENT_CERT_BLOCKED)
    world.devices.transition(device.device_id, DeviceState.ENROLLED, expected=DeviceState.BLOCKED, cause="t",
                             actor="t", now_unix=2, unblocking=True)  # fmt: skip
    assert world.enroll(data)  # twin


def test_times_are_checked_at_the_ra(world: World) -> None:
    world.refused(world.request(generation_time=NOW + 60), ErrorCode.GENERATION_TIME_IN_FUTURE)
    world.refused(world.request(generation_time=NOW - 1001), ErrorCode.RA_MAX_AGE, eca_max_age=5000)
    _, end = world.holder.certificate.validity
    world.refused(world.request(generation_time=end + 1), ErrorCode.OUTSIDE_ENROLLMENT_VALIDITY, now=end + 2)
    assert world.enroll(world.request(generation_time=NOW - 2))  # twin: within every limit


def test_rates_per_device_are_checked(world: World) -> None:
    first, key = successor_request(world.holder, world.ra, generation_time=NOW - 10)
    world.advance(first, key, world.enroll(first))
    world.refused(world.request(generation_time=NOW - 5), ErrorCode.RA_MAX_REQS, ra_max_reqs=1)
    # The successor ra-minWait is its own setting (protocol.md §3.4 step 2); the authorization one does not apply.
    world.refused(world.request(generation_time=NOW - 5), ErrorCode.RA_MIN_WAIT, ra_successor_min_wait=60)
    assert world.enroll(world.request(generation_time=NOW - 5), ra_max_reqs=2, ra_successor_min_wait=5,
                        ra_min_wait=60)  # twin  # fmt: skip


def test_an_eca_refusal_is_the_answer_and_leaves_nothing(world: World) -> None:
    # The inner request carries canonicalId (400-32) or asks to start too late (eca-maxWait, 400-72).
    world.refused(_with_canonical(world), ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED)
    world.refused(world.request(start=NOW + 500), ErrorCode.ECA_MAX_WAIT)
    assert world.enroll(world.request(start=NOW + 50))  # twin: within eca-maxWait


def _with_canonical(world: World) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    inner = replace(world.holder.ee, enrollment=key).request(canonical_id=True, sign_with=key)
    return build_successor_request(inner, world.holder.signer, CertRecipient(world.ra))


# --- download -----------------------------------------------------------------------------------


def test_download_returns_the_stored_response_to_the_requesting_certificate(world: World) -> None:
    data, key = successor_request(world.holder, world.ra)
    ack = world.enroll(data)
    rh = request_hash(data)
    name = successor_filename(rh)
    body = world.download(world.download_header(name), name.lower())
    assert body == world.artifacts.get(artifact_key(rh))
    assert parse_eca_ee_cert_response(body).content.request_hash == rh
    # Twin: the new certificate (or another device) did not make this request: 400-43.
    world.advance(data, key, ack)
    with pytest.raises(BadRequest) as info:
        world.download(world.download_header(name))
    assert info.value.code is ErrorCode.SIGNATURE_VERIFICATION_FAILED


def test_download_refusals(world: World) -> None:
    data = world.request()
    world.enroll(data)
    name = successor_filename(request_hash(data))
    old = world.holder.signer
    for header, filename, code in (
        (None, name, ErrorCode.FAILED_PARSING),
        (world.download_header(name.replace("_enroll.oer", "_1.zip")), None, ErrorCode.FAILED_PARSING),
        (world.download_header(name), "0000000000000000_enroll.oer", ErrorCode.FAILED_PARSING),
        (world.download_header("0000000000000000_enroll.oer"), None, ErrorCode.SIGNATURE_VERIFICATION_FAILED),
        (world.download_header(name, generation_time=NOW + 60), None, ErrorCode.GENERATION_TIME_IN_FUTURE),
        (world.download_header(name, generation_time=NOW - 5000), None, ErrorCode.DOWNLOAD_MAX_AGE),
    ):
        with pytest.raises(BadRequest) as info:
            world.download(header, filename)
        assert info.value.code is code
    assert world.download(world.download_header(name, signer=old), name)  # twin


def test_download_of_a_pending_request_is_not_ready(world: World) -> None:
    data = world.request()
    world.enroll(data)
    rh = request_hash(data)
    record = world.requests.get(rh)
    assert record is not None
    world.requests.requests[rh] = replace(record, status=SuccessorStatus.PENDING)
    name = successor_filename(rh)
    with pytest.raises(BatchNotReady) as info:
        world.download(world.download_header(name))
    assert info.value.next_dl_time == NOW + 1
    world.requests.requests[rh] = record
    assert world.download(world.download_header(name))  # twin
