"""The ECA's processed requests (replay) and per-device rate entries on ``EcaTable`` (docs/architecture.md).

Items:
- ``pk=REQ#<requestHash hex>, sk=REQ``: one enrollment request, keyed by the HashedId8 of its bytes
  as received. Its ``status`` moves PENDING (claimed, nothing issued yet) → ISSUED (the response,
  and so the certificate, is stored) → DONE (the device record says Enrolled). A replay of the same
  bytes is answered from ``response``; a second certificate is never made for it.
- ``pk=RATE#<canonicalId>, sk=<generationTime 10 digits>#<requestHash hex>``: one accepted request
  of a device, counted by generationTime for eca-maxReqs and eca-minWait (protocol.md §5.3).

Both carry ``expiresAt`` (Unix seconds, the table's TTL attribute). The claim writes both items in
one transaction, so a request is either counted and claimed or neither; a refusal after the claim
removes both again (``release``).
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
    "DynamoDbEcaRequestStore",
    "EcaRequestStore",
    "FakeEcaRequestStore",
    "IssuedCertificate",
    "RateEntry",
    "RequestClaimed",
    "RequestRecord",
    "RequestStatus",
    "StoreError",
]


class RequestStatus(StrEnum):
    """Where a claimed enrollment request stands."""

    PENDING = "PENDING"
    ISSUED = "ISSUED"
    DONE = "DONE"


class RequestClaimed(Conflict):
    """The request item is not in the state the write expected: another attempt holds or finished it (409)."""


class StoreError(ScmsError):
    """The ECA table failed for a reason that retrying will not fix (500)."""


@dataclass(frozen=True)
class IssuedCertificate:
    """What the device record needs about an issued enrollment certificate (protocol.md §3.2 step 6)."""

    certificate_id: str  # HashedId8 hex of the enrollment certificate
    validity_start: int  # Time32
    validity_end: int  # Time32
    eca_id: str  # HashedId8 hex of the issuing ECA certificate


@dataclass(frozen=True)
class RequestRecord:
    """One claimed enrollment request (the ``REQ`` item)."""

    request_hash: bytes
    status: RequestStatus
    claim_token: str = field(repr=False)
    claimed_at: int  # Time32 of the (latest) claim
    canonical_id: str
    generation_time: int
    expires_at: int  # Unix seconds (TTL)
    # The signed EcaEeCertResponseSpdu; for implicit certificates it holds r, so keep it out of reprs.
    response: bytes | None = field(default=None, repr=False)
    issued: IssuedCertificate | None = None


class EcaRequestStore(Protocol):
    """Replay and rate state of the ECA."""

    def get(self, request_hash: bytes) -> RequestRecord | None:
        """The request item, or None if these bytes were never claimed (or the item expired)."""
        ...

    def claim(self, record: RequestRecord) -> None:
        """Write a PENDING ``record`` and its rate entry together; ``RequestClaimed`` if the hash exists."""
        ...

    def take_over(self, request_hash: bytes, *, old_token: str, new_token: str, now: int) -> RequestRecord:
        """Move a stale PENDING claim to ``new_token``; ``RequestClaimed`` unless it is PENDING under ``old_token``."""
        ...

    def record_issued(self, request_hash: bytes, *, token: str, response: bytes, issued: IssuedCertificate) -> None:
        """PENDING → ISSUED with the response stored; ``RequestClaimed`` unless PENDING under ``token``."""
        ...

    def complete(self, request_hash: bytes) -> None:
        """ISSUED → DONE; ``RequestClaimed`` unless ISSUED (DONE already is not an error: no change)."""
        ...

    def release(self, record: RequestRecord) -> None:
        """Delete the request item and its rate entry, if the item still holds ``record.claim_token``."""
        ...

    def rate_entries(self, canonical_id: str, *, since: int) -> list[RateEntry]:
        """The device's rate entries with generationTime ≥ ``since``, oldest first."""
        ...


def _req_key(request_hash: bytes) -> dict[str, Any]:
    return {"pk": {"S": f"REQ#{request_hash.hex()}"}, "sk": {"S": "REQ"}}


def _rate_pk(canonical_id: str) -> str:
    return f"RATE#{canonical_id}"


def _rate_key(canonical_id: str, generation_time: int, request_hash: bytes) -> dict[str, Any]:
    return rate_key(_rate_pk(canonical_id), generation_time, request_hash)


def _record_item(record: RequestRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_req_key(record.request_hash),
        "status": {"S": record.status.value},
        "claimToken": {"S": record.claim_token},
        "claimedAt": {"N": str(record.claimed_at)},
        "canonicalId": {"S": record.canonical_id},
        "generationTime": {"N": str(record.generation_time)},
        "expiresAt": {"N": str(record.expires_at)},
    }
    if record.response is not None:
        item["response"] = {"B": record.response}
    if record.issued is not None:
        item.update(_issued_attributes(record.issued))
    return item


def _issued_attributes(issued: IssuedCertificate) -> dict[str, Any]:
    return {
        "certificateId": {"S": issued.certificate_id},
        "validityStart": {"N": str(issued.validity_start)},
        "validityEnd": {"N": str(issued.validity_end)},
        "ecaId": {"S": issued.eca_id},
    }


def _record_from_item(item: dict[str, Any]) -> RequestRecord:
    issued = None
    if "certificateId" in item:
        issued = IssuedCertificate(
            certificate_id=item["certificateId"]["S"],
            validity_start=int(item["validityStart"]["N"]),
            validity_end=int(item["validityEnd"]["N"]),
            eca_id=item["ecaId"]["S"],
        )
    return RequestRecord(
        request_hash=bytes.fromhex(item["pk"]["S"].removeprefix("REQ#")),
        status=RequestStatus(item["status"]["S"]),
        claim_token=item["claimToken"]["S"],
        claimed_at=int(item["claimedAt"]["N"]),
        canonical_id=item["canonicalId"]["S"],
        generation_time=int(item["generationTime"]["N"]),
        expires_at=int(item["expiresAt"]["N"]),
        response=bytes(item["response"]["B"]) if "response" in item else None,
        issued=issued,
    )


class DynamoDbEcaRequestStore(DynamoTable):
    """``EcaRequestStore`` on the ``EcaTable`` (boto3 client injectable)."""

    settings_field = "eca_table"
    store_error = StoreError
    table_label = "ECA table"

    def get(self, request_hash: bytes) -> RequestRecord | None:
        item = consistent_get(self, _req_key(request_hash), action="get")
        return None if item is None else _record_from_item(item)

    def claim(self, record: RequestRecord) -> None:
        rate = rate_item(
            _rate_key(record.canonical_id, record.generation_time, record.request_hash),
            generation_time=record.generation_time,
            expires_at=record.expires_at,
        )
        transact(
            self,
            claim_items(self._table, _record_item(record), rate),
            action="claim",
            conflict=RequestClaimed("request already claimed"),
        )

    def take_over(self, request_hash: bytes, *, old_token: str, new_token: str, now: int) -> RequestRecord:
        try:
            out = self.client.update_item(
                TableName=self._table,
                Key=_req_key(request_hash),
                UpdateExpression="SET claimToken = :new, claimedAt = :now",
                # Only a claim that is still PENDING under the token we saw: two retries cannot both take it.
                ConditionExpression="#s = :pending AND claimToken = :old",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":new": {"S": new_token},
                    ":old": {"S": old_token},
                    ":now": {"N": str(now)},
                    ":pending": {"S": RequestStatus.PENDING.value},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise RequestClaimed("request claim changed") from exc
            raise self.error(exc, "take_over") from exc
        return _record_from_item(out["Attributes"])

    def record_issued(self, request_hash: bytes, *, token: str, response: bytes, issued: IssuedCertificate) -> None:
        attributes = _issued_attributes(issued)
        try:
            self.client.update_item(
                TableName=self._table,
                Key=_req_key(request_hash),
                UpdateExpression=(
                    "SET #s = :issued, #r = :response, certificateId = :cid, validityStart = :vs, "
                    "validityEnd = :ve, ecaId = :eca"
                ),
                # Only the attempt that holds the PENDING claim may store a certificate: at most one per request.
                ConditionExpression="#s = :pending AND claimToken = :token",
                ExpressionAttributeNames={"#s": "status", "#r": "response"},
                ExpressionAttributeValues={
                    ":issued": {"S": RequestStatus.ISSUED.value},
                    ":pending": {"S": RequestStatus.PENDING.value},
                    ":token": {"S": token},
                    ":response": {"B": response},
                    ":cid": attributes["certificateId"],
                    ":vs": attributes["validityStart"],
                    ":ve": attributes["validityEnd"],
                    ":eca": attributes["ecaId"],
                },
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise RequestClaimed("request claim lost before the certificate was stored") from exc
            raise self.error(exc, "record_issued") from exc

    def complete(self, request_hash: bytes) -> None:
        try:
            self.client.update_item(
                TableName=self._table,
                Key=_req_key(request_hash),
                UpdateExpression="SET #s = :done",
                # ISSUED → DONE, or DONE again (a resumed attempt may race the first): never from PENDING.
                ConditionExpression="#s IN (:issued, :done)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":issued": {"S": RequestStatus.ISSUED.value},
                    ":done": {"S": RequestStatus.DONE.value},
                },
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise RequestClaimed("request is not issued") from exc
            raise self.error(exc, "complete") from exc

    def release(self, record: RequestRecord) -> None:
        transact(
            self,
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _req_key(record.request_hash),
                        # Only our own claim: a newer holder's item stays.
                        "ConditionExpression": "claimToken = :token",
                        "ExpressionAttributeValues": {":token": {"S": record.claim_token}},
                    }
                },
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _rate_key(record.canonical_id, record.generation_time, record.request_hash),
                    }
                },
            ],
            action="release",
            conflict=RequestClaimed("request claim changed"),
        )

    def rate_entries(self, canonical_id: str, *, since: int) -> list[RateEntry]:
        return rate_entries(self, _rate_pk(canonical_id), since=since)


class FakeEcaRequestStore:
    """In-memory ``EcaRequestStore`` with the same conditions as the DynamoDB adapter."""

    def __init__(self) -> None:
        self.requests: dict[bytes, RequestRecord] = {}
        self.rates: dict[tuple[str, int, bytes], int] = {}  # (canonicalId, generationTime, hash) → expiresAt

    def get(self, request_hash: bytes) -> RequestRecord | None:
        return self.requests.get(request_hash)

    def claim(self, record: RequestRecord) -> None:
        if record.request_hash in self.requests:
            raise RequestClaimed("request already claimed")
        self.requests[record.request_hash] = record
        self.rates[(record.canonical_id, record.generation_time, record.request_hash)] = record.expires_at

    def _held(self, request_hash: bytes, status: RequestStatus, token: str) -> RequestRecord:
        current = self.requests.get(request_hash)
        if current is None or current.status is not status or current.claim_token != token:
            raise RequestClaimed("request claim changed")
        return current

    def take_over(self, request_hash: bytes, *, old_token: str, new_token: str, now: int) -> RequestRecord:
        current = self._held(request_hash, RequestStatus.PENDING, old_token)
        taken = replace(current, claim_token=new_token, claimed_at=now)
        self.requests[request_hash] = taken
        return taken

    def record_issued(self, request_hash: bytes, *, token: str, response: bytes, issued: IssuedCertificate) -> None:
        current = self._held(request_hash, RequestStatus.PENDING, token)
        self.requests[request_hash] = replace(current, status=RequestStatus.ISSUED, response=response, issued=issued)

    def complete(self, request_hash: bytes) -> None:
        current = self.requests.get(request_hash)
        if current is None or current.status is RequestStatus.PENDING:
            raise RequestClaimed("request is not issued")
        self.requests[request_hash] = replace(current, status=RequestStatus.DONE)

    def release(self, record: RequestRecord) -> None:
        current = self.requests.get(record.request_hash)
        if current is None or current.claim_token != record.claim_token:
            raise RequestClaimed("request claim changed")
        del self.requests[record.request_hash]
        self.rates.pop((record.canonical_id, record.generation_time, record.request_hash), None)

    def rate_entries(self, canonical_id: str, *, since: int) -> list[RateEntry]:
        found = [(g, h) for (c, g, h) in self.rates if c == canonical_id and g >= since]
        return [RateEntry(g, h) for g, h in sorted(found, key=lambda e: (e[0], e[1].hex()))]
