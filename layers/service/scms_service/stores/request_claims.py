"""What the request stores share: a request item claimed together with its rate entry (protocol.md §3.2, §3.4, §5.3).

The ECA's enrollment requests (``eca_requests``), the RA's authorization requests (``auth_requests``)
and its successor-enrollment requests (``successor_requests``) each keep, per request, one item keyed
by the HashedId8 of the request's bytes and one rate entry ``pk=<rate pk>, sk=<generationTime 10
digits>#<requestHash hex>`` (with ``generationTime`` and ``expiresAt``, the TTL) counted for the
maxReqs/minWait checks. The request item is put only if absent and the rate entry in the same
transaction, so a request is either counted and stored or neither; a refusal after the claim
deletes both again in one transaction. This module holds those shared pieces; each store keeps its
own keys, items, conditions and errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..errors import ScmsError
from .aws_errors import is_condition_failure
from .dynamo import DynamoTable

__all__ = [
    "RateEntry",
    "claim_items",
    "consistent_get",
    "rate_entries",
    "rate_item",
    "rate_key",
    "transact",
]


@dataclass(frozen=True)
class RateEntry:
    """One accepted request of a rate key (device, or enrollment certificate and PSID/SSP set), by generationTime."""

    generation_time: int
    request_hash: bytes


def rate_key(pk: str, generation_time: int, request_hash: bytes) -> dict[str, Any]:
    """The key of one rate entry: its rate ``pk`` and ``<generationTime 10 digits>#<requestHash hex>``."""
    return {"pk": {"S": pk}, "sk": {"S": f"{generation_time:010d}#{request_hash.hex()}"}}


def rate_item(key: dict[str, Any], *, generation_time: int, expires_at: int) -> dict[str, Any]:
    """The rate entry under ``key`` (``rate_key``) with its ``generationTime`` and ``expiresAt`` (TTL)."""
    return {**key, "generationTime": {"N": str(generation_time)}, "expiresAt": {"N": str(expires_at)}}


def claim_items(table: str, request_item: dict[str, Any], rate: dict[str, Any]) -> list[dict[str, Any]]:
    """The two ``TransactItems`` of a claim: the request item if absent, and its rate entry."""
    return [
        {
            "Put": {
                "TableName": table,
                "Item": request_item,
                # First copy only: the same bytes are stored once, whoever else races us.
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        # Keyed by this request's hash: it exists exactly when the request item does, so writing it again is harmless.
        {"Put": {"TableName": table, "Item": rate}},
    ]


def transact(store: DynamoTable, items: Sequence[dict[str, Any]], *, action: str, conflict: ScmsError) -> None:
    """Write ``items`` in one transaction: a failed condition raises ``conflict``, any other failure the store error."""
    try:
        store.client.transact_write_items(TransactItems=list(items))
    except ClientError as exc:
        if is_condition_failure(exc):
            raise conflict from exc
        raise store.error(exc, action) from exc


def consistent_get(store: DynamoTable, key: dict[str, Any], *, action: str) -> dict[str, Any] | None:
    """The item under ``key``, read strongly consistent (a replay right after the first answer sees it), or None."""
    try:
        out = store.client.get_item(TableName=store.table_name, Key=key, ConsistentRead=True)
    except ClientError as exc:
        raise store.error(exc, action) from exc
    item: dict[str, Any] | None = out.get("Item")
    return item


def rate_entries(store: DynamoTable, pk: str, *, since: int, action: str = "rate_entries") -> list[RateEntry]:
    """The rate entries under ``pk`` with generationTime ≥ ``since``, oldest first (strongly consistent, all pages)."""
    items = store.query_all(
        action,
        KeyConditionExpression="pk = :pk AND sk >= :since",
        ExpressionAttributeValues={":pk": {"S": pk}, ":since": {"S": f"{max(since, 0):010d}"}},
        ConsistentRead=True,
    )
    entries: list[RateEntry] = []
    for item in items:
        generation, _, hash_hex = item["sk"]["S"].partition("#")
        entries.append(RateEntry(int(generation), bytes.fromhex(hash_hex)))
    return entries
