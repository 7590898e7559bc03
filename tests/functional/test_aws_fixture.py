"""The moto fixture builds the template's tables, so DynamoDB conditions in tests run against the real schema."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from scms_service.config import Settings

from scms_cli.local.template import TABLE_SETTINGS, table_properties


def test_every_template_table_exists_with_its_key_schema(aws_settings: Settings) -> None:
    dynamodb = boto3.client("dynamodb")
    for logical_id, field in TABLE_SETTINGS.items():
        described = dynamodb.describe_table(TableName=getattr(aws_settings, field))["Table"]
        assert described["KeySchema"] == table_properties(logical_id)["KeySchema"]


def test_conditional_put_refuses_a_duplicate(aws_settings: Settings) -> None:
    table = boto3.resource("dynamodb").Table(aws_settings.eca_table)
    item = {"pk": "REQ#0011223344556677", "sk": "REQ"}
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ClientError) as info:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    assert info.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
