"""``DynamoTable``: the table a store's Settings field names, its injected client, and its ClientError mapping."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from scms_service.config import load_settings
from scms_service.errors import ScmsError, TransientStoreError
from scms_service.stores.dynamo import DynamoTable


class _Broken(ScmsError):
    """The test store's own error."""


class _Table(DynamoTable):
    settings_field = "eca_table"
    store_error = _Broken
    table_label = "Test table"
    error_topic = "widget"


class _RaTable(_Table):
    settings_field = "ra_table"


class _Coded(_Table):
    failed_message = "{table} {action}: {code}"


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "the AWS text"}}, "GetItem")


def test_from_settings_reads_the_named_field_and_keeps_the_injected_client() -> None:
    settings = load_settings({}, eca_table="ecas", ra_table="ras")
    client = object()
    table = _Table.from_settings(settings, client)
    assert (table.table_name, table.client) == ("ecas", client)
    # Twin: another field, another table.
    assert _RaTable.from_settings(settings).table_name == "ras"


def test_throttling_is_transient_with_the_busy_message() -> None:
    error = _Table("t").error(_client_error("ThrottlingException"), "get")
    assert type(error) is TransientStoreError
    assert str(error) == "Test table busy during widget get"


def test_other_failures_are_the_stores_error_without_the_aws_text() -> None:
    error = _Table("t").error(_client_error("ValidationException"), "put")
    assert type(error) is _Broken
    assert str(error) == "Test table failed during widget put"
    assert "AWS text" not in str(error)


@pytest.mark.parametrize(("code", "expected"), [("ValidationException", "ValidationException"), ("", "failed")])
def test_a_template_may_name_the_aws_code(code: str, expected: str) -> None:
    assert str(_Coded("t").error(_client_error(code), "write")) == f"Test table write: {expected}"


class _PagedClient:
    """A Query stub: answers ``pages`` in turn (each a list of items), then fails with ``error`` if given."""

    def __init__(self, pages: list[list[dict[str, object]]], error: str | None = None) -> None:
        self.pages, self.error = pages, error
        self.calls: list[dict[str, object]] = []

    def query(self, **kwargs: object) -> dict[str, object]:
        self.calls.append(kwargs)
        n = len(self.calls) - 1
        if n == len(self.pages):
            raise _client_error(self.error or "ValidationException")
        out: dict[str, object] = {"Items": self.pages[n]}
        if n + 1 < len(self.pages) or self.error:
            out["LastEvaluatedKey"] = {"pk": {"S": f"page{n}"}}
        return out


def test_query_all_follows_every_page_on_this_table() -> None:
    client = _PagedClient([[{"n": 1}], [], [{"n": 2}, {"n": 3}]])
    items = list(_Table("t", client).query_all("list", KeyConditionExpression="pk = :pk"))
    assert items == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [c.get("ExclusiveStartKey") for c in client.calls] == [None, {"pk": {"S": "page0"}}, {"pk": {"S": "page1"}}]
    assert all(c["TableName"] == "t" and c["KeyConditionExpression"] == "pk = :pk" for c in client.calls)
    # Twin: one page without LastEvaluatedKey is the end.
    single = _PagedClient([[{"n": 1}]])
    assert list(_Table("t", single).query_all("list")) == [{"n": 1}] and len(single.calls) == 1


@pytest.mark.parametrize(("code", "expected"), [("ThrottlingException", TransientStoreError), ("Boom", _Broken)])
def test_query_all_maps_a_failed_page_with_its_action(code: str, expected: type[Exception]) -> None:
    pages = _Table("t", _PagedClient([[{"n": 1}]], error=code)).query_all("list")
    assert next(pages) == {"n": 1}
    with pytest.raises(expected, match="widget list"):
        next(pages)
