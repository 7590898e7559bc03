"""Canonical form of SignedData before hashing: which fields change (1609.2 §6.1.2, protocol.md §4.1)."""

from __future__ import annotations

import copy
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import asn1
from scms_codec.crypto.keys import encryption_key_to_asn1
from scms_codec.secured.canonical import canonical_data, canonical_tbs_data
from tests.support.pki import build_pki, cert


def _uncompressed(key: ec.EllipticCurvePublicKey) -> tuple[str, dict[str, bytes]]:
    raw = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return "uncompressedP256", {"x": raw[1:33], "y": raw[33:]}


def _uncompressed_certificate() -> dict[str, Any]:
    """A valid Certificate value whose verification key is written uncompressed (legal, not canonical)."""
    value = copy.deepcopy(cert(build_pki().ra).value)
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    value["toBeSigned"]["verifyKeyIndicator"] = ("verificationKey", ("ecdsaNistP256", _uncompressed(key)))
    return value


def _tbs(**header: Any) -> dict[str, Any]:
    data = {"protocolVersion": 3, "content": ("unsecuredData", b"payload")}
    return {"payload": {"data": data}, "headerInfo": {"psid": 35, **header}}


def test_header_encryption_key_point_is_compressed() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    written = {"supportedSymmAlg": "aes128Ccm", "publicKey": ("eciesNistP256", _uncompressed(key))}
    tbs = _tbs(encryptionKey=("public", written))
    canonical = canonical_tbs_data(tbs)
    assert canonical["headerInfo"]["encryptionKey"] == ("public", encryption_key_to_asn1(key))
    assert tbs["headerInfo"]["encryptionKey"] == ("public", written)  # the input is not modified


def test_requested_certificate_after_the_extension_marker_is_left_as_sent() -> None:
    # HeaderInfo's note: "The canonicalization does not apply to any fields after the extension
    # marker". requestedCertificate is one of them, so its uncompressed point is hashed as sent.
    requested = _uncompressed_certificate()
    tbs = _tbs(requestedCertificate=requested)
    canonical = canonical_tbs_data(tbs)
    assert canonical["headerInfo"]["requestedCertificate"] == requested
    assert asn1.encode("ToBeSignedData", canonical) == asn1.encode("ToBeSignedData", tbs)


def test_signer_certificate_and_signature_of_signed_data_are_canonicalised() -> None:
    signer_cert = _uncompressed_certificate()
    signature = ("ecdsaNistP256Signature", {"rSig": ("compressed-y-1", b"\x01" * 32), "sSig": b"\x02" * 32})
    signed = {"hashId": "sha256", "tbsData": _tbs(), "signer": ("certificate", [signer_cert]), "signature": signature}
    value = {"protocolVersion": 3, "content": ("signedData", signed)}
    out = canonical_data(value)["content"][1]
    assert out["signer"][1][0]["toBeSigned"]["verifyKeyIndicator"][1][1][0].startswith("compressed-y-")
    assert out["signature"][1]["rSig"] == ("x-only", b"\x01" * 32)
    assert out["tbsData"] == signed["tbsData"]
