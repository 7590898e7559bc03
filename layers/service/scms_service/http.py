"""HTTP edges shared by every Chalice app: binary bodies, the Table 8 error header, JSON for management.

One error handler per app (style.md 11): a route decorated with ``refusals`` raises ``ScmsError``
(or lets a codec error through) and this module turns it into status, ``Ieee-1609.2.1-Error``
header and a short body; internal exception text goes to the log only (style.md 12).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from email.utils import formatdate, parsedate_to_datetime
from typing import Any, ParamSpec

from chalice.app import CaseInsensitiveMapping, Chalice, Request, Response

from scms_codec.errors import CodecError, ErrorCode

from .errors import BadRequest, ScmsError, from_codec
from .observability import note_refusal

__all__ = [
    "ERROR_HEADER",
    "OCTET_STREAM",
    "accept_any_when_absent",
    "binary",
    "download_response",
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
    """The raw request body (empty bytes when there is none); 400-42 if it cannot be decoded.

    API Gateway sends valid base64 for binary media types and UTF-8 text otherwise; anything else
    (bad padding, non-ASCII base64, a lone surrogate) made Chalice's decoder raise a bare 500.
    """
    try:
        raw = request.raw_body
    except (ValueError, UnicodeError):  # binascii.Error is a ValueError
        raise BadRequest("body: not valid base64 or UTF-8", code=ErrorCode.FAILED_PARSING) from None
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
            note_refusal(code)  # the request line and the Refusals metric name the code, even in coarse mode
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
        if event is None:
            return get_response(event)
        accept = event.headers.get("accept")
        if accept is None:
            event.headers = CaseInsensitiveMapping({**dict(event.headers), "accept": "*/*"})
        elif _accepted(accept) & {"*/*", OCTET_STREAM}:
            pass
        elif "application/*" in _accepted(accept):
            # Chalice knows only */* and exact binary types; application/* allows octet-stream too.
            event.headers = CaseInsensitiveMapping({**dict(event.headers), "accept": f"{accept}, {OCTET_STREAM}"})
        elif _is_1609_route(event):
            # Every /v3/ route answers octet-stream. Chalice would refuse this Accept only after the
            # route ran (an enrollment would be issued and stored, then not delivered), so refuse it
            # first, with the answer Chalice itself gives.
            body = {"Code": "BadRequest", "Message": f"Accept must allow {OCTET_STREAM}"}
            return Response(body=body, status_code=400, headers={"Content-Type": "application/json"})
        return get_response(event)


def _accepted(accept: str) -> set[str]:
    """The media ranges of an Accept header, without parameters, lower case."""
    return {part.split(";")[0].strip().lower() for part in accept.split(",")}


def _is_1609_route(request: Request) -> bool:
    """True for a 1609.2.1 route (``/v3/``): every one of them answers octet-stream."""
    return str(request.context.get("resourcePath") or request.path or "").startswith("/v3/")


# ----------------------------------------------------------------------------------------------
# Downloads: validators, conditional GET and byte ranges (protocol.md §2.1; RFC 9110 §13, §14)

_RANGE = re.compile(r"\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*", re.IGNORECASE)


def _entity_tags(header: str) -> list[str]:
    """The entity tags of an ``If-None-Match``/``If-Range`` list, as written (``W/`` kept)."""
    return [t.strip() for t in header.split(",") if t.strip()]


def _http_date(header: str) -> int | None:
    """Unix seconds of an HTTP-date, or None when it is not one (an invalid date is ignored, RFC 9110 §13.1.3)."""
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return int(when.timestamp())


def _not_modified(headers: Any, etag: str, last_modified: int | None) -> bool:
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        # Weak comparison (RFC 9110 §13.1.2); when If-None-Match is present If-Modified-Since is ignored.
        tags = _entity_tags(if_none_match)
        return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since is None or last_modified is None:
        return False
    since = _http_date(if_modified_since)
    return since is not None and last_modified <= since


def _range_applies(headers: Any, etag: str, last_modified: int | None) -> bool:
    """``If-Range``: serve the range only if the validator still matches (strong comparison), else the whole file."""
    if_range: str | None = headers.get("if-range")
    if if_range is None:
        return True
    validator = if_range.strip()
    if validator.startswith(('"', "W/")):
        return validator == etag
    since = _http_date(if_range)
    return since is not None and last_modified is not None and since == last_modified


class _Unsatisfiable(Exception):
    """The range starts past the end of the file (416)."""


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) of a single ``bytes=`` range; None to ignore the header; ``_Unsatisfiable``.

    Syntactically invalid or multi-range headers are ignored (RFC 9110 §14.2 lets a server
    answer 200 with the whole file); ``bytes=a-`` and the suffix ``bytes=-n`` are supported.
    """
    match = _RANGE.fullmatch(header)
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text:
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise _Unsatisfiable
        return max(0, size - suffix), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        raise _Unsatisfiable
    return first, min(int(last_text), size - 1) if last_text else size - 1


def download_response(
    request: Request, body: bytes, filename: str, last_modified: int | None = None, *, etag: str | None = None
) -> Response:
    """A public file download: 200, 304 (``If-None-Match``/``If-Modified-Since``), 206 (``Range``) or 416.

    The ETag is the quoted file name (the name embeds the file's version, protocol.md §2.1, as
    CAMP's chain file did), or the quoted ``etag`` for a file whose standard name is not a version
    (the CTL zip, 8.6); ``last_modified`` is Unix seconds (None: no ``Last-Modified``).
    Every answer carries the validators so that a client can revalidate.
    """
    etag = f'"{filename if etag is None else etag}"'
    headers: dict[str, str] = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "ETag": etag,
        "Accept-Ranges": "bytes",
    }
    if last_modified is not None:
        headers["Last-Modified"] = formatdate(last_modified, usegmt=True)
    request_headers = request.headers
    if _not_modified(request_headers, etag, last_modified):
        return binary(b"", status=304, headers=headers)
    range_header = request_headers.get("range")
    if range_header is None or not _range_applies(request_headers, etag, last_modified):
        return binary(body, headers=headers)
    try:
        span = _byte_range(range_header, len(body))
    except _Unsatisfiable:
        headers["Content-Range"] = f"bytes */{len(body)}"
        return binary(b"", status=416, headers=headers)
    if span is None:
        return binary(body, headers=headers)
    first, last = span
    headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
    return binary(body[first : last + 1], status=206, headers=headers)
