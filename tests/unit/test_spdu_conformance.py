"""Conformance review: wrapper shapes, content rules and error order the ASN.1 states (protocol.md §1.3, §2.4, §3)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import asn1
from scms_codec.asn1.nested import nested_layers
from scms_codec.cert.certificate import Certificate, issue_explicit, issue_implicit
from scms_codec.crypto import points
from scms_codec.crypto.keys import verification_key_to_asn1
from scms_codec.errors import InvalidSignature, SpduShapeError
from scms_codec.secured.cert_request import sign_cert_request
from scms_codec.secured.signed_data import sign_data
from scms_codec.secured.signer import Signer
from scms_codec.spdu._wrap import scms_pdu_bytes
from scms_codec.spdu.aca_ee import AcaEeCertResponse, build_aca_ee_cert_response, parse_aca_ee_cert_response
from scms_codec.spdu.cert_management import FullIeeeTbsCtl, MultiSignedCtl
from scms_codec.spdu.crl import CrlContents, parse_secured_crl
from scms_codec.spdu.ctl import elector_entry, sign_ctl, verify_ctl_signatures
from scms_codec.spdu.eca_ee import EcaEeCertResponse, build_eca_ee_cert_response, parse_eca_ee_cert_response
from scms_codec.spdu.ee_ra_cert_request import EeRaCertRequest
from scms_codec.spdu.ra_aca import (
    EncryptedIndividualPLV,
    LinkageInfo,
    RaAcaCertRequest,
    build_ra_aca_cert_request,
    parse_ra_aca_cert_request,
)
from scms_codec.spdu.ra_ee_ack import RaEeCertInfo, build_ra_ee_enrollment_cert_ack
from tests.support.pki import NOW, Pki, build_pki, cert, new_key, tbs


@pytest.fixture(scope="module")
def pki() -> Pki:
    return build_pki()


def assert_canonical(spdu: bytes) -> None:
    """Outer and every nested layer decode strictly, and the outer re-encodes to the same octets."""
    value = asn1.decode("Ieee1609Dot2Data", spdu)
    nested_layers(value)
    assert asn1.encode("Ieee1609Dot2Data", value) == spdu


def implicit_certificate(issuer: Signer) -> tuple[Certificate, bytes]:
    """An implicit certificate from ``issuer`` and its 32-octet reconstruction value r."""
    request_point = points.from_public_key(new_key().public_key())
    certificate, r = issue_implicit(tbs("ee"), request_point, cert(issuer), issuer.key)
    return certificate, r.to_bytes(32, "big")


def ra_aca_tbs(key: ec.EllipticCurvePrivateKey, kind: str = "verificationKey") -> dict[str, Any]:
    tbs_cert = tbs("ee")
    tbs_cert["id"] = ("linkageData", {"iCert": 7, "linkage-value": b"\x00" * 9})
    tbs_cert["verifyKeyIndicator"] = (kind, verification_key_to_asn1(key.public_key()))
    return tbs_cert


# --- parser error order: parse (400-42) before signature (400-43), protocol.md §2.4 ------------------


def test_self_signed_ra_aca_request_with_a_bad_signature_is_a_shape_error_not_400_43() -> None:
    # Given a RaAcaCertRequest signed as ``self`` with a key that is not the requested one
    content = RaAcaCertRequest(NOW, "explicit", ra_aca_tbs(new_key()))
    spdu = sign_cert_request(scms_pdu_bytes(content), Signer(new_key()))

    # Then the wrong signer form (SignerSingleCert required) is reported first
    with pytest.raises(SpduShapeError, match="one certificate"):
        parse_ra_aca_cert_request(spdu)


def test_self_signed_ra_aca_request_with_a_good_signature_is_a_shape_error_too() -> None:
    key = new_key()
    spdu = sign_cert_request(scms_pdu_bytes(RaAcaCertRequest(NOW, "explicit", ra_aca_tbs(key))), Signer(key))

    with pytest.raises(SpduShapeError, match="one certificate"):
        parse_ra_aca_cert_request(spdu)


def test_request_at_another_path_with_a_bad_signature_is_a_shape_error_not_400_43(pki: Pki) -> None:
    # Given an EeRaCertRequest (wrong path for the ACA) signed by an impostor of the RA certificate
    tbs_cert = tbs("ee")
    impostor = Signer(new_key(), cert(pki.ra))
    spdu = sign_cert_request(scms_pdu_bytes(EeRaCertRequest(NOW, "explicit", tbs_cert)), impostor)

    with pytest.raises(SpduShapeError, match=r"aca-ra\.raAcaCertRequest"):
        parse_ra_aca_cert_request(spdu)


def test_ra_aca_request_at_its_path_with_a_bad_signature_is_still_400_43(pki: Pki) -> None:
    impostor = Signer(new_key(), cert(pki.ra))
    spdu = build_ra_aca_cert_request(RaAcaCertRequest(NOW, "explicit", ra_aca_tbs(new_key())), impostor)

    with pytest.raises(InvalidSignature):
        parse_ra_aca_cert_request(spdu)


# --- RaAcaCertRequest content rules (AcaRaInterface module comments) --------------------------------


def test_butterfly_explicit_flag_with_an_implicit_type_is_a_violation_and_not_built(pki: Pki) -> None:
    request = RaAcaCertRequest(NOW, "implicit", ra_aca_tbs(new_key(), "reconstructionValue"), butterfly_explicit=True)

    assert "flags.butterflyExplicit set for an implicit certificate" in request.violations()
    with pytest.raises(ValueError, match="butterflyExplicit"):
        build_ra_aca_cert_request(request, pki.ra)


def test_butterfly_explicit_flag_with_an_explicit_type_is_no_violation() -> None:
    request = RaAcaCertRequest(NOW, "explicit", ra_aca_tbs(new_key()), butterfly_explicit=True)

    assert request.violations() == ()


def test_linkage_info_with_an_id_that_is_not_linkage_data_is_a_violation() -> None:
    plv = EncryptedIndividualPLV(b"\x00\x01", bytes.fromhex("0380"))  # never decrypted here
    tbs_cert = ra_aca_tbs(new_key())
    request = RaAcaCertRequest(NOW, "explicit", tbs_cert, linkage_info=LinkageInfo(plv, plv))
    tbs_cert_named = dict(tbs_cert, id=("name", "ee"))
    named = RaAcaCertRequest(NOW, "explicit", tbs_cert_named, linkage_info=LinkageInfo(plv, plv))

    assert request.violations() == ()
    assert "linkageInfo present but tbsCert.id is not linkageData" in named.violations()


# --- privateKeyInfo presence (AcaEeInterface, EcaEeInterface module comments) -----------------------


def test_aca_response_with_an_implicit_certificate_and_no_private_key_info_is_not_built(pki: Pki) -> None:
    with pytest.raises(ValueError, match="privateKeyInfo"):
        build_aca_ee_cert_response(AcaEeCertResponse(NOW, implicit_certificate(pki.aca)[0]), "plain")


def test_aca_response_with_an_implicit_certificate_and_private_key_info_is_built(pki: Pki) -> None:
    content = AcaEeCertResponse(NOW, *implicit_certificate(pki.aca))

    spdu = build_aca_ee_cert_response(content, "plain")

    assert_canonical(spdu)
    assert parse_aca_ee_cert_response(spdu, "plain").content == content


def test_aca_response_with_an_implicit_certificate_and_no_private_key_info_is_not_parsed(pki: Pki) -> None:
    # Built around the builder's check: an unsecured ScmsPdu made directly.
    pdu = scms_pdu_bytes(AcaEeCertResponse(NOW, implicit_certificate(pki.aca)[0]))
    spdu = asn1.encode("Ieee1609Dot2Data", {"protocolVersion": 3, "content": ("unsecuredData", pdu)})

    with pytest.raises(SpduShapeError, match="privateKeyInfo"):
        parse_aca_ee_cert_response(spdu, "plain")


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit-without", "explicit-with"])
def test_eca_response_private_key_info_must_match_the_certificate_type(pki: Pki, implicit: bool) -> None:
    if implicit:
        certificate, info = implicit_certificate(pki.eca)[0], None
    else:
        certificate, info = issue_explicit(tbs("ee"), new_key().public_key(), cert(pki.eca), pki.eca.key), b"\x01" * 32
    content = EcaEeCertResponse(NOW, b"\x00" * 8, (), certificate, info)

    with pytest.raises(ValueError, match="privateKeyInfo"):
        build_eca_ee_cert_response(content, pki.eca)
    forged = sign_data(scms_pdu_bytes(content), 35, pki.eca)
    with pytest.raises(SpduShapeError, match="privateKeyInfo"):
        parse_eca_ee_cert_response(forged)


def test_eca_response_with_an_implicit_certificate_and_its_private_key_info_round_trips(pki: Pki) -> None:
    certificate, r = implicit_certificate(pki.eca)
    content = EcaEeCertResponse(NOW, b"\x00" * 8, (cert(pki.eca),), certificate, r)

    spdu = build_eca_ee_cert_response(content, pki.eca)

    assert_canonical(spdu)
    assert parse_eca_ee_cert_response(spdu).content == content


# --- CRL: nextCrl strictly after issueDate (CrlBaseTypes module comment) ----------------------------


def test_secured_crl_whose_next_crl_is_not_after_its_issue_date_is_not_parsed(pki: Pki) -> None:
    contents = CrlContents(1, cert(pki.root).hashed_id8, NOW, NOW, ("fullHashCrl", {"crlSerial": 1, "entries": []}))
    spdu = sign_data(asn1.encode("CrlContents", contents.to_asn1()), 256, pki.root)

    with pytest.raises(SpduShapeError, match="nextCrl"):
        parse_secured_crl(spdu)


def test_secured_crl_whose_next_crl_is_one_second_later_is_parsed(pki: Pki) -> None:
    contents = CrlContents(1, cert(pki.root).hashed_id8, NOW, NOW + 1, ("fullHashCrl", {"crlSerial": 1, "entries": []}))
    spdu = sign_data(asn1.encode("CrlContents", contents.to_asn1()), 256, pki.root)

    assert parse_secured_crl(spdu).content == contents


# --- CTL: tbsCtlHash is a HashedId48 made with the signature's hash (CertManagement comments) --------


def p384_elector() -> Signer:
    key = ec.generate_private_key(ec.SECP384R1())
    tbs_cert = tbs("elector")
    tbs_cert["verifyKeyIndicator"] = ("verificationKey", verification_key_to_asn1(key.public_key()))
    return Signer(key, issue_explicit(tbs_cert, key.public_key(), None, key))


def full_tbs_ctl(electors: tuple[Signer, ...]) -> FullIeeeTbsCtl:
    approve = tuple(elector_entry(cert(e)) for e in electors)
    return FullIeeeTbsCtl(b"\x01" * 8, 1, NOW, approve, (b"\x00" * 32,), quorum=2)


def test_ctl_signed_by_p384_electors_verifies() -> None:
    electors = (p384_elector(), p384_elector())

    ctl = sign_ctl(full_tbs_ctl(electors), electors)

    for signature in ctl.signatures:
        assert_canonical(signature)
        assert asn1.decode("Ieee1609Dot2Data", signature)["content"][1]["hashId"] == "sha384"
    assert verify_ctl_signatures(ctl) == tuple(cert(e) for e in electors)


def test_ctl_is_not_signed_by_an_elector_whose_hash_cannot_make_a_hashed_id48(pki: Pki) -> None:
    with pytest.raises(ValueError, match="SHA-384"):
        sign_ctl(full_tbs_ctl(pki.electors), pki.electors)


def test_ctl_signature_made_with_sha256_is_rejected(pki: Pki) -> None:
    # Given a CtlSignatureSpdu from a P-256 elector (hashId sha256) carrying a SHA-384 tbsCtlHash
    electors = (p384_elector(),)
    tbs_ctl = full_tbs_ctl(electors)
    honest = sign_ctl(tbs_ctl, electors)
    content = asn1.decode("Ieee1609Dot2Data", honest.signatures[0])["content"][1]["tbsData"]["payload"]["data"]
    p256 = sign_data(content["content"][1], 35, pki.electors[0])
    ctl = MultiSignedCtl(tbs_ctl, (), (p256,))

    with pytest.raises(SpduShapeError, match="sha256"):
        verify_ctl_signatures(ctl)


# --- builders: strict decode and identical re-encoding of every nested layer ------------------------


def test_enrollment_ack_is_canonical_down_to_its_scms_pdu(pki: Pki) -> None:
    spdu = build_ra_ee_enrollment_cert_ack(RaEeCertInfo(NOW, 0, b"\x00" * 8, NOW + 60), pki.ra)

    assert_canonical(spdu)
    assert [layer.type_name for layer in nested_layers(asn1.decode("Ieee1609Dot2Data", spdu))] == ["ScmsPdu"]
