"""``scms_service.health.answers_health``: the ``{"health": true}`` task event of the internal functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from scms_service.config import load_settings
from scms_service.health import HEALTH_EVENT, Check, answers_health, ca_query_check, is_health_event
from scms_service.hierarchy import init_hierarchy
from scms_service.observability import VERSION
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault


class InvalidTaskInput(ValueError):
    pass


def _ok() -> None:
    return None


def _throttled() -> None:
    raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "secret-ish"}}, "GetItem")


def _plain(event: Any, context: Any) -> Any:
    return "task"


def _task(checks: Mapping[str, Check], calls: list[Any]) -> Any:
    @answers_health("aca", lambda: checks)
    def task(event: Any, context: Any) -> dict[str, Any]:
        calls.append(event)
        if not isinstance(event, dict) or "requests" not in event:
            raise InvalidTaskInput("event: expected requests")
        return {"answered": len(event["requests"])}

    return task


def test_the_health_event_is_answered_with_the_health_json_and_never_reaches_the_task() -> None:
    calls: list[Any] = []
    answer = _task({"table": _ok, "ca": _ok}, calls)(dict(HEALTH_EVENT), None)
    assert answer == {"status": "ok", "authority": "aca", "version": VERSION, "checks": {"table": "ok", "ca": "ok"}}
    assert calls == []


def test_one_failing_check_makes_the_answer_unavailable_naming_only_its_error_code() -> None:
    calls: list[Any] = []
    answer = _task({"table": _throttled, "ca": _ok}, calls)({"health": True}, None)
    assert answer["status"] == "unavailable"
    assert answer["checks"] == {"table": "fail: ProvisionedThroughputExceededException", "ca": "ok"}
    assert "secret-ish" not in repr(answer) and calls == []


def test_checks_that_cannot_be_built_are_reported_not_raised() -> None:
    def broken() -> Mapping[str, Check]:
        raise KeyError("no such LA")

    answer = answers_health("la1", broken)(_plain)({"health": True}, None)
    assert answer["status"] == "unavailable" and answer["checks"] == {"setup": "fail: KeyError"}
    # Twin: the normal event still reaches the task.
    assert answers_health("la1", broken)(_plain)({"chainId": "00"}, None) == "task"


def test_the_normal_event_still_reaches_the_task_unchanged() -> None:
    calls: list[Any] = []
    task = _task({"table": _throttled}, calls)
    assert task({"requests": ["a", "b"]}, None) == {"answered": 2}
    assert calls == [{"requests": ["a", "b"]}]


@pytest.mark.parametrize(
    "event",
    [{"health": 1}, {"health": "true"}, {"health": False}, {"health": True, "task": "plan"}, ["health"], None, {}],
)
def test_anything_but_exactly_the_health_event_reaches_the_task_and_its_own_checks(event: Any) -> None:
    calls: list[Any] = []
    assert not is_health_event(event)
    with pytest.raises(InvalidTaskInput):
        _task({"table": _ok}, calls)(event, None)
    assert calls == [event]


def test_the_authority_may_be_named_when_the_event_arrives() -> None:
    names = iter(["la2"])
    answer = answers_health(lambda: next(names), lambda: {})(_plain)({"health": True}, None)
    assert answer["authority"] == "la2" and answer["status"] == "ok"


@pytest.fixture(scope="module")
def ca_store() -> InMemoryCaStore:
    store = InMemoryCaStore()
    init_hierarchy(load_settings({}), store, InMemoryKeyVault(), InMemoryArtifacts(), now=700_000_000)
    return store


def test_ca_query_check_passes_for_the_active_certificate_and_fails_for_a_mismatch_or_none(
    ca_store: InMemoryCaStore,
) -> None:
    ca_query_check(ca_store, "aca")()
    with pytest.raises(LookupError):
        ca_query_check(InMemoryCaStore(), "aca")()
    # Twin: a record whose octets are not the certificate of its HashedId8 fails.
    record = ca_store.records("aca")[-1]
    tampered = InMemoryCaStore()
    tampered.create(replace(record, certificate=ca_store.records("crlg")[-1].certificate))
    with pytest.raises(ValueError, match="does not match"):
        ca_query_check(tampered, "aca")()
