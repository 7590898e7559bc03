"""ScmsPdu content paths and the request hash, 1609.2.1 §6.3 / §7 (protocol.md §1.2, §4.1)."""

from __future__ import annotations

from typing import Any

from ..asn1 import decode, encode
from ..crypto.hashing import hashed_id8
from ..errors import SpduShapeError

__all__ = ["SCMS_PDU_VERSION", "ContentPath", "content_path", "decode_scms_pdu", "encode_scms_pdu", "request_hash"]

SCMS_PDU_VERSION = 2
"""``ScmsPdu.version`` is always 2 (protocol.md §1.2)."""

ContentPath = tuple[str, str]
"""(interface, PDU) alternatives of ``ScmsPdu.content``, e.g. ``("ee-ra", "eeRaCertRequest")``."""


def encode_scms_pdu(path: ContentPath, content: Any) -> bytes:
    """COER of ``ScmsPdu {version 2, content path: content}`` (protocol.md §1.2)."""
    interface, pdu = path
    return encode("ScmsPdu", {"version": SCMS_PDU_VERSION, "content": (interface, (pdu, content))})


def content_path(scms_pdu: dict[str, Any]) -> ContentPath:
    """The (interface, PDU) alternatives a decoded ``ScmsPdu`` value carries."""
    interface, inner = scms_pdu["content"]
    if not isinstance(inner, tuple):
        # The NULL interfaces (aca-la, ee-ma, ...) carry no second-level CHOICE.
        return str(interface), ""
    return str(interface), str(inner[0])


def decode_scms_pdu(data: bytes, path: ContentPath) -> Any:
    """The content of the strictly decoded ``ScmsPdu`` in ``data``, which must sit at ``path``.

    Strict decoding already rejects a version other than 2 (``Uint8 (2)``); a different
    content path raises ``SpduShapeError`` (400-42), protocol.md §1.2.
    """
    value = decode("ScmsPdu", data)
    require_path(value, path)
    return value["content"][1][1]


def require_path(scms_pdu: dict[str, Any], path: ContentPath) -> None:
    """SpduShapeError (400-42) unless the decoded ``ScmsPdu`` carries its content at ``path`` (protocol.md §1.2)."""
    found = content_path(scms_pdu)
    if found != path:
        raise SpduShapeError(f"ScmsPdu: expected content {'.'.join(path)}, got {'.'.join(found)}")


def request_hash(spdu: bytes) -> bytes:
    """HashedId8 (SHA-256) of an SPDU exactly as received, never re-canonicalized (protocol.md §4.1)."""
    if not isinstance(spdu, (bytes, bytearray, memoryview)):
        raise TypeError(f"spdu: expected bytes, got {type(spdu).__name__}")
    return hashed_id8(bytes(spdu))
