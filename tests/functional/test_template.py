"""infra/template.yaml is the one source of truth: API events == Chalice routes; its tables are the tests'."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from scms_service.config import Settings

from scms_cli.local.gateway import load_handler
from scms_cli.local.template import (
    REPO_ROOT,
    TABLE_SETTINGS,
    FunctionSpec,
    api_routes,
    functions,
    load_template,
    table_properties,
)

Pair = tuple[str, str]


def chalice_routes(app: Any) -> set[Pair]:
    """(METHOD, path) for every route of a Chalice app."""
    return {(method.upper(), path) for path, entries in app.routes.items() for method in entries}


def route_differences(template: dict[str, Any], function: str, app: Any) -> tuple[set[Pair], set[Pair]]:
    """(routes only in the app, events only in the template) for one function."""
    events = {(r.method, r.path) for r in api_routes(template) if r.function == function}
    routes = chalice_routes(app)
    return routes - events, events - routes


def api_functions() -> list[FunctionSpec]:
    """The functions with Api events (Chalice apps); the others are Lambda tasks (e.g. the LAs)."""
    routed = {r.function for r in api_routes()}
    return [s for s in functions() if s.logical_id in routed]


def task_functions() -> list[FunctionSpec]:
    """The functions without Api events: Lambda tasks of the state machines (``module.function``)."""
    routed = {r.function for r in api_routes()}
    return [s for s in functions() if s.logical_id not in routed]


@pytest.mark.parametrize("spec", task_functions(), ids=lambda s: s.logical_id)
def test_every_task_function_handler_is_a_function_in_its_code(spec: FunctionSpec) -> None:
    # Given a function without Api events, Then its Handler names a callable in a file of its CodeUri.
    module, _, attr = spec.handler.rpartition(".")
    assert module and attr and spec.handler != "app.app", f"{spec.logical_id}: {spec.handler}"
    assert (spec.code_dir / f"{module}.py").is_file(), f"{spec.logical_id}: {spec.code_dir}/{module}.py is missing"
    assert callable(load_handler(spec, {k: str(v) for k, v in spec.environment.items()}))


@pytest.mark.parametrize("spec", api_functions(), ids=lambda s: s.logical_id)
def test_every_template_function_is_a_chalice_app_file(spec: FunctionSpec) -> None:
    # Given a function of the template with Api events, Then its Handler names app.py's `app` in its CodeUri.
    assert spec.handler == "app.app"
    assert (spec.code_dir / "app.py").is_file(), f"{spec.logical_id}: {spec.code_dir}/app.py is missing"


@pytest.mark.parametrize("spec", api_functions(), ids=lambda s: s.logical_id)
def test_template_api_events_equal_the_apps_routes(spec: FunctionSpec) -> None:
    # Given the function's Chalice app, When its routes are compared with the template's Api events,
    app = load_handler(spec)
    only_app, only_template = route_differences(load_template(), spec.logical_id, app)
    # Then both are the same set of (method, path).
    assert not only_app, f"{spec.logical_id}: routes without an Api event in the template: {sorted(only_app)}"
    assert not only_template, f"{spec.logical_id}: Api events without a route: {sorted(only_template)}"


def test_a_route_missing_from_the_template_is_detected() -> None:
    # Given a template with one RA Api event removed,
    template = copy.deepcopy(load_template())
    events = template["Resources"]["RaFunction"]["Properties"]["Events"]
    removed = events.pop("BlockDevice")["Properties"]
    app = load_handler(next(s for s in functions() if s.logical_id == "RaFunction"))
    # When compared with the RA app, Then exactly that route is reported.
    only_app, only_template = route_differences(template, "RaFunction", app)
    assert only_app == {(removed["Method"].upper(), removed["Path"])}
    assert not only_template


def test_an_event_without_a_route_is_detected() -> None:
    # Given a template with an extra ECA event the app does not serve,
    template = copy.deepcopy(load_template())
    events = template["Resources"]["EcaFunction"]["Properties"]["Events"]
    events["Ghost"] = {"Type": "Api", "Properties": {"Method": "get", "Path": "/v3/ghost"}}
    app = load_handler(next(s for s in functions() if s.logical_id == "EcaFunction"))
    # Then it is reported as only in the template.
    only_app, only_template = route_differences(template, "EcaFunction", app)
    assert only_template == {("GET", "/v3/ghost")}
    assert not only_app


def test_every_api_event_is_on_the_one_binary_rest_api() -> None:
    # Given the template, Then every Api event targets ScmsApi, which declares the binary media type.
    template = load_template()
    api = template["Resources"]["ScmsApi"]
    assert api["Type"] == "AWS::Serverless::Api"
    assert api["Properties"]["BinaryMediaTypes"] == ["application~1octet-stream"]
    for name, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for event_name, event in res["Properties"].get("Events", {}).items():
            if (name, event["Type"]) == ("CrlgFunction", "Schedule"):
                continue  # the CRL generator's hourly publish, the one event that is no route
            assert event["Type"] == "Api", f"{name}.{event_name}"
            assert event["Properties"]["RestApiId"] == {"Ref": "ScmsApi"}, f"{name}.{event_name}"


def test_crl_generator_publishes_hourly_without_force() -> None:
    # Given the template, Then CrlgFunction runs publish_task hourly with {"force": false} and has no route.
    crlg = load_template()["Resources"]["CrlgFunction"]["Properties"]
    assert crlg["Handler"] == "handlers.publish_task" and crlg["CodeUri"] == "../functions/crlg/"
    events = list(crlg["Events"].values())
    assert [e["Type"] for e in events] == ["Schedule"]
    assert events[0]["Properties"]["Schedule"] == "rate(1 hour)"
    assert json.loads(events[0]["Properties"]["Input"]) == {"force": False}


def test_service_layer_is_built_by_its_makefile_target() -> None:
    # Given ServiceLayer with BuildMethod makefile, Then layers/service/Makefile has build-ServiceLayer.
    layer = load_template()["Resources"]["ServiceLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (REPO_ROOT / "layers/service/Makefile").read_text(encoding="utf-8")
    assert "build-ServiceLayer:" in makefile
    assert "chalice/app.py" in makefile


def _describe(name: str) -> dict[str, Any]:
    table: dict[str, Any] = boto3.client("dynamodb").describe_table(TableName=name)["Table"]
    return table


@pytest.mark.parametrize("logical_id", sorted(TABLE_SETTINGS))
def test_tables_created_for_tests_are_the_templates(aws_settings: Settings, logical_id: str) -> None:
    # Given the moto tables of the aws_settings fixture, When described,
    props = table_properties(logical_id)
    table = _describe(getattr(aws_settings, TABLE_SETTINGS[logical_id]))
    # Then key schema, attributes and indexes are the template's.
    assert table["KeySchema"] == props["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        props["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    created = {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}
    declared = {i["IndexName"]: i["KeySchema"] for i in props.get("GlobalSecondaryIndexes", [])}
    assert created == declared
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
    if "TimeToLiveSpecification" in props:
        assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]
    else:
        assert ttl["TimeToLiveStatus"] == "DISABLED"


def test_a_table_drifting_from_the_template_is_detected(aws_settings: Settings) -> None:
    # Given a table created with an index the template does not declare,
    client = boto3.client("dynamodb")
    props = table_properties("EcaTable")
    client.create_table(
        TableName="drifted",
        AttributeDefinitions=[*props["AttributeDefinitions"], {"AttributeName": "x", "AttributeType": "S"}],
        KeySchema=props["KeySchema"],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {"IndexName": "byX", "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}},
        ],
    )  # fmt: skip
    # Then the comparison the test above makes fails for it.
    created = {i["IndexName"] for i in _describe("drifted").get("GlobalSecondaryIndexes", [])}
    assert created != {i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])}
