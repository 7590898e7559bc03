"""The RA's authorization-certificate download checks (protocol.md §2.2, §3.3, §6)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from scms_ee.download import authorization_header, download_request
from scms_ra.batch_files import batch_filename, batch_key, period_zip
from scms_ra.download import BatchNotReady, CorruptBatch, authorization_download
from scms_service.errors import BadRequest, NotFound
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.auth_requests import RequestStatus
from scms_service.stores.devices import EnrollmentRecord, InMemoryDeviceStore

from scms_codec import time32
from scms_codec.cert.certificate import Certificate, issue_explicit
from scms_codec.crypto.keys import encryption_key_to_asn1, verification_key_to_asn1
from scms_codec.errors import ErrorCode
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.signer import Signer
from scms_codec.spdu.ra_ee_ack import RaEeCertInfo
from tests.unit.eca.ee import NOW, Ee, hierarchy, settings

FIRST_I, LAST_I = 0x10, 0x12
DUE = NOW + 50_000


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def enrollment_signer() -> Signer:
    """An explicit enrollment certificate from the test hierarchy's ECA, as the ECA issues them."""
    key = _key()
    tbs: dict[str, Any] = {
        "id": ("none", None),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": NOW - 100, "duration": ("years", 3)},
        "certRequestPermissions": [{"subjectPermissions": ("explicit", [{"psid": 32}]), "minChainLength": 1}],
        "verifyKeyIndicator": ("verificationKey", verification_key_to_asn1(key.public_key())),
    }
    eca = hierarchy().signer("eca")
    return Signer(key, issue_explicit(tbs, key.public_key(), eca.certificate, eca.key))


def _ra() -> tuple[Certificate, Keyring]:
    sign, enc = _key(), _key()
    tbs: dict[str, Any] = {
        "id": ("name", "ra"),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": NOW - 1000, "duration": ("years", 2)},
        "appPermissions": [{"psid": 35}],
        "encryptionKey": encryption_key_to_asn1(enc.public_key()),
        "verifyKeyIndicator": ("verificationKey", verification_key_to_asn1(sign.public_key())),
    }
    cert = issue_explicit(tbs, sign.public_key(), None, sign)
    keyring = Keyring()
    keyring.add_certificate(cert, enc)
    return cert, keyring


@dataclass(frozen=True)
class Record:
    request_hash: bytes
    device_id: str
    enrollment_cert_id: str
    first_i: int = FIRST_I
    last_i: int = LAST_I
    status: RequestStatus = RequestStatus.GENERATING
    status_reason: str | None = None


@dataclass
class Requests:
    records: dict[bytes, Record] = field(default_factory=dict)

    def get(self, request_hash: bytes) -> Record | None:
        return self.records.get(request_hash)


class Trust:
    def by_hashed_id8(self, hashed_id8: bytes) -> Certificate | None:
        for role in ("eca", "ica", "root"):
            cert = hierarchy().certificate(role)
            if cert.hashed_id8 == hashed_id8:
                return cert
        return None

    def anchors(self) -> list[Certificate]:
        return [hierarchy().certificate("root")]


class Schedule:
    def next_download_time(self, i: int) -> int:
        return DUE + i


@dataclass
class World:
    """One RA with two enrolled devices; device A made request HASH_A, device B request HASH_B."""

    ra_cert: Certificate
    keyring: Keyring
    devices: InMemoryDeviceStore
    requests: Requests
    artifacts: InMemoryArtifacts
    a: Signer
    b: Signer
    hash_a: bytes = bytes.fromhex("ab09281c9867de53")
    hash_b: bytes = bytes.fromhex("0102030405060708")

    def enroll(self, device_id: str, signer: Signer) -> None:
        assert signer.certificate is not None
        self.devices.create(Ee(device_id=device_id).device(), actor="test", now_unix=0)
        record = EnrollmentRecord(signer.certificate.hashed_id8.hex(), NOW - 100, NOW + 10**8,
                                  hierarchy().certificate("eca").hashed_id8.hex())  # fmt: skip
        self.devices.transition(device_id, DeviceState.ENROLLED, expected=DeviceState.REGISTERED, cause="enrolled",
                                actor="eca", now_unix=1, enrollment=record)  # fmt: skip

    def header(self, filename: str, signer: Signer | None = None, generation_time: int = NOW) -> str:
        spdu = download_request(filename, enrollment=signer or self.a, ra_certificate=self.ra_cert,
                                generation_time=generation_time)  # fmt: skip
        return authorization_header(spdu)["Ieee-1609.2.1-Authorization"]

    def store_batch(self, request_hash: bytes, i: int) -> bytes:
        info = RaEeCertInfo(NOW - 500, i, request_hash, DUE)
        data = period_zip(request_hash, i, {0: b"cert0", 1: b"cert1"}, info)
        self.artifacts.put(batch_key(request_hash, i), data)
        return data

    def download(self, header: str | None, filename: str | None = None, *, now: int = NOW, **over: Any) -> Any:
        return authorization_download(
            header, filename, now=now, settings=over.pop("settings", settings()), keyring=self.keyring,
            ra_anchors=Trust(), requests=self.requests, devices=self.devices, artifacts=self.artifacts,
            schedule=Schedule(),
        )  # fmt: skip


@pytest.fixture
def world() -> World:
    ra_cert, keyring = _ra()
    w = World(ra_cert, keyring, InMemoryDeviceStore(), Requests(), InMemoryArtifacts(), enrollment_signer(),
              enrollment_signer())  # fmt: skip
    w.enroll("obu-a", w.a)
    w.enroll("obu-b", w.b)
    for device_id, signer, request_hash in (("obu-a", w.a, w.hash_a), ("obu-b", w.b, w.hash_b)):
        assert signer.certificate is not None
        w.requests.records[request_hash] = Record(request_hash, device_id, signer.certificate.hashed_id8.hex())
    return w


def refused(code: ErrorCode, call: Any) -> None:
    with pytest.raises(BadRequest) as info:
        call()
    assert info.value.code is code


NAME = batch_filename(bytes.fromhex("ab09281c9867de53"), FIRST_I)


def test_the_requesting_device_gets_its_batch_with_the_name_it_asked_for(world: World) -> None:
    data = world.store_batch(world.hash_a, FIRST_I)
    got = world.download(world.header(NAME))
    assert got.body == data
    assert got.filename == NAME
    assert got.last_modified == time32.to_unix(NOW - 500)


def test_another_devices_enrollment_certificate_is_refused(world: World) -> None:
    world.store_batch(world.hash_a, FIRST_I)
    refused(ErrorCode.SIGNATURE_VERIFICATION_FAILED, lambda: world.download(world.header(NAME, signer=world.b)))


def test_an_unknown_request_hash_gets_the_same_refusal_as_a_foreign_one(world: World) -> None:
    unknown = batch_filename(bytes(8), FIRST_I)
    refused(ErrorCode.SIGNATURE_VERIFICATION_FAILED, lambda: world.download(world.header(unknown)))


def test_a_blocked_device_is_refused(world: World) -> None:
    world.store_batch(world.hash_a, FIRST_I)
    world.devices.transition("obu-a", DeviceState.BLOCKED, expected=DeviceState.ENROLLED, cause="ma",
                             actor="ma", now_unix=2)  # fmt: skip
    refused(ErrorCode.ENROLLMENT_CERT_BLOCKED, lambda: world.download(world.header(NAME)))


def test_an_enrollment_certificate_the_ra_does_not_know_is_refused(world: World) -> None:
    stranger = enrollment_signer()
    refused(ErrorCode.ENROLLMENT_CERT_UNREGISTERED, lambda: world.download(world.header(NAME, signer=stranger)))


def test_an_enrollment_certificate_outside_the_trusted_chain_is_refused(world: World) -> None:
    # The same certificate content, issued by a look-alike ECA that no trusted root certified.
    key = _key()
    assert world.a.certificate is not None
    rogue_tbs = dict(world.a.certificate.tbs)
    rogue_tbs["verifyKeyIndicator"] = ("verificationKey", verification_key_to_asn1(key.public_key()))
    rogue_issuer = _key()
    rogue_eca = issue_explicit({**hierarchy().certificate("eca").tbs}, rogue_issuer.public_key(), None, rogue_issuer)
    rogue = Signer(key, issue_explicit(rogue_tbs, key.public_key(), rogue_eca, rogue_issuer))
    refused(ErrorCode.CHAIN_VERIFICATION_FAILED, lambda: world.download(world.header(NAME, signer=rogue)))


def test_a_stale_request_is_refused_and_one_within_download_max_age_accepted(world: World) -> None:
    world.store_batch(world.hash_a, FIRST_I)
    max_age = settings().download_max_age
    assert world.download(world.header(NAME, generation_time=NOW - max_age)).filename == NAME
    refused(ErrorCode.DOWNLOAD_MAX_AGE, lambda: world.download(world.header(NAME, generation_time=NOW - max_age - 1)))


def test_a_request_from_the_future_is_refused(world: World) -> None:
    skew = settings().clock_skew
    world.store_batch(world.hash_a, FIRST_I)
    assert world.download(world.header(NAME, generation_time=NOW + skew)).filename == NAME
    future = world.header(NAME, generation_time=NOW + skew + 1)
    refused(ErrorCode.GENERATION_TIME_IN_FUTURE, lambda: world.download(future))


@pytest.mark.parametrize("header", ["not base64!", "QUJD", "QUJDRA", " ", "é"])
def test_a_header_that_is_not_padded_base64_of_the_spdu_is_a_parse_error(world: World, header: str) -> None:
    # "QUJD" is valid base64 of "ABC" (not an SPDU); "QUJDRA" lacks its padding.
    refused(ErrorCode.FAILED_PARSING, lambda: world.download(header))


def test_an_unencrypted_spdu_is_refused_with_400_10(world: World) -> None:
    refused(ErrorCode.NOT_ENCRYPTED, lambda: world.download(base64.b64encode(b"\x03\x80\x01\x00").decode()))


def test_a_request_for_another_ra_does_not_decrypt(world: World) -> None:
    other_ra, _ = _ra()
    header = authorization_header(download_request(NAME, enrollment=world.a, ra_certificate=other_ra,
                                                   generation_time=NOW))["Ieee-1609.2.1-Authorization"]  # fmt: skip
    refused(ErrorCode.DECRYPTION_FAILED, lambda: world.download(header))


def test_missing_inputs_are_parse_errors(world: World) -> None:
    refused(ErrorCode.FAILED_PARSING, lambda: world.download(None, None))
    refused(ErrorCode.FAILED_PARSING, lambda: world.download(None, NAME))  # eeAuth = enrollment: header required


def test_the_query_filename_must_name_the_same_file_in_any_case(world: World) -> None:
    world.store_batch(world.hash_a, FIRST_I)
    assert world.download(world.header(NAME), NAME.lower()).filename == NAME
    other = batch_filename(world.hash_a, FIRST_I + 1)
    refused(ErrorCode.FAILED_PARSING, lambda: world.download(world.header(NAME), other))
    refused(ErrorCode.FAILED_PARSING, lambda: world.download(world.header(NAME), "nonsense.zip"))


def test_a_filename_outside_the_grammar_inside_the_request_is_a_parse_error(world: World) -> None:
    refused(ErrorCode.FAILED_PARSING, lambda: world.download(world.header("AB09281C9867DE53_10.oer")))


def test_a_batch_not_generated_yet_says_when_to_come_back(world: World) -> None:
    with pytest.raises(BatchNotReady) as info:
        world.download(world.header(NAME))
    assert info.value.status == 404
    # The request is being generated: every batch is a moment away, not weeks (its due time).
    assert info.value.next_dl_time == NOW + 1 < DUE + FIRST_I
    # Twin: once stored, the same request is served.
    world.store_batch(world.hash_a, FIRST_I)
    assert world.download(world.header(NAME)).filename == NAME


def test_a_late_batch_gives_now_as_the_next_download_time(world: World) -> None:
    with pytest.raises(BatchNotReady) as info:
        world.download(world.header(NAME, generation_time=DUE + 100), now=DUE + 100)
    assert info.value.next_dl_time == DUE + 100


def test_a_batch_missing_from_a_done_request_is_a_server_error_not_a_wait(world: World) -> None:
    world.requests.records[world.hash_a] = replace(world.requests.records[world.hash_a], status=RequestStatus.DONE)
    with pytest.raises(CorruptBatch):
        world.download(world.header(NAME))
    # Twin: stored, it is served
    world.store_batch(world.hash_a, FIRST_I)
    assert world.download(world.header(NAME)).filename == NAME


def test_an_i_outside_the_request_is_not_found_rather_than_not_ready(world: World) -> None:
    beyond = batch_filename(world.hash_a, LAST_I + 1)
    with pytest.raises(NotFound) as info:
        world.download(world.header(beyond))
    assert not isinstance(info.value, BatchNotReady)


def test_a_stored_batch_of_another_period_is_reported_as_corrupt(world: World) -> None:
    world.artifacts.put(batch_key(world.hash_a, FIRST_I), world.store_batch(world.hash_a, FIRST_I + 1))
    with pytest.raises(CorruptBatch):
        world.download(world.header(NAME))
