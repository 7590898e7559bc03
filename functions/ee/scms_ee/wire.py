"""Fixed-shape COER readers for what an EE downloads at volume: ACA response SPDUs and pseudonym certificates.

A strict asn1tools parse of one ``AcaEeCertResponsePrivateSpdu`` costs about 2 ms, ten times the
cryptography the device must do for it (performance.md §4, §5). These readers accept exactly the
shapes the ACA writes (``scms_aca.wire``: protocol.md §1.3 Signed/Encrypted/Unsecured wrappers,
§3.3 AcaEeCertResponse, §4.1 a template-shaped certificate) and return None for anything else,
which the caller then opens with the codec's strict parser. A certificate read here is accepted
only if the codec's template encodes it back to the very octets received, so what passes is
canonical COER that asn1tools would decode to the same value (tests/unit/ee/test_pseudonyms_wire.py
holds both to asn1tools). Nothing here verifies or decrypts: it only says where the fields are.
The cursor, the template-shaped tbsCert reader and the outer SignedData reader (``read_signed``,
``FastSigned``) are the codec's (``scms_codec.oer_reader``), shared with the ACA's readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scms_codec.cert import template as cert_template
from scms_codec.oer_reader import (
    P256_SIGNATURE_SIZE,
    POINT_FORMS,
    NotFixedShape,
    Reader,
    read_signed,
    read_to_be_signed_certificate,
)
from scms_codec.oer_reader import SignedParts as FastSigned

__all__ = [
    "FastCertificate",
    "FastEncrypted",
    "FastResponse",
    "FastSigned",
    "read_certificate",
    "read_encrypted",
    "read_response",
    "read_signed",
    "read_unsecured",
]

# --- Ieee1609Dot2Data wrappers -----------------------------------------------------------------


def read_unsecured(data: bytes) -> bytes | None:
    """The payload of ``Ieee1609Dot2Data {3, unsecuredData}``, or None for another shape."""
    try:
        if data[:2] != b"\x03\x80":
            return None
        reader = Reader(data, 2)
        size = reader.length()
        if reader.pos + size != len(data):
            return None
        return data[reader.pos :]
    except NotFixedShape:
        return None


@dataclass(frozen=True)
class FastEncrypted:
    """``Ieee1609Dot2Data-Encrypted`` with one rekRecipInfo (ECIES P-256) and AES-128-CCM (protocol.md §4.4)."""

    recipient_id: bytes
    v: bytes = field(repr=False)  # SEC 1 compressed ephemeral key (33 octets)
    c: bytes = field(repr=False)
    t: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)  # ccmCiphertext: ciphertext ‖ tag


def read_encrypted(data: bytes) -> FastEncrypted | None:
    """The fields of an encrypted response SPDU as ``scms_aca.wire.encrypted_data_rek`` writes it, or None."""
    try:
        return _read_encrypted(data)
    except (NotFixedShape, IndexError):
        return None


def _read_encrypted(data: bytes) -> FastEncrypted:
    # {3, encryptedData {recipients [rekRecipInfo {recipientId, eciesNistP256 {v, c, t}}],
    #  ciphertext aes128ccm {nonce, ccmCiphertext}}}
    if data[:5] != b"\x03\x82\x01\x01\x84":
        raise NotFixedShape
    reader = Reader(data, 5)
    recipient_id = reader.take(8)
    reader.expect(b"\x80")
    form = reader.byte()
    if form not in POINT_FORMS:
        raise NotFixedShape
    v = bytes((form & 0x7F,)) + reader.take(32)
    c = reader.take(16)
    t = reader.take(16)
    reader.expect(b"\x80")
    nonce = reader.take(12)
    size = reader.length()
    if reader.pos + size != len(data):
        raise NotFixedShape
    return FastEncrypted(recipient_id, v, c, t, nonce, data[reader.pos :])


# --- ScmsPdu aca-ee acaEeCertResponse ----------------------------------------------------------


@dataclass(frozen=True)
class FastResponse:
    """``AcaEeCertResponse {2, generationTime, certificate, privateKeyInfo?}`` with the certificate read too."""

    generation_time: int
    certificate: FastCertificate
    private_key_info: bytes | None = field(repr=False)


def read_response(unsecured: bytes) -> FastResponse | None:
    """An ``Ieee1609Dot2Data {3, unsecuredData ScmsPdu{2, aca-ee acaEeCertResponse}}``, or None (§3.3)."""
    pdu = read_unsecured(unsecured)
    if pdu is None:
        return None
    try:
        # ScmsPdu version 2, content aca-ee (0), AcaEeInterfacePdu acaEeCertResponse (0); the
        # response's preamble holds its extension bit and privateKeyInfo's presence bit.
        if pdu[:3] != b"\x02\x80\x80" or pdu[3] not in (0x00, 0x40) or pdu[4] != 2:
            return None
        has_key = pdu[3] == 0x40
        end = len(pdu) - 32 if has_key else len(pdu)
        certificate = read_certificate(pdu[9:end])
        if certificate is None:
            return None
        return FastResponse(int.from_bytes(pdu[5:9], "big"), certificate, pdu[end:] if has_key else None)
    except IndexError:
        return None


# --- Certificate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FastCertificate:
    """A template-shaped ``Certificate`` (1609.2 §6.4.2): its value, the tbs octets and the parts of its signature."""

    encoded: bytes = field(repr=False)
    value: dict[str, Any] = field(repr=False)
    tbs_coer: bytes = field(repr=False)
    issuer_id: bytes
    implicit: bool
    r: int | None = field(default=None, repr=False)
    s: int | None = field(default=None, repr=False)

    @property
    def tbs(self) -> dict[str, Any]:
        tbs: dict[str, Any] = self.value["toBeSigned"]
        return tbs


def read_certificate(data: bytes) -> FastCertificate | None:
    """A certificate as an ACA issues it (issuer sha256AndDigest, template tbs, x-only signature), or None."""
    try:
        return _read_certificate(data)
    except (NotFixedShape, IndexError):
        return None


def _read_certificate(data: bytes) -> FastCertificate:
    head = data[:4]
    if head == b"\x80\x03\x00\x80":
        implicit = False
    elif head == b"\x00\x03\x01\x80":
        implicit = True
    else:
        raise NotFixedShape
    issuer_id = data[4:12]
    if len(issuer_id) != 8:
        raise NotFixedShape
    reader = Reader(data, 12)
    tbs = read_to_be_signed_certificate(reader)
    tbs_coer = data[12 : reader.pos]
    if cert_template.to_be_signed_certificate(tbs) != tbs_coer:
        raise NotFixedShape  # not canonical, or read otherwise than the template writes: the strict parser decides
    indicator = tbs["verifyKeyIndicator"][0]
    value: dict[str, Any] = {
        "version": 3,
        "type": "implicit" if implicit else "explicit",
        "issuer": ("sha256AndDigest", issuer_id),
        "toBeSigned": tbs,
    }
    if implicit:
        if indicator != "reconstructionValue" or reader.pos != len(data):
            raise NotFixedShape
        return FastCertificate(data, value, tbs_coer, issuer_id, True)
    if indicator != "verificationKey" or len(data) - reader.pos != P256_SIGNATURE_SIZE:
        raise NotFixedShape
    reader.expect(b"\x80\x80")
    r_octets, s_octets = reader.take(32), reader.take(32)
    value["signature"] = ("ecdsaNistP256Signature", {"rSig": ("x-only", r_octets), "sSig": s_octets})
    r, s = int.from_bytes(r_octets, "big"), int.from_bytes(s_octets, "big")
    return FastCertificate(data, value, tbs_coer, issuer_id, False, r, s)
