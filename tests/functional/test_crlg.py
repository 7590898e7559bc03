"""The CRL generator's task on moto: publish_task end to end over CrlTable, CaTable, Secrets Manager and S3."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from scms_crlg.publish import crl_key, latest_crl_key, publish
from scms_crlg.wiring import CrlgServices
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.iperiod import IPeriods
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.crl_entries import CrlRecord, DynamoDbCrlEntryStore, HashedEntry, LinkedEntry

from scms_codec import time32
from scms_codec.crl_check import hash_crl_revokes, linked_crl_revokes
from scms_codec.crypto import linkage
from scms_codec.spdu.crl import parse_secured_crl
from tests.support.aws import aws_settings  # noqa: F401
from tests.support.task_logs import captured

HANDLERS = Path(__file__).resolve().parents[2] / "functions/crlg/handlers.py"
LA1, LA2 = b"\x00\x01", b"\x00\x02"


def load_crlg_handlers() -> ModuleType:
    """``functions/crlg/handlers.py`` imported once under ``scms_crlg_handlers`` (as the local stack does)."""
    if "scms_crlg_handlers" in sys.modules:
        return sys.modules["scms_crlg_handlers"]
    spec = importlib.util.spec_from_file_location("scms_crlg_handlers", HANDLERS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scms_crlg_handlers"] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Deployed:
    settings: Settings
    hierarchy: Hierarchy
    handlers: ModuleType

    def object(self, key: str) -> bytes:
        body: bytes = boto3.client("s3").get_object(Bucket=self.settings.artifacts_bucket, Key=key)["Body"].read()
        return body


@pytest.fixture
def deployed(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:  # noqa: F811
    now = time32.now()
    ca, _ = init_hierarchy(
        aws_settings, DynamoDbCaStore.from_settings(aws_settings), SecretsManagerKeyVault.from_settings(aws_settings),
        S3Artifacts.from_settings(aws_settings), now=now - 3600,
    )  # fmt: skip
    handlers = load_crlg_handlers()
    monkeypatch.setattr(handlers, "settings", lambda: aws_settings)
    handlers._services.cache_clear()
    yield Deployed(aws_settings, ca, handlers)
    handlers._services.cache_clear()


def test_publish_task_issues_both_crls_to_s3_and_the_table(deployed: Deployed) -> None:
    settings, now = deployed.settings, time32.now()
    i = IPeriods.from_settings(settings).i_at(now)
    seeds = linkage.initial_seed(), linkage.initial_seed()
    store = DynamoDbCrlEntryStore.from_settings(settings)
    store.add_linked([LinkedEntry(LA1, LA2, seeds[0], seeds[1], i, 20, i + 3, "rev", now)])
    store.add_hashed([HashedEntry(b"\x05" * 10, now + 86_400, "rev")])

    result = deployed.handlers.publish_task({"force": False}, None)

    craca = deployed.hierarchy.certificate("root").hashed_id8
    assert [(c["craca"], c["series"], c["crlSerial"], c["changed"]) for c in result["crls"]] == [
        (craca.hex(), settings.crl_series, 1, True), (craca.hex(), settings.crl_hash_series, 1, True)]  # fmt: skip
    linked = parse_secured_crl(deployed.object(latest_crl_key(craca, settings.crl_series)))
    assert linked.signer == deployed.hierarchy.certificate("crlg")
    lv = linkage.linkage_value(linkage.pre_linkage_value(LA1, seeds[0], 7), linkage.pre_linkage_value(LA2, seeds[1], 7))
    assert linked_crl_revokes(linked.content, lv, i)
    assert not linked_crl_revokes(linked.content, bytes(9), i)
    hashed_octets = deployed.object(latest_crl_key(craca, settings.crl_hash_series))
    hashed = parse_secured_crl(hashed_octets)
    assert hash_crl_revokes(hashed.content, b"\x05" * 10) and not hash_crl_revokes(hashed.content, b"\x06" * 10)
    records = store.latest_all()
    linked_octets = deployed.object(latest_crl_key(craca, settings.crl_series))
    assert sorted((r.series, r.crl_serial, r.s3_key) for r in records) == [
        (settings.crl_series, 1, crl_key(craca, settings.crl_series, 1, linked_octets)),
        (settings.crl_hash_series, 1, crl_key(craca, settings.crl_hash_series, 1, hashed_octets)),
    ]
    assert all(deployed.object(r.s3_key) == deployed.object(latest_crl_key(craca, r.series)) for r in records)


def test_publish_task_again_changes_nothing_unless_forced(deployed: Deployed) -> None:
    first = deployed.handlers.publish_task({}, None)
    again = deployed.handlers.publish_task({"force": False}, None)
    assert [c["changed"] for c in again["crls"]] == [False, False]
    assert [c["crlSerial"] for c in again["crls"]] == [c["crlSerial"] for c in first["crls"]]
    forced = deployed.handlers.publish_task({"force": True}, None)
    assert [(c["crlSerial"], c["changed"]) for c in forced["crls"]] == [(2, True), (2, True)]


@pytest.mark.parametrize("event", [{"force": "yes"}, {"force": 1}, {"force": False, "extra": 1}, [], "force"])
def test_publish_task_refuses_a_malformed_event(deployed: Deployed, event: Any) -> None:
    with pytest.raises(deployed.handlers.InvalidTaskInput):
        deployed.handlers.publish_task(event, None)
    assert DynamoDbCrlEntryStore.from_settings(deployed.settings).latest_all() == []


def test_a_concurrent_publish_of_the_same_serial_keeps_the_first(deployed: Deployed) -> None:
    settings = deployed.settings
    services = CrlgServices.from_settings(settings)
    now = time32.now()
    publish(settings, store=services.store, artifacts=services.artifacts, crlg=services.crlg, now=now)

    class Stale(DynamoDbCrlEntryStore):
        """Reads the state before the first publish once, as a publisher racing it would."""

        calls = 0

        def latest(self, craca: bytes, series: int) -> CrlRecord | None:
            Stale.calls += 1
            return None if Stale.calls <= 1 else super().latest(craca, series)

    stale = Stale.from_settings(settings)
    out = publish(settings, store=stale, artifacts=services.artifacts, crlg=services.crlg, now=now + 5, force=True)
    assert [(c.crl_serial, c.changed) for c in out] == [(1, False), (2, True)]
    latest = services.store.latest(services.crlg.craca, settings.crl_series)
    assert latest is not None and (latest.crl_serial, latest.issue_date) == (1, now)
    # The loser's CRL (issued at now + 5) overwrote neither the winner's object nor the latest copy.
    assert parse_secured_crl(deployed.object(latest.s3_key)).content.issue_date == now
    assert deployed.object(latest_crl_key(services.crlg.craca, settings.crl_series)) == deployed.object(latest.s3_key)


def test_publish_task_logs_the_mas_revocation_id_as_correlation_id(deployed: Deployed) -> None:
    # Given the MA's revocation id in the event, the task's log line carries it as correlation id;
    with captured(deployed.handlers.logger) as logs:
        deployed.handlers.publish_task({"force": False, "correlationId": "5e" * 8}, None)
    assert [line.get("correlation_id") for line in logs.lines("CRLs published")] == ["5e" * 8]
    # the twin: an event without one (the hourly schedule) logs none.
    with captured(deployed.handlers.logger) as logs:
        deployed.handlers.publish_task({}, None)
    assert [line.get("correlation_id") for line in logs.lines("CRLs published")] == [None]
