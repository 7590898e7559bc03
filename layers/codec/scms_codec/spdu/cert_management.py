"""CertManagementPdu contents: CTLs, chain files, composite CRLs, info status (1609.2.1 §8, protocol.md §3.5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..asn1 import decode, encode, opentypes
from ..cert.certificate import Certificate
from ..secured.signed_data import Resolver
from ..secured.signer import Signer
from ._values import data_bytes, data_value
from ._wrap import build_signed, build_unsecured, parse_signed, parse_unsecured
from .opened import Opened
from .scms_pdu import ContentPath

__all__ = [
    "CertificateChain",
    "CertificateManagementInfoStatus",
    "CompositeCrl",
    "CrlInfoStatus",
    "CtlInfoStatus",
    "FullIeeeTbsCtl",
    "MaInfoStatus",
    "MultiSignedCtl",
    "ToBeSignedCtlSignature",
    "build_certificate_chain_spdu",
    "build_composite_crl_spdu",
    "build_info_status_spdu",
    "parse_certificate_chain_spdu",
    "parse_composite_crl_spdu",
    "parse_info_status_spdu",
]


@dataclass(frozen=True)
class ToBeSignedCtlSignature:
    """``ToBeSignedCtlSignature``: what one elector signs for a CTL (protocol.md §3.5)."""

    PATH: ClassVar[ContentPath] = ("cert", "tbsCtlSignature")

    ctl_series_id: bytes
    ctl_type: int
    sequence_number: int
    tbs_ctl_hash: bytes

    def to_asn1(self) -> dict[str, Any]:
        return {
            "ctlSeriesId": self.ctl_series_id,
            "ctlType": self.ctl_type,
            "sequenceNumber": self.sequence_number,
            "tbsCtlHash": self.tbs_ctl_hash,
        }

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> ToBeSignedCtlSignature:
        return cls(value["ctlSeriesId"], value["ctlType"], value["sequenceNumber"], value["tbsCtlHash"])


@dataclass(frozen=True)
class FullIeeeTbsCtl:
    """``FullIeeeTbsCtl``: the electors and roots a CTL approves (protocol.md §3.5)."""

    ctl_series_id: bytes
    sequence_number: int
    effective_date: int
    elector_approve: tuple[bytes, ...]
    root_ca_approve: tuple[bytes, ...]
    elector_remove: tuple[bytes, ...] = ()
    root_ca_remove: tuple[bytes, ...] = ()
    quorum: int | None = None
    """Mandatory in 1609.2.1-2022, but an extension addition that older CTLs lack."""

    def to_asn1(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "type": opentypes.MSCTL_FULL_IEEE,
            "ctlSeriesId": self.ctl_series_id,
            "sequenceNumber": self.sequence_number,
            "effectiveDate": self.effective_date,
            "electorApprove": list(self.elector_approve),
            "electorRemove": list(self.elector_remove),
            "rootCaApprove": list(self.root_ca_approve),
            "rootCaRemove": list(self.root_ca_remove),
        }
        if self.quorum is not None:
            value["quorum"] = self.quorum
        return value

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> FullIeeeTbsCtl:
        return cls(
            value["ctlSeriesId"],
            value["sequenceNumber"],
            value["effectiveDate"],
            tuple(value["electorApprove"]),
            tuple(value["rootCaApprove"]),
            tuple(value["electorRemove"]),
            tuple(value["rootCaRemove"]),
            value.get("quorum"),
        )


@dataclass(frozen=True)
class MultiSignedCtl:
    """``MultiSignedCtl`` (fullIeeeCtl): the CTL, its unsigned certificates and elector signatures."""

    PATH: ClassVar[ContentPath] = ("cert", "multiSignedCtl")

    tbs_ctl: FullIeeeTbsCtl
    unsigned: tuple[bytes, ...]
    """COER ``Certificate`` each, kept as octets: OpenSCMS electors lack every permission field,
    which ``Certificate`` rejects, and that must not make the whole CTL unreadable."""
    signatures: tuple[bytes, ...]
    """COER ``CtlSignatureSpdu`` each; ``spdu.ctl.verify_ctl_signatures`` verifies them."""

    def to_asn1(self) -> dict[str, Any]:
        return opentypes.encode_multi_signed_ctl(
            self.tbs_ctl.to_asn1(),
            [decode("Certificate", c) for c in self.unsigned],
            [data_value(s) for s in self.signatures],
        )

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> MultiSignedCtl:
        tbs, unsigned = opentypes.decode_multi_signed_ctl(value)
        return cls(
            FullIeeeTbsCtl.from_asn1(tbs),
            tuple(encode("Certificate", c) for c in unsigned),
            tuple(data_bytes(s) for s in value["signatures"]),
        )

    def unsigned_certificates(self) -> tuple[Certificate, ...]:
        """The unsigned certificates as ``Certificate`` (DecodeError for one that breaks 1609.2)."""
        return tuple(Certificate.from_bytes(c) for c in self.unsigned)


@dataclass(frozen=True)
class CertificateChain:
    """``CertificateChain``: the CCF, home CTL plus CA and MA certificates (protocol.md §3.5)."""

    PATH: ClassVar[ContentPath] = ("cert", "certificateChain")

    home_ctl: bytes
    """COER ``MultiSignedCtlSpdu``."""
    others: tuple[Certificate, ...]

    def to_asn1(self) -> dict[str, Any]:
        return {"homeCtl": data_value(self.home_ctl), "others": [c.value for c in self.others]}

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> CertificateChain:
        return cls(data_bytes(value["homeCtl"]), tuple(Certificate.from_value(c) for c in value["others"]))


@dataclass(frozen=True)
class CompositeCrl:
    """``CompositeCrl``: every CRL an EE needs plus the home CTL (protocol.md §3.5)."""

    PATH: ClassVar[ContentPath] = ("cert", "compositeCrl")

    crls: tuple[bytes, ...]
    """COER ``SecuredCrl`` each."""
    home_ctl: bytes
    """COER ``MultiSignedCtlSpdu``."""

    def to_asn1(self) -> dict[str, Any]:
        return {"crl": [data_value(c) for c in self.crls], "homeCtl": data_value(self.home_ctl)}

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> CompositeCrl:
        return cls(tuple(data_bytes(c) for c in value["crl"]), data_bytes(value["homeCtl"]))


@dataclass(frozen=True)
class CrlInfoStatus:
    """``CrlInfoStatus``: the latest CRL of one (CRACA, series)."""

    craca_id: bytes
    series: int
    issue_date: int


@dataclass(frozen=True)
class CtlInfoStatus:
    """``CtlInfoStatus``: the latest CTL of one series."""

    ctl_series_id: bytes
    sequence_number: int
    last_update: int


@dataclass(frozen=True)
class MaInfoStatus:
    """``MaInfoStatus``: when the MA certificates for these PSIDs last changed."""

    psids: tuple[int, ...]
    updated: int


@dataclass(frozen=True)
class CertificateManagementInfoStatus:
    """``CertificateManagementInfoStatus``: what changed, for EEs polling (protocol.md §3.5)."""

    PATH: ClassVar[ContentPath] = ("cert", "infoStatus")

    crl: tuple[CrlInfoStatus, ...]
    ctl: tuple[CtlInfoStatus, ...]
    ca_ccf: int
    ma: tuple[MaInfoStatus, ...] = ()
    ra: int | None = None

    def to_asn1(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "crl": [{"cracaId": c.craca_id, "series": c.series, "issueDate": c.issue_date} for c in self.crl],
            "ctl": [
                {"ctlSeriesId": c.ctl_series_id, "sequenceNumber": c.sequence_number, "lastUpdate": c.last_update}
                for c in self.ctl
            ],
            "caCcf": self.ca_ccf,
            "ma": [{"psids": list(m.psids), "updated": m.updated} for m in self.ma],
        }
        if self.ra is not None:
            value["ra"] = self.ra
        return value

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> CertificateManagementInfoStatus:
        return cls(
            tuple(CrlInfoStatus(c["cracaId"], c["series"], c["issueDate"]) for c in value["crl"]),
            tuple(CtlInfoStatus(c["ctlSeriesId"], c["sequenceNumber"], c["lastUpdate"]) for c in value["ctl"]),
            value["caCcf"],
            tuple(MaInfoStatus(tuple(m["psids"]), m["updated"]) for m in value["ma"]),
            value.get("ra"),
        )


def build_certificate_chain_spdu(content: CertificateChain) -> bytes:
    """``CertificateChainSpdu``: Unsecured{ScmsPdu} (protocol.md §1.2 row 16)."""
    if not isinstance(content, CertificateChain):
        raise TypeError(f"content: expected CertificateChain, got {type(content).__name__}")
    return build_unsecured(content)


def parse_certificate_chain_spdu(data: bytes) -> Opened[CertificateChain]:
    """Open a ``CertificateChainSpdu``; its home CTL is verified separately (``spdu.ctl``)."""
    return parse_unsecured(data, CertificateChain)


def build_composite_crl_spdu(content: CompositeCrl) -> bytes:
    """``CompositeCrlSpdu``: Unsecured{ScmsPdu} (protocol.md §1.2 row 16)."""
    if not isinstance(content, CompositeCrl):
        raise TypeError(f"content: expected CompositeCrl, got {type(content).__name__}")
    return build_unsecured(content)


def parse_composite_crl_spdu(data: bytes) -> Opened[CompositeCrl]:
    """Open a ``CompositeCrlSpdu``; each CRL is opened with ``spdu.crl.parse_secured_crl``."""
    return parse_unsecured(data, CompositeCrl)


def build_info_status_spdu(content: CertificateManagementInfoStatus, signer: Signer) -> bytes:
    """``CertificateManagementInformationStatusSpdu``: Signed{ScmsPdu, 35} by the RA or DC (protocol.md §3.5)."""
    if not isinstance(content, CertificateManagementInfoStatus):
        raise TypeError(f"content: expected CertificateManagementInfoStatus, got {type(content).__name__}")
    return build_signed(content, signer)


def parse_info_status_spdu(
    data: bytes, *, issuer: Certificate | None = None, resolve_signer: Resolver | None = None
) -> Opened[CertificateManagementInfoStatus]:
    """Open a ``CertificateManagementInformationStatusSpdu``: shape, path, signature (protocol.md §3.5)."""
    return parse_signed(data, CertificateManagementInfoStatus, issuer=issuer, resolve_signer=resolve_signer)
