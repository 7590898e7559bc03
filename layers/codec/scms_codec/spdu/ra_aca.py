"""RaAcaCertRequest(Spdu), LinkageInfo, AcaRaCertResponse(Spdu), 1609.2.1 §6.3.5 (protocol.md §1.2 rows 7-8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from ..cert.certificate import Certificate
from ..crypto.keys import encryption_key_from_asn1, encryption_key_to_asn1
from ..secured.cert_request import sign_cert_request
from ..secured.signed_data import Resolver
from ..secured.signer import Signer
from ._values import data_bytes, data_value
from ._wrap import build_signed, open_request, parse_signed, scms_pdu_bytes
from .eca_ee import CertificateType, tbs_cert_violations
from .opened import Opened
from .scms_pdu import SCMS_PDU_VERSION, ContentPath, request_hash

__all__ = [
    "AcaRaCertResponse",
    "AcaResponseKind",
    "EncryptedIndividualPLV",
    "LinkageInfo",
    "RaAcaCertRequest",
    "build_aca_ra_cert_response",
    "build_ra_aca_cert_request",
    "parse_aca_ra_cert_response",
    "parse_ra_aca_cert_request",
]

# RaAcaCertRequestFlags ::= BIT STRING {butterflyExplicit (0), cubk (1)} (SIZE (8)).
_BUTTERFLY_EXPLICIT = 0x80
_CUBK = 0x40

AcaResponseKind = Literal["plain", "private", "cubk"]


@dataclass(frozen=True)
class EncryptedIndividualPLV:
    """``EncryptedIndividualPLV``: one LA's PLV, symmetrically encrypted for the ACA (protocol.md §3.3)."""

    la_id: bytes
    enc_plv: bytes
    """COER ``Ieee1609Dot2Data`` (SymmEncryptedSingleRecipient {PreLinkageValue})."""

    def to_asn1(self) -> dict[str, Any]:
        return {"version": SCMS_PDU_VERSION, "laId": self.la_id, "encPlv": data_value(self.enc_plv)}

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> EncryptedIndividualPLV:
        return cls(value["laId"], data_bytes(value["encPlv"]))


@dataclass(frozen=True)
class LinkageInfo:
    """``LinkageInfo``: the two encrypted PLVs the ACA XORs into the linkage value (protocol.md §3.3)."""

    enc_plv1: EncryptedIndividualPLV
    enc_plv2: EncryptedIndividualPLV

    def to_asn1(self) -> dict[str, Any]:
        return {"encPlv1": self.enc_plv1.to_asn1(), "encPlv2": self.enc_plv2.to_asn1()}

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> LinkageInfo:
        plv = EncryptedIndividualPLV.from_asn1
        return cls(plv(value["encPlv1"]), plv(value["encPlv2"]))


@dataclass(frozen=True)
class RaAcaCertRequest:
    """``RaAcaCertRequest``: one shuffled certificate request from the RA (protocol.md §3.3 step 2)."""

    PATH: ClassVar[ContentPath] = ("aca-ra", "raAcaCertRequest")

    generation_time: int
    type: CertificateType
    tbs_cert: dict[str, Any]
    butterfly_explicit: bool = False
    cubk: bool = False
    linkage_info: LinkageInfo | None = None
    cert_enc_key: EllipticCurvePublicKey | None = None

    @property
    def response_kind(self) -> AcaResponseKind:
        """Which ``AcaResponse`` the ACA answers with (protocol.md §3.3, the certEncKey/cubk table)."""
        if self.cubk and self.cert_enc_key is not None:
            raise ValueError("cert_enc_key and cubk together are invalid (protocol.md §3.3)")
        if self.cubk:
            return "cubk"
        return "plain" if self.cert_enc_key is None else "private"

    def to_asn1(self) -> dict[str, Any]:
        flags = (_BUTTERFLY_EXPLICIT if self.butterfly_explicit else 0) | (_CUBK if self.cubk else 0)
        value: dict[str, Any] = {
            "version": SCMS_PDU_VERSION,
            "generationTime": self.generation_time,
            "type": self.type,
            "flags": (bytes([flags]), 8),
            "tbsCert": self.tbs_cert,
        }
        if self.linkage_info is not None:
            value["linkageInfo"] = self.linkage_info.to_asn1()
        if self.cert_enc_key is not None:
            value["certEncKey"] = encryption_key_to_asn1(self.cert_enc_key)
        return value

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> RaAcaCertRequest:
        flags = value["flags"][0][0]
        linkage = value.get("linkageInfo")
        key = value.get("certEncKey")
        return cls(
            value["generationTime"],
            value["type"],
            value["tbsCert"],
            butterfly_explicit=bool(flags & _BUTTERFLY_EXPLICIT),
            cubk=bool(flags & _CUBK),
            linkage_info=None if linkage is None else LinkageInfo.from_asn1(linkage),
            cert_enc_key=None if key is None else encryption_key_from_asn1(key),
        )

    def violations(self) -> tuple[str, ...]:
        """Broken constraints of ``RaAcaCertRequest`` (1609.2.1 §6.3.5, protocol.md §3.3 step 2)."""
        problems = list(
            tbs_cert_violations(
                self.tbs_cert,
                present=("appPermissions",),
                absent=("certIssuePermissions", "certRequestPermissions"),
            )
        )
        # The verifyKeyIndicator choice follows the certificate type, not the EE rule above.
        problems = [p for p in problems if not p.startswith("verifyKeyIndicator")]
        expected = "verificationKey" if self.type == "explicit" else "reconstructionValue"
        if self.tbs_cert.get("verifyKeyIndicator", ("",))[0] != expected:
            problems.append(f"verifyKeyIndicator is not {expected} for a {self.type} certificate")
        if self.cubk and self.cert_enc_key is not None:
            problems.append("certEncKey present with flags.cubk")
        # The AcaRaInterface comments: butterflyExplicit is valid only for an explicit type, and
        # linkageInfo says that tbsCert.id is linkageData whose dummy value the ACA replaces.
        if self.butterfly_explicit and self.type != "explicit":
            problems.append("flags.butterflyExplicit set for an implicit certificate")
        if self.linkage_info is not None and self.tbs_cert.get("id", ("",))[0] != "linkageData":
            problems.append("linkageInfo present but tbsCert.id is not linkageData")
        return tuple(problems)


@dataclass(frozen=True)
class AcaRaCertResponse:
    """``AcaRaCertResponse``: the ACA's answer to one ``RaAcaCertRequestSpdu`` (protocol.md §3.3)."""

    PATH: ClassVar[ContentPath] = ("aca-ra", "acaRaCertResponse")

    generation_time: int
    request_hash: bytes
    response_kind: AcaResponseKind
    response_spdu: bytes
    """COER of the AcaEeCertResponse{Plain,Private,Cubk}Spdu: the file the RA serves as ``<i>_<j>``."""

    def to_asn1(self) -> dict[str, Any]:
        return {
            "version": SCMS_PDU_VERSION,
            "generationTime": self.generation_time,
            "requestHash": self.request_hash,
            "acaResponse": (self.response_kind, data_value(self.response_spdu)),
        }

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> AcaRaCertResponse:
        kind, spdu = value["acaResponse"]
        return cls(value["generationTime"], value["requestHash"], kind, data_bytes(spdu))


def build_ra_aca_cert_request(content: RaAcaCertRequest, signer: Signer) -> bytes:
    """``RaAcaCertRequestSpdu``: SignedCertRequest{ScmsPdu, RA certificate} (protocol.md §3.3 step 3)."""
    if not isinstance(content, RaAcaCertRequest):
        raise TypeError(f"content: expected RaAcaCertRequest, got {type(content).__name__}")
    if signer.certificate is None:
        raise ValueError("signer: a RaAcaCertRequestSpdu is signed by the RA certificate, not self")
    problems = content.violations()
    if problems:
        raise ValueError(f"content: breaks RaAcaCertRequest constraints: {'; '.join(problems)}")
    return sign_cert_request(scms_pdu_bytes(content), signer)


def parse_ra_aca_cert_request(
    data: bytes, *, issuer: Certificate | None = None, resolve_signer: Resolver | None = None
) -> Opened[RaAcaCertRequest]:
    """Open a ``RaAcaCertRequestSpdu`` at the ACA: shape, path, RA signature (protocol.md §3.3, ACA).

    The ACA then checks the RA chain, ``certRequestPermissions`` and ``violations()``;
    ``spdu_hash`` is the response's requestHash.
    """
    content, verified = open_request(
        data, RaAcaCertRequest.PATH, self_signed=False, issuer=issuer, resolve_signer=resolve_signer
    )
    return Opened(RaAcaCertRequest.from_asn1(content), request_hash(data), verified.signer)


def build_aca_ra_cert_response(content: AcaRaCertResponse, signer: Signer) -> bytes:
    """``AcaRaCertResponseSpdu``: Signed{ScmsPdu, 35} by the ACA (protocol.md §3.3, ACA)."""
    if not isinstance(content, AcaRaCertResponse):
        raise TypeError(f"content: expected AcaRaCertResponse, got {type(content).__name__}")
    return build_signed(content, signer)


def parse_aca_ra_cert_response(
    data: bytes, *, issuer: Certificate | None = None, resolve_signer: Resolver | None = None
) -> Opened[AcaRaCertResponse]:
    """Open an ``AcaRaCertResponseSpdu`` at the RA: shape, path, ACA signature (protocol.md §3.3)."""
    return parse_signed(data, AcaRaCertResponse, issuer=issuer, resolve_signer=resolve_signer)
