"""The management API's reads: reports and revocations as JSON (docs/architecture.md "MA")."""

from __future__ import annotations

import re
from typing import Any

from scms_service.errors import BadRequest, NotFound
from scms_service.stores.ma_records import REPORT_STATUSES, MaRecordStore, ReportRecord, RevocationRecord

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "list_reports",
    "list_revocations",
    "report_json",
    "revocation_json",
    "show_report",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_LIMIT = re.compile(r"[0-9]{1,6}")
_HEX16 = re.compile(r"[0-9a-f]{16}")


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if _LIMIT.fullmatch(value) and 1 <= int(value) <= MAX_LIMIT:
        return int(value)
    raise BadRequest(f"limit: expected an integer 1..{MAX_LIMIT}")


def report_json(record: ReportRecord, *, evidence: bool = False) -> dict[str, Any]:
    """A report as the API shows it; the evidence octets (hex) only for one report."""
    value: dict[str, Any] = {
        "report_id": record.report_id,
        "received_at": record.received_at,
        "status": record.status,
        "suspect_cert_id": record.suspect_cert_id,
        "evidence_psid": record.evidence_psid,
        "reporter_cert_id": record.reporter_cert_id,
        "revocation_id": record.revocation_id,
    }
    if evidence:
        value["suspect_cert"] = record.suspect_cert.hex()
        value["evidence"] = record.evidence.hex()
    return value


def revocation_json(record: RevocationRecord) -> dict[str, Any]:
    """A revocation as the API shows it (counts of entries, never seeds)."""
    return {
        "revocation_id": record.revocation_id,
        "target": {record.target_kind: record.target_value},
        "cause": record.cause,
        "created_at": record.created_at,
        "linked_entries": record.linked_entries,
        "hash_entries": record.hash_entries,
        "already_revoked": record.already_revoked,
        "crls": list(record.crls),
    }


def list_reports(
    records: MaRecordStore, status: str | None, limit: str | None, next_token: str | None
) -> dict[str, Any]:
    """A page of reports, optionally of one status (NEW or REVOKED)."""
    if status is not None and status not in REPORT_STATUSES:
        raise BadRequest(f"status: expected one of {', '.join(REPORT_STATUSES)}")
    page, token = records.list_reports(status, _limit(limit), next_token or None)
    return {"reports": [report_json(r) for r in page], "next": token}


def show_report(records: MaRecordStore, report_id: str) -> dict[str, Any]:
    """One report with its evidence; 404 if absent (a malformed id is absent too, never a 500)."""
    record = records.get_report(report_id) if _HEX16.fullmatch(report_id) else None
    if record is None:
        raise NotFound(f"report {report_id[:32]} is not stored")
    return report_json(record, evidence=True)


def list_revocations(records: MaRecordStore, limit: str | None, next_token: str | None) -> dict[str, Any]:
    """A page of revocations."""
    page, token = records.list_revocations(_limit(limit), next_token or None)
    return {"revocations": [revocation_json(r) for r in page], "next": token}
