"""Read infra/template.yaml: the one source of truth for tables and routes, locally and in tests."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from scms_service.config import Settings

__all__ = [
    "REPO_ROOT",
    "TABLE_SETTINGS",
    "TEMPLATE",
    "ApiRoute",
    "FunctionSpec",
    "StateMachineSpec",
    "api_routes",
    "create_tables",
    "functions",
    "load_template",
    "process_environment",
    "resolve",
    "resolve_function",
    "state_machines",
    "table_properties",
]

TEMPLATE = Path(__file__).resolve().parents[4] / "infra" / "template.yaml"

# Which Settings field names each table resource of the template.
TABLE_SETTINGS = {
    "RaTable": "ra_table",
    "EcaTable": "eca_table",
    "CaTable": "ca_table",
    "AcaTable": "aca_table",
    "La1Table": "la1_table",
    "La2Table": "la2_table",
    "MaTable": "ma_table",
    "CrlTable": "crl_table",
}


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


# --- Functions, API events and state machines (what the gateway and the local cloud serve) ---

REPO_ROOT = TEMPLATE.parents[1]


@dataclass(frozen=True)
class ApiRoute:
    """One ``Type: Api`` event: ``method`` (upper case) and ``path`` template routed to ``function``."""

    function: str
    method: str
    path: str


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function``: where its code is, its handler and its own environment."""

    logical_id: str
    code_dir: Path
    handler: str
    environment: Mapping[str, Any]


def _resources(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template.get("Resources", {}).items() if res.get("Type") == kind}


def functions(template: Mapping[str, Any] | None = None, base: Path | None = None) -> list[FunctionSpec]:
    """Every serverless function of the template, with ``CodeUri`` resolved against the template's folder."""
    template = load_template() if template is None else template
    base = TEMPLATE.parent if base is None else base
    result = []
    for name, res in sorted(_resources(template, "AWS::Serverless::Function").items()):
        props = res["Properties"]
        env = props.get("Environment", {}).get("Variables", {})
        result.append(FunctionSpec(name, (base / props["CodeUri"]).resolve(), props["Handler"], dict(env)))
    return result


def api_routes(template: Mapping[str, Any] | None = None) -> list[ApiRoute]:
    """Every ``Type: Api`` event of every function: the REST API as API Gateway will route it."""
    template = load_template() if template is None else template
    routes = []
    for name, res in sorted(_resources(template, "AWS::Serverless::Function").items()):
        for event in res["Properties"].get("Events", {}).values():
            if event.get("Type") != "Api":
                continue
            props = event["Properties"]
            routes.append(ApiRoute(name, str(props["Method"]).upper(), str(props["Path"])))
    return routes


@dataclass(frozen=True)
class StateMachineSpec:
    """One ``AWS::Serverless::StateMachine`` with its ASL file and raw ``DefinitionSubstitutions``."""

    logical_id: str
    definition: Path
    substitutions: Mapping[str, Any]


def state_machines(template: Mapping[str, Any] | None = None, base: Path | None = None) -> list[StateMachineSpec]:
    """Every state machine of the template whose definition is a file (``DefinitionUri``)."""
    template = load_template() if template is None else template
    base = TEMPLATE.parent if base is None else base
    result = []
    for name, res in sorted(_resources(template, "AWS::Serverless::StateMachine").items()):
        props = res["Properties"]
        if isinstance(props.get("DefinitionUri"), str):
            subs = props.get("DefinitionSubstitutions", {})
            result.append(StateMachineSpec(name, (base / props["DefinitionUri"]).resolve(), dict(subs)))
    return result


def resolve(value: Any, names: Mapping[str, str]) -> Any:
    """Resolve ``Ref``/``Fn::Sub``/``Fn::GetAtt`` against local physical ``names`` (logical id or parameter → value).

    Only what the local cloud needs: ``!Ref X``, ``!Sub "...${X}..."`` and ``!GetAtt X.Arn`` (looked
    up as ``names["X.Arn"]``). Anything else raises ``ValueError`` naming it.
    """
    if isinstance(value, Mapping):
        if "Ref" in value:
            return names[value["Ref"]]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            if not isinstance(text, str):
                raise ValueError(f"value: Fn::Sub with a variable map is not supported locally: {text!r}")
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(names[m.group(1)]), text)
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            key = target if isinstance(target, str) else ".".join(target)
            return names[key]
        raise ValueError(f"value: unsupported intrinsic {sorted(value)}")
    return value


def resolve_function(spec: FunctionSpec, names: Mapping[str, str], *, keep: Collection[str] = ()) -> FunctionSpec:
    """``spec`` with its environment's intrinsics resolved against ``names``; variables in ``keep`` left out.

    ``keep`` names variables the operator set for the whole local run (they win over the template's).
    """
    environment = {key: str(resolve(value, names)) for key, value in spec.environment.items() if key not in keep}
    return replace(spec, environment=environment)


def process_environment(specs: Iterable[FunctionSpec], *, keep: Collection[str] = ()) -> dict[str, str]:
    """The functions' own ``SCMS_*`` variables that every function declaring them agrees on.

    Locally one process hosts every function, and a handler may read its settings after its import
    (when ``load_handler`` has put its own environment back). A variable no two functions disagree
    on (RaFunction's state machine ARN, the pipeline settings of RaBatchFunction) can be process-wide;
    one they disagree on (each LA's ``SCMS_LA_ID``) stays an import-time variable of its function.
    """
    values: dict[str, set[str]] = {}
    for spec in specs:
        for key, value in spec.environment.items():
            if key.startswith("SCMS_") and key not in keep:
                values.setdefault(key, set()).add(str(value))
    return {key: next(iter(found)) for key, found in values.items() if len(found) == 1}
