"""The ECA's Lambda task handlers (``EcaTaskFunction``): invoked by the RA, no HTTP route.

``successor_task`` issues a successor enrollment certificate (docs/architecture.md "Successor
enrollment"; the use case is ``scms_eca.successor.issue_successor``). The RA invokes it
synchronously with event ``{"request": <base64 inner EeEcaCertRequestSpdu>, "requestHash": <16 hex
digits: the OUTER request's HashedId8>, "deviceId": <the device the RA found>}`` and gets
``{"response": <base64 EcaEeCertResponseSpdu>}`` or ``{"refusal": "<ErrorCode value>"}``. The ECA
reads the device from RaTable itself (unknown or Deleted 400-21, Blocked or Revoked 400-20) and
changes nothing there: linking the new certificate is the RA's. A malformed event raises
``InvalidTaskInput`` (a bug in the caller); a busy table ``TransientStoreError``; another attempt
holding the request's claim ``RequestInProgress``. Lambda reports each by its class name
(``errorType``), which the RA's ``wiring.LambdaEca`` maps to 500, 503 and 409.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import Any

from aws_lambda_powertools import Logger
from scms_eca.enroll import CaKeys
from scms_eca.successor import issue_successor
from scms_service import aws, observability
from scms_service.config import Settings, load_settings
from scms_service.device_access import check_serves_device
from scms_service.errors import BadRequest, from_codec
from scms_service.health import answers_health, ca_query_check, table_check
from scms_service.lazy_hierarchy import LazyHierarchy
from scms_service.stores.ca import DynamoDbCaStore
from scms_service.stores.devices import DeviceStore, DynamoDeviceStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore, EcaRequestStore

from scms_codec import time32
from scms_codec.errors import CodecError, ErrorCode

__all__ = ["InvalidTaskInput", "answer_successor", "successor_task"]

logger = Logger(service="eca-task")
tracer = observability.task_tracer("eca-task")

_REQUEST_HASH = re.compile(r"[0-9a-fA-F]{16}")


class InvalidTaskInput(ValueError):
    """The event is not ``{"request": <base64>, "requestHash": <16 hex>, "deviceId": <string>}`` (not retried)."""


@functools.cache
def settings() -> Settings:
    """Read once per process (cold start), style.md 14."""
    return load_settings()


# The CA hierarchy, loaded on first use (a refused request reads no key). The provider looks this module's
# ``settings`` up at load time, so a test that replaces ``settings`` builds its own ``_LazyHierarchy()``.
_LazyHierarchy = functools.partial(LazyHierarchy, lambda: settings())
_ca = _LazyHierarchy()


def _parse(event: Any) -> tuple[bytes | None, bytes, str]:
    """(inner request octets or None when not base64, outer request hash, device id)."""
    if not isinstance(event, dict):
        raise InvalidTaskInput("event: expected a JSON object")
    request, rh, device_id = event.get("request"), event.get("requestHash"), event.get("deviceId")
    if not isinstance(request, str):
        raise InvalidTaskInput("event.request: expected a base64 string")
    if not isinstance(rh, str) or not _REQUEST_HASH.fullmatch(rh):
        raise InvalidTaskInput("event.requestHash: expected 16 hex digits")
    if not isinstance(device_id, str) or not device_id:
        raise InvalidTaskInput("event.deviceId: expected a device id")
    try:
        inner: bytes | None = base64.b64decode(request, validate=True)
    except (binascii.Error, ValueError):
        inner = None  # the device's bytes as the RA forwarded them: refused as unparsable
    return inner, bytes.fromhex(rh), device_id


def _refusal(code: ErrorCode) -> dict[str, Any]:
    return {"refusal": code.value}


@observability.trace_use_case(tracer)
def answer_successor(
    event: Any,
    *,
    now: int,
    settings: Settings,
    devices: DeviceStore,
    requests: EcaRequestStore,
    ca: CaKeys,
) -> dict[str, Any]:
    """The task's answer to ``event`` (module docstring) at Time32 ``now``."""
    inner, rh, device_id = _parse(event)
    if inner is None:
        return _refusal(ErrorCode.FAILED_PARSING)
    device = devices.get(device_id)
    try:
        check_serves_device(device.state if device is not None else None)
    except BadRequest as exc:
        return _refusal(exc.code or ErrorCode.ENROLLMENT_CERT_UNREGISTERED)
    assert device is not None
    try:
        response = issue_successor(inner, request_hash=rh, device=device, now=now, settings=settings,
                                   requests=requests, ca=ca)  # fmt: skip
    except CodecError as exc:
        return _refusal(from_codec(exc).code or ErrorCode.FAILED_PARSING)
    except BadRequest as exc:
        if exc.code is None:
            raise  # not a 1609.2.1 refusal: a bug, reported by its class name
        return _refusal(exc.code)
    return {"response": base64.b64encode(response).decode("ascii")}


@answers_health("eca-task", lambda: {  # its role: GetItem on EcaTable, Query on CaTable
    "table": table_check(aws.client("dynamodb"), settings().eca_table),
    "ca": ca_query_check(DynamoDbCaStore.from_settings(settings()), "eca"),
})  # fmt: skip
@observability.trace_handler(tracer)
def successor_task(event: Any, context: Any) -> dict[str, Any]:
    """Issue the successor for the RA's forwarded inner request (1609.2.1 §6.3.5.4, protocol.md §3.4 step 3)."""
    s = settings()
    if isinstance(event, dict) and isinstance(event.get("requestHash"), str):
        # The outer request's hash: the same correlation id as the RA's log lines, naming no device.
        logger.set_correlation_id(event["requestHash"])
    result = answer_successor(
        event,
        now=time32.now(),
        settings=s,
        devices=DynamoDeviceStore(s.ra_table),
        requests=DynamoDbEcaRequestStore.from_settings(s),
        ca=_ca,
    )
    logger.info("successor request answered", extra={"refusal": result.get("refusal")})
    return result
