"""Hand-written COER for the certificate shapes an ACA issues at volume, with asn1tools as the fallback.

X.696 canonical OER of ``Certificate`` and ``ToBeSignedCertificate`` (1609.2 §6.4.2, §6.4.8;
protocol.md §4.1), about 60x faster than asn1tools (performance.md §4). A template covers one
shape; a value outside it (another id, certIssuePermissions, an extension, a bytearray, a
value out of range, ...) raises ``Outside`` inside the encoder and ``encode`` hands it to
``scms_codec.asn1.encode``, so callers have one way to encode and see asn1tools' errors.
tests/unit/test_templates.py proves the template byte-identical to asn1tools.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import asn1

__all__ = [
    "TEMPLATES",
    "Encoder",
    "Outside",
    "by_template",
    "certificate",
    "copy_value",
    "curve_point",
    "encode",
    "encode_with",
    "length",
    "octets",
    "preamble",
    "public_encryption_key",
    "quantity",
    "signature",
    "to_be_signed_certificate",
    "uint",
    "unbounded_uint",
    "var_octets",
]


class Outside(Exception):
    """The value is not of a template's shape: encode it with asn1tools instead (never escapes ``encode``)."""


Encoder = Callable[[Any], bytes]


# --- X.696 building blocks ---------------------------------------------------------------------


def length(n: int) -> bytes:
    """Length determinant, X.696 §8.6: short form below 128, else 0x80|k and k octets."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def uint(value: Any, size: int) -> bytes:
    """A fixed-size unsigned integer (Uint8/16/32: 1, 2 or 4 octets), X.696 §10.3."""
    if type(value) is not int or not 0 <= value < 1 << (8 * size):
        raise Outside
    return value.to_bytes(size, "big")


def unbounded_uint(value: Any) -> bytes:
    """``INTEGER (0..MAX)`` such as Psid: length determinant and the minimal octets, X.696 §10.4."""
    if type(value) is not int or value < 0:
        raise Outside
    body = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return length(len(body)) + body


def quantity(n: int) -> bytes:
    """The SEQUENCE OF quantity field, X.696 §20.6 (encoded like ``INTEGER (0..MAX)``)."""
    return unbounded_uint(n)


def octets(value: Any, size: int) -> bytes:
    """A fixed-size OCTET STRING: the octets alone, X.696 §14.1."""
    if type(value) is not bytes or len(value) != size:
        raise Outside
    return value


def var_octets(value: Any, max_size: int | None = None) -> bytes:
    """A variable-size OCTET STRING: length determinant and octets, X.696 §14.2."""
    if type(value) is not bytes or (max_size is not None and len(value) > max_size):
        raise Outside
    return length(len(value)) + value


def preamble(value: Mapping[str, Any], optionals: tuple[str, ...], *, extensible: bool) -> bytes:
    """The SEQUENCE preamble: extension bit (0: no additions here) and one presence bit per OPTIONAL, X.696 §16.2."""
    bits = 0
    for name in optionals:
        bits = bits << 1 | (name in value)
    count = len(optionals) + extensible
    pad = -count % 8
    return (bits << pad).to_bytes((count + pad) // 8, "big") if count else b""


def _fields(value: Any, required: frozenset[str], allowed: frozenset[str]) -> dict[str, Any]:
    # A missing or unknown member leaves the template's shape; asn1tools then decides.
    if type(value) is not dict:
        raise Outside
    names = value.keys()
    if not required <= names or not names <= allowed:
        raise Outside
    return value


def _choice(value: Any) -> tuple[str, Any]:
    if type(value) is not tuple or len(value) != 2:
        raise Outside
    return value


# --- base types (Ieee1609Dot2BaseTypes) --------------------------------------------------------

# EccP256CurvePoint root alternatives of 32 octets (x-only 0, compressed-y-0 2, compressed-y-1 3).
_POINT_TAGS = {"x-only": b"\x80", "compressed-y-0": b"\x82", "compressed-y-1": b"\x83"}
_DURATION_TAGS = {
    name: bytes((0x80 | i,))
    for i, name in enumerate(("microseconds", "milliseconds", "seconds", "minutes", "hours", "sixtyHours", "years"))
}


def curve_point(value: Any) -> bytes:
    """``EccP256CurvePoint`` in a compressed or x-only form (the canonical ones, protocol.md §4.1)."""
    kind, x = _choice(value)
    tag = _POINT_TAGS.get(kind)
    if tag is None:
        raise Outside
    return tag + octets(x, 32)


def signature(value: Any) -> bytes:
    """``Signature`` ecdsaNistP256Signature: rSig point and 32-octet sSig (1609.2 §6.3.28)."""
    kind, body = _choice(value)
    if kind != "ecdsaNistP256Signature":
        raise Outside
    body = _fields(body, _SIG_FIELDS, _SIG_FIELDS)
    return b"\x80" + curve_point(body["rSig"]) + octets(body["sSig"], 32)


_SIG_FIELDS = frozenset({"rSig", "sSig"})
_PEK_FIELDS = frozenset({"supportedSymmAlg", "publicKey"})


def public_encryption_key(value: Any) -> bytes:
    """``PublicEncryptionKey`` aes128Ccm with an eciesNistP256 point (1609.2 §6.4.34)."""
    value = _fields(value, _PEK_FIELDS, _PEK_FIELDS)
    kind, point = _choice(value["publicKey"])
    if value["supportedSymmAlg"] != "aes128Ccm" or kind != "eciesNistP256":
        raise Outside
    return b"\x00\x80" + curve_point(point)


# --- ToBeSignedCertificate and Certificate (Ieee1609Dot2) --------------------------------------

_TBS_OPTIONALS = (
    "region",
    "assuranceLevel",
    "appPermissions",
    "certIssuePermissions",
    "certRequestPermissions",
    "canRequestRollover",
    "encryptionKey",
)
_TBS_REQUIRED = frozenset({"id", "cracaId", "crlSeries", "validityPeriod", "verifyKeyIndicator", "appPermissions"})
_TBS_ALLOWED = _TBS_REQUIRED | {"region", "encryptionKey"}
_LINKAGE_REQUIRED = frozenset({"iCert", "linkage-value"})
_LINKAGE_ALLOWED = _LINKAGE_REQUIRED | {"group-linkage-value"}
_GROUP_FIELDS = frozenset({"jValue", "value"})
_VALIDITY_FIELDS = frozenset({"start", "duration"})
_PSID_SSP_REQUIRED = frozenset({"psid"})
_PSID_SSP_ALLOWED = frozenset({"psid", "ssp"})
_CERT_REQUIRED = frozenset({"version", "type", "issuer", "toBeSigned"})
_CERT_ALLOWED = _CERT_REQUIRED | {"signature"}
_CERT_TYPES = {"explicit": b"\x00", "implicit": b"\x01"}
_TBS_PREAMBLES = {(region, key): bytes((0x10 | (0x40 if region else 0) | (0x01 if key else 0),))
                  for region in (False, True) for key in (False, True)}  # fmt: skip


def _certificate_id(value: Any) -> bytes:
    kind, body = _choice(value)
    if kind == "none" and body is None:
        return b"\x83"
    if kind != "linkageData":
        raise Outside
    body = _fields(body, _LINKAGE_REQUIRED, _LINKAGE_ALLOWED)
    out = (b"\x80\x80" if "group-linkage-value" in body else b"\x80\x00") + uint(body["iCert"], 2)
    out += octets(body["linkage-value"], 9)
    if "group-linkage-value" in body:
        group = _fields(body["group-linkage-value"], _GROUP_FIELDS, _GROUP_FIELDS)
        out += octets(group["jValue"], 4) + octets(group["value"], 9)
    return out


def _validity(value: Any) -> bytes:
    value = _fields(value, _VALIDITY_FIELDS, _VALIDITY_FIELDS)
    unit, count = _choice(value["duration"])
    tag = _DURATION_TAGS.get(unit)
    if tag is None:
        raise Outside
    return uint(value["start"], 4) + tag + uint(count, 2)


def _region(value: Any) -> bytes:
    # identifiedRegion with countryOnly entries only: the pseudonym certificate's usual region.
    kind, regions = _choice(value)
    if kind != "identifiedRegion" or type(regions) is not list:
        raise Outside
    out = [b"\x83", quantity(len(regions))]
    for region in regions:
        alternative, country = _choice(region)
        if alternative != "countryOnly":
            raise Outside
        out.append(b"\x80" + uint(country, 2))
    return b"".join(out)


def _app_permissions(value: Any) -> bytes:
    if type(value) is not list:
        raise Outside
    out = [quantity(len(value))]
    for entry in value:
        if type(entry) is dict and len(entry) == 1:
            psid = entry.get("psid")
            if type(psid) is int and 0 <= psid < 0x80:  # the usual PsidSsp: a one-octet psid, no ssp
                out.append(b"\x00\x01" + bytes((psid,)))
                continue
        entry = _fields(entry, _PSID_SSP_REQUIRED, _PSID_SSP_ALLOWED)
        if "ssp" not in entry:
            out.append(b"\x00" + unbounded_uint(entry["psid"]))
            continue
        out.append(b"\x80" + unbounded_uint(entry["psid"]))
        kind, ssp = _choice(entry["ssp"])
        if kind == "opaque":
            out.append(b"\x80" + var_octets(ssp))
        elif kind == "bitmapSsp":
            # An extension alternative: its encoding travels as an open type (X.696 §23.3).
            inner = var_octets(ssp, 31)
            out.append(b"\x81" + length(len(inner)) + inner)
        else:
            raise Outside
    return b"".join(out)


def _verify_key_indicator(value: Any) -> bytes:
    kind, body = _choice(value)
    if kind == "reconstructionValue":
        return b"\x81" + curve_point(body)
    if kind != "verificationKey":
        raise Outside
    algorithm, point = _choice(body)
    if algorithm != "ecdsaNistP256":
        raise Outside
    return b"\x80\x80" + curve_point(point)


def to_be_signed_certificate(value: Any) -> bytes:
    """``ToBeSignedCertificate`` of an ACA-issued shape (1609.2 §6.4.8); ``Outside`` for any other."""
    value = _fields(value, _TBS_REQUIRED, _TBS_ALLOWED)
    # The preamble of _TBS_OPTIONALS after the extension bit, for the members _TBS_ALLOWED admits:
    # appPermissions (required here) 0x10, region 0x40, encryptionKey 0x01 (same octet as ``preamble``).
    out = [
        _TBS_PREAMBLES[("region" in value, "encryptionKey" in value)],
        _certificate_id(value["id"]),
        octets(value["cracaId"], 3),
        uint(value["crlSeries"], 2),
        _validity(value["validityPeriod"]),
    ]
    if "region" in value:
        out.append(_region(value["region"]))
    out.append(_app_permissions(value["appPermissions"]))
    if "encryptionKey" in value:
        out.append(public_encryption_key(value["encryptionKey"]))
    out.append(_verify_key_indicator(value["verifyKeyIndicator"]))
    return b"".join(out)


def _issuer(value: Any) -> bytes:
    kind, body = _choice(value)
    if kind == "sha256AndDigest":
        return b"\x80" + octets(body, 8)
    if kind == "self" and body in ("sha256", "sha384"):
        # HashAlgorithm is extensible; sha384 (1) is an extension value, still one octet (X.696 §11).
        return b"\x81\x00" if body == "sha256" else b"\x81\x01"
    raise Outside


def certificate(value: Any) -> bytes:
    """``Certificate`` (CertificateBase) with a template-shaped toBeSigned, 1609.2 §6.4.2; ``Outside`` otherwise."""
    value = _fields(value, _CERT_REQUIRED, _CERT_ALLOWED)
    kind = _CERT_TYPES.get(value["type"]) if type(value["type"]) is str else None
    if type(value["version"]) is not int or value["version"] != 3 or kind is None:
        raise Outside
    head = b"\x80\x03" if "signature" in value else b"\x00\x03"
    body = head + kind + _issuer(value["issuer"]) + to_be_signed_certificate(value["toBeSigned"])
    if "signature" in value:
        body += signature(value["signature"])
    return body


TEMPLATES: dict[str, Encoder] = {
    "Certificate": certificate,
    "ToBeSignedCertificate": to_be_signed_certificate,
    "PublicEncryptionKey": public_encryption_key,
}
"""Type name → template encoder for the certificate types."""


def by_template(templates: Mapping[str, Encoder], type_name: str, value: Any) -> bytes | None:
    """COER of ``value`` by its template in ``templates``, or None when no template fits it."""
    template = templates.get(type_name)
    if template is None:
        return None
    try:
        return template(value)
    except Outside:
        return None
    except (KeyError, TypeError, IndexError, AttributeError):
        return None  # A malformed value: asn1tools will name the problem as an EncodeError.


def encode_with(templates: Mapping[str, Encoder], type_name: str, value: Any) -> bytes:
    """COER of ``value`` by its template in ``templates`` when it fits, else by ``asn1.encode`` (same bytes)."""
    encoded = by_template(templates, type_name, value)
    return asn1.encode(type_name, value) if encoded is None else encoded


def copy_value(value: Any) -> Any:
    """A copy of an asn1tools value made of dicts, lists and tuples over immutable leaves (no shared containers)."""
    kind = type(value)
    if kind is dict:
        return {name: copy_value(member) for name, member in value.items()}
    if kind is list:
        return [copy_value(member) for member in value]
    if kind is tuple:
        return tuple(copy_value(member) for member in value)
    return value


def encode(type_name: str, value: Any) -> bytes:
    """COER of a certificate type, by template when the value fits one (performance.md §4), else asn1tools."""
    return encode_with(TEMPLATES, type_name, value)
