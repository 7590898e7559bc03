"""ECQV implicit certificates on P-256: the hash e, CA issuance and key reconstruction (1609.2 §5.3.2, SEC 4).

Roles (protocol.md §4.3): the requester sends R = k_U·G; the CA draws k, publishes P_U = R + k·G
as the certificate's ``reconstructionValue`` and returns r = e·k + d_CA mod n; the holder computes
d_U = e·k_U + r mod n and must check d_U·G = Q_U, where anyone computes Q_U = e·P_U + Q_CA.

1609.2 allows ``reconstructionValue`` only as an ``EccP256CurvePoint``, so implicit certificates are
always P-256 with SHA-256 and this module has no hash or curve parameter.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from scms_codec.crypto import points
from scms_codec.crypto.points import P256_N, Point
from scms_codec.errors import InvalidKey

__all__ = [
    "EHash",
    "ca_randomize",
    "certificate_hash_e",
    "check_key_pair",
    "e_from_digests",
    "private_reconstruction",
    "reconstruct_private",
    "reconstruct_public",
    "sec4_e",
]

EHash = Literal["ieee1609dot2", "sec4"]
"""How e is derived: 1609.2's full-hash form (the default everywhere) or SEC 4's, kept for the CAMP KATs."""


def _bytes(value: bytes, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be bytes")
    return bytes(value)


def _int(value: int, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int")
    return value


def _nonzero_e(e: int) -> int:
    if e == 0:
        # e = 0 would make Q_U = Q_CA. It needs a hash that is a multiple of n: reject, never crash later.
        raise InvalidKey("ECQV hash e is 0 mod n")
    return e


def certificate_hash_e(tbs_coer: bytes, issuer_cert_coer: bytes) -> int:
    """e = int(SHA-256(SHA-256(tbs) ‖ SHA-256(issuer cert))) mod n, all 256 bits, 1609.2 §5.3.2 (protocol.md §4.3).

    ``tbs_coer`` is the canonical COER of the new certificate's ``toBeSigned``; ``issuer_cert_coer`` the
    canonical COER of the whole issuing certificate. An implicit certificate always has an issuer
    (ECQV needs Q_CA), so there is no self-signed form. The full-hash reduction (not SEC 4's
    leftmost 255 bits) is what the GHS certificates in ``ecqv_implicit_cert_p256.json`` pin; it stays
    marked (?) in protocol.md Uncertain 5 until an IEEE annex vector confirms it.
    """
    tbs_hash = hashlib.sha256(_bytes(tbs_coer, "tbs_coer")).digest()
    issuer_hash = hashlib.sha256(_bytes(issuer_cert_coer, "issuer_cert_coer")).digest()
    return e_from_digests(tbs_hash, issuer_hash)


def e_from_digests(tbs_hash: bytes, issuer_cert_hash: bytes) -> int:
    """e = int(SHA-256(H(tbs) ‖ H(issuer cert))) mod n from the two 32-octet hashes, 1609.2 §5.3.2 (protocol.md §4.3).

    Lets a CA hash its own certificate once per process instead of once per issued certificate.
    """
    if not (type(tbs_hash) is bytes and type(issuer_cert_hash) is bytes):  # else check and copy, with messages
        for name, value in (("tbs_hash", tbs_hash), ("issuer_cert_hash", issuer_cert_hash)):
            if len(_bytes(value, name)) != 32:
                raise ValueError(f"{name} must be 32 octets (SHA-256)")
        tbs_hash, issuer_cert_hash = bytes(tbs_hash), bytes(issuer_cert_hash)
    elif len(tbs_hash) != 32 or len(issuer_cert_hash) != 32:
        raise ValueError(f"{'tbs_hash' if len(tbs_hash) != 32 else 'issuer_cert_hash'} must be 32 octets (SHA-256)")
    digest = hashlib.sha256(tbs_hash + issuer_cert_hash).digest()
    return _nonzero_e(int.from_bytes(digest, "big") % P256_N)


def sec4_e(cert_u: bytes) -> int:
    """e = leftmost 255 bits of SHA-256(CertU) = int(H) >> 1, SEC 4 §2.3 (the CAMP KAT form, not 1609.2)."""
    digest = hashlib.sha256(_bytes(cert_u, "cert_u")).digest()
    return _nonzero_e(int.from_bytes(digest, "big") >> 1)


def ca_randomize(request_point: Point) -> tuple[int, Point]:
    """CA side: a random k and P_U = R + k·G (the ``reconstructionValue``), 1609.2 §5.3.2 (protocol.md §4.3).

    k is secret: keep it only until ``private_reconstruction``. ``InvalidKey`` if R is not on P-256.
    """
    return points.add_random(request_point)


def private_reconstruction(e: int, k: int, ca_private: int) -> int:
    """CA side: r = (e·k + d_CA) mod n, the ``privateKeyInfo`` of the response, 1609.2 §5.3.2 (protocol.md §4.3)."""
    # Secret-scalar arithmetic (k and d_CA); a production CA keeps this step in its HSM.
    r = _mul_add(e, k, ca_private, ("e", "k", "ca_private"))
    if r == 0:
        # r = 0 is astronomically unlikely; the CA must draw a new k rather than issue it.
        raise ValueError("r is 0 mod n: draw a new k")
    return r


def reconstruct_private(e: int, k_u: int, r: int) -> int:
    """Holder side: d_U = (e·k_U + r) mod n, 1609.2 §5.3.2 (protocol.md §4.3); check it with ``check_key_pair``."""
    d = _mul_add(e, k_u, r, ("e", "k_u", "r"))  # secret-scalar arithmetic on k_U and r
    if d == 0:
        raise InvalidKey("reconstructed private key is 0 mod n")
    return d


def _mul_add(e: int, x: int, y: int, names: tuple[str, str, str]) -> int:
    """(e·x + y) mod n, the one ECQV multiply-add of the CA and of the holder (1609.2 §5.3.2)."""
    if not (type(e) is int and type(x) is int and type(y) is int):  # the usual case without building messages
        for value, name in zip((e, x, y), names, strict=True):
            _int(value, name)
    # Secret-scalar arithmetic in Python: cryptography offers no scalar ring operations, and this
    # multiply-add is unavoidable (performance.md §8). Big-int arithmetic is not constant time.
    return (e * x + y) % P256_N


def reconstruct_public(e: int, p_u: Point, ca_public: Point) -> Point:
    """Anyone: Q_U = e·P_U + Q_CA, 1609.2 §5.3.2 (protocol.md §4.3); ``InvalidKey`` for a bad point or Q_U = ∞."""
    _int(e, "e")
    if not points.is_on_curve(p_u):
        raise InvalidKey("reconstruction value P_U is not on P-256")
    if not points.is_on_curve(ca_public):
        raise InvalidKey("issuer public key Q_CA is not on P-256")
    try:
        return points.add(points.mul(_nonzero_e(e % P256_N), p_u), ca_public)
    except ValueError as exc:
        raise InvalidKey("reconstructed public key is the point at infinity") from exc


def check_key_pair(d: int, q: Point) -> None:
    """Raise ``InvalidKey`` unless d·G = Q, the holder's mandatory check (1609.2 §5.3.2, protocol.md §4.3, §4.5)."""
    _int(d, "d")
    if not 0 < d < P256_N:
        raise InvalidKey("private key is outside [1, n-1]")
    if points.base_mul(d) != q:
        raise InvalidKey("private key does not match the public key")
