"""``scms device``: the CLI against the RA app in-process (fake store), printing JSON or a table."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from types import ModuleType

import pytest
from chalice.test import Client
from scms_ra.wiring import Services
from scms_service.auth import ApiKeyCheck, key_digest
from scms_service.config import Settings
from scms_service.stores.ca import InMemoryCaStore
from scms_service.stores.devices import InMemoryDeviceStore

from scms_cli.device_cmd import Transport, run
from scms_cli.main import build_parser
from tests.functional.ra_app import load_ra_app

KEY = "cli-key"
G = "036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"


@pytest.fixture
def transport(monkeypatch: pytest.MonkeyPatch) -> Iterator[Transport]:
    # The app runs in this process: its EMF metrics (stdout, as in Lambda) would mix with the CLI's output.
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    app: ModuleType = load_ra_app()
    app.configure(
        Services(
            Settings(),
            InMemoryDeviceStore(),
            ApiKeyCheck(lambda: key_digest(KEY)),
            InMemoryCaStore(),
            clock=lambda: 1_700_000_000,
        )
    )
    with Client(app.app) as client:

        def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
            parts = urllib.parse.urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            response = client.http.request(method, path, headers=headers, body=body or b"")
            return response.status_code, response.body

        yield send
    app.configure(None)


def _cli(transport: Transport, *argv: str, key: str = KEY) -> int:
    args = build_parser().parse_args(["device", "--api-key", key, "--url", "http://ra.test", *argv])
    return run(args, transport)


def test_register_then_show_prints_json(transport: Transport, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        _cli(
            transport,
            "--json",
            "register",
            "obu-7",
            "--public-key",
            G,
            "--psid",
            "32",
            "--psid",
            "35:0001",
            "--country",
            "840",
        )
        == 0
    )
    capsys.readouterr()
    assert _cli(transport, "--json", "show", "obu-7") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["state"] == "Registered"
    assert shown["permissions"] == [{"psid": 32}, {"psid": 35, "ssp": "0001"}]


def test_block_unblock_delete_and_list_table(transport: Transport, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(transport, "register", "obu-7", "--public-key", G) == 0
    assert _cli(transport, "block", "obu-7", "--cause", "MA") == 0
    assert _cli(transport, "unblock", "obu-7", "--cause", "ok") == 0
    assert _cli(transport, "delete", "obu-7") == 0
    capsys.readouterr()
    assert _cli(transport, "list") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["DEVICE", "STATE", "VERSION"]
    assert table[1].split()[:3] == ["obu-7", "Deleted", "4"]


def test_refusal_exits_1_with_the_server_message(transport: Transport, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(transport, "register", "obu-7", "--public-key", "02" + "ff" * 32) == 1
    assert "canonical_public_key:" in capsys.readouterr().err


def test_wrong_key_exits_1(transport: Transport, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(transport, "list", key="nope") == 1
    assert "403" in capsys.readouterr().err


def test_missing_key_exits_2(transport: Transport, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCMS_API_KEY", raising=False)
    args = build_parser().parse_args(["device", "--url", "http://ra.test", "list"])
    assert run(args, transport) == 2


def test_key_from_environment_is_used(transport: Transport, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCMS_API_KEY", KEY)
    args = build_parser().parse_args(["device", "--url", "http://ra.test", "list"])
    assert run(args, transport) == 0
