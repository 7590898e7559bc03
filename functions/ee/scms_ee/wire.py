"""Fixed-shape COER readers for what an EE downloads at volume: ACA response SPDUs and pseudonym certificates.

A strict asn1tools parse of one ``AcaEeCertResponsePrivateSpdu`` costs about 2 ms, ten times the
cryptography the device must do for it (performance.md §4, §5). These readers accept exactly the
shapes the ACA writes (``scms_aca.wire``: protocol.md §1.3 Signed/Encrypted/Unsecured wrappers,
§3.3 AcaEeCertResponse, §4.1 a template-shaped certificate) and return None for anything else,
which the caller then opens with the codec's strict parser. A certificate read here is accepted
only if the codec's template encodes it back to the very octets received, so what passes is
canonical COER that asn1tools would decode to the same value (tests/unit/ee/test_pseudonyms_wire.py
holds both to asn1tools). Nothing here verifies or decrypts: it only says where the fields are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scms_codec.cert import template as cert_template

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

_POINT_FORMS = {0x82: "compressed-y-0", 0x83: "compressed-y-1"}
_DURATIONS = ("microseconds", "milliseconds", "seconds", "minutes", "hours", "sixtyHours", "years")
# ToBeSignedCertificate presence bits after the extension bit: region, appPermissions, encryptionKey
# are the optional members an ACA-issued pseudonym certificate may carry (cert.template's shape).
_TBS_REGION, _TBS_APP, _TBS_ENCRYPTION_KEY = 0x40, 0x10, 0x01
_TBS_ALLOWED = _TBS_REGION | _TBS_APP | _TBS_ENCRYPTION_KEY
_SIGNATURE_SIZE = 66  # ecdsaNistP256Signature tag, x-only rSig tag + 32, sSig 32
_PSID_35 = b"\x01\x23"  # HeaderInfo.psid 35 (SecurityMgmt) as an unbounded INTEGER


class _Outside(Exception):
    """Not the fixed shape: the caller falls back to the codec's strict parser."""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise _Outside
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise _Outside
        value = self.data[self.pos]
        self.pos += 1
        return value

    def expect(self, octets: bytes) -> None:
        if self.take(len(octets)) != octets:
            raise _Outside

    def length(self) -> int:
        """A length determinant (X.696 §8.6) in its minimal form; others go to the strict parser."""
        first = self.byte()
        if first < 0x80:
            return first
        size = first & 0x7F
        value = int.from_bytes(self.take(size), "big")
        if size == 0 or value < 0x80 or cert_template.length(value)[0] != first:
            raise _Outside
        return value

    def unbounded_uint(self) -> int:
        body = self.take(self.length())
        if not body or (len(body) > 1 and body[0] == 0):
            raise _Outside
        return int.from_bytes(body, "big")

    def point(self) -> tuple[str, bytes]:
        form = _POINT_FORMS.get(self.byte())
        if form is None:
            raise _Outside
        return form, self.take(32)


# --- Ieee1609Dot2Data wrappers -----------------------------------------------------------------


def read_unsecured(data: bytes) -> bytes | None:
    """The payload of ``Ieee1609Dot2Data {3, unsecuredData}``, or None for another shape."""
    try:
        if data[:2] != b"\x03\x80":
            return None
        reader = _Reader(data, 2)
        size = reader.length()
        if reader.pos + size != len(data):
            return None
        return data[reader.pos :]
    except _Outside:
        return None


@dataclass(frozen=True)
class FastSigned:
    """``Ieee1609Dot2Data-Signed{…, 35}`` by one certificate with an x-only P-256 signature: not verified yet."""

    tbs_data: bytes = field(repr=False)  # COER ToBeSignedData: the signed data
    payload: bytes = field(repr=False)  # the unsecuredData payload (here: an encrypted Ieee1609Dot2Data)
    signer_certificate: bytes = field(repr=False)  # COER of the one signer certificate, as received
    r: int = field(repr=False)
    s: int = field(repr=False)


def read_signed(data: bytes) -> FastSigned | None:
    """The parts of ``AcaEeCertResponsePrivateSpdu``'s outer SignedData (protocol.md §1.3), or None."""
    try:
        return _read_signed(data)
    except (_Outside, IndexError):
        return None


def _read_signed(data: bytes) -> FastSigned:
    # {3, signedData {sha256, tbsData {payload {data {3, unsecuredData P}}, headerInfo {psid 35}},
    #  signer certificate [one], ecdsaNistP256Signature x-only}} exactly as scms_aca.wire.signed_data writes it.
    if data[:6] != b"\x03\x81\x00\x40\x03\x80":
        raise _Outside
    reader = _Reader(data, 6)
    size = reader.length()
    payload = reader.take(size)
    reader.expect(b"\x00" + _PSID_35)
    tbs_end = reader.pos
    reader.expect(b"\x81\x01\x01")
    end = len(data) - _SIGNATURE_SIZE
    if end <= reader.pos or data[end : end + 2] != b"\x80\x80":
        raise _Outside
    return FastSigned(
        data[3:tbs_end],
        payload,
        data[reader.pos : end],
        int.from_bytes(data[end + 2 : end + 34], "big"),
        int.from_bytes(data[end + 34 :], "big"),
    )


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
    except (_Outside, IndexError):
        return None


def _read_encrypted(data: bytes) -> FastEncrypted:
    # {3, encryptedData {recipients [rekRecipInfo {recipientId, eciesNistP256 {v, c, t}}],
    #  ciphertext aes128ccm {nonce, ccmCiphertext}}}
    if data[:5] != b"\x03\x82\x01\x01\x84":
        raise _Outside
    reader = _Reader(data, 5)
    recipient_id = reader.take(8)
    reader.expect(b"\x80")
    form = reader.byte()
    if form not in _POINT_FORMS:
        raise _Outside
    v = bytes((form & 0x7F,)) + reader.take(32)
    c = reader.take(16)
    t = reader.take(16)
    reader.expect(b"\x80")
    nonce = reader.take(12)
    size = reader.length()
    if reader.pos + size != len(data):
        raise _Outside
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
    except (_Outside, IndexError):
        return None


def _read_certificate(data: bytes) -> FastCertificate:
    head = data[:4]
    if head == b"\x80\x03\x00\x80":
        implicit = False
    elif head == b"\x00\x03\x01\x80":
        implicit = True
    else:
        raise _Outside
    issuer_id = data[4:12]
    if len(issuer_id) != 8:
        raise _Outside
    reader = _Reader(data, 12)
    tbs = _read_tbs(reader)
    tbs_coer = data[12 : reader.pos]
    if cert_template.to_be_signed_certificate(tbs) != tbs_coer:
        raise _Outside  # not canonical, or read otherwise than the template writes: the strict parser decides
    indicator = tbs["verifyKeyIndicator"][0]
    value: dict[str, Any] = {
        "version": 3,
        "type": "implicit" if implicit else "explicit",
        "issuer": ("sha256AndDigest", issuer_id),
        "toBeSigned": tbs,
    }
    if implicit:
        if indicator != "reconstructionValue" or reader.pos != len(data):
            raise _Outside
        return FastCertificate(data, value, tbs_coer, issuer_id, True)
    if indicator != "verificationKey" or len(data) - reader.pos != _SIGNATURE_SIZE:
        raise _Outside
    reader.expect(b"\x80\x80")
    r_octets, s_octets = reader.take(32), reader.take(32)
    value["signature"] = ("ecdsaNistP256Signature", {"rSig": ("x-only", r_octets), "sSig": s_octets})
    r, s = int.from_bytes(r_octets, "big"), int.from_bytes(s_octets, "big")
    return FastCertificate(data, value, tbs_coer, issuer_id, False, r, s)


def _read_tbs(reader: _Reader) -> dict[str, Any]:
    preamble = reader.byte()
    if preamble & ~_TBS_ALLOWED or not preamble & _TBS_APP:
        raise _Outside
    tbs: dict[str, Any] = {}
    id_tag = reader.byte()
    if id_tag == 0x83:
        tbs["id"] = ("none", None)
    elif id_tag == 0x80:
        if reader.byte() != 0x00:
            raise _Outside  # group-linkage-value: the strict parser handles it
        tbs["id"] = ("linkageData", {"iCert": int.from_bytes(reader.take(2), "big"), "linkage-value": reader.take(9)})
    else:
        raise _Outside
    tbs["cracaId"] = reader.take(3)
    tbs["crlSeries"] = int.from_bytes(reader.take(2), "big")
    start = int.from_bytes(reader.take(4), "big")
    unit = reader.byte() - 0x80
    if not 0 <= unit < len(_DURATIONS):
        raise _Outside
    tbs["validityPeriod"] = {"start": start, "duration": (_DURATIONS[unit], int.from_bytes(reader.take(2), "big"))}
    if preamble & _TBS_REGION:
        reader.expect(b"\x83")
        regions = []
        for _ in range(reader.unbounded_uint()):
            reader.expect(b"\x80")
            regions.append(("countryOnly", int.from_bytes(reader.take(2), "big")))
        tbs["region"] = ("identifiedRegion", regions)
    permissions = []
    for _ in range(reader.unbounded_uint()):
        has_ssp = reader.byte()
        entry: dict[str, Any] = {"psid": reader.unbounded_uint()}
        if has_ssp == 0x80:
            if reader.byte() != 0x80:
                raise _Outside  # bitmapSsp and extensions: the strict parser
            entry["ssp"] = ("opaque", reader.take(reader.length()))
        elif has_ssp != 0x00:
            raise _Outside
        permissions.append(entry)
    tbs["appPermissions"] = permissions
    if preamble & _TBS_ENCRYPTION_KEY:
        reader.expect(b"\x00\x80")
        tbs["encryptionKey"] = {"supportedSymmAlg": "aes128Ccm", "publicKey": ("eciesNistP256", reader.point())}
    indicator = reader.byte()
    if indicator == 0x80:
        reader.expect(b"\x80")
        tbs["verifyKeyIndicator"] = ("verificationKey", ("ecdsaNistP256", reader.point()))
    elif indicator == 0x81:
        tbs["verifyKeyIndicator"] = ("reconstructionValue", reader.point())
    else:
        raise _Outside
    return tbs
