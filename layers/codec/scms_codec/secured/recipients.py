"""Who an EncryptedData is for: recipient kinds, their recipientId and ECIES P1 (1609.2 §6.3.32, protocol.md §4.4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from .. import asn1
from ..cert.certificate import Certificate
from ..crypto.hashing import digest, hashed_id8
from ..crypto.keys import encryption_key_from_asn1, encryption_key_to_asn1
from ..errors import SpduShapeError
from . import template
from ._content import content_as, decode_data, require_bytes
from .canonical import canonical_data

__all__ = [
    "AES_KEY_SIZE",
    "CertRecipient",
    "PskRecipient",
    "Recipient",
    "RekRecipient",
    "SignedDataRecipient",
    "SymmRecipient",
    "certificate_recipient_id",
    "check_aes_key",
    "rek_recipient_id",
    "signed_data_recipient_id",
    "symmetric_recipient_id",
]

AES_KEY_SIZE = 16


def certificate_recipient_id(certificate: Certificate) -> tuple[bytes, bytes]:
    """(recipientId, P1) for certRecipInfo: HashedId8 and whole hash of the canonical certificate."""
    alg = certificate.hash_algorithm
    return hashed_id8(certificate.encoded, alg), digest(certificate.encoded, alg)


def signed_data_recipient_id(spdu: bytes) -> tuple[bytes, bytes]:
    """(recipientId, P1) for signedDataRecipInfo: HashedId8 and SHA-256 of the canonicalised signed SPDU."""
    value = decode_data(require_bytes("spdu", spdu))
    content_as(value, "signedData", "spdu")
    canonical = asn1.encode("Ieee1609Dot2Data", canonical_data(value))
    return hashed_id8(canonical), digest(canonical)


def rek_recipient_id(key: ec.EllipticCurvePublicKey) -> bytes:
    """recipientId for rekRecipInfo: HashedId8 of COER ``PublicEncryptionKey`` (P1 is SHA-256(""))."""
    # Through the COER template: the rek id is on the ACA's per-certificate path (performance.md §4).
    return hashed_id8(template.encode("PublicEncryptionKey", encryption_key_to_asn1(key)))


def symmetric_recipient_id(key: bytes) -> bytes:
    """recipientId for psk/symmRecipInfo: HashedId8 of COER ``SymmetricEncryptionKey`` aes128Ccm."""
    return hashed_id8(asn1.encode("SymmetricEncryptionKey", ("aes128Ccm", check_aes_key("key", key))))


@dataclass(frozen=True)
class CertRecipient:
    """certRecipInfo: ECIES to the certificate's ``encryptionKey``, P1 = the certificate's hash."""

    certificate: Certificate

    def __post_init__(self) -> None:
        if not isinstance(self.certificate, Certificate):
            raise TypeError(f"certificate: expected Certificate, got {type(self.certificate).__name__}")
        if self.certificate.encryption_key() is None:
            raise ValueError("certificate: has no encryptionKey to encrypt to")


@dataclass(frozen=True)
class SignedDataRecipient:
    """signedDataRecipInfo: ECIES to the key a SignedData carried in ``headerInfo.encryptionKey``."""

    spdu: bytes
    key: ec.EllipticCurvePublicKey

    @classmethod
    def from_spdu(cls, spdu: bytes) -> SignedDataRecipient:
        """The recipient named by a signed SPDU's ``headerInfo.encryptionKey`` (public), else SpduShapeError."""
        signed = content_as(decode_data(require_bytes("spdu", spdu)), "signedData", "spdu")
        key: Any = signed["tbsData"]["headerInfo"].get("encryptionKey")
        if key is None or key[0] != "public":
            raise SpduShapeError("spdu: headerInfo carries no public encryptionKey")
        return cls(bytes(spdu), encryption_key_from_asn1(key[1]))


@dataclass(frozen=True)
class RekRecipient:
    """rekRecipInfo: ECIES to a response encryption key that came in a request; P1 = SHA-256("")."""

    key: ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class PskRecipient:
    """pskRecipInfo: the data is encrypted directly with a pre-shared AES-128 key."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_aes_key("key", self.key)


@dataclass(frozen=True)
class SymmRecipient:
    """symmRecipInfo: the data key is wrapped with AES-128-CCM under a pre-shared key."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_aes_key("key", self.key)


Recipient = CertRecipient | SignedDataRecipient | RekRecipient | PskRecipient | SymmRecipient


def check_aes_key(name: str, key: object) -> bytes:
    """``key`` as 16 octets of AES-128 key, or TypeError/ValueError naming the argument."""
    key = require_bytes(name, key)
    if len(key) != AES_KEY_SIZE:
        raise ValueError(f"{name}: an AES-128 key is {AES_KEY_SIZE} octets, got {len(key)}")
    return key
