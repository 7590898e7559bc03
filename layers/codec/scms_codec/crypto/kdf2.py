"""KDF2 of IEEE 1363a with SHA-256, the ECIES key derivation of 1609.2 §5.3.5 (protocol.md §4.4)."""

from __future__ import annotations

import hashlib

__all__ = ["kdf2_sha256"]

_SHA256_SIZE = 32
_sha256 = hashlib.sha256


def kdf2_sha256(z: bytes, p1: bytes, length: int) -> bytes:
    """SHA256(Z ‖ 00000001 ‖ P1) ‖ SHA256(Z ‖ 00000002 ‖ P1) ‖ … cut to ``length``, 1609.2 §5.3.5 (protocol.md §4.4)."""
    if type(z) is bytes and type(p1) is bytes and type(length) is int and 0 <= length <= 2 * _SHA256_SIZE:
        # The ECIES case (48 octets), checked without building messages: at most two blocks.
        first = _sha256(z + b"\x00\x00\x00\x01" + p1).digest()
        if length <= _SHA256_SIZE:
            return first[:length]
        return (first + _sha256(z + b"\x00\x00\x00\x02" + p1).digest())[:length]
    if not isinstance(z, (bytes, bytearray)):
        raise TypeError(f"z: expected bytes, got {type(z).__name__}")
    if not isinstance(p1, (bytes, bytearray)):
        raise TypeError(f"p1: expected bytes, got {type(p1).__name__}")
    if not isinstance(length, int) or isinstance(length, bool):
        raise TypeError(f"length: expected int, got {type(length).__name__}")
    if length < 0:
        raise ValueError("length: must not be negative")
    z, p1 = bytes(z), bytes(p1)
    blocks = -(-length // _SHA256_SIZE)
    # The counter is a 32-bit big-endian integer starting at 1 (KDF2, unlike KDF1, never uses 0).
    out = b"".join(hashlib.sha256(z + i.to_bytes(4, "big") + p1).digest() for i in range(1, blocks + 1))
    return out[:length]
