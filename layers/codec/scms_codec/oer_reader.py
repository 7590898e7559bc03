"""Fixed-shape COER reading: a cursor that accepts only canonical octets of the shapes we write at volume.

A strict asn1tools parse costs 1-2 ms per SPDU (performance.md §4), more than the cryptography of
the message it carries. The hot paths that read what our own authorities write (the ACA reading
RaAcaCertRequestSpdus, ``scms_aca.wire``; a device reading ACA responses, ``scms_ee.wire``) read
it here instead, by fixed offsets and tags. Everything outside the fixed shape — a truncated
field, a length or integer not in its minimal form (X.696 §8.6, §10.4), another choice tag, an
unknown point form — raises ``NotFixedShape``, and the caller falls back to the codec's strict
parser, which decides (and reports 400-42 where it must). So a fixed-shape reader never says
more than "these are the octets of these fields": it neither verifies nor decrypts, and what it
accepts is canonical COER that asn1tools decodes to the same value. ``cert.template`` is the
writer side (``length``, ``unbounded_uint``, ``to_be_signed_certificate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "DURATIONS",
    "P256_SIGNATURE_SIZE",
    "POINT_FORMS",
    "TBS_ALLOWED",
    "TBS_APP",
    "TBS_ENCRYPTION_KEY",
    "TBS_REGION",
    "NotFixedShape",
    "Reader",
    "SignedParts",
    "length_at",
    "read_signed",
    "read_to_be_signed_certificate",
    "uint_at",
]

POINT_FORMS: Final[dict[int, str]] = {0x82: "compressed-y-0", 0x83: "compressed-y-1"}
"""EccP256CurvePoint choice tags of the compressed forms (1609.2 §6.3.23), the only ones read here."""
DURATIONS: Final = ("microseconds", "milliseconds", "seconds", "minutes", "hours", "sixtyHours", "years")
"""Duration alternatives by choice index (1609.2 §6.4.15): tag ``0x80 | index``."""
TBS_REGION: Final = 0x40
"""ToBeSignedCertificate preamble bit (after the extension bit): region present."""
TBS_APP: Final = 0x10
"""ToBeSignedCertificate preamble bit: appPermissions present (always, in the fixed shape)."""
TBS_ENCRYPTION_KEY: Final = 0x01
"""ToBeSignedCertificate preamble bit: encryptionKey present."""
TBS_ALLOWED: Final = TBS_REGION | TBS_APP | TBS_ENCRYPTION_KEY
"""The optional members a template-shaped ToBeSignedCertificate may carry; any other bit is outside."""
P256_SIGNATURE_SIZE: Final = 66
"""COER ``Signature`` ecdsaNistP256Signature with an x-only rSig: tag, rSig tag + 32, sSig 32."""

_HEADER_PSID_35 = b"\x00\x01\x23"  # HeaderInfo {psid 35 (SecurityMgmtPsid)}: preamble, then the unbounded INTEGER


class NotFixedShape(Exception):
    """Not the fixed shape: the caller falls back to the codec's strict parser (never an answer in itself)."""


class Reader:
    """A cursor over COER octets; every read past the end or off the fixed shape raises ``NotFixedShape``."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        """The next ``n`` octets."""
        end = self.pos + n
        if end > len(self.data):
            raise NotFixedShape
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def byte(self) -> int:
        """The next octet as an int (a preamble, a choice tag, a Uint8)."""
        if self.pos >= len(self.data):
            raise NotFixedShape
        value = self.data[self.pos]
        self.pos += 1
        return value

    def expect(self, octets: bytes) -> None:
        """Step over ``octets``, which must be the next ones (fixed tags and headers)."""
        if self.take(len(octets)) != octets:
            raise NotFixedShape

    def length(self) -> int:
        """A length determinant (X.696 §8.6) in its minimal form: short below 128, else the fewest octets."""
        first = self.byte()
        if first < 0x80:
            return first
        size = first & 0x7F
        value = int.from_bytes(self.take(size), "big")
        # The long form only from 128 on, in exactly as many octets as the value needs.
        if value < 0x80 or (value.bit_length() + 7) >> 3 != size:
            raise NotFixedShape
        return value

    def var_octets(self) -> bytes:
        """A variable-size OCTET STRING: its length determinant and its octets (X.696 §14.2)."""
        return self.take(self.length())

    def unbounded_uint(self) -> int:
        """An ``INTEGER (0..MAX)`` or a SEQUENCE OF quantity (X.696 §10.4, §20.6): minimal octets, no leading zero."""
        body = self.take(self.length())
        if not body or (len(body) > 1 and body[0] == 0):
            raise NotFixedShape
        return int.from_bytes(body, "big")

    def point(self) -> tuple[str, bytes]:
        """A compressed ``EccP256CurvePoint`` as asn1tools decodes it: (``compressed-y-0``/``-1``, x)."""
        form = POINT_FORMS.get(self.byte())
        if form is None:
            raise NotFixedShape
        return form, self.take(32)


# --- the same at an offset, for readers that keep the position in a local (once per certificate) --------


def length_at(data: bytes, pos: int) -> tuple[int, int]:
    """A length determinant at ``pos`` and the position after it (X.696 §8.6), as ``Reader.length``."""
    try:
        first = data[pos]
    except IndexError:
        raise NotFixedShape from None
    if first < 0x80:
        return first, pos + 1
    end = pos + 1 + (first & 0x7F)
    value = int.from_bytes(data[pos + 1 : end], "big")
    if end > len(data) or value < 0x80 or (value.bit_length() + 7) >> 3 != end - pos - 1:
        raise NotFixedShape
    return value, end


def uint_at(data: bytes, pos: int) -> tuple[int, int]:
    """An ``INTEGER (0..MAX)`` or a quantity at ``pos`` and the position after it, as ``Reader.unbounded_uint``."""
    size, pos = length_at(data, pos)
    end = pos + size
    if not size or end > len(data) or (size > 1 and data[pos] == 0):
        raise NotFixedShape
    return int.from_bytes(data[pos:end], "big"), end


# --- ToBeSignedCertificate as cert.template writes it ----------------------------------------------


def read_to_be_signed_certificate(reader: Reader) -> dict[str, Any]:
    """The value of a template-shaped ``ToBeSignedCertificate`` (1609.2 §6.4.8, protocol.md §4.1) at the cursor.

    The shape ``cert.template.to_be_signed_certificate`` writes: id none or linkageData without
    group-linkage-value, region identifiedRegion of countryOnly, appPermissions with opaque or
    no SSPs, encryptionKey eciesNistP256 with AES-128-CCM, a compressed verification key or
    reconstruction value. The value is asn1tools' form; a caller that needs the octets to be
    canonical encodes the value back with the template and compares (``scms_ee.wire`` does).
    """
    preamble = reader.byte()
    if preamble & ~TBS_ALLOWED or not preamble & TBS_APP:
        raise NotFixedShape
    tbs: dict[str, Any] = {}
    id_tag = reader.byte()
    if id_tag == 0x83:
        tbs["id"] = ("none", None)
    elif id_tag == 0x80:
        if reader.byte() != 0x00:
            raise NotFixedShape  # group-linkage-value: the strict parser handles it
        tbs["id"] = ("linkageData", {"iCert": int.from_bytes(reader.take(2), "big"), "linkage-value": reader.take(9)})
    else:
        raise NotFixedShape
    tbs["cracaId"] = reader.take(3)
    tbs["crlSeries"] = int.from_bytes(reader.take(2), "big")
    start = int.from_bytes(reader.take(4), "big")
    unit = reader.byte() - 0x80
    if not 0 <= unit < len(DURATIONS):
        raise NotFixedShape
    tbs["validityPeriod"] = {"start": start, "duration": (DURATIONS[unit], int.from_bytes(reader.take(2), "big"))}
    if preamble & TBS_REGION:
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
                raise NotFixedShape  # bitmapSsp and extensions: the strict parser
            entry["ssp"] = ("opaque", reader.var_octets())
        elif has_ssp != 0x00:
            raise NotFixedShape
        permissions.append(entry)
    tbs["appPermissions"] = permissions
    if preamble & TBS_ENCRYPTION_KEY:
        reader.expect(b"\x00\x80")
        tbs["encryptionKey"] = {"supportedSymmAlg": "aes128Ccm", "publicKey": ("eciesNistP256", reader.point())}
    indicator = reader.byte()
    if indicator == 0x80:
        reader.expect(b"\x80")
        tbs["verifyKeyIndicator"] = ("verificationKey", ("ecdsaNistP256", reader.point()))
    elif indicator == 0x81:
        tbs["verifyKeyIndicator"] = ("reconstructionValue", reader.point())
    else:
        raise NotFixedShape
    return tbs


# --- Ieee1609Dot2Data signedData of a SecurityMgmt message, as the ACA signs its responses -----------


@dataclass(frozen=True)
class SignedParts:
    """The fields of a fixed-shape SecurityMgmt ``SignedData`` (protocol.md §1.3), as received: not verified yet."""

    tbs_data: bytes = field(repr=False)  # COER ToBeSignedData: the signed data
    payload: bytes = field(repr=False)  # the unsecuredData payload
    signer_certificate: bytes = field(repr=False)  # COER of the one signer certificate, as received
    r: int = field(repr=False)
    s: int = field(repr=False)


def read_signed(data: bytes) -> SignedParts | None:
    """The parts of ``Ieee1609Dot2Data {3, signedData}`` of the fixed shape, or None for any other shape.

    The shape: hashId sha256, tbsData {payload {data {3, unsecuredData P}}, headerInfo {psid 35}},
    signer certificate (a SEQUENCE OF one), ecdsaNistP256Signature with an x-only rSig (1609.2
    §6.3.4-§6.3.9; the outer wrapper of AcaRaCertResponseSpdu and AcaEeCertResponsePrivateSpdu,
    protocol.md §1.3, §3.3). The certificate is every octet between the signer tag and the
    signature: the caller matches it against the certificates it trusts, by their octets.
    """
    try:
        if data[:6] != b"\x03\x81\x00\x40\x03\x80":
            return None
        reader = Reader(data, 6)
        payload = reader.var_octets()
        reader.expect(_HEADER_PSID_35)
        tbs_end = reader.pos
        reader.expect(b"\x81\x01\x01")
        end = len(data) - P256_SIGNATURE_SIZE
        if end <= reader.pos or data[end : end + 2] != b"\x80\x80":
            return None
        return SignedParts(
            data[3:tbs_end],
            payload,
            data[reader.pos : end],
            int.from_bytes(data[end + 2 : end + 34], "big"),
            int.from_bytes(data[end + 34 :], "big"),
        )
    except NotFixedShape:
        return None
