"""ECIES key transport of a 16-octet AES key on P-256 (1609.2 §5.3.5, protocol.md §4.4).

V = vG; z = x(v·Q); K1 ‖ K2 = KDF2-SHA256(z, P1, 48); c = AES key ⊕ K1; t = MAC1(K2, c),
with P2 empty. P1 is SHA-256 of the recipient certificate, of the SPDU that carried the key,
or of the empty string (``hashing.EMPTY_SHA256``), depending on the RecipientInfo choice.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import DecryptionError, InvalidKey, UnsupportedAlgorithm
from .kdf2 import kdf2_sha256
from .keys import CURVES, curve_of, point_from_asn1, point_to_asn1

__all__ = ["KEY_SIZE", "TAG_SIZE", "EciesCiphertext", "from_asn1", "mac1", "shared_secret", "to_asn1", "unwrap", "wrap"]

KEY_SIZE = 16  # the wrapped AES-128 key, and c
TAG_SIZE = 16  # t: HMAC-SHA256 truncated
_MAC_KEY_SIZE = 32  # K2
_P256 = CURVES["nistP256"]
_ECDH = ec.ECDH()


@dataclass(frozen=True)
class EciesCiphertext:
    """An ``EciesP256EncryptedKey``: ephemeral public key V, wrapped key c, tag t (1609.2 §5.3.5)."""

    v: ec.EllipticCurvePublicKey
    c: bytes
    t: bytes

    def __post_init__(self) -> None:
        if (
            type(self.c) is bytes
            and type(self.t) is bytes
            and len(self.c) == KEY_SIZE
            and len(self.t) == TAG_SIZE
            and isinstance(self.v, ec.EllipticCurvePublicKey)
            and type(self.v.curve) is ec.SECP256R1
        ):
            return  # the usual case, checked without building names or messages (wrap runs once per response)
        if not isinstance(self.v, ec.EllipticCurvePublicKey) or curve_of(self.v) is not _P256:
            raise TypeError("v: expected a nistP256 EllipticCurvePublicKey")
        for name, value in (("c", self.c), ("t", self.t)):
            if not isinstance(value, bytes):
                raise TypeError(f"{name}: expected bytes, got {type(value).__name__}")
            if len(value) != KEY_SIZE:
                raise ValueError(f"{name}: must be {KEY_SIZE} octets, got {len(value)}")


def mac1(key: bytes, message: bytes) -> bytes:
    """MAC1 of IEEE 1363a: HMAC-SHA256 truncated to 16 octets, the ECIES tag of 1609.2 §5.3.5."""
    return hmac.digest(key, message, "sha256")[:TAG_SIZE]


def shared_secret(private_key: ec.EllipticCurvePrivateKey, public_key: ec.EllipticCurvePublicKey) -> bytes:
    """z = x(d·Q), the ECDH primitive ECSVDP-DH of IEEE 1363 that 1609.2 §5.3.5 uses."""
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"private_key: expected EllipticCurvePrivateKey, got {type(private_key).__name__}")
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise TypeError(f"public_key: expected EllipticCurvePublicKey, got {type(public_key).__name__}")
    return private_key.exchange(_ECDH, public_key)


def wrap(
    recipient: ec.EllipticCurvePublicKey,
    aes_key: bytes,
    p1: bytes,
    *,
    ephemeral: ec.EllipticCurvePrivateKey | None = None,
) -> EciesCiphertext:
    """Encrypt ``aes_key`` to ``recipient`` with key-derivation parameter ``p1``, 1609.2 §5.3.5.

    ``ephemeral`` is for known-answer tests only; by default a fresh v is drawn per call.
    """
    if not isinstance(recipient, ec.EllipticCurvePublicKey):
        raise TypeError(f"recipient: expected EllipticCurvePublicKey, got {type(recipient).__name__}")
    if type(recipient.curve) is not ec.SECP256R1 and curve_of(recipient) is not _P256:
        raise UnsupportedAlgorithm(f"recipient: ECIES is supported on nistP256 only, not {recipient.curve.name}")
    if not isinstance(aes_key, (bytes, bytearray)) or len(aes_key) != KEY_SIZE:
        raise ValueError(f"aes_key: must be {KEY_SIZE} octets of bytes")
    _check_p1(p1)
    if ephemeral is None:
        ephemeral = ec.generate_private_key(_P256.ec_curve)
    elif not isinstance(ephemeral, ec.EllipticCurvePrivateKey) or curve_of(ephemeral) is not _P256:
        raise TypeError("ephemeral: expected a nistP256 EllipticCurvePrivateKey")
    # Both keys are checked above: the ECDH primitive directly (shared_secret would check them again).
    k1, k2 = _derive(ephemeral.exchange(_ECDH, recipient), p1)
    c = _xor(bytes(aes_key), k1)
    return EciesCiphertext(ephemeral.public_key(), c, mac1(k2, c))


def unwrap(recipient_private: ec.EllipticCurvePrivateKey, ct: EciesCiphertext, p1: bytes) -> bytes:
    """The AES key inside ``ct``, 1609.2 §5.3.5; ``DecryptionError`` if the tag does not match.

    The tag is compared in constant time before anything is unwrapped (protocol.md §4.4 step 5).
    """
    if not isinstance(recipient_private, ec.EllipticCurvePrivateKey):
        raise TypeError(f"recipient_private: expected EllipticCurvePrivateKey, got {type(recipient_private).__name__}")
    if not isinstance(ct, EciesCiphertext):
        raise TypeError(f"ct: expected EciesCiphertext, got {type(ct).__name__}")
    _check_p1(p1)
    if curve_of(recipient_private) is not _P256:
        raise DecryptionError("recipient_private: not a nistP256 key, cannot open eciesNistP256")
    k1, k2 = _derive(shared_secret(recipient_private, ct.v), p1)
    if not hmac.compare_digest(mac1(k2, ct.c), ct.t):
        raise DecryptionError("ECIES tag does not verify (wrong recipient key or P1, or altered c/t/V)")
    return _xor(ct.c, k1)


def to_asn1(ct: EciesCiphertext) -> tuple[str, dict[str, Any]]:
    """The ``EncryptedDataEncryptionKey`` value ("eciesNistP256", {v, c, t}), V compressed (protocol.md §4.4)."""
    if not isinstance(ct, EciesCiphertext):
        raise TypeError(f"ct: expected EciesCiphertext, got {type(ct).__name__}")
    return "eciesNistP256", {"v": point_to_asn1(ct.v), "c": ct.c, "t": ct.t}


def from_asn1(value: tuple[str, Any]) -> EciesCiphertext:
    """The ``EciesCiphertext`` of an ``EncryptedDataEncryptionKey`` value; ``DecryptionError`` for a bad V.

    Only ``eciesNistP256`` is supported (``UnsupportedAlgorithm`` otherwise).
    """
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict)):
        raise TypeError("value: expected an asn1tools CHOICE tuple (alternative, dict)")
    alternative, body = value
    if alternative != "eciesNistP256":
        raise UnsupportedAlgorithm(f"value: key encryption {alternative!r} is not supported (eciesNistP256)")
    try:
        v = point_from_asn1(body["v"], "nistP256")
    except KeyError as exc:
        raise DecryptionError("value: V is missing") from exc
    except InvalidKey as exc:
        # An unusable ephemeral key makes the ciphertext undecryptable: 400-41, not a key-indicator error.
        raise DecryptionError(f"value: ephemeral key V is invalid: {exc}") from exc
    try:
        return EciesCiphertext(v, bytes(body["c"]), bytes(body["t"]))
    except (KeyError, ValueError) as exc:
        raise DecryptionError(f"value: malformed c or t: {exc}") from exc


def _derive(z: bytes, p1: bytes) -> tuple[bytes, bytes]:
    k = kdf2_sha256(z, p1, KEY_SIZE + _MAC_KEY_SIZE)
    return k[:KEY_SIZE], k[KEY_SIZE:]


def _xor(a: bytes, b: bytes) -> bytes:
    # XOR of two 16-octet strings through one fixed-width int: no branch or lookup depends on the key bits.
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _check_p1(p1: bytes) -> None:
    if not isinstance(p1, (bytes, bytearray)):
        raise TypeError(f"p1: expected bytes, got {type(p1).__name__}")
