"""Unsecured and SignedData SPDUs: real samples verify, round trips for every signer form, shape checks."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from scms_codec import asn1
from scms_codec.cert.certificate import Certificate, issue_explicit, issue_implicit
from scms_codec.crypto import points
from scms_codec.crypto.hashing import hashed_id8
from scms_codec.crypto.keys import encryption_key_to_asn1, private_key_from_int, private_key_to_int
from scms_codec.errors import CodecError, DecodeError, InvalidSignature, SpduShapeError
from scms_codec.secured.signed_data import (
    open_signed_data,
    parse_signed_data,
    sign_data,
    sign_tbs_data,
)
from scms_codec.secured.signer import Signer
from scms_codec.secured.unsecured import unwrap_unsecured, wrap_unsecured
from tests.support.vectors import VECTORS

SAMPLES = VECTORS / "encoded"
INFO_STATUS = (SAMPLES / "oscms-asn1c-codecs/CertificateManagementInfoStatusSpdu.dat").read_bytes()
RA_CERT = Certificate.from_bytes((SAMPLES / "oscms-asn1c-codecs/RaCertificate.dat").read_bytes())
ISS_CRL = (SAMPLES / "iyourshaw-ieee1609/CRL-2020-2025.oer").read_bytes()
ISS_ROOT = Certificate.from_bytes((SAMPLES / "iyourshaw-ieee1609/iss_v2x_root.oer").read_bytes())
BSM = (SAMPLES / "usdot-misbehavior-detection/bsm_cert_first_spdu.coer").read_bytes()


# --- a small test PKI (shared with the cert-request and encryption tests) --------------------------


def tbs(psids: tuple[int, ...] = (35,), encryption_key: ec.EllipticCurvePublicKey | None = None) -> dict[str, Any]:
    """A ToBeSignedCertificate with appPermissions; issue_* fill verifyKeyIndicator."""
    value: dict[str, Any] = {
        "id": ("none", None),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": 600_000_000, "duration": ("years", 1)},
        "appPermissions": [{"psid": p} for p in psids],
        "verifyKeyIndicator": ("verificationKey", ("ecdsaNistP256", ("compressed-y-0", b"\x00" * 32))),
    }
    if encryption_key is not None:
        value["encryptionKey"] = encryption_key_to_asn1(encryption_key)
    return value


def root(curve: ec.EllipticCurve | None = None) -> Signer:
    key = ec.generate_private_key(curve or ec.SECP256R1())
    return Signer(key, issue_explicit(tbs(), key.public_key(), None, key))


def explicit_leaf(issuer: Signer, encryption_key: ec.EllipticCurvePublicKey | None = None) -> Signer:
    assert issuer.certificate is not None
    key = ec.generate_private_key(ec.SECP256R1())
    return Signer(
        key, issue_explicit(tbs(encryption_key=encryption_key), key.public_key(), issuer.certificate, issuer.key)
    )


def implicit_leaf(issuer: Signer) -> Signer:
    assert issuer.certificate is not None
    k_u, r_point = points.generate()
    cert, r = issue_implicit(tbs(), r_point, issuer.certificate, issuer.key)
    # The holder's key d_U = e·k_U + r; the certificate's own reconstruction gives the same point.
    from scms_codec.crypto import ecqv

    e = ecqv.certificate_hash_e(cert.tbs_encoded, issuer.certificate.encoded)
    key = private_key_from_int(ecqv.reconstruct_private(e, k_u, r))
    assert key.public_key() == cert.public_key(issuer.certificate)
    return Signer(key, cert)


def flip(data: bytes, index: int, bit: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ (1 << bit)]) + data[index + 1 :]


def rewrite(spdu: bytes, change: Any) -> bytes:
    value = asn1.decode("Ieee1609Dot2Data", spdu)
    change(value["content"][1])
    return asn1.encode("Ieee1609Dot2Data", value)


@pytest.fixture(scope="module")
def ca() -> Signer:
    return root()


@pytest.fixture(scope="module")
def leaf(ca: Signer) -> Signer:
    return explicit_leaf(ca)


# --- unsecured --------------------------------------------------------------------------------------


def test_wrap_unsecured_matches_the_1609_2_example_encoding() -> None:
    # The EncryptedData comment in Ieee1609Dot2.asn: 01..EF as unsecuredData is 03 80 08 0123456789ABCDEF.
    assert wrap_unsecured(bytes.fromhex("0123456789abcdef")) == bytes.fromhex("0380080123456789abcdef")
    assert unwrap_unsecured(bytes.fromhex("0380080123456789abcdef")) == bytes.fromhex("0123456789abcdef")


def test_unwrap_unsecured_rejects_signed_data_and_trailing_bytes() -> None:
    with pytest.raises(SpduShapeError):
        unwrap_unsecured(INFO_STATUS)
    with pytest.raises(DecodeError):
        unwrap_unsecured(bytes.fromhex("0380080123456789abcdef00"))


# --- known answers: real signed samples --------------------------------------------------------------


def test_info_status_sample_verifies_under_the_ra_certificate_it_carries() -> None:
    verified = open_signed_data(INFO_STATUS, expected_psid=35)
    assert verified.signer_id == RA_CERT.hashed_id8 == bytes.fromhex("15e298fe7b1d9199")
    assert verified.signer is not None and verified.signer.encoded == RA_CERT.encoded
    assert asn1.decode("ScmsPdu", verified.payload)["content"][1][0] == "infoStatus"


_ORIGINAL = open_signed_data(INFO_STATUS, expected_psid=35)
_PAYLOAD_AT = INFO_STATUS.index(bytes.fromhex("0284844001"))  # the ScmsPdu inside unsecuredData


@pytest.mark.parametrize(
    "index", [len(INFO_STATUS) - 1, len(INFO_STATUS) - 40, _PAYLOAD_AT + 8], ids=["sSig", "rSig", "payload"]
)
def test_info_status_sample_with_a_flipped_bit_fails(index: int) -> None:
    with pytest.raises(InvalidSignature):
        open_signed_data(flip(INFO_STATUS, index), expected_psid=35)


def test_iss_crl_verifies_with_its_digest_signer_resolved_to_the_root() -> None:
    verified = open_signed_data(ISS_CRL, expected_psid=256, resolve_signer={ISS_ROOT.hashed_id8: ISS_ROOT}.get)
    assert verified.signer_id == bytes.fromhex("7ac9efd3cc396921")
    assert asn1.decode("CrlContents", verified.payload)["crlSeries"] == 256


def test_iss_crl_with_a_flipped_signature_bit_or_unknown_signer_fails() -> None:
    resolver = {ISS_ROOT.hashed_id8: ISS_ROOT}.get
    with pytest.raises(InvalidSignature):
        open_signed_data(flip(ISS_CRL, len(ISS_CRL) - 1), expected_psid=256, resolve_signer=resolver)
    with pytest.raises(InvalidSignature):
        open_signed_data(ISS_CRL, expected_psid=256)
    with pytest.raises(InvalidSignature):  # a mapping's __getitem__ as resolver: KeyError means unknown
        open_signed_data(ISS_CRL, expected_psid=256, resolve_signer={}.__getitem__)
    with pytest.raises(InvalidSignature):  # a resolver that answers with the wrong certificate
        open_signed_data(ISS_CRL, expected_psid=256, resolve_signer=lambda _: RA_CERT)


def test_bsm_sample_parses_with_its_implicit_signer_but_needs_the_issuer_to_verify() -> None:
    parts = parse_signed_data(BSM, expected_psid=32, psid_only_header=False)
    assert parts.certificate is not None and parts.certificate.is_implicit
    assert parts.certificate.issuer_id == bytes.fromhex("99a23ff01ff0663c")
    assert set(parts.header_info) == {"psid", "generationTime"}
    with pytest.raises(SpduShapeError):  # a BSM header is not a Signed{T, psid} header
        parse_signed_data(BSM, expected_psid=32)
    with pytest.raises(InvalidSignature):  # the issuing ACA certificate is not public
        open_signed_data(BSM, expected_psid=32, psid_only_header=False)


# --- round trips -------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["certificate", "digest", "self"])
def test_sign_data_round_trips_for_every_signer_form(leaf: Signer, form: Any) -> None:
    assert leaf.certificate is not None
    spdu = sign_data(b"payload", 35, leaf, signer_form=form)
    verified = open_signed_data(
        spdu,
        expected_psid=35,
        resolve_signer={leaf.certificate.hashed_id8: leaf.certificate}.get,
        self_key=leaf.key.public_key(),
    )
    assert verified.payload == b"payload" and verified.psid == 35
    assert verified.signer_id == (None if form == "self" else leaf.certificate.hashed_id8)


@pytest.mark.parametrize("form", ["certificate", "digest", "self"])
def test_sign_data_with_another_key_fails_for_every_signer_form(ca: Signer, leaf: Signer, form: Any) -> None:
    assert leaf.certificate is not None
    impostor = Signer(ec.generate_private_key(ec.SECP256R1()), leaf.certificate)
    spdu = sign_data(b"payload", 35, impostor, signer_form=form)
    with pytest.raises(InvalidSignature):
        open_signed_data(
            spdu,
            expected_psid=35,
            resolve_signer={leaf.certificate.hashed_id8: leaf.certificate}.get,
            self_key=leaf.key.public_key(),
        )


def test_self_signer_is_refused_without_a_self_key(leaf: Signer) -> None:
    with pytest.raises(InvalidSignature):
        open_signed_data(sign_data(b"x", 35, leaf, signer_form="self"), expected_psid=35)


def test_implicit_signer_verifies_with_its_issuer_given_or_resolved(ca: Signer) -> None:
    signer = implicit_leaf(ca)
    assert ca.certificate is not None
    spdu = sign_data(b"hello", 35, signer)
    assert open_signed_data(spdu, expected_psid=35, issuer=ca.certificate).payload == b"hello"
    resolved = open_signed_data(spdu, expected_psid=35, resolve_signer={ca.certificate.hashed_id8: ca.certificate}.get)
    assert resolved.signer == signer.certificate


def test_implicit_signer_fails_with_the_wrong_or_a_missing_issuer(ca: Signer) -> None:
    signer = implicit_leaf(ca)
    other = root()
    spdu = sign_data(b"hello", 35, signer)
    with pytest.raises(InvalidSignature):
        open_signed_data(spdu, expected_psid=35, issuer=other.certificate)
    with pytest.raises(InvalidSignature):
        open_signed_data(spdu, expected_psid=35)


def test_p384_self_signed_root_signs_with_sha384() -> None:
    signer = root(ec.SECP384R1())
    spdu = sign_data(b"ctl", 35, signer)
    assert asn1.decode("Ieee1609Dot2Data", spdu)["content"][1]["hashId"] == "sha384"
    assert open_signed_data(spdu, expected_psid=35).payload == b"ctl"
    with pytest.raises(InvalidSignature):
        open_signed_data(flip(spdu, len(spdu) - 1), expected_psid=35)


def test_signature_over_non_canonical_header_key_verifies_after_canonicalisation(leaf: Signer) -> None:
    # Given a signed SPDU whose headerInfo.encryptionKey is sent uncompressed
    enc = ec.generate_private_key(ec.SECP256R1()).public_key()
    numbers = enc.public_numbers()
    tbs_data = {
        "payload": {"data": {"protocolVersion": 3, "content": ("unsecuredData", b"req")}},
        "headerInfo": {"psid": 35, "encryptionKey": ("public", encryption_key_to_asn1(enc))},
    }
    spdu = sign_tbs_data(tbs_data, leaf)
    uncompressed = ("uncompressedP256", {"x": numbers.x.to_bytes(32, "big"), "y": numbers.y.to_bytes(32, "big")})

    def to_uncompressed(signed: dict[str, Any]) -> None:
        key = signed["tbsData"]["headerInfo"]["encryptionKey"][1]
        key["publicKey"] = ("eciesNistP256", uncompressed)

    # When the key is re-sent uncompressed, Then the signature still verifies (it covers the canonical form)
    verified = open_signed_data(rewrite(spdu, to_uncompressed), expected_psid=35, psid_only_header=False)
    assert verified.payload == b"req"


# --- shape checks ------------------------------------------------------------------------------------


def _tbs_data(header: dict[str, Any], payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "payload": payload or {"data": {"protocolVersion": 3, "content": ("unsecuredData", b"p")}},
        "headerInfo": header,
    }


def test_unsecured_content_is_not_signed_data() -> None:
    with pytest.raises(SpduShapeError):
        open_signed_data(wrap_unsecured(b"p"), expected_psid=35)


def test_header_with_generation_time_is_refused_for_signed_psid_types(leaf: Signer) -> None:
    spdu = sign_tbs_data(_tbs_data({"psid": 35, "generationTime": 1}), leaf)
    with pytest.raises(SpduShapeError):
        open_signed_data(spdu, expected_psid=35)
    assert open_signed_data(spdu, expected_psid=35, psid_only_header=False).payload == b"p"


def test_other_psid_is_refused(leaf: Signer) -> None:
    spdu = sign_data(b"p", 36, leaf)
    with pytest.raises(SpduShapeError):
        open_signed_data(spdu, expected_psid=35)
    assert open_signed_data(spdu, expected_psid=None).psid == 36


def test_two_signer_certificates_are_refused(leaf: Signer) -> None:
    assert leaf.certificate is not None
    extra = leaf.certificate.value

    def add_cert(signed: dict[str, Any]) -> None:
        signed["signer"][1].append(extra)

    with pytest.raises(SpduShapeError):
        open_signed_data(rewrite(sign_data(b"p", 35, leaf), add_cert), expected_psid=35)


@pytest.mark.parametrize(
    "payload",
    [
        {"extDataHash": ("sha256HashedData", b"\x00" * 32)},
        {"data": {"protocolVersion": 3, "content": ("signedCertificateRequest", b"\x00")}},
    ],
    ids=["extDataHash", "data-not-unsecured"],
)
def test_payload_other_than_unsecured_data_is_refused(leaf: Signer, payload: dict[str, Any]) -> None:
    spdu = sign_tbs_data(_tbs_data({"psid": 35}, payload), leaf)
    with pytest.raises(SpduShapeError):
        open_signed_data(spdu, expected_psid=35)


def test_sign_data_rejects_caller_mistakes(leaf: Signer) -> None:
    with pytest.raises(TypeError):
        sign_data("text", 35, leaf)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="psid"):
        sign_data(b"p", -1, leaf)
    with pytest.raises(ValueError, match="signer"):
        sign_data(b"p", 35, Signer(leaf.key), signer_form="certificate")


def test_signer_repr_hides_the_private_key(leaf: Signer) -> None:
    scalar = private_key_to_int(leaf.key)
    assert str(scalar) not in repr(leaf) and f"{scalar:x}" not in repr(leaf)


def test_hashed_id8_of_signer_matches_the_digest_form(leaf: Signer) -> None:
    assert leaf.certificate is not None
    spdu = sign_data(b"p", 35, leaf, signer_form="digest")
    digest = asn1.decode("Ieee1609Dot2Data", spdu)["content"][1]["signer"]
    assert digest == ("digest", hashed_id8(leaf.certificate.encoded))


@settings(max_examples=150, deadline=None)
@given(index=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_mutated_signed_spdu_raises_only_codec_errors(index: int, bit: int) -> None:
    # A flipped bit breaks the decoding, the shape or the signature, except in the unsigned
    # rSig form (x-only → compressed-y-0 keeps r = x): then the signed content is untouched.
    data = flip(INFO_STATUS, index % len(INFO_STATUS), bit)
    try:
        verified = open_signed_data(data, expected_psid=35)
    except CodecError:
        return
    assert verified.payload == _ORIGINAL.payload and verified.signer == _ORIGINAL.signer


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(min_value=0), junk=st.binary(max_size=8))
def test_truncated_or_extended_signed_spdu_raises_only_codec_errors(cut: int, junk: bytes) -> None:
    data = INFO_STATUS[: cut % len(INFO_STATUS)] + junk
    with pytest.raises(CodecError):
        open_signed_data(data, expected_psid=35)
