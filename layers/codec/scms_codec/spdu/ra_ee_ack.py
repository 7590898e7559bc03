"""RaEeCertAck, RaEeCertInfo and their SPDUs, 1609.2.1 §6.3.5 (protocol.md §1.2 rows 5, 10, 13)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..cert.certificate import Certificate
from ..errors import SpduShapeError
from ..secured.signed_data import Resolver
from ..secured.signer import Signer
from ._wrap import build_signed, build_unsecured, open_signed, open_unsecured, parse_signed
from .opened import Opened
from .scms_pdu import SCMS_PDU_VERSION, ContentPath, request_hash

__all__ = [
    "RaEeCertAck",
    "RaEeCertInfo",
    "build_ra_ee_cert_ack",
    "build_ra_ee_cert_info",
    "build_ra_ee_enrollment_cert_ack",
    "parse_ra_ee_cert_ack",
    "parse_ra_ee_cert_info",
    "parse_ra_ee_enrollment_cert_ack",
]


@dataclass(frozen=True)
class RaEeCertAck:
    """``RaEeCertAck``: the RA accepted an authorization request (protocol.md §3.3 step 3)."""

    PATH: ClassVar[ContentPath] = ("ee-ra", "raEeCertAck")

    generation_time: int
    request_hash: bytes
    next_dl_time: int
    first_i: int | None = None

    def to_asn1(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "version": SCMS_PDU_VERSION,
            "generationTime": self.generation_time,
            "requestHash": self.request_hash,
            "nextDlTime": self.next_dl_time,
        }
        if self.first_i is not None:
            value["firstI"] = self.first_i
        return value

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> RaEeCertAck:
        return cls(value["generationTime"], value["requestHash"], value["nextDlTime"], value.get("firstI"))


@dataclass(frozen=True)
class RaEeCertInfo:
    """``RaEeCertInfo``: batch i's ``.info`` file or a successor-enrollment ack (protocol.md §2.3, §3.4)."""

    PATH: ClassVar[ContentPath] = ("ee-ra", "raEeCertInfo")

    generation_time: int
    current_i: int
    request_hash: bytes
    next_dl_time: int
    acpc_tree_id: bytes | None = None

    def to_asn1(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "version": SCMS_PDU_VERSION,
            "generationTime": self.generation_time,
            "currentI": self.current_i,
            "requestHash": self.request_hash,
            "nextDlTime": self.next_dl_time,
        }
        if self.acpc_tree_id is not None:
            value["acpcTreeId"] = self.acpc_tree_id
        return value

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> RaEeCertInfo:
        return cls(
            value["generationTime"],
            value["currentI"],
            value["requestHash"],
            value["nextDlTime"],
            value.get("acpcTreeId"),
        )


def _no_acpc(info: RaEeCertInfo, spdu_name: str, error: type[Exception]) -> None:
    # Both SPDUs constrain acpcTreeId ABSENT; the ACPC form is RaEeCertAndAcpcInfoSpdu.
    if info.acpc_tree_id is not None:
        raise error(f"{spdu_name}: acpcTreeId must be absent")


def build_ra_ee_cert_ack(content: RaEeCertAck, signer: Signer) -> bytes:
    """``RaEeCertAckSpdu``: Signed{ScmsPdu, 35} by the RA (protocol.md §3.3 step 3)."""
    if not isinstance(content, RaEeCertAck):
        raise TypeError(f"content: expected RaEeCertAck, got {type(content).__name__}")
    return build_signed(content, signer)


def parse_ra_ee_cert_ack(
    data: bytes, *, issuer: Certificate | None = None, resolve_signer: Resolver | None = None
) -> Opened[RaEeCertAck]:
    """Open a ``RaEeCertAckSpdu`` at the EE: shape, path, RA signature (protocol.md §3.3 step 3)."""
    return parse_signed(data, RaEeCertAck, issuer=issuer, resolve_signer=resolve_signer)


def build_ra_ee_cert_info(content: RaEeCertInfo) -> bytes:
    """``RaEeCertInfoSpdu``: the unsecured ``.info`` file of a batch zip (protocol.md §2.3)."""
    if not isinstance(content, RaEeCertInfo):
        raise TypeError(f"content: expected RaEeCertInfo, got {type(content).__name__}")
    _no_acpc(content, "content", ValueError)
    return build_unsecured(content)


def parse_ra_ee_cert_info(data: bytes) -> Opened[RaEeCertInfo]:
    """Open a ``RaEeCertInfoSpdu`` (unsecured, acpcTreeId absent), protocol.md §2.3."""
    info = RaEeCertInfo.from_asn1(open_unsecured(data, RaEeCertInfo.PATH))
    _no_acpc(info, "RaEeCertInfoSpdu", SpduShapeError)
    return Opened(info, request_hash(data))


def build_ra_ee_enrollment_cert_ack(content: RaEeCertInfo, signer: Signer) -> bytes:
    """``RaEeEnrollmentCertAckSpdu``: RA-signed RaEeCertInfo for a successor request (protocol.md §3.4 step 2)."""
    if not isinstance(content, RaEeCertInfo):
        raise TypeError(f"content: expected RaEeCertInfo, got {type(content).__name__}")
    _no_acpc(content, "content", ValueError)
    return build_signed(content, signer)


def parse_ra_ee_enrollment_cert_ack(
    data: bytes, *, issuer: Certificate | None = None, resolve_signer: Resolver | None = None
) -> Opened[RaEeCertInfo]:
    """Open a ``RaEeEnrollmentCertAckSpdu`` at the EE (protocol.md §3.4 step 2)."""
    content, signer = open_signed(data, RaEeCertInfo.PATH, issuer=issuer, resolve_signer=resolve_signer)
    info = RaEeCertInfo.from_asn1(content)
    _no_acpc(info, "RaEeEnrollmentCertAckSpdu", SpduShapeError)
    return Opened(info, request_hash(data), signer)
