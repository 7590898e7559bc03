"""``GET /v3/ctl?ctlSeriesId=<16 hex>[&ctlSequenceNumber=<0..65535>]``: the CTLs of a series as one zip.

1609.2.1 6.3.5.11, Table 20 and clause 8.6 (protocol.md §2.2, §2.3). The zip is named
``ctl_<series hex>_<lowest seq>.zip`` and holds one ``ctl_<series hex>_<seq>.oer`` (COER
``MultiSignedCtlSpdu``) per CTL, lowest first, at the top level: stored (no compression), PKWare
APPNOTE 6.3.6 as Python's ``zipfile`` writes it, with a fixed date and fixed attributes so that the
same CTLs always give the same octets (``Range`` resumes and revalidation stay exact). Sequence
numbers are decimal, as in the query and the artifacts key ``ctl/<series hex>_<seq>.oer``.

With ``ctlSequenceNumber`` the zip holds that CTL and every newer one; without it every CTL of the
series. An unknown series, or no CTL from that number on, is 404.

The name does not change when a newer CTL joins the zip (its lowest sequence number stays), so it
cannot be the validator: the ETag is ``ctl_<series hex>_<lowest>-<highest>.zip``. Stored CTLs never
change, so the lowest and highest sequence numbers fix the content. ``Last-Modified`` is when the
newest CTL in it was stored.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from typing import Final, Protocol

from scms_service.errors import NotFound
from scms_service.stores.ca import CtlRecord

from scms_codec import time32

from .served_file import ServedFile
from .trust import UINT16_MAX, hashed_id8_param, uint_param

__all__ = ["CtlSource", "ctl_entry_name", "ctl_zip", "ctl_zip_file"]

_ZIP_DATE: Final = (1980, 1, 1, 0, 0, 0)  # the earliest DOS date: fixed, so the bytes are deterministic
_UNIX_FILE_0644: Final = (0o100644 & 0xFFFF) << 16


class CtlSource(Protocol):
    """Where the CTLs are stored (``stores.ca.CaStore`` fits)."""

    def ctls(self, series_id: bytes) -> list[CtlRecord]: ...


def ctl_entry_name(series_id: bytes, sequence_number: int) -> str:
    """``ctl_<series hex>_<seq>.oer``: one CTL in the zip."""
    return f"ctl_{series_id.hex()}_{sequence_number}.oer"


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3  # Unix, whatever the platform that builds it
    info.external_attr = _UNIX_FILE_0644
    return info


def ctl_zip(ctls: Sequence[CtlRecord]) -> bytes:
    """The zip of ``ctls`` in sequence order: stored entries ``ctl_<series>_<seq>.oer``, deterministic (8.6)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for ctl in sorted(ctls, key=lambda c: c.sequence_number):
            archive.writestr(_entry(ctl_entry_name(ctl.series_id, ctl.sequence_number)), ctl.spdu)
    return buffer.getvalue()


def ctl_zip_file(source: CtlSource, ctl_series_id: str | None, ctl_sequence_number: str | None) -> ServedFile:
    """The CTL zip of a series (from a sequence number on); 400-42 for a malformed parameter, 404 when empty."""
    series = hashed_id8_param("ctlSeriesId", ctl_series_id)
    lowest = 0 if ctl_sequence_number is None else uint_param("ctlSequenceNumber", ctl_sequence_number, UINT16_MAX)
    ctls = sorted((c for c in source.ctls(series) if c.sequence_number >= lowest), key=lambda c: c.sequence_number)
    if not ctls:
        where = "" if ctl_sequence_number is None else f" from sequence number {lowest} on"
        raise NotFound(f"no CTL of series {series.hex()}{where}")
    first, last = ctls[0].sequence_number, ctls[-1].sequence_number
    return ServedFile(
        body=ctl_zip(ctls),
        filename=f"ctl_{series.hex()}_{first}.zip",
        last_modified=max(time32.to_unix(c.created_at) for c in ctls),
        etag=f"ctl_{series.hex()}_{first}-{last}.zip",
    )
