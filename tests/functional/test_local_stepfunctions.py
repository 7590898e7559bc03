"""Local Step Functions: a template state machine runs its Lambda task on the real handler, in-process."""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from scms_service.stores.auth_requests import DynamoDbAuthRequestStore, RequestStatus

from scms_cli.local.stepfunctions import (
    create_functions,
    create_state_machines,
    install_lambda_patch,
    resume_provisioning,
    start_process_pool,
    stop_process_pool,
    uninstall_lambda_patch,
)
from scms_cli.local.template import FunctionSpec, functions, state_machines
from tests.functional import test_provision_asl as provision_asl
from tests.functional import test_ra_batch_tasks as batch_tasks
from tests.functional.test_la import load_la
from tests.functional.test_ra_batch_tasks import Stack, _accepted

# `scms init` on moto with small batches (3 certificates per period, a period per chunk).
stack = batch_tasks.stack

ASL = {
    "StartAt": "Double",
    "States": {
        "Double": {
            "Type": "Task",
            "Resource": "${DoubleArn}",
            "Catch": [{"ErrorEquals": ["ValueError"], "Next": "Refused"}],
            "End": True,
        },
        "Refused": {"Type": "Pass", "Result": {"refused": True}, "End": True},
    },
}


def _double(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["n"] < 0:
        raise ValueError("negative")
    return {"n": event["n"] * 2}


@pytest.fixture
def sfn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    (tmp_path / "double.asl.json").write_text(json.dumps(ASL))
    template = {
        "Resources": {
            "DoubleMachine": {
                "Type": "AWS::Serverless::StateMachine",
                "Properties": {
                    "DefinitionUri": "double.asl.json",
                    "DefinitionSubstitutions": {"DoubleArn": {"Fn::GetAtt": ["DoubleFunction", "Arn"]}},
                },
            }
        }
    }
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        install_lambda_patch({"DoubleFunction": _double})
        try:
            arns = create_functions(boto3.client("lambda"), boto3.client("iam"), {"DoubleFunction": "app.double"})
            role = boto3.client("iam").get_role(RoleName="scms-local-lambda")["Role"]["Arn"]
            client = boto3.client("stepfunctions")
            machines = create_state_machines(
                client, state_machines(template, base=tmp_path), {"DoubleFunction.Arn": arns["DoubleFunction"]}, role
            )
            yield client, machines["DoubleMachine"]
        finally:
            uninstall_lambda_patch()


def _run(client: Any, machine: str, payload: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    # A name per run: moto names unnamed executions "None", so a second one would collide.
    name = name or uuid.uuid4().hex
    arn = client.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described: dict[str, Any] = client.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("execution still running after 30 s")


def test_state_machine_task_runs_the_real_handler(sfn: tuple[Any, str]) -> None:
    client, machine = sfn
    result = _run(client, machine, {"n": 21})
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"n": 42}


def test_handler_error_type_is_the_asl_error_name(sfn: tuple[Any, str]) -> None:
    # Twin: the handler raises ValueError, which the Catch on "ValueError" takes.
    client, machine = sfn
    result = _run(client, machine, {"n": -1})
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"refused": True}


TASKS = """
import os


def pid(event, context):
    if event["n"] < 0:
        raise ValueError("negative")
    return {"n": event["n"] * 2, "pid": os.getpid(), "function": context.function_name}
"""


def test_pooled_task_runs_in_a_worker_process_and_keeps_its_error_name(sfn: tuple[Any, str], tmp_path: Path) -> None:
    # Given the task function handed to the process pool (as `make serve` does for task functions)
    code = tmp_path / "code"
    code.mkdir()
    (code / "tasks.py").write_text(TASKS)
    start_process_pool([FunctionSpec("DoubleFunction", code, "tasks.pid", {})], workers=2)
    try:
        client, machine = sfn
        # When the state machine runs it, Then another process answers with the real handler's result
        done = _run(client, machine, {"n": 21})
        output = json.loads(done["output"])
        assert done["status"] == "SUCCEEDED" and output["n"] == 42 and output["function"] == "DoubleFunction"
        assert output["pid"] != os.getpid()
        # And a worker's exception is still the ASL error name the Catch matches (twin)
        refused = _run(client, machine, {"n": -1})
        assert json.loads(refused["output"]) == {"refused": True}
    finally:
        stop_process_pool()
    # After stopping, the task runs in-process again (no pool, no worker left)
    assert json.loads(_run(client, machine, {"n": 1})["output"]) == {"n": 2}


# --- The provisioning state machine of the template with the real task handlers ---


def _engine_parts() -> tuple[Any, Any, Any]:
    """moto's engine Lambda call, its JSONPath parser and the copy module its state data uses."""
    utils = importlib.import_module("moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils")
    json_path = importlib.import_module("moto.stepfunctions.parser.asl.utils.json_path")
    states = importlib.import_module("moto.stepfunctions.parser.asl.eval.states")
    return utils._invoke_lambda_function, json_path.parse, states.copy


def test_engine_tasks_skip_boto3_and_the_speed_ups_are_undone_on_uninstall() -> None:
    # Given the patch installed, Then the engine's Lambda call, JSONPath parser and copies are replaced,
    originals = _engine_parts()
    install_lambda_patch({"DoubleFunction": _double})
    try:
        patched = _engine_parts()
        assert all(a is not b for a, b in zip(patched, originals, strict=True))
        # and a JSON clone is equal to the value and shares no container with it.
        value = {"a": [1, {"b": "c", "d": None, "e": 1.5, "f": True}], "g": (1, 2)}
        clone = patched[2].deepcopy(value)
        assert clone == value and clone["a"] is not value["a"] and clone["a"][1] is not value["a"][1]
    finally:
        uninstall_lambda_patch()
    # Twin: after uninstalling, moto's own functions are back.
    assert all(a is b for a, b in zip(_engine_parts(), originals, strict=True))


def test_a_task_of_a_function_without_handler_goes_through_moto_lambda(sfn: tuple[Any, str]) -> None:
    # Given a machine whose function has no local handler (only moto's placeholder),
    client, machine = sfn
    from scms_cli.local import stepfunctions

    stepfunctions._HANDLERS.pop("DoubleFunction")
    # When it runs, Then moto's Lambda path answers (the patched _invoke_lambda: ResourceNotFound).
    result = _run(client, machine, {"n": 1})
    assert result["status"] == "FAILED" and result["error"] == "ResourceNotFound"


@pytest.fixture
def provisioning(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """The template's ProvisionStateMachine in moto (execute mode), its tasks on the real handlers."""
    from moto.core.config import default_user_config

    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    settings = stack.settings
    handlers = {
        "RaBatchFunction": stack.tasks.handler,
        "AcaFunction": stack.aca.issue_task,
        "La1Function": load_la("la1", settings),
        "La2Function": load_la("la2", settings),
    }
    install_lambda_patch(handlers)
    try:
        specs = {s.logical_id: s.handler for s in functions() if s.logical_id in handlers}
        arns = create_functions(boto3.client("lambda"), boto3.client("iam"), specs)
        role = boto3.client("iam").get_role(RoleName="scms-local-lambda")["Role"]["Arn"]
        client = boto3.client("stepfunctions")
        machines = [m for m in state_machines() if m.logical_id == "ProvisionStateMachine"]
        names = {f"{logical_id}.Arn": arn for logical_id, arn in arns.items()}
        created = create_state_machines(client, machines, names, role)
        yield client, created["ProvisionStateMachine"]
    finally:
        uninstall_lambda_patch()


def test_the_provisioning_state_machine_runs_the_real_tasks_to_done(
    stack: Stack, provisioning: tuple[Any, str]
) -> None:
    # Given two accepted butterfly requests (several periods, one period per chunk),
    client, machine = provisioning
    hashes = [_accepted(stack, "obu-a"), _accepted(stack, "obu-b")]
    requests = DynamoDbAuthRequestStore.from_settings(stack.settings)
    # When an execution named by each request hash runs (as the RA route starts it),
    results = [_run(client, machine, {"requestHash": rh.hex()}, name=rh.hex()) for rh in hashes]
    # Then each succeeds, its request is DONE, and every period's zip is in S3.
    s3 = boto3.client("s3")
    for rh, result in zip(hashes, results, strict=True):
        assert result["status"] == "SUCCEEDED", result
        record = requests.get(rh)
        assert record is not None and record.status is RequestStatus.DONE
        listed = s3.list_objects_v2(Bucket=stack.settings.artifacts_bucket, Prefix=f"batches/{rh.hex().upper()}/")
        assert len(listed.get("Contents", [])) == record.last_i - record.first_i + 1
    # Twin: the same execution name again is refused by Step Functions (one batch per request),
    with pytest.raises(client.exceptions.ExecutionAlreadyExists):
        client.start_execution(stateMachineArn=machine, name=hashes[0].hex(), input=json.dumps({"requestHash": "00"}))
    # and an unknown request fails the execution through the fail task's Catch path.
    unknown = _run(client, machine, {"requestHash": "00" * 8})
    assert unknown["status"] == "FAILED"


def test_unfinished_requests_are_started_again_after_a_restart(stack: Stack, provisioning: tuple[Any, str]) -> None:
    # Given (as after a restart: moto lost its executions) one request ACCEPTED and one already DONE,
    client, machine = provisioning
    pending, finished = _accepted(stack, "obu-p"), _accepted(stack, "obu-f")
    assert _run(client, machine, {"requestHash": finished.hex()}, name=finished.hex())["status"] == "SUCCEEDED"
    client_db = boto3.client("dynamodb")
    # When the stack resumes provisioning,
    resumed = resume_provisioning(client_db, client, stack.settings.ra_table, machine)
    # Then only the unfinished request got an execution, under its own name, and it completes.
    assert resumed == [pending.hex()]
    arn = machine.replace(":stateMachine:", ":execution:") + f":{pending.hex()}"
    deadline = time.monotonic() + 60
    while client.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)  # polling moto's execution thread, not timing anything
    record = DynamoDbAuthRequestStore.from_settings(stack.settings).get(pending)
    assert record is not None and record.status is RequestStatus.DONE
    # Twin: resuming again starts nothing (the request is DONE now).
    assert resume_provisioning(client_db, client, stack.settings.ra_table, machine) == []


# --- One parse per state machine definition (the parsed program serves every execution) ---

harness = provision_asl.harness


def _asl_parser() -> Any:
    return importlib.import_module("moto.stepfunctions.parser.asl.parse.asl_parser").AmazonStateLanguageParser


@pytest.fixture
def parses(harness: provision_asl.Harness, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every definition moto's ASL parser really parses from now on (the machine is already created)."""
    parser = _asl_parser()
    real = parser.parse
    parsed: list[str] = []

    def counting(definition: str) -> Any:
        parsed.append(definition)
        return real(definition)

    monkeypatch.setattr(parser, "parse", staticmethod(counting))
    return parsed


def _events(history: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in history if event["type"] == kind]


def _scheduled_payloads(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The payload of every Lambda task the execution scheduled."""
    scheduled = _events(history, "LambdaFunctionScheduled")
    return [json.loads(e["lambdaFunctionScheduledEventDetails"]["input"]) for e in scheduled]


def _history(harness: provision_asl.Harness, arn: str) -> list[dict[str, Any]]:
    history = harness.history(arn)
    assert [event["id"] for event in history] == list(range(1, len(history) + 1))
    return history


def test_two_executions_share_one_parse_and_keep_their_own_results_and_histories(
    harness: provision_asl.Harness, parses: list[str]
) -> None:
    # Given the provisioning machine (Map, Parallel, Choice loop) and two requests of different
    # shapes: one with two items hidden until the first Finish (one more Drain round), one without,
    loop = provision_asl.Pipeline(chunks=[(10, 11), (12, 12)], withheld=2)
    straight = provision_asl.Pipeline(chunks=[(40, 40)], j_max=1, lanes=1, linkage=False)
    # When both run one after the other,
    looped_arn = harness.start(loop, name="loop")
    assert harness.wait(looped_arn)["status"] == "SUCCEEDED"
    straight_arn = harness.start(straight, name="straight")
    assert harness.wait(straight_arn)["status"] == "SUCCEEDED"
    # Then moto's parser ran once, for the first execution,
    assert len(parses) == 1
    # and each got its own results: every item delivered once, two Finish rounds against one,
    assert sorted(loop.delivered) == provision_asl._items([(10, 11), (12, 12)], 2)
    assert sorted(straight.delivered) == [(40, 0)]
    assert [e["round"] for e in loop.called("finish")] == [0, 1]
    assert [e["round"] for e in straight.called("finish")] == [0]
    assert harness.waits == [1] and not straight.called("la1")
    # and its own history: its own tasks and states only, nothing of the other execution.
    looped, plain = _history(harness, looped_arn), _history(harness, straight_arn)
    assert len(_events(looped, "LambdaFunctionScheduled")) == len(loop.calls)
    assert len(_events(plain, "LambdaFunctionScheduled")) == len(straight.calls)
    assert len(_events(looped, "WaitStateEntered")) == 1 and not _events(plain, "WaitStateEntered")
    assert len(_events(looped, "ParallelStateEntered")) == 1 + 2 and not _events(plain, "ParallelStateEntered")
    assert [e["iFirst"] for e in _scheduled_payloads(plain) if e.get("task") == "expand"] == [40]
    assert sorted(e["iFirst"] for e in _scheduled_payloads(looped) if e.get("task") == "expand") == [10, 12]
    assert _events(looped, "ExecutionSucceeded") and _events(plain, "ExecutionSucceeded")


def test_a_changed_definition_is_parsed_again_and_its_executions_run_it(
    harness: provision_asl.Harness, parses: list[str]
) -> None:
    # Given one execution run (one parse),
    assert harness.run(provision_asl.Pipeline(chunks=[(10, 10)], withheld=1))["status"] == "SUCCEEDED"
    assert len(parses) == 1 and harness.waits == [1]
    # When the state machine's definition changes (the NextRound Wait: 1 s -> 2 s),
    definition = json.loads(parses[0])
    definition["States"]["NextRound"]["Seconds"] = 2
    changed = json.dumps(definition)
    harness.client.update_state_machine(stateMachineArn=harness.machine, definition=changed)
    # Then the new text is parsed (once: moto's check on update), and the next execution runs it.
    assert harness.run(provision_asl.Pipeline(chunks=[(10, 10)], withheld=1))["status"] == "SUCCEEDED"
    assert parses[1:] == [changed]
    assert harness.waits == [1, 2]


@dataclass
class TwoRequests(provision_asl.Pipeline):
    """The stand-ins serving two requests at once through one shared pool (as the real tasks do)."""

    per_request: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    def _plan(self, event: dict[str, Any]) -> dict[str, Any]:
        planned = super()._plan(event)
        planned["chunks"] = [{"iFirst": a, "iLast": b} for a, b in self.per_request[event["requestHash"]]]
        return planned

    def _finish(self, event: dict[str, Any]) -> dict[str, Any]:
        wanted = set(provision_asl._items(self.per_request[event["requestHash"]], self.j_max))
        with self._lock:
            self.pool.extend(self.hidden)
            self.hidden.clear()
            complete = set(self.delivered) >= wanted
        return {"complete": complete, "round": event["round"] + 1}


def test_two_concurrent_executions_of_one_parsed_program_stay_independent(
    harness: provision_asl.Harness, parses: list[str]
) -> None:
    # Given two requests of different chunks, both executions held in Plan until both have started,
    chunks = {"aa" * 8: [(10, 11), (12, 13), (14, 14)], "bb" * 8: [(50, 50)]}
    gate = threading.Event()
    pipeline = TwoRequests(chunks=[], per_request=chunks, withheld=3, gate=gate)
    install_lambda_patch(pipeline.handlers())
    arns = {
        request: harness.client.start_execution(
            stateMachineArn=harness.machine, name=request, input=json.dumps({"requestHash": request})
        )["executionArn"]
        for request in chunks
    }
    deadline = time.monotonic() + 30
    while len(pipeline.called("plan")) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)  # polling moto's execution threads, not timing anything
    gate.set()
    # When both run at once through the shared pool,
    results = {request: harness.wait(arn) for request, arn in arns.items()}
    # Then the definition was parsed once for the two,
    assert len(parses) == 1
    # and each succeeded with its own chunks expanded and assembled, and its own done,
    for request, expected in chunks.items():
        assert results[request]["status"] == "SUCCEEDED", results[request]
        for task in ("expand", "assemble"):
            mine = [(e["iFirst"], e["iLast"]) for e in pipeline.called(task) if e["requestHash"] == request]
            assert sorted(mine) == expected, (request, task)
        history = _history(harness, arns[request])
        # its history names no other request, and shows its own Map iterations (one per chunk).
        hashes = {p["requestHash"] for p in _scheduled_payloads(history) if "requestHash" in p}
        assert hashes == {request}
        chunk_map = _events(history, "MapStateStarted")
        assert chunk_map and chunk_map[0]["mapStateStartedEventDetails"]["length"] == len(expected)
    assert sorted(e["requestHash"] for e in pipeline.called("done")) == sorted(chunks)
    assert sorted(pipeline.delivered) == provision_asl._items([c for cs in chunks.values() for c in cs], 2)


def test_the_parse_cache_is_installed_with_the_patch_and_undone_by_uninstall() -> None:
    # Given moto's parser, When the patch is installed, Then parse is replaced by the cache,
    parser = _asl_parser()
    original = parser.__dict__["parse"]
    install_lambda_patch({"DoubleFunction": _double})
    try:
        assert parser.__dict__["parse"] is not original
        definition = json.dumps(ASL).replace("${DoubleArn}", "arn:aws:lambda:us-east-1:123456789012:function:F")
        program, _ = parser.parse(definition)
        assert parser.parse(definition)[0] is program  # the same program again, not a new parse
        # whose components got their heap keys at parse time (no race between executions),
        component = importlib.import_module("moto.stepfunctions.parser.asl.component.eval_component")
        states = program.states.states.values()
        assert all(state.__dict__.get("_EvalComponent__heap_key") for state in states)
        # and a definition that does not parse fails every time (nothing kept).
        for _ in range(2):
            with pytest.raises(Exception, match="ASLParserException"):
                parser.parse("{")
        assert isinstance(program, component.EvalComponent)
    finally:
        uninstall_lambda_patch()
    # Twin: uninstalled, moto's own static method is back and parses anew each time.
    assert parser.__dict__["parse"] is original
    assert parser.parse(definition)[0] is not parser.parse(definition)[0]
