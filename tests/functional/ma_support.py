"""Helpers for tests that reach the MA through a stack: a valid misbehaviour report, a stored report."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from scms_ma.revoke import Authorities
from scms_ma.wiring import Services, from_settings
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy
from scms_service.stores.ma_records import DynamoDbMaRecordStore, ReportExists, ReportRecord

from scms_codec.spdu.misbehavior import build_misbehavior_report
from tests.unit.ma.conftest import evidence, pseudonym


def misbehavior_report(hierarchy: Hierarchy, *, now: int) -> bytes:
    """A fresh report (new reporter and suspect pseudonyms under the hierarchy's ACA) generated at ``now``."""
    aca = hierarchy.signer("aca")
    reporter, suspect = pseudonym(aca, start=now - 3600), pseudonym(aca, start=now - 3600)
    return build_misbehavior_report(
        evidence(suspect, at=now - 5), reporter, hierarchy.certificate("ma"), generation_time=now
    )


def store_report(settings: Settings, report_id: str, *, suspect_cert: bytes, now: int) -> None:
    """A report stored directly in MaTable under ``report_id`` (once; a second call changes nothing)."""
    record = ReportRecord(report_id, now, suspect_cert, "00" * 8, b"\x03\x81", 32, "11" * 8, report_id)
    try:
        DynamoDbMaRecordStore.from_settings(settings).put_report(record)
    except ReportExists:
        pass


_MA_APP = Path(__file__).resolve().parents[2] / "functions" / "ma" / "app.py"


def load_ma_app(name: str = "scms_ma_app") -> ModuleType:
    """``functions/ma/app.py`` imported once under module ``name`` (as the local gateway loads it)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _MA_APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def ma_services(settings: Settings, hierarchy: Hierarchy, authorities: Authorities, **changes: Any) -> Services:
    """The MA's production wiring on moto (MaTable, the API key secret), with ``authorities`` as its callees."""
    services = from_settings(settings)
    return replace(services, **{"keys": hierarchy, "authorities": authorities, **changes})
