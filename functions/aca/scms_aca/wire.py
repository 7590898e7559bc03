"""Fixed-shape COER on the ACA's per-certificate path: read RaAcaCertRequestSpdus and encPlvs, write responses.

asn1tools costs 20-30 µs per call and the strict parse of one RaAcaCertRequestSpdu about 1 ms
(performance.md §4), more than the ACA's whole C-level budget per certificate. These readers
accept exactly the shapes an RA sends at volume (protocol.md §1.3 SignedCertificateRequest with
one certificate signer, §3.3 RaAcaCertRequest, §4.6 EncryptedIndividualPLV with one
symmRecipInfo) and return None for anything else, which the caller then opens with the codec's
strict parser. Every length, count and integer read here must be in its minimal (canonical) form,
and every choice tag, presence bit and padding bit must be the one canonical COER writes, so what
passes is canonical COER that asn1tools would decode to the same value and that the templates
(``cert.template``) encode back to the very octets received: the ACA copies the requested
region, appPermissions and encryptionKey octets into the certificate as they are (``TbsParts``)
instead of decoding and encoding them again (tests/unit/aca/test_wire.py holds the reader to
asn1tools and to the templates, also on every single-octet change of the tbsCert). The cursor,
the offset readers and the template-shaped tbsCert reader are the codec's (``scms_codec.oer_reader``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from scms_codec.cert import template as cert_template
from scms_codec.errors import DecryptionError
from scms_codec.oer_reader import (
    DURATIONS,
    P256_SIGNATURE_SIZE,
    POINT_FORMS,
    TBS_ALLOWED,
    TBS_APP,
    TBS_ENCRYPTION_KEY,
    TBS_REGION,
    NotFixedShape,
    Reader,
    length_at,
    read_to_be_signed_certificate,
    uint_at,
)
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu.ra_aca import AcaResponseKind, EncryptedIndividualPLV, LinkageInfo

__all__ = [
    "FastRequest",
    "LinkageKeys",
    "TbsParts",
    "aca_ee_cert_response_pdu",
    "aca_ra_cert_response_pdu",
    "certificate_coer",
    "encrypted_data_rek",
    "read_ra_aca_cert_request",
    "rek_recipient_id",
    "signed_data",
    "signed_data_tbs",
    "unsecured",
    "validity_octets",
    "validity_value",
]

_ACA_RESPONSE_TAGS: dict[str, bytes] = {"plain": b"\x80", "private": b"\x81", "cubk": b"\x82"}
_HEADER_PSID_35 = b"\x00\x01\x23"  # HeaderInfo {psid 35}: the SecurityMgmtPsid of every ACA-signed SPDU


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 1 µs more, once per certificate
class TbsParts:
    """The parts of a fixed-shape requested ``ToBeSignedCertificate``, as the octets received (canonical COER).

    A SEQUENCE is its fields' encodings in order (X.696 §16), so the issued certificate's tbs is
    ``preamble ‖ id ‖ cracaId ‖ crlSeries ‖ validityPeriod ‖ middle ‖ verifyKeyIndicator`` with the
    ACA's own id, cracaId, crlSeries, validity and key, and the requested ``middle`` as it is.
    """

    preamble: bytes  # the SEQUENCE preamble: presence of region, appPermissions, encryptionKey
    id: bytes  # CertificateId: none, or linkageData without group-linkage-value
    i_cert: bytes | None  # the linkageData iCert (Uint16, 2 octets); None for the id none
    craca_id: bytes
    crl_series: bytes  # Uint16, 2 octets
    validity: bytes  # ValidityPeriod: start (4 octets), Duration choice tag and Uint16
    middle: bytes  # region?, appPermissions, encryptionKey?
    app_permissions: bytes  # SequenceOfPsidSsp, a part of ``middle``
    reconstruction: bool  # verifyKeyIndicator reconstructionValue (else verificationKey ecdsaNistP256)
    key: bytes  # the indicator's point, SEC 1 compressed (33 octets)


@dataclass(slots=True)
class FastRequest:
    """A RaAcaCertRequestSpdu read by ``read_ra_aca_cert_request``: not verified yet."""

    tbs_request: bytes = field(repr=False)  # COER ScmsPdu as received: the signed data
    signer_certificate: bytes = field(repr=False)  # COER of the one signer certificate, as received
    r: int
    s: int
    generation_time: int
    type: str
    butterfly_explicit: bool
    cubk: bool
    linkage_info: LinkageInfo | None
    cert_enc_key: bytes | None  # SEC 1 compressed point of certEncKey (33 octets)
    tbs: TbsParts = field(repr=False)
    tbs_octets: bytes = field(repr=False)  # the requested ToBeSignedCertificate as received
    _tbs_value: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def tbs_cert(self) -> dict[str, Any]:
        """The requested tbsCert as asn1tools would decode it, read from ``tbs_octets`` on first use."""
        if self._tbs_value is None:
            self._tbs_value = read_to_be_signed_certificate(Reader(self.tbs_octets))
        return self._tbs_value


def read_ra_aca_cert_request(data: bytes) -> FastRequest | None:
    """The fields of a fixed-shape RaAcaCertRequestSpdu, or None for any other shape (protocol.md §1.3, §3.3)."""
    try:
        return _read_request(data)
    except (NotFixedShape, IndexError, ValueError):
        return None


def _read_request(data: bytes) -> FastRequest:
    # Fixed offsets with local arithmetic: this runs once per certificate (performance.md §4).
    if data[:2] != b"\x03\x83":  # Ieee1609Dot2Data {protocolVersion 3, signedCertificateRequest}
        raise NotFixedShape
    size, pos = length_at(data, 2)
    if size != len(data) - pos:
        raise NotFixedShape
    # SignedCertificateRequest {hashAlgorithmId sha256, tbsRequest ScmsPdu {2, aca-ra raAcaCertRequest ...
    if data[pos : pos + 4] != b"\x00\x02\x83\x80":
        raise NotFixedShape
    start = pos + 1
    preamble, version, kind, flags = data[pos + 4], data[pos + 5], data[pos + 10], data[pos + 11]
    if preamble & ~0x60 or version != 2 or kind > 1:
        raise NotFixedShape  # extension or spare bits, another version, an extension CertificateType
    generation_time = int.from_bytes(data[pos + 6 : pos + 10], "big")
    pos += 12
    linkage_info = None
    if preamble & 0x40:
        if data[pos] != 0:
            raise NotFixedShape  # LinkageInfo preamble: no extensions
        linkage_info = LinkageInfo(_read_plv(data, pos + 1), _read_plv(data, pos + 1 + _PLV_SIZE))
        pos += 1 + 2 * _PLV_SIZE
    cert_enc_key = None
    if preamble & 0x20:
        # PublicEncryptionKey {aes128Ccm, eciesNistP256 compressed point}.
        if data[pos : pos + 2] != b"\x00\x80" or data[pos + 2] not in POINT_FORMS:
            raise NotFixedShape
        cert_enc_key = bytes((data[pos + 2] & 0x7F,)) + data[pos + 3 : pos + 35]
        pos += 35
    tbs, end = _scan_tbs(data, pos)
    tbs_octets = data[pos:end]
    tbs_request = data[start:end]
    pos = end
    end = len(data) - P256_SIGNATURE_SIZE
    # signer: certificate, SEQUENCE OF one; signature ecdsaNistP256Signature with an x-only rSig.
    if data[pos : pos + 3] != b"\x81\x01\x01" or end <= pos + 3 or data[end : end + 2] != b"\x80\x80":
        raise NotFixedShape
    return FastRequest(
        tbs_request, data[pos + 3 : end], int.from_bytes(data[end + 2 : end + 34], "big"),
        int.from_bytes(data[end + 34 :], "big"), generation_time, "implicit" if kind else "explicit",
        bool(flags & 0x80), bool(flags & 0x40), linkage_info, cert_enc_key, tbs, tbs_octets,
    )  # fmt: skip


def _scan_tbs(data: bytes, pos: int) -> tuple[TbsParts, int]:
    """The parts of the fixed-shape ToBeSignedCertificate at ``pos`` and the position after it.

    Accepts exactly what ``oer_reader.read_to_be_signed_certificate`` accepts, without building its
    value: the hot path needs the octets only (the value is read when a check needs it,
    ``FastRequest.tbs_cert``).
    """
    preamble = data[pos]
    if preamble & ~TBS_ALLOWED or not preamble & TBS_APP:
        raise NotFixedShape
    p = pos + 1
    i_cert = None
    if data[p] == 0x83:  # none (NULL: no octets)
        p += 1
    elif data[p] == 0x80 and data[p + 1] == 0x00:  # linkageData {iCert, linkage-value}: no group-linkage-value
        i_cert = data[p + 2 : p + 4]
        p += 13
    else:
        raise NotFixedShape
    # cracaId (3), crlSeries (2), validityPeriod {start (4), duration choice tag, Uint16}.
    if not 0x80 <= data[p + 9] < 0x80 + len(DURATIONS):
        raise NotFixedShape
    middle = p + 12
    p = middle
    if preamble & TBS_REGION:
        # identifiedRegion: SEQUENCE OF countryOnly (tag 80, Uint16).
        if data[p] != 0x83:
            raise NotFixedShape
        count, p = uint_at(data, p + 1)
        end = p + 3 * count
        if end > len(data) or data[p:end:3] != b"\x80" * count:
            raise NotFixedShape
        p = end
    app = p
    count, p = uint_at(data, p)
    for _ in range(count):
        has_ssp = data[p]
        _, p = uint_at(data, p + 1)  # psid
        if has_ssp == 0x80:
            if data[p] != 0x80:
                raise NotFixedShape  # bitmapSsp and extensions: the strict parser
            size, p = length_at(data, p + 1)
            p += size
        elif has_ssp != 0x00:
            raise NotFixedShape
    app_end = p
    if preamble & TBS_ENCRYPTION_KEY:
        if data[p : p + 2] != b"\x00\x80" or data[p + 2] not in POINT_FORMS:
            raise NotFixedShape
        p += 35
    middle_end = p
    if data[p] == 0x81:  # reconstructionValue
        p += 1
    elif data[p] == 0x80 and data[p + 1] == 0x80:  # verificationKey ecdsaNistP256
        p += 2
    else:
        raise NotFixedShape
    if data[p] not in POINT_FORMS or p + 33 > len(data):
        raise NotFixedShape
    parts = TbsParts(
        data[pos : pos + 1], data[pos + 1 : middle - 12], i_cert, data[middle - 12 : middle - 9],
        data[middle - 9 : middle - 7], data[middle - 7 : middle], data[middle:middle_end], data[app:app_end],
        data[middle_end] == 0x81, bytes((data[p] & 0x7F,)) + data[p + 1 : p + 33],
    )  # fmt: skip
    return parts, p + 33


def validity_value(octets: bytes) -> dict[str, Any]:
    """The ``ValidityPeriod`` value of its 7 COER octets as ``TbsParts.validity`` holds them."""
    unit = DURATIONS[octets[4] - 0x80]
    return {"start": int.from_bytes(octets[:4], "big"), "duration": (unit, int.from_bytes(octets[5:7], "big"))}


def validity_octets(value: dict[str, Any]) -> bytes:
    """COER ``ValidityPeriod`` {start Time32, duration Duration} (1609.2 §6.4.14), as ``cert.template`` writes it."""
    start: int = value["start"]
    unit, count = value["duration"]
    return start.to_bytes(4, "big") + bytes((0x80 | DURATIONS.index(unit),)) + int(count).to_bytes(2, "big")


# EncryptedIndividualPLV {version 2, laId, encPlv Ieee1609Dot2Data {3, encryptedData {[symmRecipInfo
# {recipientId, aes128ccm {nonce, 32 octets}}], aes128ccm {nonce, 28 octets}}}}: 3 + 101 octets.
_ENC_PLV_SIZE = 101
_PLV_SIZE = 3 + _ENC_PLV_SIZE


def _read_plv(data: bytes, pos: int) -> EncryptedIndividualPLV:
    enc = data[pos + 3 : pos + _PLV_SIZE]
    if data[pos] != 2 or not _plv_shape(enc):
        raise NotFixedShape
    return EncryptedIndividualPLV(data[pos + 1 : pos + 3], enc)


def _plv_shape(enc: bytes) -> bool:
    """True for an encPlv with one symmRecipInfo wrapping a 16-octet key and 9 octets of unsecured data."""
    return (
        len(enc) == _ENC_PLV_SIZE
        and enc[:5] == b"\x03\x82\x01\x01\x81"
        and (enc[13], enc[26], enc[59], enc[72]) == (0x80, 32, 0x80, 28)
    )


class LinkageKeys:
    """The LA-ACA pre-shared keys of a ``Keyring`` as reusable AES-CCM objects (protocol.md §4.4 symmRecipInfo)."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._ciphers: dict[bytes, AESCCM | None] = {}

    def __repr__(self) -> str:
        return f"LinkageKeys({self._keyring!r})"

    def _cipher(self, recipient_id: bytes) -> AESCCM | None:
        if recipient_id not in self._ciphers:
            key = self._keyring.symmetric_key(recipient_id)
            self._ciphers[recipient_id] = None if key is None else AESCCM(key, tag_length=16)
        return self._ciphers[recipient_id]

    def plv(self, encrypted: EncryptedIndividualPLV) -> bytes | None:
        """The 9-octet PLV of an encPlv read by ``_read_plv``; None if it is not of that shape.

        DecryptionError (400-41) if no key of ours opens it or the tag fails, as ``spdu.plv.decrypt_plv``.
        """
        enc = encrypted.enc_plv
        if not _plv_shape(enc):
            return None
        cipher = self._cipher(enc[5:13])
        if cipher is None:
            raise DecryptionError("encrypted SPDU: no RecipientInfo is for a key we hold")
        try:
            data_key = cipher.decrypt(enc[14:26], enc[27:59], None)
            plaintext = AESCCM(data_key, tag_length=16).decrypt(enc[60:72], enc[73:101], None)
        except InvalidTag:
            raise DecryptionError("encrypted SPDU: the data key of our RecipientInfo did not unwrap") from None
        # The plaintext is the PreLinkageValue as an unsecured Ieee1609Dot2Data (protocol.md §4.6).
        if len(plaintext) != 12 or plaintext[:3] != b"\x03\x80\x09":
            return None
        return plaintext[3:]


def aca_ra_cert_response_pdu(generation_time: int, request_hash: bytes, kind: AcaResponseKind, spdu: bytes) -> bytes:
    """COER ``ScmsPdu {2, aca-ra acaRaCertResponse {2, generationTime, requestHash, acaResponse kind: spdu}}``.

    1609.2.1 §6.3.5 (protocol.md §3.3); ``spdu`` is the COER AcaEeCertResponse{Plain,Private,Cubk}Spdu
    embedded as it is (an Ieee1609Dot2Data, not an open type).
    """
    if len(request_hash) != 8:
        raise ValueError("request_hash: a HashedId8 is 8 octets")
    # ScmsPdu version 2, content aca-ra (3), AcaRaInterfacePdu acaRaCertResponse (1); the
    # AcaRaCertResponse preamble holds its extension bit only (no OPTIONAL members).
    return b"\x02\x83\x81\x00\x02" + generation_time.to_bytes(4, "big") + request_hash + _ACA_RESPONSE_TAGS[kind] + spdu


def certificate_coer(kind: str, issuer_id: bytes, tbs_coer: bytes, signature: bytes | None) -> bytes:
    """COER ``Certificate`` {3, type, issuer sha256AndDigest, toBeSigned, signature?} from its parts (1609.2 §6.4.2).

    A SEQUENCE is its fields' encodings in order (X.696 §16), so the tbs just hashed is not encoded twice.
    """
    if len(issuer_id) != 8:
        raise ValueError("issuer_id: a HashedId8 is 8 octets")
    if (signature is None) != (kind == "implicit"):
        raise ValueError("signature: an explicit certificate has one, an implicit one has none")
    head = b"\x00\x03\x01" if signature is None else b"\x80\x03\x00"
    return head + b"\x80" + issuer_id + tbs_coer + (signature or b"")


def aca_ee_cert_response_pdu(generation_time: int, certificate: bytes, private_key_info: bytes | None) -> bytes:
    """COER ``ScmsPdu {2, aca-ee acaEeCertResponse {2, generationTime, certificate, privateKeyInfo?}}`` (§3.3)."""
    if private_key_info is not None and len(private_key_info) != 32:
        raise ValueError("private_key_info: 32 octets")
    # Same octets as secured.template.scms_pdu, from the certificate's COER instead of its value.
    presence = b"\x40" if private_key_info is not None else b"\x00"
    head = b"\x02\x80\x80" + presence + b"\x02" + generation_time.to_bytes(4, "big")
    return head + certificate + (private_key_info or b"")


def unsecured(payload: bytes) -> bytes:
    """COER ``Ieee1609Dot2Data {3, unsecuredData payload}`` (1609.2 §6.3.3)."""
    return b"\x03\x80" + cert_template.length(len(payload)) + payload


def signed_data_tbs(payload: bytes, psid: int) -> bytes:
    """COER ``ToBeSignedData {payload {data unsecuredData payload}, headerInfo {psid}}`` (protocol.md §1.3).

    Same octets as ``secured.template.to_be_signed_data`` of that value: the hash input of the signature.
    """
    header = _HEADER_PSID_35 if psid == 35 else b"\x00" + cert_template.unbounded_uint(psid)
    return b"\x40" + b"\x03\x80" + cert_template.length(len(payload)) + payload + header


def signed_data(tbs_data: bytes, certificate: bytes, r: int, s: int) -> bytes:
    """COER ``Ieee1609Dot2Data {3, signedData {sha256, tbsData, signer certificate [one], P-256 x-only r, s}}``."""
    return (
        b"\x03\x81\x00" + tbs_data + b"\x81\x01\x01" + certificate + b"\x80\x80" + r.to_bytes(32, "big")
        + s.to_bytes(32, "big")
    )  # fmt: skip


def rek_recipient_id(key_sec1: bytes) -> bytes:
    """HashedId8 of COER ``PublicEncryptionKey {aes128Ccm, eciesNistP256 point}`` from the SEC 1 compressed point.

    The rekRecipInfo recipientId (protocol.md §4.4), as ``secured.recipients.rek_recipient_id`` computes it.
    """
    if len(key_sec1) != 33 or key_sec1[0] not in (2, 3):
        raise ValueError("key_sec1: a 33-octet SEC 1 compressed P-256 point")
    return hashlib.sha256(b"\x00\x80" + bytes((0x80 | key_sec1[0],)) + key_sec1[1:]).digest()[-8:]


def encrypted_data_rek(
    recipient_id: bytes, v_sec1: bytes, c: bytes, t: bytes, nonce: bytes, ciphertext: bytes
) -> bytes:
    """COER ``Ieee1609Dot2Data {3, encryptedData {[rekRecipInfo {id, eciesNistP256 {v, c, t}}], aes128ccm}}``."""
    if len(recipient_id) != 8 or len(v_sec1) != 33 or len(c) != 16 or len(t) != 16 or len(nonce) != 12:
        raise ValueError("encrypted_data_rek: field sizes are 8, 33, 16, 16 and 12 octets")
    return (
        b"\x03\x82\x01\x01\x84" + recipient_id + b"\x80" + bytes((0x80 | v_sec1[0],)) + v_sec1[1:] + c + t
        + b"\x80" + nonce + cert_template.length(len(ciphertext)) + ciphertext
    )  # fmt: skip
