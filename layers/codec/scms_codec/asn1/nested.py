"""Strict decoding of every OCTET STRING that carries another COER value (protocol.md §1.3).

asn1tools collapses the parameterized SPDU types (``Ieee1609Dot2Data-Signed {T, psid}`` and the
rest) to plain ``Ieee1609Dot2Data`` and the open types (PATCHES.md E1-E6) to OCTET STRINGs, so the
inner values stay opaque after ``decode``. ``nested_layers`` finds those containers in a decoded
value and decodes each one strictly, recursively.

Which type an ``unsecuredData`` holds is decided as follows:
- inside ``signedData`` with psid 256 (``CrlPsid``): ``CrlContents`` (``SecuredCrl``);
- inside ``signedData`` with psid 2113696 (``AcpcPsid``): ``AcpcPdu``;
- inside ``signedData`` with psid 35 (``SecurityMgmtPsid``) or outside any ``signedData``: a
  1609.2.1 PDU, told apart by its first octet, the version: 2 is a ``ScmsPdu``, 3 is an
  ``Ieee1609Dot2Data`` (the Unsecured layer of ``Ieee1609Dot2Data-EncryptedSigned``);
- outside any ``signedData``, an ``AcpcPdu`` ``tree`` (first octet 0x80, its CHOICE tag): the
  ``UnsecuredAprvBinaryTree`` of the Acpc module, the only unsecured ACPC form;
- under any other psid: application data (a BSM, say), left opaque.
Encrypted ciphertext is opaque.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import DecodeError
from . import decode, opentypes

__all__ = ["Layer", "Path", "iter_layers", "nested_layers"]

Path = tuple[str | int, ...]

SECURITY_MGMT_PSID = 35
CRL_PSID = 256
ACPC_PSID = 2113696

_SCMS_PDU_VERSION = 2
_IEEE1609DOT2_DATA_VERSION = 3
_ACPC_TREE_TAG = 0x80  # AcpcPdu CHOICE tag of ``tree``; ``aprv`` (0x81) is only ever signed

_BY_PSID = {CRL_PSID: "CrlContents", ACPC_PSID: "AcpcPdu"}

_IEEE1609DOT2_DATA_KEYS = frozenset({"protocolVersion", "content"})
_MULTI_SIGNED_CTL_KEYS = frozenset({"type", "tbsCtl", "unsigned", "signatures"})


@dataclass(frozen=True)
class Layer:
    """One OCTET STRING at ``path`` (relative to the value that holds it) decoded as ``type_name``."""

    path: Path
    type_name: str
    encoded: bytes
    value: Any
    layers: tuple[Layer, ...]


def nested_layers(value: Any) -> tuple[Layer, ...]:
    """Strictly decode every nested layer of a decoded value (DecodeError on any bad layer, 400-42).

    ``value`` is a decoded ``Ieee1609Dot2Data`` (or any type that collapses to it, such as
    ``SecuredCrl``), ``ScmsPdu``, ``Certificate``, ``MultiSignedCtl`` or any value that contains
    them; the walk is structural, so the outer type need not be named.
    """
    out: list[Layer] = []
    _walk(value, (), None, out)
    return tuple(out)


def iter_layers(layers: tuple[Layer, ...]) -> Iterator[Layer]:
    """Every layer of a tree, depth first, parents before children."""
    for layer in layers:
        yield layer
        yield from iter_layers(layer.layers)


def _layer(path: Path, type_name: str, encoded: bytes) -> Layer:
    return _decoded_layer(path, type_name, encoded, decode(type_name, encoded))


def _decoded_layer(path: Path, type_name: str, encoded: bytes, inner: Any) -> Layer:
    children: list[Layer] = []
    _walk(inner, (), None, children)
    return Layer(path, type_name, encoded, inner, tuple(children))


def _walk(value: Any, path: Path, psid: int | None, out: list[Layer]) -> None:
    """Collect the layers below ``value``; ``psid`` is set only for the payload of a signedData."""
    if isinstance(value, dict):
        keys = value.keys()
        if keys == _IEEE1609DOT2_DATA_KEYS:
            _ieee1609dot2_data(value, path, psid, out)
            return
        if keys == _MULTI_SIGNED_CTL_KEYS:
            _multi_signed_ctl(value, path, out)
        for key, item in value.items():
            where = (*path, key)
            if key == "contributedExtensions":
                _contributed_extensions(item, where, out)
            elif key == "appExtensions":
                _app_extensions(item, where, out)
            elif key in ("certIssueExtensions", "certRequestExtension"):
                _null_cert_extensions(item, where)
            else:
                _walk(item, where, None, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, (*path, index), None, out)
    elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        # A CHOICE (alternative, value); BIT STRINGs are (bytes, length) and hold nothing.
        _walk(value[1], (*path, value[0]), None, out)


def _ieee1609dot2_data(value: dict[str, Any], path: Path, psid: int | None, out: list[Layer]) -> None:
    alternative, inner = value["content"]
    where = (*path, "content", alternative)
    if alternative == "unsecuredData":
        type_name = _unsecured_type(inner, psid)
        if type_name is not None:
            out.append(_layer(where, type_name, inner))
    elif alternative == "signedCertificateRequest":
        out.append(_layer(where, "SignedCertificateRequest", inner))
    elif alternative == "signedX509CertificateRequest":
        out.append(_layer(where, "SignedX509CertificateRequest", inner))
    elif alternative == "signedData":
        signed_psid = inner["tbsData"]["headerInfo"]["psid"]
        for key, item in inner.items():
            if key == "tbsData":
                _signed_data_tbs(item, (*where, key), signed_psid, out)
            else:
                _walk(item, (*where, key), None, out)
    else:
        _walk(inner, where, None, out)


def _signed_data_tbs(tbs: dict[str, Any], path: Path, psid: int, out: list[Layer]) -> None:
    for key, item in tbs.items():
        if key == "payload" and isinstance(item, dict) and "data" in item:
            # Only the directly signed Ieee1609Dot2Data inherits the psid that says what it holds.
            _walk(item["data"], (*path, key, "data"), psid, out)
        else:
            _walk(item, (*path, key), None, out)


def _unsecured_type(data: bytes, psid: int | None) -> str | None:
    """The type an ``unsecuredData`` holds in its context (module docstring), None if opaque."""
    if psid in _BY_PSID:
        return _BY_PSID[psid]
    if psid is not None and psid != SECURITY_MGMT_PSID:
        return None
    version = data[0] if data else None
    if version == _SCMS_PDU_VERSION:
        return "ScmsPdu"
    if version == _IEEE1609DOT2_DATA_VERSION:
        return "Ieee1609Dot2Data"
    if version == _ACPC_TREE_TAG and psid is None:
        return "AcpcPdu"
    raise DecodeError(f"unsecuredData: first octet {version} is not ScmsPdu (2), Ieee1609Dot2Data (3) or AcpcPdu tree")


def _multi_signed_ctl(value: dict[str, Any], path: Path, out: list[Layer]) -> None:
    tbs_ctl, unsigned = opentypes.decode_multi_signed_ctl(value)  # DecodeError for an unknown type
    tbs_type, unsigned_type = opentypes.MSCTL_TYPES[value["type"]]
    out.append(_decoded_layer((*path, "tbsCtl"), tbs_type, value["tbsCtl"], tbs_ctl))
    out.append(_decoded_layer((*path, "unsigned"), unsigned_type, value["unsigned"], unsigned))


def _contributed_extensions(blocks: list[dict[str, Any]], path: Path, out: list[Layer]) -> None:
    for index, block in enumerate(blocks):
        contributor = block["contributorId"]
        extension_type = opentypes.CONTRIBUTED_EXTENSION_TYPES.get(contributor)
        if extension_type is None:
            raise DecodeError(f"header contributor {contributor} is not one this SCMS knows")
        for position, encoded in enumerate(block["extns"]):
            where = (*path, index, "extns", position)
            extension = decode(extension_type, encoded)
            ext_id, inner = opentypes.decode_header_extension(contributor, extension)
            inner_type = opentypes.HEADER_EXTENSION_TYPES[(contributor, ext_id)]
            child = _decoded_layer(("content",), inner_type, extension["content"], inner)
            out.append(Layer(where, extension_type, encoded, extension, (child,)))


def _app_extensions(extensions: list[dict[str, Any]], path: Path, out: list[Layer]) -> None:
    for index, extension in enumerate(extensions):
        ext_id, inner = opentypes.decode_app_extension(extension)
        where = (*path, index, "content")
        out.append(_decoded_layer(where, opentypes.APP_EXTENSION_TYPES[ext_id], extension["content"], inner))


def _null_cert_extensions(extensions: list[dict[str, Any]], path: Path) -> None:
    """certIssueExtensions / certRequestExtension (E4, E5): the only known id has NULL content."""
    for index, extension in enumerate(extensions):
        where = f"{path[-1]}[{index}]"
        if extension["id"] not in opentypes.NULL_CERT_EXTENSION_IDS:
            raise DecodeError(f"{where}: certificate extension id {extension['id']} is not one this SCMS knows")
        alternative, content = extension["permissions"]
        # The COER of NULL is no octets at all.
        if alternative != "all" and content != b"":
            raise DecodeError(f"{where}: NULL extension content must be empty")
