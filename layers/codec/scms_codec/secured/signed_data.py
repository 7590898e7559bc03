"""``Ieee1609Dot2Data-Signed{T, psid}``: SignedData building, parsing and verification.

1609.2 §5.3.1 and §6.3.4-§6.3.9; the wrapper shape is 1609.2.1 §6.3.2 (protocol.md §1.3, §4.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from ..cert.certificate import Certificate
from ..crypto import ecdsa
from ..crypto.hashing import HashAlgorithm, hashed_id8, signing_digest
from ..errors import InvalidSignature, SpduShapeError, UnsupportedAlgorithm
from . import template
from ._content import content_as, data_value, decode_data, require_bytes
from .canonical import canonical_tbs_data
from .signer import Signer, hash_algorithm_for_key

__all__ = [
    "Resolver",
    "SignedDataParts",
    "SignerForm",
    "VerifiedData",
    "open_signed_data",
    "parse_signed_data",
    "sign_data",
    "sign_tbs_data",
    "signer_key",
    "verify_signed_data",
]

SignerForm = Literal["certificate", "digest", "self"]
Resolver = Callable[[bytes], "Certificate | None"]

# The HeaderInfo fields a Signed{T, psid} SPDU may carry: psid alone (1609.2.1 §6.3.2, protocol.md §1.3).
_PSID_ONLY = frozenset({"psid"})
_ISSUER_HASH: dict[str, HashAlgorithm] = {"sha256AndDigest": "sha256", "sha384AndDigest": "sha384"}


@dataclass(frozen=True)
class SignedDataParts:
    """A shape-checked, not yet verified SignedData: what a verifier needs (protocol.md §1.3, §4.2)."""

    payload: bytes
    psid: int
    header_info: dict[str, Any]
    hash_algorithm: HashAlgorithm
    signer: tuple[str, Any]  # the SignerIdentifier CHOICE as received
    certificate: Certificate | None  # the signer certificate when signer is ``certificate``
    tbs_encoded: bytes = field(repr=False)  # COER of the canonicalised tbsData: the data input
    signature: tuple[str, Any] = field(repr=False)


@dataclass(frozen=True)
class VerifiedData:
    """The payload of a SignedData whose signature verified, and who signed it."""

    payload: bytes
    psid: int
    signer: Certificate | None  # None for a ``self`` signer
    signer_id: bytes | None  # HashedId8 of the signer certificate; None for ``self``
    header_info: dict[str, Any] = field(default_factory=dict)


def sign_data(payload: bytes, psid: int, signer: Signer, *, signer_form: SignerForm = "certificate") -> bytes:
    """COER ``Ieee1609Dot2Data-Signed{T, psid}`` of ``payload`` = COER(T), headerInfo psid only (protocol.md §1.3)."""
    payload = require_bytes("payload", payload)
    if not isinstance(psid, int) or isinstance(psid, bool) or psid < 0:
        raise ValueError("psid: expected a non-negative int")
    tbs = {"payload": {"data": data_value("unsecuredData", payload)}, "headerInfo": {"psid": psid}}
    return sign_tbs_data(tbs, signer, signer_form=signer_form)


def sign_tbs_data(tbs_data: dict[str, Any], signer: Signer, *, signer_form: SignerForm = "certificate") -> bytes:
    """COER ``Ieee1609Dot2Data`` signedData over any ``ToBeSignedData`` value, 1609.2 §5.3.1 (protocol.md §4.2).

    The signature covers H(H(COER canonical tbsData) ‖ H(COER signer certificate or b"" for self)).
    """
    if not isinstance(signer, Signer):
        raise TypeError(f"signer: expected Signer, got {type(signer).__name__}")
    if signer_form not in ("certificate", "digest", "self"):
        raise ValueError(f"signer_form: expected 'certificate', 'digest' or 'self', got {signer_form!r}")
    cert = signer.certificate
    if signer_form != "self" and cert is None:
        raise ValueError(f"signer: signer_form {signer_form!r} needs a certificate")
    tbs = canonical_tbs_data(tbs_data)
    alg = signer.hash_algorithm
    signer_input = b"" if signer_form == "self" or cert is None else cert.encoded
    tbs_coer = template.encode("ToBeSignedData", tbs)
    digest = signing_digest(tbs_coer, signer_input, alg)
    # The SignedData octets are assembled from the tbsData just hashed and the signer
    # certificate's own canonical COER, so neither is encoded twice (performance.md §4).
    if signer_form == "self" or cert is None:
        identifier = template.signer_identifier("self")
    elif signer_form == "digest":
        identifier = template.signer_identifier("digest", digest=cert.hashed_id8)
    else:
        identifier = template.signer_identifier("certificate", certificate_coer=cert.encoded)
    return template.signed_data_from_parts(alg, tbs_coer, identifier, ecdsa.sign(signer.key, digest))


def parse_signed_data(data: bytes, *, expected_psid: int | None, psid_only_header: bool = True) -> SignedDataParts:
    """Decode and shape-check a ``Signed{T, psid}`` SPDU without verifying it (protocol.md §1.3).

    Rejected as ``SpduShapeError``: another content choice, a payload that is not data holding
    ``unsecuredData``, another psid, header fields besides psid (unless ``psid_only_header`` is
    False, for general 1609.2 traffic such as BSMs), and a certificate signer with other than
    exactly one certificate.
    """
    signed = content_as(decode_data(require_bytes("data", data)), "signedData", "signed SPDU")
    tbs = signed["tbsData"]
    payload = tbs["payload"]
    if set(payload) != {"data"}:
        raise SpduShapeError("signed SPDU: payload must be data only (no extDataHash, no omitted)")
    inner = content_as(payload["data"], "unsecuredData", "signed SPDU payload")
    header = tbs["headerInfo"]
    psid = header["psid"]
    if expected_psid is not None and psid != expected_psid:
        raise SpduShapeError(f"signed SPDU: psid {psid}, expected {expected_psid}")
    if psid_only_header and set(header) != _PSID_ONLY:
        extra = ", ".join(sorted(set(header) - _PSID_ONLY))
        raise SpduShapeError(f"signed SPDU: headerInfo must hold psid only, also has {extra}")
    alg = signed["hashId"]
    if alg not in ("sha256", "sha384"):
        raise UnsupportedAlgorithm(f"signed SPDU: hashId {alg} is not supported")
    signer = signed["signer"]
    certificate = None
    if signer[0] == "certificate":
        if len(signer[1]) != 1:
            raise SpduShapeError(f"signed SPDU: signer must hold exactly one certificate, got {len(signer[1])}")
        certificate = Certificate.from_value(signer[1][0])
    return SignedDataParts(
        payload=inner,
        psid=psid,
        header_info=header,
        hash_algorithm=alg,
        signer=signer,
        certificate=certificate,
        tbs_encoded=template.encode("ToBeSignedData", canonical_tbs_data(tbs)),
        signature=signed["signature"],
    )


def verify_signed_data(
    parts: SignedDataParts,
    *,
    resolve_signer: Resolver | None = None,
    issuer: Certificate | None = None,
    self_key: ec.EllipticCurvePublicKey | None = None,
) -> VerifiedData:
    """Verify the signature of parsed SignedData, 1609.2 §5.3.1 (protocol.md §4.2); InvalidSignature if not.

    ``resolve_signer`` maps a HashedId8 to a known certificate (None or KeyError if unknown): it names a ``digest``
    signer and the issuer of an implicit signer certificate. ``issuer`` gives that issuer
    directly. ``self_key`` is the key for a ``self`` signer; without it ``self`` is refused.
    """
    signer_kind, signer_value = parts.signer
    cert: Certificate | None
    if signer_kind == "self":
        if self_key is None:
            raise InvalidSignature("signed SPDU: self signer, and no self_key was given to verify it")
        key, cert, signer_input = self_key, None, b""
    else:
        cert = parts.certificate if signer_kind == "certificate" else None
        if cert is None:
            cert = _resolve(resolve_signer, signer_value, "signer digest")
            if cert.hashed_id8 != signer_value:
                raise InvalidSignature("signer digest: the resolved certificate has another HashedId8")
        key = signer_key(cert, issuer=issuer, resolve_signer=resolve_signer)
        signer_input = cert.encoded
    if hash_algorithm_for_key(key) != parts.hash_algorithm:
        raise InvalidSignature(f"signed SPDU: hashId {parts.hash_algorithm} does not match the signer's curve")
    ecdsa.verify(key, signing_digest(parts.tbs_encoded, signer_input, parts.hash_algorithm), parts.signature)
    return VerifiedData(
        payload=parts.payload,
        psid=parts.psid,
        signer=cert,
        signer_id=None if cert is None else cert.hashed_id8,
        header_info=parts.header_info,
    )


def open_signed_data(
    data: bytes,
    *,
    expected_psid: int | None,
    resolve_signer: Resolver | None = None,
    issuer: Certificate | None = None,
    self_key: ec.EllipticCurvePublicKey | None = None,
    psid_only_header: bool = True,
) -> VerifiedData:
    """Parse, shape-check and verify a ``Signed{T, psid}`` SPDU (protocol.md §1.3, §4.2).

    Raises DecodeError / SpduShapeError (400-42) or InvalidSignature (400-43). Trust in the
    signer certificate (its chain) is the caller's to check with ``cert.chain.verify_chain``.
    """
    parts = parse_signed_data(data, expected_psid=expected_psid, psid_only_header=psid_only_header)
    return verify_signed_data(parts, resolve_signer=resolve_signer, issuer=issuer, self_key=self_key)


def signer_key(
    cert: Certificate, *, issuer: Certificate | None = None, resolve_signer: Resolver | None = None
) -> ec.EllipticCurvePublicKey:
    """The verification key of a signer certificate; an implicit one needs its issuer (protocol.md §4.3)."""
    if not cert.is_implicit:
        return cert.public_key()
    return cert.public_key(_issuer_of(cert, issuer, resolve_signer))


def _resolve(resolver: Resolver | None, digest: bytes, what: str) -> Certificate:
    try:
        cert = None if resolver is None else resolver(digest)
    except KeyError:  # a mapping's __getitem__ is a fine resolver too
        cert = None
    if cert is None:
        raise InvalidSignature(f"{what} {digest.hex()} names no known certificate")
    return cert


def _issuer_of(cert: Certificate, issuer: Certificate | None, resolver: Resolver | None) -> Certificate:
    # An implicit certificate's key exists only with its issuer (ECQV, protocol.md §4.3), and the
    # issuer must be the one the certificate names, or the reconstructed key is silently wrong.
    kind, issuer_id = cert.value["issuer"]
    if kind not in _ISSUER_HASH:
        raise InvalidSignature("implicit signer certificate is self-issued, which 1609.2 does not allow")
    if issuer is None:
        issuer = _resolve(resolver, issuer_id, "implicit signer's issuer")
    if hashed_id8(issuer.encoded, _ISSUER_HASH[kind]) != issuer_id:
        raise InvalidSignature("the given issuer is not the one the implicit signer certificate names")
    return issuer
