"""The shuffle pool store: its contract (the fake here, the DynamoDB adapter under moto in tests/functional), and
the batched calls' handling of unprocessed items and throttling (a stub client)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from scms_service.errors import TransientStoreError
from scms_service.stores.shuffle_pool import DynamoDbShufflePool, FakeShufflePool, Lease, PoolError, PoolItem, shard_of

OWNER = b"\x01" * 8


def key(n: int) -> str:
    """A pool key whose first octet is n (so its shard is n mod shards)."""
    return f"{n:02x}" + f"{n:030x}"


def item(n: int, *, spdu: bytes = b"spdu", i: int = 3) -> PoolItem:
    return PoolItem(key(n), OWNER, i, n, spdu + bytes([n]))


# --------------------------------------------------------------------------------------------
# Contract (every ShufflePool; the store is made with 4 shards)


def pooled_items_are_found_by_key_and_read_by_shard(pool: Any) -> None:
    pool.put_many([item(n) for n in (0, 4, 8, 1, 5)], expires_at=99)
    assert pool.existing([key(0), key(1), key(2)]) == {key(0), key(1)}
    got = pool.get_many([key(4), key(3)])
    assert got == {key(4): item(4)}
    # Shard 0 holds keys 00.., 04.., 08.. in key order; a limit cuts the read.
    assert [x.key for x in pool.read(0, 10)] == [key(0), key(4), key(8)]
    assert [x.key for x in pool.read(0, 2)] == [key(0), key(4)]
    assert pool.read(2, 10) == []


def a_repeated_put_replaces_and_delete_ignores_absent_keys(pool: Any) -> None:
    pool.put_many([item(7)], expires_at=99)
    pool.put_many([item(7, spdu=b"again")], expires_at=99)
    assert pool.get_many([key(7)])[key(7)].spdu == b"again\x07"
    pool.delete_many([key(7), key(9)])
    assert pool.existing([key(7)]) == set()


def a_lease_is_exclusive_until_it_expires_and_released_only_by_its_holder(pool: Any) -> None:
    assert pool.acquire(1, "a", now_unix=1000, lease_seconds=60)
    assert not pool.acquire(1, "b", now_unix=1059, lease_seconds=60)  # held
    assert pool.acquire(2, "b", now_unix=1059, lease_seconds=60)  # another shard is free
    assert not pool.release(Lease(1, "b"))  # not b's lease: it stands
    assert not pool.acquire(1, "c", now_unix=1060, lease_seconds=60)  # expires after 1060
    assert pool.acquire(1, "c", now_unix=1061, lease_seconds=60)  # expired: taken over
    assert not pool.release(Lease(1, "a"))  # a's lease is gone
    assert pool.holds(Lease(1, "c")) and not pool.holds(Lease(1, "a"))  # taken over: a's is gone
    assert pool.release(Lease(1, "c"))
    assert not pool.release(Lease(1, "c"))  # released once
    assert not pool.holds(Lease(1, "c"))
    assert pool.acquire(1, "d", now_unix=1062, lease_seconds=60)
    assert pool.holds(Lease(1, "d")) and not pool.holds(Lease(3, "d"))  # only its own shard


def many_items_cross_the_batch_limits(pool: Any) -> None:
    # 260 items with repeated first octets: more than one BatchWriteItem (25) and BatchGetItem (100) each.
    items = [PoolItem(f"{n % 256:02x}{n:030x}", OWNER, 1, n, b"x") for n in range(260)]
    pool.put_many(items, expires_at=99)
    keys = [x.key for x in items]
    assert pool.existing(keys) == set(keys)
    assert pool.get_many(keys) == {x.key: x for x in items}
    assert sum(len(pool.read(s, 1000)) for s in range(4)) == 260
    pool.delete_many(keys[:130])
    assert pool.existing(keys) == set(keys[130:])


CONTRACT: tuple[Callable[[Any], None], ...] = (
    pooled_items_are_found_by_key_and_read_by_shard,
    a_repeated_put_replaces_and_delete_ignores_absent_keys,
    a_lease_is_exclusive_until_it_expires_and_released_only_by_its_holder,
    many_items_cross_the_batch_limits,
)


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_fake_pool_keeps_the_contract(check: Callable[[Any], None]) -> None:
    check(FakeShufflePool(shards=4))


def test_a_pool_whose_lease_ignored_expiry_would_break_the_contract() -> None:
    # Twin: a lease that never lapses fails the lease check.
    class Sticky(FakeShufflePool):
        def acquire(self, shard: int, holder: str, *, now_unix: int, lease_seconds: int) -> bool:
            if shard in self.leases:
                return False
            self.leases[shard] = (holder, now_unix + lease_seconds)
            return True

    with pytest.raises(AssertionError):
        a_lease_is_exclusive_until_it_expires_and_released_only_by_its_holder(Sticky(shards=4))


def test_a_pool_that_holds_any_lease_would_break_the_contract() -> None:
    # Twin: holds() that ignores the holder fails the lease check.
    class Credulous(FakeShufflePool):
        def holds(self, lease: Lease) -> bool:
            return lease.shard in self.leases

    with pytest.raises(AssertionError):
        a_lease_is_exclusive_until_it_expires_and_released_only_by_its_holder(Credulous(shards=4))


def test_shard_is_the_first_octet_mod_shards() -> None:
    assert shard_of("ff" + "0" * 30, 16) == 15 and shard_of("11" + "f" * 30, 16) == 1
    assert shard_of("ff" + "0" * 30, 1) == 0
    with pytest.raises(ValueError):
        shard_of("ff" + "0" * 30, 0)


def test_pool_items_keep_the_spdu_and_owner_out_of_their_repr() -> None:
    text = repr(PoolItem(key(1), b"\xab" * 8, 1, 2, b"\xcd" * 40))
    assert "abab" not in text and "cdcd" not in text and "\\xab" not in text and "\\xcd" not in text


# --------------------------------------------------------------------------------------------
# The DynamoDB adapter against a stub client: batches, unprocessed items, errors


class StubClient:
    """Answers batch calls from a script: each call takes the next entry (a dict, or an exception to raise)."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _next(self, name: str, kwargs: dict[str, Any]) -> Any:
        self.calls.append((name, kwargs))
        step = self.script.pop(0) if self.script else {}
        if isinstance(step, Exception):
            raise step
        return step

    def batch_write_item(self, **kwargs: Any) -> Any:
        return self._next("batch_write_item", kwargs)

    def batch_get_item(self, **kwargs: Any) -> Any:
        return self._next("batch_get_item", kwargs)


def _throttled() -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "BatchWriteItem")


def test_unprocessed_items_are_sent_again_after_a_pause() -> None:
    pauses: list[float] = []
    left = {"t": [{"PutRequest": {"Item": {"pk": {"S": "POOL#00"}}}}]}
    client = StubClient({"UnprocessedItems": left}, {"UnprocessedItems": left}, {})
    pool = DynamoDbShufflePool("t", 4, client, sleep=pauses.append)
    pool.put_many([item(n) for n in range(3)], expires_at=9)
    assert [c[1]["RequestItems"] for c in client.calls[1:]] == [left, left]
    assert pauses == [0.02, 0.04]
    # Twin: a batch processed at once makes one call and no pause.
    once = StubClient({})
    DynamoDbShufflePool("t", 4, once, sleep=pauses.append).put_many([item(1)], expires_at=9)
    assert len(once.calls) == 1 and pauses == [0.02, 0.04]


def test_items_left_unprocessed_after_every_attempt_are_a_transient_error() -> None:
    left: dict[str, Any] = {"t": [{"PutRequest": {"Item": {}}}]}
    client = StubClient(*[{"UnprocessedItems": left}] * 8)
    with pytest.raises(TransientStoreError):
        DynamoDbShufflePool("t", 4, client, sleep=lambda _: None).put_many([item(1)], expires_at=9)
    assert len(client.calls) == 8


def test_unprocessed_keys_of_a_batch_get_are_asked_again() -> None:
    found = {"pk": {"S": "POOL#01"}, "sk": {"S": key(1)}}
    left = {"t": {"Keys": [{"pk": {"S": "POOL#01"}, "sk": {"S": key(1)}}]}}
    client = StubClient({"Responses": {"t": []}, "UnprocessedKeys": left}, {"Responses": {"t": [found]}})
    assert DynamoDbShufflePool("t", 4, client, sleep=lambda _: None).existing([key(1)]) == {key(1)}
    assert client.calls[1][1]["RequestItems"] == left


def test_throttling_is_transient_and_other_errors_are_pool_errors() -> None:
    with pytest.raises(TransientStoreError):
        DynamoDbShufflePool("t", 4, StubClient(_throttled())).put_many([item(1)], expires_at=9)
    denied = ClientError({"Error": {"Code": "AccessDeniedException"}}, "BatchWriteItem")
    with pytest.raises(PoolError):
        DynamoDbShufflePool("t", 4, StubClient(denied)).put_many([item(1)], expires_at=9)


def test_a_batch_names_each_key_once() -> None:
    client = StubClient({})
    DynamoDbShufflePool("t", 4, client).put_many([item(1), item(1, spdu=b"later")], expires_at=9)
    (written,) = client.calls[0][1]["RequestItems"]["t"]
    assert written["PutRequest"]["Item"]["spdu"]["B"] == b"later\x01"
