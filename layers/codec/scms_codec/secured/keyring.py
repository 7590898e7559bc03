"""The decryption keys an entity holds, indexed by recipientId (1609.2 §6.3.32, protocol.md §4.4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec

from ..cert.certificate import Certificate
from ..crypto.hashing import EMPTY_SHA256
from ._content import require_bytes
from .recipients import (
    certificate_recipient_id,
    check_aes_key,
    rek_recipient_id,
    signed_data_recipient_id,
    symmetric_recipient_id,
)

__all__ = ["Keyring", "PrivateKeyEntry", "PublicKeyKind"]

PublicKeyKind = Literal["certRecipInfo", "signedDataRecipInfo", "rekRecipInfo"]


@dataclass(frozen=True)
class PrivateKeyEntry:
    """An ECIES private key and the P1 its senders use."""

    key: ec.EllipticCurvePrivateKey = field(repr=False)
    p1: bytes


class Keyring:
    """recipientId (HashedId8) → private key + P1, or → pre-shared symmetric key.

    Entries are kept per RecipientInfo kind, since P1 depends on the kind (protocol.md §4.4).
    ``repr`` shows counts only: keys never reach a log.
    """

    def __init__(self) -> None:
        self._private: dict[tuple[str, bytes], PrivateKeyEntry] = {}
        self._symmetric: dict[bytes, bytes] = {}

    def add_certificate(self, certificate: Certificate, key: ec.EllipticCurvePrivateKey) -> bytes:
        """Accept certRecipInfo to ``certificate`` (its encryptionKey's private ``key``); returns recipientId."""
        if not isinstance(certificate, Certificate):
            raise TypeError(f"certificate: expected Certificate, got {type(certificate).__name__}")
        recipient_id, p1 = certificate_recipient_id(certificate)
        return self.add_private_key("certRecipInfo", recipient_id, key, p1=p1)

    def add_signed_data(self, spdu: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
        """Accept signedDataRecipInfo for the key that signed ``spdu`` carried; returns recipientId."""
        recipient_id, p1 = signed_data_recipient_id(spdu)
        return self.add_private_key("signedDataRecipInfo", recipient_id, key, p1=p1)

    def add_response_key(self, key: ec.EllipticCurvePrivateKey) -> bytes:
        """Accept rekRecipInfo for a response encryption key (P1 = SHA-256("")); returns recipientId."""
        _private("key", key)
        return self.add_private_key("rekRecipInfo", rek_recipient_id(key.public_key()), key, p1=EMPTY_SHA256)

    def add_private_key(
        self, kind: PublicKeyKind, recipient_id: bytes, key: ec.EllipticCurvePrivateKey, *, p1: bytes
    ) -> bytes:
        """Accept ``kind`` for ``recipient_id`` with an explicit P1 (e.g. only the certificate's hash is known)."""
        if kind not in ("certRecipInfo", "signedDataRecipInfo", "rekRecipInfo"):
            raise ValueError(f"kind: {kind!r} is not a public-key RecipientInfo kind")
        recipient_id = _recipient_id(recipient_id)
        self._private[(kind, recipient_id)] = PrivateKeyEntry(_private("key", key), require_bytes("p1", p1))
        return recipient_id

    def add_symmetric(self, key: bytes) -> bytes:
        """Accept pskRecipInfo and symmRecipInfo under the pre-shared AES-128 ``key``; returns recipientId."""
        key = check_aes_key("key", key)
        recipient_id = symmetric_recipient_id(key)
        self._symmetric[recipient_id] = key
        return recipient_id

    def private_entry(self, kind: str, recipient_id: bytes) -> PrivateKeyEntry | None:
        """The private key and P1 for a public-key RecipientInfo, or None."""
        return self._private.get((kind, recipient_id))

    def symmetric_key(self, recipient_id: bytes) -> bytes | None:
        """The pre-shared key for a psk/symm RecipientInfo, or None."""
        return self._symmetric.get(recipient_id)

    def __len__(self) -> int:
        return len(self._private) + len(self._symmetric)

    def __repr__(self) -> str:
        return f"Keyring({len(self._private)} private, {len(self._symmetric)} symmetric)"


def _private(name: str, key: object) -> ec.EllipticCurvePrivateKey:
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{name}: expected EllipticCurvePrivateKey, got {type(key).__name__}")
    return key


def _recipient_id(value: object) -> bytes:
    value = require_bytes("recipient_id", value)
    if len(value) != 8:
        raise ValueError(f"recipient_id: a HashedId8 is 8 octets, got {len(value)}")
    return value
