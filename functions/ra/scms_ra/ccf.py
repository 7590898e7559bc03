"""The public certificate chain file, ``GET /v3/ccf-ctl?ctlSeriesId=`` (6.3.5.7 / 8.4; protocol.md §2.2, §3.5).

The file is a ``CertificateChainSpdu`` (unsecured): ``homeCtl`` is the newest ``MultiSignedCtlSpdu``
of the requested series, ``others`` the CA certificates below the roots that CTL approves (ICA, ECA,
ACA, RA, LA1, LA2, MA, CRLG): every active one, and every rotated one that is still valid.

Its name is ``ccf_<CTL sequence number>_<CA set counter>.oer``, both minimal-length upper-case hex as
in 8.5. The counter is derived, not stored: the number of CA certificates ever issued under the
approved roots plus the number of rotated ones that have expired by ``now``. Every change of
``others`` (an issue, a rotated certificate dropping out) adds one, and nothing takes one away, so
the name is a version and serves as the ETag. ``last_modified`` is the latest of those events
(CTL creation, certificate creation, the second after a rotated certificate expired), in Unix
seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from scms_service.errors import BadRequest, NotFound, ScmsError
from scms_service.hierarchy import ELECTORS, ROLES
from scms_service.stores.ca import CaRecord, CtlRecord

from scms_codec import time32
from scms_codec.cert.certificate import Certificate
from scms_codec.errors import CodecError, ErrorCode
from scms_codec.spdu.cert_management import CertificateChain, build_certificate_chain_spdu
from scms_codec.spdu.ctl import parse_multi_signed_ctl_spdu

from .ca_chain import chains_to_approved_root

__all__ = ["CA_ROLES", "CcfFile", "CcfSource", "CorruptCaData", "certificate_chain_file"]

_SERIES_ID = re.compile(r"[0-9a-fA-F]{16}")
# The roles whose certificates a CCF carries, issuers first (roots and electors travel in the CTL).
CA_ROLES = tuple(r for r in ROLES if r != "root" and r not in ELECTORS)


class CorruptCaData(ScmsError):
    """A stored CTL or CA certificate does not decode (500; the SCMS's own data, not the client's fault)."""


class CcfSource(Protocol):
    """Where CTLs and CA certificates are read (``stores.ca.CaStore`` fits)."""

    def records(self, role: str) -> list[CaRecord]: ...

    def ctls(self, series_id: bytes) -> list[CtlRecord]: ...


@dataclass(frozen=True)
class CcfFile:
    """One CCF as served: the COER ``CertificateChainSpdu``, its versioned name and when it last changed."""

    body: bytes = field(repr=False)
    filename: str
    last_modified: int
    """Unix seconds."""
    sequence_number: int
    ca_counter: int
    certificates: tuple[bytes, ...]
    """HashedId8 of each certificate in ``others``, in order."""


def _decode(record: CaRecord) -> Certificate:
    try:
        return Certificate.from_bytes(record.certificate)
    except CodecError as exc:
        raise CorruptCaData(f"stored certificate {record.hashed_id8.hex()} of {record.role} does not decode") from exc


def _hex(n: int) -> str:
    return f"{n:X}"


def certificate_chain_file(source: CcfSource, ctl_series_id: str | None, *, now: int) -> CcfFile:
    """The CCF of series ``ctl_series_id`` (16 hex) at Time32 ``now``; FAILED_PARSING if malformed, 404 if unknown."""
    if ctl_series_id is None or not _SERIES_ID.fullmatch(ctl_series_id):
        raise BadRequest("ctlSeriesId: expected 16 hex digits", code=ErrorCode.FAILED_PARSING)
    series = bytes.fromhex(ctl_series_id)
    ctls = source.ctls(series)
    if not ctls:
        raise NotFound(f"no CTL series {series.hex()}")
    newest = ctls[-1]
    try:
        tbs = parse_multi_signed_ctl_spdu(newest.spdu).content.tbs_ctl
    except CodecError as exc:
        raise CorruptCaData(f"stored CTL {series.hex()} #{newest.sequence_number} does not decode") from exc
    approved = frozenset(bytes(h) for h in tbs.root_ca_approve)

    roots = [(r, _decode(r)) for r in source.records("root")]
    below = [(r, _decode(r)) for role in CA_ROLES for r in source.records(role)]
    certs = {c.hashed_id8: c for _, c in roots + below}
    issued = [(r, c) for r, c in below if chains_to_approved_root(c, certs, approved)]

    others: list[Certificate] = []
    events = [time32.to_unix(newest.created_at)]
    retired = 0
    for record, cert in issued:
        events.append(time32.to_unix(record.created_at))
        end = cert.validity[1]
        if record.active or end >= now:
            others.append(cert)
        else:
            # A rotated certificate leaves the file the second after it expires: one more change of the set.
            retired += 1
            events.append(time32.to_unix(end) + 1)
    counter = len(issued) + retired
    body = build_certificate_chain_spdu(CertificateChain(newest.spdu, tuple(others)))
    return CcfFile(
        body=body,
        filename=f"ccf_{_hex(newest.sequence_number)}_{_hex(counter)}.oer",
        last_modified=max(events),
        sequence_number=newest.sequence_number,
        ca_counter=counter,
        certificates=tuple(c.hashed_id8 for c in others),
    )
