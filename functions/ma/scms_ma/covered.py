"""Reports whose suspect a revocation's CRL entries now cover move NEW → REVOKED with that revocation.

A device is often revoked another way than by the report about it (by its id, its enrollment
certificate, another report). Once a revocation's entries are written, every NEW report whose
suspect certificate they cover is marked REVOKED with that revocation id, so the operator's list
of NEW reports holds only what is still undecided. "Covered" is the receiver's check (1609.2
§5.1.3.4, §7.3; ``scms_codec.crl_check``) against the revocation's own entries, each seen as the
CRL that will carry it: a hash entry covers the certificate with that HashedId10 (of its COER); a
linked entry covers a certificate with linkage data whose linkage value is among those the entry's
seeds give for the certificate's i-period (from the entry's i on: a chain is not revoked backwards).

Bounded: at most ``max_reports`` NEW reports are read, a page at a time (the rest are left NEW and
counted in the log). Idempotent: marking a report REVOKED again keeps its first revocation id.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from scms_service.stores.crl_entries import HashedEntry, LinkedEntry
from scms_service.stores.ma_records import MaRecordStore

from scms_codec.cert.certificate import Certificate
from scms_codec.crl_check import hash_crl_revokes, linked_crl_revokes
from scms_codec.crypto.hashing import hashed_id10
from scms_codec.errors import CodecError
from scms_codec.spdu.crl import CrlContents

__all__ = ["MAX_REPORTS", "PAGE", "Covered", "mark_covered_reports"]

log = logging.getLogger(__name__)

MAX_REPORTS = 1000
PAGE = 100


@dataclass(frozen=True)
class Covered:
    """What one pass did: NEW reports read, marked REVOKED, and whether NEW reports were left unread."""

    checked: int
    marked: int
    more: bool


def _linked_crl(entry: LinkedEntry) -> CrlContents:
    """The entry as the individual revocation of a ``fullLinkedCrl`` of iRev = its i (what the CRL will say)."""
    revocation = {"linkageSeed1": entry.seed1, "linkageSeed2": entry.seed2}
    la_group = {"la1Id": entry.la1_id, "la2Id": entry.la2_id,
                "contents": [{"iMax": entry.i_max, "contents": [revocation]}]}  # fmt: skip
    body = {"iRev": entry.i_seed, "indexWithinI": 0, "individual": [{"jmax": entry.j_max, "contents": [la_group]}]}
    return CrlContents(0, bytes(8), 0, 0, ("fullLinkedCrl", body))


def _hash_crl(entries: Sequence[HashedEntry]) -> CrlContents:
    """The entries as a ``fullHashCrl``."""
    body = {"crlSerial": 0, "entries": [{"id": e.hashed_id10, "expiry": e.expiry} for e in entries]}
    return CrlContents(0, bytes(8), 0, 0, ("fullHashCrl", body))


def _covers(cert: Certificate, linked: Sequence[CrlContents], hashed: CrlContents) -> bool:
    if hash_crl_revokes(hashed, hashed_id10(cert.encoded, cert.hash_algorithm)):
        return True
    kind, value = cert.tbs["id"]
    if kind != "linkageData":
        return False
    lv, i_cert = bytes(value["linkage-value"]), int(value["iCert"])
    return any(linked_crl_revokes(crl, lv, i_cert) for crl in linked)


def mark_covered_reports(
    linked: Sequence[LinkedEntry],
    hashed: Sequence[HashedEntry],
    revocation_id: str,
    *,
    records: MaRecordStore,
    max_reports: int = MAX_REPORTS,
) -> Covered:
    """Every NEW report (``max_reports`` read at most) whose suspect the entries cover: REVOKED by ``revocation_id``."""
    if not linked and not hashed:
        return Covered(0, 0, False)
    linked_crls = [_linked_crl(e) for e in linked]
    hash_crl = _hash_crl(hashed)
    checked = marked = 0
    token: str | None = None
    while checked < max_reports:
        page, token = records.list_reports("NEW", min(PAGE, max_reports - checked), token)
        checked += len(page)
        for report in page:
            try:
                suspect = Certificate.from_bytes(report.suspect_cert)
            except CodecError:
                continue  # stored after its checks, so this does not happen; such a report stays NEW
            if _covers(suspect, linked_crls, hash_crl):
                records.mark_revoked(report.report_id, revocation_id)
                marked += 1
        if token is None:
            break
    more = token is not None
    if more:
        log.warning("NEW reports left unchecked for this revocation", extra={"checked": checked})
    log.info("reports covered by the revocation", extra={"revocation_id": revocation_id, "marked": marked})
    return Covered(checked, marked, more)
