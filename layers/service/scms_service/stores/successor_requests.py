"""The RA's successor-enrollment requests and their rate entries on ``RaTable`` (protocol.md §3.4).

Items:
- ``pk=SUCCESSOR#<requestHash hex>, sk=REQ``: one ``EeRaSuccessorEnrollmentCertRequestSpdu``, keyed by
  the HashedId8 of its bytes as received, with ``deviceId``, ``signerCertId`` (the enrollment
  certificate that signed it; not ``enrollmentCertId``, which would put the item in the
  ``byEnrollmentCert`` index), ``generationTime`` (of the inner request), ``status`` PENDING → DONE,
  ``ack`` (B, the signed ``RaEeEnrollmentCertAckSpdu``), ``createdAt``, and once DONE ``newCertId``
  (the successor certificate's HashedId8) and ``updatedAt``; ``innerHash`` (B, SHA-256 of the inner
  ``EeEcaCertRequestSpdu``) for requests stored since it exists;
- ``pk=RASUCC#<deviceId>, sk=<generationTime 10 digits>#<requestHash hex>``: one accepted successor
  request of a device, for ra-maxReqs/ra-minWait (by generationTime; ``expiresAt`` is the TTL);
- ``pk=SUCCINNER#<innerHash hex>, sk=REQ``: ``requestHash`` (hex) of the request that carried this inner
  request, ``expiresAt`` (TTL, as the rate entry's). The same inner request can arrive in another
  ciphertext under another requestHash (1609.2 ECIES leaves the ephemeral key's y-parity
  unauthenticated; a device may also re-sign the outer layer): this item names the first one, so the
  RA answers the others as its replay (protocol.md §3.4, scms_ra.successor).

``put`` writes them in one transaction, the request item and the inner item conditional on their
absence (of two copies of the same bytes, or two ciphertexts of one inner request, only one is
stored); ``delete`` removes them all (a refusal after the claim).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ..errors import Conflict, ScmsError
from .aws_errors import is_condition_failure
from .dynamo import DynamoTable
from .request_claims import RateEntry, claim_items, consistent_get, rate_entries, rate_item, rate_key, transact

__all__ = [
    "DynamoDbSuccessorStore",
    "FakeSuccessorStore",
    "RateEntry",
    "SuccessorExists",
    "SuccessorRecord",
    "SuccessorStatus",
    "SuccessorStore",
    "SuccessorStoreError",
]


class SuccessorStatus(StrEnum):
    """PENDING: accepted, the certificate not yet stored and linked; DONE: file stored, device linked."""

    PENDING = "PENDING"
    DONE = "DONE"


class SuccessorExists(Conflict):
    """The request item exists already, or is not in the state a conditional write expected (409)."""


class SuccessorStoreError(ScmsError):
    """RaTable failed for a reason that retrying will not fix (500)."""


@dataclass(frozen=True)
class SuccessorRecord:
    """One accepted successor-enrollment request (the ``SUCCESSOR#`` item)."""

    request_hash: bytes
    device_id: str
    enrollment_cert_id: str  # HashedId8 hex of the signing (current) enrollment certificate
    generation_time: int  # Time32, of the inner EeEcaCertRequest
    status: SuccessorStatus
    ack: bytes = field(repr=False)
    created_at: int  # Time32
    rate_expires_at: int  # Unix seconds (TTL of the rate entry)
    new_cert_id: str | None = None
    updated_at: int | None = None
    inner_hash: bytes | None = None  # SHA-256 of the inner EeEcaCertRequestSpdu (None: stored before it was kept)


class SuccessorStore(Protocol):
    """Successor requests of the RA. Implementations: ``DynamoDbSuccessorStore``, ``FakeSuccessorStore``."""

    def get(self, request_hash: bytes) -> SuccessorRecord | None:
        """The request item (strongly consistent), or None."""
        ...

    def put(self, record: SuccessorRecord) -> None:
        """Store a PENDING ``record``, its rate entry and its inner item together.

        ``SuccessorExists`` if the request hash is stored, or another request carried the same inner request.
        """
        ...

    def by_inner_hash(self, inner_hash: bytes) -> SuccessorRecord | None:
        """The stored request that carried the inner request of this SHA-256 (strongly consistent), or None."""
        ...

    def delete(self, record: SuccessorRecord) -> None:
        """Remove a PENDING record and its rate entry; ``SuccessorExists`` if it is DONE or gone."""
        ...

    def complete(self, request_hash: bytes, *, new_cert_id: str, now: int) -> SuccessorRecord:
        """PENDING → DONE naming the successor certificate; DONE with the same certificate is no change."""
        ...

    def rate_entries(self, device_id: str, *, since: int) -> list[RateEntry]:
        """The device's rate entries with generationTime ≥ ``since``, oldest first."""
        ...


def _req_key(request_hash: bytes) -> dict[str, Any]:
    return {"pk": {"S": f"SUCCESSOR#{request_hash.hex()}"}, "sk": {"S": "REQ"}}


def _inner_key(inner_hash: bytes) -> dict[str, Any]:
    return {"pk": {"S": f"SUCCINNER#{inner_hash.hex()}"}, "sk": {"S": "REQ"}}


def _rate_pk(device_id: str) -> str:
    return f"RASUCC#{device_id}"


def _rate_key(record: SuccessorRecord) -> dict[str, Any]:
    return rate_key(_rate_pk(record.device_id), record.generation_time, record.request_hash)


def _record_item(record: SuccessorRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_req_key(record.request_hash),
        "deviceId": {"S": record.device_id},
        "signerCertId": {"S": record.enrollment_cert_id},
        "generationTime": {"N": str(record.generation_time)},
        "status": {"S": record.status.value},
        "ack": {"B": record.ack},
        "createdAt": {"N": str(record.created_at)},
        "rateExpiresAt": {"N": str(record.rate_expires_at)},
    }
    if record.new_cert_id is not None:
        item["newCertId"] = {"S": record.new_cert_id}
    if record.updated_at is not None:
        item["updatedAt"] = {"N": str(record.updated_at)}
    if record.inner_hash is not None:
        item["innerHash"] = {"B": record.inner_hash}
    return item


def _record_from_item(item: dict[str, Any]) -> SuccessorRecord:
    return SuccessorRecord(
        request_hash=bytes.fromhex(item["pk"]["S"].removeprefix("SUCCESSOR#")),
        device_id=item["deviceId"]["S"],
        enrollment_cert_id=item["signerCertId"]["S"],
        generation_time=int(item["generationTime"]["N"]),
        status=SuccessorStatus(item["status"]["S"]),
        ack=bytes(item["ack"]["B"]),
        created_at=int(item["createdAt"]["N"]),
        rate_expires_at=int(item["rateExpiresAt"]["N"]),
        new_cert_id=item["newCertId"]["S"] if "newCertId" in item else None,
        updated_at=int(item["updatedAt"]["N"]) if "updatedAt" in item else None,
        inner_hash=bytes(item["innerHash"]["B"]) if "innerHash" in item else None,
    )


class DynamoDbSuccessorStore(DynamoTable):
    """``SuccessorStore`` on the ``RaTable`` (boto3 client injectable)."""

    settings_field = "ra_table"
    store_error = SuccessorStoreError
    table_label = "RA table"
    error_topic = "successor"

    def get(self, request_hash: bytes) -> SuccessorRecord | None:
        item = consistent_get(self, _req_key(request_hash), action="get")
        return None if item is None else _record_from_item(item)

    def put(self, record: SuccessorRecord) -> None:
        rate = rate_item(_rate_key(record), generation_time=record.generation_time, expires_at=record.rate_expires_at)
        transact(
            self,
            [*claim_items(self._table, _record_item(record), rate), *self._inner_put(record)],
            action="put",
            conflict=SuccessorExists("successor request stored already"),
        )

    def _inner_put(self, record: SuccessorRecord) -> list[dict[str, Any]]:
        if record.inner_hash is None:
            return []
        item = {
            **_inner_key(record.inner_hash),
            "requestHash": {"S": record.request_hash.hex()},
            "expiresAt": {"N": str(record.rate_expires_at)},
        }
        # First ciphertext only: another encryption of the same inner request is answered as this one's replay.
        return [{"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}]

    def by_inner_hash(self, inner_hash: bytes) -> SuccessorRecord | None:
        item = consistent_get(self, _inner_key(inner_hash), action="by_inner_hash")
        if item is None:
            return None
        return self.get(bytes.fromhex(item["requestHash"]["S"]))

    def delete(self, record: SuccessorRecord) -> None:
        inner = (
            []
            if record.inner_hash is None
            else [{"Delete": {"TableName": self._table, "Key": _inner_key(record.inner_hash)}}]
        )
        transact(
            self,
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _req_key(record.request_hash),
                        # Never a DONE request: its certificate was delivered to the device record.
                        "ConditionExpression": "#status = :pending",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":pending": {"S": SuccessorStatus.PENDING.value}},
                    }
                },
                {"Delete": {"TableName": self._table, "Key": _rate_key(record)}},
                # Written with the request item, owned by it: it goes with it.
                *inner,
            ],
            action="delete",
            conflict=SuccessorExists("successor request is not pending"),
        )

    def complete(self, request_hash: bytes, *, new_cert_id: str, now: int) -> SuccessorRecord:
        try:
            out = self.client.update_item(
                TableName=self._table,
                Key=_req_key(request_hash),
                UpdateExpression="SET #status = :done, newCertId = :cert, updatedAt = :now",
                # PENDING, or DONE already with this very certificate (a concurrent resume finished first).
                ConditionExpression="attribute_exists(pk) AND (#status = :pending OR newCertId = :cert)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":done": {"S": SuccessorStatus.DONE.value},
                    ":pending": {"S": SuccessorStatus.PENDING.value},
                    ":cert": {"S": new_cert_id},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise SuccessorExists("successor request is gone or done with another certificate") from exc
            raise self.error(exc, "complete") from exc
        return _record_from_item(out["Attributes"])

    def rate_entries(self, device_id: str, *, since: int) -> list[RateEntry]:
        return rate_entries(self, _rate_pk(device_id), since=since)


class FakeSuccessorStore:
    """In-memory ``SuccessorStore`` with the same conditions as the DynamoDB adapter."""

    def __init__(self) -> None:
        self.requests: dict[bytes, SuccessorRecord] = {}
        self.rates: dict[str, set[tuple[int, bytes]]] = {}
        self.inner: dict[bytes, bytes] = {}  # inner hash -> request hash

    def by_inner_hash(self, inner_hash: bytes) -> SuccessorRecord | None:
        rh = self.inner.get(inner_hash)
        return None if rh is None else self.requests.get(rh)

    def get(self, request_hash: bytes) -> SuccessorRecord | None:
        return self.requests.get(request_hash)

    def put(self, record: SuccessorRecord) -> None:
        if record.request_hash in self.requests or (record.inner_hash is not None and record.inner_hash in self.inner):
            raise SuccessorExists("successor request stored already")
        self.requests[record.request_hash] = record
        if record.inner_hash is not None:
            self.inner[record.inner_hash] = record.request_hash
        self.rates.setdefault(record.device_id, set()).add((record.generation_time, record.request_hash))

    def delete(self, record: SuccessorRecord) -> None:
        current = self.requests.get(record.request_hash)
        if current is None or current.status is not SuccessorStatus.PENDING:
            raise SuccessorExists("successor request is not pending")
        del self.requests[record.request_hash]
        if record.inner_hash is not None:
            self.inner.pop(record.inner_hash, None)
        entries = self.rates.get(record.device_id, set())
        entries.discard((record.generation_time, record.request_hash))
        if not entries:
            self.rates.pop(record.device_id, None)

    def complete(self, request_hash: bytes, *, new_cert_id: str, now: int) -> SuccessorRecord:
        current = self.requests.get(request_hash)
        if current is None or (current.status is not SuccessorStatus.PENDING and current.new_cert_id != new_cert_id):
            raise SuccessorExists("successor request is gone or done with another certificate")
        updated = replace(current, status=SuccessorStatus.DONE, new_cert_id=new_cert_id, updated_at=now)
        self.requests[request_hash] = updated
        return updated

    def rate_entries(self, device_id: str, *, since: int) -> list[RateEntry]:
        return [RateEntry(g, h) for g, h in sorted(self.rates.get(device_id, set())) if g >= since]
