# ruff: noqa: F811  (the ECA fixtures are imported by name; test parameters name them again)
"""Health, structured request logs and EMF metrics of the RA and ECA apps (issue #7 §2), under moto.

Logs are read from the apps' Powertools handler (its stream swapped for a buffer) and the EMF
documents from stdout (``capsys``): both are parsed as JSON, as CloudWatch would.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics import MetricUnit
from chalice.test import Client
from scms_service import observability
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy
from werkzeug.test import Client as WsgiClient

from scms_cli.local.gateway import Gateway, Route
from scms_codec.spdu import request_hash
from tests.functional.ra_app import API_KEY, ra_fixture  # noqa: F401 (the "ra" fixture)
from tests.functional.test_eca_enroll import PATH, ca, eca, ee, now, post  # noqa: F401 (fixtures: ca eca ee now)
from tests.unit.eca.ee import Ee

NAMESPACE = "OpenSCMSTest"


@pytest.fixture(autouse=True)
def _namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)


class Captured:
    """The JSON lines an app's Powertools logger wrote, and the EMF documents printed on stdout."""

    def __init__(self, module: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
        self._buffer = io.StringIO()
        self._capsys = capsys
        handler = module.logger.registered_handler
        self._old = handler.setStream(self._buffer)
        self._handler = handler
        capsys.readouterr()

    def close(self) -> None:
        self._handler.setStream(self._old)

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._buffer.getvalue().splitlines() if line.strip()]

    def emf(self) -> list[dict[str, Any]]:
        docs = []
        for line in self._capsys.readouterr().out.splitlines():
            if line.startswith("{") and '"_aws"' in line:
                docs.append(json.loads(line))
        return docs


def metric_values(docs: list[dict[str, Any]], name: str) -> list[tuple[dict[str, str], Any]]:
    """(dimensions, values) of every EMF document holding metric ``name``."""
    out = []
    for doc in docs:
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == NAMESPACE
        if any(m["Name"] == name for m in directive["Metrics"]):
            dims = {d: doc[d] for d in directive["Dimensions"][0]}
            value = doc[name]
            out.append((dims, value if isinstance(value, list) else [value]))
    return out


@pytest.fixture
def ra_logs(ra: ModuleType, capsys: pytest.CaptureFixture[str]) -> Iterator[Captured]:
    captured = Captured(ra, capsys)
    yield captured
    captured.close()


@pytest.fixture
def eca_logs(eca: ModuleType, capsys: pytest.CaptureFixture[str]) -> Iterator[Captured]:
    captured = Captured(eca, capsys)
    yield captured
    captured.close()


# --- health ----------------------------------------------------------------------------------------------------


def test_ra_health_is_200_with_every_check_ok_and_needs_no_api_key(ra: ModuleType, ca: Hierarchy) -> None:
    with Client(ra.app) as client:
        answer = client.http.get("/ra/health")
    assert answer.status_code == 200, answer.body
    body = json.loads(answer.body)
    assert body == {
        "status": "ok",
        "authority": "ra",
        "version": observability.VERSION,
        "checks": {"table": "ok", "ca": "ok"},
    }


def test_ra_health_is_503_naming_the_table_when_ra_table_is_missing(
    ra: ModuleType, ca: Hierarchy, aws_settings: Settings
) -> None:
    boto3.client("dynamodb").delete_table(TableName=aws_settings.ra_table)
    with Client(ra.app) as client:
        answer = client.http.get("/ra/health")
    assert answer.status_code == 503
    body = json.loads(answer.body)
    assert body["status"] == "unavailable"
    assert body["checks"] == {"table": "fail: ResourceNotFoundException", "ca": "ok"}


def test_ra_health_is_503_when_no_ca_hierarchy_exists(ra: ModuleType) -> None:
    with Client(ra.app) as client:
        answer = client.http.get("/ra/health")
    assert answer.status_code == 503
    assert json.loads(answer.body)["checks"] == {"table": "ok", "ca": "fail: LookupError"}


def test_eca_health_is_200_and_carries_no_secret(eca: ModuleType, ca: Hierarchy, aws_settings: Settings) -> None:
    with Client(eca.app) as client:
        answer = client.http.get("/eca/health")
    assert answer.status_code == 200, answer.body
    body = json.loads(answer.body)
    assert body["authority"] == "eca" and body["checks"] == {"table": "ok", "ca": "ok"}
    # Only these keys and short words: no key material, no secret name, no ARN.
    assert set(body) == {"status", "authority", "version", "checks"}
    assert "secret" not in answer.body.decode().lower() and "arn:" not in answer.body.decode()


def test_eca_health_is_503_when_eca_table_is_missing(eca: ModuleType, ca: Hierarchy, aws_settings: Settings) -> None:
    boto3.client("dynamodb").delete_table(TableName=aws_settings.eca_table)
    with Client(eca.app) as client:
        answer = client.http.get("/eca/health")
    assert answer.status_code == 503
    assert json.loads(answer.body)["checks"]["table"] == "fail: ResourceNotFoundException"


def test_eca_health_is_503_when_the_ca_table_is_missing(eca: ModuleType, aws_settings: Settings) -> None:
    boto3.client("dynamodb").delete_table(TableName=aws_settings.ca_table)
    with Client(eca.app) as client:
        answer = client.http.get("/eca/health")
    assert answer.status_code == 503
    assert json.loads(answer.body)["checks"] == {"table": "ok", "ca": "fail: ResourceNotFoundException"}


def test_health_through_the_lambda_handler_as_api_gateway_calls_it(ra: ModuleType, ca: Hierarchy) -> None:
    # Given the REST proxy event the gateway (and API Gateway) sends to Handler app.app
    gateway = Gateway([Route("GET", "/ra/health", "RaFunction", ra.app)])
    # When it is routed
    answer = WsgiClient(gateway).get("/ra/health")
    # Then the Chalice app is still the handler and routes it
    assert answer.status_code == 200
    assert json.loads(answer.data)["checks"] == {"table": "ok", "ca": "ok"}


def test_version_equals_the_project_version() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    match = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE)
    assert match is not None and match.group(1) == observability.VERSION


# --- logs --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cert_type", ["explicit", "implicit"])
def test_enrollment_logs_carry_the_request_hash_and_authority_on_every_line(
    eca: ModuleType, ca: Hierarchy, ee: Ee, now: int, eca_logs: Captured, cert_type: str
) -> None:
    # Given a registered device's request
    request = ee.request(cert_type=cert_type, generation_time=now)
    # When it enrolls
    answer = post(eca, request)
    # Then every line (the app's and the use case's) carries the request hash and the authority
    assert answer.status_code == 200
    logs = eca_logs.logs()
    assert logs, "no log line"
    assert {line["correlation_id"] for line in logs} == {request_hash(request).hex()}
    assert {line["authority"] for line in logs} == {"eca"}
    messages = [line["message"] for line in logs]
    assert "enrollment certificate issued" in messages  # scms_eca.enroll's own logger, routed
    (done,) = [line for line in logs if line["message"] == "request"]
    assert done["method"] == "POST" and done["path"] == PATH and done["status"] == 200
    assert done.get("error_code") is None and isinstance(done["duration_ms"], float) and done["duration_ms"] > 0


def test_refused_enrollment_logs_its_table8_code_on_the_request_line(
    eca: ModuleType, ca: Hierarchy, eca_logs: Captured, now: int
) -> None:
    stranger = Ee()  # never registered
    answer = post(eca, stranger.request(generation_time=now))
    assert answer.status_code == 400
    (done,) = [line for line in eca_logs.logs() if line["message"] == "request"]
    assert done["status"] == 400 and done["error_code"] == "400-21"


def test_management_request_correlation_id_is_the_api_gateway_request_id(
    ra: ModuleType, ca: Hierarchy, ra_logs: Captured
) -> None:
    gateway = Gateway([Route("GET", "/manage/v1/devices", "RaFunction", ra.app)])
    answer = WsgiClient(gateway).get("/manage/v1/devices", headers={"X-Api-Key": API_KEY})
    assert answer.status_code == 200
    (done,) = [line for line in ra_logs.logs() if line["message"] == "request"]
    # The gateway makes a fresh UUID per request, as API Gateway does.
    assert re.fullmatch(r"[0-9a-f-]{36}", done["correlation_id"])
    assert done["authority"] == "ra" and done["path"] == "/manage/v1/devices" and "error_code" not in done


def test_management_refusal_without_key_logs_401(ra: ModuleType, ra_logs: Captured) -> None:
    with Client(ra.app) as client:
        answer = client.http.get("/manage/v1/devices")
    assert answer.status_code == 401
    (done,) = [line for line in ra_logs.logs() if line["message"] == "request"]
    assert done["status"] == 401 and done["error_code"] == "401"


# --- metrics -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cert_type", ["explicit", "implicit"])
def test_enrollment_publishes_requests_issued_by_type_and_latency(
    eca: ModuleType, ca: Hierarchy, ee: Ee, now: int, eca_logs: Captured, cert_type: str
) -> None:
    answer = post(eca, ee.request(cert_type=cert_type, generation_time=now))
    assert answer.status_code == 200
    docs = eca_logs.emf()
    assert metric_values(docs, "Requests") == [({"service": "eca"}, [1.0])]
    assert metric_values(docs, "CertificatesIssued") == [({"service": "eca", "CertType": cert_type}, [1.0])]
    ((dims, latency),) = metric_values(docs, "EnrollmentLatencyMs")
    assert dims == {"service": "eca"} and len(latency) == 1 and latency[0] > 0
    assert metric_values(docs, "Refusals") == []


def test_a_replayed_enrollment_counts_a_request_but_issues_nothing(
    eca: ModuleType, ca: Hierarchy, ee: Ee, now: int, eca_logs: Captured
) -> None:
    request = ee.request(generation_time=now)
    assert post(eca, request).status_code == 200
    eca_logs.emf()
    again = post(eca, request)
    assert again.status_code == 200
    docs = eca_logs.emf()
    assert metric_values(docs, "Requests") == [({"service": "eca"}, [1.0])]
    assert metric_values(docs, "CertificatesIssued") == []


def test_refusal_publishes_refusals_by_error_code(
    eca: ModuleType, ca: Hierarchy, ee: Ee, now: int, eca_logs: Captured
) -> None:
    answer = post(eca, b"\x03\x81garbage")
    assert answer.status_code == 400
    docs = eca_logs.emf()
    assert metric_values(docs, "Refusals") == [({"service": "eca", "ErrorCode": "400-42"}, [1.0])]
    assert metric_values(docs, "CertificatesIssued") == []


def test_coarse_mode_hides_the_code_from_the_client_but_not_from_the_metric(
    eca: ModuleType,
    ca: Hierarchy,
    now: int,
    eca_logs: Captured,
    aws_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(eca, "settings", lambda: replace(aws_settings, error_mode="coarse"))
    answer = post(eca, Ee().request(generation_time=now))
    assert answer.status_code == 500 and "Ieee-1609.2.1-Error" not in answer.headers
    assert metric_values(eca_logs.emf(), "Refusals") == [({"service": "eca", "ErrorCode": "400-21"}, [1.0])]


def test_ra_requests_publish_one_document_per_invocation(ra: ModuleType, ca: Hierarchy, ra_logs: Captured) -> None:
    with Client(ra.app) as client:
        for _ in range(3):
            assert client.http.get("/ra/health").status_code == 200
    # Flushed per invocation: three documents of one Requests each, not one of three.
    assert metric_values(ra_logs.emf(), "Requests") == [({"service": "ra"}, [1.0])] * 3


def test_library_logs_outside_a_request_still_reach_the_root_logger(caplog: pytest.LogCaptureFixture) -> None:
    # Routing library records to the request's logger must not swallow them at start-up or in scripts.
    import logging

    from tests.functional.test_eca_enroll import load_eca_app

    load_eca_app()  # installs the router
    with caplog.at_level(logging.INFO):
        logging.getLogger("scms_service.some_module").info("outside any request")
    assert "outside any request" in caplog.text


# --- Lambda tasks of provisioning: metrics published at once (no HTTP request) ---


def _emf(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{") and '"_aws"' in line
    ]


def test_aca_certificates_issued_are_published_by_response_kind_and_cert_type_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an ACA batch that issued 3 private explicit, 2 cubk implicit and 1 plain explicit certificates,
    capsys.readouterr()
    issued = observability.IssuedCertificates()
    for kind, cert_type in [("private", "explicit")] * 3 + [("cubk", "implicit")] * 2 + [("plain", "explicit")]:
        issued.add(kind, cert_type)
    # When it publishes,
    issued.publish()
    # Then one EMF document per (kind, type) carries the count, with no other dimension than the service's.
    found = metric_values(_emf(capsys), observability.CERTIFICATES_ISSUED)
    assert sorted((d["ResponseKind"], d["CertType"], v) for d, v in found) == [
        ("cubk", "implicit", [2.0]), ("plain", "explicit", [1.0]), ("private", "explicit", [3.0]),
    ]  # fmt: skip
    assert all(set(d) == {"service", "ResponseKind", "CertType"} and d["service"] == "aca" for d, _ in found)


def test_aca_certificates_issued_refuse_a_dimension_that_could_name_a_device() -> None:
    # Twin: anything but a response kind and a certificate type is refused before it reaches a metric.
    issued = observability.IssuedCertificates()
    with pytest.raises(ValueError, match="kind"):
        issued.add("obu-1", "explicit")
    with pytest.raises(ValueError, match="cert_type"):
        issued.add("private", "0123456789abcdef")
    assert issued.counts == {}


def test_nothing_issued_publishes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    observability.IssuedCertificates().publish()
    assert _emf(capsys) == []


def test_provisioning_latency_is_published_in_seconds_by_variant(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    observability.provisioning_done(variant="compactUnified", accepted_at=1_000, done_at=1_042)
    [(dims, values)] = metric_values(_emf(capsys), observability.PROVISIONING_LATENCY)
    assert dims == {"service": "ra-batch", "Variant": "compactUnified"} and values == [42.0]
    # Twin: an unknown variant publishes nothing (and does not fail the task).
    observability.provisioning_done(variant="obu-1", accepted_at=1_000, done_at=1_042)
    assert _emf(capsys) == []


def test_a_metric_that_cannot_be_published_does_not_fail_the_task(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no stdout")

    monkeypatch.setattr(observability, "_publish", broken)
    observability.publish_metrics("aca", [(observability.CERTIFICATES_ISSUED, 1, MetricUnit.Count, None)])
    assert _emf(capsys) == []
