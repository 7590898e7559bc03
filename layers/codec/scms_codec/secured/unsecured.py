"""``Ieee1609Dot2Data-Unsecured{T}``: a payload carried as ``unsecuredData`` (1609.2 §6.3.3, protocol.md §1.3)."""

from __future__ import annotations

from . import template
from ._content import content_as, decode_data, require_bytes

__all__ = ["unwrap_unsecured", "wrap_unsecured"]


def wrap_unsecured(payload: bytes) -> bytes:
    """COER ``Ieee1609Dot2Data{3, unsecuredData payload}``, 1609.2 §6.3.3 (protocol.md §1.3)."""
    return template.unsecured_data(require_bytes("payload", payload))


def unwrap_unsecured(data: bytes) -> bytes:
    """The payload of an unsecured ``Ieee1609Dot2Data``; SpduShapeError for any other content (protocol.md §1.3)."""
    payload: bytes = content_as(decode_data(require_bytes("data", data)), "unsecuredData", "unsecured SPDU")
    return payload
