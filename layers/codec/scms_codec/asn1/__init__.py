"""Canonical OER (COER) encoding and strict decoding of every 1609.2 / 1609.2.1 type.

Values are asn1tools values: dicts for SEQUENCE, ``(alternative, value)`` tuples for
CHOICE, ``bytes`` for OCTET STRING, ``(bytes, bit_length)`` for BIT STRING.

``decode`` is strict (style.md 7): it checks constraints, then re-encodes the value and
requires the very bytes it was given. That rejects everything asn1tools alone accepts
(shared asn1/README.md, pitfall 2): trailing bytes, long-form or non-minimal lengths,
non-minimal integers and quantities, encoded DEFAULT values, unknown CHOICE alternatives
and extension additions (which cannot be re-encoded identically), and values outside
their constraints (such as an unknown ``version``).
"""

from __future__ import annotations

from typing import Any

from ..errors import DecodeError, EncodeError
from . import opentypes
from ._spec import specification

__all__ = ["decode", "decode_prefix", "encode", "opentypes", "type_names"]


def type_names() -> frozenset[str]:
    """Every type name the vendored modules define."""
    spec = specification()
    return frozenset(name for module in spec.modules.values() for name in module)


def encode(type_name: str, value: Any) -> bytes:
    """COER of ``value`` as ``type_name``, with every constraint checked."""
    spec = specification()
    if type_name not in spec.types:
        raise ValueError(f"type_name: unknown ASN.1 type {type_name!r}")
    try:
        return bytes(spec.encode(type_name, value, check_constraints=True))
    except Exception as exc:  # asn1tools raises many types for one cause: a bad value.
        raise EncodeError(f"cannot encode {type_name}: {exc}") from exc


def decode(type_name: str, data: bytes) -> Any:
    """Strictly decode ``data`` as the canonical OER of ``type_name``; else ``DecodeError``."""
    value, used = _decode_canonical(type_name, data)
    if used != len(data):
        raise DecodeError(
            f"{type_name}: {len(data) - used} octet(s) after the value, or a non-canonical encoding"
        )
    return value


def decode_prefix(type_name: str, data: bytes) -> tuple[Any, int]:
    """Strictly decode the value that starts ``data``; return it and the octets it used.

    OER has no ``decode_with_length`` in asn1tools, so the length is learnt by re-encoding;
    the re-encoding must be a prefix of ``data`` or the input was not canonical.
    """
    return _decode_canonical(type_name, data)


def _decode_canonical(type_name: str, data: bytes) -> tuple[Any, int]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    spec = specification()
    if type_name not in spec.types:
        raise ValueError(f"type_name: unknown ASN.1 type {type_name!r}")
    try:
        value = spec.decode(type_name, data, check_constraints=True)
    except Exception as exc:  # Malformed input makes asn1tools raise almost anything.
        raise DecodeError(f"{type_name}: not decodable: {exc}") from exc
    try:
        again = bytes(spec.encode(type_name, value, check_constraints=True))
    except Exception as exc:  # An unknown alternative or extension decodes but cannot re-encode.
        raise DecodeError(f"{type_name}: unknown or unsupported content: {exc}") from exc
    if not data.startswith(again):
        raise DecodeError(f"{type_name}: not the canonical (COER) encoding of its value")
    return value, len(again)
