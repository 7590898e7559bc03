"""scms_aca.wire: the fixed-shape reader and writers give exactly what the codec's strict path gives (asn1tools)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from scms_aca.wire import (
    FastRequest,
    LinkageKeys,
    TbsParts,
    aca_ee_cert_response_pdu,
    aca_ra_cert_response_pdu,
    certificate_coer,
    encrypted_data_rek,
    read_ra_aca_cert_request,
    rek_recipient_id,
    signed_data,
    signed_data_tbs,
    unsecured,
    validity_octets,
    validity_value,
)

from scms_codec import asn1
from scms_codec.cert import template as cert_template
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
        content.generation_time,
        content.type,
        content.butterfly_explicit,
        content.cubk,
    )
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
    named = ra.request(
        "explicit", "private", 1, 1, generation_time=NOW, tbs_cert=dict(content.tbs_cert, id=("name", "x"))
    )
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
    # Any other PSID (and a long payload) is written as the template writes it too.
    other = {**value, "headerInfo": {"psid": 0x20_40_95}}
    other["payload"] = {"data": {"protocolVersion": 3, "content": ("unsecuredData", payload * 5)}}
    assert signed_data_tbs(payload * 5, 0x20_40_95) == coer.to_be_signed_data(other) != tbs
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


# --- the tbsCert parts the ACA copies into certificates ----------------------------------------


def _tbs_of_parts(parts: TbsParts) -> bytes:
    indicator = b"\x81" if parts.reconstruction else b"\x80\x80"
    key = bytes((0x80 | parts.key[0],)) + parts.key[1:]
    head = parts.preamble + parts.id + parts.craca_id + parts.crl_series + parts.validity
    return head + parts.middle + indicator + key


def _assert_canonical(fast: FastRequest) -> None:
    """What the reader accepted is canonical COER: asn1tools and the templates write those very octets."""
    value = asn1.decode("ToBeSignedCertificate", fast.tbs_octets)
    assert fast.tbs_cert == value
    assert cert_template.to_be_signed_certificate(value) == fast.tbs_octets
    assert asn1.encode("ToBeSignedCertificate", value) == fast.tbs_octets
    assert _tbs_of_parts(fast.tbs) == fast.tbs_octets
    assert fast.tbs.app_permissions == asn1.encode("SequenceOfPsidSsp", value["appPermissions"])
    assert fast.tbs.validity == validity_octets(value["validityPeriod"])
    assert validity_value(fast.tbs.validity) == value["validityPeriod"]


@pytest.mark.parametrize(("cert_type", "kind"), VARIANTS, ids=[f"{t}-{k}" for t, k in VARIANTS])
def test_the_tbs_parts_are_the_requested_octets(ra: Ra, cert_type: Any, kind: Any) -> None:
    fast = read_ra_aca_cert_request(ra.request(cert_type, kind, 9, 4, generation_time=NOW).spdu)
    assert fast is not None
    _assert_canonical(fast)
    assert fast.tbs.reconstruction == (cert_type == "implicit")
    assert (fast.tbs.i_cert is None) == (kind not in ("original", "unified", "compact-unified"))


SHAPES: dict[str, dict[str, Any]] = {
    "region": {"region": ("identifiedRegion", [("countryOnly", 124), ("countryOnly", 840), ("countryOnly", 0)])},
    "empty-region": {"region": ("identifiedRegion", [])},
    "psids": {"appPermissions": [{"psid": p} for p in (0, 127, 128, 255, 256, 65_536, 2**31)]},
    "ssps": {"appPermissions": [{"psid": 32, "ssp": ("opaque", b"\x01" * n)} for n in (0, 1, 127, 128, 300)]},
    "encryption-key": {"encryptionKey": {"supportedSymmAlg": "aes128Ccm", "publicKey": (
        "eciesNistP256", keys.point_to_asn1(ec.generate_private_key(ec.SECP256R1()).public_key()))}},
    "validity": {"validityPeriod": {"start": 2**32 - 1, "duration": ("microseconds", 65_535)}},
}  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
def test_richer_tbs_shapes_are_read_canonically(ra: Ra, shape: str) -> None:
    content = ra.content("explicit", "unified", 2, 1, generation_time=NOW)
    tbs = dict(content.tbs_cert, **SHAPES[shape])
    fast = read_ra_aca_cert_request(ra.request("explicit", "unified", 2, 1, generation_time=NOW, tbs_cert=tbs).spdu)
    assert fast is not None
    _assert_canonical(fast)
    assert fast.tbs_cert == tbs


def _replace_tbs(spdu: bytes, old: bytes, new: bytes) -> bytes:
    """The SPDU with its tbsCert octets replaced and the outer length written again (the signature no longer holds)."""
    first = spdu[2]
    start = 3 if first < 0x80 else 3 + (first & 0x7F)
    body = spdu[start:]
    assert body.count(old) == 1
    body = body.replace(old, new)
    return b"\x03\x83" + cert_template.length(len(body)) + body


@pytest.mark.parametrize("cert_type", ["explicit", "implicit"])
def test_every_single_octet_change_of_the_tbs_is_refused_or_read_canonically(ra: Ra, cert_type: Any) -> None:
    # Given a request with a region, SSPs and a linkage id (every part of the fixed shape),
    content = ra.content(cert_type, "unified", 2, 1, generation_time=NOW)
    ssps = [{"psid": 32, "ssp": ("opaque", b"\x01" * n)} for n in (0, 2, 128)] + [{"psid": 300}]
    tbs = dict(content.tbs_cert, **SHAPES["region"], appPermissions=ssps)
    spdu = ra.request(cert_type, "unified", 2, 1, generation_time=NOW, tbs_cert=tbs).spdu
    fast = read_ra_aca_cert_request(spdu)
    assert fast is not None
    octets = fast.tbs_octets
    # When any octet is replaced, dropped or doubled,
    changed = set()
    for at in range(len(octets)):
        for value in {0x00, 0x01, 0x03, 0x7F, 0x80, 0x81, 0x82, 0x83, 0xFF, octets[at] ^ 0x01, octets[at] ^ 0x80}:
            changed.add(octets[:at] + bytes((value,)) + octets[at + 1 :])
        changed.add(octets[:at] + octets[at + 1 :])
        changed.add(octets[:at] + octets[at : at + 1] + octets[at:])
    changed.discard(octets)
    read = [f for f in (read_ra_aca_cert_request(_replace_tbs(spdu, octets, c)) for c in changed) if f is not None]
    # Then the reader either leaves the SPDU to the strict parser or reads canonical COER of it.
    for other in read:
        _assert_canonical(other)
    # (Both happen: value octets are read, broken lengths, tags and padding are not.)
    assert 0 < len(read) < len(changed) - 100


NON_MINIMAL = {
    "psid": (b"\x01\x01\x00\x01\x20", b"\x01\x01\x00\x02\x00\x20"),  # psid 32 in two octets
    "quantity": (b"\x01\x01\x00\x01\x20", b"\x02\x00\x01\x00\x01\x20"),  # one entry counted in two octets
    "long-length": (b"\x01\x01\x00\x01\x20", b"\x01\x01\x00\x81\x01\x20"),  # length 1 in the long form
    "psid-padding": (b"\x01\x01\x00\x01\x20", b"\x01\x01\x01\x01\x20"),  # a non-zero padding bit in PsidSsp
}


@pytest.mark.parametrize("case", NON_MINIMAL, ids=list(NON_MINIMAL))
def test_non_canonical_app_permissions_are_left_to_the_strict_parser(ra: Ra, case: str) -> None:
    spdu = ra.request("implicit", "compact-unified", 2, 1, generation_time=NOW).spdu
    fast = read_ra_aca_cert_request(spdu)
    assert fast is not None
    canonical, stretched = NON_MINIMAL[case]
    assert fast.tbs.app_permissions == canonical
    tbs = fast.tbs_octets
    # Twin: the same surgery writing the canonical octets back is read again.
    assert read_ra_aca_cert_request(_replace_tbs(spdu, tbs, tbs.replace(canonical, canonical))) is not None
    assert read_ra_aca_cert_request(_replace_tbs(spdu, tbs, tbs.replace(canonical, stretched))) is None
