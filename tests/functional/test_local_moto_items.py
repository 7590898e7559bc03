"""``scms_cli.local.moto_items``: moto's item sizes, limits and query pages are unchanged by the patch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError
from scms_service.config import Settings

from scms_cli.local.moto_items import items_sized_in_one_pass, value_size
from tests.functional.test_local_moto_patches import _QUERIES, _RICH, _pages, ra_table  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def _moto_as_shipped() -> Iterator[None]:
    """moto without this patch during each test (the local cloud's tests may have applied it in this process)."""
    from moto.dynamodb.models.dynamo_type import Item

    active = getattr(Item.__init__, "_scms_undo", None)
    if active is not None:
        active()
    yield
    if (left := getattr(Item.__init__, "_scms_undo", None)) is not None:
        left()
    if active is not None:
        items_sized_in_one_pass()


# Values of every type and shape moto sizes, nested ones and the odd members (bools in a set) included.
_VALUES: list[dict[str, Any]] = [
    {"S": ""}, {"S": "é€𝄞"}, {"N": "-12.5e3"}, {"N": "0"}, {"B": b""}, {"B": b"\x00" * 33},
    {"SS": ["a", "éé"]}, {"NS": ["1", "22.25"]}, {"BS": [b"\x01", b""]}, {"SS": [True, "x"]},
    {"BOOL": True}, {"BOOL": False}, {"NULL": True}, {"L": []}, {"M": {}},
    {"L": [{"S": "x"}, {"N": "7"}, {"M": {"k": {"B": b"\x02"}, "é": {"L": [{"NULL": True}]}}}]},
    {"M": {key: {"S": key} for key in ("S", "N", "B", "M", "L")}},
    cast(dict[str, Any], _RICH["m"]), cast(dict[str, Any], _RICH["bs"]),
]  # fmt: skip


def test_every_value_is_sized_as_moto_sizes_it() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    moto_sizes = [DynamoType(v).size() for v in _VALUES]
    assert [value_size(DynamoType(v)) for v in _VALUES] == moto_sizes
    # Twin: a size that differs from moto's is seen (a number counted as its octets, a map without its keys).
    assert value_size(DynamoType({"N": "1e3"})) != len(b"1000")
    assert value_size(DynamoType({"M": {"key": {"S": "v"}}})) != DynamoType({"S": "v"}).size()


def _table(settings: Settings) -> tuple[Any, str]:
    return boto3.client("dynamodb"), settings.ra_table


def _outcome(call: Any, **kwargs: Any) -> str:
    try:
        call(**kwargs)
    except ClientError as exc:
        return f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"
    return "ok"


def _limit_cases(client: Any, table: str, tag: str) -> list[str]:
    """Items and updates at the 400 KB item limit: the last octet accepted, the next refused."""
    key = {"pk": {"S": f"BIG#{tag}"}, "sk": {"S": "x"}}
    fixed = sum(len(k) + len(v["S"]) for k, v in key.items()) + len("blob")
    outcomes = []
    for size in (405000 - fixed, 405000 - fixed + 1):
        outcomes.append(_outcome(client.put_item, TableName=table, Item={**key, "blob": {"B": b"\x00" * size}}))
    outcomes.append(_outcome(client.put_item, TableName=table, Item={**key, "blob": {"B": b"\x00" * 200_000}}))
    for extra in (204_991 - fixed, 300_000):  # an update that adds an attribute near, then over, the limit
        outcomes.append(_outcome(client.update_item, TableName=table, Key=key, UpdateExpression="SET e = :e",
                                 ExpressionAttributeValues={":e": {"S": "y" * extra}}))  # fmt: skip
    outcomes.append(str(client.get_item(TableName=table, Key=key, ProjectionExpression="sk, e").get("Item")))
    return outcomes


def test_the_item_size_limit_holds_at_the_same_octet(aws_settings: Settings) -> None:
    client, table = _table(aws_settings)
    undo = items_sized_in_one_pass()
    try:
        patched = _limit_cases(client, table, "1")
    finally:
        undo()
    plain = _limit_cases(client, table, "2")
    assert patched == plain
    assert plain[0] == "ok" and plain[1].startswith("ValidationException")  # twin: the limit really is met
    assert plain[3] != plain[4]


def _big_items(client: Any, table: str) -> None:
    """Items of ~90 KB: the 1 MB page limit, not Limit, ends a page."""
    for n in range(25):
        client.put_item(TableName=table, Item={"pk": {"S": "WIDE#1"}, "sk": {"S": f"{n:03d}"},
                                               "blob": {"B": bytes([n]) * 90_000}})  # fmt: skip


def test_query_pages_are_moto_s_own(aws_settings: Settings, ra_table: tuple[Any, str]) -> None:  # noqa: F811
    client, table = ra_table
    _big_items(client, table)
    shapes = [*_QUERIES, {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "WIDE#1"}}},
              {"KeyConditionExpression": "pk = :pk", "ProjectionExpression": "sk",
               "ExpressionAttributeValues": {":pk": {"S": "WIDE#1"}}}]  # fmt: skip
    undo = items_sized_in_one_pass()
    try:
        assert items_sized_in_one_pass() is undo  # applying it twice patches once
        patched = [_pages(client, TableName=table, **q) for q in shapes]
    finally:
        undo()
    plain = [_pages(client, TableName=table, **q) for q in shapes]
    assert patched == plain
    assert len(plain[-2]) == len(plain[-1]) > 1  # the 1 MB limit pages by stored size, projected or not
    # Twin: a different item set gives a different answer (the comparison can fail).
    client.delete_item(TableName=table, Key={"pk": {"S": "WIDE#1"}, "sk": {"S": "003"}})
    assert [_pages(client, TableName=table, **q) for q in shapes] != plain


def test_uncopied_query_results_leave_the_stored_items_whole(ra_table: tuple[Any, str]) -> None:  # noqa: F811
    # Given the patch (no copy of a query's results), when a projected and an index query read items,
    client, table = ra_table
    key = {"pk": {"S": "REQ#aa"}, "sk": {"S": "CERT#00000#000"}}
    before = client.get_item(TableName=table, Key=key)["Item"]
    undo = items_sized_in_one_pass()
    try:
        for shape in _QUERIES:
            _pages(client, TableName=table, **shape)
        after = client.get_item(TableName=table, Key=key)["Item"]
    finally:
        undo()
    # Then the stored item still has every attribute; twin: the projection did drop some in the answers.
    assert after == before and set(before) > {"pk", "sk", "n"}
    projected = client.query(TableName=table, KeyConditionExpression="pk = :pk", ProjectionExpression="sk, n",
                             ExpressionAttributeValues={":pk": {"S": "REQ#aa"}})["Items"][0]  # fmt: skip
    assert set(projected) != set(before)


def test_undo_restores_moto_s_methods() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    def methods() -> tuple[Any, ...]:
        return Item.__init__, Item.size, DynamoType.size, LimitedSizeDict.__setitem__, DynamoDBBackend.query

    before = methods()
    undo = items_sized_in_one_pass()
    assert methods() != before
    undo()
    assert methods() == before


@pytest.mark.parametrize("attrs", [{"a": {"S": "x" * 404_990}}, {"a": {"S": "x" * 202_500}, "b": {"S": "y" * 202_500}}])
def test_an_item_built_directly_checks_the_same_running_total(attrs: dict[str, Any]) -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    def build() -> str:
        try:
            Item(DynamoType({"S": "h"}), None, attrs)
        except ItemSizeTooLarge:
            return "too large"
        return "ok"

    plain = build()
    undo = items_sized_in_one_pass()
    try:
        assert build() == plain
    finally:
        undo()
