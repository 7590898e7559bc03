"""Read infra/template.yaml: the one source of truth for tables and routes, locally and in tests."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from scms_service.config import Settings

__all__ = ["TABLE_SETTINGS", "TEMPLATE", "create_tables", "load_template", "table_properties"]

TEMPLATE = Path(__file__).resolve().parents[4] / "infra" / "template.yaml"

# Which Settings field names each table resource of the template.
TABLE_SETTINGS = {"RaTable": "ra_table", "EcaTable": "eca_table", "CaTable": "ca_table"}


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """A YAML loader that keeps CloudFormation short-form intrinsics (!Ref, !Sub, ...) as plain values."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@functools.cache
def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The parsed SAM template."""
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)
    return data


def table_properties(logical_id: str) -> dict[str, Any]:
    """The ``Properties`` of one ``AWS::DynamoDB::Table`` resource."""
    resource = load_template()["Resources"][logical_id]
    if resource["Type"] != "AWS::DynamoDB::Table":
        raise ValueError(f"logical_id: {logical_id} is not a DynamoDB table")
    props: dict[str, Any] = resource["Properties"]
    return props


def create_tables(dynamodb: Any, settings: Settings) -> None:
    """Create every table of the template under the names ``settings`` gives (skip existing ones)."""
    existing = set(dynamodb.list_tables()["TableNames"])
    for logical_id, field in TABLE_SETTINGS.items():
        name = getattr(settings, field)
        if name in existing:
            continue
        props = table_properties(logical_id)
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in props:
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamodb.create_table(**args)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )
