# ruff: noqa: F811  (the ECA fixtures are imported by name; test parameters name them again)
"""``scms status`` against moto's tables and the RA/ECA apps in-process (their health routes)."""

from __future__ import annotations

import io
import json
import urllib.parse
from collections.abc import Iterator
from types import ModuleType

import boto3
import pytest
from chalice.test import Client
from scms_service.config import Settings
from scms_service.hierarchy import ROLES, Hierarchy
from scms_service.lifecycle import DeviceState
from scms_service.stores.ca import DynamoDbCaStore
from scms_service.stores.devices import DynamoDeviceStore

from scms_cli.device_cmd import Transport
from scms_cli.main import build_parser
from scms_cli.status_cmd import execute
from scms_codec import time32
from tests.functional.ra_app import ra_fixture  # noqa: F401 (the "ra" fixture)
from tests.functional.test_eca_enroll import ca, eca, ee, now, post  # noqa: F401 (fixtures: ca eca ee now)
from tests.unit.eca.ee import Ee

URL = "http://scms.test"


@pytest.fixture
def transport(ra: ModuleType, eca: ModuleType) -> Iterator[Transport]:
    """HTTP onto the two apps in-process: /ra/... to the RA, /eca/... to the ECA."""
    with Client(ra.app) as ra_client, Client(eca.app) as eca_client:

        def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
            path = urllib.parse.urlsplit(url).path
            client = eca_client if path.startswith("/eca/") else ra_client
            response = client.http.request(method, path, headers=headers, body=body or b"")
            return response.status_code, response.body

        yield send


def _status(
    settings: Settings, transport: Transport, *, url: str | None = URL, json_output: bool = False
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
    assert {a: h["status"] for a, h in data["health"].items()} == {"ra": "ok", "eca": "ok"}


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
