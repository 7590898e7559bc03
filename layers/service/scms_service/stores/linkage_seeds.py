"""Linkage seeds of one LA (``La1Table`` / ``La2Table``), docs/architecture.md "Linkage authorities".

Items: ``pk=CHAIN#<chainId hex>, sk=SEED``: the chain's first seed ``seed`` (16 octets, binary), the
i-period ``originI`` it belongs to, the ``laId`` that created it and ``createdAt`` (Time32). The
chain id is the RA's opaque random handle of a device's linkage chain; nothing here names a
device. A chain's seed is written once, conditionally, and never changed: every later seed is
evolved from it. Seeds are secrets: never in a repr, a log line or an exception message.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Self

from botocore.exceptions import ClientError

from ..errors import ScmsError
from .aws_errors import is_condition_failure
from .dynamo import DynamoTable

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "CHAIN_ID_SIZE",
    "ChainSeed",
    "DynamoDbSeedStore",
    "InMemorySeedStore",
    "SeedStore",
    "SeedStoreError",
]

CHAIN_ID_SIZE = 16

_SEED_SK = "SEED"


class SeedStoreError(ScmsError):
    """The LA table could not be read or written, or holds a malformed item (500; names the chain only)."""


@dataclass(frozen=True)
class ChainSeed:
    """The seed ls(origin_i) of one linkage chain, as stored; ``seed`` is hidden from repr."""

    chain_id: bytes
    origin_i: int
    seed: bytes = field(repr=False)
    la_id: bytes
    created_at: int


class SeedStore(Protocol):
    """Where one LA keeps the first seed of every chain it has seen."""

    def get(self, chain_id: bytes) -> ChainSeed | None:
        """The chain's stored seed (strongly consistent), or None for a chain never seen."""
        ...

    def put_if_absent(self, seed: ChainSeed) -> ChainSeed:
        """Store ``seed`` unless its chain has one; the stored seed either way (the first writer's wins)."""
        ...


def _pk(chain_id: bytes) -> str:
    return f"CHAIN#{chain_id.hex()}"


class InMemorySeedStore:
    """A ``SeedStore`` in a dict, with the DynamoDB adapter's condition (tests). Its repr shows a count only."""

    def __init__(self) -> None:
        self._seeds: dict[bytes, ChainSeed] = {}
        self._lock = threading.Lock()

    def get(self, chain_id: bytes) -> ChainSeed | None:
        return self._seeds.get(bytes(chain_id))

    def put_if_absent(self, seed: ChainSeed) -> ChainSeed:
        with self._lock:
            return self._seeds.setdefault(seed.chain_id, seed)

    def chains(self) -> list[bytes]:
        """The chain ids stored, for tests."""
        return sorted(self._seeds)

    def __repr__(self) -> str:
        return f"InMemorySeedStore({len(self._seeds)} chains)"


class DynamoDbSeedStore(DynamoTable):
    """``SeedStore`` on an LA's DynamoDB table (low-level client, injectable)."""

    store_error = SeedStoreError
    table_label = "LA table"
    busy_message = "{table} {action}: temporarily unavailable ({code})"
    failed_message = "{table} {action}: {code}"

    @classmethod
    def from_settings(  # type: ignore[override]  # two LAs, two tables: the caller names the LA
        cls, settings: Settings, la: str, client: Any | None = None
    ) -> Self:
        """The store of LA ``la`` ("la1" → ``la1_table``, "la2" → ``la2_table``)."""
        tables = {"la1": settings.la1_table, "la2": settings.la2_table}
        if la not in tables:
            raise SeedStoreError(f"unknown LA {la!r}")
        return cls(tables[la], client)

    def __repr__(self) -> str:
        return f"DynamoDbSeedStore({self._table!r})"

    def get(self, chain_id: bytes) -> ChainSeed | None:
        try:
            response = self.client.get_item(
                TableName=self._table,
                Key={"pk": {"S": _pk(chain_id)}, "sk": {"S": _SEED_SK}},
                # A seed written a moment ago by a concurrent first request must be seen.
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise self.error(exc, "read") from exc
        item = response.get("Item")
        return None if item is None else self._seed(chain_id, item)

    def _seed(self, chain_id: bytes, item: Mapping[str, Any]) -> ChainSeed:
        try:
            return ChainSeed(
                chain_id=bytes(chain_id),
                origin_i=int(item["originI"]["N"]),
                seed=bytes(item["seed"]["B"]),
                la_id=bytes.fromhex(item["laId"]["S"]),
                created_at=int(item["createdAt"]["N"]),
            )
        except (KeyError, ValueError, TypeError):
            # No cause chained: the item holds the seed.
            raise SeedStoreError(f"LA table: malformed seed item for chain {chain_id.hex()}") from None

    def put_if_absent(self, seed: ChainSeed) -> ChainSeed:
        try:
            self.client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": _pk(seed.chain_id)},
                    "sk": {"S": _SEED_SK},
                    "seed": {"B": seed.seed},
                    "originI": {"N": str(seed.origin_i)},
                    "laId": {"S": seed.la_id.hex()},
                    "createdAt": {"N": str(seed.created_at)},
                },
                # A chain gets one seed, ever: of two concurrent first requests the second loses
                # here and uses the first one's seed, so both answer with the same PLVs.
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise self.error(exc, "write") from exc
            stored = self.get(seed.chain_id)
            if stored is None:
                raise SeedStoreError(f"LA table: seed of chain {seed.chain_id.hex()} vanished") from exc
            return stored
        return seed
