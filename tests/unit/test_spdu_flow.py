"""A simulated SCMS run through every SPDU builder and parser, with failing twins (protocol.md §3)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import asn1
from scms_codec.cert.certificate import Certificate, issue_explicit
from scms_codec.crypto.hashing import digest
from scms_codec.crypto.keys import verification_key_to_asn1
from scms_codec.errors import ChainError, DecodeError, DecryptionError, InvalidSignature, NotEncrypted, SpduShapeError
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.recipients import CertRecipient
from scms_codec.secured.signed_data import sign_data
from scms_codec.secured.signer import Signer
from scms_codec.spdu.aca_ee import AcaEeCertResponse, build_aca_ee_cert_response, parse_aca_ee_cert_response
from scms_codec.spdu.cert_management import (
    CertificateChain,
    CertificateManagementInfoStatus,
    CompositeCrl,
    CrlInfoStatus,
    CtlInfoStatus,
    FullIeeeTbsCtl,
    MaInfoStatus,
    build_certificate_chain_spdu,
    build_composite_crl_spdu,
    build_info_status_spdu,
    parse_certificate_chain_spdu,
    parse_composite_crl_spdu,
    parse_info_status_spdu,
)
from scms_codec.spdu.crl import CrlContents, build_secured_crl, parse_secured_crl
from scms_codec.spdu.ctl import (
    build_multi_signed_ctl_spdu,
    elector_entry,
    parse_multi_signed_ctl_spdu,
    sign_ctl,
    verify_ctl_signatures,
)
from scms_codec.spdu.download import (
    EeRaDownloadRequest,
    build_ee_ra_download_request,
    build_ee_ra_download_request_plain,
    parse_ee_ra_download_request,
    parse_ee_ra_download_request_plain,
)
from scms_codec.spdu.eca_ee import (
    EcaEeCertResponse,
    EeEcaCertRequest,
    build_eca_ee_cert_response,
    build_ee_eca_cert_request,
    parse_eca_ee_cert_response,
    parse_ee_eca_cert_request,
)
from scms_codec.spdu.ee_ra_cert_request import (
    AdditionalParams,
    ButterflyCompactUnified,
    ButterflyOriginal,
    ButterflyUnified,
    EeRaCertRequest,
    ResponseEncryptionKey,
    build_ee_ra_cert_request,
    parse_ee_ra_cert_request,
)
from scms_codec.spdu.ra_aca import (
    AcaRaCertResponse,
    AcaResponseKind,
    RaAcaCertRequest,
    build_aca_ra_cert_response,
    build_ra_aca_cert_request,
    parse_aca_ra_cert_response,
    parse_ra_aca_cert_request,
)
from scms_codec.spdu.ra_ee_ack import (
    RaEeCertAck,
    RaEeCertInfo,
    build_ra_ee_cert_ack,
    build_ra_ee_cert_info,
    build_ra_ee_enrollment_cert_ack,
    parse_ra_ee_cert_ack,
    parse_ra_ee_cert_info,
    parse_ra_ee_enrollment_cert_ack,
)
from scms_codec.spdu.scms_pdu import request_hash
from scms_codec.spdu.successor import build_successor_request, parse_successor_request
from tests.support.pki import NOW, Pki, build_pki, cert, issue, new_key, tbs


@pytest.fixture(scope="module")
def pki() -> Pki:
    return build_pki()


def assert_canonical(spdu: bytes) -> None:
    """The builder's output decodes strictly and re-encodes to the same octets (style.md 20)."""
    assert asn1.encode("Ieee1609Dot2Data", asn1.decode("Ieee1609Dot2Data", spdu)) == spdu


def flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


# --- enrollment: EE ↔ ECA (protocol.md §3.2) -------------------------------------------------------


def enrollment_request(key: ec.EllipticCurvePrivateKey) -> EeEcaCertRequest:
    tbs_cert = tbs("ee")
    del tbs_cert["appPermissions"]
    tbs_cert["id"] = ("none", None)
    # Non-default eeType and minChainLength: asn1tools mis-encodes a DEFAULT BIT STRING (asn1 README).
    tbs_cert["certRequestPermissions"] = [
        {"subjectPermissions": ("all", None), "minChainLength": 0, "chainLengthRange": 1, "eeType": (b"\xc0", 8)}
    ]
    tbs_cert["verifyKeyIndicator"] = ("verificationKey", verification_key_to_asn1(key.public_key()))
    return EeEcaCertRequest(NOW, "explicit", tbs_cert)


@pytest.fixture(scope="module")
def enrolled(pki: Pki) -> Signer:
    """The EE's enrollment certificate, issued through the two enrollment SPDUs."""
    ee_key = new_key()
    request = build_ee_eca_cert_request(enrollment_request(ee_key), ee_key)
    at_eca = parse_ee_eca_cert_request(request)
    certificate = issue_explicit(at_eca.content.tbs_cert, ee_key.public_key(), cert(pki.eca), pki.eca.key)
    chain = (cert(pki.eca), cert(pki.ica), cert(pki.root))
    response = build_eca_ee_cert_response(EcaEeCertResponse(NOW, at_eca.spdu_hash, chain, certificate), pki.eca)
    at_ee = parse_eca_ee_cert_response(response)
    assert at_ee.content.request_hash == request_hash(request)
    return Signer(ee_key, at_ee.content.certificate)


def test_enrollment_request_round_trips_through_the_eca(pki: Pki) -> None:
    ee_key = new_key()
    content = enrollment_request(ee_key)

    request = build_ee_eca_cert_request(content, ee_key)

    assert_canonical(request)
    assert parse_ee_eca_cert_request(request).content == content


def test_enrollment_request_signed_by_another_key_is_rejected() -> None:
    with pytest.raises(InvalidSignature):
        parse_ee_eca_cert_request(build_ee_eca_cert_request(enrollment_request(new_key()), new_key()))


def test_enrollment_request_with_app_permissions_is_not_built() -> None:
    content = enrollment_request(new_key())
    content.tbs_cert["appPermissions"] = [{"psid": 32}]

    with pytest.raises(ValueError, match="appPermissions is present"):
        build_ee_eca_cert_request(content, new_key())


def test_enrollment_response_reaches_the_ee_with_its_chain(pki: Pki, enrolled: Signer) -> None:
    assert cert(enrolled).issuer_id == cert(pki.eca).hashed_id8


def test_enrollment_response_with_a_flipped_signature_bit_is_rejected(pki: Pki, enrolled: Signer) -> None:
    response = build_eca_ee_cert_response(EcaEeCertResponse(NOW, b"\x01" * 8, (), cert(enrolled)), pki.eca)
    assert_canonical(response)

    with pytest.raises(InvalidSignature):
        parse_eca_ee_cert_response(flip_last(response))


# --- authorization: EE → RA → ACA → RA → EE (protocol.md §3.3) --------------------------------------


VARIANTS: list[Any] = [
    pytest.param(lambda: None, id="absent"),
    pytest.param(lambda: ButterflyOriginal(b"\x01" * 16, new_key().public_key(), b"\x02" * 16), id="original"),
    pytest.param(lambda: ButterflyUnified(b"\x03" * 16), id="unified"),
    pytest.param(lambda: ButterflyCompactUnified(b"\x04" * 16), id="compactUnified"),
    pytest.param(lambda: ResponseEncryptionKey(new_key().public_key()), id="encryptionKey"),
]


def authorization_request(params: AdditionalParams | None) -> EeRaCertRequest:
    tbs_cert = tbs("ee")
    tbs_cert["id"] = ("none", None)
    return EeRaCertRequest(NOW, "explicit", tbs_cert, params)


@pytest.mark.parametrize("variant", VARIANTS)
def test_authorization_request_reaches_the_ra_with_each_additional_params(
    pki: Pki, enrolled: Signer, variant: Any
) -> None:
    content = authorization_request(variant())

    spdu = build_ee_ra_cert_request(content, enrolled, CertRecipient(cert(pki.ra)))
    opened = parse_ee_ra_cert_request(spdu, pki.ra_keyring)

    assert_canonical(spdu)
    assert opened.content == content
    assert opened.signer == cert(enrolled)
    assert opened.recipient_id == cert(pki.ra).hashed_id8
    assert opened.spdu_hash == request_hash(spdu)


def test_authorization_request_for_another_ra_cannot_be_decrypted(pki: Pki, enrolled: Signer) -> None:
    other_ra = issue("ra", pki.ica, new_key().public_key())
    spdu = build_ee_ra_cert_request(authorization_request(None), enrolled, CertRecipient(cert(other_ra)))

    with pytest.raises(DecryptionError):
        parse_ee_ra_cert_request(spdu, pki.ra_keyring)


def test_authorization_request_sent_signed_but_not_encrypted_is_400_10(pki: Pki, enrolled: Signer) -> None:
    not_encrypted = build_ra_ee_cert_ack(RaEeCertAck(NOW, b"\x00" * 8, NOW), enrolled)

    with pytest.raises(NotEncrypted):
        parse_ee_ra_cert_request(not_encrypted, pki.ra_keyring)


def test_ra_ack_round_trips_and_names_the_request(pki: Pki, enrolled: Signer) -> None:
    content = authorization_request(ButterflyUnified(b"\x05" * 16))
    spdu = build_ee_ra_cert_request(content, enrolled, CertRecipient(cert(pki.ra)))
    at_ra = parse_ee_ra_cert_request(spdu, pki.ra_keyring)
    ack = RaEeCertAck(NOW, at_ra.spdu_hash, NOW + 3600, first_i=7)

    built = build_ra_ee_cert_ack(ack, pki.ra)
    opened = parse_ra_ee_cert_ack(built)

    assert_canonical(built)
    assert opened.content == ack
    assert opened.content.request_hash == request_hash(spdu)
    assert opened.signer == cert(pki.ra)


def test_ra_ack_with_a_flipped_signature_bit_is_rejected(pki: Pki) -> None:
    with pytest.raises(InvalidSignature):
        parse_ra_ee_cert_ack(flip_last(build_ra_ee_cert_ack(RaEeCertAck(NOW, b"\x00" * 8, NOW), pki.ra)))


def test_ra_ack_parser_rejects_an_enrollment_ack(pki: Pki) -> None:
    enrollment_ack = build_ra_ee_enrollment_cert_ack(RaEeCertInfo(NOW, 0, b"\x00" * 8, NOW), pki.ra)

    with pytest.raises(SpduShapeError, match="raEeCertInfo"):
        parse_ra_ee_cert_ack(enrollment_ack)


def test_ra_ack_with_a_trailing_byte_is_rejected(pki: Pki) -> None:
    with pytest.raises(DecodeError):
        parse_ra_ee_cert_ack(build_ra_ee_cert_ack(RaEeCertAck(NOW, b"\x00" * 8, NOW), pki.ra) + b"\x00")


def aca_round(pki: Pki, kind: AcaResponseKind) -> tuple[bytes, ec.EllipticCurvePrivateKey, Certificate]:
    """RA → ACA → RA for one certificate; returns the ``<i>_<j>`` file, the EE's key and the certificate."""
    subject_key, encryption = new_key(), new_key()
    tbs_cert = tbs("ee")
    tbs_cert["id"] = ("linkageData", {"iCert": 7, "linkage-value": b"\x00" * 9})
    tbs_cert["verifyKeyIndicator"] = ("verificationKey", verification_key_to_asn1(subject_key.public_key()))
    request = RaAcaCertRequest(
        NOW, "explicit", tbs_cert, butterfly_explicit=True, cubk=kind == "cubk",
        cert_enc_key=encryption.public_key() if kind == "private" else None,
    )
    spdu = build_ra_aca_cert_request(request, pki.ra)
    assert_canonical(spdu)

    at_aca = parse_ra_aca_cert_request(spdu)
    assert at_aca.content == request
    assert at_aca.content.response_kind == kind
    certificate = issue_explicit(at_aca.content.tbs_cert, subject_key.public_key(), cert(pki.aca), pki.aca.key)
    ee_key = encryption if kind == "private" else subject_key
    response = build_aca_ee_cert_response(
        AcaEeCertResponse(NOW, certificate, b"\x11" * 32), kind, encryption_key=ee_key.public_key(), signer=pki.aca
    )
    to_ra = build_aca_ra_cert_response(AcaRaCertResponse(NOW, at_aca.spdu_hash, kind, response), pki.aca)
    assert_canonical(to_ra)

    at_ra = parse_aca_ra_cert_response(to_ra)
    assert at_ra.content.request_hash == request_hash(spdu)
    assert at_ra.content.response_kind == kind
    assert_canonical(at_ra.content.response_spdu)
    return at_ra.content.response_spdu, ee_key, certificate


@pytest.mark.parametrize("kind", ["plain", "private", "cubk"])
def test_aca_response_reaches_the_ee_in_each_form(pki: Pki, kind: AcaResponseKind) -> None:
    file, ee_key, certificate = aca_round(pki, kind)
    keyring = Keyring()
    keyring.add_response_key(ee_key)

    opened = parse_aca_ee_cert_response(file, kind, keyring=keyring)

    assert opened.content.certificate == certificate
    assert opened.content.private_key_info == b"\x11" * 32
    assert opened.signer == (cert(pki.aca) if kind == "private" else None)


@pytest.mark.parametrize("kind", ["private", "cubk"])
def test_encrypted_aca_response_does_not_open_under_another_key(pki: Pki, kind: AcaResponseKind) -> None:
    file, _, _ = aca_round(pki, kind)
    keyring = Keyring()
    keyring.add_response_key(new_key())

    with pytest.raises(DecryptionError):
        parse_aca_ee_cert_response(file, kind, keyring=keyring)


@pytest.mark.parametrize(("built", "expected"), [("plain", "cubk"), ("cubk", "private"), ("private", "plain")])
def test_aca_response_in_another_form_than_expected_is_rejected(
    pki: Pki, built: AcaResponseKind, expected: AcaResponseKind
) -> None:
    file, ee_key, _ = aca_round(pki, built)
    keyring = Keyring()
    keyring.add_response_key(ee_key)

    with pytest.raises(SpduShapeError):
        parse_aca_ee_cert_response(file, expected, keyring=keyring)


def test_private_response_signed_by_another_aca_than_the_issuer_is_rejected(pki: Pki) -> None:
    certificate = issue_explicit(tbs("ee"), new_key().public_key(), cert(pki.aca), pki.aca.key)
    ee_key = new_key()
    honest = build_aca_ee_cert_response(
        AcaEeCertResponse(NOW, certificate), "private", encryption_key=ee_key.public_key(), signer=pki.aca
    )
    value = asn1.decode("Ieee1609Dot2Data", honest)
    inner = value["content"][1]["tbsData"]["payload"]["data"]["content"][1]
    forged = sign_data(inner, 35, pki.other_aca)
    keyring = Keyring()
    keyring.add_response_key(ee_key)

    assert parse_aca_ee_cert_response(honest, "private", keyring=keyring).signer == cert(pki.aca)
    with pytest.raises(InvalidSignature, match="another ACA"):
        parse_aca_ee_cert_response(forged, "private", keyring=keyring)


def test_private_response_is_not_built_with_another_aca_than_the_issuer(pki: Pki) -> None:
    certificate = issue_explicit(tbs("ee"), new_key().public_key(), cert(pki.aca), pki.aca.key)

    with pytest.raises(ValueError, match="issued"):
        build_aca_ee_cert_response(
            AcaEeCertResponse(NOW, certificate), "private", encryption_key=new_key().public_key(), signer=pki.other_aca
        )


def test_ra_aca_request_with_cert_enc_key_and_cubk_is_not_built(pki: Pki) -> None:
    request = RaAcaCertRequest(NOW, "explicit", tbs("ee"), cubk=True, cert_enc_key=new_key().public_key())

    with pytest.raises(ValueError, match=r"certEncKey present with flags\.cubk"):
        build_ra_aca_cert_request(request, pki.ra)


def test_ra_aca_request_signed_by_an_impostor_key_is_rejected(pki: Pki) -> None:
    impostor = Signer(new_key(), cert(pki.ra))
    spdu = build_ra_aca_cert_request(RaAcaCertRequest(NOW, "explicit", tbs("ee")), impostor)

    with pytest.raises(InvalidSignature):
        parse_ra_aca_cert_request(spdu)


def test_aca_ra_response_with_a_flipped_signature_bit_is_rejected(pki: Pki) -> None:
    file, _, _ = aca_round(pki, "plain")
    spdu = build_aca_ra_cert_response(AcaRaCertResponse(NOW, b"\x00" * 8, "plain", file), pki.aca)

    with pytest.raises(InvalidSignature):
        parse_aca_ra_cert_response(flip_last(spdu))


def test_batch_info_file_round_trips_unsecured() -> None:
    info = RaEeCertInfo(NOW, 7, b"\x0a" * 8, NOW + 7 * 86400)

    built = build_ra_ee_cert_info(info)

    assert_canonical(built)
    assert parse_ra_ee_cert_info(built).content == info


def test_batch_info_file_with_an_acpc_tree_is_not_a_plain_info_file() -> None:
    with pytest.raises(ValueError, match="acpcTreeId"):
        build_ra_ee_cert_info(RaEeCertInfo(NOW, 7, b"\x0a" * 8, NOW, acpc_tree_id=b"\x00" * 8))


# --- downloads (protocol.md §3.3, RA assembly and download) -----------------------------------------


def test_download_request_reaches_the_ra_signed_by_the_enrollment_cert(pki: Pki, enrolled: Signer) -> None:
    request = EeRaDownloadRequest(NOW, "0A0B0C0D0E0F1011_7.zip")

    spdu = build_ee_ra_download_request(request, enrolled, CertRecipient(cert(pki.ra)))
    opened = parse_ee_ra_download_request(spdu, pki.ra_keyring)

    assert_canonical(spdu)
    assert opened.content == request
    assert opened.signer == cert(enrolled)


def test_download_request_in_clear_is_400_10(pki: Pki) -> None:
    plain = build_ee_ra_download_request_plain(EeRaDownloadRequest(NOW, "x.zip"))

    with pytest.raises(NotEncrypted):
        parse_ee_ra_download_request(plain, pki.ra_keyring)


def test_plain_download_request_round_trips() -> None:
    request = EeRaDownloadRequest(NOW, "0A0B0C0D0E0F1011_enroll.oer")

    built = build_ee_ra_download_request_plain(request)

    assert_canonical(built)
    assert parse_ee_ra_download_request_plain(built).content == request


def test_plain_download_parser_rejects_a_batch_info_file() -> None:
    with pytest.raises(SpduShapeError):
        parse_ee_ra_download_request_plain(build_ra_ee_cert_info(RaEeCertInfo(NOW, 0, b"\x00" * 8, NOW)))


# --- successor enrollment (protocol.md §3.4) --------------------------------------------------------


def test_successor_request_carries_a_self_signed_request_for_the_new_key(pki: Pki, enrolled: Signer) -> None:
    new = new_key()
    inner = build_ee_eca_cert_request(enrollment_request(new), new)

    spdu = build_successor_request(inner, enrolled, CertRecipient(cert(pki.ra)))
    opened = parse_successor_request(spdu, pki.ra_keyring)

    assert_canonical(spdu)
    assert opened.signer == cert(enrolled)
    assert opened.content.inner_spdu == inner
    assert opened.content.inner.content == enrollment_request(new)
    ack = build_ra_ee_enrollment_cert_ack(RaEeCertInfo(NOW, 0, opened.spdu_hash, NOW + 60), pki.ra)
    assert parse_ra_ee_enrollment_cert_ack(ack).content.request_hash == request_hash(spdu)


def test_successor_request_whose_inner_request_is_signed_by_another_key_is_rejected(
    pki: Pki, enrolled: Signer
) -> None:
    inner = build_ee_eca_cert_request(enrollment_request(new_key()), new_key())
    spdu = build_successor_request(inner, enrolled, CertRecipient(cert(pki.ra)))

    with pytest.raises(InvalidSignature):
        parse_successor_request(spdu, pki.ra_keyring)


def test_authorization_request_is_not_a_successor_request(pki: Pki, enrolled: Signer) -> None:
    spdu = build_ee_ra_cert_request(authorization_request(None), enrolled, CertRecipient(cert(pki.ra)))

    with pytest.raises(SpduShapeError, match="eeRaSuccessorEnrollmentCertRequest"):
        parse_successor_request(spdu, pki.ra_keyring)


# --- trust artefacts (protocol.md §3.5) ------------------------------------------------------------


@pytest.fixture(scope="module")
def electors() -> tuple[Signer, Signer]:
    """Two self-signed P-384 electors: a HashedId48 tbsCtlHash needs SHA-384 signatures."""

    def elector() -> Signer:
        key = ec.generate_private_key(ec.SECP384R1())
        tbs_cert = tbs("elector")
        tbs_cert["verifyKeyIndicator"] = ("verificationKey", verification_key_to_asn1(key.public_key()))
        return Signer(key, issue_explicit(tbs_cert, key.public_key(), None, key))

    return elector(), elector()


def tbs_ctl(pki: Pki, electors: tuple[Signer, Signer], sequence_number: int = 1) -> FullIeeeTbsCtl:
    return FullIeeeTbsCtl(
        ctl_series_id=b"\x01" * 8,
        sequence_number=sequence_number,
        effective_date=NOW,
        elector_approve=tuple(elector_entry(cert(e)) for e in electors),
        root_ca_approve=(digest(cert(pki.root).encoded, "sha256"),),
        quorum=2,
    )


def test_ctl_signed_by_two_electors_verifies(pki: Pki, electors: tuple[Signer, Signer]) -> None:
    ctl = sign_ctl(tbs_ctl(pki, electors), electors, unsigned=[cert(e) for e in electors])

    spdu = build_multi_signed_ctl_spdu(ctl)
    opened = parse_multi_signed_ctl_spdu(spdu)

    assert_canonical(spdu)
    assert opened.content == ctl
    assert verify_ctl_signatures(opened.content) == tuple(cert(e) for e in electors)
    assert opened.content.unsigned_certificates() == tuple(cert(e) for e in electors)


def test_ctl_signed_twice_by_one_elector_is_rejected(pki: Pki, electors: tuple[Signer, Signer]) -> None:
    ctl = sign_ctl(tbs_ctl(pki, electors), (electors[0], electors[0]))

    with pytest.raises(ChainError, match="twice"):
        verify_ctl_signatures(ctl)


def test_ctl_carrying_a_signature_of_another_ctl_is_rejected(pki: Pki, electors: tuple[Signer, Signer]) -> None:
    ctl = sign_ctl(tbs_ctl(pki, electors), electors)
    older = sign_ctl(tbs_ctl(pki, electors, sequence_number=0), electors)
    mixed = type(ctl)(ctl.tbs_ctl, ctl.unsigned, (ctl.signatures[0], older.signatures[1]))

    with pytest.raises(SpduShapeError, match="another CTL"):
        verify_ctl_signatures(mixed)


def test_ctl_signature_with_a_flipped_bit_is_rejected(pki: Pki, electors: tuple[Signer, Signer]) -> None:
    ctl = sign_ctl(tbs_ctl(pki, electors), electors)
    broken = type(ctl)(ctl.tbs_ctl, ctl.unsigned, (ctl.signatures[0], flip_last(ctl.signatures[1])))

    with pytest.raises(InvalidSignature):
        verify_ctl_signatures(broken)


def crl(pki: Pki) -> bytes:
    empty = ("fullHashCrl", {"crlSerial": 1, "entries": []})
    contents = CrlContents(1, cert(pki.root).hashed_id8, NOW, NOW + 86400, empty)
    return build_secured_crl(contents, pki.root, signer_form="digest")


def test_secured_crl_round_trips_with_a_digest_signer(pki: Pki) -> None:
    spdu = crl(pki)

    opened = parse_secured_crl(spdu, resolve_signer={cert(pki.root).hashed_id8: cert(pki.root)}.get)

    assert_canonical(spdu)
    assert opened.content.crl_series == 1
    assert opened.signer == cert(pki.root)


def test_secured_crl_signed_by_another_root_is_rejected(pki: Pki) -> None:
    impostor = Signer(new_key(), cert(pki.root))
    contents = CrlContents(1, cert(pki.root).hashed_id8, NOW, NOW + 1, ("fullHashCrl", {"crlSerial": 1, "entries": []}))
    spdu = build_secured_crl(contents, impostor)

    with pytest.raises(InvalidSignature):
        parse_secured_crl(spdu)


def test_chain_file_and_composite_crl_round_trip(pki: Pki, electors: tuple[Signer, Signer]) -> None:
    home_ctl = build_multi_signed_ctl_spdu(sign_ctl(tbs_ctl(pki, electors), electors))
    chain = CertificateChain(home_ctl, (cert(pki.root), cert(pki.ica), cert(pki.ra)))
    composite = CompositeCrl((crl(pki),), home_ctl)

    chain_spdu = build_certificate_chain_spdu(chain)
    composite_spdu = build_composite_crl_spdu(composite)

    assert_canonical(chain_spdu)
    assert_canonical(composite_spdu)
    assert parse_certificate_chain_spdu(chain_spdu).content == chain
    assert parse_composite_crl_spdu(composite_spdu).content == composite
    with pytest.raises(SpduShapeError):
        parse_certificate_chain_spdu(composite_spdu)


def test_info_status_round_trips_signed_by_the_ra(pki: Pki) -> None:
    status = CertificateManagementInfoStatus(
        crl=(CrlInfoStatus(cert(pki.root).hashed_id8, 1, NOW),),
        ctl=(CtlInfoStatus(b"\x01" * 8, 1, NOW),),
        ca_ccf=NOW,
        ma=(MaInfoStatus((32, 35), NOW),),
        ra=NOW,
    )

    spdu = build_info_status_spdu(status, pki.ra)

    assert_canonical(spdu)
    assert parse_info_status_spdu(spdu).content == status
    with pytest.raises(InvalidSignature):
        parse_info_status_spdu(flip_last(spdu))
