"""AES-128-CCM with 1609.2 parameters: 12-octet nonce, 16-octet tag, no AAD (1609.2 §5.3.8, protocol.md §4.4)."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from ..errors import DecryptionError

__all__ = ["KEY_SIZE", "NONCE_SIZE", "TAG_SIZE", "CcmCipher", "decrypt", "encrypt"]

KEY_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16


class CcmCipher:
    """AES-128-CCM under one key, for keys used many times (a pre-shared LA-ACA key), 1609.2 §5.3.8.

    Holding one object saves building the AESCCM context per message (performance.md §2:
    0.7 µs reused against 1.0 µs new). There is deliberately no module-level cache: it would
    keep per-message secret keys alive.
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, (bytes, bytearray)):
            raise TypeError(f"key: expected bytes, got {type(key).__name__}")
        if len(key) != KEY_SIZE:
            raise ValueError(f"key: AES-128 needs {KEY_SIZE} octets, got {len(key)}")
        self._aead = AESCCM(bytes(key), tag_length=TAG_SIZE)

    def __repr__(self) -> str:
        return "CcmCipher(<key hidden>)"

    def encrypt(self, nonce: bytes, plaintext: bytes) -> bytes:
        """``ccmCiphertext`` = ciphertext ‖ 16-octet tag, 1609.2 §5.3.8."""
        _check_nonce(nonce)
        if not isinstance(plaintext, (bytes, bytearray)):
            raise TypeError(f"plaintext: expected bytes, got {type(plaintext).__name__}")
        return self._aead.encrypt(bytes(nonce), bytes(plaintext), None)

    def decrypt(self, nonce: bytes, data: bytes) -> bytes:
        """The plaintext of ``ccmCiphertext``, 1609.2 §5.3.8; ``DecryptionError`` if the tag fails."""
        _check_nonce(nonce)
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"data: expected bytes, got {type(data).__name__}")
        if len(data) < TAG_SIZE:
            raise DecryptionError(f"data: {len(data)} octets is shorter than the {TAG_SIZE}-octet tag")
        try:
            return self._aead.decrypt(bytes(nonce), bytes(data), None)
        except InvalidTag:
            raise DecryptionError("AES-CCM tag does not verify") from None


def encrypt(key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    """``ccmCiphertext`` = AES-128-CCM ciphertext ‖ 16-octet tag under a one-time key, 1609.2 §5.3.8."""
    if type(key) is bytes and len(key) == KEY_SIZE and type(nonce) is bytes and len(nonce) == NONCE_SIZE:
        if type(plaintext) is bytes:
            # The usual arguments: CcmCipher's checks hold, so skip its object (once per ACA response).
            return AESCCM(key, tag_length=TAG_SIZE).encrypt(nonce, plaintext, None)
    return CcmCipher(key).encrypt(nonce, plaintext)


def decrypt(key: bytes, nonce: bytes, data: bytes) -> bytes:
    """The plaintext of ``ccmCiphertext`` (ciphertext ‖ tag), 1609.2 §5.3.8; ``DecryptionError`` if the tag fails."""
    return CcmCipher(key).decrypt(nonce, data)


def _check_nonce(nonce: bytes) -> None:
    if not isinstance(nonce, (bytes, bytearray)):
        raise TypeError(f"nonce: expected bytes, got {type(nonce).__name__}")
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"nonce: 1609.2 CCM uses {NONCE_SIZE} octets, got {len(nonce)}")
