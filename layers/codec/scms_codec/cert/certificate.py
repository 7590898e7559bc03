"""1609.2 certificates: parse, canonicalize, hash, issue (explicit and ECQV implicit) and verify.

Certificates are hashed and signed in canonical form (1609.2 §6.1.2, protocol.md §4.1): points
compressed, rSig x-only, DEFAULT values absent. ``Certificate.encoded`` is always that form;
``Certificate.received`` keeps the octets as they arrived.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from .. import asn1
from ..crypto import ecdsa, ecqv, keys, points
from ..crypto.hashing import HashAlgorithm, digest, hash_algorithm_for_curve, signing_digest
from ..crypto.points import Point
from ..errors import DecodeError, InvalidKey, InvalidSignature, UnsupportedAlgorithm
from ..time32 import Time32, validity_end
from . import template

__all__ = [
    "Certificate",
    "canonicalize",
    "canonicalize_tbs",
    "implicit_public_key",
    "issue_explicit",
    "issue_implicit",
    "verify_signature",
]

# PublicVerificationKey / Signature alternatives → the curve names of crypto.keys.
_VERIFICATION_KEY_CURVE = {
    "ecdsaNistP256": "nistP256",
    "ecdsaBrainpoolP256r1": "brainpoolP256r1",
    "ecdsaNistP384": "nistP384",
    "ecdsaBrainpoolP384r1": "brainpoolP384r1",
}
_SIGNATURE_CURVE = {f"{alt}Signature": curve for alt, curve in _VERIFICATION_KEY_CURVE.items()}
_ENCRYPTION_KEY_CURVE = {"eciesNistP256": "nistP256", "eciesBrainpoolP256r1": "brainpoolP256r1"}
_ISSUER_CHOICE: dict[str, str] = {"sha256": "sha256AndDigest", "sha384": "sha384AndDigest"}
# EndEntityType {app} is the DEFAULT of PsidGroupPermissions.eeType; asn1tools keeps it as
# (b"\x80", 1), and a written-out (b"\x80", 8) would be encoded (shared asn1/README.md pitfall 1).
_EE_TYPE_APP = b"\x80"


def _verification_curve(alternative: str) -> str:
    try:
        return _VERIFICATION_KEY_CURVE[alternative]
    except KeyError:
        raise UnsupportedAlgorithm(f"verification key algorithm {alternative!r} is not supported") from None


def _signature_curve(alternative: str) -> str:
    try:
        return _SIGNATURE_CURVE[alternative]
    except KeyError:
        raise UnsupportedAlgorithm(f"signature algorithm {alternative!r} is not supported") from None


def _canonical_group_permissions(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for group in groups:
        group = dict(group)
        ee_type = group.get("eeType")
        if isinstance(ee_type, tuple) and len(ee_type) == 2 and bytes(ee_type[0]).rstrip(b"\0") == _EE_TYPE_APP:
            # {app} alone, in whatever bit length it is written, is the DEFAULT: COER omits it.
            del group["eeType"]
        out.append(group)
    return out


def canonicalize(value: dict[str, Any]) -> dict[str, Any]:
    """A copy of a ``Certificate`` value in canonical form: points compressed, rSig x-only, eeType {app} omitted.

    1609.2 §6.1.2 (protocol.md §4.1); the input is not modified.
    """
    if not isinstance(value, dict) or not isinstance(value.get("toBeSigned"), dict):
        raise TypeError("value: expected an asn1tools Certificate dict with toBeSigned")
    out = dict(value)
    out["toBeSigned"] = canonicalize_tbs(value["toBeSigned"])
    if "signature" in value:
        out["signature"] = ecdsa.canonical_signature(value["signature"])
    return out


def canonicalize_tbs(tbs: dict[str, Any]) -> dict[str, Any]:
    """A copy of a ``ToBeSignedCertificate`` value in canonical form (1609.2 §6.1.2, protocol.md §4.1)."""
    if not isinstance(tbs, dict):
        raise TypeError("tbs: expected an asn1tools ToBeSignedCertificate dict")
    out = dict(tbs)
    indicator = tbs.get("verifyKeyIndicator")
    if isinstance(indicator, tuple) and len(indicator) == 2:
        kind, body = indicator
        if kind == "verificationKey" and isinstance(body, tuple) and len(body) == 2:
            out["verifyKeyIndicator"] = (kind, (body[0], keys.canonical_point(body[1], _verification_curve(body[0]))))
        elif kind == "reconstructionValue":
            out["verifyKeyIndicator"] = (kind, keys.canonical_point(body, "nistP256"))
    encryption_key = tbs.get("encryptionKey")
    if isinstance(encryption_key, dict) and isinstance(encryption_key.get("publicKey"), tuple):
        alternative, point = encryption_key["publicKey"]
        curve = _ENCRYPTION_KEY_CURVE.get(alternative)
        if curve is None:
            raise UnsupportedAlgorithm(f"encryption key algorithm {alternative!r} is not supported")
        out["encryptionKey"] = {**encryption_key, "publicKey": (alternative, keys.canonical_point(point, curve))}
    for name in ("certIssuePermissions", "certRequestPermissions"):
        if isinstance(tbs.get(name), list):
            out[name] = _canonical_group_permissions(tbs[name])
    return out


def _check_shape(value: dict[str, Any]) -> None:
    # asn1tools does not enforce the WITH COMPONENTS profiles of Certificate (shared asn1/README.md).
    kind = value["type"]
    indicator = value["toBeSigned"]["verifyKeyIndicator"][0]
    if kind == "explicit" and (indicator != "verificationKey" or "signature" not in value):
        raise DecodeError("Certificate: an explicit certificate needs verificationKey and a signature")
    if kind == "implicit" and (indicator != "reconstructionValue" or "signature" in value):
        raise DecodeError("Certificate: an implicit certificate needs reconstructionValue and no signature")
    if kind == "implicit" and value["issuer"][0] == "self":
        raise DecodeError("Certificate: an implicit certificate cannot be self-issued")
    tbs = value["toBeSigned"]
    if not any(name in tbs for name in ("appPermissions", "certIssuePermissions", "certRequestPermissions")):
        raise DecodeError("Certificate: none of appPermissions, certIssuePermissions, certRequestPermissions")


@dataclass(frozen=True)
class Certificate:
    """A parsed 1609.2 certificate in canonical form with its identifiers (1609.2 §6.4.3; protocol.md §4.1)."""

    value: dict[str, Any] = field(repr=False)
    encoded: bytes = field(repr=False)
    hashed_id8: bytes
    hashed_id3: bytes = field(repr=False)
    hashed_id10: bytes = field(repr=False)
    hashed_id32: bytes = field(repr=False)  # a root's CTL rootCaApprove entry (protocol.md §3.5)
    received: bytes = field(repr=False, compare=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> Certificate:
        """Strictly decode a COER ``Certificate``; a non-canonical one is accepted and canonicalized."""
        value = asn1.decode("Certificate", data)
        return cls._build(value, bytes(data))

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> Certificate:
        """The certificate of an asn1tools ``Certificate`` value (canonicalized, then encoded)."""
        return cls._build(canonicalize(value), None)

    @classmethod
    def _build(cls, value: dict[str, Any], received: bytes | None) -> Certificate:
        """``value`` is a strict decode of ``received``, or a caller's value when ``received`` is None."""
        _check_shape(value)
        canonical = canonicalize(value)
        encoded = template.by_template(template.TEMPLATES, "Certificate", canonical)
        if encoded is not None and encoded == received:
            # Already canonical: the strict decode of these very octets is the value they say.
            canonical = value
        elif encoded is not None:
            # Template shapes hold no DEFAULT members and only plain types, so decoding the octets
            # would give this value back (tests/unit/test_templates.py); a copy keeps it unshared.
            canonical = template.copy_value(canonical)
        else:
            encoded = asn1.encode("Certificate", canonical)
            # Decode the canonical octets again so that ``value`` is exactly what the octets say
            # (asn1tools fills DEFAULTs on decode; a caller's dict may spell them out).
            canonical = value if encoded == received else asn1.decode("Certificate", encoded)
        alg = _whole_certificate_hash(canonical)
        full = digest(encoded, alg)
        received = encoded if received is None else received
        return cls(canonical, encoded, full[-8:], full[-3:], full[-10:], full[-32:], received)

    @property
    def tbs(self) -> dict[str, Any]:
        """The ``toBeSigned`` value."""
        tbs: dict[str, Any] = self.value["toBeSigned"]
        return tbs

    @property
    def is_implicit(self) -> bool:
        """True for an ECQV implicit certificate (1609.2 §6.4.4)."""
        return bool(self.value["type"] == "implicit")

    @property
    def is_self_signed(self) -> bool:
        """True when ``issuer`` is ``self`` (roots, electors)."""
        return bool(self.value["issuer"][0] == "self")

    @property
    def is_ca(self) -> bool:
        """True when the certificate carries ``certIssuePermissions``."""
        return "certIssuePermissions" in self.tbs

    @property
    def issuer_id(self) -> bytes | None:
        """The issuer's HashedId8, or None for a self-signed certificate (1609.2 §6.4.6)."""
        choice, body = self.value["issuer"]
        return None if choice == "self" else bytes(body)

    @property
    def hash_algorithm(self) -> HashAlgorithm:
        """The whole-certificate hash and the hash of signatures made with this certificate's key (1609.2 §5.3.9.2)."""
        return _whole_certificate_hash(self.value)

    @property
    def validity(self) -> tuple[Time32, Time32]:
        """(start, end) of the validity period in Time32 (protocol.md §5.1)."""
        period = self.tbs["validityPeriod"]
        return int(period["start"]), validity_end(period)

    @property
    def app_psids(self) -> frozenset[int]:
        """The PSIDs of ``appPermissions``."""
        return frozenset(int(p["psid"]) for p in self.tbs.get("appPermissions", ()))

    @cached_property
    def tbs_encoded(self) -> bytes:
        """Canonical COER of ``toBeSigned``: the data input of the signature and of e (protocol.md §4.2, §4.3)."""
        return template.encode("ToBeSignedCertificate", self.tbs)

    @cached_property
    def _verification_key(self) -> ec.EllipticCurvePublicKey:
        # Decompressing the point costs ~15 µs; an issuer's key is asked for once per issued certificate.
        return keys.verification_key_from_asn1(self.tbs["verifyKeyIndicator"][1])

    def encryption_key(self) -> ec.EllipticCurvePublicKey | None:
        """The ECIES ``encryptionKey``, or None when the certificate has none."""
        value = self.tbs.get("encryptionKey")
        return None if value is None else keys.encryption_key_from_asn1(value)

    def public_key(self, issuer: Certificate | None = None) -> ec.EllipticCurvePublicKey:
        """The verification key: explicit, or reconstructed Q_U = e·P_U + Q_CA with ``issuer`` (1609.2 §5.3.2)."""
        if not self.is_implicit:
            return self._verification_key
        if issuer is None:
            raise ValueError("issuer: an implicit certificate's key needs its issuing certificate")
        if not isinstance(issuer, Certificate):
            raise TypeError(f"issuer: expected Certificate, got {type(issuer).__name__}")
        return implicit_public_key(self, digest(issuer.encoded, "sha256"), issuer.public_key())

    def __repr__(self) -> str:
        kind = "implicit" if self.is_implicit else "explicit"
        return f"Certificate({kind}, hashed_id8={self.hashed_id8.hex()})"


def _whole_certificate_hash(value: dict[str, Any]) -> HashAlgorithm:
    # 1609.2 §5.3.9.2 ties the whole-certificate hash to the certificate's own key: SHA-384 for
    # P-384 keys, SHA-256 otherwise; implicit certificates are P-256 only. The BC ETSI sample
    # CERT_IUT_A_B33_AT names its brainpoolP384r1 issuer by the SHA-384 HashedId8 (protocol.md §4.1).
    kind, body = value["toBeSigned"]["verifyKeyIndicator"]
    if kind != "verificationKey":
        return "sha256"
    return hash_algorithm_for_curve(_verification_curve(body[0]))


def implicit_public_key(
    cert: Certificate, issuer_cert_hash: bytes, issuer_key: ec.EllipticCurvePublicKey
) -> ec.EllipticCurvePublicKey:
    """Q_U = e·P_U + Q_CA with e = H(H(tbs) ‖ issuer_cert_hash), 1609.2 §5.3.2 (protocol.md §4.3).

    ``issuer_cert_hash`` is SHA-256 of the issuer's canonical COER; ``InvalidKey`` for a bad point.
    """
    if not cert.is_implicit:
        raise ValueError("cert: not an implicit certificate")
    if not isinstance(issuer_key, ec.EllipticCurvePublicKey) or not isinstance(issuer_key.curve, ec.SECP256R1):
        raise InvalidKey("issuer_key: ECQV issuers must have a P-256 key")
    p_u = points.from_public_key(keys.point_from_asn1(cert.tbs["verifyKeyIndicator"][1], "nistP256"))
    e = ecqv.e_from_digests(digest(cert.tbs_encoded, "sha256"), issuer_cert_hash)
    return points.to_public_key(ecqv.reconstruct_public(e, p_u, points.from_public_key(issuer_key)))


def _issuer_identifier(issuer: Certificate) -> tuple[str, bytes]:
    return _ISSUER_CHOICE[issuer.hash_algorithm], issuer.hashed_id8


def _check_tbs(tbs: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(tbs, dict):
        raise TypeError(f"tbs: expected a ToBeSignedCertificate dict, got {type(tbs).__name__}")
    return copy.deepcopy(tbs)


def issue_explicit(
    tbs: dict[str, Any],
    subject_key: ec.EllipticCurvePublicKey,
    issuer: Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> Certificate:
    """Issue an explicit certificate signed over H(H(tbs) ‖ H(issuer cert or b"")), 1609.2 §5.3.1 (protocol.md §4.2).

    ``issuer`` None makes a self-signed certificate, in which case ``issuer_key`` must be the
    private key of ``subject_key``. ``verifyKeyIndicator`` and ``issuer`` are filled in here.
    """
    tbs = _check_tbs(tbs)
    if not isinstance(subject_key, ec.EllipticCurvePublicKey):
        raise TypeError(f"subject_key: expected EllipticCurvePublicKey, got {type(subject_key).__name__}")
    if not isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"issuer_key: expected EllipticCurvePrivateKey, got {type(issuer_key).__name__}")
    signer_alg = hash_algorithm_for_curve(keys.curve_of(issuer_key).name)
    tbs["verifyKeyIndicator"] = ("verificationKey", keys.verification_key_to_asn1(subject_key))
    if issuer is None:
        if issuer_key.public_key() != subject_key:
            raise ValueError("issuer_key: a self-signed certificate is signed with the subject's own key")
        issuer_choice: tuple[str, Any] = ("self", signer_alg)
        signer_input = b""
    else:
        if not isinstance(issuer, Certificate):
            raise TypeError(f"issuer: expected Certificate, got {type(issuer).__name__}")
        if not issuer.is_implicit and issuer.public_key() != issuer_key.public_key():
            raise ValueError("issuer_key: does not match the issuer certificate's verification key")
        issuer_choice = _issuer_identifier(issuer)
        signer_input = issuer.encoded
    tbs = canonicalize_tbs(tbs)
    tbs_coer = template.encode("ToBeSignedCertificate", tbs)
    signature = ecdsa.sign(issuer_key, signing_digest(tbs_coer, signer_input, signer_alg))
    value = {"version": 3, "type": "explicit", "issuer": issuer_choice, "toBeSigned": tbs, "signature": signature}
    return Certificate.from_value(value)


def issue_implicit(
    tbs: dict[str, Any],
    request_point: Point,
    issuer: Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> tuple[Certificate, int]:
    """Issue an ECQV implicit certificate and its private reconstruction value r, 1609.2 §5.3.2 (protocol.md §4.3).

    P_U = R + k·G goes in ``reconstructionValue``; r = e·k + d_CA mod n with
    e = H(H(tbs) ‖ H(issuer cert)). The holder derives d_U = e·k_U + r and must check it.
    """
    tbs = _check_tbs(tbs)
    if not isinstance(issuer, Certificate):
        raise TypeError(f"issuer: expected Certificate, got {type(issuer).__name__}")
    if not isinstance(issuer_key, ec.EllipticCurvePrivateKey) or not isinstance(issuer_key.curve, ec.SECP256R1):
        raise ValueError("issuer_key: ECQV issuance needs a P-256 private key")
    if not issuer.is_implicit and issuer.public_key() != issuer_key.public_key():
        raise ValueError("issuer_key: does not match the issuer certificate's verification key")
    k, p_u = ecqv.ca_randomize(request_point)
    tbs["verifyKeyIndicator"] = ("reconstructionValue", keys.point_to_asn1(points.to_public_key(p_u)))
    tbs = canonicalize_tbs(tbs)
    value = {"version": 3, "type": "implicit", "issuer": _issuer_identifier(issuer), "toBeSigned": tbs}
    cert = Certificate.from_value(value)
    e = ecqv.certificate_hash_e(cert.tbs_encoded, issuer.encoded)
    r = ecqv.private_reconstruction(e, k, keys.private_key_to_int(issuer_key))
    return cert, r


def verify_signature(
    cert: Certificate,
    issuer: Certificate | None,
    *,
    issuer_key: ec.EllipticCurvePublicKey | None = None,
) -> None:
    """Verify an explicit certificate's signature under ``issuer`` (None: self-signed), 1609.2 §5.3.1.

    Raises ``InvalidSignature``. ``issuer_key`` overrides the issuer's key, which an implicit
    issuer needs (its key comes from its own issuer).
    """
    if not isinstance(cert, Certificate):
        raise TypeError(f"cert: expected Certificate, got {type(cert).__name__}")
    if cert.is_implicit:
        raise ValueError("cert: an implicit certificate has no signature; reconstruct its key instead")
    signature = cert.value["signature"]
    alg = hash_algorithm_for_curve(_signature_curve(signature[0]))
    if cert.is_self_signed:
        if issuer is not None and issuer.encoded != cert.encoded:
            raise ValueError("issuer: a self-signed certificate is verified with its own key; pass None")
        if cert.value["issuer"][1] != alg:
            raise InvalidSignature(f"self-signed with {cert.value['issuer'][1]} but signature is {signature[0]}")
        key = cert.public_key()
        signer_input = b""
    else:
        if issuer is None:
            raise ValueError("issuer: required for a certificate that is not self-signed")
        if cert.issuer_id != issuer.hashed_id8:
            # The issuer field lies outside toBeSigned; only this comparison binds it to the issuer.
            named = (cert.issuer_id or b"").hex()
            raise InvalidSignature(f"certificate names issuer {named}, not {issuer.hashed_id8.hex()}")
        if issuer_key is None:
            if issuer.is_implicit:
                raise ValueError("issuer_key: required when the issuer is an implicit certificate")
            issuer_key = issuer.public_key()
        key = issuer_key
        signer_input = issuer.encoded
    ecdsa.verify(key, signing_digest(cert.tbs_encoded, signer_input, alg), signature)
