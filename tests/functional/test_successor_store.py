"""The successor store's inner-request item on moto (DynamoDB transactions and conditions really run).

``pk=SUCCINNER#<SHA-256 of the inner EeEcaCertRequestSpdu>`` names the first request that carried an
inner request; a second request item carrying the same one is refused with everything it would have
written (stores/successor_requests.py), and the use case answers it as the first one's replay.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from scms_service.config import Settings
from scms_service.stores.successor_requests import (
    DynamoDbSuccessorStore,
    SuccessorExists,
    SuccessorRecord,
    SuccessorStatus,
)

from scms_codec.spdu import request_hash
from tests.unit.ra.test_successor import NOW, hierarchy, make_world, successor_request  # noqa: F401
from tests.unit.ra.test_successor_reencryption import FailingArtifacts, parity_flipped

INNER = b"\x5a" * 32


def _record(rh: bytes, *, inner: bytes | None = INNER, generation: int = NOW) -> SuccessorRecord:
    return SuccessorRecord(
        request_hash=rh, device_id="dev-1", enrollment_cert_id="00" * 8, generation_time=generation,
        status=SuccessorStatus.PENDING, ack=b"ack", created_at=NOW, rate_expires_at=2_000_000_000, inner_hash=inner,
    )  # fmt: skip


def _items(settings: Settings) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=settings.ra_table, ConsistentRead=True)[
        "Items"
    ]
    return found


def test_the_inner_item_names_the_first_request_and_refuses_a_second(aws_settings: Settings) -> None:
    store = DynamoDbSuccessorStore.from_settings(aws_settings)
    first = _record(b"\x01" * 8)
    store.put(first)
    found = store.by_inner_hash(INNER)
    assert found == first and found.inner_hash == INNER
    before = _items(aws_settings)
    assert {i["pk"]["S"] for i in before} == {
        f"SUCCESSOR#{'01' * 8}", "RASUCC#dev-1", f"SUCCINNER#{INNER.hex()}"
    }  # fmt: skip
    # A second request item carrying the same inner request: refused, and none of its items written
    with pytest.raises(SuccessorExists):
        store.put(_record(b"\x02" * 8, generation=NOW + 1))
    assert _items(aws_settings) == before
    # Twin: another inner request is a request of its own.
    store.put(_record(b"\x03" * 8, inner=b"\x5b" * 32, generation=NOW + 2))
    assert len(_items(aws_settings)) == len(before) + 3


def test_delete_takes_the_inner_item_with_it(aws_settings: Settings) -> None:
    store = DynamoDbSuccessorStore.from_settings(aws_settings)
    first = _record(b"\x01" * 8)
    store.put(first)
    store.delete(first)
    assert _items(aws_settings) == [] and store.by_inner_hash(INNER) is None
    # Twin: then the same inner request may be stored under another hash (a refused claim holds nothing).
    store.put(_record(b"\x02" * 8))
    assert store.by_inner_hash(INNER) is not None


def test_records_without_an_inner_hash_write_no_inner_item(aws_settings: Settings) -> None:
    store = DynamoDbSuccessorStore.from_settings(aws_settings)
    store.put(_record(b"\x01" * 8, inner=None))
    store.put(_record(b"\x02" * 8, inner=None, generation=NOW + 1))
    assert not any(i["pk"]["S"].startswith("SUCCINNER#") for i in _items(aws_settings))
    assert store.by_inner_hash(INNER) is None
    got = store.get(b"\x01" * 8)
    assert got is not None and got.inner_hash is None
    # Twin: completing keeps the inner hash of a record that has one.
    store.put(_record(b"\x03" * 8, generation=NOW + 2))
    assert store.complete(b"\x03" * 8, new_cert_id="11" * 8, now=NOW).inner_hash == INNER


def test_a_reencrypted_pending_request_is_finished_once_on_dynamodb(aws_settings: Settings, hierarchy: Any) -> None:  # noqa: F811
    # Given a successor request left PENDING (the ECA issued, the file not stored), on DynamoDB
    world = make_world(hierarchy)
    world.requests = DynamoDbSuccessorStore.from_settings(aws_settings)  # type: ignore[assignment]
    world.artifacts = FailingArtifacts()
    data, key = successor_request(world.holder, world.ra)
    with pytest.raises(OSError):
        world.enroll(data)
    stored = world.requests.get(request_hash(data))
    assert stored is not None and stored.status is SuccessorStatus.PENDING
    # When another ciphertext of it arrives, it is answered with the first ack and finishes the first request
    copy_ = parity_flipped(world, data)
    assert world.enroll(copy_, now=NOW + 5) == stored.ack
    assert world.requests.get(request_hash(copy_)) is None
    done = world.requests.get(request_hash(data))
    assert done is not None and done.status is SuccessorStatus.DONE
    assert len(world.device().enrollments) == 2
    # Twin: a new request by the new certificate is stored beside it.
    world.advance(data, key, stored.ack)
    later = world.request(generation_time=NOW + 1)
    world.enroll(later, now=NOW + 1)
    assert world.requests.get(request_hash(later)) is not None
