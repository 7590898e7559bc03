"""Fixed-shape COER on the ACA's per-certificate path: read RaAcaCertRequestSpdus and encPlvs, write responses.

asn1tools costs 20-30 µs per call and the strict parse of one RaAcaCertRequestSpdu about 1 ms
(performance.md §4), more than the ACA's whole C-level budget per certificate. These readers
accept exactly the shapes an RA sends at volume (protocol.md §1.3 SignedCertificateRequest with
one certificate signer, §3.3 RaAcaCertRequest, §4.6 EncryptedIndividualPLV with one
symmRecipInfo) and return None for anything else, which the caller then opens with the codec's
strict parser. A value read here is accepted only if the templates encode it back to the very
octets received (``cert.template``), so what passes is canonical COER that asn1tools would
decode to the same value (tests/unit/aca/test_wire.py holds both to asn1tools).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from scms_codec.cert import template as cert_template
from scms_codec.errors import DecryptionError
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu.ra_aca import AcaResponseKind, EncryptedIndividualPLV, LinkageInfo

__all__ = [
    "FastRequest",
    "LinkageKeys",
    "aca_ee_cert_response_pdu",
    "aca_ra_cert_response_pdu",
    "certificate_coer",
    "read_ra_aca_cert_request",
    "unsecured",
]

_SIGNATURE_SIZE = 66  # ecdsaNistP256Signature (80), rSig x-only (80 + 32), sSig (32)
_POINT_FORMS = {0x82: "compressed-y-0", 0x83: "compressed-y-1"}
_DURATIONS = ("microseconds", "milliseconds", "seconds", "minutes", "hours", "sixtyHours", "years")
# ToBeSignedCertificate presence bits (after the extension bit): region, appPermissions and
# encryptionKey are the optional members a template-shaped request may carry.
_TBS_REGION, _TBS_APP, _TBS_ENCRYPTION_KEY = 0x40, 0x10, 0x01
_TBS_ALLOWED = _TBS_REGION | _TBS_APP | _TBS_ENCRYPTION_KEY
_ACA_RESPONSE_TAGS: dict[str, bytes] = {"plain": b"\x80", "private": b"\x81", "cubk": b"\x82"}


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
        """A length determinant (X.696 §8.6); non-minimal forms are left to the strict parser."""
        first = self.byte()
        if first < 0x80:
            return first
        size = first & 0x7F
        value = int.from_bytes(self.take(size), "big")
        if size == 0 or value < 0x80 or cert_template.length(value)[0] != first:
            raise _Outside
        return value

    def var_octets(self) -> bytes:
        return self.take(self.length())

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


@dataclass(frozen=True)
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
    tbs_cert: dict[str, Any] = field(repr=False)


def read_ra_aca_cert_request(data: bytes) -> FastRequest | None:
    """The fields of a fixed-shape RaAcaCertRequestSpdu, or None for any other shape (protocol.md §1.3, §3.3)."""
    try:
        return _read_request(data)
    except (_Outside, IndexError, ValueError):
        return None


def _read_request(data: bytes) -> FastRequest:
    outer = _Reader(data)
    outer.expect(b"\x03\x83")  # Ieee1609Dot2Data {protocolVersion 3, signedCertificateRequest}
    if outer.length() != len(data) - outer.pos:
        raise _Outside
    # SignedCertificateRequest {hashAlgorithmId sha256, tbsRequest ScmsPdu aca-ra raAcaCertRequest, ...}.
    outer.expect(b"\x00")
    start = outer.pos
    outer.expect(b"\x02\x83\x80")
    preamble = outer.byte()
    if preamble & ~0x60:
        raise _Outside  # extension bit or spare bits set
    outer.expect(b"\x02")
    generation_time = int.from_bytes(outer.take(4), "big")
    kind = outer.byte()
    if kind > 1:
        raise _Outside
    flags = outer.byte()
    linkage_info = None
    if preamble & 0x40:
        outer.expect(b"\x00")  # LinkageInfo preamble: no extensions
        linkage_info = LinkageInfo(_read_plv(outer), _read_plv(outer))
    cert_enc_key = None
    if preamble & 0x20:
        outer.expect(b"\x00\x80")  # PublicEncryptionKey {aes128Ccm, eciesNistP256 ...}
        form, x = outer.point()
        cert_enc_key = (b"\x02" if form == "compressed-y-0" else b"\x03") + x
    tbs_start = outer.pos
    tbs = _read_tbs(outer)
    if cert_template.to_be_signed_certificate(tbs) != data[tbs_start : outer.pos]:
        raise _Outside
    tbs_request = data[start : outer.pos]
    outer.expect(b"\x81\x01\x01")  # signer: certificate, SEQUENCE OF one
    end = len(data) - _SIGNATURE_SIZE
    if end <= outer.pos:
        raise _Outside
    certificate = data[outer.pos : end]
    signature = _Reader(data, end)
    signature.expect(b"\x80\x80")
    r = int.from_bytes(signature.take(32), "big")
    s = int.from_bytes(signature.take(32), "big")
    return FastRequest(
        tbs_request, certificate, r, s, generation_time, "implicit" if kind else "explicit",
        bool(flags & 0x80), bool(flags & 0x40), linkage_info, cert_enc_key, tbs,
    )  # fmt: skip


def _read_plv(reader: _Reader) -> EncryptedIndividualPLV:
    reader.expect(b"\x02")
    la_id = reader.take(2)
    start = reader.pos
    # Ieee1609Dot2Data {3, encryptedData {recipients [symmRecipInfo], ciphertext aes128ccm}}.
    reader.expect(b"\x03\x82\x01\x01\x81")
    reader.take(8)
    reader.expect(b"\x80")
    reader.take(12)
    if reader.length() != 32:
        raise _Outside
    reader.take(32)
    reader.expect(b"\x80")
    reader.take(12)
    if reader.length() != 28:  # COER Ieee1609Dot2Data unsecuredData of 9 octets + 16-octet tag
        raise _Outside
    reader.take(28)
    return EncryptedIndividualPLV(la_id, reader.data[start : reader.pos])


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
        count = reader.unbounded_uint()
        regions = []
        for _ in range(count):
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
            entry["ssp"] = ("opaque", reader.var_octets())
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
        if (
            len(enc) != 101
            or enc[:5] != b"\x03\x82\x01\x01\x81"
            or (enc[13], enc[26], enc[59], enc[72]) != (0x80, 32, 0x80, 28)
        ):
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
    return (
        b"\x02\x83\x81\x00\x02" + generation_time.to_bytes(4, "big") + request_hash + _ACA_RESPONSE_TAGS[kind] + spdu
    )


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
