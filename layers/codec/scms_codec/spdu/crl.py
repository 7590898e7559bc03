"""SecuredCrl and CrlContents, 1609.2 §7.3 (protocol.md §1.3, §3.5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..asn1 import decode, encode
from ..cert.certificate import Certificate
from ..errors import SpduShapeError
from ..secured.signed_data import Resolver, SignerForm, parse_signed_data, sign_data, verify_signed_data
from ..secured.signer import Signer
from .opened import Opened
from .scms_pdu import request_hash

__all__ = ["CRL_PSID", "CrlContents", "build_secured_crl", "parse_secured_crl"]

CRL_PSID = 256
"""``CrlPsid``: every SecuredCrl is signed under it (protocol.md §1.1)."""

CRL_VERSION = 1


@dataclass(frozen=True)
class CrlContents:
    """``CrlContents``: one CRL of a (CRACA, series); ``type_specific`` is the asn1tools CHOICE value."""

    crl_series: int
    crl_craca: bytes
    issue_date: int
    next_crl: int
    type_specific: tuple[str, Any]
    priority_info: dict[str, Any] = field(default_factory=dict)

    def to_asn1(self) -> dict[str, Any]:
        return {
            "version": CRL_VERSION,
            "crlSeries": self.crl_series,
            "crlCraca": self.crl_craca,
            "issueDate": self.issue_date,
            "nextCrl": self.next_crl,
            "priorityInfo": self.priority_info,
            "typeSpecific": self.type_specific,
        }

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> CrlContents:
        return cls(
            value["crlSeries"],
            value["crlCraca"],
            value["issueDate"],
            value["nextCrl"],
            value["typeSpecific"],
            value["priorityInfo"],
        )


def build_secured_crl(contents: CrlContents, signer: Signer, *, signer_form: SignerForm = "certificate") -> bytes:
    """``SecuredCrl``: Signed{CrlContents, 256}, headerInfo psid only, any signer form (protocol.md §1.3)."""
    if not isinstance(contents, CrlContents):
        raise TypeError(f"contents: expected CrlContents, got {type(contents).__name__}")
    if contents.next_crl <= contents.issue_date:
        raise ValueError("contents: next_crl must be after issue_date (protocol.md §3.5)")
    return sign_data(encode("CrlContents", contents.to_asn1()), CRL_PSID, signer, signer_form=signer_form)


def parse_secured_crl(
    data: bytes, *, issuer: Certificate | None = None, resolve_signer: Resolver | None = None
) -> Opened[CrlContents]:
    """Open a ``SecuredCrl``: psid 256 only, strict CrlContents, nextCrl > issueDate, signature (protocol.md §1.3).

    A ``digest`` signer (the ISS sample) needs ``resolve_signer``; whether the signer may sign
    this series (``CrlSsp``) is the caller's check.
    """
    parts = parse_signed_data(data, expected_psid=CRL_PSID)
    contents = CrlContents.from_asn1(decode("CrlContents", parts.payload))
    # "The CRL is invalid unless nextCrl is strictly after issueDate" (CrlBaseTypes); a parse
    # error, so it is reported before the signature (protocol.md §2.4).
    if contents.next_crl <= contents.issue_date:
        raise SpduShapeError("SecuredCrl: nextCrl is not after issueDate")
    verified = verify_signed_data(parts, issuer=issuer, resolve_signer=resolve_signer)
    return Opened(contents, request_hash(data), verified.signer)
