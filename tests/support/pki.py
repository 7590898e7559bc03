"""A small SCMS hierarchy for tests: root, ICA, ECA, RA (with its decryption keyring), two ACAs, two electors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec.cert.certificate import Certificate, issue_explicit
from scms_codec.crypto.keys import encryption_key_to_asn1, verification_key_to_asn1
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.signer import Signer

NOW = 650_000_000
SSP = {"root": b"\x81\x00\x02", "ica": b"\x83\x00\x02", "eca": b"\x84\x00\x02", "aca": b"\x85\x00\x02"}
SSP |= {"ra": b"\x8b\x00\x02", "elector": b"\x80\x00\x02", "ee": b"\x8c\x00\x02"}


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def tbs(role: str, encryption_key: ec.EllipticCurvePublicKey | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": ("name", role),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": NOW - 1000, "duration": ("years", 2)},
        "appPermissions": [{"psid": 35, "ssp": ("opaque", SSP[role])}],
        "verifyKeyIndicator": ("verificationKey", verification_key_to_asn1(new_key().public_key())),
    }
    if encryption_key is not None:
        value["encryptionKey"] = encryption_key_to_asn1(encryption_key)
    return value


def issue(role: str, issuer: Signer | None, encryption_key: ec.EllipticCurvePublicKey | None = None) -> Signer:
    key = new_key()
    issuer_key = key if issuer is None else issuer.key
    issuer_cert = None if issuer is None else issuer.certificate
    return Signer(key, issue_explicit(tbs(role, encryption_key), key.public_key(), issuer_cert, issuer_key))


@dataclass(frozen=True)
class Pki:
    root: Signer
    ica: Signer
    eca: Signer
    ra: Signer
    ra_keyring: Keyring
    aca: Signer
    other_aca: Signer
    electors: tuple[Signer, Signer]


def build_pki() -> Pki:
    root = issue("root", None)
    ica = issue("ica", root)
    ra_encryption = new_key()
    ra = issue("ra", ica, ra_encryption.public_key())
    keyring = Keyring()
    assert ra.certificate is not None
    keyring.add_certificate(ra.certificate, ra_encryption)
    electors = (issue("elector", None), issue("elector", None))
    return Pki(root, ica, issue("eca", ica), ra, keyring, issue("aca", ica), issue("aca", ica), electors)


def cert(signer: Signer) -> Certificate:
    assert signer.certificate is not None
    return signer.certificate


