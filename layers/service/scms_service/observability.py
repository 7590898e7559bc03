"""Observability of the authority apps: correlation ids, one structured line per request, EMF metrics, traces.

``observe(app, logger, authority)`` registers one Chalice ``http`` middleware, so the SAM handler
stays ``app.app``. Per request it:

- sets the Powertools logger's ``correlation_id``: the request hash (HashedId8 of the SPDU as
  received, protocol.md §4.1) for a 1609.2.1 POST (``application/octet-stream`` body), the API
  Gateway request id otherwise; every line also carries ``authority``;
- hands the log records of the library loggers (``scms_service``, ``scms_codec``,
  ``scms_<authority>``) written while the request runs to that logger, so they carry the same keys;
- writes one line ``"request"`` with ``method``, ``path`` (the route template, never an id from
  the URL), ``status``, ``duration_ms`` and ``error_code`` (Table 8 code, else the HTTP status of
  a refusal, else null);
- publishes CloudWatch embedded metrics (namespace ``POWERTOOLS_METRICS_NAMESPACE``, dimension
  ``service`` = the authority) when the request ends: ``Requests``; ``Refusals`` by ``ErrorCode``
  for every answer ≥ 400; whatever the route added with ``add_metric`` (``CertificatesIssued`` by
  ``CertType``, ``EnrollmentLatencyMs``). One EMF document per dimension set;
- opens a Powertools Tracer subsegment (a no-op without X-Ray: ``POWERTOOLS_TRACE_DISABLED=1`` locally).

Lambda tasks are traced too (``task_tracer``, ``trace_handler``, ``trace_use_case``, ``task_subsegment``):
one subsegment per invocation (annotated ``ColdStart`` and ``Service``) and one per use case. Neither
the event, the answer nor an exception object is ever put in a trace (``capture_response`` and
``capture_error`` off whatever the environment says): a task's answer holds chain ids, PLVs or
certificates, and annotations hold only names and counts from closed sets.

Lambda tasks of the provisioning state machine have no HTTP request: they publish at once with
``publish_metrics``. ``IssuedCertificates`` counts the certificates an ACA batch newly issued by
``ResponseKind`` (plain | private | cubk) and ``CertType`` only: nothing that names or groups a
device. ``provisioning_done`` publishes ``ProvisioningLatency`` (request accepted → DONE, by RA
``Variant``).

Nothing here logs a header or a body. Metrics never break a response: a failure to publish them is
logged and the answer goes out.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from chalice.app import Chalice, Request, Response

from scms_codec.spdu import request_hash

__all__ = [
    "ACA_CERT_TYPES",
    "ACA_RESPONSE_KINDS",
    "CERTIFICATES_ISSUED",
    "DEFAULT_NAMESPACE",
    "ERROR_CODE_DIMENSION",
    "PROVISIONING_LATENCY",
    "PROVISIONING_VARIANTS",
    "VERSION",
    "IssuedCertificates",
    "add_metric",
    "correlation_id",
    "note_refusal",
    "observe",
    "provisioning_done",
    "publish_metrics",
    "task_correlation_id",
    "task_subsegment",
    "task_tracer",
    "trace_handler",
    "trace_use_case",
]

# The service version reported by /health; equal to pyproject.toml's (tests/unit/service/test_observability.py).
VERSION = "0.1.0"
DEFAULT_NAMESPACE = "OpenSCMS"
ERROR_CODE_DIMENSION = "ErrorCode"
_OCTET_STREAM = "application/octet-stream"
_ERROR_HEADER = "Ieee-1609.2.1-Error"
_LIBRARIES = ("scms_service", "scms_codec")
CERTIFICATES_ISSUED = "CertificatesIssued"
PROVISIONING_LATENCY = "ProvisioningLatency"
# The only values the ACA's metric may carry: what a response looks like, never whose it is.
ACA_RESPONSE_KINDS = frozenset({"plain", "private", "cubk"})  # scms_codec.spdu.ra_aca.AcaResponseKind
ACA_CERT_TYPES = frozenset({"explicit", "implicit"})
PROVISIONING_VARIANTS = frozenset({"original", "unified", "compactUnified", "encryptionKey", "plain"})

Dimensions = tuple[tuple[str, str], ...]


@dataclass
class _Request:
    """What one request collected: its metrics and, if refused, the refusal's code."""

    metrics: list[tuple[str, MetricUnit, float, Dimensions]] = field(default_factory=list)
    refused: bool = False
    refusal_code: str | None = None


_current: ContextVar[_Request | None] = ContextVar("scms_request", default=None)
_active_logger: ContextVar[Logger | None] = ContextVar("scms_request_logger", default=None)


def add_metric(
    name: str,
    value: float = 1.0,
    unit: MetricUnit = MetricUnit.Count,
    *,
    dimensions: Mapping[str, str] | None = None,
) -> None:
    """Publish ``name`` (with these extra dimensions) when the current request ends; ignored outside one."""
    state = _current.get()
    if state is not None:
        state.metrics.append((name, unit, float(value), tuple(sorted((dimensions or {}).items()))))


def note_refusal(code: str | None) -> None:
    """The current request is being refused with this Table 8 ``code`` (None: a refusal without one)."""
    state = _current.get()
    if state is not None:
        state.refused, state.refusal_code = True, code


def correlation_id(request: Request) -> str | None:
    """The request hash (hex) of a 1609.2.1 POST, else the API Gateway request id."""
    content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if request.method == "POST" and content_type == _OCTET_STREAM:
        raw = request.raw_body
        body = raw.encode("latin-1") if isinstance(raw, str) else bytes(raw or b"")
        if body:
            return request_hash(body).hex()
    value = request.context.get("requestId")
    return None if value is None else str(value)


_TASK_CORRELATION_ID = re.compile(r"[0-9a-f]{16}")


def task_correlation_id(event: object) -> str | None:
    """A task event's ``correlationId`` (the MA's revocation id: 16 lower-case hex), else None.

    Anything else is ignored, never logged: an event field is the caller's, and a log line must
    not carry what a caller put there (a seed, a device id).
    """
    value = event.get("correlationId") if isinstance(event, Mapping) else None
    return value if isinstance(value, str) and _TASK_CORRELATION_ID.fullmatch(value) else None


class _ToRequestLogger(logging.Handler):
    """Library records written during a request go to that request's Powertools logger (its keys, JSON).

    Outside a request (start-up, scripts, tests) they go to the root logger's handlers as usual.
    """

    def emit(self, record: logging.LogRecord) -> None:
        target = _active_logger.get()
        if target is not None:
            target.registered_handler.handle(record)
        else:
            logging.getLogger().handle(record)


_ROUTER = _ToRequestLogger()


def _route_library_logs(names: tuple[str, ...], level: int) -> None:
    for name in names:
        library = logging.getLogger(name)
        if _ROUTER not in library.handlers:
            library.addHandler(_ROUTER)
        # The router forwards to the root itself; propagating as well would write each line twice.
        library.propagate = False
        if library.level == logging.NOTSET:
            library.setLevel(level)


def _namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE


def _publish(state: _Request, authority: str, namespace: str) -> None:
    groups: dict[Dimensions, list[tuple[str, MetricUnit, float]]] = defaultdict(list)
    for name, unit, value, dimensions in state.metrics:
        groups[dimensions].append((name, unit, value))
    for dimensions, metrics in groups.items():
        # EphemeralMetrics: no state shared with other instances (the local gateway runs every app
        # in one process, so Metrics' class-wide set would mix the RA's and the ECA's).
        emf = EphemeralMetrics(namespace=namespace, service=authority)
        for key, label in dimensions:
            emf.add_dimension(name=key, value=label)
        for name, unit, number in metrics:
            emf.add_metric(name=name, unit=unit, value=number)
        emf.flush_metrics()


def observe(app: Chalice, logger: Logger, authority: str) -> None:
    """Register the observing middleware on ``app`` (see the module docstring)."""
    logger.append_keys(authority=authority)
    _route_library_logs((*_LIBRARIES, f"scms_{authority}"), logger.log_level)
    tracer = Tracer(service=authority)

    @app.middleware("http")
    def _observe(request: Request, get_response: Callable[[Request], Response]) -> Response:
        started = time.perf_counter()
        state = _Request()
        state_token, logger_token = _current.set(state), _active_logger.set(logger)
        logger.set_correlation_id(correlation_id(request))
        path = request.context.get("resourcePath")
        status = 500  # if get_response raises, Lambda (and the local gateway) answer an error
        response: Response | None = None
        try:
            with tracer.provider.in_subsegment(f"## {request.method} {path}") as subsegment:
                subsegment.put_annotation("authority", authority)
                response = get_response(request)
            status = response.status_code
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            code = _error_code(state, response, status)
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": path,
                    "status": status,
                    "duration_ms": round(duration_ms, 3),
                    "error_code": code,
                },
            )
            add_metric("Requests")
            if code is not None:
                add_metric("Refusals", dimensions={ERROR_CODE_DIMENSION: code})
            try:
                _publish(state, authority, _namespace())
            except Exception:
                logger.exception("metrics not published")
            _current.reset(state_token)
            _active_logger.reset(logger_token)
        assert response is not None  # get_response returned (else its exception propagates)
        return response


def _error_code(state: _Request, response: Response | None, status: int) -> str | None:
    """The Table 8 code of a refusal (even in coarse mode, where the client sees none), else its status."""
    if state.refusal_code is not None:
        return state.refusal_code
    headers: dict[str, Any] = dict(response.headers or {}) if response is not None else {}
    header = headers.get(_ERROR_HEADER)
    if isinstance(header, str):
        return header
    return str(status) if status >= 400 or state.refused else None


# --------------------------------------------------------------------------------------------
# Lambda tasks (no HTTP request to attach metrics to)


def publish_metrics(service: str, metrics: Iterable[tuple[str, float, MetricUnit, Mapping[str, str] | None]]) -> None:
    """Print the EMF documents of ``(name, value, unit, dimensions)`` now, one per dimension set.

    Never raises: a metric that cannot be published is logged and the task goes on.
    """
    state = _Request()
    for name, value, unit, dimensions in metrics:
        state.metrics.append((name, unit, float(value), tuple(sorted((dimensions or {}).items()))))
    if not state.metrics:
        return
    try:
        _publish(state, service, _namespace())
    except Exception:
        logging.getLogger(__name__).exception("metrics not published")


class IssuedCertificates:
    """Certificates an ACA batch newly issued, counted by response kind and certificate type only.

    A response served again from the ACA's store (a retried batch) is not counted: pass only
    what was issued now. The two dimensions are checked against closed sets, so nothing that
    names or groups a device can reach the ACA's metrics (issue #5 §4).
    """

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, kind: str, cert_type: str, count: int = 1) -> None:
        if kind not in ACA_RESPONSE_KINDS:
            raise ValueError("kind: expected plain, private or cubk")
        if cert_type not in ACA_CERT_TYPES:
            raise ValueError("cert_type: expected explicit or implicit")
        self._counts[(kind, cert_type)] += count

    @property
    def counts(self) -> dict[tuple[str, str], int]:
        return dict(self._counts)

    def publish(self, service: str = "aca") -> None:
        """``CertificatesIssued`` (Count) per (``ResponseKind``, ``CertType``) counted."""
        publish_metrics(
            service,
            (
                (CERTIFICATES_ISSUED, n, MetricUnit.Count, {"ResponseKind": kind, "CertType": cert_type})
                for (kind, cert_type), n in sorted(self._counts.items())
                if n > 0
            ),
        )


def provisioning_done(*, variant: str, accepted_at: int, done_at: int, service: str = "ra-batch") -> None:
    """``ProvisioningLatency`` (Seconds, dimension ``Variant``): from the request's acceptance to DONE (Time32 both).

    An unknown variant publishes nothing (logged): a metric never fails the task.
    """
    if variant not in PROVISIONING_VARIANTS:
        logging.getLogger(__name__).warning("ProvisioningLatency not published: unknown variant")
        return
    seconds = max(0, done_at - accepted_at)
    publish_metrics(service, [(PROVISIONING_LATENCY, seconds, MetricUnit.Seconds, {"Variant": variant})])


# --------------------------------------------------------------------------------------------
# Traces of Lambda tasks (issue #7 §2): names and counts only, never an event, answer or error object

F = TypeVar("F", bound=Callable[..., Any])
Annotation = str | int | bool


def task_tracer(service: str) -> Tracer:
    """The Powertools Tracer of a task function, ``service`` its ``POWERTOOLS_SERVICE_NAME``.

    Disabled (X-Ray SDK off, dummy subsegments) outside Lambda and when ``POWERTOOLS_TRACE_DISABLED``
    is set, as the local cloud sets it; in Lambda (``Tracing: Active``) it patches boto3, so each AWS
    call is a subsegment (X-Ray records table names, S3 keys, function names: never item values).
    """
    return Tracer(service=service)


def trace_handler(tracer: Tracer) -> Callable[[F], F]:
    """Decorate a Lambda handler ``(event, context)``: one subsegment ``## <name>`` per invocation.

    Annotated ``ColdStart`` and ``Service`` by Powertools; the response and the exception are not
    recorded as metadata (an exception still marks the subsegment as failed, with its class and
    message, which by the project's rules hold no secret).
    """

    def decorate(handler: F) -> F:
        traced = tracer.capture_lambda_handler(capture_response=False, capture_error=False)(handler)
        return cast(F, traced)

    return decorate


def trace_use_case(tracer: Tracer) -> Callable[[F], F]:
    """Decorate a use-case entry point: one subsegment ``## <name>`` per call, no response or error metadata."""

    def decorate(method: F) -> F:
        return tracer.capture_method(capture_response=False, capture_error=False)(method)

    return decorate


@contextmanager
def task_subsegment(tracer: Tracer, name: str, **annotations: Annotation) -> Iterator[None]:
    """A subsegment ``## <name>`` around one task, with these annotations (names and counts only)."""
    with tracer.provider.in_subsegment(f"## {name}") as subsegment:
        for key, value in annotations.items():
            subsegment.put_annotation(key=key, value=cast(Any, value))  # str | int | bool: X-Ray's own types
        yield
