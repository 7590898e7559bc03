"""The CRL generator's Lambda task (``CrlgFunction``, handler ``handlers.publish_task``): one use-case call.

Invoked by the MA after a revocation and hourly by a SAM ``Schedule`` (docs/architecture.md "CRL
generator"): event ``{"force": bool, "correlationId": "<16 hex>"}`` (both optional: ``force`` defaults
to false; ``correlationId`` is the MA's revocation id, logged as the correlation id) → ``{"crls": [{"craca":
"<16 hex>", "series": n, "crlSerial": n, "issueDate": Time32, "nextCrl": Time32, "changed": bool}]}``,
the linked CRL first, then the hash CRL. A malformed event raises ``InvalidTaskInput``; a busy table
``TransientStoreError`` (retry). The use case is ``scms_crlg.publish``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from scms_crlg.publish import publish
from scms_crlg.wiring import CrlgServices
from scms_service import aws, observability
from scms_service.config import Settings, load_settings
from scms_service.health import answers_health, ca_query_check, table_check
from scms_service.stores.ca import DynamoDbCaStore

from scms_codec import time32

__all__ = ["InvalidTaskInput", "handle", "publish_task"]

logger = Logger(service="crlg")
tracer = observability.task_tracer("crlg")


class InvalidTaskInput(ValueError):
    """The event does not fit the task (a bug in the caller, not retried)."""


@functools.cache
def settings() -> Settings:
    """Read once per process (cold start), style.md 14."""
    return load_settings()


@functools.cache
def _services() -> CrlgServices:
    # Once per container: the hierarchy is verified on load and the crlg key fetched on first use.
    return CrlgServices.from_settings(settings())


def force_of(event: Any) -> bool:
    """The event's ``force`` (absent: false); ``InvalidTaskInput`` for anything but an object with a boolean."""
    if not isinstance(event, Mapping):
        raise InvalidTaskInput('event: expected {"force": <bool>}')
    unknown = set(event) - {"force", "correlationId"}
    if unknown:
        raise InvalidTaskInput(f"event: unexpected field(s) {sorted(unknown)}")
    force = event.get("force", False)
    if not isinstance(force, bool):
        raise InvalidTaskInput("event.force: expected true or false")
    return force


@observability.trace_use_case(tracer)
def handle(event: Any, services: CrlgServices, settings: Settings, *, now: int) -> dict[str, Any]:
    """One task: parse, one use-case call, the JSON result."""
    force = force_of(event)
    crls = publish(
        settings, store=services.store, artifacts=services.artifacts, crlg=services.crlg, now=now, force=force
    )
    return {"crls": [crl.to_json() for crl in crls]}


@answers_health("crlg", lambda: {  # its role: GetItem on CrlTable, Query on CaTable
    "table": table_check(aws.client("dynamodb"), settings().crl_table),
    "ca": ca_query_check(DynamoDbCaStore.from_settings(settings()), "crlg"),
})  # fmt: skip
@observability.trace_handler(tracer)
def publish_task(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point of CrlgFunction."""
    logger.set_correlation_id(observability.task_correlation_id(event))
    try:
        result = handle(event, _services(), settings(), now=time32.now())
    except Exception as exc:
        # The class is the caller's error name; no message here holds a seed.
        logger.warning("CRL publish failed", extra={"error": type(exc).__name__, "reason": str(exc)})
        raise
    logger.info("CRLs published", extra={"crls": result["crls"]})
    return result
