"""``scms revoke`` / ``scms reports``: the CLI against the MA app in-process (fake store and callees)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from chalice.test import Client
from scms_ma.wiring import Services
from scms_service.auth import ApiKeyCheck, key_digest
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy
from scms_service.stores.ma_records import FakeMaRecordStore, ReportRecord

from scms_cli.device_cmd import Transport
from scms_cli.main import build_parser
from tests.functional.ma_support import load_ma_app
from tests.unit.ma.conftest import NOW, pseudonym
from tests.unit.ma.fakes import FakeAuthorities, device

KEY = "cli-key"


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch, hierarchy: Hierarchy
) -> Iterator[tuple[Transport, FakeAuthorities, FakeMaRecordStore]]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    app: ModuleType = load_ma_app()
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    app.configure(Services(Settings(), records, ApiKeyCheck(lambda: key_digest(KEY)), hierarchy, fake.authorities()))
    with Client(app.app) as client:

        def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
            parts = urllib.parse.urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            response = client.http.request(method, path, headers=headers, body=body or b"")
            return response.status_code, response.body

        yield send, fake, records
    app.configure(None)


def _cli(transport: Transport, *argv: str, key: str = KEY) -> int:
    args = build_parser().parse_args([argv[0], "--api-key", key, "--url", "http://ma.test", *argv[1:]])
    result: int = args.func(args, transport)
    return result


def test_revoke_device_prints_the_revocation_and_again_says_made_before(
    world: tuple[Transport, FakeAuthorities, FakeMaRecordStore], capsys: pytest.CaptureFixture[str]
) -> None:
    transport, fake, _ = world
    fake.devices["device:obu-7"] = device(chains=2)
    assert _cli(transport, "revoke", "--device", "obu-7", "--cause", "spoofing") == 0
    out = capsys.readouterr().out
    assert "device obu-7" in out and "linked entries: 2, hash entries: 1" in out and "made before" not in out
    assert _cli(transport, "revoke", "--device", "obu-7", "--cause", "spoofing", "--json") == 0
    again = json.loads(capsys.readouterr().out)
    assert again["linked_entries"] == 2 and fake.names().count("ra") == 1


def test_revoke_unknown_device_exits_1_with_the_message(
    world: tuple[Transport, FakeAuthorities, FakeMaRecordStore], capsys: pytest.CaptureFixture[str]
) -> None:
    transport, _, _ = world
    assert _cli(transport, "revoke", "--device", "nobody", "--cause", "x") == 1
    assert "refused (404)" in capsys.readouterr().err


def test_revoke_by_certificate_file_sends_its_hex(
    world: tuple[Transport, FakeAuthorities, FakeMaRecordStore],
    hierarchy: Hierarchy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    transport, fake, _ = world
    suspect = pseudonym(hierarchy.signer("aca"))
    assert suspect.certificate is not None
    fake.issued[suspect.certificate.hashed_id8.hex()] = "77" * 8
    fake.devices["acaRequest:" + "77" * 8] = device()
    cert_file = tmp_path / "pseudonym.oer"
    cert_file.write_bytes(suspect.certificate.encoded)
    assert _cli(transport, "revoke", "--certificate", str(cert_file), "--cause", "x") == 0
    assert fake.calls[0][0] == "aca" and fake.calls[0][1]["certIds"] == [suspect.certificate.hashed_id8.hex()]
    # Twin: a missing file is a usage error, nothing sent
    assert _cli(transport, "revoke", "--certificate", str(tmp_path / "none.oer"), "--cause", "x") == 2
    assert "cannot read" in capsys.readouterr().err and len(fake.calls) == 5


def test_revoke_needs_exactly_one_target_and_a_key(
    world: tuple[Transport, FakeAuthorities, FakeMaRecordStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    transport, fake, _ = world
    with pytest.raises(SystemExit):
        build_parser().parse_args(["revoke", "--device", "a", "--report", "b", "--cause", "c"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["revoke", "--device", "a"])
    monkeypatch.delenv("SCMS_API_KEY", raising=False)
    args = build_parser().parse_args(["revoke", "--device", "a", "--cause", "c"])
    assert args.func(args, transport) == 2 and fake.calls == []
    assert _cli(transport, "revoke", "--device", "a", "--cause", "c", key="wrong") == 1


def test_reports_lists_shows_and_lists_revocations(
    world: tuple[Transport, FakeAuthorities, FakeMaRecordStore], capsys: pytest.CaptureFixture[str]
) -> None:
    transport, _, records = world
    for n in range(3):
        records.put_report(ReportRecord(f"{n:016x}", NOW, b"\x01", "ab" * 8, b"\x02", 32, "cd" * 8, f"{n + 9:016x}"))
    assert _cli(transport, "reports", "--limit", "2", "--all") == 0
    out = capsys.readouterr().out
    assert all(f"{n:016x}" in out for n in range(3)) and "NEW" in out
    assert _cli(transport, "reports", "--status", "REVOKED", "--json") == 0
    assert json.loads(capsys.readouterr().out)["reports"] == []
    assert _cli(transport, "reports", "show", f"{1:016x}", "--json") == 0
    assert json.loads(capsys.readouterr().out)["evidence"] == "02"
    assert _cli(transport, "reports", "show", "ffffffffffffffff") == 1
    assert _cli(transport, "reports", "revocations") == 0
    assert "(no revocations)" in capsys.readouterr().out
