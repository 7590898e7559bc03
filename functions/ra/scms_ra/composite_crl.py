"""``GET /v3/composite-crl-ctl?ctlSeriesId=<16 hex>``: every latest CRL plus the home CTL in one file.

1609.2.1 6.3.5.8, Table 17 and clause 8.5 (protocol.md §2.2, §2.3, §3.5). The body is a
``CompositeCrlSpdu`` (unsecured): ``crl`` = the latest ``SecuredCrl`` of every (CRACA, series) the
CRL generator has published whose CRACA the home CTL still vouches for (``trust.current_crls``: a
root it approves or a CA below one; a removed root's CRLs leave), ordered by CRACA then series, as
stored; ``homeCtl`` = the newest ``MultiSignedCtlSpdu`` of the requested series.

Name ``composite-crl_<version hex>.oer`` (minimal-length upper-case hex, "bumped on every update",
8.5). The version is derived, not stored: the home CTL's sequence number plus, for every latest CRL
recorded (listed or not), its ``crlSerial`` + 1. A new CRL of a series raises its serial, a new series
adds at least one, a new CTL raises the sequence number, and nothing lowers any of them (records are
never deleted; a CRL left out because a CTL removed its root still counts), so every change of the
content gives a higher version, and the name is the ETag. ``Last-Modified`` is the newest of the
CTL's storage time and the listed CRLs' issueDates.
"""

from __future__ import annotations

from scms_service.errors import NotFound
from scms_service.stores.artifacts import Artifacts

from scms_codec import time32
from scms_codec.spdu.cert_management import CompositeCrl, build_composite_crl_spdu

from .served_file import ServedFile
from .trust import CaView, CrlIndex, current_crls, hashed_id8_param, read_artifact

__all__ = ["composite_crl_file"]


def composite_crl_file(ctls: CaView, crls: CrlIndex, artifacts: Artifacts, ctl_series_id: str | None) -> ServedFile:
    """The composite CRL of series ``ctl_series_id``; 400-42 when malformed, 404 when the series has no CTL."""
    series = hashed_id8_param("ctlSeriesId", ctl_series_id)
    stored = ctls.ctls(series)
    if not stored:
        raise NotFound(f"no CTL series {series.hex()}")
    home = max(stored, key=lambda c: c.sequence_number)
    listed = current_crls(crls, ctls, series)
    bodies = tuple(
        read_artifact(artifacts, r.s3_key, f"CRL {r.craca.hex()} series {r.series} #{r.crl_serial}") for r in listed
    )
    version = home.sequence_number + sum(r.crl_serial + 1 for r in crls.latest_all())
    events = [home.created_at, *(r.issue_date for r in listed)]
    return ServedFile(
        body=build_composite_crl_spdu(CompositeCrl(bodies, home.spdu)),
        filename=f"composite-crl_{version:X}.oer",
        last_modified=time32.to_unix(max(events)),
    )
