"""The provisioning state machine (statemachines/provision.asl.json) in moto, tasks replaced by stand-ins.

The REAL ASL file runs in moto's execute mode with the template's ``DefinitionSubstitutions``; its
four Lambda functions are plain Python stand-ins (``install_lambda_patch``), so these tests prove
the control flow of docs/architecture.md "Provisioning pipeline" independently of the real tasks:
what each task receives, how often, in which order, what is retried and what is caught. moto's
timers (Retry intervals, the Wait state) are replaced by recorders, so no test waits for real.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from scms_service.errors import TransientStoreError

from scms_cli.local.stepfunctions import (
    create_functions,
    create_state_machines,
    install_lambda_patch,
    uninstall_lambda_patch,
)
from scms_cli.local.template import functions, load_template, state_machines

MACHINE = "ProvisionStateMachine"
TASK_FUNCTIONS = ("RaBatchFunction", "La1Function", "La2Function", "AcaFunction")
REQUEST = "0123456789abcdef"
CHAIN = "c0" * 16


# --- Structural checks of the ASL (no AWS) ---


def _scopes(states: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every ``States`` object of the definition (top level, Map processors, Parallel branches)."""
    yield path or "/", states
    for name, state in states.items():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _scopes(processor["States"], f"{path}/{name}")
        for n, branch in enumerate(state.get("Branches", [])):
            yield from _scopes(branch["States"], f"{path}/{name}[{n}]")


def asl_problems(definition: Mapping[str, Any], substitutions: Mapping[str, Any]) -> list[str]:
    """What is wrong with an ASL definition wired by ``substitutions`` (empty: nothing found)."""
    problems = []
    text = json.dumps(definition)
    used = set(re.findall(r"\$\{([^}]+)\}", text))
    problems += [f"${{{key}}} is not a DefinitionSubstitutions key" for key in sorted(used - set(substitutions))]
    problems += [f"substitution {key} is never used" for key in sorted(set(substitutions) - used)]

    def scope_problems(where: str, states: Mapping[str, Any], start: str) -> list[str]:
        found = [] if start in states else [f"{where}: StartAt {start} is not a state"]
        for name, state in states.items():
            targets = [state.get("Next"), state.get("Default")]
            targets += [c.get("Next") for c in state.get("Choices", []) + state.get("Catch", [])]
            found += [f"{where}/{name}: {t} is not a state" for t in targets if t is not None and t not in states]
            if state["Type"] == "Task" and not re.fullmatch(r"\$\{[A-Za-z0-9]+\}", str(state.get("Resource"))):
                found.append(f"{where}/{name}: Resource {state.get('Resource')} is not one substitution")
            ends = state["Type"] in ("Succeed", "Fail") or state.get("End") is True
            if state["Type"] not in ("Choice", "Succeed", "Fail") and ends == ("Next" in state):
                found.append(f"{where}/{name}: needs exactly one of Next and End")
        return found

    problems += scope_problems("/", definition["States"], definition["StartAt"])
    for name, state in definition["States"].items():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            problems += scope_problems(f"/{name}", processor["States"], processor["StartAt"])
        for n, branch in enumerate(state.get("Branches", [])):
            problems += scope_problems(f"/{name}[{n}]", branch["States"], branch["StartAt"])
    return problems


def _asl() -> dict[str, Any]:
    (spec,) = [m for m in state_machines() if m.logical_id == MACHINE]
    definition: dict[str, Any] = json.loads(spec.definition.read_text(encoding="utf-8"))
    return definition


def _substitutions() -> dict[str, Any]:
    props: dict[str, Any] = load_template()["Resources"][MACHINE]["Properties"]
    subs: dict[str, Any] = props["DefinitionSubstitutions"]
    return subs


def test_asl_targets_substitutions_and_resources_are_consistent() -> None:
    # Given the ASL file and the template's DefinitionSubstitutions, Then nothing dangles.
    assert asl_problems(_asl(), _substitutions()) == []
    # And every substitution is the ARN of a function of the template.
    assert _substitutions() == {f"{f}Arn": {"Fn::GetAtt": f"{f}.Arn"} for f in TASK_FUNCTIONS}


BREAKAGES = (
    "dangling Next",
    "dangling Next in a Map",
    "dangling Catch",
    "unknown substitution",
    "bare Resource",
    "unused substitution",
    "no End",
)


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_asl_is_detected(breakage: str) -> None:
    # Twin: each kind of breakage is reported.
    asl, subs = copy.deepcopy(_asl()), dict(_substitutions())
    states = asl["States"]
    if breakage == "dangling Next":
        states["Finish"]["Next"] = "Finsh"
    elif breakage == "dangling Next in a Map":
        states["Chunks"]["ItemProcessor"]["States"]["Linkage"]["Next"] = "Expnd"
    elif breakage == "dangling Catch":
        states["Plan"]["Catch"][0]["Next"] = "MarkFailedd"
    elif breakage == "unknown substitution":
        states["Plan"]["Resource"] = "${Elsewhere}"
    elif breakage == "bare Resource":
        states["Done"]["Resource"] = "arn:aws:lambda:us-east-1:123456789012:function:RaBatchFunction"
    elif breakage == "unused substitution":
        subs["Spare"] = "x"
    else:
        states["Provisioned"] = {"Type": "Pass"}
    assert asl_problems(asl, subs) != []


def test_every_task_retries_transient_errors_and_top_level_work_is_caught() -> None:
    for where, states in _scopes(_asl()["States"]):
        for name, state in states.items():
            if state["Type"] == "Task":
                retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
                assert {"TransientStoreError", "Lambda.ServiceException"} <= retried, f"{where}/{name}"
                assert "States.ALL" not in retried, f"{where}/{name}: retries everything"
    for name, state in _asl()["States"].items():
        if state["Type"] in ("Task", "Map", "Parallel") and name != "MarkFailed":
            assert [(c["ErrorEquals"], c["Next"]) for c in state["Catch"]] == [(["States.ALL"], "MarkFailed")], name


# --- The state machine in moto with stand-in tasks ---


class PlvResultInvalid(ValueError):
    """Stand-in for scms_ra.expand.PlvResultInvalid: a permanent failure (its name is the ASL error)."""


class ProvisioningStalled(RuntimeError):
    """Stand-in for the finish task's error after provision_max_rounds."""


@dataclass
class Pipeline:
    """Stand-ins for the four task functions, with a shared in-memory pool; records every task call."""

    chunks: list[tuple[int, int]]
    j_max: int = 2
    linkage: bool = True
    lanes: int = 2
    batch: int = 3
    already_done: bool = False
    withheld: int = 0  # items a 'foreign lease' hides from draw until the first finish
    gate: threading.Event | None = None  # plan waits for it (an execution kept RUNNING)
    failures: dict[str, list[BaseException]] = field(default_factory=dict)  # task → raised on successive calls
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    pool: list[tuple[int, int]] = field(default_factory=list)
    hidden: list[tuple[int, int]] = field(default_factory=list)
    delivered: list[tuple[int, int]] = field(default_factory=list)
    leases: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handlers(self) -> dict[str, Any]:
        return {
            "RaBatchFunction": self.ra,
            "La1Function": lambda e, c: self.la("0001", e),
            "La2Function": lambda e, c: self.la("0002", e),
            "AcaFunction": self.aca,
        }

    def called(self, task: str) -> list[dict[str, Any]]:
        return [event for name, event in self.calls if name == task]

    def _record(self, task: str, event: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append((task, event))
            pending = self.failures.get(task)
            failure = pending.pop(0) if pending else None
        if failure is not None:
            raise failure

    def la(self, la_id: str, event: dict[str, Any]) -> dict[str, Any]:
        self._record(f"la{la_id[-1]}", event)
        i_first, i_last = event["iFirst"], event["iLast"]
        plvs = [f"{la_id}:{i}:{j}" for i in range(i_first, i_last + 1) for j in range(event["jMax"])]
        return {"laId": la_id, "iFirst": i_first, "iLast": i_last, "jMax": event["jMax"], "plvs": plvs}

    def aca(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self._record("issue", event)
        return {"responses": [f"answer:{r}" for r in event["requests"]], "refused": []}

    def ra(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        task = event["task"]
        self._record(task, event)
        result: dict[str, Any] = getattr(self, f"_{task}")(event)
        return result

    def _plan(self, event: dict[str, Any]) -> dict[str, Any]:
        if self.gate is not None:
            assert self.gate.wait(30), "the test never opened the gate"
        if self.already_done:
            return {"requestHash": event["requestHash"], "done": True}
        return {
            "requestHash": event["requestHash"],
            "chainId": CHAIN,
            "jMax": self.j_max,
            "linkage": self.linkage,
            "done": False,
            "chunks": [{"iFirst": a, "iLast": b} for a, b in self.chunks],
            "lanes": list(range(self.lanes)),
            "round": 0,
        }

    def _expand(self, event: dict[str, Any]) -> dict[str, Any]:
        items = [(i, j) for i in range(event["iFirst"], event["iLast"] + 1) for j in range(self.j_max)]
        with self._lock:
            for item in items:
                if self.withheld > 0:
                    self.withheld -= 1
                    self.hidden.append(item)
                else:
                    self.pool.append(item)
        return {"pooled": len(items)}

    def _draw(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            taken, self.pool = self.pool[: self.batch], self.pool[self.batch :]
            if not taken:
                return {"empty": True}
            self.leases += 1
            lease = {"shard": event["lane"], "holder": f"lease-{self.leases}"}
        return {
            "empty": False,
            "lease": lease,
            "keys": [f"key:{i}:{j}" for i, j in taken],
            "requests": [f"spdu:{i}:{j}" for i, j in taken],
        }

    def _deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        assert len(event["keys"]) == len(event["responses"])
        with self._lock:
            for response in event["responses"]:
                _, i, j = response.removeprefix("answer:").split(":")
                self.delivered.append((int(i), int(j)))
        return {"delivered": len(event["responses"])}

    def _finish(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.pool.extend(self.hidden)  # the other execution's lease has expired
            self.hidden.clear()
            wanted = {(i, j) for a, b in self.chunks for i in range(a, b + 1) for j in range(self.j_max)}
            complete = set(self.delivered) >= wanted
        return {"complete": complete, "round": event["round"] + 1}

    def _assemble(self, event: dict[str, Any]) -> dict[str, Any]:
        return {"files": event["iLast"] - event["iFirst"] + 1}

    def _done(self, event: dict[str, Any]) -> dict[str, Any]:
        return {"status": "DONE"}

    def _fail(self, event: dict[str, Any]) -> dict[str, Any]:
        return {"status": "FAILED"}


@dataclass
class Harness:
    client: Any
    machine: str
    sleeps: list[float]
    waits: list[int]

    def start(self, pipeline: Pipeline, name: str | None = None) -> str:
        """Start an execution (named ``name`` or at random) with ``pipeline``'s stand-ins; its ARN."""
        install_lambda_patch(pipeline.handlers())
        arn: str = self.client.start_execution(
            stateMachineArn=self.machine, name=name or uuid.uuid4().hex, input=json.dumps({"requestHash": REQUEST})
        )["executionArn"]
        return arn

    def run(self, pipeline: Pipeline, name: str | None = None) -> dict[str, Any]:
        """Run one execution to its end with ``pipeline``'s stand-ins; returns DescribeExecution."""
        return self.wait(self.start(pipeline, name))

    def wait(self, arn: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            described: dict[str, Any] = self.client.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.02)  # polling moto's execution thread, not timing anything
        raise AssertionError("execution still running after 60 s")

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.client.get_execution_history(executionArn=execution_arn, maxResults=1000)[
            "events"
        ]
        return events


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The real ASL as moto creates it from the template (functions, substitutions), timers recorded."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    sleeps: list[float] = []
    waits: list[int] = []
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=sleeps.append))
    monkeypatch.setattr(WaitFunction, "_wait_interval", lambda self, env, wait_seconds: waits.append(wait_seconds))
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        try:
            handlers = {spec.logical_id: spec.handler for spec in functions() if spec.logical_id in TASK_FUNCTIONS}
            assert sorted(handlers) == sorted(TASK_FUNCTIONS)
            arns = create_functions(boto3.client("lambda"), boto3.client("iam"), handlers)
            role = boto3.client("iam").get_role(RoleName="scms-local-lambda")["Role"]["Arn"]
            client = boto3.client("stepfunctions")
            specs = [m for m in state_machines() if m.logical_id == MACHINE]
            names = {f"{logical_id}.Arn": arn for logical_id, arn in arns.items()}
            machines = create_state_machines(client, specs, names, role)
            yield Harness(client, machines[MACHINE], sleeps, waits)
        finally:
            uninstall_lambda_patch()


def _items(chunks: list[tuple[int, int]], j_max: int) -> list[tuple[int, int]]:
    return sorted((i, j) for a, b in chunks for i in range(a, b + 1) for j in range(j_max))


def _tasks(pipeline: Pipeline) -> list[str]:
    return [name for name, _ in pipeline.calls]


def test_a_done_request_short_circuits_after_plan(harness: Harness) -> None:
    # Given a request whose plan says it is already DONE,
    pipeline = Pipeline(chunks=[(10, 11)], already_done=True)
    # When its execution runs, Then it succeeds having called plan only.
    result = harness.run(pipeline)
    assert result["status"] == "SUCCEEDED"
    assert _tasks(pipeline) == ["plan"]
    assert pipeline.called("plan") == [{"task": "plan", "requestHash": REQUEST}]
    # Twin: the same request not yet done goes on to expand.
    pending = Pipeline(chunks=[(10, 11)])
    assert harness.run(pending)["status"] == "SUCCEEDED" and pending.called("expand")


def test_every_chunk_is_expanded_once_with_the_two_las_results(harness: Harness) -> None:
    # Given a butterfly request of 13 chunks (156 periods of 12 weeks... any bounds) and two lanes,
    chunks = [(100 + 12 * n, 111 + 12 * n) for n in range(13)]
    pipeline = Pipeline(chunks=chunks, j_max=2, batch=40)
    # When the execution runs,
    result = harness.run(pipeline)
    assert result["status"] == "SUCCEEDED", result
    # Then each LA was first asked for the first period alone (its chain's origin), then once per
    # chunk, with exactly the chain, bounds and jMax,
    for la in ("la1", "la2"):
        origin, *per_chunk = pipeline.called(la)
        assert origin == {"chainId": CHAIN, "iFirst": 100, "iLast": 100, "jMax": 1}
        assert sorted((e["iFirst"], e["iLast"]) for e in per_chunk) == chunks
        assert all(e == {"chainId": CHAIN, "iFirst": e["iFirst"], "iLast": e["iLast"], "jMax": 2}
                   for e in per_chunk)  # fmt: skip
    # and was expanded once, with [LA1 result, LA2 result] of that very chunk as plvs.
    expands = pipeline.called("expand")
    assert sorted((e["iFirst"], e["iLast"]) for e in expands) == chunks
    for event in expands:
        assert set(event) == {"task", "requestHash", "iFirst", "iLast", "plvs"}
        la1, la2 = event["plvs"]
        assert (la1["laId"], la2["laId"]) == ("0001", "0002")
        assert la1["plvs"][0] == f"0001:{event['iFirst']}:0" and la1["iFirst"] == event["iFirst"]
        assert la2["plvs"][-1].startswith(f"0002:{event['iLast']}:") and la2["iLast"] == event["iLast"]
    # Every (i, j) was delivered exactly once; each chunk assembled once, after the last delivery; done last.
    assert sorted(pipeline.delivered) == _items(chunks, 2)
    tasks = _tasks(pipeline)
    assert sorted((e["iFirst"], e["iLast"]) for e in pipeline.called("assemble")) == chunks
    assert all(e["requestHash"] == REQUEST for e in pipeline.called("assemble"))
    last_delivery = max(n for n, t in enumerate(tasks) if t == "deliver")
    assert min(n for n, t in enumerate(tasks) if t == "assemble") > last_delivery
    assert tasks[-1] == "done" and pipeline.called("done") == [{"task": "done", "requestHash": REQUEST}]
    assert "fail" not in tasks


def test_a_non_butterfly_request_skips_the_linkage_authorities(harness: Harness) -> None:
    # Given a plain (non-butterfly) request,
    chunks = [(5, 6), (7, 7)]
    pipeline = Pipeline(chunks=chunks, linkage=False)
    # When it runs, Then no LA is asked and expand gets no plvs, yet every certificate is delivered.
    assert harness.run(pipeline)["status"] == "SUCCEEDED"
    assert not pipeline.called("la1") and not pipeline.called("la2")
    assert [set(e) for e in pipeline.called("expand")] == [{"task", "requestHash", "iFirst", "iLast"}] * 2
    assert sorted(pipeline.delivered) == _items(chunks, 2)
    # Twin: the butterfly request of the same chunks asks both LAs per chunk.
    linked = Pipeline(chunks=chunks)
    assert harness.run(linked)["status"] == "SUCCEEDED"
    assert len(linked.called("la1")) == len(linked.called("la2")) == 1 + 2


def test_each_lane_draws_issues_and_delivers_until_draw_says_empty(harness: Harness) -> None:
    # Given 3 lanes and 14 pooled requests drawn 3 at a time,
    pipeline = Pipeline(chunks=[(0, 6)], j_max=2, lanes=3, batch=3)
    result = harness.run(pipeline)
    assert result["status"] == "SUCCEEDED"
    # Then every lane drew until empty (one empty draw per lane), 5 batches went to the ACA and back,
    draws = pipeline.called("draw")
    assert {e["lane"] for e in draws} == {0, 1, 2}
    assert len(pipeline.called("issue")) == len(pipeline.called("deliver")) == 5
    assert len(draws) == 5 + 3
    # the ACA received the requests and nothing else, and each deliver got its own draw's lease and keys.
    assert all(set(e) == {"requests"} for e in pipeline.called("issue"))
    for event in pipeline.called("deliver"):
        assert set(event) == {"task", "lane", "lease", "keys", "responses", "refused"}
        assert [k.removeprefix("key:") for k in event["keys"]] == [
            r.removeprefix("answer:spdu:") for r in event["responses"]
        ]
    assert sorted(pipeline.delivered) == _items([(0, 6)], 2)
    # No state ever holds a batch's requests and its responses together (the 256 KB state limit).
    for event in harness.history(result["executionArn"]):
        exited = event.get("stateExitedEventDetails")
        if exited and exited["name"] == "Issue":
            output = json.loads(exited["output"])
            assert "requests" not in json.dumps(output) and output["aca"]["responses"]


def test_finish_waits_and_drains_again_until_complete(harness: Harness) -> None:
    # Given a request 3 of whose items are under another execution's lease during the first drain,
    pipeline = Pipeline(chunks=[(0, 2)], j_max=2, withheld=3)
    # When it runs,
    result = harness.run(pipeline)
    # Then finish said incomplete once (round 0 → 1), the machine waited 1 s, drained again, finished.
    assert result["status"] == "SUCCEEDED"
    assert [e["round"] for e in pipeline.called("finish")] == [0, 1]
    assert harness.waits == [1]
    tasks = _tasks(pipeline)
    first, second = (n for n, t in enumerate(tasks) if t == "finish")
    assert "deliver" in tasks[first:second] and "assemble" not in tasks[:second]
    assert sorted(pipeline.delivered) == _items([(0, 2)], 2)
    # Twin: with nothing withheld, one finish and no wait.
    harness.waits.clear()
    quick = Pipeline(chunks=[(0, 2)], j_max=2)
    assert harness.run(quick)["status"] == "SUCCEEDED"
    assert [e["round"] for e in quick.called("finish")] == [0] and harness.waits == []


def test_a_transient_error_is_retried_and_shows_in_the_history(harness: Harness) -> None:
    # Given an expand that hits DynamoDB throttling once,
    pipeline = Pipeline(chunks=[(0, 0)], failures={"expand": [TransientStoreError("throttled")]})
    # When the execution runs, Then it retries (after 1 s) and succeeds,
    result = harness.run(pipeline)
    assert result["status"] == "SUCCEEDED"
    assert len(pipeline.called("expand")) == 2 and harness.sleeps == [1]
    assert "fail" not in _tasks(pipeline)
    # and the failed attempt is in the execution history under its ASL error name.
    failed = [e["lambdaFunctionFailedEventDetails"] for e in harness.history(result["executionArn"])
              if e["type"] == "LambdaFunctionFailed"]  # fmt: skip
    assert [f["error"] for f in failed] == ["TransientStoreError"]


def test_a_transient_error_that_persists_fails_the_request_after_three_retries(harness: Harness) -> None:
    # Twin: throttled on every attempt → 1 + 3 attempts with backoff 2, then caught and marked failed.
    pipeline = Pipeline(chunks=[(0, 0)], failures={"deliver": [TransientStoreError("throttled")] * 10})
    result = harness.run(pipeline)
    assert result["status"] == "FAILED"
    assert len(pipeline.called("deliver")) == 4 and harness.sleeps == [1, 2, 4]
    (failed,) = pipeline.called("fail")
    assert failed["error"]["Error"] == "TransientStoreError"


def test_a_permanent_error_is_caught_marked_failed_and_fails_the_execution(harness: Harness) -> None:
    # Given an expand whose LA results do not match the chunk,
    pipeline = Pipeline(chunks=[(0, 1)], failures={"expand": [PlvResultInvalid("plvs do not cover the chunk")]})
    # When the execution runs,
    result = harness.run(pipeline)
    # Then expand is not retried, fail gets the request hash and the ASL error, and the execution fails with it.
    assert result["status"] == "FAILED"
    assert len(pipeline.called("expand")) == 1 and harness.sleeps == []
    (failed,) = pipeline.called("fail")
    assert set(failed) == {"task", "requestHash", "error"} and failed["requestHash"] == REQUEST
    assert failed["error"]["Error"] == "PlvResultInvalid"
    assert "plvs do not cover the chunk" in failed["error"]["Cause"]
    assert result["error"] == "PlvResultInvalid"
    tasks = _tasks(pipeline)
    assert "done" not in tasks and "assemble" not in tasks and "draw" not in tasks


@pytest.mark.parametrize(
    ("task", "error"),
    [("plan", KeyError("no such request")), ("la2", ValueError("bad chain")), ("issue", RuntimeError("aca down")),
     ("finish", ProvisioningStalled("600 rounds")), ("assemble", OSError("zip")), ("done", ValueError("conflict"))],
)  # fmt: skip
def test_an_error_in_any_stage_is_caught_and_marks_the_request_failed(
    harness: Harness, task: str, error: Exception
) -> None:
    pipeline = Pipeline(chunks=[(0, 1), (2, 2)], failures={task: [error]})
    result = harness.run(pipeline)
    assert result["status"] == "FAILED"
    (failed,) = pipeline.called("fail")
    assert failed["requestHash"] == REQUEST and failed["error"]["Error"] == type(error).__name__
    # Nothing runs after the failure is recorded, but a task of the other lane already in flight when the
    # Catch fired may still finish (Step Functions stops a Map's iterations, not a running Lambda): its
    # own lane's draw/issue/deliver, never a stage after the drain.
    tasks = _tasks(pipeline)
    assert set(tasks[tasks.index("fail") + 1 :]) <= {"draw", "issue", "deliver"}


def test_starting_the_same_request_twice_makes_one_execution(harness: Harness) -> None:
    # Given an execution named by the request hash, still running (its plan is held),
    gate = threading.Event()
    pipeline = Pipeline(chunks=[(0, 0)], gate=gate)
    first = harness.start(pipeline, name=REQUEST)
    try:
        # When the RA starts it again with the same name and input, Then it gets the same execution,
        assert harness.start(pipeline, name=REQUEST) == first
        listed = harness.client.list_executions(stateMachineArn=harness.machine)["executions"]
        assert [e["executionArn"] for e in listed] == [first]
    finally:
        gate.set()
    assert harness.wait(first)["status"] == "SUCCEEDED" and len(pipeline.called("plan")) == 1
    # Twin: once it has ended, the same name is refused (the RA counts that as started).
    with pytest.raises(harness.client.exceptions.ExecutionAlreadyExists):
        harness.start(pipeline, name=REQUEST)
