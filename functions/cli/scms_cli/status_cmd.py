"""``scms status``: what the (local) SCMS holds and whether its authorities are healthy (issue #7 §2).

Reads the tables named by ``Settings`` (``SCMS_*``) through boto3 — ``--endpoint`` or
``AWS_ENDPOINT_URL`` points it at the moto server ``scms serve`` prints — and calls
``GET /ra/health``, ``GET /eca/health`` and ``GET /ma/health`` on ``--url``. The internal
authorities have no route: it invokes each of their functions with the health task event
``{"health": true}`` (docs/architecture.md "Observability") — locally (``--endpoint``) by the
template's logical id, which is how ``scms serve`` names them; on AWS by the physical names of
``--stack``'s resources (CloudFormation ``ListStackResources``); with neither, it skips them.
Prints devices by lifecycle state, enrollment certificates issued, provisioning (authorization)
requests by status with the progress of each running one (certificates delivered of those
expected, from RaTable's ``CERT#`` items; a progress bar on a terminal, plain lines otherwise),
every CA role's active certificate (HashedId8, expiry) and the health of each authority. Exit 0
when everything answered and is healthy, 1 otherwise. It reads no secret and prints none (a
request is named by its hash, never by its device's chain id or keys).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError
from scms_service.config import Settings, load_settings
from scms_service.errors import ScmsError
from scms_service.health import HEALTH_EVENT
from scms_service.hierarchy import ROLES
from scms_service.lifecycle import DeviceState
from scms_service.stores.ca import CaStore, DynamoDbCaStore

from scms_codec import time32
from scms_codec.cert.certificate import Certificate

from .management_client import Transport, urllib_transport

Invoker = Callable[[str], Any]
"""Function name → its answer to the health event (raises ``FunctionFailed`` or a botocore error)."""

__all__ = [
    "AUTHORITIES",
    "INTERNAL_FUNCTIONS",
    "RUNNING",
    "CaRole",
    "FunctionFailed",
    "Invoker",
    "Provisioning",
    "Status",
    "add_parser",
    "collect",
    "execute",
    "lambda_invoker",
    "local_functions",
    "progress_bar",
    "render",
    "run",
    "stack_functions",
]

AUTHORITIES = ("ra", "eca", "ma")
# The template's functions without a route (logical id → the authority their health answer names).
INTERNAL_FUNCTIONS: Mapping[str, str] = {
    "AcaFunction": "aca",
    "AcaLookupFunction": "aca-lookup",
    "La1Function": "la1",
    "La1SeedFunction": "la1-seed",
    "La2Function": "la2",
    "La2SeedFunction": "la2-seed",
    "CrlgFunction": "crlg",
    "RaBatchFunction": "ra-batch",
    "EcaTaskFunction": "eca-task",
}
LOCAL_REGION = "us-east-1"
REQUEST_STATUSES = ("ACCEPTED", "GENERATING", "DONE", "FAILED")  # scms_service.stores.auth_requests.RequestStatus
RUNNING = ("ACCEPTED", "GENERATING")
BAR_WIDTH = 30


@dataclass(frozen=True)
class CaRole:
    """A CA role's active certificate as ``scms status`` shows it."""

    role: str
    hashed_id8: str
    expires: int  # Time32
    certificates: int  # every certificate of the role, rotated ones included


@dataclass
class Provisioning:
    """One authorization request's provisioning as ``scms status`` shows it."""

    request_hash: str  # 16 hex
    status: str
    variant: str
    expected: int  # certificates: periods x certificates per period
    delivered: int = 0  # certificates stored for the device
    refused: int = 0  # (i, j) the ACA refused

    @property
    def done(self) -> int:
        """(i, j) answered either way (the RA's finish counts both)."""
        return self.delivered + self.refused


@dataclass
class Status:
    """What ``collect`` found; ``problems`` lists what could not be read or is unhealthy."""

    devices: Counter[str] = field(default_factory=Counter)
    enrollment_certificates: int = 0
    requests: Counter[str] = field(default_factory=Counter)  # provisioning requests by status
    running: list[Provisioning] = field(default_factory=list)  # ACCEPTED or GENERATING, by request hash
    ca_roles: list[CaRole] = field(default_factory=list)
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("status", help="devices, certificates, provisioning, CA roles and health of the SCMS")
    p.add_argument(
        "--url",
        default=os.environ.get("SCMS_URL", "http://127.0.0.1:8080"),
        help="base URL of the API, for the health checks (env SCMS_URL; default http://127.0.0.1:8080)",
    )
    p.add_argument(
        "--endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="AWS endpoint, e.g. the moto URL `scms serve` prints (default AWS_ENDPOINT_URL; none: AWS itself)",
    )
    p.add_argument(
        "--stack",
        default=os.environ.get("SCMS_STACK"),
        help="CloudFormation stack whose internal functions to ask for their health on AWS (env SCMS_STACK; "
        "with --endpoint the local names are used)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=run)


def _scan(client: Any, table: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        page = client.scan(TableName=table, **kwargs, **({"ExclusiveStartKey": start} if start else {}))
        items.extend(page.get("Items", []))
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def _device_counts(client: Any, settings: Settings, status: Status) -> None:
    """Devices, enrollment certificates and provisioning requests: one scan of RaTable (no secret projected)."""
    items = _scan(
        client,
        settings.ra_table,
        ProjectionExpression="pk, sk, #state, #status, #variant, firstI, lastI, certsPerPeriod, refusal",
        ExpressionAttributeNames={"#state": "state", "#status": "status", "#variant": "variant"},
    )
    requests: dict[str, Provisioning] = {}
    answered: Counter[tuple[str, bool]] = Counter()  # (pk, refused) → CERT# items
    for item in items:
        sk = item["sk"]["S"]
        if sk == "STATE":
            status.devices[item.get("state", {}).get("S", "?")] += 1
        elif sk.startswith("ENROLLMENT#"):
            status.enrollment_certificates += 1
        elif sk == "REQ" and item["pk"]["S"].startswith("REQ#"):
            requests[item["pk"]["S"]] = _provisioning(item)
        elif sk.startswith("CERT#") and item["pk"]["S"].startswith("REQ#"):
            answered[(item["pk"]["S"], "refusal" in item)] += 1
    for pk, request in requests.items():
        status.requests[request.status] += 1
        if request.status in RUNNING:
            request.delivered, request.refused = answered[(pk, False)], answered[(pk, True)]
            status.running.append(request)
    status.running.sort(key=lambda r: r.request_hash)


def _provisioning(item: Mapping[str, Any]) -> Provisioning:
    def number(name: str) -> int:
        return int(item.get(name, {}).get("N", "0"))

    periods = number("lastI") - number("firstI") + 1
    return Provisioning(
        request_hash=item["pk"]["S"].removeprefix("REQ#"),
        status=item.get("status", {}).get("S", "?"),
        variant=item.get("variant", {}).get("S", "?"),
        expected=max(0, periods * number("certsPerPeriod")),
    )


def _ca_roles(ca_store: CaStore, status: Status) -> None:
    for role in ROLES:
        record = ca_store.active(role)
        if record is None:
            status.problems.append(f"CA role {role}: no active certificate")
            continue
        cert = Certificate.from_bytes(record.certificate)
        status.ca_roles.append(CaRole(role, cert.hashed_id8.hex(), cert.validity[1], len(ca_store.records(role))))


def _health(url: str, transport: Transport, status: Status) -> None:
    for authority in AUTHORITIES:
        target = f"{url.rstrip('/')}/{authority}/health"
        try:
            code, body = transport("GET", target, {"Accept": "application/json"}, None)
        except (OSError, ValueError) as exc:
            status.health[authority] = {"status": "unreachable", "reason": type(exc).__name__}
            status.problems.append(f"{authority}: health endpoint unreachable ({type(exc).__name__})")
            continue
        try:
            answer = json.loads(body)
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        answer.setdefault("status", f"HTTP {code}")
        answer["http_status"] = code
        status.health[authority] = answer
        if code != 200:
            status.problems.append(f"{authority}: health {code} {answer.get('checks', '')}".rstrip())


class FunctionFailed(Exception):
    """The function ran and raised: the Lambda ``errorType`` (a class name, never its message)."""


def lambda_invoker(client: Any) -> Invoker:
    """Invoke a function synchronously with the health event and return its decoded answer."""

    def invoke(name: str) -> Any:
        answer = client.invoke(FunctionName=name, Payload=json.dumps(dict(HEALTH_EVENT)).encode())
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            error = payload.get("errorType") if isinstance(payload, dict) else None
            raise FunctionFailed(str(error or answer["FunctionError"]))
        return payload

    return invoke


def local_functions() -> dict[str, str]:
    """Logical id → function name under ``scms serve``: the logical id itself (``create_functions``)."""
    return {logical_id: logical_id for logical_id in INTERNAL_FUNCTIONS}


def stack_functions(cloudformation: Any, stack: str) -> dict[str, str]:
    """Logical id → physical name of the internal functions of ``stack`` (those it has)."""
    names: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page.get("StackResourceSummaries", []):
            if resource.get("LogicalResourceId") in INTERNAL_FUNCTIONS:
                names[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    return {logical_id: names[logical_id] for logical_id in INTERNAL_FUNCTIONS if logical_id in names}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
    if isinstance(exc, FunctionFailed):
        return f"{exc}"
    return type(exc).__name__


def _internal_health(functions: Mapping[str, str], invoke: Invoker, status: Status) -> None:
    for logical_id, name in functions.items():
        authority = INTERNAL_FUNCTIONS.get(logical_id, logical_id)
        try:
            answer = invoke(name)
        except (FunctionFailed, ClientError, BotoCoreError, OSError, ValueError) as exc:
            status.health[authority] = {"status": "unreachable", "reason": _reason(exc), "function": logical_id}
            status.problems.append(f"{authority}: {logical_id} not invocable ({_reason(exc)})")
            continue
        if not isinstance(answer, dict):
            answer = {}
        answer.setdefault("status", "?")
        answer["function"] = logical_id
        status.health[authority] = answer
        if answer["status"] != "ok":
            status.problems.append(f"{authority}: health {answer['status']} {answer.get('checks', '')}".rstrip())


def collect(
    settings: Settings,
    dynamodb: Any,
    ca_store: CaStore,
    *,
    url: str | None,
    transport: Transport = urllib_transport,
    functions: Mapping[str, str] | None = None,
    invoke: Invoker | None = None,
) -> Status:
    """Read the counts and CA roles from the tables, the health of each HTTP authority from ``url`` and
    of each internal one by invoking ``functions`` (logical id → name) with ``invoke``."""
    status = Status()
    try:
        _device_counts(dynamodb, settings, status)
        _ca_roles(ca_store, status)
    except (ClientError, BotoCoreError, ScmsError) as exc:
        # botocore's text names the cause (no endpoint, no credentials, no table) and holds no secret.
        status.problems.append(f"tables not readable: {exc}")
    if url:
        _health(url, transport, status)
    if functions and invoke is not None:
        _internal_health(functions, invoke, status)
    return status


def _utc(t: int) -> str:
    return time32.to_datetime(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)


def progress_bar(done: int, expected: int, width: int = BAR_WIDTH) -> str:
    """``[#######-------]  45%`` (a request expecting nothing is complete)."""
    fraction = 1.0 if expected <= 0 else min(1.0, done / expected)
    filled = int(fraction * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {int(fraction * 100):3d}%"


def _render_provisioning(status: Status, out: TextIO, *, tty: bool) -> None:
    print("Provisioning requests by status", file=out)
    rows: list[tuple[str, ...]] = [("STATUS", "REQUESTS")]
    for name in [*REQUEST_STATUSES, *sorted(set(status.requests) - set(REQUEST_STATUSES))]:
        rows.append((name, str(status.requests.get(name, 0))))
    _table(rows, out)
    if not status.running:
        return
    print(file=out)
    print("Running provisioning (certificates delivered / expected)", file=out)
    for r in status.running:
        refused = f", {r.refused} refused" if r.refused else ""
        counts = f"{r.delivered}/{r.expected}{refused}"
        if tty:
            print(f"  {r.request_hash}  {r.status:10}  {progress_bar(r.done, r.expected)}  {counts}", file=out)
        else:
            print(f"  {r.request_hash}  {r.status}  {r.variant}  {counts}", file=out)


def render(status: Status, out: TextIO, *, now: int, tty: bool = False) -> None:
    """The tables ``scms status`` prints (``tty``: progress bars for running provisioning)."""
    if status.health:
        print("Health", file=out)
        rows: list[tuple[str, ...]] = [("AUTHORITY", "STATUS", "TABLE", "CA", "VERSION")]
        for authority, answer in status.health.items():
            checks: Mapping[str, Any] = answer.get("checks") or {}
            rows.append(
                (
                    authority,
                    str(answer.get("status", "?")),
                    str(checks.get("table", "-")),
                    str(checks.get("ca", "-")),
                    str(answer.get("version", "-")),
                )
            )
        _table(rows, out)
        print(file=out)
    print("Devices by lifecycle state", file=out)
    rows = [("STATE", "DEVICES")]
    known = [state.value for state in DeviceState]
    for state in [*known, *sorted(set(status.devices) - set(known))]:
        rows.append((state, str(status.devices.get(state, 0))))
    rows.append(("total", str(sum(status.devices.values()))))
    _table(rows, out)
    print(file=out)
    print(f"Enrollment certificates issued: {status.enrollment_certificates}", file=out)
    print(file=out)
    _render_provisioning(status, out, tty=tty)
    print(file=out)
    print("CA roles (active certificates)", file=out)
    rows = [("ROLE", "HASHEDID8", "EXPIRES (UTC)", "STATE", "CERTIFICATES")]
    for ca in status.ca_roles:
        rows.append(
            (ca.role, ca.hashed_id8, _utc(ca.expires), "valid" if ca.expires > now else "EXPIRED", str(ca.certificates))
        )
    _table(rows, out)
    if status.problems:
        print(file=out)
        print("Problems", file=out)
        for problem in status.problems:
            print(f"  - {problem}", file=out)


def as_json(status: Status) -> dict[str, Any]:
    return {
        "health": status.health,
        "devices": dict(status.devices),
        "enrollment_certificates": status.enrollment_certificates,
        "provisioning": {
            "by_status": dict(status.requests),
            "running": [
                {
                    "request_hash": r.request_hash,
                    "status": r.status,
                    "variant": r.variant,
                    "delivered": r.delivered,
                    "refused": r.refused,
                    "expected": r.expected,
                }
                for r in status.running
            ],
        },
        "ca_roles": [
            {
                "role": c.role,
                "hashed_id8": c.hashed_id8,
                "expires": time32.to_unix(c.expires),
                "certificates": c.certificates,
            }
            for c in status.ca_roles
        ],
        "problems": status.problems,
    }


def execute(
    settings: Settings,
    dynamodb: Any,
    ca_store: CaStore,
    *,
    url: str | None,
    now: int,
    out: TextIO,
    as_json_output: bool = False,
    transport: Transport = urllib_transport,
    tty: bool = False,
    functions: Mapping[str, str] | None = None,
    invoke: Invoker | None = None,
) -> int:
    """Collect and print; 0 when every table answered and every authority is healthy, else 1."""
    status = collect(settings, dynamodb, ca_store, url=url, transport=transport, functions=functions, invoke=invoke)
    if as_json_output:
        print(json.dumps(as_json(status), indent=2, sort_keys=True), file=out)
    else:
        render(status, out, now=now, tty=tty)
    return 1 if status.problems else 0


def _dynamodb_client(endpoint: str | None) -> Any:
    """A DynamoDB client; with an explicit endpoint (the local moto server) fake credentials do when none are set."""
    return _client("dynamodb", endpoint)


def _client(service: str, endpoint: str | None) -> Any:
    import boto3

    session = boto3.session.Session()
    kwargs: dict[str, Any] = {}
    if endpoint:
        kwargs["endpoint_url"] = endpoint
        if session.get_credentials() is None:
            kwargs.update(aws_access_key_id="testing", aws_secret_access_key="testing")  # noqa: S106 (moto)
        if session.region_name is None:
            kwargs["region_name"] = LOCAL_REGION
    return session.client(service, **kwargs)


def run(
    args: argparse.Namespace, transport: Transport = urllib_transport, clients: Callable[..., Any] | None = None
) -> int:
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"scms status: {exc}", file=sys.stderr)
        return 1
    dynamodb = (clients or _dynamodb_client)(args.endpoint)
    functions, invoke = _internal(args)
    return execute(
        settings,
        dynamodb,
        DynamoDbCaStore.from_settings(settings, client=dynamodb),
        url=args.url,
        now=time32.now(),
        out=sys.stdout,
        as_json_output=args.json,
        transport=transport,
        tty=sys.stdout.isatty(),
        functions=functions,
        invoke=invoke,
    )


def _internal(args: argparse.Namespace) -> tuple[dict[str, str], Invoker | None]:
    """The internal functions to ask and how: locally by logical id, on AWS by ``--stack``; else none."""
    stack = getattr(args, "stack", None)
    if args.endpoint:
        return local_functions(), lambda_invoker(_client("lambda", args.endpoint))
    if not stack:
        return {}, None
    try:
        return stack_functions(_client("cloudformation", None), stack), lambda_invoker(_client("lambda", None))
    except (ClientError, BotoCoreError) as exc:
        reason = f"stack {stack}: {_reason(exc)}"

        def unlisted(name: str) -> Any:
            raise FunctionFailed(reason)

        return local_functions(), unlisted  # every internal authority reported, none healthy
