"""Hostile input, property-based (issue #7 §3): every refusal has its standard status, the Table 8
header where 1609.2.1 defines one, never a 500, and nothing stored changes.

One moto cloud with the real ``scms init`` hierarchy serves the whole module. Each example is
checked with ``WriteWatch`` (no AWS write succeeded during the request); every
``_FULL_EVERY``-th example and the end of every test also compare a full ``capture`` of every
DynamoDB item, secret and S3 object version with the one taken when the module started.
"""

from __future__ import annotations

import base64
import json
import random
import stat
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from chalice.test import Client
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scms_ee.download import download_request
from scms_ra.batch_files import batch_filename, batch_key, period_zip
from scms_ra.wiring import from_settings
from scms_service import aws
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore

from scms_cli.local import state as local_state
from scms_codec import time32
from scms_codec.errors import CodecError, ErrorCode
from scms_codec.secured.encrypted_data import decrypt, encrypt
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.recipients import CertRecipient
from scms_codec.secured.signer import Signer
from scms_codec.spdu import parse_ra_ee_cert_ack, parse_ra_ee_enrollment_cert_ack
from scms_codec.spdu.ra_ee_ack import RaEeCertInfo
from tests.functional.ra_app import create_state_machine
from tests.support.stack import Cloud, open_cloud
from tests.support.state import StoredState, assert_unchanged, capture
from tests.support.vectors import encoded_samples
from tests.unit.ra.ee_auth import EnrolledEe

ENROLL = "/v3/enrollment-certificate"
AUTHZ = "/v3/authorization-certificate"
OCTETS = {"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"}
HEADER = "Ieee-1609.2.1-Error"
_FULL_EVERY = 40
# Deterministic (CI must not find new cases on its own); deadline off: moto's first calls are slow.
FAST = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
MANY = settings(FAST, max_examples=200)
FEW = settings(FAST, max_examples=12)


class World:
    """The module's cloud, two registered devices (one enrolled), and the state every example must keep."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.ee = cloud.register("obu-hostile")
        self.other = cloud.register("obu-other")
        enrolled = cloud.register("obu-enrolled")
        self.enrolled_request = enrolled.request(generation_time=time32.now())
        with Client(cloud.eca.app) as client:
            answer = client.http.post(ENROLL, headers=OCTETS, body=self.enrolled_request)
        assert answer.status_code == 200, answer.body
        self.valid = self.ee.request(generation_time=time32.now())
        # The authorization-certificate routes: an enrolled device, its accepted request (through
        # the route, so an execution was started) and its first batch in S3; another enrolled device.
        settings = replace(cloud.settings, provision_state_machine=create_state_machine())
        cloud.ra.configure(from_settings(settings))
        self.authz_settings = settings
        self.obu = self.enrolled("obu-authz")
        self.stranger = self.enrolled("obu-authz-other")
        self.authz_valid = self.authz_request(self.obu)
        with Client(cloud.ra.app) as client:
            answer = client.http.post(AUTHZ, headers=OCTETS, body=self.authz_valid)
        assert answer.status_code == 202, answer.body
        ack = parse_ra_ee_cert_ack(answer.body).content
        assert ack.first_i is not None
        self.batch_name = batch_filename(ack.request_hash, ack.first_i)
        info = RaEeCertInfo(time32.now(), ack.first_i, ack.request_hash, time32.now() + 3600)
        S3Artifacts.from_settings(settings).put(
            batch_key(ack.request_hash, ack.first_i), period_zip(ack.request_hash, ack.first_i, {0: b"r"}, info)
        )
        self.download = self.download_request(self.obu)
        self.baseline: StoredState = capture(cloud.settings)
        cloud.watch.take()
        self.examples = 0

    def enrolled(self, device_id: str) -> EnrolledEe:
        settings = self.cloud.settings
        return EnrolledEe.enroll(
            hierarchy=self.cloud.hierarchy, devices=DynamoDeviceStore(settings.ra_table),
            eca_requests=DynamoDbEcaRequestStore.from_settings(settings), settings=settings,
            now=time32.now() - 600, device_id=device_id,
        )  # fmt: skip

    def authz_request(self, ee: EnrolledEe, **kwargs: Any) -> bytes:
        kwargs.setdefault("generation_time", time32.now())
        return ee.request(self.cloud.hierarchy.certificate("ra"), **kwargs)

    def download_request(
        self, ee: EnrolledEe, filename: str | None = None, generation_time: int | None = None
    ) -> bytes:
        return download_request(
            filename or self.batch_name, enrollment=Signer(ee.ee.enrollment, ee.certificate),
            ra_certificate=self.cloud.hierarchy.certificate("ra"),
            generation_time=time32.now() if generation_time is None else generation_time,
        )  # fmt: skip

    def check(self, send: Callable[[], Any]) -> Any:
        """Send one hostile request; no AWS write may succeed, and now and then the full state is compared."""
        self.cloud.watch.take()
        answer = send()
        assert answer.status_code != 500, answer.body
        assert self.cloud.watch.take() == [], "a hostile request wrote to AWS"
        self.examples += 1
        if self.examples % _FULL_EVERY == 0:
            self.assert_unchanged()
        return answer

    def assert_unchanged(self) -> None:
        assert_unchanged(self.baseline, capture(self.cloud.settings))


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with open_cloud() as cloud:
        w = World(cloud)
        yield w
        w.assert_unchanged()


@pytest.fixture
def unchanged(world: World) -> Iterator[World]:
    """The world, with a full comparison after the test's last example."""
    yield world
    world.assert_unchanged()


def _post(world: World, body: bytes, headers: dict[str, str] | None = None) -> Any:
    def send() -> Any:
        with Client(world.cloud.eca.app) as client:
            return client.http.post(ENROLL, headers=OCTETS if headers is None else headers, body=body)

    return world.check(send)


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    position = bit % (len(flipped) * 8)
    flipped[position // 8] ^= 1 << (position % 8)
    return bytes(flipped)


def _reencrypted(world: World, flipped: bytes, original: bytes) -> bool:
    """True when a flip only made another ciphertext of the same plaintext, which the RA rightly opens.

    1609.2 ECIES (§5.3.5) does not authenticate the y-parity of the ephemeral key V: V and -V give
    the same ECDH x, hence the same keys and tag, so flipping ``compressed-y-0``/``-1`` of ``encKey.v``
    is a valid encryption of the very same request: the RA opens it like the original (an authorization
    request already stored is answered as its replay, ``authorize._same_request``). Such flips are
    not hostile input for these tests.
    """
    keyring = Keyring()
    hierarchy = world.cloud.hierarchy
    keyring.add_certificate(hierarchy.certificate("ra"), hierarchy.encryption_private_key("ra"))
    try:
        return decrypt(flipped, keyring).plaintext == decrypt(original, keyring).plaintext
    except CodecError:
        return False


def _refused(answer: Any, *codes: ErrorCode) -> ErrorCode:
    """The answer is a 1609.2.1 refusal with one of ``codes``, the status matching the code."""
    assert HEADER in answer.headers, (answer.status_code, answer.body)
    code = ErrorCode(answer.headers[HEADER])
    assert code in codes, (code, answer.body)
    assert answer.status_code == code.http_status
    return code


# ------------------------------------------------------------------ POST /v3/enrollment-certificate


def test_valid_request_is_accepted_so_the_refusals_below_are_about_the_defect(world: World) -> None:
    # The twin of the properties below: a well-formed request of a registered device is accepted and
    # the write watch sees its writes (so "no write" below means something). It writes, so the
    # module's baseline is taken again afterwards.
    fresh = world.cloud.register("obu-twin")
    request = fresh.request(generation_time=time32.now())
    with Client(world.cloud.eca.app) as client:
        answer = client.http.post(ENROLL, headers=OCTETS, body=request)
    assert answer.status_code == 200
    assert world.cloud.watch.take() != []  # the watch does see writes
    world.baseline = capture(world.cloud.settings)


@given(cut=st.integers(min_value=0, max_value=10_000))
@MANY
def test_truncated_request_is_400_42(unchanged: World, cut: int) -> None:
    body = unchanged.valid[: cut % len(unchanged.valid)]
    _refused(_post(unchanged, body), ErrorCode.FAILED_PARSING)


@given(bit=st.integers(min_value=0))
@MANY
def test_bit_flipped_request_is_refused_as_parse_signature_or_identity_error(unchanged: World, bit: int) -> None:
    data = bytearray(unchanged.valid)
    position = bit % (len(data) * 8)
    data[position // 8] ^= 1 << (position % 8)
    # Where the flip lands decides the code: structure (42), the signed bytes or the signature (43),
    # the canonicalId (21: no such device). It is never accepted.
    _refused(
        _post(unchanged, bytes(data)),
        ErrorCode.FAILED_PARSING,
        ErrorCode.SIGNATURE_VERIFICATION_FAILED,
        ErrorCode.ENROLLMENT_CERT_UNREGISTERED,
    )


@given(seed=st.integers(min_value=0, max_value=2**32), prefix=st.booleans())
@FEW
def test_one_megabyte_body_is_400_42(unchanged: World, seed: int, prefix: bool) -> None:
    noise = random.Random(seed).randbytes(1 << 20)
    body = unchanged.valid + noise if prefix else noise
    _refused(_post(unchanged, body), ErrorCode.FAILED_PARSING)


@pytest.mark.parametrize("sample", encoded_samples(), ids=lambda s: s.path.removeprefix("encoded/"))
def test_other_asn1_types_from_the_vectors_are_400_42(unchanged: World, sample: Any) -> None:
    if "EeEcaCertRequestSpdu" in sample.path:
        # The right type from other implementations (one misnamed "Encrypted", see vectors/index.json):
        # it parses, and its device is not registered here.
        _refused(_post(unchanged, sample.data), ErrorCode.ENROLLMENT_CERT_UNREGISTERED)
        return
    _refused(_post(unchanged, sample.data), ErrorCode.FAILED_PARSING)


@given(offset=st.integers(min_value=0, max_value=60))
@FAST
def test_request_signed_by_another_key_is_400_43(unchanged: World, offset: int) -> None:
    body = unchanged.ee.request(
        generation_time=time32.now() - offset, sign_with=ec.generate_private_key(ec.SECP256R1())
    )
    _refused(_post(unchanged, body), ErrorCode.SIGNATURE_VERIFICATION_FAILED)


@given(age=st.integers(min_value=1, max_value=10 * 365 * 86400))
@FAST
def test_request_older_than_eca_max_age_is_400_70(unchanged: World, age: int) -> None:
    generated = time32.now() - unchanged.cloud.settings.eca_max_age - age
    _refused(_post(unchanged, unchanged.ee.request(generation_time=max(generated, 0))), ErrorCode.ECA_MAX_AGE)


@given(ahead=st.integers(min_value=1, max_value=10 * 365 * 86400))
@FAST
def test_future_dated_request_is_400_50(unchanged: World, ahead: int) -> None:
    generated = time32.now() + unchanged.cloud.settings.clock_skew + 2 + ahead
    _refused(_post(unchanged, unchanged.ee.request(generation_time=generated)), ErrorCode.GENERATION_TIME_IN_FUTURE)


@given(position=st.integers(min_value=0), delta=st.integers(min_value=1, max_value=255))
@MANY
def test_replay_of_an_answered_request_with_one_byte_changed_is_refused(
    unchanged: World, position: int, delta: int
) -> None:
    data = bytearray(unchanged.enrolled_request)
    data[position % len(data)] = (data[position % len(data)] + delta) % 256
    _refused(
        _post(unchanged, bytes(data)),
        ErrorCode.FAILED_PARSING,
        ErrorCode.SIGNATURE_VERIFICATION_FAILED,
        ErrorCode.ENROLLMENT_CERT_UNREGISTERED,
    )


@given(canonical_id=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=80))
@FAST
def test_unknown_canonical_id_is_400_21(unchanged: World, canonical_id: str) -> None:
    if canonical_id in (unchanged.ee.canonical_id, unchanged.other.canonical_id):
        return
    body = unchanged.ee.request(generation_time=time32.now(), canonical_id=canonical_id, unchecked=True)
    _refused(_post(unchanged, body), ErrorCode.ENROLLMENT_CERT_UNREGISTERED)


def test_another_devices_canonical_id_is_400_43(unchanged: World) -> None:
    body = unchanged.ee.request(generation_time=time32.now(), canonical_id=unchanged.other.canonical_id)
    _refused(_post(unchanged, body), ErrorCode.SIGNATURE_VERIFICATION_FAILED)


def test_request_without_canonical_id_is_400_21_when_self_keyed_enrollment_is_off(unchanged: World) -> None:
    body = unchanged.ee.request(generation_time=time32.now(), canonical_id=None)
    _refused(_post(unchanged, body), ErrorCode.ENROLLMENT_CERT_UNREGISTERED)


@given(seed=st.integers(min_value=0, max_value=2**16))
@FEW
def test_encrypted_instead_of_signed_is_400_42(unchanged: World, seed: int) -> None:
    del seed  # each example encrypts afresh (new ephemeral key and nonce)
    body = encrypt(unchanged.valid, CertRecipient(unchanged.cloud.hierarchy.certificate("ra")))
    _refused(_post(unchanged, body), ErrorCode.FAILED_PARSING)


def test_empty_body_is_400_42(unchanged: World) -> None:
    _refused(_post(unchanged, b""), ErrorCode.FAILED_PARSING)


@given(
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "image/png"]
    )
)
@FEW
def test_wrong_content_type_is_415_without_a_1609_header(unchanged: World, content_type: str) -> None:
    answer = _post(unchanged, unchanged.valid, {"Content-Type": content_type, "Accept": "application/octet-stream"})
    assert answer.status_code == 415 and HEADER not in answer.headers


@given(body=st.binary(max_size=400))
@MANY
def test_random_bytes_are_refused_with_a_table_8_code(unchanged: World, body: bytes) -> None:
    answer = _post(unchanged, body)
    assert answer.status_code == 400 and HEADER in answer.headers
    ErrorCode(answer.headers[HEADER])


# ------------------------------------------------------------------ POST /v3/authorization-certificate

# Where a defect in an encrypted request lands decides the code: the envelope's structure (42), not
# encrypted at all (10), the recipient or ciphertext (41), the signed request inside (42, 43), the
# enrollment certificate (40, 62, 21). It is never accepted and never starts anything.
_ENVELOPE = (
    ErrorCode.FAILED_PARSING,
    ErrorCode.NOT_ENCRYPTED,
    ErrorCode.DECRYPTION_FAILED,
    ErrorCode.SIGNATURE_VERIFICATION_FAILED,
)


def _authz(world: World, body: bytes, headers: dict[str, str] | None = None) -> Any:
    def send() -> Any:
        with Client(world.cloud.ra.app) as client:
            return client.http.post(AUTHZ, headers=OCTETS if headers is None else headers, body=body)

    return world.check(send)


def test_valid_authorization_request_is_acked_so_the_refusals_below_are_about_the_defect(world: World) -> None:
    # The twin: a well-formed request of an enrolled device is acked (202), stored and started, and
    # the write watch sees it. It writes, so the module's baseline is taken again afterwards.
    with Client(world.cloud.ra.app) as client:
        answer = client.http.post(
            AUTHZ, headers=OCTETS, body=world.authz_request(world.obu, generation_time=time32.now() - 3)
        )
    assert answer.status_code == 202
    writes = world.cloud.watch.take()
    assert "stepfunctions.StartExecution" in writes and "dynamodb.TransactWriteItems" in writes
    world.baseline = capture(world.cloud.settings)


@given(cut=st.integers(min_value=0, max_value=10_000))
@MANY
def test_truncated_authorization_request_is_refused(unchanged: World, cut: int) -> None:
    body = unchanged.authz_valid[: cut % len(unchanged.authz_valid)]
    _refused(_authz(unchanged, body), *_ENVELOPE)


@given(bit=st.integers(min_value=0))
@MANY
def test_bit_flipped_authorization_request_is_refused(unchanged: World, bit: int) -> None:
    original = unchanged.authz_request(unchanged.obu)
    data = _flip(original, bit)
    if _reencrypted(unchanged, data, original):
        return
    _refused(_authz(unchanged, data), *_ENVELOPE)


@given(body=st.binary(max_size=400))
@MANY
def test_random_bytes_as_authorization_request_are_refused_with_a_table_8_code(unchanged: World, body: bytes) -> None:
    answer = _authz(unchanged, body)
    assert answer.status_code == 400 and HEADER in answer.headers
    ErrorCode(answer.headers[HEADER])


@given(seed=st.integers(min_value=0, max_value=2**32))
@FEW
def test_one_megabyte_authorization_request_is_refused(unchanged: World, seed: int) -> None:
    noise = random.Random(seed).randbytes(1 << 20)
    _refused(_authz(unchanged, unchanged.authz_valid + noise), *_ENVELOPE)


def test_an_enrollment_request_sent_to_the_ra_is_400_10(unchanged: World) -> None:
    # Signed but not encrypted: the wrong type for this endpoint.
    _refused(_authz(unchanged, unchanged.valid), ErrorCode.NOT_ENCRYPTED)


@pytest.mark.parametrize("role", ["ma", "eca"])
def test_request_encrypted_to_another_certificate_is_400_41(unchanged: World, role: str) -> None:
    recipient = unchanged.cloud.hierarchy.certificate(role)
    if recipient.encryption_key() is None:
        recipient = unchanged.cloud.hierarchy.certificate("ma")
    _refused(_authz(unchanged, unchanged.obu.request(recipient, generation_time=time32.now())),
             ErrorCode.DECRYPTION_FAILED)  # fmt: skip


@given(offset=st.integers(min_value=0, max_value=60))
@FEW
def test_authorization_request_signed_by_another_key_is_400_43(unchanged: World, offset: int) -> None:
    # The device's enrollment certificate, but a key that is not its own.
    forged = Signer(ec.generate_private_key(ec.SECP256R1()), unchanged.obu.certificate)
    body = unchanged.authz_request(unchanged.obu, generation_time=time32.now() - offset, sign_with=forged)
    _refused(_authz(unchanged, body), ErrorCode.SIGNATURE_VERIFICATION_FAILED)


@given(age=st.integers(min_value=1, max_value=10 * 365 * 86400))
@FAST
def test_authorization_request_older_than_ra_max_age_is_refused(unchanged: World, age: int) -> None:
    generated = max(time32.now() - unchanged.cloud.settings.ra_max_age - age, 0)
    # Older than ra-maxAge (77), or so old that the enrollment certificate was not yet valid (712).
    _refused(_authz(unchanged, unchanged.authz_request(unchanged.obu, generation_time=generated)),
             ErrorCode.RA_MAX_AGE, ErrorCode.OUTSIDE_ENROLLMENT_VALIDITY)  # fmt: skip


@given(ahead=st.integers(min_value=1, max_value=10 * 365 * 86400))
@FAST
def test_future_dated_authorization_request_is_refused(unchanged: World, ahead: int) -> None:
    generated = time32.now() + unchanged.cloud.settings.clock_skew + 2 + ahead
    _refused(_authz(unchanged, unchanged.authz_request(unchanged.obu, generation_time=generated)),
             ErrorCode.GENERATION_TIME_IN_FUTURE, ErrorCode.OUTSIDE_ENROLLMENT_VALIDITY)  # fmt: skip


@given(position=st.integers(min_value=0), delta=st.integers(min_value=1, max_value=255))
@MANY
def test_replay_of_an_acked_request_with_one_byte_changed_is_refused(
    unchanged: World, position: int, delta: int
) -> None:
    data = bytearray(unchanged.authz_valid)
    data[position % len(data)] = (data[position % len(data)] + delta) % 256
    _refused(_authz(unchanged, bytes(data)), *_ENVELOPE)


@given(
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", "image/png"])
)
@FEW
def test_wrong_content_type_on_the_authorization_request_is_415(unchanged: World, content_type: str) -> None:
    answer = _authz(
        unchanged, unchanged.authz_valid, {"Content-Type": content_type, "Accept": "application/octet-stream"}
    )
    assert answer.status_code == 415 and HEADER not in answer.headers


# ------------------------------------------------------------------ GET /v3/authorization-certificate


def _download(world: World, header: str | None, query: str = "") -> Any:
    headers = {"Accept": "application/octet-stream"}
    if header is not None:
        headers["Ieee-1609.2.1-Authorization"] = header

    def send() -> Any:
        with Client(world.cloud.ra.app) as client:
            return client.http.get(AUTHZ + query, headers=headers)

    return world.check(send)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_valid_download_is_200_and_counted_so_the_refusals_below_are_about_the_defect(world: World) -> None:
    # The twin: the device's own download request gets its zip, and counting it is a write.
    with Client(world.cloud.ra.app) as client:
        answer = client.http.get(AUTHZ, headers={"Ieee-1609.2.1-Authorization": _b64(world.download_request(world.obu)),
                                                 "Accept": "application/octet-stream"})  # fmt: skip
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/zip"
    assert world.cloud.watch.take() == ["dynamodb.PutItem"]
    world.baseline = capture(world.cloud.settings)


@given(header=st.text(max_size=300))
@MANY
def test_garbage_authorization_header_is_400_42(unchanged: World, header: str) -> None:
    try:
        header.encode("latin-1")
    except UnicodeEncodeError:
        return  # HTTP header values are octets; clients cannot send these code points
    if "\r" in header or "\n" in header:
        return
    _refused(_download(unchanged, header), ErrorCode.FAILED_PARSING)


@given(body=st.binary(max_size=400))
@MANY
def test_base64_of_random_bytes_is_refused_with_a_table_8_code(unchanged: World, body: bytes) -> None:
    answer = _download(unchanged, _b64(body))
    assert answer.status_code == 400 and HEADER in answer.headers
    ErrorCode(answer.headers[HEADER])


@given(bit=st.integers(min_value=0))
@MANY
def test_bit_flipped_download_request_is_refused(unchanged: World, bit: int) -> None:
    data = _flip(unchanged.download, bit)
    if _reencrypted(unchanged, data, unchanged.download):
        return
    _refused(_download(unchanged, _b64(data)), *_ENVELOPE)


def test_the_only_accepted_flips_are_the_ecies_ephemeral_key_parity(world: World) -> None:
    # Every single-bit flip of a download request is tried: the ones the RA could still open are
    # exactly those that toggle the ephemeral key's compressed-y-0/-1 choice (same plaintext).
    original = world.download
    opened = [bit for bit in range(len(original) * 8) if _reencrypted(world, _flip(original, bit), original)]
    assert len(opened) == 1
    flipped = _flip(original, opened[0])
    index = opened[0] // 8
    assert {original[index], flipped[index]} == {0x82, 0x83}  # EccP256CurvePoint compressed-y-0 / -1 tags


@given(cut=st.integers(min_value=1, max_value=10_000))
@FAST
def test_truncated_download_request_is_refused(unchanged: World, cut: int) -> None:
    _refused(_download(unchanged, _b64(unchanged.download[: cut % len(unchanged.download)])), *_ENVELOPE)


def test_another_devices_download_request_for_the_batch_is_400_43(unchanged: World) -> None:
    _refused(_download(unchanged, _b64(unchanged.download_request(unchanged.stranger))),
             ErrorCode.SIGNATURE_VERIFICATION_FAILED)  # fmt: skip


@given(request_hash=st.binary(min_size=8, max_size=8), i=st.integers(min_value=0, max_value=0xFFFF))
@FAST
def test_download_of_a_request_hash_that_is_not_the_devices_is_400_43(
    unchanged: World, request_hash: bytes, i: int
) -> None:
    name = batch_filename(request_hash, i)
    if name.split("_")[0] == unchanged.batch_name.split("_")[0]:
        return
    spdu = unchanged.download_request(unchanged.obu, filename=name)
    _refused(_download(unchanged, _b64(spdu)), ErrorCode.SIGNATURE_VERIFICATION_FAILED)


@given(age=st.integers(min_value=1, max_value=10 * 365 * 86400))
@FAST
def test_download_request_older_than_download_max_age_is_400_74(unchanged: World, age: int) -> None:
    generated = max(time32.now() - unchanged.cloud.settings.download_max_age - age, 0)
    spdu = unchanged.download_request(unchanged.obu, generation_time=generated)
    _refused(_download(unchanged, _b64(spdu)), ErrorCode.DOWNLOAD_MAX_AGE)


@given(ahead=st.integers(min_value=1, max_value=10 * 365 * 86400))
@FAST
def test_future_dated_download_request_is_400_50(unchanged: World, ahead: int) -> None:
    generated = time32.now() + unchanged.cloud.settings.clock_skew + 2 + ahead
    spdu = unchanged.download_request(unchanged.obu, generation_time=min(generated, 2**32 - 1))
    _refused(_download(unchanged, _b64(spdu)), ErrorCode.GENERATION_TIME_IN_FUTURE)


@given(filename=st.text(max_size=60))
@MANY
def test_filename_parameter_that_is_not_the_requested_file_is_400_42(unchanged: World, filename: str) -> None:
    if filename.lower() == unchanged.batch_name.lower():
        return
    query = "?" + urllib.parse.urlencode({"filename": filename})
    _refused(_download(unchanged, _b64(unchanged.download), query), ErrorCode.FAILED_PARSING)


def test_filename_parameter_without_the_header_is_400_42(unchanged: World) -> None:
    _refused(_download(unchanged, None, f"?filename={unchanged.batch_name}"), ErrorCode.FAILED_PARSING)
    _refused(_download(unchanged, None), ErrorCode.FAILED_PARSING)


def test_an_enrollment_request_as_download_header_is_400_10(unchanged: World) -> None:
    _refused(_download(unchanged, _b64(unchanged.valid)), ErrorCode.NOT_ENCRYPTED, ErrorCode.FAILED_PARSING)


# ------------------------------------------------------------------ GET /v3/ca-certificate


def _get_certificate(world: World, query: str) -> Any:
    def send() -> Any:
        with Client(world.cloud.ra.app) as client:
            return client.http.get(f"/v3/ca-certificate?{query}", headers={"Accept": "application/octet-stream"})

    return world.check(send)


@given(cert_id=st.text(max_size=40))
@MANY
def test_garbage_cert_id_is_400_42(unchanged: World, cert_id: str) -> None:
    if len(cert_id) == 16 and all(c in "0123456789abcdefABCDEF" for c in cert_id):
        return
    answer = _get_certificate(unchanged, "certId=" + urllib.parse.quote(cert_id, safe=""))
    _refused(answer, ErrorCode.FAILED_PARSING)


@given(cert_id=st.binary(min_size=8, max_size=8))
@FAST
def test_unknown_well_formed_cert_id_is_404_without_a_1609_header(unchanged: World, cert_id: bytes) -> None:
    if unchanged.cloud.hierarchy.by_hashed_id8(cert_id) is not None:
        return
    answer = _get_certificate(unchanged, "certId=" + cert_id.hex())
    assert answer.status_code == 404 and HEADER not in answer.headers


def test_missing_cert_id_is_400_42_and_a_known_one_is_200(unchanged: World) -> None:
    _refused(_get_certificate(unchanged, ""), ErrorCode.FAILED_PARSING)
    root = unchanged.cloud.hierarchy.certificate("root")
    answer = _get_certificate(unchanged, "certId=" + root.hashed_id8.hex())
    assert answer.status_code == 200 and answer.body == root.encoded


# ------------------------------------------------------------------ management API

DEVICE_ROUTES = [
    ("GET", "/manage/v1/devices/{id}"),
    ("POST", "/manage/v1/devices/{id}/block"),
    ("POST", "/manage/v1/devices/{id}/unblock"),
    ("DELETE", "/manage/v1/devices/{id}"),
]
ALL_ROUTES = [("POST", "/manage/v1/devices"), ("GET", "/manage/v1/devices"), *DEVICE_ROUTES]


def _manage(world: World, method: str, path: str, body: bytes | str, headers: dict[str, str]) -> Any:
    def send() -> Any:
        with Client(world.cloud.ra.app) as client:
            return client.http.request(method, path, headers=headers, body=body)

    return world.check(send)


def _key(world: World) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Api-Key": world.cloud.api_key}


def _json_error(answer: Any, *statuses: int) -> None:
    assert answer.status_code in statuses, (answer.status_code, answer.body)
    assert HEADER not in answer.headers  # management errors are not 1609.2.1 refusals
    doc = json.loads(answer.body)
    assert doc["status"] == answer.status_code and isinstance(doc["error"], str)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@given(body=st.binary(max_size=200))
@FAST
def test_register_with_bytes_that_are_not_json_is_400(unchanged: World, body: bytes) -> None:
    try:
        json.loads(body)
        return
    except ValueError:
        pass
    _json_error(_manage(unchanged, "POST", "/manage/v1/devices", body, _key(unchanged)), 400)


@given(
    device_id=JSON_VALUES,
    key=JSON_VALUES,
    permissions=JSON_VALUES,
    region=JSON_VALUES,
    policy=JSON_VALUES,
)
@MANY
def test_register_with_wrongly_typed_fields_is_400(
    unchanged: World, device_id: Any, key: Any, permissions: Any, region: Any, policy: Any
) -> None:
    body = {"device_id": device_id, "canonical_public_key": key, "permissions": permissions}
    body |= {"region": region, "policy": policy}
    _json_error(_manage(unchanged, "POST", "/manage/v1/devices", json.dumps(body), _key(unchanged)), 400)


@given(
    field=st.sampled_from(["device_id", "canonical_public_key", "canonical_id", "cause"]),
    # Limits: device_id 64, canonical_id 128, cause 256 characters; a key is hex.
    size=st.sampled_from([257, 4097, 1_000_000]),
    char=st.sampled_from(["a", "0", "é", "\u202e", "\U0001f600", "\x00"]),
)
@FAST
def test_huge_or_unicode_fields_are_400(unchanged: World, field: str, size: int, char: str) -> None:
    value = char * size
    if field == "cause":
        answer = _manage(
            unchanged, "POST", "/manage/v1/devices/obu-hostile/block", json.dumps({"cause": value}), _key(unchanged)
        )
    else:
        body = {"device_id": "obu-new", "canonical_public_key": "02" + "11" * 32, field: value}
        answer = _manage(unchanged, "POST", "/manage/v1/devices", json.dumps(body), _key(unchanged))
    _json_error(answer, 400)


DEVICE_IDS = st.one_of(
    st.sampled_from(
        [
            "..",
            "../..",
            "../../etc/passwd",
            "..%2F..%2Fetc%2Fpasswd",
            "%2e%2e",
            "obu-hostile/../obu-other",
            "obu-hostile%00",
            "obu-hostile#STATE",
            "*",
            "%",
            "DEVICE#obu-hostile",
            "a" * 65,
        ]
    ),
    st.text(min_size=1, max_size=80),
)


@given(device_id=DEVICE_IDS, route=st.sampled_from(DEVICE_ROUTES))
@MANY
def test_path_traversal_or_unicode_device_id_never_reaches_a_device(
    unchanged: World, device_id: str, route: tuple[str, str]
) -> None:
    method, template = route
    path = template.replace("{id}", urllib.parse.quote(device_id, safe="/%"))
    answer = _manage(unchanged, method, path, json.dumps({"cause": "hostile"}), _key(unchanged))
    # Not a device (404), not a valid id (400), or not a route at all (Chalice: 403/404 "missing route").
    assert answer.status_code in (400, 403, 404), (path, answer.status_code, answer.body)


@given(
    route=st.sampled_from(ALL_ROUTES),
    key=st.one_of(st.none(), st.just(""), st.text(max_size=80), st.just("0" * 64)),
    body=st.sampled_from([b"", b"{}", b'{"cause": "x"}', b'{"device_id": "obu-x", "canonical_public_key": "02"}']),
)
@MANY
def test_missing_or_invalid_api_key_is_401_or_403_on_every_route(
    unchanged: World, route: tuple[str, str], key: str | None, body: bytes
) -> None:
    method, template = route
    headers = {"Content-Type": "application/json"}
    if key is not None:
        try:
            key.encode("latin-1")
        except UnicodeEncodeError:
            return  # HTTP header values are octets; clients cannot send these code points
        headers["X-Api-Key"] = key
    answer = _manage(unchanged, method, template.replace("{id}", "obu-hostile"), body, headers)
    _json_error(answer, 401 if not key else 403)


@pytest.mark.parametrize(("method", "template"), ALL_ROUTES)
def test_right_api_key_passes_the_check_on_every_route(unchanged: World, method: str, template: str) -> None:
    # The twin: with the key, the same routes get past authentication (a 400/404/409 about the body
    # or state, or 200 for reads); GET routes are the only ones that may answer 200 here.
    body = json.dumps({"cause": "x", "version": 999}) if method != "GET" else ""
    answer = _manage(unchanged, method, template.replace("{id}", "obu-hostile"), body, _key(unchanged))
    assert answer.status_code not in (401, 403)
    assert answer.status_code == 200 if method == "GET" else answer.status_code in (400, 404, 409)


@given(limit=st.text(max_size=12), token=st.text(max_size=60))
@FAST
def test_garbage_list_parameters_are_400_not_500(unchanged: World, limit: str, token: str) -> None:
    query = urllib.parse.urlencode({"limit": limit, "next": token})
    answer = _manage(unchanged, "GET", f"/manage/v1/devices?{query}", "", _key(unchanged))
    if answer.status_code == 200:
        return  # a well-formed limit and an empty or valid token
    _json_error(answer, 400)


# ------------------------------------------------------------------ where the CA private keys are


def _private_keys(world: World) -> dict[str, ec.EllipticCurvePrivateKey]:
    hierarchy = world.cloud.hierarchy
    found = {f"{role}/signing": hierarchy.signer(role).key for role in hierarchy.roles}
    found |= {f"{role}/encryption": hierarchy.encryption_private_key(role) for role in ("ra", "ma")}
    return found


def _forms(key: ec.EllipticCurvePrivateKey) -> list[bytes]:
    """The private key as raw scalar, hex (both cases), PKCS#8 DER, its base64 and PEM."""
    size = (key.curve.key_size + 7) // 8
    scalar = key.private_numbers().private_value.to_bytes(size, "big")
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return [scalar, scalar.hex().encode(), scalar.hex().upper().encode(), der, base64.b64encode(der), pem]


def _holders(texts: list[tuple[str, bytes]], key: ec.EllipticCurvePrivateKey) -> set[str]:
    forms = _forms(key)
    return {where for where, octets in texts if any(f in octets for f in forms) or b"PRIVATE KEY" in octets}


def test_ca_private_keys_are_in_secrets_manager_and_in_no_table_item_or_s3_object(world: World) -> None:
    state = capture(world.cloud.settings, contents=True)
    texts = list(state.texts())
    stored = [(w, t) for w, t in texts if not w.startswith("secret ")]
    for name, key in _private_keys(world).items():
        holders = _holders(texts, key)
        # The twin: the scan does find the key, in its own secret (so "nowhere else" means something).
        assert any(w.startswith(f"secret {world.cloud.settings.secret_prefix}ca/") for w in holders), name
        assert _holders(stored, key) == set(), name


def test_local_state_file_holding_the_keys_is_readable_by_its_owner_only(world: World, tmp_path: Any) -> None:
    settings = world.cloud.settings
    data = local_state.snapshot(
        dynamodb=aws.client("dynamodb"),
        s3=aws.client("s3"),
        secretsmanager=aws.client("secretsmanager"),
        tables=[settings.ra_table, settings.eca_table, settings.ca_table],
        bucket=settings.artifacts_bucket,
        kms_key=None,
    )
    path = local_state.write_state(tmp_path / "state", data)
    content = path.read_bytes()
    pem_lines = [_forms(k)[-1].decode().splitlines()[1] for k in _private_keys(world).values()]
    assert all(line.encode() in content for line in pem_lines)  # the file does hold them ...
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # ... so only its owner may read it
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temporary copy left behind


# ------------------------------------------------------------------ /v3/successor-enrollment-certificate

SUCCESSOR = "/v3/successor-enrollment-certificate"


class Successor:
    """An enrolled device whose successor request was accepted through the route (the module's baseline after it)."""

    def __init__(self, world: World) -> None:
        from tests.unit.ra.test_successor import Holder, successor_request

        self.world = world
        ra_cert = world.cloud.hierarchy.certificate("ra")
        enrolled = world.enrolled("obu-succ-hostile")
        self.holder = Holder(enrolled.ee, enrolled.certificate)
        self.make = lambda **kwargs: successor_request(self.holder, ra_cert, **kwargs)[0]
        self.valid = self.make(generation_time=time32.now())
        with Client(world.cloud.ra.app) as client:
            answer = client.http.post(SUCCESSOR, headers=OCTETS, body=self.valid)
        assert answer.status_code == 202, answer.body
        self.name = f"{parse_ra_ee_enrollment_cert_ack(answer.body).content.request_hash.hex().upper()}_enroll.oer"
        self.download = world.download_request(enrolled, filename=self.name)
        self.enrolled = enrolled
        world.cloud.watch.take()
        world.baseline = capture(world.cloud.settings)


@pytest.fixture(scope="module")
def successor(world: World) -> Successor:
    return Successor(world)


def _successor_post(world: World, body: bytes) -> Any:
    def send() -> Any:
        with Client(world.cloud.ra.app) as client:
            return client.http.post(SUCCESSOR, headers=OCTETS, body=body)

    return world.check(send)


def _successor_get(world: World, header: str | None, query: str = "") -> Any:
    headers = {"Accept": "application/octet-stream"}
    if header is not None:
        headers["Ieee-1609.2.1-Authorization"] = header

    def send() -> Any:
        with Client(world.cloud.ra.app) as client:
            return client.http.get(SUCCESSOR + query, headers=headers)

    return world.check(send)


def test_valid_successor_download_is_200_so_the_refusals_below_are_about_the_defect(
    world: World, successor: Successor
) -> None:
    # The twin: the requesting certificate gets its file, and counting the download is a write.
    with Client(world.cloud.ra.app) as client:
        answer = client.http.get(SUCCESSOR, headers={"Ieee-1609.2.1-Authorization": _b64(successor.download),
                                                     "Accept": "application/octet-stream"})  # fmt: skip
    assert answer.status_code == 200 and answer.body
    assert world.cloud.watch.take() == ["dynamodb.PutItem"]
    world.baseline = capture(world.cloud.settings)


def test_replay_of_the_accepted_successor_request_is_its_ack_and_writes_nothing(
    unchanged: World, successor: Successor
) -> None:
    answer = _successor_post(unchanged, successor.valid)
    assert answer.status_code == 202


@given(cut=st.integers(min_value=0, max_value=10_000))
@FAST
def test_truncated_successor_request_is_refused(unchanged: World, successor: Successor, cut: int) -> None:
    _refused(_successor_post(unchanged, successor.valid[: cut % len(successor.valid)]), *_ENVELOPE)


@given(bit=st.integers(min_value=0))
@FAST
def test_bit_flipped_successor_request_is_refused(unchanged: World, successor: Successor, bit: int) -> None:
    data = _flip(successor.valid, bit)
    if _reencrypted(unchanged, data, successor.valid):
        return
    _refused(_successor_post(unchanged, data), *_ENVELOPE)


@given(body=st.binary(max_size=400))
@FAST
def test_random_bytes_as_successor_request_are_refused_with_a_table_8_code(unchanged: World, body: bytes) -> None:
    answer = _successor_post(unchanged, body)
    assert answer.status_code == 400 and HEADER in answer.headers
    ErrorCode(answer.headers[HEADER])


def test_one_megabyte_successor_request_is_refused(unchanged: World, successor: Successor) -> None:
    _refused(_successor_post(unchanged, successor.valid + random.Random(6).randbytes(1 << 20)), *_ENVELOPE)


def test_authorization_request_sent_as_successor_request_is_refused(unchanged: World) -> None:
    # Encrypted and signed by an enrollment certificate, but an EeRaCertRequest: the wrong ScmsPdu (400-42).
    _refused(_successor_post(unchanged, unchanged.authz_request(unchanged.obu)), ErrorCode.FAILED_PARSING)


@given(ahead=st.integers(min_value=1, max_value=10 * 365 * 86400))
@FEW
def test_future_dated_successor_request_is_400_50(unchanged: World, successor: Successor, ahead: int) -> None:
    generated = min(time32.now() + unchanged.cloud.settings.clock_skew + 2 + ahead, 2**32 - 1)
    _refused(_successor_post(unchanged, successor.make(generation_time=generated)),
             ErrorCode.GENERATION_TIME_IN_FUTURE, ErrorCode.OUTSIDE_ENROLLMENT_VALIDITY)  # fmt: skip


def test_successor_request_by_a_superseded_certificate_is_400_32(unchanged: World, successor: Successor) -> None:
    _refused(_successor_post(unchanged, successor.make(generation_time=time32.now())),
             ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED)  # fmt: skip


@given(header=st.text(max_size=300))
@FAST
def test_garbage_successor_download_header_is_400_42(unchanged: World, successor: Successor, header: str) -> None:
    try:
        header.encode("latin-1")
    except UnicodeEncodeError:
        return  # HTTP header values are octets; clients cannot send these code points
    if "\r" in header or "\n" in header:
        return
    _refused(_successor_get(unchanged, header), ErrorCode.FAILED_PARSING)


@given(bit=st.integers(min_value=0))
@FAST
def test_bit_flipped_successor_download_request_is_refused(unchanged: World, successor: Successor, bit: int) -> None:
    data = _flip(successor.download, bit)
    if _reencrypted(unchanged, data, successor.download):
        return
    _refused(_successor_get(unchanged, _b64(data)), *_ENVELOPE)


def test_another_devices_successor_download_is_400_43(unchanged: World, successor: Successor) -> None:
    spdu = unchanged.download_request(unchanged.stranger, filename=successor.name)
    _refused(_successor_get(unchanged, _b64(spdu)), ErrorCode.SIGNATURE_VERIFICATION_FAILED)


@given(filename=st.text(max_size=60))
@FAST
def test_successor_filename_that_is_not_the_requested_file_is_400_42(
    unchanged: World, successor: Successor, filename: str
) -> None:
    if filename.lower() == successor.name.lower():
        return
    query = "?" + urllib.parse.urlencode({"filename": filename})
    _refused(_successor_get(unchanged, _b64(successor.download), query), ErrorCode.FAILED_PARSING)


def test_a_batch_name_in_the_successor_download_is_400_42(unchanged: World, successor: Successor) -> None:
    _refused(_successor_get(unchanged, _b64(unchanged.download)), ErrorCode.FAILED_PARSING)
    _refused(_successor_get(unchanged, None), ErrorCode.FAILED_PARSING)
