"""Strict decoding of the outer ``Ieee1609Dot2Data`` and its content choice (protocol.md §1.3)."""

from __future__ import annotations

from typing import Any

from .. import asn1
from ..errors import SpduShapeError

PROTOCOL_VERSION = 3


def decode_data(data: bytes) -> dict[str, Any]:
    """Strictly decode ``data`` as ``Ieee1609Dot2Data`` (DecodeError 400-42)."""
    value: dict[str, Any] = asn1.decode("Ieee1609Dot2Data", data)
    return value


def content_as(value: dict[str, Any], kind: str, what: str) -> Any:
    """The content of a decoded ``Ieee1609Dot2Data`` if it is the ``kind`` alternative, else SpduShapeError."""
    found, content = value["content"]
    if found != kind:
        raise SpduShapeError(f"{what}: expected content {kind}, got {found}")
    return content


def data_value(kind: str, content: Any) -> dict[str, Any]:
    """An ``Ieee1609Dot2Data`` value with the given content alternative."""
    return {"protocolVersion": PROTOCOL_VERSION, "content": (kind, content)}


def require_bytes(name: str, value: object) -> bytes:
    """``value`` as bytes, or TypeError naming the argument."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name}: expected bytes, got {type(value).__name__}")
    return bytes(value)
