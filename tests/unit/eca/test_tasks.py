"""The ECA's successor task handler (functions/eca/tasks.py) on fakes: event in, response or refusal out."""

from __future__ import annotations

import base64
import copy
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from scms_eca.enroll import RequestInProgress
from scms_service.hierarchy import Hierarchy
from scms_service.lifecycle import DeviceState
from scms_service.stores.eca_requests import RequestStatus

from scms_codec.errors import ErrorCode
from scms_codec.spdu import parse_eca_ee_cert_response
from tests.events import load_event
from tests.unit.ra.test_successor import NOW, World, hierarchy, make_world  # noqa: F401

_TASKS = Path(__file__).resolve().parents[3] / "functions" / "eca" / "tasks.py"
RH = bytes.fromhex("0123456789abcdef")


def load_eca_tasks() -> ModuleType:
    """``functions/eca/tasks.py`` imported once as ``scms_eca_tasks`` (the RA has a ``tasks.py`` too)."""
    if "scms_eca_tasks" in sys.modules:
        return sys.modules["scms_eca_tasks"]
    spec = importlib.util.spec_from_file_location("scms_eca_tasks", _TASKS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scms_eca_tasks"] = module
    spec.loader.exec_module(module)
    return module


tasks = load_eca_tasks()


@pytest.fixture
def world(hierarchy: Hierarchy) -> World:  # noqa: F811
    return make_world(hierarchy)


def inner_request(world: World, **kwargs: Any) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    """The inner EeEcaCertRequestSpdu the RA forwards: self-signed by a new key, no canonicalId."""
    key = ec.generate_private_key(ec.SECP256R1())
    kwargs.setdefault("canonical_id", None)
    kwargs.setdefault("generation_time", NOW)
    return replace(world.holder.ee, enrollment=key).request(**kwargs), key


def event(world: World, inner: bytes, **overrides: Any) -> dict[str, Any]:
    """The RA's event (tests/events/eca_successor_task.json) for ``inner`` and the world's device."""
    out = load_event("eca_successor_task")
    assert sorted(out) == ["deviceId", "request", "requestHash"] and bytes.fromhex(out["requestHash"]) == RH
    out.update(request=base64.b64encode(inner).decode(), deviceId=world.holder.ee.device_id)
    out.update(overrides)
    return out


def answer(world: World, evt: Any, *, now: int = NOW) -> dict[str, Any]:
    result: dict[str, Any] = tasks.answer_successor(
        evt, now=now, settings=world.settings, devices=world.devices, requests=world.eca_requests, ca=world.hierarchy
    )
    return result


def test_successor_task_issues_for_the_new_key_under_the_outer_request_hash(world: World) -> None:
    # Given the RA's event for an inner request by a new key
    inner, key = inner_request(world)
    # When the task answers
    result = answer(world, event(world, inner))
    # Then it is {"response": base64}, an EcaEeCertResponseSpdu for the new key naming the OUTER hash
    assert set(result) == {"response"}
    content = parse_eca_ee_cert_response(base64.b64decode(result["response"])).content
    assert content.request_hash == RH and content.certificate.public_key() == key.public_key()
    record = world.eca_requests.get(RH)
    assert record is not None and record.status is RequestStatus.DONE
    # And a retry of the same event gets the same bytes (the claim is keyed by that hash)
    assert answer(world, event(world, inner)) == result
    # Twin: another outer hash is another request, another certificate.
    other = answer(world, event(world, inner_request(world)[0], requestHash="fedcba9876543210"))
    assert other["response"] != result["response"]


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        "text",
        {"requestHash": RH.hex(), "deviceId": "d"},  # no request
        {"request": 7, "requestHash": RH.hex(), "deviceId": "d"},
        {"request": "", "deviceId": "d"},  # no requestHash
        {"request": "", "requestHash": "0123", "deviceId": "d"},  # too short
        {"request": "", "requestHash": "zz23456789abcdef", "deviceId": "d"},
        {"request": "", "requestHash": RH.hex()},  # no deviceId
        {"request": "", "requestHash": RH.hex(), "deviceId": ""},
    ],
    ids=lambda v: repr(v)[:40],
)
def test_a_malformed_event_raises_invalid_task_input_and_writes_nothing(world: World, bad: Any) -> None:
    before = copy.deepcopy(world.eca_requests.__dict__)
    with pytest.raises(tasks.InvalidTaskInput):
        answer(world, bad)
    assert world.eca_requests.__dict__ == before


def test_a_request_that_is_not_base64_or_not_parsable_is_refused_400_42(world: World) -> None:
    before = copy.deepcopy(world.eca_requests.__dict__)
    for evt in (event(world, b"", request="not base64!"), event(world, b"\x03\x81\x00")):
        assert answer(world, evt) == {"refusal": ErrorCode.FAILED_PARSING.value}
    assert world.eca_requests.__dict__ == before
    # Twin: the same event shape with a real request is answered.
    assert "response" in answer(world, event(world, inner_request(world)[0]))


def test_the_device_is_read_by_the_eca_unknown_deleted_and_blocked_are_refused(world: World) -> None:
    inner, _ = inner_request(world)
    assert answer(world, event(world, inner, deviceId="nobody")) == {
        "refusal": ErrorCode.ENROLLMENT_CERT_UNREGISTERED.value
    }
    device = world.device()
    world.devices.transition(device.device_id, DeviceState.BLOCKED, expected=device.state, cause="op", actor="op",
                             now_unix=1)  # fmt: skip
    assert answer(world, event(world, inner)) == {"refusal": ErrorCode.ENROLLMENT_CERT_BLOCKED.value}
    assert world.eca_requests.get(RH) is None
    # Twin: unblocked, the same event is issued.
    world.devices.transition(device.device_id, device.state, expected=DeviceState.BLOCKED, cause="op", actor="op",
                             now_unix=2, unblocking=True)  # fmt: skip
    assert "response" in answer(world, event(world, inner))


def test_the_ecas_own_refusals_are_returned_by_code(world: World) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with_canonical = replace(world.holder.ee, enrollment=key).request(canonical_id=True, sign_with=key)
    assert answer(world, event(world, with_canonical)) == {"refusal": ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED.value}
    future, _ = inner_request(world, generation_time=NOW + 600)
    assert answer(world, event(world, future)) == {"refusal": ErrorCode.GENERATION_TIME_IN_FUTURE.value}
    assert world.eca_requests.get(RH) is None
    # Twin: without canonicalId and on time, it is issued.
    assert "response" in answer(world, event(world, inner_request(world)[0]))


def test_a_claim_held_by_another_attempt_raises_request_in_progress(world: World) -> None:
    # Given an attempt that claimed the request and has not finished (within the claim's lease)
    inner, _ = inner_request(world)
    original = world.eca_requests.record_issued

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("crashed before storing the response")

    world.eca_requests.record_issued = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        answer(world, event(world, inner))
    world.eca_requests.record_issued = original  # type: ignore[method-assign]
    # Then a retry raises (error name RequestInProgress: the RA answers 409)
    with pytest.raises(RequestInProgress):
        answer(world, event(world, inner), now=NOW + 1)
    # Twin: after the lease, the retry takes the claim over and issues.
    assert "response" in answer(world, event(world, inner), now=NOW + world.settings.eca_claim_lease + 1)
