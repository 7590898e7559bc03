"""The SPDU parsers on the public samples, each with a failing twin (protocol.md §1.3, vectors README)."""

from __future__ import annotations

import pytest

from scms_codec.cert.certificate import Certificate
from scms_codec.errors import DecodeError, DecryptionError, ErrorCode, InvalidSignature, NotEncrypted, SpduShapeError
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu.cert_management import (
    parse_certificate_chain_spdu,
    parse_composite_crl_spdu,
    parse_info_status_spdu,
)
from scms_codec.spdu.crl import parse_secured_crl
from scms_codec.spdu.ctl import parse_multi_signed_ctl_spdu, verify_ctl_signatures
from scms_codec.spdu.eca_ee import parse_ee_eca_cert_request
from scms_codec.spdu.ee_ra_cert_request import parse_ee_ra_cert_request
from scms_codec.spdu.scms_pdu import request_hash
from scms_codec.spdu.successor import parse_successor_request
from tests.support.vectors import VECTORS

ENCODED = VECTORS / "encoded"


def sample(path: str) -> bytes:
    return (ENCODED / path).read_bytes()


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


EE_ECA_REQUEST = sample("openscms/EeEcaCertRequestSpdu.dat")
EE_ECA_REQUEST_CANONICAL = sample("oscms-asn1c-codecs/EncryptedEeEcaCertRequestSpdu.dat")
INFO_STATUS = sample("oscms-asn1c-codecs/CertificateManagementInfoStatusSpdu.dat")
CHAIN_FILE = sample("oscms-asn1c-codecs/OscmsCertificateChainFileSpdu.dat")
COMPOSITE_CRL = sample("oscms-asn1c-codecs/composite-crl-file.dat")
DECRYPTED_EE_RA_REQUEST = sample("oscms-asn1c-codecs/DecryptedEeRaCertRequestSpdu.dat")
EE_RA_REQUEST = sample("oscms-asn1c-codecs/EeRaCertRequest.dat")
SUCCESSOR_REQUEST = sample("openscms/EeRaSuccessorEnrollmentCertRequestSpdu.dat")
ISS_CRL = sample("iyourshaw-ieee1609/CRL-2020-2025.oer")
ISS_ROOT = Certificate.from_bytes(sample("iyourshaw-ieee1609/iss_v2x_root.oer"))


# EeEcaCertRequestSpdu (self-signed with the requested key: proof of possession).


def test_openscms_ee_eca_request_verifies_with_its_own_key() -> None:
    opened = parse_ee_eca_cert_request(EE_ECA_REQUEST)

    assert opened.content.generation_time == 644851777
    assert opened.content.type == "implicit"
    assert opened.content.canonical_id is None
    assert opened.spdu_hash == request_hash(EE_ECA_REQUEST)
    assert opened.signer is None


def test_openscms_ee_eca_request_reports_its_missing_cert_request_permissions() -> None:
    assert parse_ee_eca_cert_request(EE_ECA_REQUEST).content.violations() == ("certRequestPermissions is absent",)


def test_openscms_ee_eca_request_with_a_flipped_signature_bit_is_rejected() -> None:
    with pytest.raises(InvalidSignature):
        parse_ee_eca_cert_request(flip(EE_ECA_REQUEST, len(EE_ECA_REQUEST) - 1))


def test_openscms_ee_eca_request_with_a_trailing_byte_is_rejected() -> None:
    with pytest.raises(DecodeError):
        parse_ee_eca_cert_request(EE_ECA_REQUEST + b"\x00")


def test_canonical_id_request_does_not_verify_with_the_requested_key() -> None:
    # With canonicalId the EE signs with its canonical key, which only the ECA's registry knows.
    with pytest.raises(InvalidSignature):
        parse_ee_eca_cert_request(EE_ECA_REQUEST_CANONICAL)


def test_ee_eca_parser_rejects_a_signed_data_spdu() -> None:
    with pytest.raises(SpduShapeError):
        parse_ee_eca_cert_request(INFO_STATUS)


# Info status (RA-signed, PSID 35).


def test_info_status_sample_verifies_under_its_ra_certificate() -> None:
    opened = parse_info_status_spdu(INFO_STATUS)

    assert opened.content.ca_ccf == 1757442522
    assert opened.content.ra == 1757440534
    assert opened.content.crl[0].craca_id.hex() == "15e298fe7b1d9199"
    assert opened.signer is not None
    assert opened.signer.hashed_id8.hex() == "15e298fe7b1d9199"


def test_info_status_with_a_flipped_signature_bit_is_rejected() -> None:
    with pytest.raises(InvalidSignature):
        parse_info_status_spdu(flip(INFO_STATUS, len(INFO_STATUS) - 1))


def test_info_status_with_a_trailing_byte_is_rejected() -> None:
    with pytest.raises(DecodeError):
        parse_info_status_spdu(INFO_STATUS + b"\x00")


def test_chain_file_is_not_an_info_status() -> None:
    with pytest.raises(SpduShapeError):
        parse_info_status_spdu(CHAIN_FILE)


# Certificate chain file and its CTL.


def test_chain_file_sample_parses_with_its_home_ctl() -> None:
    chain = parse_certificate_chain_spdu(CHAIN_FILE).content
    ctl = parse_multi_signed_ctl_spdu(chain.home_ctl).content

    assert len(chain.others) == 5
    assert ctl.tbs_ctl.quorum == 3
    assert ctl.tbs_ctl.ctl_series_id.hex() == "ffffffffffffff00"
    assert len(ctl.signatures) == 3
    assert len(ctl.unsigned) == 8


def test_chain_file_ctl_electors_lack_every_permission_field() -> None:
    ctl = parse_multi_signed_ctl_spdu(parse_certificate_chain_spdu(CHAIN_FILE).content.home_ctl).content

    with pytest.raises(DecodeError, match="appPermissions"):
        ctl.unsigned_certificates()


def test_chain_file_ctl_signatures_break_the_signed_spdu_shape() -> None:
    # OpenSCMS test data signs CTL signatures under PSID 111111 with a generationTime (protocol.md §7).
    ctl = parse_multi_signed_ctl_spdu(parse_certificate_chain_spdu(CHAIN_FILE).content.home_ctl).content

    with pytest.raises(SpduShapeError, match="psid"):
        verify_ctl_signatures(ctl)


def test_chain_file_is_not_a_composite_crl() -> None:
    with pytest.raises(SpduShapeError):
        parse_composite_crl_spdu(CHAIN_FILE)


def test_composite_crl_sample_parses() -> None:
    crl = parse_composite_crl_spdu(COMPOSITE_CRL).content

    assert len(crl.crls) == 1
    assert parse_multi_signed_ctl_spdu(crl.home_ctl).content.tbs_ctl.sequence_number == 0


def test_composite_crl_with_a_trailing_byte_is_rejected() -> None:
    with pytest.raises(DecodeError):
        parse_composite_crl_spdu(COMPOSITE_CRL + b"\x00")


# SecuredCrl (digest signer: the ISS root).


def test_iss_crl_verifies_under_the_root_it_names_by_digest() -> None:
    opened = parse_secured_crl(ISS_CRL, resolve_signer={ISS_ROOT.hashed_id8: ISS_ROOT}.get)

    assert opened.content.crl_series == 256
    assert opened.content.crl_craca == ISS_ROOT.hashed_id8
    assert opened.content.type_specific == ("fullHashCrl", {"crlSerial": 2, "entries": []})
    assert opened.signer == ISS_ROOT


def test_iss_crl_with_a_flipped_signature_bit_is_rejected() -> None:
    with pytest.raises(InvalidSignature):
        parse_secured_crl(flip(ISS_CRL, len(ISS_CRL) - 1), resolve_signer={ISS_ROOT.hashed_id8: ISS_ROOT}.get)


def test_iss_crl_without_a_way_to_resolve_its_signer_is_rejected() -> None:
    with pytest.raises(InvalidSignature):
        parse_secured_crl(ISS_CRL)


def test_info_status_is_not_a_secured_crl() -> None:
    with pytest.raises(SpduShapeError, match="psid"):
        parse_secured_crl(INFO_STATUS)


# Encrypted requests: parse up to decryption, which needs the RA's key.


@pytest.mark.parametrize(
    ("parse", "data"),
    [
        pytest.param(parse_ee_ra_cert_request, EE_RA_REQUEST, id="EeRaCertRequest.dat"),
        pytest.param(parse_successor_request, SUCCESSOR_REQUEST, id="EeRaSuccessorEnrollmentCertRequestSpdu.dat"),
    ],
)
def test_encrypted_request_samples_cannot_be_decrypted_without_the_ra_key(parse, data) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DecryptionError) as info:
        parse(data, Keyring())

    assert info.value.error_code is ErrorCode.DECRYPTION_FAILED


@pytest.mark.parametrize(
    "parse",
    [
        pytest.param(parse_ee_ra_cert_request, id="EeRaCertRequestSpdu"),
        pytest.param(parse_successor_request, id="EeRaSuccessorEnrollmentCertRequestSpdu"),
    ],
)
def test_request_arriving_as_a_plain_signed_request_is_400_10(parse) -> None:  # type: ignore[no-untyped-def]
    # DecryptedEeRaCertRequestSpdu.dat is the same request without its encryption layer.
    with pytest.raises(NotEncrypted) as info:
        parse(DECRYPTED_EE_RA_REQUEST, Keyring())

    assert info.value.error_code is ErrorCode.NOT_ENCRYPTED


def test_encrypted_request_with_a_trailing_byte_is_rejected_before_decryption() -> None:
    with pytest.raises(DecodeError):
        parse_ee_ra_cert_request(EE_RA_REQUEST + b"\x00", Keyring())
