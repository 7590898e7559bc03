# ruff: noqa: F811  (the ECA fixtures are imported by name; test parameters name them again)
"""``scms status`` against moto's tables, the RA/ECA/MA apps in-process (their health routes) and the
internal functions behind moto Lambda (their health task event)."""

from __future__ import annotations

import io
import json
import urllib.parse
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from chalice.test import Client
from scms_service.config import Settings
from scms_service.hierarchy import ROLES, Hierarchy
from scms_service.lifecycle import DeviceState
from scms_service.stores.auth_requests import DynamoDbAuthRequestStore, RequestStatus
from scms_service.stores.ca import DynamoDbCaStore
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.issued_certs import DynamoDbIssuedCertStore

from scms_cli.device_cmd import Transport
from scms_cli.local.stepfunctions import create_functions, install_lambda_patch, uninstall_lambda_patch
from scms_cli.main import build_parser
from scms_cli.status_cmd import (
    INTERNAL_FUNCTIONS,
    FunctionFailed,
    execute,
    lambda_invoker,
    local_functions,
    progress_bar,
)
from scms_codec import time32
from tests.functional.ma_support import load_ma_app
from tests.functional.ra_app import ra_fixture  # noqa: F401 (the "ra" fixture)
from tests.functional.test_eca_enroll import ca, eca, ee, now, post  # noqa: F401 (fixtures: ca eca ee now)
from tests.functional.test_health_tasks import INTERNAL, health_handlers
from tests.unit.eca.ee import Ee
from tests.unit.ra.test_batch_status import record as status_record
from tests.unit.service.test_issued_certs import cert as issued_cert

URL = "http://scms.test"


@pytest.fixture
def ma(aws_settings: Settings) -> Iterator[ModuleType]:
    """The MA app on this test's settings (its health route reads MaTable and CaTable)."""
    module = load_ma_app()
    module.configure(module.from_settings(aws_settings))
    try:
        yield module
    finally:
        module.configure(None)


@pytest.fixture
def transport(ra: ModuleType, eca: ModuleType, ma: ModuleType) -> Iterator[Transport]:
    """HTTP onto the three apps in-process: /ra/... to the RA, /eca/... to the ECA, /ma/... to the MA."""
    with Client(ra.app) as ra_client, Client(eca.app) as eca_client, Client(ma.app) as ma_client:

        def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
            path = urllib.parse.urlsplit(url).path
            client = eca_client if path.startswith("/eca/") else ma_client if path.startswith("/ma/") else ra_client
            response = client.http.request(method, path, headers=headers, body=body or b"")
            return response.status_code, response.body

        yield send


def _status(
    settings: Settings,
    transport: Transport,
    *,
    url: str | None = URL,
    json_output: bool = False,
    functions: dict[str, str] | None = None,
    invoke: Any = None,
) -> tuple[int, str]:
    out = io.StringIO()
    dynamodb = boto3.client("dynamodb")
    code = execute(
        settings,
        dynamodb,
        DynamoDbCaStore.from_settings(settings, client=dynamodb),
        url=url,
        now=time32.now(),
        out=out,
        as_json_output=json_output,
        transport=transport,
        functions=functions,
        invoke=invoke,
    )
    return code, out.getvalue()


def _no_http(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
    raise AssertionError("no HTTP call expected without --url")


@pytest.fixture
def enrolled(eca: ModuleType, ca: Hierarchy, ee: Ee, now: int, aws_settings: Settings) -> Ee:
    """One device enrolled over HTTP, one more only registered, one blocked."""
    assert post(eca, ee.request(generation_time=now)).status_code == 200
    store = DynamoDeviceStore(aws_settings.ra_table)
    unix = time32.to_unix(now)
    store.create(Ee(device_id="obu-2").device(), actor="test", now_unix=unix)
    blocked = Ee(device_id="obu-3").device()
    store.create(blocked, actor="test", now_unix=unix)
    store.transition(
        blocked.device_id,
        DeviceState.BLOCKED,
        expected=DeviceState.REGISTERED,
        cause="test",
        actor="test",
        now_unix=unix,
    )
    return ee


def _row(text: str, first: str, section: str | None = None) -> list[str]:
    """The cells of the row starting with ``first`` (in the block titled ``section``, if given)."""
    if section is not None:
        text = text.split(section + "\n", 1)[1].split("\n\n", 1)[0]
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{text}")


def test_status_shows_devices_by_state_certificates_ca_roles_and_health(
    enrolled: Ee, ca: Hierarchy, aws_settings: Settings, transport: Transport
) -> None:
    code, text = _status(aws_settings, transport)
    assert code == 0, text
    assert _row(text, "Registered")[1] == "1"
    assert _row(text, "Enrolled")[1] == "1"
    assert _row(text, "Blocked")[1] == "1"
    assert _row(text, "total")[1] == "3"
    assert "Enrollment certificates issued: 1" in text
    for role in ROLES:
        row = _row(text, role, "CA roles (active certificates)")
        assert row[1] == ca.certificate(role).hashed_id8.hex() and row[3] == "valid"
    assert _row(text, "ra", "Health")[1:4] == ["ok", "ok", "ok"]
    assert _row(text, "eca", "Health")[1:4] == ["ok", "ok", "ok"]
    assert _row(text, "ma", "Health")[1:4] == ["ok", "ok", "ok"]
    assert "Problems" not in text


def test_status_json_carries_the_same_numbers(
    enrolled: Ee, ca: Hierarchy, aws_settings: Settings, transport: Transport
) -> None:
    code, text = _status(aws_settings, transport, json_output=True)
    data = json.loads(text)
    assert code == 0
    assert data["devices"] == {"Registered": 1, "Enrolled": 1, "Blocked": 1}
    assert data["enrollment_certificates"] == 1
    assert [r["role"] for r in data["ca_roles"]] == list(ROLES)
    assert {a: h["status"] for a, h in data["health"].items()} == {"ra": "ok", "eca": "ok", "ma": "ok"}


def test_status_exits_1_and_names_an_unhealthy_authority(
    enrolled: Ee, aws_settings: Settings, transport: Transport
) -> None:
    boto3.client("dynamodb").delete_table(TableName=aws_settings.eca_table)
    code, text = _status(aws_settings, transport)
    assert code == 1
    assert _row(text, "eca", "Health")[1:3] == ["unavailable", "fail:"]
    assert "eca: health 503" in text


def test_status_without_a_hierarchy_exits_1_listing_the_missing_roles(aws_settings: Settings) -> None:
    code, text = _status(aws_settings, _no_http, url=None)
    assert code == 1, text
    assert "CA role root: no active certificate" in text
    assert _row(text, "total")[1] == "0"


def test_status_reports_an_unreachable_api(enrolled: Ee, aws_settings: Settings) -> None:
    def refused(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        raise ConnectionRefusedError(url)

    code, text = _status(aws_settings, refused)
    assert code == 1
    assert "ra: health endpoint unreachable (ConnectionRefusedError)" in text


def test_status_reports_unreadable_tables(aws_settings: Settings) -> None:
    boto3.client("dynamodb").delete_table(TableName=aws_settings.ra_table)
    code, text = _status(aws_settings, _no_http, url=None)
    assert code == 1
    assert "tables not readable" in text and "ResourceNotFoundException" in text


def test_status_is_a_registered_sub_command() -> None:
    args = build_parser().parse_args(["status", "--url", "http://x", "--endpoint", "http://y", "--json"])
    assert (args.command, args.url, args.endpoint, args.json) == ("status", "http://x", "http://y", True)


# --- Provisioning requests (issue #7 §2: the state of running batches, with a progress bar) ---


def _requests(settings: Settings) -> dict[str, bytes]:
    """Four provisioning requests in RaTable: GENERATING with 5 of 12 answered (one refused), ACCEPTED, DONE, FAILED."""
    store = DynamoDbAuthRequestStore.from_settings(settings)
    hashes = {name: bytes([n]) * 8 for n, name in enumerate(("generating", "accepted", "done", "failed"), 1)}
    statuses = {"generating": RequestStatus.GENERATING, "accepted": RequestStatus.ACCEPTED,
                "done": RequestStatus.DONE, "failed": RequestStatus.FAILED}  # fmt: skip
    for name, rh in hashes.items():
        # Periods 10..12, 4 certificates each: 12 expected.
        store.put(status_record(request_hash=rh, status=statuses[name], chain_id=bytes([len(name)]) * 16))
    issued = DynamoDbIssuedCertStore.from_settings(settings)
    rh = hashes["generating"]
    issued.put_many(
        [issued_cert(10, j, request=rh) for j in range(4)] + [issued_cert(11, 0, request=rh, refusal="400-35")]
    )
    issued.put_many([issued_cert(10, j, request=hashes["done"]) for j in range(4)])
    return hashes


def test_status_shows_provisioning_by_status_and_the_progress_of_running_requests(
    aws_settings: Settings, ca: Hierarchy
) -> None:
    # Given requests in every status, one GENERATING with 4 certificates and 1 refusal of 12,
    hashes = _requests(aws_settings)
    # When status prints to a pipe (no terminal),
    code, text = _status(aws_settings, _no_http, url=None)
    # Then the requests are counted by status,
    assert code == 0, text
    section = "Provisioning requests by status"
    assert [_row(text, s, section)[1] for s in ("ACCEPTED", "GENERATING", "DONE", "FAILED")] == ["1", "1", "1", "1"]
    # and each running request is one plain line with its progress (no bar), finished ones none.
    running = text.split("Running provisioning (certificates delivered / expected)\n", 1)[1].split("\n\n", 1)[0]
    assert running.splitlines() == [
        f"  {hashes['generating'].hex()}  GENERATING  unified  4/12, 1 refused",
        f"  {hashes['accepted'].hex()}  ACCEPTED  unified  0/12",
    ]
    assert "[" not in running
    # Nothing of a device's chain or keys is printed.
    assert (b"\x0a" * 16).hex() not in text and (b"\x02" * 33).hex() not in text


def test_status_draws_a_progress_bar_on_a_terminal_and_json_has_the_counts(
    aws_settings: Settings, ca: Hierarchy
) -> None:
    hashes = _requests(aws_settings)
    # On a terminal: a bar of the answered share (5 of 12 = 41 %).
    out = io.StringIO()
    dynamodb = boto3.client("dynamodb")
    store = DynamoDbCaStore.from_settings(aws_settings, client=dynamodb)
    execute(aws_settings, dynamodb, store, url=None, now=time32.now(), out=out, tty=True, transport=_no_http)
    line = next(x for x in out.getvalue().splitlines() if hashes["generating"].hex() in x)
    assert progress_bar(5, 12) in line and " 41%" in line and line.endswith("4/12, 1 refused")
    # JSON: the same numbers.
    _, text = _status(aws_settings, _no_http, url=None, json_output=True)
    provisioning = json.loads(text)["provisioning"]
    assert provisioning["by_status"] == {"ACCEPTED": 1, "GENERATING": 1, "DONE": 1, "FAILED": 1}
    generating = next(r for r in provisioning["running"] if r["request_hash"] == hashes["generating"].hex())
    assert (generating["delivered"], generating["refused"], generating["expected"]) == (4, 1, 12)


def test_progress_bar_is_full_only_when_every_certificate_is_answered() -> None:
    assert progress_bar(12, 12, width=4) == "[####] 100%"
    # Twin: one missing is not complete.
    assert progress_bar(11, 12, width=4) == "[###-]  91%"
    assert progress_bar(0, 0, width=4) == "[####] 100%"


def test_status_without_provisioning_lists_no_running_requests(aws_settings: Settings, ca: Hierarchy) -> None:
    code, text = _status(aws_settings, _no_http, url=None)
    assert code == 0, text
    assert _row(text, "GENERATING", "Provisioning requests by status")[1] == "0"
    assert "Running provisioning" not in text


# --- The internal functions: invoked with the health task event through moto Lambda ---


@pytest.fixture
def internal(aws_settings: Settings, ca: Hierarchy, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Every internal function behind moto Lambda under its logical id (as ``scms serve`` names them)."""
    handlers = health_handlers(aws_settings, monkeypatch)
    install_lambda_patch(handlers)
    try:
        create_functions(boto3.client("lambda"), boto3.client("iam"), dict.fromkeys(handlers, "x.handler"))
        yield handlers
    finally:
        uninstall_lambda_patch()


def test_status_invokes_every_internal_function_with_the_health_event(
    enrolled: Ee, aws_settings: Settings, transport: Transport, internal: dict[str, Any]
) -> None:
    assert set(INTERNAL_FUNCTIONS) == set(INTERNAL) and local_functions() == {f: f for f in INTERNAL}
    invoke = lambda_invoker(boto3.client("lambda"))
    code, text = _status(aws_settings, transport, functions=local_functions(), invoke=invoke)
    assert code == 0, text
    for authority, checks in INTERNAL.values():
        row = _row(text, authority, "Health")
        assert row[1:3] == ["ok", "ok"] and row[3] == ("ok" if "ca" in checks else "-"), row
    code, text = _status(aws_settings, transport, functions=local_functions(), invoke=invoke, json_output=True)
    health = json.loads(text)["health"]
    assert health["aca-lookup"]["function"] == "AcaLookupFunction" and health["la2-seed"]["status"] == "ok"


def test_status_exits_1_when_an_internal_function_is_unhealthy_or_not_invocable(
    enrolled: Ee, aws_settings: Settings, transport: Transport, internal: dict[str, Any]
) -> None:
    invoke = lambda_invoker(boto3.client("lambda"))
    boto3.client("dynamodb").delete_table(TableName=aws_settings.crl_table)
    code, text = _status(aws_settings, transport, functions=local_functions(), invoke=invoke)
    assert code == 1
    assert _row(text, "crlg", "Health")[1:3] == ["unavailable", "fail:"]
    assert "crlg: health unavailable" in text and _row(text, "aca", "Health")[1] == "ok"
    # A function that does not exist is reported by the Lambda error code, not as healthy.
    code, text = _status(aws_settings, transport, functions={"AcaFunction": "NoSuchFunction"}, invoke=invoke)
    assert code == 1 and "aca: AcaFunction not invocable (ResourceNotFoundException)" in text


class _StubLambda:
    """A Lambda client answering ``invoke`` with ``payload`` (and ``FunctionError`` when ``error``)."""

    def __init__(self, payload: bytes, error: bool) -> None:
        self.payload, self.error = payload, error
        self.events: list[bytes] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        self.events.append(Payload)
        answer: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(self.payload)}
        if self.error:
            answer["FunctionError"] = "Unhandled"
        return answer


def test_lambda_invoker_sends_the_health_event_and_reports_a_raised_error_by_its_type_only() -> None:
    ok = _StubLambda(b'{"status": "ok", "authority": "crlg"}', error=False)
    assert lambda_invoker(ok)("CrlgFunction") == {"status": "ok", "authority": "crlg"}
    assert [json.loads(e) for e in ok.events] == [{"health": True}]
    failed = _StubLambda(b'{"errorType": "InvalidTaskInput", "errorMessage": "chain 00ff"}', error=True)
    with pytest.raises(FunctionFailed) as raised:
        lambda_invoker(failed)("La1SeedFunction")
    assert str(raised.value) == "InvalidTaskInput"
