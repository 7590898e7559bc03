"""An HTTP gateway that routes as API Gateway (REST, Lambda proxy) would, onto the functions' Chalice apps.

For each request: find the template ``Api`` event (method + path template) → the function → build a
REST API proxy event (``resource``, ``requestContext.resourcePath``, ``pathParameters``,
``queryStringParameters``, headers, base64 body for binary media types) → call the function's
handler, the same ``app.app(event, context)`` Lambda calls → write the response, base64-decoding
binary bodies. Unknown path: 404; known path, other method: 405.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from . import docs_page
from .template import ApiRoute, FunctionSpec

__all__ = ["DEFAULT_BINARY_MEDIA_TYPES", "Gateway", "LambdaContext", "Route", "handler_for", "load_handler"]

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
DEFAULT_BINARY_MEDIA_TYPES = ("application/octet-stream",)
# Serve a Chalice app's requests concurrently (as several Lambda containers would). Off for now. The
# RA's download counter refused (400-76) a request stamped a second before a concurrent one with
# download_min_wait = 0 (the burst bench hit it with two fetchers); 4cc8d9c fixed that. The RA and MA
# services are built once under a lock (scms_service.app_services) and LazyHierarchy's cached_property
# locks on Python 3.11 (not on 3.12+). Still in the way: the Powertools logger's appended keys (the
# correlation id ``observe`` sets per request) are one per process, so concurrent requests of one app
# would log each other's ids (measured gain: the burst's tail after the execution 3.75 s → 2.9 s,
# about 1 s of 12, before the download GET went from 6 AWS calls to 4).
CONCURRENT_CHALICE_APPS = False


@dataclass
class LambdaContext:
    """The attributes of a Lambda context object that Chalice and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_ms: int = 29_000
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"
    _start: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.timeout_ms - int((time.monotonic() - self._start) * 1000))


def load_handler(spec: FunctionSpec, environment: Mapping[str, str] | None = None) -> Handler:
    """Import ``spec``'s handler module by path, under a module name of its own, and return the handler.

    ``Handler: app.app`` means ``<CodeUri>/app.py``, attribute ``app``. Every function's file is
    called ``app.py``, so each is loaded as ``scms_local_<logical id>_app``; its folder goes on
    ``sys.path`` so its helper package (``scms_ra``, ...) imports as it would in Lambda.
    ``environment`` (the function's own variables, e.g. ``POWERTOOLS_SERVICE_NAME``) is in
    ``os.environ`` while the module is imported, which is when Powertools reads it.
    """
    module_path, _, attr = spec.handler.rpartition(".")
    source = spec.code_dir / (module_path.replace(".", "/") + ".py")
    if not source.is_file():
        raise FileNotFoundError(f"{spec.logical_id}: handler file {source} does not exist")
    if str(spec.code_dir) not in sys.path:
        sys.path.append(str(spec.code_dir))
    name = f"scms_local_{spec.logical_id.lower()}_{module_path.replace('.', '_')}"
    module_spec = importlib.util.spec_from_file_location(name, source)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"{spec.logical_id}: cannot load {source}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    saved = {key: os.environ.get(key) for key in environment or {}}
    os.environ.update(environment or {})
    try:
        module_spec.loader.exec_module(module)
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
    handler: Handler = getattr(module, attr)
    return handler


@dataclass(frozen=True)
class Route:
    """An API route bound to a callable handler."""

    method: str
    path: str
    function: str
    handler: Handler

    @property
    def segments(self) -> list[str]:
        return _segments(self.path)


def _segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def _match(template: list[str], actual: list[str]) -> dict[str, str] | None:
    """Path parameters when ``actual`` fits ``template`` (``{name}`` one segment, ``{name+}`` the rest)."""
    params: dict[str, str] = {}
    for i, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            if i >= len(actual):
                return None
            params[part[1:-2]] = "/".join(actual[i:])
            return params
        if i >= len(actual):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = actual[i]
        elif part != actual[i]:
            return None
    return params if len(template) == len(actual) else None


def _specificity(segments: list[str]) -> tuple[int, ...]:
    # API Gateway prefers a literal segment over a {param}, and a {param} over a greedy {param+}.
    return tuple(0 if not s.startswith("{") else (1 if not s.endswith("+}") else 2) for s in segments)


class Gateway:
    """A WSGI application that routes requests onto Lambda proxy handlers exactly as the template declares."""

    def __init__(
        self,
        routes: Iterable[Route],
        *,
        stage: str = "local",
        binary_media_types: Sequence[str] = DEFAULT_BINARY_MEDIA_TYPES,
        concurrent: bool = CONCURRENT_CHALICE_APPS,
    ) -> None:
        self._routes = list(routes)
        # A Chalice app keeps the request in an attribute of the module-level app (app.current_request),
        # so two threads would mix them: each Chalice app gets a per-thread current_request and
        # lambda_context (with ``concurrent``, requests run as in several Lambda containers); any
        # other handler, or every one without ``concurrent``, gets one request at a time, as in one container.
        if concurrent:
            for route in self._routes:
                _per_thread_request(route.handler)
        self._locks = {
            route.function: _NO_LOCK if concurrent and _is_per_thread(route.handler) else threading.Lock()
            for route in self._routes
        }
        self._stage = stage
        self._binary = [t.lower() for t in binary_media_types]

    @classmethod
    def from_template(
        cls,
        api_routes: Iterable[ApiRoute],
        handlers: Mapping[str, Handler],
        **kwargs: Any,
    ) -> Gateway:
        """Bind each template route to its function's handler; a function without a handler answers 502."""
        routes = [
            Route(r.method, r.path, r.function, handlers.get(r.function) or _missing(r.function)) for r in api_routes
        ]
        return cls(routes, **kwargs)

    @property
    def routes(self) -> list[Route]:
        return list(self._routes)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]] | int:
        """The route and path parameters for ``method path``, or 404 (no such path) / 405 (other method)."""
        actual = _segments(path)
        candidates: list[tuple[tuple[int, ...], Route, dict[str, str]]] = []
        for route in self._routes:
            params = _match(route.segments, actual)
            if params is not None:
                candidates.append((_specificity(route.segments), route, params))
        if not candidates:
            return 404
        best = min(c[0] for c in candidates)
        same_resource = [c for c in candidates if c[0] == best]
        for _, route, params in same_resource:
            if route.method in (method.upper(), "ANY"):
                return route, params
        return 405

    def dispatch(self, request: Request) -> Response:
        documentation = docs_page.serve(request.method, request.path)  # /openapi.yaml and /docs
        if documentation is not None:
            return documentation
        found = self.resolve(request.method, request.path)
        if found == 404:
            return _json_error(404, "Not Found")
        if found == 405:
            return _json_error(405, "Method Not Allowed")
        assert not isinstance(found, int)
        route, params = found
        event = self.build_event(request, route, params)
        context = LambdaContext(function_name=route.function)
        try:
            with self._locks[route.function]:
                result = route.handler(event, context)
        except Exception:
            # Lambda reports an unhandled error as 502 from API Gateway; the trace goes to the log.
            log.exception("%s raised on %s %s", route.function, request.method, request.path)
            return _json_error(502, "Internal server error")
        response = self.build_response(result)
        log.info("%s %s → %s %d", request.method, request.path, route.function, response.status_code)
        return response

    def _is_binary(self, content_type: str | None) -> bool:
        if not content_type:
            return False
        base = content_type.split(";", 1)[0].strip().lower()
        return base in self._binary or "*/*" in self._binary

    def build_event(self, request: Request, route: Route, params: dict[str, str]) -> dict[str, Any]:
        """The REST API (payload 1.0) Lambda proxy event API Gateway sends for ``request``."""
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            multi_headers.setdefault(name, []).append(value)
            headers[name] = value
        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for name, values in request.args.lists():
            multi_query[name] = list(values)
            query[name] = values[-1]
        raw = request.get_data(cache=True)
        binary = self._is_binary(request.headers.get("Content-Type"))
        body: str | None
        if not raw:
            body = None
        elif binary:
            body = base64.b64encode(raw).decode("ascii")
        else:
            body = raw.decode("utf-8", errors="replace")
        now = time.time()
        return {
            "resource": route.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": route.path,
                "httpMethod": request.method,
                "path": f"/{self._stage}{request.path}",
                "stage": self._stage,
                "requestId": str(uuid.uuid4()),
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "accountId": "123456789012",
                "apiId": "local",
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "identity": {"sourceIp": request.remote_addr or "127.0.0.1", "userAgent": request.user_agent.string},
            },
            "body": body,
            "isBase64Encoded": binary and body is not None,
        }

    @staticmethod
    def build_response(result: Mapping[str, Any]) -> Response:
        """Write a Lambda proxy result: status, headers (single and multi-value), body (base64-decoded if flagged)."""
        try:
            status = int(result["statusCode"])
        except (KeyError, TypeError, ValueError):
            log.error("malformed Lambda proxy response (no statusCode)")
            return _json_error(502, "Internal server error")
        raw_body = result.get("body") or ""
        data = base64.b64decode(raw_body) if result.get("isBase64Encoded") else str(raw_body).encode("utf-8")
        response = Response(data, status=status)
        # API Gateway (REST) answers application/json when a proxy response names no Content-Type.
        response.headers["Content-Type"] = "application/json"
        for name, value in (result.get("headers") or {}).items():
            response.headers[name] = str(value)
        for name, values in (result.get("multiValueHeaders") or {}).items():
            response.headers.pop(name, None)
            for value in values:
                response.headers.add(name, str(value))
        return response


class _NoLock:
    """A context manager that holds nothing: the handler is safe for concurrent requests."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()
_PER_THREAD = "_scms_local_per_thread"


def _is_per_thread(handler: Any) -> bool:
    return bool(getattr(type(handler), _PER_THREAD, False))


def _per_thread_request(handler: Any) -> None:
    """Give a Chalice app a per-thread ``current_request`` and ``lambda_context`` (idempotent; others: no-op).

    ``Chalice.__call__`` stores both on the app object and the routes read ``app.current_request``;
    with a data descriptor on a subclass of the app's class, each gateway thread sees its own.
    Local only: a Lambda container runs one request at a time, so the deployed app needs none of this.
    """
    try:
        from chalice.app import Chalice
    except ImportError:  # pragma: no cover - chalice is a dependency of every app
        return
    if not isinstance(handler, Chalice) or _is_per_thread(handler):
        return
    local = threading.local()

    def attribute(name: str) -> property:
        def get(_self: Any) -> Any:
            return getattr(local, name, None)

        def set_(_self: Any, value: Any) -> None:
            setattr(local, name, value)

        return property(get, set_)

    base = type(handler)
    namespace = {
        "current_request": attribute("current_request"),
        "lambda_context": attribute("lambda_context"),
        _PER_THREAD: True,
    }
    handler.__dict__.pop("current_request", None)
    handler.__dict__.pop("lambda_context", None)
    handler.__class__ = type(f"PerThread{base.__name__}", (base,), namespace)


def _json_error(status: int, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")


def _missing(function: str) -> Handler:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError(f"{function}: its code could not be loaded (see the serve log)")

    return handler


def handler_for(spec: FunctionSpec, environment: Mapping[str, str] | None = None) -> Handler | None:
    """``load_handler``, or ``None`` with the reason logged when the function's code is absent or broken."""
    try:
        return load_handler(spec, environment)
    except (FileNotFoundError, ImportError, SyntaxError) as exc:
        log.error("%s: not loaded: %s", spec.logical_id, exc)
        return None
