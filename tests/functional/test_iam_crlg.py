"""Least privilege of CrlgFunction against the AWS calls publish_task really makes (helpers of test_iam)."""

from __future__ import annotations

import json

import pytest
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy
from scms_service.stores.crl_entries import DynamoDbCrlEntryStore, HashedEntry, LinkedEntry

from scms_cli.local.template import load_template
from scms_codec import time32
from tests.functional.test_crlg import load_crlg_handlers
from tests.functional.test_iam import CallRecorder, Grant, _table_arn, allowed, deployed, granted  # noqa: F401
from tests.support.aws import aws_settings  # noqa: F401


def _crlg_calls(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> set[Grant]:
    """Every call of the CRL generator: a first publish, an unchanged one, a forced one."""
    now = time32.now()
    store = DynamoDbCrlEntryStore.from_settings(settings)
    store.add_linked([LinkedEntry(b"\x00\x01", b"\x00\x02", bytes(16), bytes(range(16)), 0, 20, 0xFFFF, "r", now)])
    store.add_hashed([HashedEntry(b"\x01" * 10, now + 3600, "r")])
    handlers = load_crlg_handlers()
    monkeypatch.setattr(handlers, "settings", lambda: settings)
    handlers._services.cache_clear()
    recorder = CallRecorder()
    try:
        assert [c["changed"] for c in handlers.publish_task({"force": False}, None)["crls"]] == [True, True]
        assert [c["changed"] for c in handlers.publish_task({"force": False}, None)["crls"]] == [False, False]
        assert [c["changed"] for c in handlers.publish_task({"force": True}, None)["crls"]] == [True, True]
    finally:
        handlers._services.cache_clear()
    return recorder.calls


def test_the_crlg_role_allows_every_call_the_crl_generator_makes_and_nothing_more(
    deployed: tuple[Settings, Hierarchy],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, _ = deployed
    calls = _crlg_calls(settings, monkeypatch)
    grants = granted("CrlgFunction")
    missing = sorted(c for c in calls if not allowed(c, grants))
    unused = sorted(g for g in grants if not any(allowed(c, {g}) for c in calls) and not g[0].startswith("kms:"))
    assert calls and not missing, f"CrlgFunction's role lacks: {missing}"
    assert not unused, f"CrlgFunction's role grants what the CRL generator never calls: {unused}"
    # Only its own key, and only crl/* objects.
    secrets = {c[1] for c in calls if c[0] == "secretsmanager:GetSecretValue"}
    assert secrets and all("/ca/crlg/" in s for s in secrets)
    assert all("/crl/" in c[1] for c in calls if c[0] == "s3:PutObject")
    # Twin: without its S3 statement the CRL objects are not allowed.
    template = json.loads(json.dumps(load_template()))
    statements = template["Resources"]["CrlgFunction"]["Properties"]["Policies"][0]["Statement"]
    statements[:] = [s for s in statements if s["Sid"] != "CrlArtifactsWrite"]
    assert any(c[0] == "s3:PutObject" and not allowed(c, granted("CrlgFunction", template)) for c in calls)
