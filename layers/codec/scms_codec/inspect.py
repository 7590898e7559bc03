"""Explain any COER certificate or SPDU: a typed tree of every layer, rendered as text or JSON.

The codec half of ``scms inspect`` (like ``openssl x509 -text`` for 1609.2): detection of the
outer type, the nested layers (``asn1.nested``, protocol.md §1.3), certificate identifiers
(protocol.md §4.1), Time32 in TAI and UTC (protocol.md §5.1), and verification under a given
issuer (protocol.md §4.2, §4.3). Pure: returns values and strings, never prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import asn1, time32
from .asn1.nested import Layer, Path, nested_layers
from .cert.certificate import Certificate, verify_signature
from .errors import CodecError, DecodeError, InvalidSignature
from .secured.cert_request import open_cert_request
from .secured.signed_data import open_signed_data

__all__ = [
    "DETECTION_ORDER",
    "Inspection",
    "Node",
    "detect",
    "inspect",
    "render_json",
    "render_text",
    "to_json",
    "verify_with_issuer",
]

# The first strict decode that consumes every octet wins. Certificate and Ieee1609Dot2Data both
# start with version 3 but differ in the next octet (type enum vs CHOICE tag), ScmsPdu starts with
# 2, so the order matters only for the looser types at the end.
DETECTION_ORDER = (
    "Certificate",
    "Ieee1609Dot2Data",
    "ScmsPdu",
    "SignedCertificateRequest",
    "CrlContents",
    "MultiSignedCtl",
    "ToBeSignedCertificate",
    "SequenceOfCertificate",
)

_TIME32_FIELDS = frozenset(
    {"start", "generationTime", "issueDate", "nextCrl", "nextDlTime", "expiry", "effectiveDate",
     "lastUpdate", "updated", "caCcf", "ra"}
)
# HeaderInfo's generationTime and expiryTime are Time64 (microseconds), 1609.2 §6.3.9.
_TIME64_IN_HEADER = frozenset({"generationTime", "expiryTime"})
_CERTIFICATE_KEYS = frozenset({"version", "type", "issuer", "toBeSigned"})
_TEXT_HEX_LIMIT = 64
_EMPTY = "(empty)"  # an empty SEQUENCE or SEQUENCE OF, told apart from NULL

Scalar = bytes | int | str | bool | None


@dataclass(frozen=True)
class Node:
    """One field of a decoded value: its name, CHOICE alternative, scalar value, notes and children."""

    name: str
    value: Scalar = None
    choice: str | None = None
    type_name: str | None = None  # set where a nested layer (or the outer value) starts
    notes: tuple[tuple[str, str], ...] = ()
    children: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Inspection:
    """The outer type, its value, its nested layers and the rendered tree of an input."""

    type_name: str
    value: Any = field(repr=False)
    layers: tuple[Layer, ...] = field(repr=False)
    tree: Node = field(repr=False)
    size: int


def detect(data: bytes, type_name: str | None = None) -> tuple[str, Any]:
    """(type, value) of the first type in DETECTION_ORDER (or ``type_name``) that strictly decodes ``data``."""
    if type_name is not None:
        return type_name, asn1.decode(type_name, data)
    for candidate in DETECTION_ORDER:
        try:
            return candidate, asn1.decode(candidate, data)
        except DecodeError:
            continue
    raise DecodeError(f"not the COER of any of {', '.join(DETECTION_ORDER)}")


def inspect(data: bytes, type_name: str | None = None) -> Inspection:
    """Decode ``data`` with every nested layer and build its tree (DecodeError, 400-42, if it cannot)."""
    found, value = detect(data, type_name)
    layers = nested_layers(value)
    root = _node(found, value, layers, (), None)
    tree = Node(found, root.value, root.choice, found, root.notes, root.children)
    return Inspection(found, value, layers, tree, len(data))


def render_text(tree: Node) -> str:
    """An indented, human-readable rendering of ``tree``."""
    lines: list[str] = []
    _text(tree, 0, lines)
    return "\n".join(lines) + "\n"


def to_json(tree: Node) -> dict[str, Any]:
    """``tree`` as JSON-ready dicts; octets are hex strings."""
    out: dict[str, Any] = {"name": tree.name}
    if tree.type_name is not None:
        out["type"] = tree.type_name
    if tree.choice is not None:
        out["choice"] = tree.choice
    if tree.value is not None:
        out["value"] = tree.value.hex() if isinstance(tree.value, bytes) else tree.value
    if tree.notes:
        out["notes"] = dict(tree.notes)
    if tree.children:
        out["children"] = [to_json(child) for child in tree.children]
    return out


def render_json(tree: Node) -> str:
    """``to_json(tree)`` as indented JSON text."""
    return json.dumps(to_json(tree), indent=2) + "\n"


def verify_with_issuer(inspection: Inspection, data: bytes, issuer: Certificate) -> list[str]:
    """Verify ``data`` under ``issuer``: what was checked, or InvalidSignature/InvalidKey (1609.2 §5.3.1, §5.3.2).

    A certificate: the explicit signature, or for an implicit certificate the reconstruction
    Q_U = e·P_U + Q_CA (printed compressed). Signed data or a certificate request: the signature,
    with ``issuer`` as the digest-named signer or the issuer of the signer certificate, and an
    embedded explicit signer certificate's own signature under ``issuer``.
    """
    if inspection.type_name == "Certificate":
        return _verify_certificate(Certificate.from_bytes(data), issuer)
    if inspection.type_name != "Ieee1609Dot2Data":
        raise InvalidSignature(f"a {inspection.type_name} carries no signature to verify")
    kind = inspection.value["content"][0]

    def resolve(hashed_id8: bytes) -> Certificate | None:
        return issuer if hashed_id8 == issuer.hashed_id8 else None

    if kind == "signedData":
        verified = open_signed_data(
            data, expected_psid=None, resolve_signer=resolve, issuer=issuer, psid_only_header=False
        )
        signer = verified.signer
        done = [f"signedData signature verified (psid {verified.psid})"]
    elif kind == "signedCertificateRequest":
        request = open_cert_request(data, issuer=issuer, resolve_signer=resolve)
        signer = request.signer
        done = ["signedCertificateRequest signature verified" + (" (self-signed)" if signer is None else "")]
    else:
        raise InvalidSignature(f"{kind} carries no signature to verify")
    if signer is not None and signer.encoded != issuer.encoded:
        done += [f"signer {signer.hashed_id8.hex()}: " + line for line in _verify_certificate(signer, issuer)]
    return done


def _verify_certificate(cert: Certificate, issuer: Certificate) -> list[str]:
    if cert.is_self_signed:
        if cert.encoded != issuer.encoded:
            raise InvalidSignature("the certificate is self-signed; --issuer must be the certificate itself")
        verify_signature(cert, None)
        return ["self-signature verified"]
    if cert.issuer_id != issuer.hashed_id8:
        raise InvalidSignature(
            f"the certificate names issuer {_hex(cert.issuer_id)}, the given issuer is {issuer.hashed_id8.hex()}"
        )
    if cert.is_implicit:
        key = cert.public_key(issuer)
        point = key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint).hex()
        return [f"implicit certificate: reconstructed public key {point}"]
    verify_signature(cert, issuer)
    return [f"signature verified under issuer {issuer.hashed_id8.hex()}"]


def _hex(value: bytes | None) -> str:
    return "self" if value is None else value.hex()


def _node(name: str, value: Any, layers: Sequence[Layer], path: Path, parent: str | None) -> Node:
    """The node of ``value`` at ``path``; ``layers`` are the layers of the enclosing value."""
    here = next((layer for layer in layers if layer.path == path), None)
    if here is not None:
        inner = _node(name, here.value, here.layers, (), parent)
        notes = (("octets", str(len(here.encoded))), *inner.notes)
        return Node(name, inner.value, inner.choice, here.type_name, notes, inner.children)
    if isinstance(value, dict):
        children = tuple(_node(str(k), v, layers, (*path, k), name) for k, v in value.items())
        return Node(name, None if children else _EMPTY, notes=_dict_notes(value), children=children)
    if isinstance(value, list):
        items = tuple(_node(f"[{i}]", v, layers, (*path, i), name) for i, v in enumerate(value))
        return Node(name, None if items else _EMPTY, children=items)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        alternative, inner_value = value
        inner = _node(alternative, inner_value, layers, (*path, alternative), name)
        notes = _duration_note(value) if name == "duration" else ()
        if inner.choice is not None:
            # A CHOICE of a CHOICE: keep the inner one as a child so that both names show.
            return Node(name, None, alternative, None, notes, (inner,))
        return Node(name, inner.value, alternative, inner.type_name, inner.notes + notes, inner.children)
    if isinstance(value, tuple):  # BIT STRING (octets, bit length)
        return Node(name, f"{value[0].hex()} ({value[1]} bits)")
    return Node(name, value, notes=_scalar_notes(name, value, parent))


def _scalar_notes(name: str, value: Scalar, parent: str | None) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, int) or isinstance(value, bool):
        return ()
    if parent == "headerInfo" and name in _TIME64_IN_HEADER:
        seconds, micros = divmod(value, 1_000_000)
        return (("Time64", _utc(seconds, micros)),) if seconds <= time32.TIME32_MAX else ()
    if name in _TIME32_FIELDS and 0 <= value <= time32.TIME32_MAX:
        return (("Time32", _utc(value)),)
    return ()


def _utc(seconds: int, micros: int = 0) -> str:
    instant = time32.to_datetime(seconds) + timedelta(microseconds=micros)
    return f"TAI {seconds} s since 2004-01-01; UTC {instant.isoformat().replace('+00:00', 'Z')}"


def _duration_note(duration: tuple[str, int]) -> tuple[tuple[str, str], ...]:
    return (("seconds", str(time32.duration_seconds(duration))),)


def _dict_notes(value: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    if value.keys() >= _CERTIFICATE_KEYS:
        return _certificate_notes(value)
    if value.keys() == {"start", "duration"}:
        return _guarded(lambda: (("end", _utc(time32.validity_end(value))),))
    return ()


def _certificate_notes(value: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    def notes() -> tuple[tuple[str, str], ...]:
        cert = Certificate.from_value(value)
        start, end = cert.validity
        return (
            ("certificate", "implicit" if cert.is_implicit else "explicit"),
            ("HashedId8", cert.hashed_id8.hex()),
            ("HashedId3", cert.hashed_id3.hex()),
            ("issuer", "self" if cert.is_self_signed else _hex(cert.issuer_id)),
            ("valid from", _utc(start)),
            ("valid until", _utc(end)),
        )

    return _guarded(notes)


def _guarded(make: Callable[[], tuple[tuple[str, str], ...]]) -> tuple[tuple[str, str], ...]:
    # A value that decodes but breaks a certificate rule is still shown; the note says why.
    try:
        return make()
    except (CodecError, ValueError, OverflowError) as exc:
        return (("unavailable", str(exc)),)


def _text(node: Node, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    head = node.name
    if node.type_name is not None and node.type_name != node.name:
        head += f" <{node.type_name}>"
    if node.choice is not None:
        head += f": {node.choice}"
    if node.value is not None:
        head += (" = " if node.choice is not None else ": ") + _scalar_text(node.value)
    elif node.choice is None and not node.children and node.type_name is None:
        head += ": NULL"
    lines.append(pad + head)
    for key, note in node.notes:
        lines.append(f"{pad}  # {key}: {note}")
    for child in node.children:
        _text(child, depth + 1, lines)


def _scalar_text(value: Scalar) -> str:
    if isinstance(value, bytes):
        if len(value) > _TEXT_HEX_LIMIT:
            return f"{value[:32].hex()}... ({len(value)} octets)"
        return value.hex() if value else "(empty)"
    if isinstance(value, str):
        return value
    return str(value)
