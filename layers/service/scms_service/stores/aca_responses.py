"""The ACA's answered requests on ``AcaTable`` (docs/architecture.md "ACA issuance"): one response per request, ever.

Item ``pk=REQ#<requestHash hex>, sk=REQ`` with ``response`` (the signed ``AcaRaCertResponseSpdu``)
and ``expiresAt`` (Unix seconds, the table's TTL attribute). The key is the HashedId8 of the
``RaAcaCertRequestSpdu`` as received (protocol.md §4.1), so a retried request finds the answer it
already got: the first stored response wins and a second, different certificate is never handed
out for the same request. Nothing else is stored: the ACA knows no device (issue #5 §4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ..errors import ScmsError, TransientStoreError
from .dynamo import DynamoTable

__all__ = ["AcaResponseStore", "AcaStoreError", "DynamoDbAcaResponseStore", "FakeAcaResponseStore"]

# DynamoDB limits: 100 keys per BatchGetItem, 100 items per TransactWriteItems.
_BATCH = 100
_MAX_UNPROCESSED_ROUNDS = 8


class AcaStoreError(ScmsError):
    """The ACA table failed for a reason that retrying will not fix (500)."""


class AcaResponseStore(Protocol):
    """Responses by request hash: read many, write many, never overwrite."""

    def get_many(self, request_hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        """The stored response of each hash that has one (absent hashes are left out)."""
        ...

    def put_many(self, responses: Mapping[bytes, bytes], *, expires_at: int) -> dict[bytes, bytes]:
        """Store each response unless its hash has one already; return what is stored for every hash given.

        For a hash answered before (by an earlier attempt or a concurrent one), the returned value
        is that earlier response, not the one passed in.
        """
        ...


def _key(request_hash: bytes) -> dict[str, Any]:
    return {"pk": {"S": f"REQ#{request_hash.hex()}"}, "sk": {"S": "REQ"}}


def _hash_of(item: Mapping[str, Any]) -> bytes:
    return bytes.fromhex(str(item["pk"]["S"]).removeprefix("REQ#"))


class DynamoDbAcaResponseStore(DynamoTable):
    """``AcaResponseStore`` on the ``AcaTable`` (boto3 client injectable)."""

    settings_field = "aca_table"
    store_error = AcaStoreError
    table_label = "ACA table"

    def get_many(self, request_hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        unique = list(dict.fromkeys(request_hashes))
        for start in range(0, len(unique), _BATCH):
            # Strongly consistent: a retry right after the first answer must see its item.
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [_key(h) for h in unique[start : start + _BATCH]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "pk, #r",
                    "ExpressionAttributeNames": {"#r": "response"},
                }
            }
            for _ in range(_MAX_UNPROCESSED_ROUNDS):
                try:
                    out = self.client.batch_get_item(RequestItems=pending)
                except ClientError as exc:
                    raise self.error(exc, "get_many") from exc
                for item in out.get("Responses", {}).get(self._table, []):
                    found[_hash_of(item)] = bytes(item["response"]["B"])
                pending = out.get("UnprocessedKeys") or {}
                if not pending:
                    break
            else:
                raise TransientStoreError("ACA table busy during get_many (keys left unprocessed)")
        return found

    def put_many(self, responses: Mapping[bytes, bytes], *, expires_at: int) -> dict[bytes, bytes]:
        stored: dict[bytes, bytes] = {}
        hashes = list(responses)
        for start in range(0, len(hashes), _BATCH):
            todo = hashes[start : start + _BATCH]
            while todo:
                taken = self._put_chunk(todo, responses, expires_at)
                if taken is None:
                    stored.update({h: responses[h] for h in todo})
                    break
                # Hashes answered before keep their first response; write the others again.
                stored.update(self.get_many(taken))
                lost = [h for h in taken if h not in stored]
                if lost:
                    # The item existed at the write but is gone now (TTL): an answer we cannot give twice.
                    raise AcaStoreError("ACA table lost an answered request between write and read")
                todo = [h for h in todo if h not in stored]
        return stored

    def _put_chunk(self, hashes: list[bytes], responses: Mapping[bytes, bytes], expires_at: int) -> list[bytes] | None:
        """Put every item in one transaction; None on success, else the hashes whose item already exists."""
        items = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**_key(h), "response": {"B": responses[h]}, "expiresAt": {"N": str(expires_at)}},
                    # First answer only: a request already answered keeps its response (and certificate).
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for h in hashes
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise self.error(exc, "put_many") from exc
            reasons = exc.response.get("CancellationReasons") or []
            taken = [h for h, r in zip(hashes, reasons, strict=False) if r.get("Code") == "ConditionalCheckFailed"]
            if not taken:
                # Cancelled for another reason (a conflict with a concurrent transaction): retry later.
                raise self.error(exc, "put_many") from exc
            return taken
        return None


class FakeAcaResponseStore:
    """In-memory ``AcaResponseStore`` with the same first-answer-wins condition as the DynamoDB adapter."""

    def __init__(self) -> None:
        self.items: dict[bytes, tuple[bytes, int]] = {}  # requestHash → (response, expiresAt)

    def get_many(self, request_hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        return {h: self.items[h][0] for h in request_hashes if h in self.items}

    def put_many(self, responses: Mapping[bytes, bytes], *, expires_at: int) -> dict[bytes, bytes]:
        for h, response in responses.items():
            self.items.setdefault(h, (response, expires_at))
        return {h: self.items[h][0] for h in responses}
