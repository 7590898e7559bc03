"""HTTP edges shared by every Chalice app: binary bodies, the Table 8 error header, JSON for management.

One error handler per app (style.md 11): a route decorated with ``refusals`` raises ``ScmsError``
(or lets a codec error through) and this module turns it into status, ``Ieee-1609.2.1-Error``
header and a short body; internal exception text goes to the log only (style.md 12).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any, ParamSpec

from chalice.app import CaseInsensitiveMapping, Chalice, Request, Response

from scms_codec.errors import CodecError

from .errors import ScmsError, from_codec

__all__ = [
    "ERROR_HEADER",
    "OCTET_STREAM",
    "accept_any_when_absent",
    "binary",
    "error_response",
    "json_response",
    "refusals",
    "request_body",
]

OCTET_STREAM = "application/octet-stream"
ERROR_HEADER = "Ieee-1609.2.1-Error"
log = logging.getLogger(__name__)
_P = ParamSpec("_P")


def binary(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """An ``application/octet-stream`` response (API Gateway base64-encodes it by BinaryMediaTypes)."""
    merged: dict[str, str | list[str]] = {"Content-Type": OCTET_STREAM, **(headers or {})}
    return Response(body=body, status_code=status, headers=merged)


def json_response(value: Any, status: int = 200) -> Response:
    """A JSON response for the management API."""
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    return Response(body=json.dumps(value, sort_keys=True), status_code=status, headers=headers)


def request_body(request: Request) -> bytes:
    """The raw request body (empty bytes when there is none)."""
    raw = request.raw_body
    if not raw:
        return b""
    return raw.encode("latin-1") if isinstance(raw, str) else bytes(raw)


def error_response(exc: ScmsError, *, error_mode: str = "fine") -> Response:
    """Status, ``Ieee-1609.2.1-Error`` header (fine mode) and a one-line body for ``exc``."""
    if error_mode == "coarse" and exc.code is not None:
        # scmsV3-error = coarse (protocol.md §2.1): every 1609.2.1 refusal is a bare 500.
        return Response(body="error\n", status_code=500, headers={"Content-Type": "text/plain"})
    headers: dict[str, str | list[str]] = {"Content-Type": "text/plain"}
    if exc.code is not None:
        headers[ERROR_HEADER] = exc.code.value
    return Response(body=exc.message + "\n", status_code=exc.status, headers=headers)


def refusals(
    logger: logging.Logger | Any,
    error_mode: Callable[[], str],
    *,
    render: Callable[[ScmsError], Response] | None = None,
) -> Callable[[Callable[_P, Response]], Callable[_P, Response]]:
    """A route decorator, the app's one error handler: ``ScmsError``/``CodecError`` → ``error_response``.

    A decorator rather than middleware: Chalice turns a view's exception into a bare 500 before
    any ``http`` middleware sees it. ``render`` replaces ``error_response`` (the RA's management
    routes answer JSON). Only the exception's class and code are logged, never its inputs.
    """

    def decorate(view: Callable[_P, Response]) -> Callable[_P, Response]:
        @functools.wraps(view)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Response:
            try:
                return view(*args, **kwargs)
            except CodecError as exc:
                refusal: ScmsError = from_codec(exc)
            except ScmsError as exc:
                refusal = exc
            code = refusal.code.value if refusal.code is not None else None
            logger.warning("refused", extra={"error": refusal.message, "status": refusal.status, "code": code})
            return render(refusal) if render is not None else error_response(refusal, error_mode=error_mode())

        return wrapper

    return decorate


def accept_any_when_absent(app: Chalice) -> None:
    """Treat a request without ``Accept`` as accepting anything (RFC 9110 §12.5.1).

    Real devices send no Accept header; Chalice would then refuse a binary response with 400
    (platform.md), after the route had already done its work.
    """

    @app.middleware("http")
    def _accept(event: Request, get_response: Callable[[Request], Response]) -> Response:
        if event is not None and event.headers.get("accept") is None:
            event.headers = CaseInsensitiveMapping({**dict(event.headers), "accept": "*/*"})
        return get_response(event)
