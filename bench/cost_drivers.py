"""``python -m bench.cost_drivers``: the AWS requests one provisioning costs, counted on the local stack, priced.

The local stack (``scms serve``: moto, the real handlers, the template's state machine) is started with
``bench/call_probe`` on its PYTHONPATH, which writes one line per AWS API call the moto server answers
(DynamoDB with its request and response bodies). One device is registered, then, each in its own window:

- **enrollment**: the device enrolls (``POST /v3/enrollment-certificate``, the CCF download);
- **provisioning** of ``periods`` i-periods (x 20 certificates), for each shape in ``SHAPES``: the
  authorization request, the state machine's execution, every period downloaded and verified.

Counted per window: Lambda invocations (the state machine's tasks: its history's
``LambdaFunctionScheduled`` events, as the local stack hands them to the handlers without a moto
invoke; direct invokes seen at moto; and one per device HTTP request through API Gateway), Step
Functions state transitions (``*StateEntered`` events of the execution history: "a state transition
each time a step of your workflow is executed"), DynamoDB read and write request units (on-demand
rules applied to the recorded items: writes ceil(size / 1 KB), x2 in a transaction, plus one per
global secondary index whose key the item carries; reads ceil(size / 4 KB) per item returned, halved
when eventually consistent, a GetItem that finds nothing 1 unit; the item size as DynamoDB counts it:
attribute names + values), S3 PUT and GET, Secrets Manager and KMS calls. Bench-only calls
(DescribeExecution, GetExecutionHistory) are left out. Lambda GB-seconds use the durations of the
execution history's tasks on this machine (scheduled → succeeded, the local pool's queueing
included): an upper bound for Lambda on AWS, where the same code runs alone.

Prices are inputs (``PRICES``, us-east-1 on-demand list prices, ``PRICES_AS_OF``). Results:
``bench/results/cost-drivers.json`` and a Markdown table for docs/deploy.md (printed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import record
from .timing import progress

__all__ = [
    "PRICES",
    "PRICES_AS_OF",
    "Usage",
    "attribute_size",
    "costs",
    "dynamodb_units",
    "item_size",
    "task_invocations",
    "transitions",
    "usage_of",
]

PROBE = Path(__file__).resolve().parent / "call_probe"
RESULTS = Path(__file__).resolve().parent / "results" / "cost-drivers.json"
SHAPES: tuple[tuple[str, int], ...] = (("weekly top-up: 1 period", 1), ("a year: 52 periods", 52),
                                       ("3-year burst: 156 periods", 156))  # fmt: skip
PRICES_AS_OF = "2026-11-25"
PRICES: dict[str, float] = {
    # USD, us-east-1, on-demand list prices (inputs: change them here for another region or date).
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,  # x86
    "sfn_state_transition": 0.025 / 1e3,  # Standard workflows
    "dynamodb_wru": 0.625 / 1e6,  # on-demand, since the 2024-11-01 reduction
    "dynamodb_rru": 0.125 / 1e6,
    "s3_put": 0.005 / 1e3,  # PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1e3,  # GET, SELECT and others
    "api_gateway_request": 3.50 / 1e6,  # REST API, first 333 million a month
    "secrets_manager_call": 0.05 / 1e4,
    "kms_request": 0.03 / 1e4,
}
_BENCH_ONLY = {"DescribeExecution", "GetExecutionHistory", "ListStateMachines", "ListExecutions"}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


# --- DynamoDB request units from recorded calls (pure) --------------------------------------------


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes of one DynamoDB attribute value as the service counts them (AWS "Item sizes and formats")."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode("utf-8"))
    if kind == "N":
        digits = str(raw).lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(raw) * 3 // 4 - str(raw).count("=")  # base64 on the wire
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: v}) for v in raw)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + 1 + attribute_size(v) for k, v in raw.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes of an item: every attribute's name and value."""
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


@dataclass
class _Items:
    """The last size seen of each item (by table and key), to size updates and deletes."""

    sizes: dict[tuple[str, str], int] = field(default_factory=dict)
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def key(self, table: str, item: Mapping[str, Any]) -> tuple[str, str]:
        names = self.keys.get(table) or tuple(n for n in ("pk", "sk") if n in item)
        return table, json.dumps({n: item.get(n) for n in names}, sort_keys=True)

    def seen(self, table: str, item: Mapping[str, Any]) -> int:
        size = item_size(item)
        self.sizes[self.key(table, item)] = size
        return size

    def size_of(self, table: str, key: Mapping[str, Any]) -> int | None:
        return self.sizes.get(self.key(table, key))


def dynamodb_units(
    calls: Iterable[Mapping[str, Any]], *, gsi_keys: frozenset[str] = frozenset()
) -> tuple[float, float, Counter[str]]:
    """(read request units, write request units, calls by operation) of recorded DynamoDB calls, in order.

    ``gsi_keys``: attribute names that are the partition key of a global secondary index: an item
    written with one also writes that index (one unit: their projections are small).
    """
    items = _Items()
    rru = wru = 0.0
    ops: Counter[str] = Counter()
    for call in calls:
        op, request, response = call["op"], call.get("request") or {}, call.get("response") or {}
        if call.get("status", 200) >= 400:
            continue  # a refused conditional write or a throttle: billed on AWS too, but not the steady state
        ops[op] += 1
        table = request.get("TableName", "")
        consistent = bool(request.get("ConsistentRead"))
        if op == "GetItem":
            found = response.get("Item")
            rru += _read_units(items.seen(table, found) if found else 0, consistent)
        elif op in ("Query", "Scan"):
            sizes = [items.seen(table, i) for i in response.get("Items", [])]
            rru += _read_units(sum(sizes), consistent) if sizes else (1.0 if consistent else 0.5)
        elif op == "BatchGetItem":
            for name, found in response.get("Responses", {}).items():
                rru += sum(_read_units(items.seen(name, i), False) for i in found)
        elif op == "PutItem":
            wru += _write_units(items.seen(table, request["Item"])) + _gsi(request["Item"], gsi_keys)
        elif op == "UpdateItem":
            after = response.get("Attributes")
            size = items.seen(table, after) if after else (items.size_of(table, request["Key"]) or 0)
            wru += _write_units(size) + _gsi(after or {}, gsi_keys)
        elif op == "DeleteItem":
            wru += _write_units(items.size_of(table, request["Key"]) or 0)
        elif op == "BatchWriteItem":
            for name, writes in request.get("RequestItems", {}).items():
                for w in writes:
                    if "PutRequest" in w:
                        wru += _write_units(items.seen(name, w["PutRequest"]["Item"])) + _gsi(
                            w["PutRequest"]["Item"], gsi_keys
                        )
                    else:
                        wru += _write_units(items.size_of(name, w["DeleteRequest"]["Key"]) or 0)
        elif op == "TransactWriteItems":
            for entry in request.get("TransactItems", []):
                ((kind, body),) = entry.items()
                if kind == "Put":
                    size = items.seen(body["TableName"], body["Item"])
                    wru += 2 * _write_units(size) + _gsi(body["Item"], gsi_keys)
                elif kind in ("Update", "Delete"):
                    wru += 2 * _write_units(items.size_of(body["TableName"], body["Key"]) or 0)
                else:  # ConditionCheck: a read, at the transactional rate
                    rru += 2.0
        elif op == "TransactGetItems":
            for got in response.get("Responses", []):
                rru += 2 * _read_units(item_size(got.get("Item", {})), True)
    return rru, wru, ops


def _gsi(item: Mapping[str, Any], gsi_keys: frozenset[str]) -> int:
    return sum(1 for name in item if name in gsi_keys)


# --- one window's usage (pure) --------------------------------------------------------------------


@dataclass
class Usage:
    """What one window of the run asked of AWS."""

    certificates: int
    api_requests: int  # device HTTP requests: one API Gateway request and one Lambda invocation each
    task_invocations: Counter[str]  # Lambda invokes seen at moto (the state machine's tasks), by function
    state_transitions: int
    dynamodb_rru: float
    dynamodb_wru: float
    dynamodb_calls: Counter[str]
    s3_put: int
    s3_get: int
    secrets_calls: int
    kms_calls: int
    lambda_gb_seconds: float
    other_calls: Counter[str] = field(default_factory=Counter)

    @property
    def lambda_invocations(self) -> int:
        return self.api_requests + sum(self.task_invocations.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "certificates": self.certificates, "api_requests": self.api_requests,
            "lambda_invocations": self.lambda_invocations, "task_invocations": dict(self.task_invocations),
            "state_transitions": self.state_transitions, "dynamodb_rru": self.dynamodb_rru,
            "dynamodb_wru": self.dynamodb_wru, "dynamodb_calls": dict(self.dynamodb_calls), "s3_put": self.s3_put,
            "s3_get": self.s3_get, "secrets_manager_calls": self.secrets_calls, "kms_calls": self.kms_calls,
            "lambda_gb_seconds": self.lambda_gb_seconds, "other_calls": dict(self.other_calls),
        }  # fmt: skip


def transitions(history: Sequence[Mapping[str, Any]]) -> int:
    """State transitions of an execution: its ``*StateEntered`` events (Map iterations' states included)."""
    return sum(1 for e in history if str(e.get("type", "")).endswith("StateEntered"))


def task_invocations(history: Sequence[Mapping[str, Any]]) -> Counter[str]:
    """Lambda invocations of an execution's tasks (retries included), by function name."""
    out: Counter[str] = Counter()
    for event in history:
        if event.get("type") == "LambdaFunctionScheduled":
            resource = event.get("lambdaFunctionScheduledEventDetails", {}).get("resource", "")
            out[resource.rsplit(":", 1)[-1]] += 1
    return out


def gb_seconds(history: Sequence[Mapping[str, Any]], memory_mb: Mapping[str, int], default_mb: int) -> float:
    """Lambda GB-seconds of an execution's tasks: each task's scheduled → end time x its function's memory."""
    by_id = {str(e["id"]): e for e in history}
    total = 0.0
    for event in history:
        if event.get("type") not in ("LambdaFunctionSucceeded", "LambdaFunctionFailed", "LambdaFunctionTimedOut"):
            continue
        started = by_id.get(str(event.get("previousEventId")))
        scheduled = by_id.get(str(started.get("previousEventId"))) if started else None
        if scheduled is None:
            continue
        resource = scheduled.get("lambdaFunctionScheduledEventDetails", {}).get("resource", "")
        name = resource.rsplit(":", 1)[-1]
        seconds = _seconds(event["timestamp"]) - _seconds(scheduled["timestamp"])
        total += max(0.0, seconds) * memory_mb.get(name, default_mb) / 1024
    return total


def _seconds(value: Any) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def usage_of(
    calls: Sequence[Mapping[str, Any]], *, certificates: int, api_requests: int, state_transitions: int,
    gb_s: float, gsi_keys: frozenset[str], tasks: Counter[str] | None = None,
) -> Usage:  # fmt: skip
    """The usage of one window from its recorded calls (bench/call_probe lines) and what the device saw."""
    calls = [c for c in calls if c["op"] not in _BENCH_ONLY]
    rru, wru, ops = dynamodb_units((c for c in calls if c["service"] == "dynamodb"), gsi_keys=gsi_keys)
    invokes: Counter[str] = Counter(tasks or {})
    other: Counter[str] = Counter()
    s3_put = s3_get = secrets = kms = 0
    for call in calls:
        service, op = call["service"], call["op"]
        if service == "lambda" and op.startswith("POST ") and op.endswith("/invocations"):
            invokes[op.split("/functions/", 1)[1].split("/", 1)[0].rsplit(":", 1)[-1]] += 1
        elif service == "s3":
            method = op.split(" ", 1)[0]
            if method in ("PUT", "POST"):
                s3_put += 1
            elif method in ("GET", "HEAD"):
                s3_get += 1
        elif service == "secretsmanager":
            secrets += 1
        elif service == "kms":
            kms += 1
        elif service != "dynamodb":
            other[f"{service}:{op}"] += 1
    return Usage(certificates, api_requests, invokes, state_transitions, rru, wru, ops, s3_put, s3_get, secrets,
                 kms, gb_s, other)  # fmt: skip


def costs(usage: Usage, prices: Mapping[str, float] = PRICES, *, per: int = 1_000_000) -> dict[str, float]:
    """USD per ``per`` certificates, by driver, from one window's usage."""
    if usage.certificates <= 0:
        raise ValueError("costs: the window issued no certificate")
    scale = per / usage.certificates
    out = {
        "Lambda requests": usage.lambda_invocations * prices["lambda_request"],
        "Lambda duration (local upper bound)": usage.lambda_gb_seconds * prices["lambda_gb_second"],
        "Step Functions transitions": usage.state_transitions * prices["sfn_state_transition"],
        "DynamoDB writes (WRU)": usage.dynamodb_wru * prices["dynamodb_wru"],
        "DynamoDB reads (RRU)": usage.dynamodb_rru * prices["dynamodb_rru"],
        "S3 PUT": usage.s3_put * prices["s3_put"],
        "S3 GET": usage.s3_get * prices["s3_get"],
        "API Gateway requests": usage.api_requests * prices["api_gateway_request"],
        "Secrets Manager calls": usage.secrets_calls * prices["secrets_manager_call"],
        "KMS requests": usage.kms_calls * prices["kms_request"],
    }
    return {k: v * scale for k, v in out.items()}


# --- the run --------------------------------------------------------------------------------------


def _gsi_keys() -> frozenset[str]:
    from scms_cli.local.template import load_template

    keys = set()
    for resource in load_template()["Resources"].values():
        if resource.get("Type") == "AWS::DynamoDB::Table":
            for index in resource["Properties"].get("GlobalSecondaryIndexes", []):
                keys.add(next(k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == "HASH"))
    return frozenset(keys)


def _memory() -> tuple[dict[str, int], int]:
    from scms_cli.local.template import load_template

    template = load_template()
    default = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    sizes = {name: int(r["Properties"].get("MemorySize", default)) for name, r in template["Resources"].items()
             if r.get("Type") == "AWS::Serverless::Function"}  # fmt: skip
    return sizes, default


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run(shapes: Sequence[tuple[str, int]] = SHAPES) -> dict[str, Any]:
    """Start a probed local stack, enroll one device, provision each shape with a new device; the usage of each."""
    from .local_stack import start_stack
    from .provision import (
        STACK_ENV,
        Executions,
        RecordingTransport,
        provision_and_download,
        registered_device,
    )

    gsi_keys = _gsi_keys()
    memory, default_mb = _memory()
    out: dict[str, Any] = {"prices": PRICES, "prices_as_of": PRICES_AS_OF, "windows": []}
    with tempfile.TemporaryDirectory(prefix="scms-cost-") as tmp:
        calls_file = Path(tmp) / "calls.jsonl"
        current = os.environ.get("PYTHONPATH")
        env = {**STACK_ENV, "SCMS_BENCH_CALLS_OUT": str(calls_file),
               "PYTHONPATH": str(PROBE) + (os.pathsep + current if current else "")}  # fmt: skip
        progress("cost drivers: starting scms serve with the call probe")
        stack = start_stack(Path(tmp) / "state", log_path=Path(tmp) / "serve.log", env=env)
        try:
            executions = Executions(stack)
            for label, periods in [("enrollment", 0), *shapes]:
                state = registered_device(stack, Path(tmp), f"cost-{periods:03d}")
                mark = len(_lines(calls_file))
                transport = RecordingTransport()
                if periods == 0:
                    _enroll(stack, state, transport)
                    history: list[dict[str, Any]] = []
                    certificates = 1
                else:
                    _enroll(stack, state, RecordingTransport())
                    mark = len(_lines(calls_file))
                    progress(f"cost drivers: {label}")
                    done = provision_and_download(stack, state, "cubk", "explicit", periods, wait=900.0, workers=None,
                                                  transport=transport)  # fmt: skip
                    executions.finished(done.request_hash)
                    history = executions.history(done.request_hash)
                    certificates = done.verified
                window = _lines(calls_file)[mark:]
                usage = usage_of(window, certificates=certificates, api_requests=len(transport.calls),
                                 state_transitions=transitions(history),
                                 gb_s=gb_seconds(history, memory, default_mb), gsi_keys=gsi_keys,
                                 tasks=task_invocations(history))  # fmt: skip
                out["windows"].append({"label": label, "periods": periods, "usage": usage.to_json(),
                                       "usd_per_million_certificates": costs(usage) if periods else None,
                                       "usd_per_million_devices": costs(usage) if not periods else None})  # fmt: skip
        finally:
            stack.stop(timeout=60.0)
    out["environment"] = record.environment()
    return out


def _enroll(stack: Any, state: Any, transport: Any) -> None:
    from scms_ee import enroll as enroll_use_case
    from scms_ee import fetch_chain as fetch_chain_use_case
    from scms_ee.client import Client
    from scms_ee.trace import Trace

    from scms_codec import time32

    client = Client(stack.url, timeout=120, transport=transport)
    enroll_use_case.enroll(state, client, Trace(None), cert_type="explicit", pinned_root=None, now=time32.now(),
                           validity_years=6, say=lambda _line: None)  # fmt: skip
    fetch_chain_use_case.fetch_chain(state, client, Trace(None), pinned_root=None, series=None, now=time32.now(),
                                     say=lambda _line: None)  # fmt: skip


def markdown(results: Mapping[str, Any]) -> str:
    """The tables of docs/deploy.md: counts per certificate and USD per million certificates, by shape."""
    windows = [w for w in results["windows"] if w["periods"]]
    head = "| per certificate | " + " | ".join(f"{w['label']} ({w['usage']['certificates']:,})" for w in windows) + " |"
    rows = [head, "|---|" + "---:|" * len(windows)]
    for key, label in (("lambda_invocations", "Lambda invocations"), ("state_transitions", "Step Functions "
                       "state transitions"), ("dynamodb_wru", "DynamoDB WRU"), ("dynamodb_rru", "DynamoDB RRU"),
                       ("s3_put", "S3 PUT"), ("s3_get", "S3 GET"), ("api_requests", "API Gateway requests"),
                       ("lambda_gb_seconds", "Lambda GB-s (local upper bound)")):  # fmt: skip
        cells = [f"{w['usage'][key] / w['usage']['certificates']:.4g}" for w in windows]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    rows += ["", "| USD per million certificates | " + " | ".join(w["label"] for w in windows) + " |",
             "|---|" + "---:|" * len(windows)]  # fmt: skip
    drivers = list(windows[0]["usd_per_million_certificates"]) if windows else []
    for driver in drivers:
        rows.append(f"| {driver} | " + " | ".join(f"{w['usd_per_million_certificates'][driver]:,.2f}"
                                                 for w in windows) + " |")  # fmt: skip
    totals = [sum(w["usd_per_million_certificates"].values()) for w in windows]
    rows.append("| **total** | " + " | ".join(f"**{t:,.2f}**" for t in totals) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost_drivers", description=__doc__)
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to save the results (default {RESULTS})")
    parser.add_argument("--render-only", action="store_true", help="measure nothing: print the tables of --json")
    args = parser.parse_args(argv)
    if args.render_only:
        print(markdown(json.loads(args.json.read_text(encoding="utf-8"))))
        return 0
    results = run()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    progress(f"wrote {args.json}")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
