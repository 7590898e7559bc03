"""What the trust downloads share (1609.2.1 6.3.5.8 to 6.3.5.14; protocol.md §2.2, §2.3, §3.5).

The downloads are public (``scmsV3-eeAuth = none``, protocol.md §2.1): a malformed parameter is
400-42 (``FAILED_PARSING``), a well-formed one naming nothing is 404. Each use case returns a
``served_file.ServedFile`` that the route hands to ``scms_service.http.download_response`` (ETag = the name,
unless the name alone is not a version: the CTL zip's, see ``ctl_download``).

The CRL index is the CRL generator's store (``stores.crl_entries.CrlEntryStore``, docs/architecture.md
"CRL generator"); only its two read methods are needed here, so they are a Protocol of their own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from scms_service.errors import BadRequest, ScmsError
from scms_service.stores.artifacts import Artifacts

from scms_codec.errors import ErrorCode

__all__ = [
    "UINT16_MAX",
    "CorruptTrustData",
    "CrlIndex",
    "CrlRecordView",
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
