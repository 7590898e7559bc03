"""Canonical form of an ``Ieee1609Dot2Data`` for hashing and signing (1609.2 §6.1.2, protocol.md §4.1).

Points in ``HeaderInfo.encryptionKey`` and in signer certificates are compressed and every ECDSA
rSig is x-only. Nothing else changes: ``unsecuredData`` and ciphertexts are opaque, and HeaderInfo
fields after its extension marker (``requestedCertificate`` included) are hashed as sent.
"""

from __future__ import annotations

from typing import Any

from ..cert.certificate import canonicalize
from ..crypto.ecdsa import canonical_signature
from ..crypto.keys import canonical_point

__all__ = ["canonical_data", "canonical_tbs_data"]

# BasePublicEncryptionKey alternative -> curve name that canonical_point needs.
_ENCRYPTION_CURVES = {"eciesNistP256": "nistP256", "eciesBrainpoolP256r1": "brainpoolP256r1", "ecencSm2": "nistP256"}


def canonical_data(value: dict[str, Any]) -> dict[str, Any]:
    """The ``Ieee1609Dot2Data`` value canonicalised, 1609.2 §6.3.4 (protocol.md §4.1)."""
    kind, content = value["content"]
    if kind != "signedData":
        return value
    signer_kind, signer = content["signer"]
    if signer_kind == "certificate":
        signer = [canonicalize(cert) for cert in signer]
    signed = {
        **content,
        "tbsData": canonical_tbs_data(content["tbsData"]),
        "signer": (signer_kind, signer),
        "signature": canonical_signature(content["signature"]),
    }
    return {**value, "content": (kind, signed)}


def canonical_tbs_data(tbs: dict[str, Any]) -> dict[str, Any]:
    """``ToBeSignedData`` canonicalised: nested signed data and ``HeaderInfo.encryptionKey``, 1609.2 §6.3.6."""
    payload = tbs["payload"]
    if "data" in payload:
        payload = {**payload, "data": canonical_data(payload["data"])}
    header = dict(tbs["headerInfo"])
    key = header.get("encryptionKey")
    if key is not None and key[0] == "public":
        alternative, point = key[1]["publicKey"]
        curve = _ENCRYPTION_CURVES.get(alternative, "nistP256")
        header["encryptionKey"] = ("public", {**key[1], "publicKey": (alternative, canonical_point(point, curve))})
    # Nothing after HeaderInfo's extension marker is canonicalised (its ASN.1 note), so an inline
    # requestedCertificate is hashed exactly as sent.
    return {**tbs, "payload": payload, "headerInfo": header}
