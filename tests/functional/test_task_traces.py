"""Powertools Tracer on the Lambda task functions (issue #7 §2): each handler and its use case is a subsegment,
and no secret (chain id, PLV, certificate response) reaches a trace.

The tasks run for real on moto (the RA's ``plan``, the ACA's ``issue_task``, an LA's ``plv_task``, the
ECA's ``successor_task``) with each module's tracer given a recording provider in place of X-Ray's.
Every trace is then scanned for the secrets of the answers; the twin shows the scan finds them when a
use case is traced with Powertools' defaults (which record the answer as metadata).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from scms_service import observability

from scms_cli.local.gateway import LambdaContext
from scms_codec.errors import ErrorCode
from tests.functional.test_la import EVENT as LA_EVENT
from tests.functional.test_la import load_la
from tests.functional.test_ra_batch_tasks import Stack, _accepted, _run, stack  # noqa: F401 (fixture)
from tests.unit.aca.simulator import Ra
from tests.unit.eca.test_tasks import load_eca_tasks


@dataclass
class Subsegment:
    """What one subsegment received: its name, annotations, metadata and the class of a failure."""

    name: str
    annotations: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.metadata[f"{namespace}/{key}"] = value


@dataclass
class RecordingProvider:
    """Stands in for the X-Ray recorder: records every subsegment opened through it."""

    subsegments: list[Subsegment] = field(default_factory=list)

    @contextmanager
    def in_subsegment(self, name: str | None = None, **_kwargs: Any) -> Iterator[Subsegment]:
        recorded = Subsegment(str(name))
        self.subsegments.append(recorded)
        try:
            yield recorded
        except Exception as exc:
            recorded.error = type(exc).__name__  # X-Ray marks the subsegment failed with the exception
            raise

    @property
    def names(self) -> list[str]:
        """Subsegment names, a method's module path cut off (Powertools names it ``## <module>.<name>``)."""
        return [s.name if s.name.count(".") == 0 else "## " + s.name.rsplit(".", 1)[1] for s in self.subsegments]

    def text(self) -> str:
        """Everything the trace holds, serialized as the X-Ray SDK sends it (``json.dumps(..., default=str)``)."""
        return json.dumps([dataclasses.asdict(s) for s in self.subsegments], default=str)


def traced(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> RecordingProvider:
    provider = RecordingProvider()
    monkeypatch.setattr(module.tracer, "provider", provider)
    return provider


def leaks(trace: str, secrets: list[bytes]) -> list[str]:
    """The secrets found in ``trace`` in any usual spelling (hex either case, base64)."""
    found = []
    for secret in secrets:
        forms = {secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode("ascii")}
        if any(form in trace for form in forms):
            found.append(secret.hex()[:16])
    return found


def module_of(handler: Callable[..., Any]) -> ModuleType:
    return sys.modules[handler.__module__]


# --- the RA's batch tasks -------------------------------------------------------------------------


def test_ra_task_is_a_handler_and_a_task_subsegment_without_the_chain_id(
    stack: Stack,  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an accepted authorization request and the RA tasks' tracer recording
    rh = _accepted(stack, "traced-device")
    provider = traced(stack.tasks, monkeypatch)
    # When the state machine's plan task runs
    planned = _run(stack, "plan", requestHash=rh.hex())
    # Then the trace has the handler and the task, annotated with names only
    assert provider.names == ["## handler", "## plan"]
    handler, task = provider.subsegments
    assert handler.annotations == {"ColdStart": handler.annotations["ColdStart"], "Service": "ra-batch"}
    assert task.annotations == {"task": "plan"}
    assert all(not s.metadata for s in provider.subsegments)
    # And the chain id the answer carries (it names the device's linkage chain to the LAs) is not in it
    chain_id = bytes.fromhex(planned["chainId"])
    assert len(chain_id) == 16 and leaks(provider.text(), [chain_id]) == []
    # Twin: the same handler traced with Powertools' defaults records the answer, and the scan finds it
    monkeypatch.delenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE", raising=False)
    default = stack.tasks.tracer.capture_lambda_handler(stack.tasks.handler.__wrapped__)
    provider.subsegments.clear()
    assert default({"task": "plan", "requestHash": rh.hex()}, None)["chainId"] == planned["chainId"]
    assert leaks(provider.text(), [chain_id]) == [chain_id.hex()[:16]]


def test_a_refused_ra_task_marks_the_subsegment_failed_without_metadata(
    stack: Stack,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = traced(stack.tasks, monkeypatch)
    with pytest.raises(stack.tasks.InvalidTaskInput):
        _run(stack, "plan", requestHash="not hex")
    assert provider.names == ["## handler", "## plan"]
    assert [s.error for s in provider.subsegments] == ["InvalidTaskInput", "InvalidTaskInput"]
    assert all(not s.metadata for s in provider.subsegments)
    # Twin: an event that names no task fails in the handler before any task subsegment opens
    provider.subsegments.clear()
    with pytest.raises(stack.tasks.InvalidTaskInput):
        _run(stack, "no-such-task")
    assert provider.names == ["## handler"]


# --- the ACA --------------------------------------------------------------------------------------


def test_aca_issue_task_is_traced_without_the_responses(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    ra = Ra(stack.ca.signer("ra"), epoch=stack.now - 600)
    sent = [ra.request("explicit", "plain", 2, j, generation_time=stack.now) for j in range(2)]
    aca = stack.aca
    provider = traced(aca, monkeypatch)
    out = aca.issue_task({"requests": [base64.b64encode(s.spdu).decode("ascii") for s in sent]}, None)
    assert out["refused"] == []
    assert provider.names == ["## issue_task", "## issue_batch"]
    assert provider.subsegments[0].annotations["Service"] == "aca"
    assert all(not s.metadata for s in provider.subsegments)
    responses = [base64.b64decode(r) for r in out["responses"]]
    assert leaks(provider.text(), responses) == []
    # Twin: the handler traced with Powertools' defaults records its answer (served again from AcaTable)
    monkeypatch.delenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE", raising=False)
    default = aca.tracer.capture_lambda_handler(aca.issue_task.__wrapped__)
    provider.subsegments.clear()
    assert default({"requests": [base64.b64encode(s.spdu).decode("ascii") for s in sent]}, None) == out
    assert leaks(provider.text(), responses) == [r.hex()[:16] for r in responses]


# --- the LAs --------------------------------------------------------------------------------------


def test_la_plv_task_is_traced_without_plvs_or_the_chain_id(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    task = load_la("la1", stack.settings)
    la = module_of(task)
    provider = traced(la, monkeypatch)
    result = task(LA_EVENT, LambdaContext(function_name="la"))
    assert provider.names == ["## plv_task", "## handle"]
    assert provider.subsegments[0].annotations["Service"] == "la"
    assert all(not s.metadata for s in provider.subsegments)
    secrets = [bytes.fromhex(LA_EVENT["chainId"])] + [base64.b64decode(p) for p in result["plvs"]]
    assert leaks(provider.text(), secrets) == []
    # Twin: the use case traced with Powertools' defaults puts the encrypted PLVs in the trace
    monkeypatch.delenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE", raising=False)
    default = la.tracer.capture_method(la.handle.__wrapped__)
    provider.subsegments.clear()
    again = default(LA_EVENT, la._services(), now=stack.now)
    fresh = [base64.b64decode(p) for p in again["plvs"][:2]]  # each answer encrypts anew
    assert leaks(provider.text(), fresh) == [s.hex()[:16] for s in fresh]


# --- the ECA --------------------------------------------------------------------------------------


def test_eca_successor_task_is_traced_and_a_refusal_is_an_answer(
    aws_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    eca = load_eca_tasks()
    monkeypatch.setattr(eca, "settings", lambda: aws_settings)
    provider = traced(eca, monkeypatch)
    # A request that is not base64: refused as unparsable before any store is read
    out = eca.successor_task({"request": "*not base64*", "requestHash": "00" * 8, "deviceId": "traced"}, None)
    assert out == {"refusal": ErrorCode.FAILED_PARSING.value}
    assert provider.names == ["## successor_task", "## answer_successor"]
    assert [s.error for s in provider.subsegments] == [None, None]
    assert provider.subsegments[0].annotations["Service"] == "eca-task"
    assert all(not s.metadata for s in provider.subsegments)
    # Twin: a malformed event fails both subsegments, still without metadata
    provider.subsegments.clear()
    with pytest.raises(eca.InvalidTaskInput):
        eca.successor_task({"request": 1}, None)
    assert [s.error for s in provider.subsegments] == ["InvalidTaskInput", "InvalidTaskInput"]
    assert all(not s.metadata for s in provider.subsegments)


# --- the helpers ----------------------------------------------------------------------------------


def test_task_subsegment_annotates_and_a_disabled_tracer_is_a_no_op() -> None:
    tracer = observability.task_tracer("unit")
    assert tracer.disabled  # outside Lambda: X-Ray off, dummy subsegments, nothing sent
    with observability.task_subsegment(tracer, "x", task="x", count=3):
        pass  # the dummy subsegment accepts annotations
    recorder = RecordingProvider()
    saved = tracer.provider
    tracer.provider = recorder  # type: ignore[assignment]
    try:
        with observability.task_subsegment(tracer, "expand", task="expand", pooled=3):
            pass
    finally:
        tracer.provider = saved
    assert recorder.names == ["## expand"] and recorder.subsegments[0].annotations == {"task": "expand", "pooled": 3}
