"""The MA's misbehaviour reports and revocations on ``MaTable`` (docs/architecture.md "MA", protocol.md §3.6).

Items:
- report ``pk=REPORT#<reportId hex>, sk=REPORT`` (``receivedAt``, ``status`` NEW|REVOKED,
  ``suspectCert`` (B), ``suspectCertId``, ``evidence`` (B), ``evidencePsid``, ``reporterCertId``,
  ``signedId``, ``revocationId`` once revoked); reportId = HashedId8 of the SPDU as received;
- its guard ``pk=SIGNED#<signedId hex>, sk=REPORT`` (``reportId``), written in the same transaction,
  so another encryption of a stored report (same signed plaintext, other octets) is answered as
  the report it repeats and stored once;
- revocation ``pk=REVOCATION#<id>, sk=REVOCATION`` (``targetKind``, ``targetValue``, ``cause``,
  ``createdAt``, ``linkedEntries``, ``hashEntries``, ``crls`` (JSON), ``alreadyRevoked``).
Every item is put once (conditional) and a report changes only NEW → REVOKED.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ..errors import BadRequest, ScmsError
from .aws_errors import is_condition_failure
from .dynamo import DynamoTable

__all__ = [
    "DynamoDbMaRecordStore",
    "FakeMaRecordStore",
    "MaRecordStore",
    "MaStoreError",
    "ReportExists",
    "ReportRecord",
    "RevocationRecord",
]

REPORT_STATUSES = ("NEW", "REVOKED")
_HEX16 = re.compile(r"[0-9a-f]{16}")


class MaStoreError(ScmsError):
    """The MA table failed for a reason that retrying will not fix (500)."""


class ReportExists(ScmsError):
    """A report with this id or this signed content is stored already; ``report_id`` names it."""

    HTTP_STATUS = 409

    def __init__(self, report_id: str) -> None:
        super().__init__("report stored already")
        self.report_id = report_id


@dataclass(frozen=True)
class ReportRecord:
    """One stored misbehaviour report (hex ids are lower case; Time32 ``received_at``)."""

    report_id: str
    received_at: int
    suspect_cert: bytes = field(repr=False)
    suspect_cert_id: str
    evidence: bytes = field(repr=False)
    evidence_psid: int
    reporter_cert_id: str
    signed_id: str
    status: str = "NEW"
    revocation_id: str | None = None


@dataclass(frozen=True)
class RevocationRecord:
    """One completed revocation decision (its outcome counts, never a seed or a device id it did not name)."""

    revocation_id: str
    target_kind: str
    target_value: str
    cause: str
    created_at: int
    linked_entries: int
    hash_entries: int
    crls: tuple[dict[str, Any], ...] = ()
    already_revoked: bool = False


class MaRecordStore(Protocol):
    """Reports and revocations: put once, read, list; a report moves NEW → REVOKED only."""

    def put_report(self, record: ReportRecord) -> None:
        """Store a new report; ``ReportExists`` (naming the stored one) if its id or signed id is taken."""
        ...

    def get_report(self, report_id: str) -> ReportRecord | None: ...

    def report_by_signed_id(self, signed_id: str) -> str | None:
        """The report id stored for this signed content, if any."""
        ...

    def list_reports(
        self, status: str | None, limit: int, next_token: str | None
    ) -> tuple[list[ReportRecord], str | None]:
        """Up to ``limit`` reports (of ``status`` when given) and a token for the next page (None at the end)."""
        ...

    def mark_revoked(self, report_id: str, revocation_id: str) -> None:
        """Set the report REVOKED by ``revocation_id`` (idempotent); NotFound-free: an absent report is ignored."""
        ...

    def put_revocation(self, record: RevocationRecord) -> tuple[RevocationRecord, bool]:
        """Store ``record`` unless one with its id exists; (the stored one, whether it is ``record``)."""
        ...

    def get_revocation(self, revocation_id: str) -> RevocationRecord | None: ...

    def list_revocations(self, limit: int, next_token: str | None) -> tuple[list[RevocationRecord], str | None]: ...


def _report_key(report_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"REPORT#{report_id}"}, "sk": {"S": "REPORT"}}


def _signed_key(signed_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"SIGNED#{signed_id}"}, "sk": {"S": "REPORT"}}


def _revocation_key(revocation_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"REVOCATION#{revocation_id}"}, "sk": {"S": "REVOCATION"}}


def _report_item(r: ReportRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_report_key(r.report_id),
        "receivedAt": {"N": str(r.received_at)},
        "status": {"S": r.status},
        "suspectCert": {"B": r.suspect_cert},
        "suspectCertId": {"S": r.suspect_cert_id},
        "evidence": {"B": r.evidence},
        "evidencePsid": {"N": str(r.evidence_psid)},
        "reporterCertId": {"S": r.reporter_cert_id},
        "signedId": {"S": r.signed_id},
    }
    if r.revocation_id is not None:
        item["revocationId"] = {"S": r.revocation_id}
    return item


def _report_from(item: dict[str, Any]) -> ReportRecord:
    return ReportRecord(
        report_id=str(item["pk"]["S"]).removeprefix("REPORT#"),
        received_at=int(item["receivedAt"]["N"]),
        suspect_cert=bytes(item["suspectCert"]["B"]),
        suspect_cert_id=item["suspectCertId"]["S"],
        evidence=bytes(item["evidence"]["B"]),
        evidence_psid=int(item["evidencePsid"]["N"]),
        reporter_cert_id=item["reporterCertId"]["S"],
        signed_id=item["signedId"]["S"],
        status=item["status"]["S"],
        revocation_id=item["revocationId"]["S"] if "revocationId" in item else None,
    )


def _revocation_item(r: RevocationRecord) -> dict[str, Any]:
    return {
        **_revocation_key(r.revocation_id),
        "targetKind": {"S": r.target_kind},
        "targetValue": {"S": r.target_value},
        "cause": {"S": r.cause},
        "createdAt": {"N": str(r.created_at)},
        "linkedEntries": {"N": str(r.linked_entries)},
        "hashEntries": {"N": str(r.hash_entries)},
        "crls": {"S": json.dumps(list(r.crls), sort_keys=True)},
        "alreadyRevoked": {"BOOL": r.already_revoked},
    }


def _revocation_from(item: dict[str, Any]) -> RevocationRecord:
    return RevocationRecord(
        revocation_id=str(item["pk"]["S"]).removeprefix("REVOCATION#"),
        target_kind=item["targetKind"]["S"],
        target_value=item["targetValue"]["S"],
        cause=item["cause"]["S"],
        created_at=int(item["createdAt"]["N"]),
        linked_entries=int(item["linkedEntries"]["N"]),
        hash_entries=int(item["hashEntries"]["N"]),
        crls=tuple(json.loads(item["crls"]["S"])),
        already_revoked=bool(item.get("alreadyRevoked", {}).get("BOOL", False)),
    )


def _encode_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        value = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("next: not a token this API returned") from None
    if not _HEX16.fullmatch(value):
        raise BadRequest("next: not a token this API returned")
    return value


def _page(records: list[Any], limit: int, id_of: Any) -> tuple[list[Any], str | None]:
    if len(records) > limit:
        page = records[:limit]
        return page, _encode_token(id_of(page[-1]))
    return records, None


class DynamoDbMaRecordStore(DynamoTable):
    """``MaRecordStore`` on ``MaTable`` (boto3 client injectable)."""

    settings_field = "ma_table"
    store_error = MaStoreError
    table_label = "MA table"

    def put_report(self, record: ReportRecord) -> None:
        items = [
            # The report id is new: the same octets again are a replay, answered from the stored item.
            {"Put": {"TableName": self._table, "Item": _report_item(record),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            # The signed content is new: another encryption of a stored report is that report's replay.
            {"Put": {"TableName": self._table,
                     "Item": {**_signed_key(record.signed_id), "reportId": {"S": record.report_id}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ]  # fmt: skip
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if is_condition_failure(exc):
                stored = self.report_by_signed_id(record.signed_id)
                if stored is None and self.get_report(record.report_id) is not None:
                    stored = record.report_id
                if stored is not None:
                    raise ReportExists(stored) from exc
            raise self.error(exc, "put report") from exc

    def get_report(self, report_id: str) -> ReportRecord | None:
        item = self._get(_report_key(report_id), "get report")
        return None if item is None else _report_from(item)

    def report_by_signed_id(self, signed_id: str) -> str | None:
        item = self._get(_signed_key(signed_id), "get report by signed id")
        return None if item is None else str(item["reportId"]["S"])

    def list_reports(
        self, status: str | None, limit: int, next_token: str | None
    ) -> tuple[list[ReportRecord], str | None]:
        values: dict[str, Any] = {":sk": {"S": "REPORT"}, ":prefix": {"S": "REPORT#"}}
        expression = "sk = :sk AND begins_with(pk, :prefix)"
        if status is not None:
            values[":status"] = {"S": status}
            expression += " AND #status = :status"
        start = _report_key(_decode_token(next_token)) if next_token else None
        items = self._scan(expression, values, start, limit, {"#status": "status"} if status else None)
        return _page([_report_from(i) for i in items], limit, lambda r: r.report_id)

    def mark_revoked(self, report_id: str, revocation_id: str) -> None:
        try:
            self.client.update_item(
                TableName=self._table,
                Key=_report_key(report_id),
                UpdateExpression="SET #status = :revoked, revocationId = if_not_exists(revocationId, :rid)",
                # Only an existing report changes (an update would otherwise create a bare item).
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":revoked": {"S": "REVOKED"}, ":rid": {"S": revocation_id}},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return
            raise self.error(exc, "mark report revoked") from exc

    def put_revocation(self, record: RevocationRecord) -> tuple[RevocationRecord, bool]:
        try:
            self.client.put_item(
                TableName=self._table,
                Item=_revocation_item(record),
                # Once: a concurrent or repeated decision on the same target keeps the first record.
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                stored = self.get_revocation(record.revocation_id)
                if stored is not None:
                    return stored, False
            raise self.error(exc, "put revocation") from exc
        return record, True

    def get_revocation(self, revocation_id: str) -> RevocationRecord | None:
        item = self._get(_revocation_key(revocation_id), "get revocation")
        return None if item is None else _revocation_from(item)

    def list_revocations(self, limit: int, next_token: str | None) -> tuple[list[RevocationRecord], str | None]:
        values = {":sk": {"S": "REVOCATION"}}
        start = _revocation_key(_decode_token(next_token)) if next_token else None
        items = self._scan("sk = :sk", values, start, limit, None)
        return _page([_revocation_from(i) for i in items], limit, lambda r: r.revocation_id)

    def _get(self, key: dict[str, Any], action: str) -> dict[str, Any] | None:
        try:
            out = self.client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        except ClientError as exc:
            raise self.error(exc, action) from exc
        item: dict[str, Any] | None = out.get("Item")
        return item

    def _scan(
        self,
        expression: str,
        values: dict[str, Any],
        start: dict[str, Any] | None,
        limit: int,
        names: dict[str, str] | None,
    ) -> list[dict[str, Any]]:
        """Items matching ``expression`` after ``start``, one more than ``limit`` when there are more."""
        items: list[dict[str, Any]] = []
        while len(items) <= limit:
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "FilterExpression": expression,
                "ExpressionAttributeValues": values,
                "Limit": limit + 1,
            }
            if names:
                kwargs["ExpressionAttributeNames"] = names
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            try:
                out = self.client.scan(**kwargs)
            except ClientError as exc:
                raise self.error(exc, "list") from exc
            items.extend(out.get("Items", []))
            start = out.get("LastEvaluatedKey")
            if start is None:
                break
        return items[: limit + 1]


class FakeMaRecordStore:
    """In-memory ``MaRecordStore`` with the adapter's once-only conditions."""

    def __init__(self) -> None:
        self.reports: dict[str, ReportRecord] = {}
        self.signed: dict[str, str] = {}
        self.revocations: dict[str, RevocationRecord] = {}

    def put_report(self, record: ReportRecord) -> None:
        if record.signed_id in self.signed:
            raise ReportExists(self.signed[record.signed_id])
        if record.report_id in self.reports:
            raise ReportExists(record.report_id)
        self.reports[record.report_id] = record
        self.signed[record.signed_id] = record.report_id

    def get_report(self, report_id: str) -> ReportRecord | None:
        return self.reports.get(report_id)

    def report_by_signed_id(self, signed_id: str) -> str | None:
        return self.signed.get(signed_id)

    def list_reports(
        self, status: str | None, limit: int, next_token: str | None
    ) -> tuple[list[ReportRecord], str | None]:
        after = _decode_token(next_token) if next_token else ""
        records = [r for k, r in sorted(self.reports.items()) if k > after and (status is None or r.status == status)]
        return _page(records[: limit + 1], limit, lambda r: r.report_id)

    def mark_revoked(self, report_id: str, revocation_id: str) -> None:
        record = self.reports.get(report_id)
        if record is not None:
            self.reports[report_id] = replace(
                record, status="REVOKED", revocation_id=record.revocation_id or revocation_id
            )

    def put_revocation(self, record: RevocationRecord) -> tuple[RevocationRecord, bool]:
        if record.revocation_id in self.revocations:
            return self.revocations[record.revocation_id], False
        self.revocations[record.revocation_id] = record
        return record, True

    def get_revocation(self, revocation_id: str) -> RevocationRecord | None:
        return self.revocations.get(revocation_id)

    def list_revocations(self, limit: int, next_token: str | None) -> tuple[list[RevocationRecord], str | None]:
        after = _decode_token(next_token) if next_token else ""
        records = [r for k, r in sorted(self.revocations.items()) if k > after]
        return _page(records[: limit + 1], limit, lambda r: r.revocation_id)
