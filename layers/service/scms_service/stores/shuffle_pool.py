"""The shuffle pool on ``RaTable``: signed RaAcaCertRequestSpdus of every device, waiting for the ACA (architecture.md).

Items:
- ``pk=POOL#<shard 2 hex>, sk=<pool key 32 hex>``: one request; ``spdu`` (B), ``owner`` (request
  hash hex), ``i``, ``j``, ``expiresAt`` (Unix seconds, TTL). The pool key is SHA-256(chainId ‖ i
  ‖ j) cut to 16 octets, so a retried expand finds what it pooled and the sort order of a shard
  groups nothing; shard = first octet of the key mod ``pool_shards``.
- ``pk=POOLLEASE#<shard 2 hex>, sk=LEASE``: who drains that shard now (``holder``) and until when
  (``expiresAt``, Unix seconds). Taken only when absent or expired, released only by its holder.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Self

from botocore.exceptions import ClientError

from ..errors import ScmsError
from .aws_errors import is_condition_failure
from .dynamo import DynamoTable
from .dynamo_batch import Sleep, batch_get, batch_write

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "DynamoDbShufflePool",
    "FakeShufflePool",
    "Lease",
    "PoolError",
    "PoolItem",
    "ShufflePool",
    "shard_of",
]


class PoolError(ScmsError):
    """The RA table failed for the pool in a way retrying will not fix (500)."""


@dataclass(frozen=True)
class PoolItem:
    """One pooled request: its pool key, the request it belongs to (owner), its (i, j) and the signed SPDU."""

    key: str
    owner: bytes = field(repr=False)  # the authorization request's hash
    i: int
    j: int
    spdu: bytes = field(repr=False)


@dataclass(frozen=True)
class Lease:
    """The right to drain one shard until the lease expires."""

    shard: int
    holder: str


def shard_of(key: str, shards: int) -> int:
    """The shard of pool key ``key``: its first octet mod ``shards``."""
    if shards < 1:
        raise ValueError("shards: at least 1")
    return int(key[:2], 16) % shards


class ShufflePool(Protocol):
    """Requests of all devices, sharded by pool key, drained under per-shard leases."""

    shards: int

    def put_many(self, items: Sequence[PoolItem], *, expires_at: int) -> None:
        """Pool ``items`` (an item with a key pooled already is replaced)."""
        ...

    def existing(self, keys: Collection[str]) -> set[str]:
        """Which of ``keys`` are pooled now."""
        ...

    def get_many(self, keys: Collection[str]) -> dict[str, PoolItem]:
        """The pooled items of ``keys`` (absent keys are left out)."""
        ...

    def read(self, shard: int, limit: int) -> list[PoolItem]:
        """Up to ``limit`` items of ``shard`` in pool-key order."""
        ...

    def delete_many(self, keys: Collection[str]) -> None:
        """Remove the items of ``keys`` (absent ones are ignored)."""
        ...

    def acquire(self, shard: int, holder: str, *, now_unix: int, lease_seconds: int) -> bool:
        """Take the lease of ``shard`` for ``holder`` if it is free or expired; False if another holds it."""
        ...

    def release(self, lease: Lease) -> bool:
        """Give the lease back; False if it is no longer ours (expired and taken)."""
        ...

    def holds(self, lease: Lease) -> bool:
        """Whether ``lease`` is still its shard's lease (expired but not taken over counts: nobody drew since)."""
        ...


def _shard_pk(shard: int) -> str:
    return f"POOL#{shard:02x}"


def _lease_key(shard: int) -> dict[str, Any]:
    return {"pk": {"S": f"POOLLEASE#{shard:02x}"}, "sk": {"S": "LEASE"}}


def _item_of(item: dict[str, Any]) -> PoolItem:
    return PoolItem(
        key=item["sk"]["S"],
        owner=bytes.fromhex(item["owner"]["S"]),
        i=int(item["i"]["N"]),
        j=int(item["j"]["N"]),
        spdu=bytes(item["spdu"]["B"]),
    )


def _check_key(key: str) -> str:
    if len(key) != 32 or key != key.lower() or any(c not in "0123456789abcdef" for c in key):
        raise ValueError("key: a pool key is 32 lower-case hex digits")
    return key


class DynamoDbShufflePool(DynamoTable):
    """``ShufflePool`` on the ``RaTable`` (boto3 client injectable)."""

    store_error = PoolError
    table_label = "RA table"
    error_topic = "pool"

    def __init__(self, table_name: str, shards: int, client: Any | None = None, *, sleep: Sleep = time.sleep) -> None:
        if not 1 <= shards <= 256:
            raise ValueError("shards: 1..256 (a shard is one octet of the key)")
        super().__init__(table_name, client)
        self.shards = shards
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings, client: Any | None = None) -> Self:
        return cls(settings.ra_table, settings.pool_shards, client)

    def _key(self, key: str) -> dict[str, Any]:
        return {"pk": {"S": _shard_pk(shard_of(_check_key(key), self.shards))}, "sk": {"S": key}}

    def put_many(self, items: Sequence[PoolItem], *, expires_at: int) -> None:
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        **self._key(item.key),
                        "spdu": {"B": item.spdu},
                        "owner": {"S": item.owner.hex()},
                        "i": {"N": str(item.i)},
                        "j": {"N": str(item.j)},
                        "expiresAt": {"N": str(expires_at)},
                    }
                }
            }
            # One request per key: a batch may not name a key twice.
            for item in {item.key: item for item in items}.values()
        ]
        batch_write(self.client, self._table, requests, on_error=self.error, action="put", sleep=self._sleep)

    def existing(self, keys: Collection[str]) -> set[str]:
        found = batch_get(self.client, self._table, [self._key(k) for k in keys], on_error=self.error,
                          action="existing", projection="sk", sleep=self._sleep)  # fmt: skip
        return {item["sk"]["S"] for item in found}

    def get_many(self, keys: Collection[str]) -> dict[str, PoolItem]:
        found = batch_get(self.client, self._table, [self._key(k) for k in set(keys)], on_error=self.error,
                          action="get", sleep=self._sleep)  # fmt: skip
        return {item["sk"]["S"]: _item_of(item) for item in found}

    def read(self, shard: int, limit: int) -> list[PoolItem]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _shard_pk(shard)}},
            "ConsistentRead": True,
        }
        try:
            while len(items) < limit:
                out = self.client.query(**kwargs, Limit=limit - len(items))
                items.extend(out.get("Items", []))
                last = out.get("LastEvaluatedKey")
                if not last:
                    break
                kwargs["ExclusiveStartKey"] = last
        except ClientError as exc:
            raise self.error(exc, "read") from exc
        return [_item_of(item) for item in items[:limit]]

    def delete_many(self, keys: Collection[str]) -> None:
        requests = [{"DeleteRequest": {"Key": self._key(k)}} for k in sorted(set(keys))]
        batch_write(self.client, self._table, requests, on_error=self.error, action="delete", sleep=self._sleep)

    def acquire(self, shard: int, holder: str, *, now_unix: int, lease_seconds: int) -> bool:
        try:
            self.client.put_item(
                TableName=self._table,
                Item={
                    **_lease_key(shard),
                    "holder": {"S": holder},
                    "expiresAt": {"N": str(now_unix + lease_seconds)},
                },
                # Free or expired only: two lanes never drain the same shard at once, and a
                # crashed holder's lease lapses after pool_lease_seconds.
                ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now",
                ExpressionAttributeValues={":now": {"N": str(now_unix)}},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise self.error(exc, "acquire") from exc
        return True

    def release(self, lease: Lease) -> bool:
        try:
            self.client.delete_item(
                TableName=self._table,
                Key=_lease_key(lease.shard),
                # Ours only: after expiry another lane may hold it, and its lease must stand.
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": lease.holder}},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise self.error(exc, "release") from exc
        return True

    def holds(self, lease: Lease) -> bool:
        try:
            # Consistent: a takeover written just before must be seen.
            out = self.client.get_item(TableName=self._table, Key=_lease_key(lease.shard), ConsistentRead=True,
                                       ProjectionExpression="holder")  # fmt: skip
        except ClientError as exc:
            raise self.error(exc, "holds") from exc
        return bool(out.get("Item", {}).get("holder", {}).get("S") == lease.holder)


class FakeShufflePool:
    """In-memory ``ShufflePool`` with the adapter's conditions."""

    def __init__(self, shards: int = 16) -> None:
        self.shards = shards
        self.items: dict[str, PoolItem] = {}
        self.expires: dict[str, int] = {}
        self.leases: dict[int, tuple[str, int]] = {}

    def put_many(self, items: Sequence[PoolItem], *, expires_at: int) -> None:
        for item in items:
            self.items[_check_key(item.key)] = item
            self.expires[item.key] = expires_at

    def existing(self, keys: Collection[str]) -> set[str]:
        return {k for k in keys if k in self.items}

    def get_many(self, keys: Collection[str]) -> dict[str, PoolItem]:
        return {k: self.items[k] for k in keys if k in self.items}

    def read(self, shard: int, limit: int) -> list[PoolItem]:
        keys = sorted(k for k in self.items if shard_of(k, self.shards) == shard)
        return [self.items[k] for k in keys[:limit]]

    def delete_many(self, keys: Collection[str]) -> None:
        for key in keys:
            self.items.pop(key, None)
            self.expires.pop(key, None)

    def acquire(self, shard: int, holder: str, *, now_unix: int, lease_seconds: int) -> bool:
        current = self.leases.get(shard)
        if current is not None and not current[1] < now_unix:
            return False
        self.leases[shard] = (holder, now_unix + lease_seconds)
        return True

    def release(self, lease: Lease) -> bool:
        current = self.leases.get(lease.shard)
        if current is None or current[0] != lease.holder:
            return False
        del self.leases[lease.shard]
        return True

    def holds(self, lease: Lease) -> bool:
        current = self.leases.get(lease.shard)
        return current is not None and current[0] == lease.holder
