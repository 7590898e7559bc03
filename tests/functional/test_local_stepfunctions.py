"""Local Step Functions: a template state machine runs its Lambda task on the real handler, in-process."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scms_cli.local.stepfunctions import (
    create_functions,
    create_state_machines,
    install_lambda_patch,
    start_process_pool,
    stop_process_pool,
    uninstall_lambda_patch,
)
from scms_cli.local.template import FunctionSpec, state_machines

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


def _run(client: Any, machine: str, payload: dict[str, Any]) -> dict[str, Any]:
    # A name per run: moto names unnamed executions "None", so a second one would collide.
    name = uuid.uuid4().hex
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


TASKS = '''
import os


def pid(event, context):
    if event["n"] < 0:
        raise ValueError("negative")
    return {"n": event["n"] * 2, "pid": os.getpid(), "function": context.function_name}
'''


def test_pooled_task_runs_in_a_worker_process_and_keeps_its_error_name(
    sfn: tuple[Any, str], tmp_path: Path
) -> None:
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
