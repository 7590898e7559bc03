"""EeEcaCertRequest(Spdu) and EcaEeCertResponse(Spdu), 1609.2.1 §6.3.4.2 (protocol.md §1.2 rows 2-3, §3.2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from ..cert.certificate import Certificate
from ..errors import SpduShapeError
from ..secured.cert_request import SelfKey, requested_verification_key, sign_cert_request
from ..secured.signed_data import Resolver
from ..secured.signer import Signer
from ._wrap import build_signed, open_request, parse_signed, scms_pdu_bytes
from .opened import Opened
from .scms_pdu import SCMS_PDU_VERSION, ContentPath, request_hash

__all__ = [
    "CertificateType",
    "EcaEeCertResponse",
    "EeEcaCertRequest",
    "build_eca_ee_cert_response",
    "build_ee_eca_cert_request",
    "parse_eca_ee_cert_response",
    "parse_ee_eca_cert_request",
    "private_key_info_problem",
    "tbs_cert_violations",
]

CertificateType = Literal["explicit", "implicit"]

_ZERO_CRACA = b"\x00\x00\x00"


def tbs_cert_violations(
    tbs_cert: dict[str, Any], *, present: Sequence[str], absent: Sequence[str], linkage_allowed: bool = True
) -> tuple[str, ...]:
    """The request-side ``WITH COMPONENTS`` constraints ``tbs_cert`` breaks (protocol.md §3.2, §3.3).

    asn1tools does not enforce them, and public samples break some (non-zero ``cracaId``),
    so parsers report them and the authority's policy decides (400-32); builders refuse them.
    """
    problems = []
    if tbs_cert.get("cracaId") != _ZERO_CRACA:
        problems.append("cracaId is not 000000")
    if tbs_cert.get("crlSeries") != 0:
        problems.append("crlSeries is not 0")
    problems += [f"{name} is absent" for name in present if name not in tbs_cert]
    problems += [f"{name} is present" for name in absent if name in tbs_cert]
    if tbs_cert.get("verifyKeyIndicator", ("",))[0] != "verificationKey":
        problems.append("verifyKeyIndicator is not verificationKey")
    if not linkage_allowed and tbs_cert.get("id", ("",))[0] == "linkageData":
        problems.append("id is linkageData")
    return tuple(problems)


def private_key_info_problem(
    certificate: Certificate, private_key_info: bytes | None, *, butterfly_allowed: bool
) -> str | None:
    """Why ``privateKeyInfo`` is wrong for ``certificate``, or None (EcaEeInterface, AcaEeInterface comments).

    It must be present for an implicit certificate (r); for an explicit one it is present only
    as the butterfly randomisation value c, which an enrollment response never carries.
    """
    if certificate.is_implicit and private_key_info is None:
        return "privateKeyInfo is absent for an implicit certificate"
    if not certificate.is_implicit and private_key_info is not None and not butterfly_allowed:
        return "privateKeyInfo is present for an explicit certificate"
    return None


@dataclass(frozen=True)
class EeEcaCertRequest:
    """``EeEcaCertRequest``: an EE asks the ECA for an enrollment certificate (protocol.md §3.2)."""

    PATH: ClassVar[ContentPath] = ("eca-ee", "eeEcaCertRequest")

    generation_time: int
    type: CertificateType
    tbs_cert: dict[str, Any]
    canonical_id: str | None = None

    def to_asn1(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "version": SCMS_PDU_VERSION,
            "generationTime": self.generation_time,
            "type": self.type,
            "tbsCert": self.tbs_cert,
        }
        if self.canonical_id is not None:
            value["canonicalId"] = self.canonical_id
        return value

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> EeEcaCertRequest:
        return cls(value["generationTime"], value["type"], value["tbsCert"], value.get("canonicalId"))

    def violations(self) -> tuple[str, ...]:
        """Broken ``tbsCert`` constraints of ``EeEcaCertRequest`` (1609.2.1 §6.3.4.2, protocol.md §3.2)."""
        return tbs_cert_violations(
            self.tbs_cert,
            present=("certRequestPermissions",),
            absent=("appPermissions", "certIssuePermissions"),
            linkage_allowed=False,
        )


@dataclass(frozen=True)
class EcaEeCertResponse:
    """``EcaEeCertResponse``: the enrollment certificate and, if implicit, r (protocol.md §3.2 step 5)."""

    PATH: ClassVar[ContentPath] = ("eca-ee", "ecaEeCertResponse")

    generation_time: int
    request_hash: bytes
    eca_cert_chain: tuple[Certificate, ...]
    certificate: Certificate
    private_key_info: bytes | None = None

    def to_asn1(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "version": SCMS_PDU_VERSION,
            "generationTime": self.generation_time,
            "requestHash": self.request_hash,
            "ecaCertChain": [c.value for c in self.eca_cert_chain],
            "certificate": self.certificate.value,
        }
        if self.private_key_info is not None:
            value["privateKeyInfo"] = self.private_key_info
        return value

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> EcaEeCertResponse:
        return cls(
            value["generationTime"],
            value["requestHash"],
            tuple(Certificate.from_value(c) for c in value["ecaCertChain"]),
            Certificate.from_value(value["certificate"]),
            value.get("privateKeyInfo"),
        )


def build_ee_eca_cert_request(content: EeEcaCertRequest, key: ec.EllipticCurvePrivateKey) -> bytes:
    """``EeEcaCertRequestSpdu``: SignedCertificateRequest, signer ``self`` (protocol.md §3.2 step 2).

    ``key`` is the canonical private key when ``canonical_id`` is set, else the private key of
    the requested verification key (proof of possession).
    """
    if not isinstance(content, EeEcaCertRequest):
        raise TypeError(f"content: expected EeEcaCertRequest, got {type(content).__name__}")
    problems = content.violations()
    if problems:
        raise ValueError(f"content: tbs_cert breaks EeEcaCertRequest constraints: {'; '.join(problems)}")
    return sign_cert_request(scms_pdu_bytes(content), Signer(key))


def parse_ee_eca_cert_request(
    data: bytes, *, self_key: SelfKey = requested_verification_key
) -> Opened[EeEcaCertRequest]:
    """Open an ``EeEcaCertRequestSpdu`` at the ECA: shape, ScmsPdu path, self-signature (protocol.md §3.2 step 3).

    ``self_key`` gives the verification key from the decoded ScmsPdu: by default the requested
    key; an ECA passes a look-up of the registered canonical key when ``canonicalId`` is
    present. The tbsCert constraints are reported by ``violations()``, not enforced (policy).
    """
    content, _ = open_request(data, EeEcaCertRequest.PATH, self_signed=True, self_key=self_key)
    return Opened(EeEcaCertRequest.from_asn1(content), request_hash(data))


def build_eca_ee_cert_response(content: EcaEeCertResponse, signer: Signer) -> bytes:
    """``EcaEeCertResponseSpdu``: Signed{ScmsPdu, 35} by the ECA (protocol.md §3.2 step 5)."""
    if not isinstance(content, EcaEeCertResponse):
        raise TypeError(f"content: expected EcaEeCertResponse, got {type(content).__name__}")
    problem = private_key_info_problem(content.certificate, content.private_key_info, butterfly_allowed=False)
    if problem is not None:
        raise ValueError(f"content: {problem}")
    return build_signed(content, signer)


def parse_eca_ee_cert_response(
    data: bytes, *, issuer: Certificate | None = None, resolve_signer: Resolver | None = None
) -> Opened[EcaEeCertResponse]:
    """Open an ``EcaEeCertResponseSpdu`` at the EE: shape, path, ECA signature (protocol.md §3.2 step 5).

    The caller checks that ``requestHash`` is its request's and walks the ECA chain.
    """
    return parse_signed(
        data, EcaEeCertResponse, issuer=issuer, resolve_signer=resolve_signer, check=_check_eca_ee_response
    )


def _check_eca_ee_response(value: dict[str, Any]) -> None:
    problem = private_key_info_problem(
        Certificate.from_value(value["certificate"]), value.get("privateKeyInfo"), butterfly_allowed=False
    )
    if problem is not None:
        raise SpduShapeError(f"EcaEeCertResponse: {problem}")
