"""``Ieee1609Dot2Data-Encrypted{T}``: EncryptedData for every RecipientInfo kind (1609.2 §5.3.4-§5.3.8, §6.3.30).

The data is AES-128-CCM under a fresh key and nonce per message (no AAD, 16-octet tag); the
key reaches each recipient by ECIES (cert, signedData, rek) or AES-CCM (symm), or the data is
encrypted directly under a pre-shared key (psk). protocol.md §4.4.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..crypto import aesccm, ecies
from ..crypto.hashing import EMPTY_SHA256
from ..errors import CodecError, DecryptionError, SpduShapeError
from . import template
from ._content import PROTOCOL_VERSION, content_as, data_value, decode_data, require_bytes
from .keyring import Keyring
from .recipients import (
    AES_KEY_SIZE,
    CertRecipient,
    PskRecipient,
    Recipient,
    RekRecipient,
    SignedDataRecipient,
    SymmRecipient,
    certificate_recipient_id,
    rek_recipient_id,
    signed_data_recipient_id,
    symmetric_recipient_id,
)

__all__ = ["Decrypted", "decrypt", "encrypt"]

NONCE_SIZE = 12
# Ieee1609Dot2Content tags: unsecuredData 80 … signedCertificateRequest 83, extension 84.
_CONTENT_TAGS = frozenset({0x80, 0x81, 0x82, 0x83, 0x84})
_PUBLIC_KEY_KINDS = frozenset({"certRecipInfo", "signedDataRecipInfo", "rekRecipInfo"})


@dataclass(frozen=True)
class Decrypted:
    """A decrypted EncryptedData: the COER Ieee1609Dot2Data inside and the RecipientInfo that opened it."""

    plaintext: bytes = field(repr=False)
    recipient_id: bytes
    kind: str  # the RecipientInfo alternative, e.g. "certRecipInfo"


def encrypt(plaintext: bytes, recipient: Recipient | Sequence[Recipient]) -> bytes:
    """COER ``Ieee1609Dot2Data`` encryptedData of ``plaintext`` (a COER Ieee1609Dot2Data), protocol.md §4.4.

    Several recipients share one data key; a ``PskRecipient`` encrypts the data directly and
    so must be the only recipient.
    """
    plaintext = require_bytes("plaintext", plaintext)
    # A prefix check (protocolVersion 3, a known content tag) catches unwrapped raw data without
    # paying for a full decode on the ACA's per-certificate path; receivers decode strictly.
    if len(plaintext) < 2 or plaintext[0] != PROTOCOL_VERSION or plaintext[1] not in _CONTENT_TAGS:
        raise ValueError("plaintext: must be the COER of an Ieee1609Dot2Data (wrap raw data as unsecuredData)")
    recipients = [recipient] if not isinstance(recipient, Sequence) else list(recipient)
    if not recipients:
        raise ValueError("recipient: at least one recipient is needed")
    psk = [r for r in recipients if isinstance(r, PskRecipient)]
    if psk and len(recipients) > 1:
        raise ValueError("recipient: a PskRecipient encrypts the data directly and cannot be combined")
    data_key = psk[0].key if psk else os.urandom(AES_KEY_SIZE)
    infos = [_recipient_info(r, data_key) for r in recipients]
    nonce = os.urandom(NONCE_SIZE)
    ciphertext = ("aes128ccm", {"nonce": nonce, "ccmCiphertext": aesccm.encrypt(data_key, nonce, plaintext)})
    encrypted = {"recipients": infos, "ciphertext": ciphertext}
    return template.encode("Ieee1609Dot2Data", data_value("encryptedData", encrypted))


def decrypt(data: bytes, keys: Keyring) -> Decrypted:
    """Open an encrypted ``Ieee1609Dot2Data`` with the first RecipientInfo ``keys`` can use (protocol.md §4.4).

    DecryptionError (400-41) if no RecipientInfo is ours or the key/tag/ciphertext fails;
    DecodeError (400-42) if the bytes or the decrypted plaintext are not a canonical
    Ieee1609Dot2Data; SpduShapeError if the content is not encryptedData.
    """
    if not isinstance(keys, Keyring):
        raise TypeError(f"keys: expected Keyring, got {type(keys).__name__}")
    encrypted = content_as(decode_data(require_bytes("data", data)), "encryptedData", "encrypted SPDU")
    algorithm, ccm = encrypted["ciphertext"]
    if algorithm != "aes128ccm":
        raise DecryptionError(f"encrypted SPDU: symmetric algorithm {algorithm} is not supported")
    matched = False
    for kind, info in encrypted["recipients"]:
        recipient_id = info if kind == "pskRecipInfo" else info["recipientId"]
        try:
            data_key = _data_key(kind, info, recipient_id, keys)
        except DecryptionError:
            matched = True  # ours, but it did not open: try any further entry that is ours too
            continue
        if data_key is None:
            continue
        plaintext = aesccm.decrypt(data_key, ccm["nonce"], ccm["ccmCiphertext"])
        decode_data(plaintext)
        return Decrypted(plaintext=plaintext, recipient_id=recipient_id, kind=kind)
    reason = "the data key of our RecipientInfo did not unwrap" if matched else "no RecipientInfo is for a key we hold"
    raise DecryptionError(f"encrypted SPDU: {reason}")


def _recipient_info(recipient: Recipient, data_key: bytes) -> tuple[str, Any]:
    if isinstance(recipient, PskRecipient):
        return "pskRecipInfo", symmetric_recipient_id(recipient.key)
    if isinstance(recipient, SymmRecipient):
        nonce = os.urandom(NONCE_SIZE)
        wrapped = ("aes128ccm", {"nonce": nonce, "ccmCiphertext": aesccm.encrypt(recipient.key, nonce, data_key)})
        return "symmRecipInfo", {"recipientId": symmetric_recipient_id(recipient.key), "encKey": wrapped}
    if isinstance(recipient, CertRecipient):
        key = recipient.certificate.encryption_key()
        if key is None:  # CertRecipient refuses such certificates; kept for the type checker.
            raise ValueError("recipient: certificate has no encryptionKey")
        kind = "certRecipInfo"
        recipient_id, p1 = certificate_recipient_id(recipient.certificate)
    elif isinstance(recipient, SignedDataRecipient):
        kind, key = "signedDataRecipInfo", recipient.key
        recipient_id, p1 = signed_data_recipient_id(recipient.spdu)
    elif isinstance(recipient, RekRecipient):
        kind, key = "rekRecipInfo", recipient.key
        recipient_id, p1 = rek_recipient_id(key), EMPTY_SHA256
    else:
        raise TypeError(f"recipient: expected a recipient kind, got {type(recipient).__name__}")
    enc_key = ecies.to_asn1(ecies.wrap(key, data_key, p1))
    return kind, {"recipientId": recipient_id, "encKey": enc_key}


def _data_key(kind: str, info: Any, recipient_id: bytes, keys: Keyring) -> bytes | None:
    """The data key from one RecipientInfo, None if it is not ours, DecryptionError if ours but bad."""
    if kind in _PUBLIC_KEY_KINDS:
        entry = keys.private_entry(kind, recipient_id)
        if entry is None:
            return None
        try:
            return ecies.unwrap(entry.key, ecies.from_asn1(info["encKey"]), entry.p1)
        except DecryptionError:
            raise
        except CodecError as exc:
            # A bad ephemeral point or an unsupported ECIES curve: the key cannot be recovered.
            raise DecryptionError(f"{kind}: encrypted data key cannot be opened") from exc
    psk = keys.symmetric_key(recipient_id)
    if psk is None:
        return None
    if kind == "pskRecipInfo":
        return psk
    if kind == "symmRecipInfo":
        algorithm, wrapped = info["encKey"]
        if algorithm != "aes128ccm":
            raise DecryptionError(f"symmRecipInfo: key wrap algorithm {algorithm} is not supported")
        data_key = aesccm.decrypt(psk, wrapped["nonce"], wrapped["ccmCiphertext"])
        if len(data_key) != AES_KEY_SIZE:
            raise DecryptionError("symmRecipInfo: the wrapped data key is not 16 octets")
        return data_key
    raise SpduShapeError(f"encrypted SPDU: RecipientInfo {kind} is not supported")  # pragma: no cover
