"""What the other decoders should read from our bytes, derived from our own strict decode of the same bytes.

Also the precise rules for the known defects of the other decoders (protocol.md §7), so a test can tell
"their documented bug" from "our encoding fault":

Bouncy Castle 1.72 (``org.bouncycastle.oer.its``):
- drops the 1609.2-2022 ``ToBeSignedCertificate`` extension additions (``flags``, ``appExtensions``,
  ``certIssueExtensions``, ``certRequestExtension``) when it re-encodes;
- cannot parse ``LinkageData.group-linkage-value`` (ArrayIndexOutOfBoundsException);
- has no ``ecdsaNistP384`` / ``ecdsaNistP384Signature`` alternatives (IndexOutOfBoundsException).

Wireshark 4.0.17 (``ieee1609dot2`` dissector), in ``PsidGroupPermissions``:
- ``minChainLength`` and ``chainLengthRange`` present on the wire: "field ... is not of type FT_UINT..."
  (a dissector bug report), and dissection stops there;
- ``eeType`` present on the wire: "Encoding of bitstring values not handled yet", then a malformed packet;
- P-384 keys and signatures (extension alternatives) are shown as integers with a "Trying to fetch an
  unsigned integer with length N" warning, though their lengths are honoured.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from scms_codec import asn1

# ---- walking asn1tools values (OCTET STRINGs are not descended into: neither decoder does) -------------


def _nodes(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _nodes(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _nodes(item)


def certificates_in(value: Any) -> list[dict[str, Any]]:
    """Every ``Certificate`` value inside ``value`` (itself included), in encoding order."""
    return [n for n in _nodes(value) if isinstance(n, dict) and "toBeSigned" in n and "issuer" in n]


def _choices(value: Any) -> set[str]:
    return {n[0] for n in _nodes(value) if isinstance(n, tuple) and len(n) == 2 and isinstance(n[0], str)}


# ---- Bouncy Castle ---------------------------------------------------------------------------------------

BC_ADDITIONS = ("flags", "appExtensions", "certIssueExtensions", "certRequestExtension")
BC_NO_GROUP_LINKAGE = "java.lang.ArrayIndexOutOfBoundsException"
BC_NO_NIST_P384 = "java.lang.IndexOutOfBoundsException"


def bc_parse_failure(value: Any) -> str | None:
    """The exception class BC 1.72 is known to throw on this value, or None if it should parse."""
    if any(isinstance(n, dict) and "group-linkage-value" in n for n in _nodes(value)):
        return BC_NO_GROUP_LINKAGE
    if {"ecdsaNistP384", "ecdsaNistP384Signature"} & _choices(value):
        return BC_NO_NIST_P384
    return None


def without_2022_additions(asn1_type: str, value: Any) -> bytes:
    """COER of ``value`` with every certificate's 2022 extension additions removed: BC 1.72's re-encoding."""
    stripped = copy.deepcopy(value)
    for cert in certificates_in(stripped):
        for name in BC_ADDITIONS:
            cert["toBeSigned"].pop(name, None)
    encoded: bytes = asn1.encode(asn1_type, stripped)
    return encoded


def has_2022_additions(value: Any) -> bool:
    """Whether any certificate inside ``value`` carries a 1609.2-2022 extension addition."""
    return any(name in cert["toBeSigned"] for cert in certificates_in(value) for name in BC_ADDITIONS)


_CONTENT = ("unsecuredData", "signedData", "encryptedData", "signedCertificateRequest")


def bc_summary(asn1_type: str, value: Any) -> dict[str, Any]:
    """The fields ItsOerCheck.java reads through BC's getters, read here from our decode (same names)."""
    if asn1_type == "Certificate":
        return _certificate_summary(value)
    return _data_summary(value)


def _certificate_summary(cert: dict[str, Any]) -> dict[str, Any]:
    tbs = cert["toBeSigned"]
    out: dict[str, Any] = {"version": cert["version"], "type": ["explicit", "implicit"].index(cert["type"])}
    kind, body = cert["issuer"]
    out["issuer"] = kind
    if kind != "self":
        out["issuer_id"] = body.hex()
    out.update(
        id=tbs["id"][0],
        craca_id=tbs["cracaId"].hex(),
        crl_series=tbs["crlSeries"],
        start=tbs["validityPeriod"]["start"],
        duration_choice=["microseconds", "milliseconds", "seconds", "minutes", "hours", "sixtyHours", "years"].index(
            tbs["validityPeriod"]["duration"][0]
        ),
        duration=tbs["validityPeriod"]["duration"][1],
        app_psids=[p["psid"] for p in tbs.get("appPermissions", [])],
        cert_issue_permissions="certIssuePermissions" in tbs,
        cert_request_permissions="certRequestPermissions" in tbs,
        encryption_key="encryptionKey" in tbs,
        verify_key_indicator=tbs["verifyKeyIndicator"][0],
        signature="signature" in cert,
    )
    return out


def _data_summary(data: dict[str, Any]) -> dict[str, Any]:
    kind, body = data["content"]
    out: dict[str, Any] = {"protocol_version": data["protocolVersion"], "content": kind}
    if kind == "signedData":
        header = body["tbsData"]["headerInfo"]
        out["psid"] = header["psid"]
        out["generation_time"] = "generationTime" in header
        signer_kind, signer = body["signer"]
        out["signer"] = signer_kind
        if signer_kind == "certificate":
            out["signer_certificates"] = len(signer)
        elif signer_kind == "digest":
            out["signer_digest"] = signer.hex()
        inner = body["tbsData"]["payload"].get("data")
        if inner is not None:
            out["payload_content"] = inner["content"][0]
    elif kind == "encryptedData":
        out["recipients"] = [r[0] for r in body["recipients"]]
    return out


# ---- Wireshark -------------------------------------------------------------------------------------------

_NOT_UINT = "field ieee1609dot2.{} is not of type FT_CHAR, FT_UINT8, FT_UINT16, FT_UINT24, or FT_UINT32"
WS_BITSTRING = (
    "something unknown here [Encoding of bitstring values not handled yet]",
    "Malformed Packet (Exception occurred)",
)
WS_P384_WARNINGS = frozenset({"Trying to fetch an unsigned integer with length 49",
                              "Trying to fetch an unsigned integer with length 97"})
_EE_TYPE_APP = b"\x80"


def _on_wire(group: dict[str, Any]) -> list[str]:
    """The DEFAULT-able PsidGroupPermissions fields COER puts on the wire for this group, in order."""
    present = []
    if group.get("minChainLength", 1) != 1:
        present.append("minChainLength")
    if group.get("chainLengthRange", 0) != 0:
        present.append("chainLengthRange")
    ee_type = group.get("eeType")
    if ee_type is not None and bytes(ee_type[0]).rstrip(b"\0") != _EE_TYPE_APP:
        present.append("eeType")
    return present


def _groups(value: Any) -> Iterator[dict[str, Any]]:
    for cert in certificates_in(value):
        tbs = cert["toBeSigned"]
        yield from tbs.get("certIssuePermissions", [])
        yield from tbs.get("certRequestPermissions", [])


def dissector_bug(value: Any) -> tuple[str, ...] | None:
    """The expert messages tshark 4.0 is known to stop with on this value, or None if it should not."""
    for group in _groups(value):
        present = _on_wire(group)
        if present:
            first = present[0]
            return WS_BITSTRING if first == "eeType" else (_NOT_UINT.format(first),)
    return None


def without_dissector_bugs(asn1_type: str, value: Any) -> bytes:
    """COER of ``value`` with minChainLength, chainLengthRange and eeType at their DEFAULTs (so not encoded).

    Signatures no longer match, which the dissector does not check; it lets it read the rest of a CA
    certificate. Only encoded, never decoded: the codec cannot decode an omitted eeType yet.
    """
    stripped = copy.deepcopy(value)
    for group in _groups(stripped):
        for name in ("minChainLength", "chainLengthRange", "eeType"):
            group.pop(name, None)
    encoded: bytes = asn1.encode(asn1_type, stripped)
    return encoded


def warnings_allowed(value: Any) -> frozenset[str]:
    """Expert warnings tshark 4.0 gives for correct encodings of this value (P-384 alternatives)."""
    if {"ecdsaNistP384", "ecdsaNistP384Signature"} & _choices(value):
        return WS_P384_WARNINGS
    return frozenset()


def _uint(n: int, size: int | None = None) -> str:
    """Raw hex of an integer field as PDML shows it: fixed ``size`` octets, else minimal (length-prefixed)."""
    width = size if size is not None else max(1, (n.bit_length() + 7) // 8)
    return n.to_bytes(width, "big").hex()


def expected_fields(value: Any) -> list[tuple[str, str]]:
    """(PDML field name, raw hex) pairs the dissection must contain, in this order, for an Ieee1609Dot2Data."""
    out: list[tuple[str, str]] = []
    _data_fields(value, out)
    return out


def _data_fields(data: dict[str, Any], out: list[tuple[str, str]]) -> None:
    out.append(("ieee1609dot2.protocolVersion", _uint(data["protocolVersion"])))
    kind, body = data["content"]
    if kind == "unsecuredData":
        out.append(("ieee1609dot2.unsecuredData", body.hex()))
    elif kind == "signedCertificateRequest":
        out.append(("ieee1609dot2.signedCertificateRequest", body.hex()))
    elif kind == "signedData":
        out.append(("ieee1609dot2.hashId", _uint(["sha256", "sha384", "sm3"].index(body["hashId"]))))
        inner = body["tbsData"]["payload"].get("data")
        if inner is not None:
            _data_fields(inner, out)
        out.append(("ieee1609dot2.psid", _uint(body["tbsData"]["headerInfo"]["psid"])))
        signer_kind, signer = body["signer"]
        if signer_kind == "digest":
            out.append(("ieee1609dot2.digest", signer.hex()))
        elif signer_kind == "certificate":
            for cert in signer:
                _certificate_fields(cert, out)
        _signature_fields(body["signature"], out)
    elif kind == "encryptedData":
        for recipient_kind, info in body["recipients"]:
            if recipient_kind == "pskRecipInfo":
                out.append(("ieee1609dot2.pskRecipInfo", info.hex()))
            else:
                out.append(("ieee1609dot2.recipientId", info["recipientId"].hex()))
        ciphertext = body["ciphertext"][1]
        out.append(("ieee1609dot2.nonce", ciphertext["nonce"].hex()))
        out.append(("ieee1609dot2.ccmCiphertext", ciphertext["ccmCiphertext"].hex()))


def _certificate_fields(cert: dict[str, Any], out: list[tuple[str, str]]) -> None:
    tbs = cert["toBeSigned"]
    out.append(("ieee1609dot2.version", _uint(cert["version"])))
    out.append(("ieee1609dot2.type", _uint(["explicit", "implicit"].index(cert["type"]))))
    issuer_kind, issuer = cert["issuer"]
    if issuer_kind != "self":
        out.append((f"ieee1609dot2.{issuer_kind}", issuer.hex()))
    id_kind, cert_id = tbs["id"]
    if id_kind == "linkageData":
        out.append(("ieee1609dot2.iCert", _uint(cert_id["iCert"], 2)))
        out.append(("ieee1609dot2.linkage_value", cert_id["linkage-value"].hex()))
    elif id_kind == "binaryId":
        out.append(("ieee1609dot2.binaryId", cert_id.hex()))
    elif id_kind == "name":
        out.append(("ieee1609dot2.name", cert_id.encode().hex()))
    out.append(("ieee1609dot2.cracaId", tbs["cracaId"].hex()))
    out.append(("ieee1609dot2.crlSeries", _uint(tbs["crlSeries"], 2)))
    out.append(("ieee1609dot2.start", _uint(tbs["validityPeriod"]["start"], 4)))
    for permission in tbs.get("appPermissions", []):
        out.append(("ieee1609dot2.psid", _uint(permission["psid"])))
    if "encryptionKey" in tbs:
        _point_fields(tbs["encryptionKey"]["publicKey"][1], out)
    indicator_kind, indicator = tbs["verifyKeyIndicator"]
    if indicator_kind == "reconstructionValue":
        _point_fields(indicator, out)
    elif indicator[0] != "ecdsaNistP384":  # shown as an opaque integer by tshark 4.0 (module docstring)
        _point_fields(indicator[1], out)
    if "signature" in cert:
        _signature_fields(cert["signature"], out)


def _point_fields(point: tuple[str, Any], out: list[tuple[str, str]]) -> None:
    kind, body = point
    if kind.startswith("uncompressed"):
        out.append(("ieee1609dot2.x", body["x"].hex()))
        out.append(("ieee1609dot2.y", body["y"].hex()))
    else:
        out.append((f"ieee1609dot2.{kind.replace('-', '_')}", body.hex()))


def _signature_fields(signature: tuple[str, Any], out: list[tuple[str, str]]) -> None:
    kind, body = signature
    if kind == "ecdsaNistP384Signature":
        return  # shown as an opaque integer by tshark 4.0 (see the module docstring)
    r_kind, r = body["rSig"]
    out.append((f"ieee1609dot2.{r_kind.replace('-', '_')}", r.hex()))
    out.append(("ieee1609dot2.sSig", body["sSig"].hex()))
