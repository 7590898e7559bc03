"""docs/openapi.yaml is the API's contract: valid, the same operations as the apps and the template, honoured.

- The document validates as OpenAPI 3.1 (a broken copy does not).
- Its operations == every Chalice route of every function == every SAM ``Api`` event (all derived,
  nothing listed here), each operation naming its function in ``x-function``.
- Every Table 8 code a function's code can raise is documented on that function's operations.
- Contract: for each operation, requests generated from the document (its examples and live
  values, then invalid and hostile variants of every parameter, header and body) go through the
  local gateway onto the real apps (moto behind them); each answer's status, media type, required
  headers, JSON schema and Table 8 code must be documented for that operation, none is a 500, and
  whatever the document calls invalid is refused (4xx).
- Statuses the existing functional tests provoke (recorded while they run) are all documented.
- The gateway serves the document at ``/openapi.yaml`` and a self-contained page at ``/docs``.
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import os
import random
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import jsonschema
import pytest
import yaml
from moto import mock_aws
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from scms_ee.download import authorization_header, download_request
from scms_ra.batch_files import batch_filename, batch_key, period_zip
from scms_service import aws
from scms_service.auth import key_digest
from scms_service.config import Settings, load_settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.crl_entries import CrlRecord, DynamoDbCrlEntryStore
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore
from werkzeug.datastructures import Headers
from werkzeug.test import Client as WsgiClient
from werkzeug.test import EnvironBuilder, TestResponse

from scms_cli.local import docs_page
from scms_cli.local.gateway import Gateway, Route, load_handler
from scms_cli.local.template import REPO_ROOT, api_routes, create_tables, functions, load_template
from scms_codec import errors as codec_errors
from scms_codec import time32
from scms_codec.errors import ErrorCode
from scms_codec.secured.signer import Signer
from scms_codec.spdu import parse_ra_ee_cert_ack, parse_ra_ee_enrollment_cert_ack
from scms_codec.spdu.crl import CrlContents, build_secured_crl
from scms_codec.spdu.ra_ee_ack import RaEeCertInfo
from tests.functional.ma_support import misbehavior_report, store_report
from tests.functional.ra_app import create_state_machine
from tests.unit.eca.ee import Ee
from tests.unit.ra.ee_auth import EnrolledEe
from tests.unit.ra.test_successor import Holder, successor_request

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
ERRORS_KEY = "x-ieee-1609-2-1-errors"
ERROR_HEADER = "Ieee-1609.2.1-Error"
API_KEY = "0f" * 32
Op = tuple[str, str, str]  # (function logical id, METHOD, path)


@functools.cache
def document() -> dict[str, Any]:
    return docs_page.load_document()


# ----------------------------------------------------------------------------------------------
# The document, the apps and the template describe the same operations


@functools.cache
def chalice_specs() -> tuple[Any, ...]:
    """The template's functions that are Chalice apps (``Handler: app.app``)."""
    return tuple(s for s in functions() if s.handler == "app.app")


@functools.cache
def app_routes() -> frozenset[Op]:
    out: set[Op] = set()
    for spec in chalice_specs():
        app: Any = load_handler(spec)
        out |= {(spec.logical_id, m.upper(), p) for p, entries in app.routes.items() for m in entries}
    return frozenset(out)


def template_events(template: Mapping[str, Any]) -> set[Op]:
    return {(r.function, r.method, r.path) for r in api_routes(template)}


def document_operations(doc: Mapping[str, Any]) -> set[Op]:
    return {
        (str(item[m].get("x-function")), m.upper(), path)
        for path, item in doc["paths"].items()
        for m in METHODS
        if m in item
    }


def differences(doc: Mapping[str, Any], routes: set[Op] | frozenset[Op]) -> tuple[set[Op], set[Op]]:
    """(operations only in the document, routes only in the apps/template)."""
    ops = document_operations(doc)
    return ops - set(routes), set(routes) - ops


def test_document_is_valid_openapi() -> None:
    assert document()["openapi"].startswith("3.")
    validate(document())


def test_a_broken_document_is_detected() -> None:
    # Given a copy whose enrollment 200 lost its description (required by OpenAPI), Then it does not validate.
    broken = copy.deepcopy(document())
    del broken["paths"]["/v3/enrollment-certificate"]["post"]["responses"]["200"]["description"]
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_document_operations_equal_the_chalice_routes_and_the_template_events() -> None:
    routes = app_routes()
    events = template_events(load_template())
    assert routes == events, f"apps vs template: {sorted(routes ^ events)}"
    only_doc, undocumented = differences(document(), routes)
    assert not undocumented, f"routes missing from docs/openapi.yaml: {sorted(undocumented)}"
    assert not only_doc, f"documented operations no app serves: {sorted(only_doc)}"


def test_an_operation_removed_from_the_document_is_detected() -> None:
    doc = copy.deepcopy(document())
    item = doc["paths"]["/manage/v1/devices/{device_id}/block"]
    function = item.pop("post")["x-function"]
    only_doc, undocumented = differences(doc, app_routes())
    assert undocumented == {(function, "POST", "/manage/v1/devices/{device_id}/block")}
    assert not only_doc


def test_an_operation_no_app_serves_is_detected() -> None:
    doc = copy.deepcopy(document())
    doc["paths"]["/v3/ghost"] = {"get": {"x-function": "RaFunction", "responses": {"200": {"description": "x"}}}}
    only_doc, undocumented = differences(doc, app_routes())
    assert only_doc == {("RaFunction", "GET", "/v3/ghost")}
    assert not undocumented


# ----------------------------------------------------------------------------------------------
# Structure: what every operation must say


def deref(node: Any, doc: Mapping[str, Any] | None = None) -> Any:
    """``node`` with every local ``$ref`` replaced by a copy of its target (the document has no cycles)."""
    doc = doc if doc is not None else document()
    if isinstance(node, Mapping):
        if isinstance(node.get("$ref"), str):
            target: Any = doc
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            return deref(target, doc)
        return {k: deref(v, doc) for k, v in node.items()}
    if isinstance(node, list):
        return [deref(v, doc) for v in node]
    return node


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    spec: Mapping[str, Any] = field(repr=False)
    parameters: tuple[Mapping[str, Any], ...] = field(repr=False)

    @property
    def id(self) -> str:
        return str(self.spec["operationId"])

    @property
    def function(self) -> str:
        return str(self.spec["x-function"])

    @property
    def errors(self) -> set[str]:
        return {e["code"] for e in self.spec.get(ERRORS_KEY) or []}

    def response(self, status: int) -> Mapping[str, Any] | None:
        found = self.spec["responses"].get(str(status))
        return deref(found) if found is not None else None

    @property
    def body(self) -> Mapping[str, Any] | None:
        return deref(self.spec["requestBody"]) if "requestBody" in self.spec else None


def operations(doc: Mapping[str, Any] | None = None) -> list[Operation]:
    doc = doc if doc is not None else document()
    out = []
    for path, item in doc["paths"].items():
        for m in METHODS:
            if m in item:
                params = [deref(p, doc) for p in [*item.get("parameters", []), *item[m].get("parameters", [])]]
                out.append(Operation(path, m.upper(), item[m], tuple(params)))
    return out


def test_the_table8_enum_is_every_error_code() -> None:
    enum = set(document()["components"]["schemas"]["Table8Code"]["enum"])
    assert enum == {c.value for c in ErrorCode}


@pytest.mark.parametrize("op", operations(), ids=lambda o: o.id)
def test_every_operation_documents_its_bodies_headers_and_codes(op: Operation) -> None:
    spec = op.spec
    assert ERRORS_KEY in spec, "x-ieee-1609-2-1-errors missing (an empty list for none)"
    codes = {c.value for c in ErrorCode}
    assert op.errors <= codes
    for status, response in spec["responses"].items():
        response = deref(response)
        for media_type, media in (response.get("content") or {}).items():
            if media_type == "application/octet-stream" and status.startswith("2"):
                assert media.get("x-asn1-type"), f"{status} {media_type}: no x-asn1-type"
    body = op.body
    for media_type, media in ((body or {}).get("content") or {}).items():
        if media_type == "application/octet-stream":
            assert media.get("x-asn1-type"), "binary request body without x-asn1-type"
        else:
            assert "example" in media, f"{media_type} request body without an example"
            jsonschema.Draft202012Validator(media["schema"]).validate(media["example"])
    if op.errors:
        refusal = op.response(400)
        assert refusal is not None and ERROR_HEADER in refusal.get("headers", {}), "Table 8 codes but no 400 header"
    names = {p["name"] for p in op.parameters}
    if "Range" in names:
        assert {"206", "416"} <= set(spec["responses"])
    if names & {"If-None-Match", "If-Modified-Since"}:
        assert "304" in spec["responses"]
    if spec.get("security"):
        assert {"401", "403"} <= set(spec["responses"])
        assert all(set(s) == {"ApiKey"} for s in spec["security"])


_CODE_USE = re.compile(r"ErrorCode\.([A-Z0-9_]+)")


def codes_in_source(function: str) -> set[str]:
    """Table 8 codes named in the modules a function's handler reaches (its CodeUri and the service layer).

    Only modules the handler imports, directly or through others, count: a use case written ahead
    of its route (issue #5's building blocks) raises nothing through this function yet.
    """
    spec = next(s for s in functions() if s.logical_id == function)
    files = _reachable_files(spec.code_dir / (spec.handler.split(".")[0] + ".py"), spec.code_dir)
    names = {m for f in files for m in _CODE_USE.findall(f.read_text(encoding="utf-8"))}
    return {ErrorCode[n].value for n in names if n in ErrorCode.__members__}


def _reachable_files(entry: Path, code_dir: Path) -> set[Path]:
    """``entry`` and every module of ``code_dir`` or ``scms_service`` it imports, transitively."""
    roots = [code_dir, REPO_ROOT / "layers/service"]
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                package = path.parent
                for _ in range(node.level - 1):
                    package = package.parent
                base = package.joinpath(*(node.module or "").split(".")) if node.module else package
                targets = [base, *(base / alias.name for alias in node.names)]
            elif isinstance(node, ast.ImportFrom) and node.module:
                base_parts = node.module.split(".")
                targets = [r.joinpath(*base_parts) for r in roots]
                targets += [r.joinpath(*base_parts, alias.name) for r in roots for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [r.joinpath(*alias.name.split(".")) for r in roots for alias in node.names]
            else:
                continue
            for target in targets:
                for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                    if candidate.is_file():
                        todo.append(candidate)
    return seen


def codec_codes() -> set[str]:
    """Codes the codec's error classes carry (a refusal passed through ``from_codec`` keeps its class's code)."""
    classes = [c for c in vars(codec_errors).values() if isinstance(c, type) and issubclass(c, codec_errors.CodecError)]
    return {c.error_code.value for c in classes}


def undocumented_codes(doc: Mapping[str, Any], function: str) -> set[str]:
    documented = {code for op in operations(doc) if op.function == function for code in op.errors}
    return codes_in_source(function) - documented


@pytest.mark.parametrize("spec", chalice_specs(), ids=lambda s: s.logical_id)
def test_every_table8_code_a_function_raises_is_documented_on_its_operations(spec: Any) -> None:
    assert not undocumented_codes(document(), spec.logical_id)
    # And every documented code is one its code names or one the codec raises on bad input.
    documented = {code for op in operations() if op.function == spec.logical_id for code in op.errors}
    assert documented <= codes_in_source(spec.logical_id) | codec_codes()


def test_a_code_dropped_from_the_document_is_detected() -> None:
    doc = copy.deepcopy(document())
    errors = doc["paths"]["/v3/enrollment-certificate"]["post"][ERRORS_KEY]
    dropped = next(e for e in errors if e["code"] == ErrorCode.ECA_MIN_WAIT.value)
    errors.remove(dropped)
    assert undocumented_codes(doc, "EcaFunction") == {ErrorCode.ECA_MIN_WAIT.value}


# ----------------------------------------------------------------------------------------------
# Contract: the document run against the local gateway and the real apps (moto behind them)


@dataclass
class Stack:
    client: WsgiClient
    settings: Settings
    hierarchy: Hierarchy
    devices: DynamoDeviceStore


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """One local cloud for the module: template tables in moto, ``scms init``'s hierarchy, the gateway."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        for name in [k for k in os.environ if k.startswith("SCMS_")]:
            mp.delenv(name)
        with mock_aws():
            aws.reset_clients()
            settings = load_settings({})
            create_tables(boto3.client("dynamodb"), settings)
            boto3.client("s3").create_bucket(Bucket=settings.artifacts_bucket)
            key_id = boto3.client("kms").create_key(Description="contract")["KeyMetadata"]["KeyId"]
            settings = replace(settings, kms_key_id=key_id)
            boto3.client("secretsmanager").create_secret(
                Name=settings.management_api_key_secret, SecretString=key_digest(API_KEY)
            )
            hierarchy, _ = init_hierarchy(
                settings,
                DynamoDbCaStore.from_settings(settings),
                SecretsManagerKeyVault.from_settings(settings),
                S3Artifacts.from_settings(settings),
                now=time32.now() - 3600,
            )
            # The RA starts one execution per accepted authorization request (recorded, not run here).
            mp.setenv("SCMS_PROVISION_STATE_MACHINE", create_state_machine())
            settings = replace(settings, provision_state_machine=os.environ["SCMS_PROVISION_STATE_MACHINE"])
            handlers = {spec.logical_id: load_handler(spec) for spec in chalice_specs()}
            gateway = Gateway.from_template(api_routes(), handlers)
            yield Stack(WsgiClient(gateway), settings, hierarchy, DynamoDeviceStore(settings.ra_table))
            aws.reset_clients()


@dataclass
class Case:
    name: str
    path_params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes | None = None
    schema_invalid: bool = False
    """The document says this request is invalid (a parameter or body breaks its schema): expect 4xx."""
    expect: int | None = None


# Hostile strings for parameters and headers (ASCII: HTTP headers are latin-1 on the wire).
JUNK = [
    "", "x", "0" * 15, "0" * 17, "g" * 16, "-1", "0", "1.5", "1001", "99999999999999999999", "null", "[]",
    "%00", "../..", "a" * 3000, "bytes=0-0", "bytes=-1", "bytes=5-1", "bytes=999999999-", "bytes=-0",
    "bytes=0-1,3-4", "items=0-1", "*", 'W/"x"', '"nope"', "Sun, 06 Nov 1994 08:49:37 GMT",
    "Fri, 01 Jan 2100 00:00:00 GMT", "not a date", "application/json", "text/html", "*/*",
]  # fmt: skip


def _param_valid(param: Mapping[str, Any], value: str | None) -> bool:
    if value is None:
        return not param.get("required")
    schema = param.get("schema", {})
    candidate: Any = value
    if schema.get("type") == "integer":
        try:
            candidate = int(value)
        except ValueError:
            return False
    return bool(jsonschema.Draft202012Validator(schema).is_valid(candidate))


def _wrong_types(value: Any) -> list[Any]:
    if isinstance(value, bool) or value is None:
        return ["true", 7]
    if isinstance(value, int):
        return ["12", 1.5, True, -1]
    if isinstance(value, str):
        return [12345, ["x"], {"x": 1}, "", "a" * 300, "\x00"]
    if isinstance(value, list):
        return [{"a": 1}, "x", [None], [{"psid": "32"}], [{"psid": 32, "colour": 1}]]
    return ["x", 3, [1]]


def _json_variants(
    schema: Mapping[str, Any], example: dict[str, Any], fresh: Callable[[dict[str, Any]], dict[str, Any]]
) -> Iterator[tuple[str, bytes]]:
    yield "not json", b"\xff not json"
    yield "empty", b""
    yield "array", b"[]"
    yield "null", b"null"
    yield "deep nesting", b"[" * 3000 + b"]" * 3000
    yield "fresh example", json.dumps(fresh(example)).encode()
    yield "unknown field", json.dumps({**fresh(example), "colour": "red"}).encode()
    props = dict(schema.get("properties", {}))
    for name in schema.get("required", []):
        yield f"without {name}", json.dumps({k: v for k, v in fresh(example).items() if k != name}).encode()
    for name in props:
        for value in [None, *_wrong_types(example.get(name, ""))]:
            yield f"{name}={value!r:.40}", json.dumps({**fresh(example), name: value}).encode()


def _binary_variants(valid: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    yield "empty", b""
    yield "truncated", valid[: len(valid) // 2]
    yield "one octet short", valid[:-1]
    yield "trailing octet", valid + b"\x00"
    yield "oversized", valid + bytes(70_000)
    for n in range(6):
        flipped = bytearray(valid)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        yield f"bit flip {n}", bytes(flipped)
    for n in range(6):
        yield f"random {n}", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))


# Operations whose success needs a prior state, by operationId (the state, not the route set).
PRECONDITION: dict[str, Callable[[Stack, str], None]] = {
    "unblockDevice": lambda s, device_id: _block(s, device_id),
    "getCrl": lambda s, _: _publish_crl(s),
    # The MA's: the example report id is stored; the example revocation's device is registered.
    "showReport": lambda s, _: store_report(
        s.settings, "00112233445566aa", suspect_cert=s.hierarchy.certificate("aca").encoded, now=time32.now()
    ),
    "createRevocation": lambda s, _: _register(s, "revoked-obu"),
}


def _publish_crl(s: Stack) -> None:
    """A hash CRL signed by the CRL generator, stored and recorded as ``scms_crlg.publish`` does."""
    craca, series, now = s.hierarchy.certificate("root").hashed_id8, s.settings.crl_hash_series, time32.now()
    contents = CrlContents(series, craca, now, now + 3600, ("fullHashCrl", {"crlSerial": 1, "entries": []}))
    key = f"crl/{craca.hex()}_{series}_1.oer"
    S3Artifacts.from_settings(s.settings).put(key, build_secured_crl(contents, s.hierarchy.signer("crlg")))
    DynamoDbCrlEntryStore.from_settings(s.settings).put_crl(CrlRecord(craca, series, 1, now, now + 3600, key, ""))


def _fresh_device(example: dict[str, Any]) -> dict[str, Any]:
    """The registration example for a device never seen (so a variant is judged on its body, not a 409)."""
    ee = Ee(device_id=f"reg-{random.getrandbits(48):012x}")
    return {**example, "device_id": ee.device_id, "canonical_public_key": ee.device().canonical_key.hex()}


# JSON request examples made unique per request, by operationId.
FRESH: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"registerDevice": _fresh_device}


def _register(s: Stack, device_id: str) -> None:
    s.devices.create(Ee(device_id=device_id).device(), actor="test", now_unix=1)


def _block(s: Stack, device_id: str) -> None:
    s.devices.transition(
        device_id, DeviceState.BLOCKED, expected=DeviceState.REGISTERED, cause="test", actor="test", now_unix=1
    )


class Generator:
    """Requests for one operation: a valid one from the document's examples and live values, then variants."""

    def __init__(self, stack: Stack, op: Operation, rng: random.Random) -> None:
        self.stack, self.op, self.rng = stack, op, rng
        self.ee = Ee(device_id=f"ee-{op.id}"[:64])
        self.device_id = f"dev-{op.id}"[:64]
        self.batch: StoredBatch | StoredSuccessor | None = None
        self._enrolled: EnrolledEe | None = None

    def enrolled_ee(self) -> EnrolledEe:
        """A device of this operation enrolled through the ECA use case (authorization requests need one)."""
        if self._enrolled is None:
            s = self.stack
            eca_requests = DynamoDbEcaRequestStore.from_settings(s.settings)
            self._enrolled = EnrolledEe.enroll(
                hierarchy=s.hierarchy, devices=s.devices, eca_requests=eca_requests, settings=s.settings,
                now=time32.now() - 600, device_id=f"enrolled-{self.op.id}"[:64],
            )  # fmt: skip
        return self._enrolled

    def live(self, param: Mapping[str, Any]) -> str | None:
        """A value the stack knows (HashedId8 of a stored certificate, a registered device), else the example."""
        name = param["name"]
        if name == "Ieee-1609.2.1-Authorization" and self.batch is not None:
            return self.batch.header()
        if name == "filename" and self.batch is not None:
            return self.batch.filename
        if name == "certId":
            return self.stack.hierarchy.certificate("eca").hashed_id8.hex()
        if name in ("ctlSeriesId", "craca"):
            return self.stack.hierarchy.certificate("root").hashed_id8.hex()
        if name == "crlSeries":
            return str(self.stack.settings.crl_hash_series)
        if name == "device_id":
            return self.device_id
        if param["in"] == "header" and name in {"Range", "If-None-Match", "If-Modified-Since", "If-Range"}:
            return None  # optional: the plain request first, the examples as variants
        example = param.get("example")
        return None if example is None else str(example)

    def binary(self, asn1_type: str) -> bytes:
        makers: dict[str, Callable[[], bytes]] = {
            "EeEcaCertRequestSpdu": lambda: self.ee.request(generation_time=time32.now()),
            "EeRaCertRequestSpdu": lambda: self.enrolled_ee().request(
                self.stack.hierarchy.certificate("ra"), generation_time=time32.now()
            ),
            "MisbehaviorReportSpdu": lambda: misbehavior_report(self.stack.hierarchy, now=time32.now()),
            "EeRaSuccessorEnrollmentCertRequestSpdu": lambda: successor_request(
                Holder(self.enrolled_ee().ee, self.enrolled_ee().certificate),
                self.stack.hierarchy.certificate("ra"),
                generation_time=time32.now(),
            )[0],
        }
        assert asn1_type in makers, f"no generator for request bodies of type {asn1_type}: add one"
        return makers[asn1_type]()

    def setup(self) -> None:
        compressed = self.ee.device().canonical_key
        if any(p["name"] == "device_id" for p in self.op.parameters):
            other = Ee(device_id=self.device_id)
            self.stack.devices.create(other.device(), actor="test", now_unix=1)
        if self.op.body and "application/octet-stream" in self.op.body["content"]:
            self.stack.devices.create(self.ee.device(), actor="test", now_unix=1)
        assert compressed
        if self.op.id in PRECONDITION:
            PRECONDITION[self.op.id](self.stack, self.device_id)
        if any(p["name"] == "Ieee-1609.2.1-Authorization" for p in self.op.parameters):
            stored = StoredSuccessor if self.op.path == StoredSuccessor.PATH else StoredBatch
            self.batch = stored.make(self.stack, self.enrolled_ee())

    def base(self) -> Case:
        case = Case("valid", {}, {}, {})
        for p in self.op.parameters:
            value = self.live(p)
            if value is None:
                continue
            {"path": case.path_params, "query": case.query, "header": case.headers}[p["in"]][p["name"]] = value
        if self.op.spec.get("security"):
            case.headers["X-Api-Key"] = API_KEY
        body = self.op.body
        if body is not None:
            media_type, media = next(iter(body["content"].items()))
            case.headers["Content-Type"] = media_type
            if media_type == "application/octet-stream":
                case.body = self.binary(media["x-asn1-type"])
            else:
                case.body = json.dumps(media["example"]).encode()
        return case

    def cases(self) -> Iterator[Case]:
        valid = self.base()
        yield valid
        yield replace(valid, name="replayed")
        for p in self.op.parameters:
            where = {"path": "path_params", "query": "query", "header": "headers"}[p["in"]]
            values: list[str | None] = [] if p["in"] == "path" else [None]
            if p.get("example") is not None:
                values.append(str(p["example"]))
            for value in [*values, *JUNK]:
                if p["in"] == "path" and (not value or "/" in value or value in {".", ".."}):
                    continue  # another route (or none) at the gateway, not this operation
                params = dict(getattr(valid, where))
                if value is None:
                    params.pop(p["name"], None)
                else:
                    params[p["name"]] = value
                variant = replace(valid, name=f"{p['name']}={value!r:.30}", schema_invalid=not _param_valid(p, value))
                setattr(variant, where, params)
                yield variant
        if self.op.spec.get("security"):
            no_key = {k: v for k, v in valid.headers.items() if k != "X-Api-Key"}
            yield replace(valid, name="no API key", headers=no_key, expect=401)
            yield replace(valid, name="wrong API key", headers={**valid.headers, "X-Api-Key": "ab" * 32}, expect=403)
        for content_type in ("text/plain", "application/xml"):
            yield replace(
                valid, name=f"Content-Type {content_type}", headers={**valid.headers, "Content-Type": content_type}
            )
        yield replace(valid, name="Accept text/html", headers={**valid.headers, "Accept": "text/html"})
        body = self.op.body
        if body is None:
            return
        media_type, media = next(iter(body["content"].items()))
        if media_type == "application/octet-stream":
            fresh = self.binary(media["x-asn1-type"])
            for name, data in _binary_variants(fresh, self.rng):
                yield replace(valid, name=f"body {name}", body=data, schema_invalid=True)
        else:
            validator = jsonschema.Draft202012Validator(media["schema"])
            fresh_example = FRESH.get(self.op.id, lambda e: e)
            for name, data in _json_variants(media["schema"], media["example"], fresh_example):
                try:
                    invalid = not validator.is_valid(json.loads(data))
                except (ValueError, RecursionError):
                    invalid = True
                if not data and not body.get("required"):
                    invalid = False
                yield replace(valid, name=f"body {name}", body=data, schema_invalid=invalid)


@dataclass
class StoredBatch:
    """An accepted authorization request of an enrolled device and its first batch zip, stored in S3."""

    stack: Stack
    ee: EnrolledEe
    request_hash: bytes
    i: int

    @classmethod
    def make(cls, stack: Stack, ee: EnrolledEe) -> StoredBatch:
        data = ee.request(stack.hierarchy.certificate("ra"), generation_time=time32.now())
        answer = stack.client.post(
            "/v3/authorization-certificate", data=data, headers={"Content-Type": "application/octet-stream"}
        )
        assert answer.status_code == 202, answer.get_data()
        rh = parse_ra_ee_cert_ack(answer.get_data()).content.request_hash
        i = parse_ra_ee_cert_ack(answer.get_data()).content.first_i
        assert i is not None
        info = RaEeCertInfo(time32.now(), i, rh, time32.now() + 3600)
        S3Artifacts.from_settings(stack.settings).put(batch_key(rh, i), period_zip(rh, i, {0: b"r0"}, info))
        return cls(stack, ee, rh, i)

    @property
    def filename(self) -> str:
        return batch_filename(self.request_hash, self.i)

    def header(self) -> str:
        """A fresh ``Ieee-1609.2.1-Authorization`` value for the batch, signed by its device now."""
        spdu = download_request(
            self.filename, enrollment=Signer(self.ee.ee.enrollment, self.ee.certificate),
            ra_certificate=self.stack.hierarchy.certificate("ra"), generation_time=time32.now(),
        )  # fmt: skip
        return authorization_header(spdu)["Ieee-1609.2.1-Authorization"]


@dataclass
class StoredSuccessor:
    """An accepted successor request of an enrolled device (its response stored by the route)."""

    PATH = "/v3/successor-enrollment-certificate"
    stack: Stack
    ee: EnrolledEe
    filename: str

    @classmethod
    def make(cls, stack: Stack, ee: EnrolledEe) -> StoredSuccessor:
        data = successor_request(Holder(ee.ee, ee.certificate), stack.hierarchy.certificate("ra"),
                                 generation_time=time32.now())[0]  # fmt: skip
        answer = stack.client.post(cls.PATH, data=data, headers={"Content-Type": "application/octet-stream"})
        assert answer.status_code == 202, answer.get_data()
        rh = parse_ra_ee_enrollment_cert_ack(answer.get_data()).content.request_hash
        return cls(stack, ee, f"{rh.hex().upper()}_enroll.oer")

    def header(self) -> str:
        """A fresh ``Ieee-1609.2.1-Authorization`` value, signed now by the certificate that made the request."""
        spdu = download_request(
            self.filename, enrollment=Signer(self.ee.ee.enrollment, self.ee.certificate),
            ra_certificate=self.stack.hierarchy.certificate("ra"), generation_time=time32.now(),
        )  # fmt: skip
        return authorization_header(spdu)["Ieee-1609.2.1-Authorization"]


def send(stack: Stack, op: Operation, case: Case) -> TestResponse:
    path = op.path
    for name, value in case.path_params.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    if case.query:
        path += "?" + urlencode(case.query)
    return stack.client.open(path, method=op.method, headers=case.headers, data=case.body)


def problems(op: Operation, case: Case, answer: TestResponse) -> list[str]:
    """What in ``answer`` the document does not allow for ``op``."""
    status = answer.status_code
    where = f"{op.id} [{case.name}] → {status}"
    if status >= 500 and status != 503:
        return [f"{where}: server error {answer.get_data()[:200]!r}"]
    documented = op.response(status)
    if documented is None:
        return [f"{where}: status not documented"]
    out = []
    if case.expect is not None and status != case.expect:
        out.append(f"{where}: expected {case.expect}")
    if case.schema_invalid and not 400 <= status < 500:
        out.append(f"{where}: the document calls this request invalid, yet it was not refused")
    media_type = (answer.headers.get("Content-Type") or "").split(";")[0].strip()
    content = documented.get("content") or {}
    data = answer.get_data()
    if content and media_type not in content:
        out.append(f"{where}: Content-Type {media_type!r} not in {sorted(content)}")
    if not content and data:
        out.append(f"{where}: a body where the document says none")
    for name, header in (documented.get("headers") or {}).items():
        if header.get("required") and name not in answer.headers:
            out.append(f"{where}: required header {name} missing")
    schema = (content.get(media_type) or {}).get("schema")
    if media_type == "application/json" and schema is not None:
        try:
            errors = sorted(e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(json.loads(data)))
        except (ValueError, RecursionError):
            errors = ["not JSON"]
        out += [f"{where}: body: {e}" for e in errors[:3]]
    code = answer.headers.get(ERROR_HEADER)
    if code is not None and code not in op.errors:
        out.append(f"{where}: Table 8 code {code} not in the operation's {ERRORS_KEY}")
    if status in (400, 403) and media_type == "text/plain" and op.errors and code is None:
        out.append(f"{where}: a 1609.2.1 refusal without {ERROR_HEADER}")
    return out


@pytest.mark.parametrize("op", operations(), ids=lambda o: o.id)
def test_the_document_holds_against_the_local_stack(stack: Stack, op: Operation) -> None:
    generator = Generator(stack, op, random.Random(op.id))
    generator.setup()
    seen: dict[int, int] = {}
    found: list[str] = []
    count = 0
    for case in generator.cases():
        answer = send(stack, op, case)
        seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
        found += problems(op, case, answer)
        count += 1
    print(f"{op.id}: {count} requests, statuses {dict(sorted(seen.items()))}")
    assert not found, "\n".join(found[:25])
    # The generated requests reached the route: the valid one succeeded and the bad ones were refused.
    assert any(200 <= s < 300 for s in seen), f"{op.id}: no success among {count} requests: {seen}"
    assert any(400 <= s < 500 for s in seen), f"{op.id}: nothing refused among {count} requests: {seen}"


def _answer(status: int, headers: dict[str, str], body: bytes) -> TestResponse:
    return TestResponse([body], str(status), Headers(headers), request=EnvironBuilder(path="/").get_request())


def test_an_undocumented_status_or_media_type_is_reported() -> None:
    # Given the RA's list operation and answers the document does not allow,
    op = next(o for o in operations() if o.id == "listDevices")
    case = Case("any", {}, {}, {})

    def answer(status: int, content_type: str, body: bytes) -> TestResponse:
        return _answer(status, {"Content-Type": content_type}, body)

    # Then each is a problem: a 404 (not listed), text/plain on 200, a body off the schema, a 500.
    assert problems(op, case, answer(404, "application/json", b"{}"))
    assert problems(op, case, answer(200, "text/plain", b"x"))
    assert problems(op, case, answer(200, "application/json", b'{"devices": 3}'))
    assert problems(op, case, answer(500, "application/json", b'{"Code": "x", "Message": "y"}'))
    assert problems(
        op, replace(case, schema_invalid=True), answer(200, "application/json", b'{"devices": [], "next": null}')
    )
    # And a documented answer is not.
    assert not problems(op, case, answer(200, "application/json", b'{"devices": [], "next": null}'))


def test_a_table8_code_not_listed_for_the_operation_is_reported() -> None:
    op = next(o for o in operations() if o.id == "getCaCertificate")
    headers = {"Content-Type": "text/plain", ERROR_HEADER: ErrorCode.ECA_MAX_REQS.value}
    refusal = _answer(400, headers, b"no\n")
    assert problems(op, Case("x", {}, {}, {}), refusal)
    bare = _answer(400, {"Content-Type": "text/plain"}, b"no\n")
    assert problems(op, Case("x", {}, {}, {}), bare)


# ----------------------------------------------------------------------------------------------
# The statuses the existing functional tests provoke are documented

_RECORDER = textwrap.dedent(
    """
    import json, sys
    import chalice.app
    import pytest

    out = open(sys.argv[1], "a", encoding="utf-8")
    original = chalice.app.Chalice.__call__

    def recording(self, event, context):
        result = original(self, event, context)
        ctx = event.get("requestContext") or {}
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        out.write(json.dumps({
            "path": ctx.get("resourcePath"), "method": ctx.get("httpMethod"), "status": result.get("statusCode"),
            # No Content-Type (Chalice's own error answers): API Gateway, and the gateway, send application/json.
            "type": str(headers.get("content-type", "application/json")).split(";")[0].strip(),
            "code": headers.get("ieee-1609.2.1-error"),
        }) + "\\n")
        out.flush()
        return result

    chalice.app.Chalice.__call__ = recording
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-o", "addopts=", *sys.argv[2:]]))
    """
)


def recorded_problems(doc: Mapping[str, Any], records: list[dict[str, Any]]) -> list[str]:
    ops = {(o.method, o.path): o for o in operations(doc)}
    out = []
    for r in records:
        op = ops.get((str(r["method"]).upper(), str(r["path"])))
        if op is None:
            out.append(f"{r['method']} {r['path']}: not in the document")
            continue
        response = op.response(int(r["status"]))
        if response is None:
            out.append(f"{op.id} → {r['status']}: status not documented")
            continue
        content = response.get("content") or {}
        if content and r["type"] not in content:
            out.append(f"{op.id} → {r['status']}: Content-Type {r['type']!r} not documented")
        if r["code"] is not None and r["code"] not in op.errors:
            out.append(f"{op.id} → {r['status']}: Table 8 code {r['code']} not documented")
    return out


def _functional_files_using_the_apps() -> list[str]:
    """``tests/functional/test_<authority>_*.py`` (authority = a function's folder, e.g. ra, eca) calling an app.

    The route-focused files only: re-running every functional file would double the suite's time.
    """
    here = Path(__file__).resolve()
    authorities = {spec.code_dir.name for spec in chalice_specs()}
    return sorted(
        str(f.relative_to(REPO_ROOT))
        for f in here.parent.glob("test_*.py")
        if f != here and f.name.split("_")[1] in authorities and "chalice.test" in f.read_text(encoding="utf-8")
    )


def test_every_status_the_functional_tests_provoke_is_documented(tmp_path: Path) -> None:
    # Given every functional test file that calls an app, run with each app answer recorded,
    files = _functional_files_using_the_apps()
    assert files
    log = tmp_path / "answers.jsonl"
    log.touch()
    run = subprocess.run(
        [sys.executable, "-c", _RECORDER, str(log), *files, "-k", "not TestDynamo"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(records) > 50, run.stdout[-2000:] + run.stderr[-2000:]
    # Then every (operation, status, media type, Table 8 code) they saw is documented
    # (whether or not those tests passed: that is their files' business).
    found = recorded_problems(document(), records)
    assert not found, "\n".join(sorted(set(found))[:30])
    statuses = {(r["path"], r["status"]) for r in records}
    assert any(s == 200 for _, s in statuses) and any(s == 400 for _, s in statuses)


def test_a_recorded_status_missing_from_the_document_is_reported() -> None:
    doc = copy.deepcopy(document())
    del doc["paths"]["/v3/ca-certificate"]["get"]["responses"]["416"]
    record = {"path": "/v3/ca-certificate", "method": "GET", "status": 416, "type": "application/octet-stream"}
    assert recorded_problems(doc, [{**record, "code": None}]) == ["getCaCertificate → 416: status not documented"]
    assert recorded_problems(document(), [{**record, "code": None}]) == []


# ----------------------------------------------------------------------------------------------
# Served by the local gateway


def _echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": event["resource"]}


@pytest.fixture
def gateway() -> WsgiClient:
    return WsgiClient(Gateway([Route("GET", "/v3/ca-certificate", "RaFunction", _echo)]))


def test_gateway_serves_the_document_at_openapi_yaml(gateway: WsgiClient) -> None:
    answer = gateway.get("/openapi.yaml")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/yaml")
    assert answer.get_data() == docs_page.OPENAPI_DOCUMENT.read_bytes()
    assert yaml.safe_load(answer.get_data()) == document()


def test_gateway_still_routes_the_api_and_refuses_other_methods_on_the_document(gateway: WsgiClient) -> None:
    assert gateway.get("/v3/ca-certificate").get_data() == b"/v3/ca-certificate"
    assert gateway.post("/openapi.yaml").status_code == 405
    assert gateway.get("/openapi.yml").status_code == 404


def test_gateway_serves_a_self_contained_page_listing_every_operation(gateway: WsgiClient) -> None:
    answer = gateway.get("/docs")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    page = answer.get_data(as_text=True)
    for op in operations():
        assert f'id="{op.id}"' in page
        assert f"<code>{op.path}</code>" in page
        for code in op.errors:
            assert f"<code>{code}</code>" in page
    for media in ("EeEcaCertRequestSpdu", "EcaEeCertResponseSpdu", "CertificateChainSpdu"):
        assert media in page
    # Self-contained: nothing loaded from elsewhere.
    assert not re.search(r"""\bsrc\s*=|<link\b|@import|url\(""", page, re.IGNORECASE)
    embedded = re.search(r'<script type="application/json" id="openapi">(.*?)</script>', page, re.DOTALL)
    assert embedded is not None and json.loads(embedded.group(1)) == document()


def test_the_page_of_a_document_without_an_operation_does_not_list_it() -> None:
    doc = copy.deepcopy(document())
    del doc["paths"]["/v3/ccf-ctl"]
    page = docs_page.render_page(doc)
    assert 'id="getCcf"' not in page
    assert 'id="getCaCertificate"' in page


def test_codes_of_a_module_the_handler_imports_count_and_of_an_unrouted_one_do_not(tmp_path: Path) -> None:
    # Given a function whose app imports one use case and not another
    (tmp_path / "pkg").mkdir()
    (tmp_path / "app.py").write_text("from pkg import routed\n")
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "routed.py").write_text("from . import helper\n")
    (tmp_path / "pkg" / "helper.py").write_text("")
    (tmp_path / "pkg" / "unrouted.py").write_text("")
    # Then only the imported modules (transitively) are reachable
    names = {p.name for p in _reachable_files(tmp_path / "app.py", tmp_path)}
    assert {"app.py", "routed.py", "helper.py", "__init__.py"} <= names
    assert "unrouted.py" not in names
