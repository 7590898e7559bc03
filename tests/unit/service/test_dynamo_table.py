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
