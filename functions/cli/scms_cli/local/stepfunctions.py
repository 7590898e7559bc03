"""Step Functions locally: the template's state machines in moto (the real ASL), tasks on the real handlers.

moto runs a state machine's Lambda tasks through ``LambdaFunction._invoke_lambda``, which needs
Docker. ``install_lambda_patch`` replaces that one method: the task calls the real handler of the
template function the moto function stands for (platform.md, "In-process Lambdas"). The error
type becomes the ASL error name, so ``Retry``/``Catch`` match as on AWS. Functions handed to
``start_process_pool`` run in a pool of worker processes instead: expansion and issuance are
CPU-bound and the GIL would keep threads on one core (platform.md "Fan-out CPU"), and moto runs
Map iterations on threads, so a pool of two uses both cores.

A worker that dies in the middle of a task (killed, out of memory) breaks a
``ProcessPoolExecutor``: every task running or queued in it fails with ``BrokenProcessPool`` and
the pool accepts nothing more. The dispatch then starts a new pool and answers each of those
invocations with ``Lambda.ServiceException``, what Lambda reports of a crashed container and an
error name the ASL's ``Retry`` lists: the state machine retries the task on the new workers, and the
tasks are idempotent (docs/architecture.md "Provisioning pipeline").

moto's ASL engine reaches a Lambda task through a boto3 client it creates for every task (plus,
under ``scms serve``, an HTTP round trip to the moto server): about 10 ms a task. The patch also
routes the engine's Lambda tasks of known functions straight to the same dispatch (same payloads,
same error documents), and ``install_lambda_patch`` makes two semantics-preserving speed-ups of
the engine (``_speed_up_asl_engine``): parsed JSONPaths are cached, and the engine's copies of
JSON state data use a plain JSON clone instead of ``copy.deepcopy``. Measured on a 13-chunk
execution with trivial tasks (753 history events): 2.3 s without, about 0.5 s with them.

moto also parses the state machine's definition (antlr4, then its preprocessor) at the start of
every execution. ``_ParsedDefinitions`` parses each definition text once and hands the same
program to every later execution of it (an updated definition is another text: parsed again).
Sharing is sound because moto's program is already shared by the concurrent iterations of a Map
within one execution: components are built at parse time and only read while evaluating; what an
execution changes lives in its ``Environment`` (stack, heap, states, events) or in objects made
during evaluation (job pools, Map run records, branch workers). The one lazily set attribute, a
component's ``heap_key`` (the name of its Retry counters in the execution's heap), is set at parse
time here, so concurrent executions never race on it. Measured on 20 executions of the
provisioning machine with trivial tasks (in-process, no profiler): the parse took 91-98 ms of CPU
per execution, and the process 135-147 ms per execution without the cache, 27-28 ms with it.
"""

from __future__ import annotations

import copy
import functools
import importlib
import io
import json
import logging
import multiprocessing
import os
import threading
import types
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .gateway import Handler, LambdaContext, load_handler
from .template import FunctionSpec, StateMachineSpec, resolve

__all__ = [
    "LAMBDA_ROLE",
    "WORKER_CRASHED",
    "create_functions",
    "create_state_machines",
    "install_lambda_patch",
    "resume_provisioning",
    "start_process_pool",
    "stop_process_pool",
    "uninstall_lambda_patch",
]

log = logging.getLogger(__name__)

LAMBDA_ROLE = "scms-local-lambda"
_HANDLERS: dict[str, Handler] = {}
_original: Callable[..., Any] | None = None
_originals: dict[tuple[Any, str], Any] = {}  # (module, attribute) → what the patches replaced
_patch_lock = threading.Lock()
_POOL: ProcessPoolExecutor | None = None
_POOLED: dict[str, FunctionSpec] = {}
_POOL_WORKERS = 2
_pool_lock = threading.Lock()
WORKER_CRASHED = "Lambda.ServiceException"
"""The error name of an invocation whose worker process died (Lambda's, for a crashed container)."""
_WORKER_HANDLERS: dict[str, Handler] = {}  # inside a worker process: handlers loaded once each


def start_process_pool(specs: Sequence[FunctionSpec], *, workers: int = 2) -> None:
    """Run the tasks of ``specs`` in ``workers`` processes (spawned, with this process's environment).

    Each worker imports every task handler when it starts, and the pool's workers are started here
    (a no-op task each): a provisioning burst right after the start pays no spawn or import.
    """
    global _POOL, _POOL_WORKERS
    _POOLED.update({spec.logical_id: spec for spec in specs})
    with _pool_lock:
        if _POOL is not None:
            return
        _POOL_WORKERS = workers
        _POOL = pool = _new_pool()
    for started in [pool.submit(os.getpid) for _ in range(workers)]:
        started.result()


def _new_pool() -> ProcessPoolExecutor:
    context = multiprocessing.get_context("spawn")  # no fork of a process that runs server threads
    specs = list(_POOLED.values())
    return ProcessPoolExecutor(
        _POOL_WORKERS, mp_context=context, initializer=_init_worker, initargs=(dict(os.environ), specs)
    )


def _replace_broken_pool(broken: ProcessPoolExecutor) -> None:
    """A new pool in place of ``broken`` (once: concurrent callers that saw the same breakage share it)."""
    global _POOL
    with _pool_lock:
        if _POOL is not broken:
            return  # already replaced, or stopped
        _POOL = _new_pool()  # its workers start on the first task
    log.warning("local Lambda: a worker process died; its tasks fail with %s and a new pool runs", WORKER_CRASHED)
    broken.shutdown(wait=False, cancel_futures=True)


def stop_process_pool() -> None:
    """Stop the workers (queued tasks are cancelled); no process is left behind (platform.md pitfalls)."""
    global _POOL
    with _pool_lock:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
    _POOLED.clear()


def _init_worker(environment: dict[str, str], specs: Sequence[FunctionSpec] = ()) -> None:
    os.environ.clear()
    os.environ.update(environment)
    for spec in specs:
        try:
            _worker_handler(spec)
        except Exception as exc:  # a broken function answers its tasks with the error, not a broken pool
            log.warning("worker: %s did not load: %s", spec.logical_id, type(exc).__name__)


def _worker_handler(spec: FunctionSpec) -> Handler:
    """``spec``'s handler in this worker, imported on first use with the function's own environment."""
    handler = _WORKER_HANDLERS.get(spec.logical_id)
    if handler is None:
        environment = {key: str(value) for key, value in spec.environment.items()}
        handler = _WORKER_HANDLERS[spec.logical_id] = load_handler(spec, environment)
    return handler


def _call_in_worker(spec: FunctionSpec, payload: Any) -> tuple[bool, Any]:
    """In a worker: (errored, result or moto's error document), the handler loaded once per process."""
    try:
        handler = _worker_handler(spec)
        return False, handler(payload, LambdaContext(function_name=spec.logical_id))
    except Exception as exc:
        return True, {"errorType": type(exc).__name__, "errorMessage": str(exc)}


def _dispatch(function_name: str, payload: Any) -> tuple[str, bool]:
    """Run ``function_name``'s task on ``payload``: (result JSON or moto's error document JSON, errored)."""
    pooled = _POOLED.get(function_name)
    handler = _HANDLERS.get(function_name)
    if handler is None and pooled is None:
        return json.dumps({"errorType": "ResourceNotFound", "errorMessage": function_name}), True
    pool = _POOL
    try:
        if pooled is not None and pool is not None:
            try:
                errored, outcome = pool.submit(_call_in_worker, pooled, payload).result()
            except BrokenProcessPool:
                # The task may have run partly: like Lambda after a crashed container, say so with
                # a retried error name and let the state machine run it again on a new worker.
                _replace_broken_pool(pool)
                crashed = {"errorType": WORKER_CRASHED, "errorMessage": f"{function_name}: the worker process died"}
                return json.dumps(crashed), True
            if errored:
                log.warning("local Lambda %s raised %s", function_name, outcome["errorType"])
            return json.dumps(outcome), errored
        assert handler is not None
        return json.dumps(handler(payload, LambdaContext(function_name=function_name))), False
    except Exception as exc:
        log.warning("local Lambda %s raised %s", function_name, type(exc).__name__)
        return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}), True


def _invoke(self: Any, event: str | bytes | dict[str, Any] | None = None) -> tuple[str, bool, str]:
    """moto's ``_invoke_lambda`` signature: returns (payload JSON, errored, logs)."""
    try:
        # moto passes the task input as JSON text or, from the ASL engine, already parsed.
        payload = json.loads(event) if isinstance(event, str | bytes) and event else (event or {})
    except ValueError as exc:
        return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}), True, ""
    text, errored = _dispatch(self.function_name, payload)
    return text, errored, ""


def _function_name(name_or_arn: str) -> str:
    """``arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`` or a bare name → the name."""
    parts = name_or_arn.split(":")
    return parts[6] if name_or_arn.startswith("arn:") and len(parts) > 6 else name_or_arn


def _engine_invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
    """moto's ``lambda_eval_utils._invoke_lambda_function``: a known function runs without boto3 or HTTP."""
    name = _function_name(str(parameters["FunctionName"]))
    if name not in _HANDLERS and name not in _POOLED:
        original = _originals[(_lambda_eval_utils(), "_invoke_lambda_function")]
        response: dict[str, Any] = original(parameters=parameters, region=region, state_credentials=state_credentials)
        return response
    raw = parameters.get("Payload")
    payload = json.loads(raw) if raw else {}
    text, errored = _dispatch(name, payload)
    response = {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": json.loads(text)}
    if errored:
        response["FunctionError"] = "Unhandled"  # what Lambda says of an exception the handler raised
    return response


def _lambda_eval_utils() -> types.ModuleType:
    return importlib.import_module("moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils")


def _json_clone(value: Any) -> Any:
    """A deep copy of JSON data (dict, list, str, numbers, bool, None); anything else via ``copy.deepcopy``."""
    kind = type(value)
    if kind is dict:
        return {key: _json_clone(item) for key, item in value.items()}
    if kind is list:
        return [_json_clone(item) for item in value]
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    return copy.deepcopy(value)


# The engine modules whose deep copies are of JSON state data only (inputs, results, errors,
# payload templates): they get the JSON clone. Modules that copy the engine's own stack or
# program state keep copy.deepcopy.
_JSON_COPYING_MODULES = (
    "moto.stepfunctions.parser.asl.eval.states",
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.common.path.result_path",
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.state_parallel",
)
_JSONPATH_PARSING_MODULES = (
    "moto.stepfunctions.parser.asl.utils.json_path",
    "moto.stepfunctions.parser.asl.component.common.path.result_path",
)


def _replace(module: Any, attribute: str, value: Any) -> None:
    _originals.setdefault((module, attribute), getattr(module, attribute))
    setattr(module, attribute, value)


def _asl_parser() -> Any:
    """moto's ``AmazonStateLanguageParser`` (its ``parse`` is a static method)."""
    return importlib.import_module("moto.stepfunctions.parser.asl.parse.asl_parser").AmazonStateLanguageParser


def _set_heap_keys(program: Any) -> None:
    """Give every evaluation component of ``program`` its ``heap_key`` now (moto sets it on first use)."""
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    pending: list[Any] = [program]
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, Component):
            if isinstance(value, EvalComponent):
                _ = value.heap_key
            pending.extend(getattr(value, "__dict__", {}).values())
        elif isinstance(value, list | tuple | set | frozenset):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())


class _ParsedDefinitions:
    """moto's ``AmazonStateLanguageParser.parse``, run once per definition text (the last ``size`` kept).

    Concurrent first executions of one definition wait for a single parse; a definition that does
    not parse is not kept (each attempt raises moto's error again).
    """

    def __init__(self, parse: Callable[[str], tuple[Any, Any]], size: int = 32) -> None:
        self._parse = parse
        self._size = size
        self._lock = threading.Lock()
        self._parsed: dict[str, tuple[Any, Any]] = {}  # definition → (program, parse tree); oldest first
        self._parsing: dict[str, threading.Lock] = {}

    def __call__(self, definition: str) -> tuple[Any, Any]:
        with self._lock:
            parsed = self._parsed.get(definition)
            if parsed is not None:
                return parsed
            parsing = self._parsing.setdefault(definition, threading.Lock())
        with parsing:
            with self._lock:
                parsed = self._parsed.get(definition)
            if parsed is not None:
                return parsed  # parsed by the thread this one waited for
            try:
                parsed = self._parse(definition)
                _set_heap_keys(parsed[0])
                with self._lock:
                    self._parsed[definition] = parsed
                    while len(self._parsed) > self._size:
                        del self._parsed[next(iter(self._parsed))]
            finally:
                with self._lock:
                    self._parsing.pop(definition, None)
        return parsed


def _speed_up_asl_engine() -> None:
    """Cache parsed JSONPaths and definitions, clone JSON state data without ``deepcopy``, call known tasks directly."""
    fast_copy = types.SimpleNamespace(deepcopy=_json_clone, copy=copy.copy)
    for name in _JSON_COPYING_MODULES:
        _replace(importlib.import_module(name), "copy", fast_copy)
    for name in _JSONPATH_PARSING_MODULES:
        module = importlib.import_module(name)
        # A parsed path is immutable (find() only reads it), so one parse serves every thread.
        _replace(module, "parse", functools.lru_cache(maxsize=4096)(module.parse))
    _replace(_lambda_eval_utils(), "_invoke_lambda_function", _engine_invoke)
    parser = _asl_parser()
    # The class attribute is a staticmethod: keep that very object, so uninstalling restores it.
    _originals.setdefault((parser, "parse"), parser.__dict__["parse"])
    parser.parse = staticmethod(_ParsedDefinitions(parser.parse))


def install_lambda_patch(handlers: Mapping[str, Handler]) -> None:
    """Route moto Lambda invocations of the named functions to ``handlers`` (idempotent)."""
    global _original
    from moto.awslambda.models import LambdaFunction

    _HANDLERS.update(handlers)
    with _patch_lock:
        if _original is None:
            _original = LambdaFunction._invoke_lambda
            LambdaFunction._invoke_lambda = _invoke  # type: ignore[method-assign]
            _speed_up_asl_engine()


def uninstall_lambda_patch() -> None:
    global _original
    from moto.awslambda.models import LambdaFunction

    with _patch_lock:
        if _original is not None:
            LambdaFunction._invoke_lambda = _original  # type: ignore[method-assign]
            _original = None
        for (module, attribute), value in _originals.items():
            setattr(module, attribute, value)
        _originals.clear()
    _HANDLERS.clear()
    stop_process_pool()


def create_functions(lambda_client: Any, iam_client: Any, names: Mapping[str, str]) -> dict[str, str]:
    """A moto Lambda function (placeholder code) per ``logical id → handler string``; returns logical id → ARN."""
    try:
        role = iam_client.get_role(RoleName=LAMBDA_ROLE)["Role"]["Arn"]
    except iam_client.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        role = iam_client.create_role(RoleName=LAMBDA_ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# the local cloud runs the real handler in-process\n")
    arns = {}
    for logical_id, handler in names.items():
        try:
            arns[logical_id] = lambda_client.get_function(FunctionName=logical_id)["Configuration"]["FunctionArn"]
            continue
        except lambda_client.exceptions.ResourceNotFoundException:
            pass
        created = lambda_client.create_function(
            FunctionName=logical_id,
            Runtime="python3.11",
            Role=role,
            Handler=handler,
            Code={"ZipFile": buffer.getvalue()},
        )
        arns[logical_id] = created["FunctionArn"]
    return arns


def create_state_machines(
    sfn_client: Any, specs: list[StateMachineSpec], names: Mapping[str, str], role_arn: str
) -> dict[str, str]:
    """Create each ASL file's state machine, ``${Key}`` replaced by its resolved ``DefinitionSubstitutions``."""
    existing = {m["name"]: m["stateMachineArn"] for m in sfn_client.list_state_machines()["stateMachines"]}
    arns = {}
    for spec in specs:
        if spec.logical_id in existing:
            arns[spec.logical_id] = existing[spec.logical_id]
            continue
        definition = spec.definition.read_text(encoding="utf-8")
        for key, value in spec.substitutions.items():
            definition = definition.replace("${" + key + "}", str(resolve(value, names)))
        created = sfn_client.create_state_machine(name=spec.logical_id, definition=definition, roleArn=role_arn)
        arns[spec.logical_id] = created["stateMachineArn"]
    return arns


def resume_provisioning(dynamodb: Any, sfn: Any, table: str, state_machine_arn: str) -> list[str]:
    """Start an execution for every request still ACCEPTED or GENERATING; returns their request hashes.

    moto keeps executions in memory only, so a restarted local stack has lost the ones that were
    running, while the saved RaTable still holds their requests. Each is started again under its
    usual name (the request hash) and input; the tasks are idempotent (a chunk skips what it pooled
    or delivered), so the device still gets each (i, j) exactly once.
    """
    started = []
    paginator = dynamodb.get_paginator("scan")
    pages = paginator.paginate(
        TableName=table,
        FilterExpression="sk = :req AND #status IN (:accepted, :generating)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":req": {"S": "REQ"},
            ":accepted": {"S": "ACCEPTED"},
            ":generating": {"S": "GENERATING"},
        },
        ProjectionExpression="pk",
    )
    for page in pages:
        for item in page.get("Items", []):
            request_hash = item["pk"]["S"].removeprefix("REQ#")
            try:
                sfn.start_execution(
                    stateMachineArn=state_machine_arn,
                    name=request_hash,
                    input=json.dumps({"requestHash": request_hash}),
                )
            except sfn.exceptions.ExecutionAlreadyExists:
                continue
            started.append(request_hash)
    return started
