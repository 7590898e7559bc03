"""MisbehaviorReportSpdu: build, open and every refusal (protocol.md §3.6, §2.4 order), with failing twins."""

from __future__ import annotations

from typing import Any

import pytest

from scms_codec.crypto.hashing import hashed_id8
from scms_codec.errors import DecodeError, DecryptionError, InvalidSignature, NotEncrypted, SpduShapeError
from scms_codec.secured.encrypted_data import encrypt
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.recipients import CertRecipient
from scms_codec.secured.signed_data import sign_data, sign_tbs_data
from scms_codec.secured.signer import Signer
from scms_codec.secured.unsecured import wrap_unsecured
from scms_codec.spdu.misbehavior import (
    MISBEHAVIOR_REPORT_PSID,
    MisbehaviorReport,
    build_misbehavior_report,
    open_misbehavior_report,
    verify_evidence_signature,
)
from tests.support.pki import NOW, cert, issue, new_key

BSM_PSID = 32
T = NOW - 10


@pytest.fixture(scope="module")
def parties() -> dict[str, Any]:
    root = issue("root", None)
    ica = issue("ica", root)
    ma_encryption = new_key()
    ma = issue("ra", ica, ma_encryption.public_key())  # any certificate with an encryptionKey will do
    keyring = Keyring()
    keyring.add_certificate(cert(ma), ma_encryption)
    return {"ma": ma, "keyring": keyring, "reporter": issue("ee", ica), "suspect": issue("ee", ica)}


def evidence_from(suspect: Signer, *, signer_form: Any = "certificate") -> bytes:
    tbs = {
        "payload": {"data": {"protocolVersion": 3, "content": ("unsecuredData", b"BSM core data")}},
        "headerInfo": {"psid": BSM_PSID, "generationTime": T * 1_000_000 + 123},
    }
    return sign_tbs_data(tbs, suspect, signer_form=signer_form)


def inner_report(
    reporter: Signer, payload: bytes, *, header: dict[str, Any] | None = None, signer_form: Any = "certificate"
) -> bytes:
    tbs = {
        "payload": {"data": {"protocolVersion": 3, "content": ("unsecuredData", payload)}},
        "headerInfo": header or {"psid": MISBEHAVIOR_REPORT_PSID, "generationTime": T * 1_000_000},
    }
    return sign_tbs_data(tbs, reporter, signer_form=signer_form)


def test_report_opens_with_reporter_suspect_evidence_and_time(parties: dict[str, Any]) -> None:
    # Given evidence signed by the suspect, reported by the reporter to the MA
    evidence = evidence_from(parties["suspect"])
    data = build_misbehavior_report(evidence, parties["reporter"], cert(parties["ma"]), generation_time=T)
    # When the MA opens it
    report = open_misbehavior_report(data, parties["keyring"])
    # Then every field is what the reporter sent
    assert report.report_id == hashed_id8(data)
    assert report.reporter.encoded == cert(parties["reporter"]).encoded
    assert report.suspect.encoded == cert(parties["suspect"]).encoded
    assert report.evidence == evidence
    assert report.evidence_psid == BSM_PSID
    assert report.generation_time == T
    assert report.evidence_generation_time == T
    assert report.evidence_verified


def test_report_repr_leaves_out_the_evidence_octets(parties: dict[str, Any]) -> None:
    evidence = evidence_from(parties["suspect"])
    data = build_misbehavior_report(evidence, parties["reporter"], cert(parties["ma"]), generation_time=T)
    report = open_misbehavior_report(data, parties["keyring"])
    assert evidence.hex() not in repr(report) and "evidence=" not in repr(report)


def test_trailing_byte_is_a_parse_error(parties: dict[str, Any]) -> None:
    data = build_misbehavior_report(
        evidence_from(parties["suspect"]), parties["reporter"], cert(parties["ma"]), generation_time=T
    )
    open_misbehavior_report(data, parties["keyring"])
    with pytest.raises(DecodeError):
        open_misbehavior_report(data + b"\x00", parties["keyring"])


def test_truncated_report_is_a_parse_error(parties: dict[str, Any]) -> None:
    data = build_misbehavior_report(
        evidence_from(parties["suspect"]), parties["reporter"], cert(parties["ma"]), generation_time=T
    )
    with pytest.raises(DecodeError):
        open_misbehavior_report(data[:-1], parties["keyring"])


def test_flipped_ciphertext_does_not_decrypt(parties: dict[str, Any]) -> None:
    data = bytearray(
        build_misbehavior_report(
            evidence_from(parties["suspect"]), parties["reporter"], cert(parties["ma"]), generation_time=T
        )
    )
    data[-5] ^= 0x01
    with pytest.raises(DecryptionError):
        open_misbehavior_report(bytes(data), parties["keyring"])


def test_report_for_another_recipient_does_not_decrypt(parties: dict[str, Any]) -> None:
    other_key = new_key()
    other = issue("ra", parties["reporter"], other_key.public_key())
    data = build_misbehavior_report(
        evidence_from(parties["suspect"]), parties["reporter"], cert(other), generation_time=T
    )
    with pytest.raises(DecryptionError):
        open_misbehavior_report(data, parties["keyring"])
    keyring = Keyring()
    keyring.add_certificate(cert(other), other_key)
    assert open_misbehavior_report(data, keyring).generation_time == T


def test_unencrypted_report_is_refused_as_not_encrypted(parties: dict[str, Any]) -> None:
    inner = inner_report(parties["reporter"], evidence_from(parties["suspect"]))
    with pytest.raises(NotEncrypted):
        open_misbehavior_report(inner, parties["keyring"])
    assert open_misbehavior_report(encrypt(inner, CertRecipient(cert(parties["ma"]))), parties["keyring"])


@pytest.mark.parametrize(
    "header",
    [
        {"psid": 35, "generationTime": T * 1_000_000},
        {"psid": MISBEHAVIOR_REPORT_PSID},
        {"psid": MISBEHAVIOR_REPORT_PSID, "generationTime": T * 1_000_000, "expiryTime": T * 1_000_000 + 5},
    ],
    ids=["other-psid", "no-generation-time", "extra-header-field"],
)
def test_report_header_other_than_psid_38_and_generation_time_is_a_shape_error(
    parties: dict[str, Any], header: dict[str, Any]
) -> None:
    inner = inner_report(parties["reporter"], evidence_from(parties["suspect"]), header=header)
    with pytest.raises(SpduShapeError):
        open_misbehavior_report(encrypt(inner, CertRecipient(cert(parties["ma"]))), parties["keyring"])


def test_report_signed_by_digest_is_a_shape_error(parties: dict[str, Any]) -> None:
    inner = inner_report(parties["reporter"], evidence_from(parties["suspect"]), signer_form="digest")
    with pytest.raises(SpduShapeError):
        open_misbehavior_report(
            encrypt(inner, CertRecipient(cert(parties["ma"]))),
            parties["keyring"],
            resolve_signer=lambda h: cert(parties["reporter"]),
        )


def test_evidence_signed_by_digest_is_a_shape_error(parties: dict[str, Any]) -> None:
    evidence = evidence_from(parties["suspect"], signer_form="digest")
    inner = inner_report(parties["reporter"], evidence)
    with pytest.raises(SpduShapeError):
        open_misbehavior_report(encrypt(inner, CertRecipient(cert(parties["ma"]))), parties["keyring"])
    with pytest.raises(ValueError, match="evidence"):
        build_misbehavior_report(evidence, parties["reporter"], cert(parties["ma"]), generation_time=T)


@pytest.mark.parametrize("evidence", [wrap_unsecured(b"not signed"), b"\x03\x80\x01", b"junk"])
def test_evidence_that_is_not_signed_data_is_a_parse_error(parties: dict[str, Any], evidence: bytes) -> None:
    inner = inner_report(parties["reporter"], evidence)
    with pytest.raises(DecodeError):
        open_misbehavior_report(encrypt(inner, CertRecipient(cert(parties["ma"]))), parties["keyring"])


def test_evidence_with_trailing_bytes_is_a_parse_error(parties: dict[str, Any]) -> None:
    inner = inner_report(parties["reporter"], evidence_from(parties["suspect"]) + b"\x00")
    with pytest.raises(DecodeError):
        open_misbehavior_report(encrypt(inner, CertRecipient(cert(parties["ma"]))), parties["keyring"])


def test_report_signed_with_another_key_fails_its_signature(parties: dict[str, Any]) -> None:
    impostor = Signer(new_key(), cert(parties["reporter"]))
    inner = inner_report(impostor, evidence_from(parties["suspect"]))
    with pytest.raises(InvalidSignature):
        open_misbehavior_report(encrypt(inner, CertRecipient(cert(parties["ma"]))), parties["keyring"])


def test_forged_evidence_fails_on_open_or_on_its_own_check(parties: dict[str, Any]) -> None:
    # Given evidence that names the suspect's certificate but was signed with another key
    forged = evidence_from(Signer(new_key(), cert(parties["suspect"])))
    data = build_misbehavior_report(forged, parties["reporter"], cert(parties["ma"]), generation_time=T)
    # Then opening with evidence verification fails, and without it the separate check does
    with pytest.raises(InvalidSignature):
        open_misbehavior_report(data, parties["keyring"])
    report = open_misbehavior_report(data, parties["keyring"], verify_evidence=False)
    assert not report.evidence_verified
    with pytest.raises(InvalidSignature):
        verify_evidence_signature(report)


def test_deferred_evidence_check_passes_genuine_evidence(parties: dict[str, Any]) -> None:
    data = build_misbehavior_report(
        evidence_from(parties["suspect"]), parties["reporter"], cert(parties["ma"]), generation_time=T
    )
    report = open_misbehavior_report(data, parties["keyring"], verify_evidence=False)
    assert verify_evidence_signature(report).evidence_verified


def test_build_refuses_a_self_signer_and_bad_arguments(parties: dict[str, Any]) -> None:
    evidence = evidence_from(parties["suspect"])
    with pytest.raises(ValueError, match="reporter"):
        build_misbehavior_report(evidence, Signer(new_key()), cert(parties["ma"]), generation_time=T)
    with pytest.raises(ValueError, match="generation_time"):
        build_misbehavior_report(evidence, parties["reporter"], cert(parties["ma"]), generation_time=-1)
    with pytest.raises(TypeError, match="ma_cert"):
        build_misbehavior_report(evidence, parties["reporter"], b"cert", generation_time=T)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="report"):
        verify_evidence_signature(b"x")  # type: ignore[arg-type]


def test_signed_data_of_any_psid_is_accepted_as_evidence(parties: dict[str, Any]) -> None:
    # A psid-only SecurityMgmt SPDU is still signedData with a certificate signer
    evidence = sign_data(b"payload", 35, parties["suspect"])
    data = build_misbehavior_report(evidence, parties["reporter"], cert(parties["ma"]), generation_time=T)
    report = open_misbehavior_report(data, parties["keyring"])
    assert isinstance(report, MisbehaviorReport) and report.evidence_psid == 35


def test_another_encryption_of_the_same_report_keeps_its_signed_id(parties: dict[str, Any]) -> None:
    inner = inner_report(parties["reporter"], evidence_from(parties["suspect"]))
    first = open_misbehavior_report(encrypt(inner, CertRecipient(cert(parties["ma"]))), parties["keyring"])
    second = open_misbehavior_report(encrypt(inner, CertRecipient(cert(parties["ma"]))), parties["keyring"])
    assert first.report_id != second.report_id and first.signed_id == second.signed_id == hashed_id8(inner)
    other = inner_report(parties["reporter"], evidence_from(parties["suspect"]))
    third = open_misbehavior_report(encrypt(other, CertRecipient(cert(parties["ma"]))), parties["keyring"])
    assert third.signed_id != first.signed_id


def test_evidence_without_generation_time_has_none(parties: dict[str, Any]) -> None:
    evidence = sign_data(b"payload", 35, parties["suspect"])
    data = build_misbehavior_report(evidence, parties["reporter"], cert(parties["ma"]), generation_time=T)
    assert open_misbehavior_report(data, parties["keyring"]).evidence_generation_time is None
