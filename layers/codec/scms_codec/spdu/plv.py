"""Encrypted individual pre-linkage values, LA → (RA) → ACA, and the linkage value the ACA derives.

1609.2.1 §6.3.5 and Annex D (protocol.md §3.3 step 1 and §4.6): each LA encrypts every PLV for
the ACA under a key the two share, as ``Ieee1609Dot2Data-SymmEncryptedSingleRecipient
{PreLinkageValue}``; the RA carries it without being able to read it; the ACA decrypts both and
puts plv1 ⊕ plv2 in the certificate. The plaintext is the 9-octet PLV as an unsecured
``Ieee1609Dot2Data`` (protocol.md §4.6, open question 4 in docs/open-questions.md).
"""

from __future__ import annotations

from .. import asn1
from ..crypto.linkage import linkage_value
from ..errors import DecryptionError, SpduShapeError
from ..secured.encrypted_data import decrypt, encrypt
from ..secured.keyring import Keyring
from ..secured.recipients import SymmRecipient
from ..secured.unsecured import unwrap_unsecured, wrap_unsecured
from .ra_aca import EncryptedIndividualPLV, LinkageInfo

__all__ = ["decrypt_plv", "encrypt_plv", "linkage_value_of"]


def encrypt_plv(la_id: bytes, plv: bytes, la_aca_key: bytes) -> EncryptedIndividualPLV:
    """LA side: ``EncryptedIndividualPLV`` of ``plv`` for the ACA (symmRecipInfo under ``la_aca_key``)."""
    if len(la_id) != 2:
        raise ValueError("la_id: must be 2 octets (LaId)")
    plaintext = wrap_unsecured(asn1.encode("PreLinkageValue", plv))
    return EncryptedIndividualPLV(la_id, encrypt(plaintext, SymmRecipient(la_aca_key)))


def decrypt_plv(encrypted: EncryptedIndividualPLV, keys: Keyring) -> bytes:
    """ACA side: the 9-octet PLV inside ``encrypted`` (DecryptionError 400-41, DecodeError 400-42)."""
    opened = decrypt(encrypted.enc_plv, keys)
    if opened.kind != "symmRecipInfo":
        raise SpduShapeError(f"encPlv: expected symmRecipInfo, got {opened.kind}")
    return bytes(asn1.decode("PreLinkageValue", unwrap_unsecured(opened.plaintext)))


def linkage_value_of(info: LinkageInfo, keys: Keyring) -> bytes:
    """ACA side: linkage value = plv1 ⊕ plv2 from the two LAs' encrypted PLVs (protocol.md §4.6)."""
    if info.enc_plv1.la_id == info.enc_plv2.la_id:
        raise DecryptionError("encPlv1 and encPlv2 come from the same LA")
    return linkage_value(decrypt_plv(info.enc_plv1, keys), decrypt_plv(info.enc_plv2, keys))
