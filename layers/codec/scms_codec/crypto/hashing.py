"""Hashes, HashedIdN identifiers and the 1609.2 signing input (1609.2 §5.3.1, protocol.md §4.1-§4.2)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from ..errors import UnsupportedAlgorithm

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = [
    "EMPTY_SHA256",
    "HashAlgorithm",
    "digest",
    "hash_algorithm_for_curve",
    "hashed_id3",
    "hashed_id8",
    "hashed_id10",
    "signing_digest",
]

HashAlgorithm = Literal["sha256", "sha384"]

# hashlib constructors are looked up once: they are the fastest SHA-2 in CPython (performance.md §2).
_HASHES: dict[str, Callable[[bytes], _Hash]] = {"sha256": hashlib.sha256, "sha384": hashlib.sha384}

# Curve name (as the ASN.1 alternatives spell it) → the hash 1609.2 §5.3.1 pairs with it.
_CURVE_HASH: dict[str, HashAlgorithm] = {
    "nistP256": "sha256",
    "brainpoolP256r1": "sha256",
    "nistP384": "sha384",
    "brainpoolP384r1": "sha384",
}

EMPTY_SHA256 = hashlib.sha256(b"").digest()
"""SHA-256 of the empty string: P1 for a key not taken from a certificate (protocol.md §4.4)."""


def _constructor(alg: str) -> Callable[[bytes], _Hash]:
    try:
        return _HASHES[alg]
    except (KeyError, TypeError):
        raise UnsupportedAlgorithm(f"alg: hash algorithm {alg!r} is not supported (sha256, sha384)") from None


def digest(data: bytes, alg: HashAlgorithm = "sha256") -> bytes:
    """The whole hash of ``data`` (HashedId32/48), 1609.2 §5.3.3 (protocol.md §4.1)."""
    return _constructor(alg)(data).digest()


def hashed_id8(data: bytes, alg: HashAlgorithm = "sha256") -> bytes:
    """HashedId8: the low-order 8 octets of the hash of ``data`` (canonical COER), protocol.md §4.1."""
    return digest(data, alg)[-8:]


def hashed_id3(data: bytes, alg: HashAlgorithm = "sha256") -> bytes:
    """HashedId3: the low-order 3 octets of the hash of ``data`` (canonical COER), protocol.md §4.1."""
    return digest(data, alg)[-3:]


def hashed_id10(data: bytes, alg: HashAlgorithm = "sha256") -> bytes:
    """HashedId10: the low-order 10 octets of the hash of ``data`` (canonical COER), protocol.md §4.1."""
    return digest(data, alg)[-10:]


def signing_digest(data_input: bytes, signer_input: bytes, alg: HashAlgorithm = "sha256") -> bytes:
    """H(H(data input) ‖ H(signer identifier input)), 1609.2 §5.3.1 (protocol.md §4.2).

    ``signer_input`` is the COER of the signer's (or issuer's) certificate, or ``b""`` for
    ``self`` signers and self-signed certificates.
    """
    h = _constructor(alg)
    return h(h(data_input).digest() + h(signer_input).digest()).digest()


def hash_algorithm_for_curve(curve: str) -> HashAlgorithm:
    """The hash paired with a signing curve, 1609.2 §5.3.1 (protocol.md §4.2)."""
    try:
        return _CURVE_HASH[curve]
    except (KeyError, TypeError):
        raise UnsupportedAlgorithm(f"curve: {curve!r} is not a supported ECDSA curve") from None
