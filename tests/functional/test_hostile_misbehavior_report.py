"""Hostile input to ``POST /v3/misbehavior-report`` (issue #7 §3), property-based: truncated,
bit-flipped, oversized, random, wrong recipient, wrongly signed and replayed-with-a-change reports
each get their Table 8 code and header, never a 500, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scms_codec import time32
from scms_codec.errors import CodecError, ErrorCode
from scms_codec.secured.encrypted_data import decrypt, encrypt
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.recipients import CertRecipient
from scms_codec.secured.signer import Signer
from scms_codec.spdu.misbehavior import build_misbehavior_report
from tests.functional.ma_support import load_ma_app, ma_services, misbehavior_report
from tests.support.stack import Cloud, open_cloud
from tests.support.state import StoredState, assert_unchanged, capture
from tests.unit.ma.conftest import evidence, new_key, pseudonym
from tests.unit.ma.fakes import FakeAuthorities

REPORT = "/v3/misbehavior-report"
OCTETS = {"Content-Type": "application/octet-stream"}
HEADER = "Ieee-1609.2.1-Error"
FAST = settings(
    max_examples=60, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip


class World:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.app: ModuleType = load_ma_app("scms_ma_hostile_app")
        self.app.configure(ma_services(cloud.settings, cloud.hierarchy, FakeAuthorities().authorities()))
        # One stored report, so that replays of it with a change are judged against a real one.
        self.stored = misbehavior_report(cloud.hierarchy, now=time32.now())
        with Client(self.app.app) as client:
            assert client.http.post(REPORT, headers=OCTETS, body=self.stored).status_code == 202
        self.valid = misbehavior_report(cloud.hierarchy, now=time32.now())
        self.baseline: StoredState = capture(cloud.settings)
        cloud.watch.take()

    def post(self, body: bytes) -> Any:
        self.cloud.watch.take()
        with Client(self.app.app) as client:
            answer = client.http.post(REPORT, headers=OCTETS, body=body)
        assert answer.status_code != 500, answer.body
        assert self.cloud.watch.take() == [], "a hostile report wrote to AWS"
        return answer

    def same_plaintext(self, data: bytes, original: bytes) -> bool:
        """A flip that only re-encrypted the same report (ECIES V's y-parity): it is that report, not hostile."""
        keyring = Keyring()
        h = self.cloud.hierarchy
        keyring.add_certificate(h.certificate("ma"), h.encryption_private_key("ma"))
        try:
            return decrypt(data, keyring).plaintext == decrypt(original, keyring).plaintext
        except CodecError:
            return False


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with open_cloud() as cloud:
        w = World(cloud)
        yield w
        assert_unchanged(w.baseline, capture(cloud.settings))
        w.app.configure(None)


def _pseudonyms(h: Any) -> tuple[Signer, Signer]:
    aca = h.signer("aca")
    return pseudonym(aca, start=time32.now() - 3600), pseudonym(aca, start=time32.now() - 3600)


def _refused(answer: Any, *codes: ErrorCode) -> ErrorCode:
    assert HEADER in answer.headers, (answer.status_code, answer.body)
    code = ErrorCode(answer.headers[HEADER])
    assert code in codes, (code, answer.body)
    assert answer.status_code == code.http_status
    return code


def test_valid_report_is_accepted_so_the_refusals_below_are_about_the_defect(world: World) -> None:
    # The twin: a valid report is stored, and the write watch sees it (so "no write" below means something)
    with Client(world.app.app) as client:
        fresh = misbehavior_report(world.cloud.hierarchy, now=time32.now())
        assert client.http.post(REPORT, headers=OCTETS, body=fresh).status_code == 202
    assert world.cloud.watch.take() != []
    world.baseline = capture(world.cloud.settings)


@FAST
@given(cut=st.integers(min_value=1, max_value=4000))
def test_truncated_report_is_400_42(world: World, cut: int) -> None:
    data = world.valid[: max(0, len(world.valid) - cut)]
    _refused(world.post(data), ErrorCode.FAILED_PARSING)


@FAST
@given(bit=st.integers(min_value=0))
def test_bit_flipped_report_is_refused(world: World, bit: int) -> None:
    flipped = bytearray(world.valid)
    position = bit % (len(flipped) * 8)
    flipped[position // 8] ^= 1 << (position % 8)
    if world.same_plaintext(bytes(flipped), world.valid):
        return  # another ciphertext of the same report (it would be stored, as the original would)
    _refused(world.post(bytes(flipped)), ErrorCode.FAILED_PARSING, ErrorCode.DECRYPTION_FAILED, ErrorCode.NOT_ENCRYPTED)


@FAST
@given(bit=st.integers(min_value=0))
def test_replay_of_a_stored_report_with_one_bit_changed_is_refused_or_is_that_report(world: World, bit: int) -> None:
    flipped = bytearray(world.stored)
    position = bit % (len(flipped) * 8)
    flipped[position // 8] ^= 1 << (position % 8)
    answer = world.post(bytes(flipped))
    if world.same_plaintext(bytes(flipped), world.stored):
        # Answered as the stored report (its id), nothing new stored
        assert answer.status_code == 202
        return
    _refused(answer, ErrorCode.FAILED_PARSING, ErrorCode.DECRYPTION_FAILED, ErrorCode.NOT_ENCRYPTED)


@FAST
@given(body=st.binary(max_size=300))
def test_random_bytes_are_refused_with_a_table_8_code(world: World, body: bytes) -> None:
    _refused(world.post(body), ErrorCode.FAILED_PARSING, ErrorCode.NOT_ENCRYPTED, ErrorCode.DECRYPTION_FAILED)


@pytest.mark.parametrize("prefix", [True, False])
def test_oversized_report_is_400_42(world: World, prefix: bool) -> None:
    padding = bytes(70_000)
    _refused(world.post(world.valid + padding if prefix else padding), ErrorCode.FAILED_PARSING)


def test_report_to_the_ra_is_400_41(world: World) -> None:
    h = world.cloud.hierarchy
    reporter, suspect = _pseudonyms(h)
    data = build_misbehavior_report(
        evidence(suspect, at=time32.now() - 5), reporter, h.certificate("ra"), generation_time=time32.now()
    )
    _refused(world.post(data), ErrorCode.DECRYPTION_FAILED)


def test_report_signed_by_another_key_is_400_43(world: World) -> None:
    h = world.cloud.hierarchy
    reporter, suspect = _pseudonyms(h)
    impostor = Signer(new_key(), reporter.certificate)
    data = build_misbehavior_report(
        evidence(suspect, at=time32.now() - 5), impostor, h.certificate("ma"), generation_time=time32.now()
    )
    _refused(world.post(data), ErrorCode.SIGNATURE_VERIFICATION_FAILED)


def test_report_with_forged_evidence_is_400_43(world: World) -> None:
    h = world.cloud.hierarchy
    reporter, suspect = _pseudonyms(h)
    forged = evidence(Signer(new_key(), suspect.certificate), at=time32.now() - 5)
    data = build_misbehavior_report(forged, reporter, h.certificate("ma"), generation_time=time32.now())
    _refused(world.post(data), ErrorCode.SIGNATURE_VERIFICATION_FAILED)


@pytest.mark.parametrize(
    ("offset", "code"), [(3600, ErrorCode.GENERATION_TIME_IN_FUTURE), (-3600, ErrorCode.RA_MAX_AGE)]
)
def test_report_out_of_time_is_refused(world: World, offset: int, code: ErrorCode) -> None:
    _refused(world.post(misbehavior_report(world.cloud.hierarchy, now=time32.now() + offset)), code)


def test_unencrypted_report_is_400_10(world: World) -> None:
    h = world.cloud.hierarchy
    _refused(world.post(evidence(pseudonym(h.signer("aca")))), ErrorCode.NOT_ENCRYPTED)
    # Twin: the same evidence encrypted as a plain data (no report) is a parse error after decryption
    wrapped = encrypt(evidence(pseudonym(h.signer("aca"))), CertRecipient(h.certificate("ma")))
    _refused(world.post(wrapped), ErrorCode.FAILED_PARSING)
