"""Hand-written COER for the ACA's response wrappers, with asn1tools as the fallback (performance.md §4).

Covers ``Ieee1609Dot2Data`` holding unsecuredData, SignedData (payload data only, headerInfo
psid only, 1609.2.1 §6.3.2, protocol.md §1.3) or EncryptedData (ECIES P-256 PKRecipientInfo or
pskRecipInfo, AES-128-CCM, protocol.md §4.4), ``ToBeSignedData`` of that shape, and
``ScmsPdu`` aca-ee AcaEeCertResponse (protocol.md §3.3), on top of the certificate templates.
Anything else goes to ``scms_codec.asn1.encode`` through the one switch, ``encode``.
"""

from __future__ import annotations

from typing import Any

from ..cert import template as cert_template
from ..cert.template import (
    Encoder,
    Outside,
    curve_point,
    encode_with,
    octets,
    quantity,
    signature,
    uint,
    unbounded_uint,
    var_octets,
)

__all__ = [
    "TEMPLATES",
    "encode",
    "ieee1609dot2_data",
    "scms_pdu",
    "signed_data_from_parts",
    "signer_identifier",
    "to_be_signed_data",
    "unsecured_data",
]

_DATA_FIELDS = frozenset({"protocolVersion", "content"})
_SIGNED_FIELDS = frozenset({"hashId", "tbsData", "signer", "signature"})
_TBS_DATA_FIELDS = frozenset({"payload", "headerInfo"})
_PAYLOAD_FIELDS = frozenset({"data"})
_HEADER_FIELDS = frozenset({"psid"})
_ENCRYPTED_FIELDS = frozenset({"recipients", "ciphertext"})
_PK_RECIPIENT_FIELDS = frozenset({"recipientId", "encKey"})
_ECIES_FIELDS = frozenset({"v", "c", "t"})
_CCM_FIELDS = frozenset({"nonce", "ccmCiphertext"})
_PDU_FIELDS = frozenset({"version", "content"})
_RESPONSE_REQUIRED = frozenset({"version", "generationTime", "certificate"})
_RESPONSE_ALLOWED = _RESPONSE_REQUIRED | {"privateKeyInfo"}
_HASH_IDS = {"sha256": b"\x00", "sha384": b"\x01"}
# PKRecipientInfo alternatives of RecipientInfo (1609.2 §6.3.32): certRecipInfo 2 … rekRecipInfo 4.
_PK_RECIPIENT_TAGS = {"certRecipInfo": b"\x82", "signedDataRecipInfo": b"\x83", "rekRecipInfo": b"\x84"}


def _fields(value: Any, required: frozenset[str], allowed: frozenset[str] | None = None) -> dict[str, Any]:
    if type(value) is not dict or not required <= value.keys() or not value.keys() <= (allowed or required):
        raise Outside
    return value


def _choice(value: Any) -> tuple[str, Any]:
    if type(value) is not tuple or len(value) != 2:
        raise Outside
    return value


def unsecured_data(payload: bytes) -> bytes:
    """COER ``Ieee1609Dot2Data {3, unsecuredData payload}`` of the payload octets (1609.2 §6.3.3)."""
    return encode("Ieee1609Dot2Data", {"protocolVersion": 3, "content": ("unsecuredData", payload)})


def ieee1609dot2_data(value: Any) -> bytes:
    """``Ieee1609Dot2Data`` of a template shape (1609.2 §6.3.2); ``Outside`` for any other."""
    value = _fields(value, _DATA_FIELDS)
    if type(value["protocolVersion"]) is not int or value["protocolVersion"] != 3:
        raise Outside
    kind, content = _choice(value["content"])
    if kind == "unsecuredData":
        return b"\x03\x80" + var_octets(content)
    if kind == "signedCertificateRequest":
        return b"\x03\x83" + var_octets(content)
    if kind == "signedData":
        return b"\x03\x81" + _signed_data(content)
    if kind == "encryptedData":
        return b"\x03\x82" + _encrypted_data(content)
    raise Outside


def _signed_data(value: Any) -> bytes:
    value = _fields(value, _SIGNED_FIELDS)
    hash_id = _HASH_IDS.get(value["hashId"]) if type(value["hashId"]) is str else None
    if hash_id is None:
        raise Outside
    return hash_id + to_be_signed_data(value["tbsData"]) + _signer(value["signer"]) + signature(value["signature"])


def to_be_signed_data(value: Any) -> bytes:
    """``ToBeSignedData`` with payload data and headerInfo psid only (1609.2.1 §6.3.2, protocol.md §1.3)."""
    value = _fields(value, _TBS_DATA_FIELDS)
    payload = _fields(value["payload"], _PAYLOAD_FIELDS)
    header = _fields(value["headerInfo"], _HEADER_FIELDS)
    # SignedDataPayload preamble: extension bit 0, data present, extDataHash absent; HeaderInfo: all absent.
    return b"\x40" + ieee1609dot2_data(payload["data"]) + b"\x00" + unbounded_uint(header["psid"])


def _signer(value: Any) -> bytes:
    kind, body = _choice(value)
    if kind == "digest":
        return b"\x80" + octets(body, 8)
    if kind == "self" and body is None:
        return b"\x82"
    if kind != "certificate" or type(body) is not list:
        raise Outside
    return b"\x81" + quantity(len(body)) + b"".join(cert_template.certificate(c) for c in body)


def _encrypted_data(value: Any) -> bytes:
    value = _fields(value, _ENCRYPTED_FIELDS)
    recipients = value["recipients"]
    if type(recipients) is not list:
        raise Outside
    out = [quantity(len(recipients))]
    for recipient in recipients:
        kind, info = _choice(recipient)
        if kind == "pskRecipInfo":
            out.append(b"\x80" + octets(info, 8))
            continue
        tag = _PK_RECIPIENT_TAGS.get(kind) if type(kind) is str else None
        if tag is None:
            raise Outside
        info = _fields(info, _PK_RECIPIENT_FIELDS)
        algorithm, key = _choice(info["encKey"])
        if algorithm != "eciesNistP256":
            raise Outside
        key = _fields(key, _ECIES_FIELDS)
        out.append(tag + octets(info["recipientId"], 8) + b"\x80" + curve_point(key["v"])
                   + octets(key["c"], 16) + octets(key["t"], 16))
    algorithm, ccm = _choice(value["ciphertext"])
    if algorithm != "aes128ccm":
        raise Outside
    ccm = _fields(ccm, _CCM_FIELDS)
    out.append(b"\x80" + octets(ccm["nonce"], 12) + var_octets(ccm["ccmCiphertext"]))
    return b"".join(out)


def signer_identifier(kind: str, certificate_coer: bytes | None = None, digest: bytes | None = None) -> bytes:
    """COER ``SignerIdentifier``: digest, one certificate (its COER as given) or self (1609.2 §6.3.9)."""
    if kind == "certificate" and type(certificate_coer) is bytes:
        return b"\x81\x01\x01" + certificate_coer  # SEQUENCE OF: quantity 1 (length 1, value 1), the certificate
    if kind == "digest" and type(digest) is bytes and len(digest) == 8:
        return b"\x80" + digest
    if kind == "self":
        return b"\x82"
    raise ValueError(f"kind: cannot build a {kind!r} SignerIdentifier from the given octets")


def signed_data_from_parts(hash_id: str, tbs_data: bytes, signer: bytes, signature_value: Any) -> bytes:
    """COER ``Ieee1609Dot2Data`` signedData from the COER of its fields (a SEQUENCE concatenates them, X.696 §16)."""
    if hash_id not in _HASH_IDS:
        raise ValueError(f"hash_id: expected sha256 or sha384, got {hash_id!r}")
    return b"\x03\x81" + _HASH_IDS[hash_id] + tbs_data + signer + encode("Signature", signature_value)


def scms_pdu(value: Any) -> bytes:
    """``ScmsPdu`` version 2 holding aca-ee AcaEeCertResponse (1609.2.1 §7.3.6, protocol.md §3.3)."""
    value = _fields(value, _PDU_FIELDS)
    if type(value["version"]) is not int or value["version"] != 2:
        raise Outside
    interface, inner = _choice(value["content"])
    if interface != "aca-ee":
        raise Outside
    pdu, response = _choice(inner)
    if pdu != "acaEeCertResponse":
        raise Outside
    response = _fields(response, _RESPONSE_REQUIRED, _RESPONSE_ALLOWED)
    if type(response["version"]) is not int or response["version"] != 2:
        raise Outside
    # AcaEeCertResponse preamble: extension bit 0, then privateKeyInfo's presence bit.
    head = b"\x02\x80\x80" + (b"\x40" if "privateKeyInfo" in response else b"\x00") + b"\x02"
    out = head + uint(response["generationTime"], 4) + cert_template.certificate(response["certificate"])
    if "privateKeyInfo" in response:
        out += octets(response["privateKeyInfo"], 32)
    return out


TEMPLATES: dict[str, Encoder] = {
    **cert_template.TEMPLATES,
    "Ieee1609Dot2Data": ieee1609dot2_data,
    "ToBeSignedData": to_be_signed_data,
    "ScmsPdu": scms_pdu,
    "Signature": signature,
}
"""Type name → template encoder: the certificate types and the response wrappers."""


def encode(type_name: str, value: Any) -> bytes:
    """COER of ``value``: by template when it fits one (performance.md §4), else ``asn1.encode`` (same bytes)."""
    return encode_with(TEMPLATES, type_name, value)

