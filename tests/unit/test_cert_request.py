"""Signed certificate requests: the OpenSCMS self-signed sample verifies, every signer form round-trips."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from scms_codec import asn1
from scms_codec.crypto.keys import verification_key_to_asn1
from scms_codec.errors import CodecError, DecodeError, InvalidSignature, SpduShapeError
from scms_codec.secured.cert_request import open_cert_request, requested_verification_key, sign_cert_request
from scms_codec.secured.signed_data import sign_data
from scms_codec.secured.signer import Signer
from tests.support.vectors import VECTORS
from tests.unit.test_signed_data import explicit_leaf, flip, implicit_leaf, root, tbs

OPENSCMS_REQUEST = (VECTORS / "encoded/openscms/EeEcaCertRequestSpdu.dat").read_bytes()


def ee_eca_request(key: ec.EllipticCurvePublicKey) -> bytes:
    """COER ScmsPdu eca-ee.eeEcaCertRequest asking to certify ``key`` (1609.2.1 §6.3.4)."""
    tbs_cert = tbs()
    del tbs_cert["appPermissions"]
    # eeType is written out (enrol, not the DEFAULT {app}): asn1tools cannot strictly decode an absent eeType.
    tbs_cert["certRequestPermissions"] = [{"subjectPermissions": ("all", None), "eeType": (b"\x40", 8)}]
    tbs_cert["verifyKeyIndicator"] = ("verificationKey", verification_key_to_asn1(key))
    request = {"version": 2, "generationTime": 600_000_000, "type": "explicit", "tbsCert": tbs_cert}
    return asn1.encode("ScmsPdu", {"version": 2, "content": ("eca-ee", ("eeEcaCertRequest", request))})


def rewrite_request(spdu: bytes, change: Any) -> bytes:
    outer = asn1.decode("Ieee1609Dot2Data", spdu)
    inner = asn1.decode("SignedCertificateRequest", outer["content"][1])
    change(inner)
    outer["content"] = ("signedCertificateRequest", asn1.encode("SignedCertificateRequest", inner))
    return asn1.encode("Ieee1609Dot2Data", outer)


@pytest.fixture(scope="module")
def ca() -> Signer:
    return root()


# --- known answer ------------------------------------------------------------------------------------


def test_openscms_self_signed_request_verifies_with_the_requested_key() -> None:
    verified = open_cert_request(OPENSCMS_REQUEST)
    assert verified.signer is None
    assert verified.scms_pdu["content"][0] == "eca-ee"
    # The signed bytes are the ScmsPdu as received: the OCTET STRING after hashAlgorithmId.
    assert verified.tbs_request in OPENSCMS_REQUEST and verified.tbs_request.startswith(b"\x02\x85")
    assert verified.verified_key == requested_verification_key(verified.scms_pdu)


@pytest.mark.parametrize("from_end", [1, 33, 40], ids=["sSig", "rSig", "tbsCert-key"])
def test_openscms_request_with_a_flipped_bit_fails(from_end: int) -> None:
    # The key is just before the signature; flipping it makes another (or no) point.
    with pytest.raises((InvalidSignature, CodecError)) as info:
        open_cert_request(flip(OPENSCMS_REQUEST, len(OPENSCMS_REQUEST) - from_end))
    if from_end != 40:
        assert info.type is InvalidSignature


def test_openscms_request_fails_under_another_self_key() -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(InvalidSignature):
        open_cert_request(OPENSCMS_REQUEST, self_key=lambda _pdu: other)


# --- round trips -------------------------------------------------------------------------------------


def test_self_signed_request_round_trips() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pdu = ee_eca_request(key.public_key())
    verified = open_cert_request(sign_cert_request(pdu, Signer(key)))
    assert verified.tbs_request == pdu and verified.signer is None


def test_self_signed_request_by_another_key_than_requested_fails() -> None:
    requested = ec.generate_private_key(ec.SECP256R1())
    spdu = sign_cert_request(ee_eca_request(requested.public_key()), Signer(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(InvalidSignature):
        open_cert_request(spdu)


def test_request_signed_by_an_explicit_certificate_round_trips(ca: Signer) -> None:
    enrolment = explicit_leaf(ca)
    pdu = ee_eca_request(ec.generate_private_key(ec.SECP256R1()).public_key())
    verified = open_cert_request(sign_cert_request(pdu, enrolment))
    assert verified.signer == enrolment.certificate
    assert verified.verified_key == enrolment.key.public_key()


def test_request_signed_by_an_impostor_key_under_a_certificate_fails(ca: Signer) -> None:
    enrolment = explicit_leaf(ca)
    impostor = Signer(ec.generate_private_key(ec.SECP256R1()), enrolment.certificate)
    spdu = sign_cert_request(ee_eca_request(enrolment.key.public_key()), impostor)
    with pytest.raises(InvalidSignature):
        open_cert_request(spdu)


def test_request_signed_by_an_implicit_certificate_needs_its_issuer(ca: Signer) -> None:
    enrolment = implicit_leaf(ca)
    assert ca.certificate is not None
    spdu = sign_cert_request(ee_eca_request(ec.generate_private_key(ec.SECP256R1()).public_key()), enrolment)
    assert open_cert_request(spdu, issuer=ca.certificate).signer == enrolment.certificate
    with pytest.raises(InvalidSignature):
        open_cert_request(spdu)
    with pytest.raises(InvalidSignature):
        open_cert_request(spdu, issuer=root().certificate)


# --- shape checks ------------------------------------------------------------------------------------


def test_signed_data_is_not_a_cert_request(ca: Signer) -> None:
    with pytest.raises(SpduShapeError):
        open_cert_request(sign_data(b"p", 35, explicit_leaf(ca)))


def test_digest_signer_is_refused(ca: Signer) -> None:
    enrolment = explicit_leaf(ca)
    assert enrolment.certificate is not None
    digest = enrolment.certificate.hashed_id8
    spdu = sign_cert_request(ee_eca_request(enrolment.key.public_key()), enrolment)

    def to_digest(inner: dict[str, Any]) -> None:
        inner["signer"] = ("digest", digest)

    with pytest.raises(SpduShapeError):
        open_cert_request(rewrite_request(spdu, to_digest))


def test_two_signer_certificates_are_refused(ca: Signer) -> None:
    enrolment = explicit_leaf(ca)
    spdu = sign_cert_request(ee_eca_request(enrolment.key.public_key()), enrolment)

    def add_cert(inner: dict[str, Any]) -> None:
        inner["signer"][1].append(inner["signer"][1][0])

    with pytest.raises(SpduShapeError):
        open_cert_request(rewrite_request(spdu, add_cert))


def test_request_for_a_pdu_that_is_not_a_cert_request_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    not_request = asn1.encode("ScmsPdu", {"version": 2, "content": ("ee-ma", None)})
    with pytest.raises(ValueError, match="tbs_request"):
        sign_cert_request(not_request, Signer(key))
    spdu = sign_cert_request(ee_eca_request(key.public_key()), Signer(key))

    def swap_pdu(inner: dict[str, Any]) -> None:
        inner["tbsRequest"] = {"version": 2, "content": ("ee-ma", None)}

    with pytest.raises(SpduShapeError):
        open_cert_request(rewrite_request(spdu, swap_pdu))


def test_sign_cert_request_rejects_non_canonical_tbs_request() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(DecodeError):
        sign_cert_request(ee_eca_request(key.public_key()) + b"\x00", Signer(key))


@settings(max_examples=150, deadline=None)
@given(index=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_mutated_cert_request_raises_only_codec_errors(index: int, bit: int) -> None:
    # As for SignedData, only the unsigned rSig form may change without breaking the signature.
    data = flip(OPENSCMS_REQUEST, index % len(OPENSCMS_REQUEST), bit)
    try:
        verified = open_cert_request(data)
    except CodecError:
        return
    assert verified.tbs_request == open_cert_request(OPENSCMS_REQUEST).tbs_request


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=0), junk=st.binary(max_size=8))
def test_truncated_or_extended_cert_request_raises_only_codec_errors(cut: int, junk: bytes) -> None:
    with pytest.raises(CodecError):
        open_cert_request(OPENSCMS_REQUEST[: cut % len(OPENSCMS_REQUEST)] + junk)
