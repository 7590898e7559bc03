"""The local cloud's moto patches (``scms_cli.local.cloud``) answer exactly what moto answers without them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from scms_service.config import Settings

from scms_cli.local.cloud import (
    LOCAL_ACCOUNT,
    LOCAL_REGION,
    items_serialized_as_json,
    moto_modules_listed_once,
    query_reads_one_partition,
)


@pytest.fixture(autouse=True)
def _moto_as_shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto without these patches during each test, put back as found afterwards.

    A local cloud started earlier in this worker (tests/functional/test_local_cloud.py,
    test_download_counter_one_write.py) may have left them applied: a test would then compare the
    patch with itself, and "undo restores moto's methods" would see the patch as moto's own.
    """
    from moto import backends
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoResult

    owners: list[tuple[Any, str]] = [(Table, "query"), (Table, "all_items"), (DynamoResult, "execute_result"),
                                     (backends, "list_of_moto_modules")]  # fmt: skip
    for owner, name in owners:
        monkeypatch.setattr(owner, name, getattr(owner, name))  # restored after the test
    for patched in (Table.query, DynamoResult.execute_result, backends.list_of_moto_modules):
        undo = getattr(patched, "_scms_undo", None)
        if undo is not None:
            undo()


@pytest.fixture
def ra_table(aws_settings: Settings) -> Iterator[tuple[Any, str]]:
    """RaTable with three partitions (one of them wide), items of mixed shape, and the GSI's key on some."""
    client = boto3.client("dynamodb")
    table = aws_settings.ra_table
    for n in range(60):
        item: dict[str, Any] = {"pk": {"S": "REQ#aa"}, "sk": {"S": f"CERT#{n // 20:05d}#{n % 20:03d}"},
                                "n": {"N": str(n)}, "blob": {"B": bytes([n]) * (n + 1)}}  # fmt: skip
        if n % 3 == 0:
            item["refusal"] = {"S": "400-35"}
        if n % 4 == 0:  # in the byEnrollmentCert index: 3 items share a key, across partitions below
            item["enrollmentCertId"] = {"S": f"e{n % 3}"}
        client.put_item(TableName=table, Item=item)
    for n in range(7):
        client.put_item(TableName=table, Item={"pk": {"S": "REQ#bb"}, "sk": {"S": f"CERT#{n:05d}#000"},
                                               "n": {"N": str(n)}})  # fmt: skip
    client.put_item(TableName=table, Item={"pk": {"S": "POOL#01"}, "sk": {"S": "00ff"}, "n": {"N": "1"},
                                           "enrollmentCertId": {"S": "e1"}})  # fmt: skip
    client.put_item(TableName=table, Item={"pk": {"S": "DEVICE#x"}, "sk": {"S": "STATE"}, "canonicalId": {"S": "c"}})
    yield client, table


def _pages(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a query (moto's ResponseMetadata dropped), following LastEvaluatedKey."""
    pages = []
    while True:
        out = client.query(**kwargs)
        out.pop("ResponseMetadata", None)
        pages.append(out)
        if "LastEvaluatedKey" not in out:
            return pages
        kwargs = {**kwargs, "ExclusiveStartKey": out["LastEvaluatedKey"]}


_QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "REQ#aa"}}},
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "REQ#aa"}}, "Limit": 7},
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "REQ#aa"}}, "Limit": 9,
     "ScanIndexForward": False},
    {"KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi", "Limit": 5, "ConsistentRead": True,
     "ExpressionAttributeValues": {":pk": {"S": "REQ#aa"}, ":lo": {"S": "CERT#00001#000"},
                                   ":hi": {"S": "CERT#00001#999"}}},
    {"KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)", "Select": "COUNT",
     "ExpressionAttributeValues": {":pk": {"S": "REQ#aa"}, ":p": {"S": "CERT#00002"}}},
    {"KeyConditionExpression": "pk = :pk AND sk > :lo", "FilterExpression": "attribute_exists(refusal)",
     "Limit": 8, "ExpressionAttributeValues": {":pk": {"S": "REQ#aa"}, ":lo": {"S": "CERT#00000#010"}}},
    {"KeyConditionExpression": "pk = :pk", "ProjectionExpression": "sk, n", "Limit": 3,
     "ExpressionAttributeValues": {":pk": {"S": "REQ#bb"}}},
    {"KeyConditionExpression": "pk = :pk", "Select": "COUNT", "ExpressionAttributeValues": {":pk": {"S": "POOL#01"}}},
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "NONE#"}}},
    {"KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)", "Limit": 3,
     "ExpressionAttributeValues": {":pk": {"S": "REQ#aa"}, ":p": {"S": "CERT#00001"}}},
    {"KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi", "Limit": 4, "ScanIndexForward": False,
     "ExpressionAttributeValues": {":pk": {"S": "REQ#aa"}, ":lo": {"S": "CERT#00001#005"},
                                   ":hi": {"S": "CERT#00002#002"}}},
    {"KeyConditionExpression": "pk = :pk AND sk >= :lo", "FilterExpression": "n > :n", "Limit": 6,
     "ExpressionAttributeValues": {":pk": {"S": "REQ#aa"}, ":lo": {"S": "CERT#00002#000"}, ":n": {"N": "50"}}},
    {"KeyConditionExpression": "pk = :pk AND sk < :hi", "Limit": 7,
     "ExpressionAttributeValues": {":pk": {"S": "REQ#aa"}, ":hi": {"S": "CERT#00000#010"}}},
    {"IndexName": "byEnrollmentCert", "KeyConditionExpression": "enrollmentCertId = :e",
     "ExpressionAttributeValues": {":e": {"S": "e1"}}},
    {"IndexName": "byEnrollmentCert", "KeyConditionExpression": "enrollmentCertId = :e", "Limit": 2,
     "ScanIndexForward": False, "ExpressionAttributeValues": {":e": {"S": "e0"}}},
    {"IndexName": "byCanonicalId", "KeyConditionExpression": "canonicalId = :c", "Select": "COUNT",
     "ExpressionAttributeValues": {":c": {"S": "c"}}},
    {"IndexName": "byAcaRequest", "KeyConditionExpression": "acaRequestId = :a",
     "ExpressionAttributeValues": {":a": {"S": "none"}}},
]  # fmt: skip


def test_query_reads_one_partition_gives_moto_s_own_answers(ra_table: tuple[Any, str]) -> None:
    # Given the same items, when every query shape is paged through with the patch and without it,
    client, table = ra_table
    undo = query_reads_one_partition()
    try:
        patched = [_pages(client, TableName=table, **q) for q in _QUERIES]
    finally:
        undo()
    plain = [_pages(client, TableName=table, **q) for q in _QUERIES]
    # Then every page (items, order, counts, LastEvaluatedKey) is the same.
    assert patched == plain
    assert [sum(p["Count"] for p in pages) for pages in plain] == [
        60,
        60,
        60,
        20,
        20,
        16,
        7,
        1,
        0,
        20,
        18,
        9,
        10,
        6,
        5,
        1,
        0,
    ]
    # Twin: a different item set gives a different answer (the comparison can fail).
    client.delete_item(TableName=table, Key={"pk": {"S": "REQ#aa"}, "sk": {"S": "CERT#00001#003"}})
    assert [_pages(client, TableName=table, **q) for q in _QUERIES] != plain


class _Recording(defaultdict[Any, Any]):
    """A moto ``Table.items`` that notes whether every partition was walked (``values()``)."""

    walked = 0

    def values(self) -> Any:
        type(self).walked += 1
        return super().values()


def _record_walks(table_name: str) -> type[_Recording]:
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[LOCAL_ACCOUNT][LOCAL_REGION].tables[table_name]
    recording = type("Recording", (_Recording,), {"walked": 0})
    table.items = recording(dict, table.items)
    return recording


def test_patched_query_does_not_walk_the_table(ra_table: tuple[Any, str]) -> None:
    # Given the patch, when one partition is queried,
    client, table = ra_table
    recording = _record_walks(table)
    undo = query_reads_one_partition()
    try:
        assert query_reads_one_partition() is undo  # applying it twice patches once
        _pages(client, TableName=table, **_QUERIES[1])
    finally:
        undo()
    # Then no other partition was read; twin: moto's own query walks them all.
    assert recording.walked == 0
    _pages(client, TableName=table, **_QUERIES[1])
    assert recording.walked > 0


def test_undo_restores_moto_s_methods(ra_table: tuple[Any, str]) -> None:
    from moto.dynamodb.models.table import Table

    before = (Table.query, Table.all_items)
    undo = query_reads_one_partition()
    assert (Table.query, Table.all_items) != before
    undo()
    assert (Table.query, Table.all_items) == before


# Every attribute type, nested ones included.
_RICH = {
    "pk": {"S": "REQ#cc"}, "s": {"S": "text é"}, "n": {"N": "-12.5"}, "b": {"B": b"\x00\xffbinary"},
    "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"\x01", b"\x02\x03"]},
    "m": {"M": {"inner": {"B": b"\x07"}, "deep": {"L": [{"N": "1"}, {"M": {"x": {"NULL": True}}}]}}},
    "l": {"L": [{"S": "x"}, {"BOOL": False}, {"B": b"\x09"}]}, "t": {"BOOL": True}, "z": {"NULL": True},
}  # fmt: skip


def _reads(client: Any, table: str) -> list[dict[str, Any]]:
    """The item-reading operations' answers as the client parses them (ResponseMetadata dropped)."""
    key = {"pk": {"S": "REQ#cc"}, "sk": {"S": "CERT#00000#001"}}
    outs = [
        client.get_item(TableName=table, Key=key),
        client.get_item(TableName=table, Key={**key, "sk": {"S": "absent"}}),
        client.get_item(TableName=table, Key=key, ProjectionExpression="m.deep, b"),
        client.batch_get_item(RequestItems={table: {"Keys": [key, {**key, "sk": {"S": "CERT#00000#002"}},
                                                              {**key, "sk": {"S": "absent"}}]}}),
        client.query(TableName=table, KeyConditionExpression="pk = :pk", Limit=1,
                     ExpressionAttributeValues={":pk": {"S": "REQ#cc"}}, ReturnConsumedCapacity="TOTAL"),
        client.query(TableName=table, KeyConditionExpression="pk = :pk",
                     ExpressionAttributeValues={":pk": {"S": "NONE#"}}),
        client.query(TableName=table, KeyConditionExpression="pk = :pk", Select="COUNT",
                     ExpressionAttributeValues={":pk": {"S": "REQ#cc"}}),
        client.scan(TableName=table, Limit=5),
    ]  # fmt: skip
    for out in outs:
        out.pop("ResponseMetadata", None)
    return outs


def test_items_serialized_as_json_parse_as_moto_s_own(
    ra_table: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given items of every attribute type (and a count of the answers the patch writes),
    from scms_cli.local import cloud

    written: list[Any] = []
    wire = cloud._wire

    def counted(value: Any) -> Any:
        written.append(value)
        return wire(value)

    monkeypatch.setattr(cloud, "_wire", counted)
    client, table = ra_table
    for n in (1, 2):
        client.put_item(TableName=table, Item={**_RICH, "sk": {"S": f"CERT#00000#00{n}"}})
    # When GetItem, BatchGetItem, Query and Scan answer with the patch and without it,
    undo = items_serialized_as_json()
    try:
        assert items_serialized_as_json() is undo  # applying it twice patches once
        patched = _reads(client, table)
    finally:
        undo()
    assert written  # the patch wrote the items
    seen = len(written)
    plain = _reads(client, table)
    assert len(written) == seen  # moto's own serializer answered these
    # Then the client reads the same answers (binary values included).
    assert patched == plain
    assert patched[0]["Item"]["b"] == {"B": b"\x00\xffbinary"} and "Item" not in patched[1]
    assert len(patched[3]["Responses"][table]) == 2 and patched[4]["ConsumedCapacity"]["TableName"] == table
    # Twin: another item's answer differs (the comparison can fail).
    client.put_item(TableName=table, Item={**_RICH, "sk": {"S": "CERT#00000#001"}, "b": {"B": b"other"}})
    assert _reads(client, table) != plain


def test_undo_restores_moto_s_serialization(ra_table: tuple[Any, str]) -> None:
    from moto.dynamodb.responses import DynamoResult

    before = DynamoResult.execute_result
    undo = items_serialized_as_json()
    assert DynamoResult.execute_result is not before
    undo()
    assert DynamoResult.execute_result is before


def test_moto_modules_are_listed_once_and_as_moto_lists_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from moto import backends

    # A local cloud started earlier in this worker may have left the patch applied: start from moto's
    # own function, and leave the patch as it was found.
    left = getattr(backends.list_of_moto_modules, "_scms_undo", None)
    if left is not None:
        monkeypatch.setattr(backends, "list_of_moto_modules", backends.list_of_moto_modules)  # restored after
        left()
    original = backends.list_of_moto_modules
    expected = list(original())
    listings: list[str] = []
    real_listdir = os.listdir

    def listdir(path: str) -> list[str]:
        listings.append(path)
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    undo = moto_modules_listed_once()
    try:
        assert moto_modules_listed_once() is undo  # applying it twice patches once
        # When the server asks three times, Then it gets moto's list each time and the directory is read once.
        assert [list(backends.list_of_moto_modules()) for _ in range(3)] == [expected] * 3
        assert len(listings) == 1
    finally:
        undo()
    # Twin: moto's own function reads the directory on every call.
    assert backends.list_of_moto_modules is original
    list(original())
    list(original())
    assert len(listings) == 3
