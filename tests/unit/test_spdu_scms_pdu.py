"""ScmsPdu content paths, request hashes and outer SPDU shapes (protocol.md §1.2, §1.3, §4.1)."""

from __future__ import annotations

import hashlib

import pytest

from scms_codec.errors import DecodeError, ErrorCode, NotEncrypted, SpduShapeError
from scms_codec.spdu.scms_pdu import content_path, decode_scms_pdu, encode_scms_pdu, request_hash
from scms_codec.spdu.shape import require_content
from tests.support.vectors import VECTORS

INFO_STATUS_PDU = (VECTORS / "encoded/oscms-asn1c-codecs/CertManagementPdu.dat").read_bytes()
SIGNED_INFO_STATUS = (VECTORS / "encoded/oscms-asn1c-codecs/CertificateManagementInfoStatusSpdu.dat").read_bytes()
ENCRYPTED_REQUEST = (VECTORS / "encoded/oscms-asn1c-codecs/EeRaCertRequest.dat").read_bytes()


def test_decode_scms_pdu_returns_the_content_at_the_expected_path() -> None:
    content = decode_scms_pdu(INFO_STATUS_PDU, ("cert", "infoStatus"))

    assert content["caCcf"] == 1757442522
    assert encode_scms_pdu(("cert", "infoStatus"), content) == INFO_STATUS_PDU


def test_decode_scms_pdu_rejects_another_content_path() -> None:
    with pytest.raises(SpduShapeError, match=r"cert\.compositeCrl"):
        decode_scms_pdu(INFO_STATUS_PDU, ("cert", "compositeCrl"))


def test_decode_scms_pdu_rejects_a_version_other_than_2() -> None:
    with pytest.raises(DecodeError):
        decode_scms_pdu(b"\x03" + INFO_STATUS_PDU[1:], ("cert", "infoStatus"))


def test_decode_scms_pdu_rejects_a_trailing_byte() -> None:
    with pytest.raises(DecodeError):
        decode_scms_pdu(INFO_STATUS_PDU + b"\x00", ("cert", "infoStatus"))


def test_content_path_names_interface_and_pdu() -> None:
    value = {"version": 2, "content": ("ee-ra", ("raEeCertAck", {}))}

    assert content_path(value) == ("ee-ra", "raEeCertAck")


def test_request_hash_is_the_low_8_octets_of_sha256_of_the_bytes_as_received() -> None:
    assert request_hash(ENCRYPTED_REQUEST) == hashlib.sha256(ENCRYPTED_REQUEST).digest()[-8:]
    assert request_hash(b"") == bytes.fromhex("a495991b7852b855")


def test_request_hash_changes_with_one_flipped_bit() -> None:
    flipped = ENCRYPTED_REQUEST[:-1] + bytes([ENCRYPTED_REQUEST[-1] ^ 1])

    assert request_hash(flipped) != request_hash(ENCRYPTED_REQUEST)


def test_request_hash_rejects_a_str() -> None:
    with pytest.raises(TypeError, match="spdu"):
        request_hash("00")  # type: ignore[arg-type]


def test_require_content_returns_the_matching_alternative() -> None:
    content = require_content(ENCRYPTED_REQUEST, "encryptedData", "EeRaCertRequestSpdu")

    assert content["recipients"][0][0] == "certRecipInfo"


def test_require_content_gives_400_10_when_an_encrypted_spdu_arrives_signed() -> None:
    with pytest.raises(NotEncrypted) as info:
        require_content(SIGNED_INFO_STATUS, "encryptedData", "EeRaCertRequestSpdu")

    assert info.value.error_code is ErrorCode.NOT_ENCRYPTED


def test_require_content_gives_400_42_for_another_wrong_form() -> None:
    with pytest.raises(SpduShapeError) as info:
        require_content(ENCRYPTED_REQUEST, "signedData", "RaEeCertAckSpdu")

    assert info.value.error_code is ErrorCode.FAILED_PARSING
    assert not isinstance(info.value, NotEncrypted)
