"""ECA enrollment through the Chalice app and moto (DynamoDB conditions really run), verified by the EE side."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from chalice.test import Client
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.eca_requests import (
    DynamoDbEcaRequestStore,
    IssuedCertificate,
    RequestClaimed,
    RequestRecord,
    RequestStatus,
)

from scms_codec import time32
from scms_codec.errors import ErrorCode
from scms_codec.spdu import request_hash
from tests.unit.eca.ee import Ee

PATH = "/v3/enrollment-certificate"
OCTETS = {"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"}
_APP = Path(__file__).resolve().parents[2] / "functions" / "eca" / "app.py"


def load_eca_app() -> ModuleType:
    """``functions/eca/app.py`` imported once under the module name ``scms_eca_app`` (as the gateway does)."""
    if "scms_eca_app" in sys.modules:
        return sys.modules["scms_eca_app"]
    spec = importlib.util.spec_from_file_location("scms_eca_app", _APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scms_eca_app"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def now() -> int:
    return time32.now()


@pytest.fixture
def ca(aws_settings: Settings, now: int) -> Hierarchy:
    """The hierarchy ``scms init`` makes, in moto's CaTable, Secrets Manager and S3."""
    built, _ = init_hierarchy(
        aws_settings,
        DynamoDbCaStore.from_settings(aws_settings),
        SecretsManagerKeyVault.from_settings(aws_settings),
        S3Artifacts.from_settings(aws_settings),
        now=now - 3600,
    )
    return built


@pytest.fixture
def eca(aws_settings: Settings, ca: Hierarchy, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    module = load_eca_app()
    monkeypatch.setattr(module, "settings", lambda: aws_settings)
    monkeypatch.setattr(module, "_ca", module._LazyHierarchy())
    yield module


@pytest.fixture
def ee(aws_settings: Settings, now: int) -> Ee:
    device = Ee()
    DynamoDeviceStore(aws_settings.ra_table).create(device.device(), actor="test", now_unix=time32.to_unix(now) - 60)
    return device


def tables(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every item of the three tables, sorted, for before/after comparisons."""
    client = boto3.client("dynamodb")
    out: dict[str, list[dict[str, Any]]] = {}
    for name in (settings.ra_table, settings.eca_table, settings.ca_table):
        items = client.scan(TableName=name, ConsistentRead=True)["Items"]
        out[name] = sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
    return out


def post(eca: ModuleType, body: bytes, headers: dict[str, str] | None = None) -> Any:
    with Client(eca.app) as client:
        return client.http.post(PATH, headers=OCTETS if headers is None else headers, body=body)


@pytest.mark.parametrize("cert_type", ["explicit", "implicit"])
def test_enrollment_over_http_is_verified_by_the_ee_and_recorded_on_the_device(
    eca: ModuleType, ca: Hierarchy, ee: Ee, aws_settings: Settings, now: int, cert_type: str
) -> None:
    request = ee.request(cert_type=cert_type, generation_time=now)
    answer = post(eca, request)
    assert answer.status_code == 200, answer.body
    assert answer.headers["Content-Type"] == "application/octet-stream"
    cert = ee.accept(answer.body, request, ca, at=now)
    assert cert.is_implicit is (cert_type == "implicit")
    device = DynamoDeviceStore(aws_settings.ra_table).get(ee.device_id)
    assert device is not None and device.state is DeviceState.ENROLLED
    assert device.enrollment is not None and device.enrollment.cert_id == cert.hashed_id8.hex()
    record = DynamoDbEcaRequestStore.from_settings(aws_settings).get(request_hash(request))
    assert record is not None and record.status is RequestStatus.DONE and record.response == answer.body


def test_enrollment_without_accept_header_answers_octets(eca: ModuleType, ca: Hierarchy, ee: Ee, now: int) -> None:
    request = ee.request(generation_time=now)
    answer = post(eca, request, {"Content-Type": "application/octet-stream"})
    assert answer.status_code == 200, answer.body
    ee.accept(answer.body, request, ca, at=now)


def test_enrollment_refusing_octets_gets_400_before_anything_is_issued(
    eca: ModuleType, ca: Hierarchy, ee: Ee, aws_settings: Settings, now: int
) -> None:
    # An explicit Accept without octets is respected (only a missing one defaults to octets), and it
    # is refused before the route runs: no certificate is issued that could not be delivered.
    request = ee.request(generation_time=now)
    before = tables(aws_settings)
    refused = post(eca, request, {"Content-Type": "application/octet-stream", "Accept": "text/plain"})
    assert refused.status_code == 400
    assert tables(aws_settings) == before
    # Twin: the same request with an Accept that allows octets is issued
    retry = post(eca, request, {"Content-Type": "application/octet-stream", "Accept": "application/*"})
    assert retry.status_code == 200
    ee.accept(retry.body, request, ca, at=now)


def test_replay_returns_identical_bytes_and_writes_nothing(
    eca: ModuleType, ee: Ee, aws_settings: Settings, now: int
) -> None:
    request = ee.request(generation_time=now)
    first = post(eca, request)
    assert first.status_code == 200
    before = tables(aws_settings)
    again = post(eca, request)
    assert (again.status_code, again.body) == (200, first.body)
    assert tables(aws_settings) == before


REFUSALS: dict[str, tuple[Any, ErrorCode]] = {
    "garbage": (lambda ee, now: b"\x03\x81\x00not an spdu", ErrorCode.FAILED_PARSING),
    "unregistered": (
        lambda ee, now: ee.request(generation_time=now, canonical_id="0" * 64),
        ErrorCode.ENROLLMENT_CERT_UNREGISTERED,
    ),
    "bad signature": (
        lambda ee, now: ee.request(generation_time=now, sign_with=ee.enrollment),
        ErrorCode.SIGNATURE_VERIFICATION_FAILED,
    ),
    "future": (lambda ee, now: ee.request(generation_time=now + 3600), ErrorCode.GENERATION_TIME_IN_FUTURE),
    "too old": (lambda ee, now: ee.request(generation_time=now - 5000), ErrorCode.ECA_MAX_AGE),
    "late start": (lambda ee, now: ee.request(generation_time=now, start=now + 5000), ErrorCode.ECA_MAX_WAIT),
    "psid": (
        lambda ee, now: ee.request(generation_time=now, psids=(12345,)),
        ErrorCode.CERT_REQUEST_PERMISSIONS_NOT_ALLOWED,
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusal_sends_its_table_8_code_and_changes_no_table(
    eca: ModuleType, ee: Ee, aws_settings: Settings, now: int, case: str
) -> None:
    make, code = REFUSALS[case]
    before = tables(aws_settings)
    answer = post(eca, make(ee, now))
    assert answer.status_code == code.http_status
    assert answer.headers["Ieee-1609.2.1-Error"] == code.value
    assert tables(aws_settings) == before


def test_blocked_device_is_refused_with_400_20_and_nothing_changes(
    eca: ModuleType, ee: Ee, aws_settings: Settings, now: int
) -> None:
    DynamoDeviceStore(aws_settings.ra_table).transition(
        ee.device_id,
        DeviceState.BLOCKED,
        expected=DeviceState.REGISTERED,
        cause="test",
        actor="test",
        now_unix=time32.to_unix(now) - 30,
    )
    before = tables(aws_settings)
    answer = post(eca, ee.request(generation_time=now))
    assert (answer.status_code, answer.headers["Ieee-1609.2.1-Error"]) == (400, ErrorCode.ENROLLMENT_CERT_BLOCKED.value)
    assert tables(aws_settings) == before


def test_coarse_error_mode_answers_a_bare_500(
    eca: ModuleType, ee: Ee, aws_settings: Settings, now: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    monkeypatch.setattr(eca, "settings", lambda: replace(aws_settings, error_mode="coarse"))
    answer = post(eca, b"garbage")
    assert answer.status_code == 500 and "Ieee-1609.2.1-Error" not in answer.headers


# ---------------------------------------------------------------- the DynamoDB adapter's conditions


def _record(token: str = "t1") -> RequestRecord:
    return RequestRecord(b"\x01" * 8, RequestStatus.PENDING, token, 100, "cid", 90, 2_000_000_000)


def test_second_claim_of_the_same_hash_is_refused_and_first_kept(aws_settings: Settings) -> None:
    store = DynamoDbEcaRequestStore.from_settings(aws_settings)
    store.claim(_record("t1"))
    with pytest.raises(RequestClaimed):
        store.claim(_record("t2"))
    got = store.get(b"\x01" * 8)
    assert got is not None and got.claim_token == "t1"
    assert [e.generation_time for e in store.rate_entries("cid", since=0)] == [90]


def test_only_the_claim_holder_stores_a_certificate(aws_settings: Settings) -> None:
    store = DynamoDbEcaRequestStore.from_settings(aws_settings)
    store.claim(_record("t1"))
    issued = IssuedCertificate("00" * 8, 1, 2, "11" * 8)
    with pytest.raises(RequestClaimed):
        store.record_issued(b"\x01" * 8, token="other", response=b"r", issued=issued)
    store.record_issued(b"\x01" * 8, token="t1", response=b"r", issued=issued)
    store.complete(b"\x01" * 8)
    got = store.get(b"\x01" * 8)
    assert got is not None and (got.status, got.response, got.issued) == (RequestStatus.DONE, b"r", issued)


def test_take_over_needs_the_old_token_and_release_removes_both_items(aws_settings: Settings) -> None:
    store = DynamoDbEcaRequestStore.from_settings(aws_settings)
    store.claim(_record("t1"))
    with pytest.raises(RequestClaimed):
        store.take_over(b"\x01" * 8, old_token="wrong", new_token="t2", now=200)
    taken = store.take_over(b"\x01" * 8, old_token="t1", new_token="t2", now=200)
    with pytest.raises(RequestClaimed):
        store.release(_record("t1"))
    store.release(taken)
    assert store.get(b"\x01" * 8) is None and store.rate_entries("cid", since=0) == []


def test_complete_refuses_a_pending_claim(aws_settings: Settings) -> None:
    store = DynamoDbEcaRequestStore.from_settings(aws_settings)
    store.claim(_record())
    with pytest.raises(RequestClaimed):
        store.complete(b"\x01" * 8)
