"""The ``{"health": true}`` task event of the internal functions, on moto (docs/architecture.md "Observability").

Each template function without a route is loaded as the local stack loads it (``load_handler``) and
asked for its health; the answer is the HTTP health JSON. ``tests/functional/test_iam.py`` records the
calls these answers make against each function's role.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from scms_service.config import Settings
from scms_service.hierarchy import init_hierarchy
from scms_service.observability import VERSION
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault

from scms_cli.local.gateway import LambdaContext, load_handler
from scms_cli.local.template import functions
from scms_codec import time32

Handler = Callable[[Any, Any], Any]

# Internal function → (authority its answer names, the checks it runs).
INTERNAL: dict[str, tuple[str, tuple[str, ...]]] = {
    "AcaFunction": ("aca", ("table", "ca")),
    "AcaLookupFunction": ("aca-lookup", ("table",)),
    "La1Function": ("la1", ("table",)),
    "La2Function": ("la2", ("table",)),
    "La1SeedFunction": ("la1-seed", ("table",)),
    "La2SeedFunction": ("la2-seed", ("table",)),
    "CrlgFunction": ("crlg", ("table", "ca")),
    "RaBatchFunction": ("ra-batch", ("table", "ca")),
    "EcaTaskFunction": ("eca-task", ("table", "ca")),
}


def health_handlers(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, Handler]:
    """Every internal function's handler, loaded from the template under its environment and ``settings``."""
    specs = {s.logical_id: s for s in functions() if s.logical_id in INTERNAL}
    assert set(specs) == set(INTERNAL), "the template's internal functions changed"
    handlers: dict[str, Handler] = {}
    for logical_id, spec in specs.items():
        # Its own variables (the LA id, the service name); the tables are the test's.
        env = {k: str(v) for k, v in spec.environment.items() if not k.endswith("_TABLE")}
        env.update({"SCMS_LA1_TABLE": settings.la1_table, "SCMS_LA2_TABLE": settings.la2_table})
        handler = load_handler(spec, env)
        module = sys.modules[handler.__module__]
        if hasattr(module, "settings"):  # read on first use: this test's settings
            monkeypatch.setattr(module, "settings", lambda: settings)
        handlers[logical_id] = handler
    return handlers


@pytest.fixture
def deployed(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, dict[str, Handler]]]:
    init_hierarchy(
        aws_settings,
        DynamoDbCaStore.from_settings(aws_settings),
        SecretsManagerKeyVault.from_settings(aws_settings),
        S3Artifacts.from_settings(aws_settings),
        now=time32.now() - 3600,
    )
    yield aws_settings, health_handlers(aws_settings, monkeypatch)


def ask(handler: Handler) -> dict[str, Any]:
    answer: dict[str, Any] = handler({"health": True}, LambdaContext(function_name="health"))
    return answer


def test_every_internal_function_answers_the_health_event_healthy(
    deployed: tuple[Settings, dict[str, Handler]],
) -> None:
    _, handlers = deployed
    for logical_id, (authority, checks) in INTERNAL.items():
        answer = ask(handlers[logical_id])
        assert answer == {
            "status": "ok",
            "authority": authority,
            "version": VERSION,
            "checks": dict.fromkeys(checks, "ok"),
        }, logical_id


def test_a_missing_table_or_ca_certificate_is_reported_by_its_error_code_only(
    deployed: tuple[Settings, dict[str, Handler]],
) -> None:
    settings, handlers = deployed
    client = boto3.client("dynamodb")
    client.delete_table(TableName=settings.aca_table)
    for logical_id in ("AcaFunction", "AcaLookupFunction"):
        answer = ask(handlers[logical_id])
        assert answer["status"] == "unavailable"
        assert answer["checks"]["table"] == "fail: ResourceNotFoundException", logical_id
    assert ask(handlers["AcaFunction"])["checks"]["ca"] == "ok"
    # The CA check: CaTable gone, every function that checks its certificate fails on it (and only on it).
    client.delete_table(TableName=settings.ca_table)
    answer = ask(handlers["CrlgFunction"])
    assert answer["checks"] == {"table": "ok", "ca": "fail: ResourceNotFoundException"}
    # Twin: the functions that read neither table stay healthy.
    assert ask(handlers["La1SeedFunction"])["status"] == "ok"


def test_the_normal_task_events_still_reach_the_handlers(deployed: tuple[Settings, dict[str, Handler]]) -> None:
    _, handlers = deployed
    # A malformed event is refused by each task as before (its own InvalidTaskInput), not answered as health.
    for logical_id, event in (
        ("AcaFunction", {"health": "yes"}),
        ("CrlgFunction", {"health": True, "force": True}),
        ("RaBatchFunction", {"health": False}),
        ("EcaTaskFunction", {"health": 1}),
    ):
        with pytest.raises(Exception) as raised:
            handlers[logical_id](event, LambdaContext(function_name="health"))
        assert type(raised.value).__name__ == "InvalidTaskInput", logical_id
    # Twin: a well-formed normal event gets the task's own answer.
    assert handlers["AcaLookupFunction"]({"certIds": ["00" * 8]}, None) == {"found": [], "missing": ["00" * 8]}
