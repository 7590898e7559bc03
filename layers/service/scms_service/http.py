"""HTTP edges shared by every Chalice app: binary bodies, the Table 8 error header, JSON for management.

One error handler per app (style.md 11): a route raises ``ScmsError`` (or lets a codec error
through) and this module turns it into status, ``Ieee-1609.2.1-Error`` header and a short body;
internal exception text goes to the log only (style.md 12).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, Request, Response

from scms_codec.errors import CodecError

from .errors import ScmsError, from_codec

__all__ = [
    "ERROR_HEADER",
    "OCTET_STREAM",
    "binary",
    "install_error_handler",
    "json_response",
    "request_body",
]

OCTET_STREAM = "application/octet-stream"
ERROR_HEADER = "Ieee-1609.2.1-Error"
log = logging.getLogger(__name__)


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


def install_error_handler(app: Chalice, *, error_mode: Callable[[], str] = lambda: "fine") -> None:
    """Make every route of ``app`` answer ``ScmsError`` and ``CodecError`` with ``error_response``."""

    @app.middleware("http")
    def _errors(event: Request, get_response: Callable[[Request], Response]) -> Response:
        try:
            return get_response(event)
        except CodecError as exc:
            log.warning("refused: %s (%s)", type(exc).__name__, exc.error_code.value, exc_info=False)
            return error_response(from_codec(exc), error_mode=error_mode())
        except ScmsError as exc:
            log.warning("refused: %s %s (%s)", exc.status, type(exc).__name__, exc.code.value if exc.code else "-")
            return error_response(exc, error_mode=error_mode())
