"""Outer-shape checks for the parameterized SPDU types that asn1tools collapses (protocol.md §1.3)."""

from __future__ import annotations

from typing import Any, Literal

from ..asn1 import decode
from ..errors import NotEncrypted, SpduShapeError

__all__ = ["ContentKind", "outer_content", "require_content"]

ContentKind = Literal[
    "unsecuredData",
    "signedData",
    "encryptedData",
    "signedCertificateRequest",
    "signedX509CertificateRequest",
]


def outer_content(data: bytes) -> tuple[str, Any]:
    """The ``(alternative, value)`` of a strictly decoded ``Ieee1609Dot2Data`` (protocol.md §1.3)."""
    value = decode("Ieee1609Dot2Data", data)
    kind, content = value["content"]
    return str(kind), content


def require_content(data: bytes, kind: ContentKind, spdu_name: str) -> Any:
    """The content of ``data`` if it is the ``kind`` alternative, else a typed shape error.

    An SPDU that must be ``encryptedData`` but is not raises ``NotEncrypted`` (400-10); any
    other mismatch raises ``SpduShapeError`` (400-42), protocol.md §1.3 and §2.4.
    """
    found, content = outer_content(data)
    if found != kind:
        error = NotEncrypted if kind == "encryptedData" else SpduShapeError
        raise error(f"{spdu_name}: expected {kind}, got {found}")
    return content
