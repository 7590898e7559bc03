"""scms_aca.wire: the fixed-shape reader and writers give exactly what the codec's strict path gives (asn1tools)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from scms_aca.wire import (
    LinkageKeys,
    aca_ee_cert_response_pdu,
    aca_ra_cert_response_pdu,
    certificate_coer,
    encrypted_data_rek,
    read_ra_aca_cert_request,
    rek_recipient_id,
    signed_data,
    signed_data_tbs,
    unsecured,
)

from scms_codec import asn1
from scms_codec.cert.certificate import Certificate
from scms_codec.crypto import keys
from scms_codec.errors import DecryptionError
from scms_codec.secured import recipients
from scms_codec.secured import template as coer
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu._wrap import scms_pdu_bytes
from scms_codec.spdu.aca_ee import AcaEeCertResponse
from scms_codec.spdu.plv import decrypt_plv
from scms_codec.spdu.ra_aca import AcaRaCertResponse, parse_ra_aca_cert_request
from tests.unit.aca.conftest import NOW, Aca
from tests.unit.aca.simulator import KINDS, Ra, open_response

VARIANTS = [(t, k) for t in ("explicit", "implicit") for k in KINDS]


@pytest.mark.parametrize(("cert_type", "kind"), VARIANTS, ids=[f"{t}-{k}" for t, k in VARIANTS])
def test_the_reader_gives_what_the_strict_parser_gives(ra: Ra, cert_type: Any, kind: Any) -> None:
    spdu = ra.request(cert_type, kind, 9, 4, generation_time=NOW).spdu
    fast = read_ra_aca_cert_request(spdu)
    strict = parse_ra_aca_cert_request(spdu)
    assert fast is not None
    content = strict.content
    assert (fast.generation_time, fast.type, fast.butterfly_explicit, fast.cubk) == (
        content.generation_time, content.type, content.butterfly_explicit, content.cubk)
    assert fast.tbs_cert == content.tbs_cert and fast.linkage_info == content.linkage_info
    assert strict.signer is not None and fast.signer_certificate == strict.signer.encoded
    key = content.cert_enc_key
    assert (fast.cert_enc_key is None) == (key is None)
    if key is not None:
        assert fast.cert_enc_key == key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    # The signed data is the ScmsPdu as received, and r, s are the signature's.
    signed = asn1.decode("SignedCertificateRequest", asn1.decode("Ieee1609Dot2Data", spdu)["content"][1])
    assert fast.tbs_request == asn1.encode("ScmsPdu", signed["tbsRequest"])
    assert fast.s == int.from_bytes(signed["signature"][1]["sSig"], "big")


def test_the_reader_leaves_other_shapes_to_the_strict_parser(ra: Ra) -> None:
    content = ra.content("explicit", "private", 1, 1, generation_time=NOW)
    named = ra.request("explicit", "private", 1, 1, generation_time=NOW,
                       tbs_cert=dict(content.tbs_cert, id=("name", "x")))
    spdu = ra.request("explicit", "unified", 1, 1, generation_time=NOW).spdu
    assert read_ra_aca_cert_request(named.spdu) is None
    assert parse_ra_aca_cert_request(named.spdu).content.tbs_cert["id"] == ("name", "x")
    # Truncated, extended or re-wrapped octets are never read as a request.
    assert read_ra_aca_cert_request(spdu[:-1]) is None
    assert read_ra_aca_cert_request(spdu + b"\x00") is None
    assert read_ra_aca_cert_request(b"\x03\x80" + spdu[2:]) is None
    assert read_ra_aca_cert_request(spdu) is not None


def test_a_non_minimal_length_is_left_to_the_strict_parser(ra: Ra) -> None:
    spdu = ra.request("explicit", "plain", 1, 1, generation_time=NOW).spdu
    # The outer length 0x82 0x01 0x47 written with one more octet (0x83 0x00 0x01 0x47) is not canonical COER.
    assert spdu[2] == 0x82
    stretched = spdu[:2] + b"\x83\x00" + spdu[3:]
    assert read_ra_aca_cert_request(stretched) is None


def test_linkage_keys_open_a_plv_as_decrypt_plv_does_and_refuse_what_it_refuses(ra: Ra) -> None:
    info = ra.lines.info(2, 7)
    ring = ra.lines.aca_keyring()
    keys = LinkageKeys(ring)
    assert keys.plv(info.enc_plv1) == decrypt_plv(info.enc_plv1, ring) == ra.lines.plvs(2, 7)[0]
    assert keys.plv(info.enc_plv2) == decrypt_plv(info.enc_plv2, ring) == ra.lines.plvs(2, 7)[1]
    # Twins: an unknown key and a flipped ciphertext bit are DecryptionError on both paths.
    stranger = LinkageKeys(Keyring())
    with pytest.raises(DecryptionError):
        stranger.plv(info.enc_plv1)
    enc = info.enc_plv1.enc_plv
    flipped = dataclasses.replace(info.enc_plv1, enc_plv=enc[:-1] + bytes([enc[-1] ^ 1]))
    with pytest.raises(DecryptionError):
        keys.plv(flipped)
    with pytest.raises(DecryptionError):
        decrypt_plv(flipped, ring)
    # Another shape is not read here (None), so the caller asks the codec.
    assert keys.plv(dataclasses.replace(info.enc_plv1, enc_plv=enc + b"\x00")) is None


@pytest.mark.parametrize("kind", ["plain", "private", "cubk"])
def test_the_aca_ra_cert_response_pdu_is_the_codecs(kind: Any) -> None:
    spdu = unsecured(b"\x01\x02\x03")
    expected = scms_pdu_bytes(AcaRaCertResponse(NOW, bytes(range(8)), kind, spdu))
    assert aca_ra_cert_response_pdu(NOW, bytes(range(8)), kind, spdu) == expected
    assert aca_ra_cert_response_pdu(NOW, bytes(range(1, 9)), kind, spdu) != expected


def test_unsecured_is_the_template_and_asn1tools_encoding() -> None:
    for payload in (b"", b"\x01" * 127, b"\x02" * 128, b"\x03" * 700):
        value = {"protocolVersion": 3, "content": ("unsecuredData", payload)}
        assert unsecured(payload) == coer.unsecured_data(payload) == asn1.encode("Ieee1609Dot2Data", value)


@pytest.mark.parametrize("cert_type", ["explicit", "implicit"])
def test_certificate_and_inner_response_octets_are_the_asn1tools_encoding(aca: Aca, ra: Ra, cert_type: str) -> None:
    # Given a certificate the ACA issued (decoded strictly from its response),
    kind = "plain"
    sent = ra.request(cert_type, kind, 1, 0, generation_time=NOW)  # type: ignore[arg-type]
    [result] = aca.issue([sent.spdu])
    assert aca.signer.certificate is not None
    inner = open_response(ra, sent, result.response or b"", aca.signer.certificate).inner
    cert = inner.certificate
    signature = None if cert.is_implicit else coer.encode("Signature", cert.value["signature"])
    # Then the parts-built certificate and AcaEeCertResponse ScmsPdu equal asn1tools' encodings.
    built = certificate_coer(cert_type, cert.issuer_id or b"", cert.tbs_encoded, signature)
    assert built == asn1.encode("Certificate", cert.value) == cert.encoded
    pdu = aca_ee_cert_response_pdu(NOW, built, inner.private_key_info)
    assert pdu == asn1.encode("ScmsPdu", {"version": 2, "content": ("aca-ee", ("acaEeCertResponse",
                                          AcaEeCertResponse(NOW, Certificate.from_bytes(built),
                                                            inner.private_key_info).to_asn1()))})  # fmt: skip


def test_certificate_parts_must_match_the_type() -> None:
    with pytest.raises(ValueError, match="signature"):
        certificate_coer("implicit", bytes(8), b"", b"\x80" * 66)
    with pytest.raises(ValueError, match="signature"):
        certificate_coer("explicit", bytes(8), b"", None)


def test_signed_data_octets_are_the_codec_templates(aca: Aca) -> None:
    payload = unsecured(b"\x05" * 40)
    value = {"payload": {"data": {"protocolVersion": 3, "content": ("unsecuredData", payload)}},
             "headerInfo": {"psid": 35}}  # fmt: skip
    tbs = signed_data_tbs(payload, 35)
    assert tbs == coer.to_be_signed_data(value)
    assert aca.signer.certificate is not None
    cert = aca.signer.certificate.encoded
    r, s = 0x1234, 0xABCDEF
    signature = ("ecdsaNistP256Signature", {"rSig": ("x-only", r.to_bytes(32, "big")), "sSig": s.to_bytes(32, "big")})
    expected = coer.signed_data_from_parts("sha256", tbs, coer.signer_identifier("certificate", cert), signature)
    assert signed_data(tbs, cert, r, s) == expected
    assert signed_data(tbs, cert, r, s + 1) != expected


def test_encrypted_data_and_rek_id_octets_are_the_codecs() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    v = ec.generate_private_key(ec.SECP256R1()).public_key()
    sec1 = key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    v_sec1 = v.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    assert rek_recipient_id(sec1) == recipients.rek_recipient_id(key)
    assert rek_recipient_id(sec1) != rek_recipient_id(bytes([sec1[0] ^ 1]) + sec1[1:])
    value = {"protocolVersion": 3, "content": ("encryptedData", {
        "recipients": [("rekRecipInfo", {"recipientId": rek_recipient_id(sec1), "encKey": (
            "eciesNistP256", {"v": keys.point_to_asn1(v), "c": b"c" * 16, "t": b"t" * 16})})],
        "ciphertext": ("aes128ccm", {"nonce": b"n" * 12, "ccmCiphertext": b"x" * 200}),
    })}  # fmt: skip
    built = encrypted_data_rek(rek_recipient_id(sec1), v_sec1, b"c" * 16, b"t" * 16, b"n" * 12, b"x" * 200)
    assert built == coer.encode("Ieee1609Dot2Data", value) == asn1.encode("Ieee1609Dot2Data", value)
