"""``Ieee1609Dot2Data-SignedCertRequest{T, signer}``: SignedCertificateRequest (1609.2.1 §6.3.2.3).

Data input = COER(tbsRequest) as received; signer input = b"" for ``self``, else the signer
certificate (1609.2a §5.3.1, protocol.md §1.3 and §4.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from .. import asn1
from ..cert.certificate import Certificate
from ..crypto import ecdsa
from ..crypto.hashing import signing_digest
from ..crypto.keys import verification_key_from_asn1
from ..errors import InvalidSignature, SpduShapeError
from ._content import content_as, data_value, decode_data, require_bytes
from .signed_data import Resolver, signer_key
from .signer import Signer, hash_algorithm_for_key

__all__ = ["SelfKey", "VerifiedRequest", "open_cert_request", "requested_verification_key", "sign_cert_request"]

SelfKey = Callable[[dict[str, Any]], ec.EllipticCurvePublicKey]

# The ScmsPdu alternatives a ScopedCertificateRequest allows (1609.2.1 §6.3.2.3) and their tbsCert holder.
_REQUEST_KINDS = {
    ("aca-ra", "raAcaCertRequest"),
    ("eca-ee", "eeEcaCertRequest"),
    ("ee-ra", "eeRaCertRequest"),
    ("ee-ra", "eeRaSuccessorEnrollmentCertRequest"),
}


@dataclass(frozen=True)
class VerifiedRequest:
    """A certificate request whose signature verified."""

    tbs_request: bytes  # COER of the ScmsPdu exactly as received (the signed bytes)
    scms_pdu: dict[str, Any]
    signer: Certificate | None  # None for ``self``
    verified_key: ec.EllipticCurvePublicKey = field(repr=False)


def requested_verification_key(scms_pdu: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    """The key in the request's ``tbsCert.verifyKeyIndicator.verificationKey`` (proof of possession, 1609.2.1 §6.3.3).

    The default ``self_key`` of ``open_cert_request``. An ECA whose request carries
    ``canonicalId`` passes a ``self_key`` that returns the registered canonical key instead.
    """
    _, (_, request) = scms_pdu["content"]
    tbs_cert = request.get("tbsCert") if isinstance(request, dict) else None
    if tbs_cert is None:
        raise SpduShapeError("self-signed request: the ScmsPdu carries no tbsCert")
    kind, key = tbs_cert["verifyKeyIndicator"]
    if kind != "verificationKey":
        raise SpduShapeError("self-signed request: tbsCert.verifyKeyIndicator is not a verificationKey")
    return verification_key_from_asn1(key)


def sign_cert_request(tbs_request: bytes, signer: Signer) -> bytes:
    """COER ``Ieee1609Dot2Data`` signedCertificateRequest over ``tbs_request`` (COER ScmsPdu), protocol.md §1.3.

    ``signer.certificate`` None gives ``self`` (signer input b""), else SignerSingleCert.
    """
    tbs_request = require_bytes("tbs_request", tbs_request)
    if not isinstance(signer, Signer):
        raise TypeError(f"signer: expected Signer, got {type(signer).__name__}")
    pdu = asn1.decode("ScmsPdu", tbs_request)
    if _request_kind(pdu) not in _REQUEST_KINDS:
        raise ValueError(f"tbs_request: {_request_kind(pdu)} is not a certificate request")
    alg = signer.hash_algorithm
    cert = signer.certificate
    identifier: tuple[str, Any] = ("self", None) if cert is None else ("certificate", [cert.value])
    request = {
        "hashAlgorithmId": alg,
        "tbsRequest": pdu,
        "signer": identifier,
        "signature": ecdsa.sign(signer.key, signing_digest(tbs_request, signer.signer_input, alg)),
    }
    inner = asn1.encode("SignedCertificateRequest", request)
    return asn1.encode("Ieee1609Dot2Data", data_value("signedCertificateRequest", inner))


def open_cert_request(
    data: bytes,
    *,
    self_key: SelfKey = requested_verification_key,
    issuer: Certificate | None = None,
    resolve_signer: Resolver | None = None,
) -> VerifiedRequest:
    """Parse, shape-check and verify a signed certificate request (protocol.md §1.3, §4.2).

    ``self`` requests are verified with ``self_key(scms_pdu)``: by default the key the request
    asks to certify. A certificate signer must be exactly one certificate; an implicit one
    needs ``issuer`` or ``resolve_signer`` for its issuer. Raises DecodeError/SpduShapeError
    (400-42) or InvalidSignature (400-43); the signer's chain is the caller's to check.
    """
    inner = content_as(decode_data(require_bytes("data", data)), "signedCertificateRequest", "cert request SPDU")
    request = asn1.decode("SignedCertificateRequest", inner)
    pdu = request["tbsRequest"]
    if _request_kind(pdu) not in _REQUEST_KINDS:
        raise SpduShapeError(f"cert request SPDU: {_request_kind(pdu)} is not a certificate request")
    # Strict decoding proved the received bytes canonical, so re-encoding gives them back exactly.
    tbs_request = asn1.encode("ScmsPdu", pdu)
    signer_kind, signer_value = request["signer"]
    cert: Certificate | None = None
    if signer_kind == "self":
        key, signer_input = self_key(pdu), b""
    elif signer_kind == "certificate":
        if len(signer_value) != 1:
            raise SpduShapeError(f"cert request SPDU: signer must be one certificate, got {len(signer_value)}")
        cert = Certificate.from_value(signer_value[0])
        key, signer_input = signer_key(cert, issuer=issuer, resolve_signer=resolve_signer), cert.encoded
    else:
        raise SpduShapeError(f"cert request SPDU: signer {signer_kind} is neither self nor one certificate")
    alg = request["hashAlgorithmId"]
    if hash_algorithm_for_key(key) != alg:
        raise InvalidSignature(f"cert request SPDU: hashAlgorithmId {alg} does not match the signer's curve")
    ecdsa.verify(key, signing_digest(tbs_request, signer_input, alg), request["signature"])
    return VerifiedRequest(tbs_request=tbs_request, scms_pdu=pdu, signer=cert, verified_key=key)


def _request_kind(pdu: dict[str, Any]) -> tuple[str, str]:
    interface, inner = pdu["content"]
    return interface, inner[0] if isinstance(inner, tuple) else ""
