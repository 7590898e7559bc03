"""Faults in the middle of provisioning (issue #7 §3): every device still gets exactly its certificates.

Each fault runs against ``scms serve`` in a subprocess (the real ASL in moto, the task handlers in
its pool of worker processes), with the device side of the real ``scms-ee`` (in this process,
one worker: threads only). The stack runs through ``serve_with_faults``, which arms three faults
before ``scms serve`` starts, each fired once by a file the test puts into ``SCMS_TEST_FAULTS_DIR``:

- ``kill-deliver``: the worker running a ``deliver`` task SIGKILLs itself after writing the
  batch's certificates and before deleting its pool items (the middle of the batch);
- ``throttle-deliver`` (holding a number n): moto's DynamoDB answers the next n BatchWriteItems of
  delivered certificates with ProvisionedThroughputExceededException (botocore makes 5 attempts,
  so 5 make one ``TransientStoreError`` of the task); ``conflict-deliver`` (n) the same with
  TransactionConflictException, which botocore does not retry (each one is a failed task);
- ``hold-deliver``: the worker running a ``deliver`` task stops before deleting its pool items until
  the FIFO ``release`` is opened (so the stack can be stopped in the middle of a batch).

"Exactly its certificates": every (i, j) of the request is in RaTable once with a response (no
gap, no refusal), the device downloads and verifies all of them, and the ACA answered exactly as
many requests as there are certificates (AcaTable items: a repeated request is answered from the
store, a second certificate would be a second item).
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from scms_service.config import Settings
from scms_service.stores.ca import DynamoDbCaStore

from scms_cli.local import stepfunctions
from scms_cli.local.template import FunctionSpec
from scms_cli.status_cmd import Status, collect
from tests.e2e.conftest import REPO, START_TIMEOUT, RunningStack

FAULTS_ENV = "SCMS_TEST_FAULTS_DIR"
PERIODS = 3
CERTS_PER_PERIOD = 3
STACK_ENV = {
    # Small requests: one period per chunk, several ACA batches over two shards and two lanes.
    "SCMS_CERTS_PER_PERIOD": str(CERTS_PER_PERIOD),
    "SCMS_PROVISION_CHUNK_CERTS": str(CERTS_PER_PERIOD),
    "SCMS_ACA_BATCH_SIZE": "4",
    "SCMS_POOL_SHARDS": "2",
    "SCMS_PROVISION_LANES": "2",
    # A lease left by a stopped stack expires soon after the restart.
    "SCMS_POOL_LEASE_SECONDS": "2",
}
# scms_service.aws: retries mode standard, max_attempts 4, which botocore counts as retries: 5 calls.
BOTOCORE_ATTEMPTS = 5
_ORIGINAL_CALL = stepfunctions._call_in_worker


# --------------------------------------------------------------------------------------------
# Fault injection (runs inside the `scms serve` subprocess and its workers)


def _faults_dir() -> Path | None:
    value = os.environ.get(FAULTS_ENV)
    return Path(value) if value else None


def _take(name: str) -> bool:
    """True once per arming: the file ``name`` of the faults directory is removed by whoever takes it."""
    directory = _faults_dir()
    if directory is None:
        return False
    try:
        (directory / name).unlink()
    except FileNotFoundError:
        return False
    return True


def _mark(name: str, line: str) -> None:
    directory = _faults_dir()
    if directory is not None:
        with (directory / name).open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def _faulty_call(spec: FunctionSpec, payload: Any) -> tuple[bool, Any]:
    """``stepfunctions._call_in_worker`` with the armed worker faults (in a worker process)."""
    if spec.logical_id != "RaBatchFunction" or not isinstance(payload, dict) or payload.get("task") != "deliver":
        return _ORIGINAL_CALL(spec, payload)
    from scms_service.stores.shuffle_pool import DynamoDbShufflePool

    delete_many = DynamoDbShufflePool.delete_many
    if _take("kill-deliver"):

        def die(self: Any, keys: Any) -> None:
            _mark("killed", str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)

        DynamoDbShufflePool.delete_many = die  # type: ignore[method-assign]
    elif _take("hold-deliver"):

        def hold(self: Any, keys: Any) -> None:
            directory = _faults_dir()
            assert directory is not None
            _mark("held", str(os.getpid()))
            with (directory / "release").open("rb") as fifo:  # blocks until the test opens it to write
                fifo.read()
            delete_many(self, keys)

        DynamoDbShufflePool.delete_many = hold  # type: ignore[method-assign]
    try:
        return _ORIGINAL_CALL(spec, payload)
    finally:
        DynamoDbShufflePool.delete_many = delete_many  # type: ignore[method-assign]


# Arm file → (the error moto answers, the file each injection is recorded in).
WRITE_FAULTS = {
    "throttle-deliver": ("ProvisionedThroughputExceededException", "throttled"),
    "conflict-deliver": ("TransactionConflictException", "conflicted"),
}


def _fail_certificate_writes() -> None:
    """moto's BatchWriteItem of delivered certificates fails while an arm file of ``WRITE_FAULTS`` holds a count."""
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.batch_write_item
    lock = threading.Lock()
    target: set[str] = set()  # the certificates of the batch being throttled (one task's writes)

    def batch_write_item(self: Any) -> Any:
        directory = _faults_dir()
        keys = {
            request["PutRequest"]["Item"].get("sk", {}).get("S", "")
            for requests in self.body.get("RequestItems", {}).values()
            for request in requests
            if "PutRequest" in request
        }
        certificates = {key for key in keys if key.startswith("CERT#")}
        if directory is not None and certificates:
            with lock:
                armed = [
                    (directory / name, *fault) for name, fault in WRITE_FAULTS.items() if (directory / name).exists()
                ]
                if not armed:
                    target.clear()
                elif not target or certificates & target:
                    # Only this batch's writes: botocore's retries of it, then the task's retries.
                    path, error, record = armed[0]
                    left = int(path.read_text())
                    target.update(certificates)
                    if left <= 1:
                        path.unlink()
                    else:
                        path.write_text(str(left - 1))
                    _mark(record, str(left))
                    raise DynamodbException(ERROR_TYPE_PREFIX + error, "injected fault")
        return original(self)

    DynamoHandler.batch_write_item = batch_write_item  # type: ignore[method-assign]


def serve_with_faults(argv: list[str]) -> int:
    """``scms serve`` with the faults armed (``python -c`` entry point of the stack subprocess)."""
    from scms_cli.main import main

    # Pickled by reference: the workers import this module and run _faulty_call.
    stepfunctions._call_in_worker = _faulty_call
    _fail_certificate_writes()
    return main(argv)


# --------------------------------------------------------------------------------------------
# The stack and the device


def _start(state_dir: Path, faults: Path) -> RunningStack:
    """``scms serve`` through ``serve_with_faults`` on free ports; wait until it is ready."""
    environment = {**os.environ, **STACK_ENV, FAULTS_ENV: str(faults), "PYTHONUNBUFFERED": "1"}
    environment.pop("AWS_ENDPOINT_URL", None)
    entry = (
        "import sys; from tests.functional.test_provision_faults import serve_with_faults; "
        "sys.exit(serve_with_faults(sys.argv[1:]))"
    )
    command = [
        sys.executable, "-c", entry, "serve",
        "--port", "0", "--moto-port", "0", "--state-dir", str(state_dir), "--snapshot-seconds", "0",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    stack = RunningStack(process=process, state_dir=state_dir)
    threading.Thread(target=stack._read, name="scms-serve-output", daemon=True).start()
    if not stack._ready.wait(START_TIMEOUT) or not stack.url:
        stack.stop(signal.SIGKILL)
        raise AssertionError(f"scms serve did not become ready:\n{stack.output}")
    return stack


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningStack, Path]]:
    """One stack for the kill and throttle tests, and its faults directory."""
    faults = tmp_path_factory.mktemp("faults")
    stack = _start(tmp_path_factory.mktemp("scms-state"), faults)
    try:
        yield stack, faults
    finally:
        status = stack.stop()
        assert status == 0, f"scms serve exited with {status}:\n{stack.output}"


def _ee(url: str, state: Path, *args: str) -> tuple[int, str]:
    """The real ``scms-ee`` command line, in this process (download opened in threads only)."""
    from scms_ee.main import main

    out = io.StringIO()
    code = main(["--url", url, "--state", str(state), *args], out=out)
    return code, out.getvalue()


def _enrolled(stack: RunningStack, state: Path, device_id: str) -> None:
    assert _ee(stack.url, state, "init")[0] == 0
    assert _ee(stack.url, state, "register", f"--api-key={stack.api_key}", "--device-id", device_id)[0] == 0
    assert _ee(stack.url, state, "enroll", "--type", "explicit")[0] == 0


def _request_hash(output: str) -> str:
    match = re.search(r"^request ([0-9A-F]{16}) acked", output, re.MULTILINE)
    assert match, output
    return match.group(1).lower()


def _client(stack: RunningStack, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=stack.endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def _aca_answers(stack: RunningStack) -> int:
    """Requests the ACA has answered (AcaTable items: one per RaAcaCertRequestSpdu hash)."""
    pages = _client(stack, "dynamodb").get_paginator("scan").paginate(TableName="scms-aca", Select="COUNT")
    return sum(page["Count"] for page in pages)


def _delivered(stack: RunningStack, request_hash: str) -> list[tuple[int, int, bool]]:
    """(i, j, has a certificate) of every CERT# item of the request in RaTable."""
    pages = (
        _client(stack, "dynamodb")
        .get_paginator("query")
        .paginate(
            TableName="scms-ra",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :cert)",
            ExpressionAttributeValues={":pk": {"S": f"REQ#{request_hash}"}, ":cert": {"S": "CERT#"}},
        )
    )
    out = []
    for page in pages:
        for item in page["Items"]:
            _, i, j = item["sk"]["S"].split("#")
            out.append((int(i), int(j), "spdu" in item))
    return out


def _assert_exactly_its_certificates(stack: RunningStack, request_hash: str, first_i: int) -> None:
    grid = [(i, j, True) for i in range(first_i, first_i + PERIODS) for j in range(CERTS_PER_PERIOD)]
    assert sorted(_delivered(stack, request_hash)) == grid


def _execution(stack: RunningStack, request_hash: str) -> tuple[str, list[dict[str, Any]]]:
    """The request's execution: its status (once ended) and its history events."""
    sfn = _client(stack, "stepfunctions")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                   if m["name"] == "ProvisionStateMachine")  # fmt: skip
    arn = machine.replace(":stateMachine:", ":execution:") + f":{request_hash}"
    deadline = time.monotonic() + 60
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "execution still running"
        time.sleep(0.05)  # polling moto's execution thread, not timing anything
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events.extend(page["events"])
    return status, events


def _failed_tasks(events: list[dict[str, Any]]) -> list[str]:
    return [e["lambdaFunctionFailedEventDetails"]["error"] for e in events if e["type"] == "LambdaFunctionFailed"]


def _entered(events: list[dict[str, Any]]) -> set[str]:
    return {e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e}


def _status(stack: RunningStack) -> Status:
    """What ``scms status`` reads from the stack's tables."""
    settings, dynamodb = Settings(), _client(stack, "dynamodb")
    return collect(settings, dynamodb, DynamoDbCaStore.from_settings(settings, client=dynamodb), url=None)


def _first_i(device: Path, request_hash: str) -> int:
    record = json.loads((device / "provisioning" / request_hash.upper() / "request.json").read_text())
    return int(record["first_i"])


# --------------------------------------------------------------------------------------------
# A crashed worker process, in isolation


CRASHING_TASK = """
import os, signal


def task(event, context):
    if event["n"] < 0:
        os.kill(os.getpid(), signal.SIGKILL)
    if event["n"] == 0:
        raise ValueError("zero")
    return {"n": event["n"] * 2, "pid": os.getpid()}
"""


def test_a_killed_worker_is_a_retried_lambda_error_and_a_new_pool_serves_the_next_task(tmp_path: Path) -> None:
    # Given a task function in the local worker pool,
    code = tmp_path / "code"
    code.mkdir()
    (code / "tasks.py").write_text(textwrap.dedent(CRASHING_TASK))
    stepfunctions.start_process_pool([FunctionSpec("CrashFunction", code, "tasks.task", {})], workers=2)
    try:
        before = json.loads(stepfunctions._dispatch("CrashFunction", {"n": 1})[0])["pid"]
        # When its worker process dies in the middle of the task,
        text, errored = stepfunctions._dispatch("CrashFunction", {"n": -1})
        # Then the invocation fails with the Lambda service error the ASL retries,
        assert errored and json.loads(text)["errorType"] == stepfunctions.WORKER_CRASHED
        # and the next task runs on a new worker.
        text, errored = stepfunctions._dispatch("CrashFunction", {"n": 21})
        assert not errored and json.loads(text)["n"] == 42 and json.loads(text)["pid"] != before
        # Twin: an exception the handler raises keeps its own name (never retried as a crash).
        text, errored = stepfunctions._dispatch("CrashFunction", {"n": 0})
        assert errored and json.loads(text)["errorType"] == "ValueError"
    finally:
        stepfunctions.stop_process_pool()


# --------------------------------------------------------------------------------------------
# Faults in the middle of a real provisioning


def test_a_worker_killed_in_the_middle_of_a_batch_is_retried_and_every_certificate_arrives_once(
    faulty: tuple[RunningStack, Path], tmp_path: Path
) -> None:
    # Given an enrolled device, and the first `deliver` armed to kill its worker after writing the
    # batch's certificates and before deleting its pool items,
    stack, faults = faulty
    device = tmp_path / "obu-killed"
    _enrolled(stack, device, "fault-kill")
    answered = _aca_answers(stack)
    (faults / "kill-deliver").touch()
    # When the device provisions three periods,
    code, out = _ee(stack.url, device, "provision", "--variant", "ubk", "--cert", "implicit",
                    "--periods", str(PERIODS), "--workers", "1", "--wait", "120")  # fmt: skip
    # Then a worker died (and only once),
    assert (faults / "killed").read_text().count("\n") == 1 and not (faults / "kill-deliver").exists()
    # the device downloaded and verified all of its certificates,
    assert code == 0, out
    assert f"{PERIODS * CERTS_PER_PERIOD} verified" in out
    rh = _request_hash(out)
    _assert_exactly_its_certificates(stack, rh, _first_i(device, rh))
    # the ACA issued each certificate once,
    assert _aca_answers(stack) - answered == PERIODS * CERTS_PER_PERIOD
    # and the execution succeeded through the state machine's retries of the crashed invocations.
    status, events = _execution(stack, rh)
    assert status == "SUCCEEDED"
    failures = _failed_tasks(events)
    assert failures and set(failures) == {stepfunctions.WORKER_CRASHED}
    assert "MarkFailed" not in _entered(events)


def test_a_throttled_certificate_write_is_retried_by_the_state_machine(
    faulty: tuple[RunningStack, Path], tmp_path: Path
) -> None:
    # Given an enrolled device, and DynamoDB throttling the next certificate write through all of
    # botocore's attempts (so the deliver task itself fails with TransientStoreError),
    stack, faults = faulty
    device = tmp_path / "obu-throttled"
    _enrolled(stack, device, "fault-throttle")
    answered = _aca_answers(stack)
    (faults / "throttle-deliver").write_text(str(BOTOCORE_ATTEMPTS))
    # When the device provisions three periods,
    code, out = _ee(stack.url, device, "provision", "--variant", "obk", "--cert", "explicit",
                    "--periods", str(PERIODS), "--workers", "1", "--wait", "120")  # fmt: skip
    # Then the throttling happened,
    assert (faults / "throttled").read_text().split() == [str(n) for n in range(BOTOCORE_ATTEMPTS, 0, -1)]
    # every certificate arrived once and verified, and the ACA issued each once,
    assert code == 0, out
    assert f"{PERIODS * CERTS_PER_PERIOD} verified" in out
    rh = _request_hash(out)
    _assert_exactly_its_certificates(stack, rh, _first_i(device, rh))
    assert _aca_answers(stack) - answered == PERIODS * CERTS_PER_PERIOD
    # and the history shows the deliver task failing with TransientStoreError once, then going on.
    status, events = _execution(stack, rh)
    assert status == "SUCCEEDED"
    assert _failed_tasks(events) == ["TransientStoreError"]
    assert "MarkFailed" not in _entered(events)


def test_the_stack_restarted_in_the_middle_of_a_batch_resumes_and_the_device_gets_every_certificate(
    tmp_path: Path,
) -> None:
    # Given a stack whose first `deliver` stops before deleting its pool items (the middle of a batch),
    faults, state_dir, device = tmp_path / "faults", tmp_path / "state", tmp_path / "obu-restart"
    faults.mkdir()
    os.mkfifo(faults / "release")
    stack = _start(state_dir, faults)
    try:
        _enrolled(stack, device, "fault-restart")
        (faults / "hold-deliver").touch()
        code, out = _ee(stack.url, device, "provision", "--variant", "cubk", "--cert", "implicit",
                        "--periods", str(PERIODS), "--no-download")  # fmt: skip
        assert code == 0, out
        rh = _request_hash(out)
        deadline = time.monotonic() + 60
        while not (faults / "held").exists():
            assert time.monotonic() < deadline and stack.process.poll() is None, stack.output
            time.sleep(0.05)  # waiting for the batch to reach the fault, not timing anything
        # (scms status shows it running, with its expected certificates),
        running = [r for r in _status(stack).running if r.request_hash == rh]
        assert [(r.status, r.expected) for r in running] == [("GENERATING", PERIODS * CERTS_PER_PERIOD)]
        # When the stack is stopped (SIGTERM: it saves its state) while that batch is held,
        stack.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        while not any(line.startswith("state: saved") for line in stack.lines):
            assert time.monotonic() < deadline, stack.output
            time.sleep(0.05)
    finally:
        _release(faults / "release")
        status = stack.stop()
    assert status == 0, stack.output
    saved = json.loads((state_dir / "state.json").read_text())
    assert f'"REQ#{rh}"' in json.dumps(saved) and '"GENERATING"' in json.dumps(saved)
    # and started again on the same state directory,
    restarted = _start(state_dir, faults)
    try:
        assert "provisioning resumed: 1 request(s)" in restarted.output
        # Then the device downloads and verifies every certificate,
        code, out = _ee(restarted.url, device, "download", "--workers", "1", "--wait", "120")
        assert code == 0, out
        assert f"{PERIODS * CERTS_PER_PERIOD} verified" in out
        # each (i, j) is stored once, the ACA issued each certificate once (the held batch was
        # answered again from its store),
        _assert_exactly_its_certificates(restarted, rh, _first_i(device, rh))
        assert _aca_answers(restarted) == PERIODS * CERTS_PER_PERIOD
        # and the resumed execution succeeded.
        ended, events = _execution(restarted, rh)
        assert ended == "SUCCEEDED" and "MarkFailed" not in _entered(events)
    finally:
        assert restarted.stop() == 0, restarted.output


def _release(fifo: Path) -> None:
    """Let a held ``deliver`` go on (no reader: nothing is held, nothing to do)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


def test_a_write_failing_beyond_the_state_machines_retries_fails_the_request_with_a_readable_reason(
    faulty: tuple[RunningStack, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Twin of the throttling test: given a certificate write failing transiently on the first try
    # and on each of the ASL's 3 retries (TransactionConflictException: botocore does not retry it),
    stack, faults = faulty
    device = tmp_path / "obu-conflicted"
    _enrolled(stack, device, "fault-conflict")
    (faults / "conflict-deliver").write_text("4")
    # When the device provisions,
    code, out = _ee(stack.url, device, "provision", "--variant", "ubk", "--cert", "explicit",
                    "--periods", str(PERIODS), "--workers", "1", "--wait", "120")  # fmt: skip
    # Then the deliver task failed four times, the Catch marked the request FAILED,
    assert (faults / "conflicted").read_text().split() == ["4", "3", "2", "1"]
    rh = _request_hash(out)
    status, events = _execution(stack, rh)
    assert status == "FAILED"
    assert _failed_tasks(events) == ["TransientStoreError"] * 4 and "MarkFailed" in _entered(events)
    # and the device was told so (410 with the reason) instead of waiting for a batch that never comes.
    assert code != 0
    assert "HTTP 410" in capsys.readouterr().err
    record = _client(stack, "dynamodb").get_item(
        TableName="scms-ra", Key={"pk": {"S": f"REQ#{rh}"}, "sk": {"S": "REQ"}}
    )["Item"]
    assert record["status"]["S"] == "FAILED" and record["statusReason"]["S"].startswith("TransientStoreError")
