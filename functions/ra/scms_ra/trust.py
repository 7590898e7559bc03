"""What the trust downloads share (1609.2.1 6.3.5.8 to 6.3.5.14; protocol.md §2.2, §2.3, §3.5).

The downloads are public (``scmsV3-eeAuth = none``, protocol.md §2.1): a malformed parameter is
400-42 (``FAILED_PARSING``), a well-formed one naming nothing is 404. Each use case returns a
``served_file.ServedFile`` that the route hands to ``scms_service.http.download_response`` (ETag = the name,
unless the name alone is not a version: the CTL zip's, see ``ctl_download``).

The CRL index is the CRL generator's store (``stores.crl_entries.CrlEntryStore``, docs/architecture.md
"CRL generator"); only its two read methods are needed here, so they are a Protocol of their own.

Which recorded CRLs are *current* follows the CTL (``current_crls``): a CRL whose CRACA is a root the
newest CTL of the series approves, or a CA certificate that chains to one, is advertised (info status,
composite CRL); a CRL of a root that a later CTL removed (``scms ctl remove-root``) is not, though
``GET /v3/crl`` still serves its latest one (records are never deleted) for a device that has not
moved to the new CTL yet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from scms_service.errors import BadRequest, ScmsError
from scms_service.hierarchy import ROLES
from scms_service.stores.artifacts import Artifacts
from scms_service.stores.ca import CaRecord, CtlRecord

from scms_codec.cert.certificate import Certificate
from scms_codec.errors import CodecError, ErrorCode
from scms_codec.spdu.ctl import parse_multi_signed_ctl_spdu

from .ca_chain import chains_to_approved_root

__all__ = [
    "UINT16_MAX",
    "CaView",
    "CorruptTrustData",
    "CrlIndex",
    "CrlRecordView",
    "current_crls",
    "hashed_id8_param",
    "read_artifact",
    "uint_param",
]

UINT16_MAX = 0xFFFF
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
# Decimal, no sign, no spaces; at most 10 digits so that int() never meets a huge string.
_DECIMAL = re.compile(r"[0-9]{1,10}")


class CorruptTrustData(ScmsError):
    """A stored CRL, CTL or certificate is missing or does not decode (500: the SCMS's data, not the client's)."""


class CrlRecordView(Protocol):
    """The latest CRL of one (CRACA, series) as the CRL generator recorded it (``CrlRecord`` fits)."""

    @property
    def craca(self) -> bytes: ...

    @property
    def series(self) -> int: ...

    @property
    def crl_serial(self) -> int: ...

    @property
    def issue_date(self) -> int: ...

    @property
    def next_crl(self) -> int: ...

    @property
    def s3_key(self) -> str: ...


class CrlIndex(Protocol):
    """Where the latest CRLs are recorded (``stores.crl_entries.CrlEntryStore`` fits)."""

    def latest(self, craca: bytes, series: int) -> CrlRecordView | None: ...

    def latest_all(self) -> Sequence[CrlRecordView]: ...


def hashed_id8_param(name: str, value: str | None) -> bytes:
    """A HashedId8 query parameter (16 hex digits, either case); 400-42 when absent or malformed."""
    if value is None or not _HEX16.fullmatch(value):
        raise BadRequest(f"{name}: expected 16 hex digits", code=ErrorCode.FAILED_PARSING)
    return bytes.fromhex(value)


def uint_param(name: str, value: str, maximum: int) -> int:
    """A decimal query parameter in 0..maximum; 400-42 otherwise (protocol.md §2.2 T19, T20)."""
    if not _DECIMAL.fullmatch(value) or int(value) > maximum:
        raise BadRequest(f"{name}: expected a decimal integer from 0 to {maximum}", code=ErrorCode.FAILED_PARSING)
    return int(value)


def read_artifact(artifacts: Artifacts, key: str, what: str) -> bytes:
    """The object under ``key``; ``CorruptTrustData`` when a record names an object that is not there."""
    data = artifacts.get(key)
    if data is None:
        raise CorruptTrustData(f"{what}: its object {key} is missing")
    return data


class CaView(Protocol):
    """CA certificates and CTLs (``stores.ca.CaStore`` fits)."""

    def records(self, role: str) -> list[CaRecord]: ...

    def ctls(self, series_id: bytes) -> list[CtlRecord]: ...


def _certificates(source: CaView, unsigned: Sequence[bytes]) -> dict[bytes, Certificate]:
    """Every certificate a CRACA can name, by HashedId8: the CTL's unsigned ones and the stored CA certificates."""
    found: dict[bytes, Certificate] = {}
    octets = [*unsigned, *(r.certificate for role in ROLES for r in source.records(role))]
    for data in octets:
        try:
            cert = Certificate.from_bytes(data)
        except CodecError:
            continue  # e.g. an elector without permission fields (OpenSCMS): it is never a CRACA
        found.setdefault(cert.hashed_id8, cert)
    return found


def current_crls(crls: CrlIndex, source: CaView, series: bytes) -> list[CrlRecordView]:
    """The latest CRLs the newest CTL of ``series`` still vouches for, by CRACA then series (module docstring).

    1609.2.1 §8.5/§6.3.5.14 (protocol.md §3.5): a device trusts only the roots its CTL approves, so a
    CRL whose CRACA is unknown, or chains only to a root a later CTL removed, is not advertised.
    ``CorruptTrustData`` when the newest CTL does not decode; no CTL of the series: none.
    """
    stored = source.ctls(series)
    if not stored:
        return []
    newest = max(stored, key=lambda c: c.sequence_number)
    try:
        ctl = parse_multi_signed_ctl_spdu(newest.spdu).content
    except CodecError as exc:
        raise CorruptTrustData(f"stored CTL {series.hex()} #{newest.sequence_number} does not decode") from exc
    approved = frozenset(bytes(h) for h in ctl.tbs_ctl.root_ca_approve)
    certs = _certificates(source, ctl.unsigned)
    latest = sorted(crls.latest_all(), key=lambda r: (r.craca, r.series))
    return [r for r in latest if (c := certs.get(r.craca)) is not None and chains_to_approved_root(c, certs, approved)]
