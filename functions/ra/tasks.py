"""The RA's batch tasks (``RaBatchFunction``, handler ``tasks.handler``): one Lambda, dispatching on ``event["task"]``.

docs/architecture.md "Provisioning pipeline" holds the table of tasks, their inputs and outputs;
each task is one use-case call (``scms_ra.batch_status``, ``expand``, ``shuffle``, ``assemble``).
Errors: ``TransientStoreError`` (the ASL retries it); anything else fails the task and the ASL's
Catch marks the request FAILED. A malformed event raises ``InvalidTaskInput``.

Logs carry the request hash as correlation id for a request's own tasks; ``draw`` and ``deliver``
serve many devices at once and log counts only, so nothing the ACA sees is put beside a device's
request (issue #5 §4). No chain id, device id, key or PLV is logged.

``revoke`` is not a state machine task: the MA invokes it (docs/architecture.md "Calls between
authorities"): ``{"task": "revoke", "by": "acaRequest" | "enrollmentCert" | "device", "value",
"cause", "correlationId"?}`` → ``{"alreadyRevoked", "chains": [{"chainId", "iFirst", "iLast", "jMax"}],
"enrollments": [{"certHash", "expiry"}], "acaRequests": ["<16 hex>", ...]}`` (no device id). Use case
``scms_ra.revoke``; its errors ``RevocationTargetNotFound`` and ``InvalidTaskInput`` (malformed input)
by class name. Its correlation id is the MA's revocation id (``correlationId``), not a request hash.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from scms_ra import batch_status
from scms_ra.assemble import assemble
from scms_ra.expand import expand_chunk, linkage_infos, pool_key
from scms_ra.plan import plan_chunks
from scms_ra.revoke import InvalidRevocation, revoke
from scms_ra.shuffle import AcaCertificates, Ticket, deliver, draw
from scms_service import aws, observability
from scms_service.config import Settings, load_settings
from scms_service.health import answers_health, ca_query_check, table_check
from scms_service.hierarchy import Hierarchy
from scms_service.iperiod import IPeriods
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.auth_requests import DynamoDbAuthRequestStore, RequestNotFound
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.issued_certs import DynamoDbIssuedCertStore
from scms_service.stores.shuffle_pool import DynamoDbShufflePool, Lease, PoolItem

from scms_codec import time32
from scms_codec.errors import ErrorCode

__all__ = ["POOL_ITEM_TTL", "InvalidTaskInput", "handler"]

logger = Logger(service="ra-batch")
tracer = observability.task_tracer("ra-batch")

POOL_ITEM_TTL = 7 * 24 * 3600
"""Seconds a pooled request may wait (its TTL); a batch stalls long before (provision_max_rounds)."""


class InvalidTaskInput(ValueError):
    """The event does not fit its task's input (an ASL error name: a bug upstream, not retried)."""


@functools.cache
def settings() -> Settings:
    """Read once per process (cold start), style.md 14."""
    return load_settings()


class _Ra:
    """Stores, the hierarchy (RA signer, ACA certificates) and the period model, made on first use."""

    @functools.cached_property
    def hierarchy(self) -> Hierarchy:
        s = settings()
        return Hierarchy.load(DynamoDbCaStore.from_settings(s), SecretsManagerKeyVault.from_settings(s))

    @functools.cached_property
    def aca_certificates(self) -> AcaCertificates:
        h = self.hierarchy
        return AcaCertificates([c for r in h.records() if r.role == "aca" if (c := h.by_hashed_id8(r.hashed_id8))])

    @functools.cached_property
    def periods(self) -> IPeriods:
        return IPeriods.from_settings(settings())

    @functools.cached_property
    def requests(self) -> DynamoDbAuthRequestStore:
        return DynamoDbAuthRequestStore.from_settings(settings())

    @functools.cached_property
    def devices(self) -> DynamoDeviceStore:
        return DynamoDeviceStore.from_settings(settings())

    @functools.cached_property
    def pool(self) -> DynamoDbShufflePool:
        return DynamoDbShufflePool.from_settings(settings())

    @functools.cached_property
    def issued(self) -> DynamoDbIssuedCertStore:
        return DynamoDbIssuedCertStore.from_settings(settings())

    @functools.cached_property
    def artifacts(self) -> S3Artifacts:
        return S3Artifacts.from_settings(settings())


_ra = _Ra()


# --------------------------------------------------------------------------------------------
# Event fields


def _field(event: Mapping[str, Any], name: str, kind: type) -> Any:
    value = event.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidTaskInput(f"event.{name}: expected {kind.__name__}")
    return value


def _request_hash(event: Mapping[str, Any]) -> bytes:
    text = _field(event, "requestHash", str)
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise InvalidTaskInput("event.requestHash: expected 16 hex digits") from None
    if len(value) != 8:
        raise InvalidTaskInput("event.requestHash: expected 16 hex digits")
    return value


def _chunk(event: Mapping[str, Any]) -> tuple[int, int]:
    i_first, i_last = _field(event, "iFirst", int), _field(event, "iLast", int)
    if not 0 <= i_first <= i_last:
        raise InvalidTaskInput("event.iFirst, iLast: a non-empty range")
    return i_first, i_last


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidTaskInput(f"event.{name}: expected base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidTaskInput(f"event.{name}: expected base64") from None


# --------------------------------------------------------------------------------------------
# Tasks


def _device_revoked(device_id: str) -> bool:
    device = _ra.devices.get(device_id)
    return device is not None and device.state in (DeviceState.REVOKED, DeviceState.DELETED)


def _plan(event: Mapping[str, Any], now: int) -> dict[str, Any]:
    rh = _request_hash(event)
    planned = batch_status.plan(
        _ra.requests, rh, settings=settings(), now=now, planner=plan_chunks, revoked=_device_revoked
    )
    if planned.plan is None:
        return {"requestHash": rh.hex(), "chainId": "", "jMax": 0, "linkage": False, "done": True,
                "chunks": [], "lanes": [], "round": 0}  # fmt: skip
    plan = planned.plan
    logger.info("request planned", extra={"chunks": len(plan.chunks), "lanes": plan.lanes})
    return {
        "requestHash": rh.hex(),
        # The LAs know the device's chain by this id; it travels in the state only (never logged).
        "chainId": planned.record.chain_id.hex(),
        "jMax": plan.j_max,
        "linkage": plan.linkage,
        "done": False,
        "chunks": [{"iFirst": a, "iLast": b} for a, b in plan.chunks],
        "lanes": list(range(plan.lanes)),
        "round": 0,
    }


def _expand(event: Mapping[str, Any], now: int) -> dict[str, Any]:
    rh = _request_hash(event)
    i_first, i_last = _chunk(event)
    record = _ra.requests.get(rh)
    if record is None:
        raise RequestNotFound("no such authorization request")
    js = range(record.certs_per_period)
    by_key = {pool_key(record.chain_id, i, j): (i, j) for i in range(i_first, i_last + 1) for j in js}
    # A retried chunk skips what it pooled before and what was delivered since (crash safety).
    skip = {by_key[k] for k in _ra.pool.existing(by_key)} | _ra.issued.delivered(rh, i_first, i_last)
    plvs = event.get("plvs")
    linkage = None
    if plvs is not None:
        linkage = linkage_infos(plvs, i_first=i_first, i_last=i_last, j_max=record.certs_per_period)
    pooled = expand_chunk(
        record, i_first, i_last, linkage,
        ra=_ra.hierarchy.signer("ra"), periods=_ra.periods, now=now, skip=skip,
    )  # fmt: skip
    expires = time32.to_unix(now) + POOL_ITEM_TTL
    _ra.pool.put_many([PoolItem(p.pool_key, rh, p.i, p.j, p.spdu) for p in pooled], expires_at=expires)
    logger.info("chunk pooled", extra={"iFirst": i_first, "iLast": i_last, "pooled": len(pooled), "skipped": len(skip)})
    return {"pooled": len(pooled)}


def _draw(event: Mapping[str, Any], now: int) -> dict[str, Any]:
    lane = _field(event, "lane", int)
    s = settings()
    drawn = draw(_ra.pool, batch_size=s.aca_batch_size, lease_seconds=s.pool_lease_seconds, now=now)
    if drawn is None:
        return {"lane": lane, "empty": True}
    logger.info("batch drawn", extra={"lane": lane, "shard": drawn.lease.shard, "requests": len(drawn.items)})
    return {
        "lane": lane,
        "empty": False,
        "lease": {"shard": drawn.lease.shard, "holder": drawn.lease.holder},
        # RA-internal: what deliver needs of each request, set aside by the ASL's Hold (the ACA never sees it).
        "keys": [Ticket.of(item).encode() for item in drawn.items],
        "requests": [base64.b64encode(item.spdu).decode("ascii") for item in drawn.items],
    }


def _lease(event: Mapping[str, Any]) -> Lease:
    lease = _field(event, "lease", dict)
    shard, holder = lease.get("shard"), lease.get("holder")
    if not isinstance(shard, int) or isinstance(shard, bool) or not isinstance(holder, str) or not holder:
        raise InvalidTaskInput("event.lease: expected {shard: int, holder: str}")
    return Lease(shard, holder)


def _deliver(event: Mapping[str, Any], now: int) -> dict[str, Any]:
    lease = _lease(event)
    keys = _field(event, "keys", list)
    responses = _field(event, "responses", list)
    refused_list = _field(event, "refused", list)
    if not all(isinstance(k, str) for k in keys) or len(keys) != len(responses):
        raise InvalidTaskInput("event.keys, responses: one draw ticket (or 32-hex pool key) per response")
    drawn: list[str | Ticket] = []
    for k in keys:
        try:
            drawn.append(k if len(k) == 32 else Ticket.decode(k))
        except ValueError:
            raise InvalidTaskInput("event.keys: expected draw tickets or 32-hex pool keys") from None
    decoded = [None if r is None else _b64(r, "responses") for r in responses]
    refused: dict[int, ErrorCode] = {}
    for entry in refused_list:
        index, code = (entry.get("index"), entry.get("code")) if isinstance(entry, dict) else (None, None)
        if not isinstance(index, int) or not 0 <= index < len(keys):
            raise InvalidTaskInput("event.refused: expected [{index, code}] with an index of the batch")
        try:
            refused[index] = ErrorCode(str(code))
        except ValueError:
            raise InvalidTaskInput("event.refused: code is not a Table 8 code") from None
    out = deliver(_ra.pool, _ra.issued, lease=lease, keys=drawn, responses=decoded, refused=refused,
                  aca=_ra.aca_certificates, periods=_ra.periods)  # fmt: skip
    logger.info("batch delivered", extra={"shard": lease.shard, "delivered": out.delivered, "refused": out.refused,
                                          "gone": out.gone, "released": out.released})  # fmt: skip
    result: dict[str, Any] = {"delivered": out.delivered, "refused": out.refused}
    if "lane" in event:
        result["lane"] = event["lane"]
    return result


def _finish(event: Mapping[str, Any], now: int) -> dict[str, Any]:
    rh = _request_hash(event)
    progress = batch_status.finish(_ra.requests, _ra.issued, rh, round=_field(event, "round", int), settings=settings())
    logger.info("round finished", extra={"round": progress.round, "missing": progress.missing})
    return {"complete": progress.complete, "round": progress.round}


def _assemble(event: Mapping[str, Any], now: int) -> dict[str, Any]:
    rh = _request_hash(event)
    i_first, i_last = _chunk(event)
    files = assemble(_ra.issued, _ra.artifacts, rh, i_first=i_first, i_last=i_last, periods=_ra.periods, now=now)
    logger.info("batch files written", extra={"iFirst": i_first, "iLast": i_last, "files": files})
    return {"files": files}


def _done(event: Mapping[str, Any], now: int) -> dict[str, Any]:
    record = batch_status.done(_ra.requests, _request_hash(event), now=now)
    observability.provisioning_done(variant=record.variant, accepted_at=record.created_at, done_at=now)
    logger.info("request provisioned")
    return {"status": record.status.value}


def _fail(event: Mapping[str, Any], now: int) -> dict[str, Any]:
    record = batch_status.fail(_ra.requests, _request_hash(event), event.get("error"), now=now)
    logger.warning("request failed", extra={"reason": record.status_reason})
    return {"status": record.status.value}


def _revoke(event: Mapping[str, Any], now: int) -> dict[str, Any]:
    try:
        out = revoke(
            _field(event, "by", str), _field(event, "value", str), _field(event, "cause", str),
            now=now, devices=_ra.devices, requests=_ra.requests, issued=_ra.issued,
        )  # fmt: skip
    except InvalidRevocation as exc:
        raise InvalidTaskInput(f"event.{exc}") from None
    # Counts only: neither the device nor its chains go beside the MA's question in a log.
    counts = {"chains": len(out.chains), "enrollments": len(out.enrollments), "missingHashes": out.missing_hashes,
              "acaRequests": len(out.aca_requests)}  # fmt: skip
    logger.info("device revoked", extra={"alreadyRevoked": out.already_revoked, **counts})
    chains = [
        {"chainId": c.chain_id.hex(), "iFirst": c.i_first, "iLast": c.i_last, "jMax": c.j_max} for c in out.chains
    ]
    return {
        "alreadyRevoked": out.already_revoked,
        "chains": chains,
        "enrollments": [{"certHash": e.cert_hash.hex(), "expiry": e.expiry} for e in out.enrollments],
        "acaRequests": [h.hex() for h in out.aca_requests],
    }


_TASKS: dict[str, Callable[[Mapping[str, Any], int], dict[str, Any]]] = {
    "plan": _plan,
    "expand": _expand,
    "draw": _draw,
    "deliver": _deliver,
    "finish": _finish,
    "assemble": _assemble,
    "done": _done,
    "fail": _fail,
    "revoke": _revoke,
}


@answers_health("ra-batch", lambda: {  # its role: GetItem on RaTable, Query on CaTable
    "table": table_check(aws.client("dynamodb"), settings().ra_table),
    "ca": ca_query_check(DynamoDbCaStore.from_settings(settings()), "ra"),
})  # fmt: skip
@observability.trace_handler(tracer)
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point of RaBatchFunction: ``event["task"]`` names the task (architecture.md table)."""
    if not isinstance(event, Mapping):
        raise InvalidTaskInput("event: expected a JSON object")
    task = _TASKS.get(str(event.get("task")))
    if task is None:
        raise InvalidTaskInput("event.task: not a task of RaBatchFunction")
    logger.remove_keys(["task"])
    if event["task"] == "revoke":
        # The MA's revocation id: the one handle of a revocation in every callee's lines.
        logger.set_correlation_id(observability.task_correlation_id(event))
    else:
        logger.set_correlation_id(str(event["requestHash"]) if isinstance(event.get("requestHash"), str) else None)
    logger.append_keys(task=event["task"])
    try:
        # One subsegment per task, annotated with its name only (never the event or the answer).
        with observability.task_subsegment(tracer, str(event["task"]), task=str(event["task"])):
            return task(event, time32.now())
    except Exception as exc:
        # The class name is the ASL error name; our messages carry no key, seed or chain id.
        logger.warning("task failed", extra={"error": type(exc).__name__, "reason": str(exc)[:200]})
        raise
