"""HTTP to the SCMS with the standard library only: binary SPDUs, downloads and the management JSON API.

Refusals become ``HttpError`` carrying the status and the ``Ieee-1609.2.1-Error`` header
(protocol.md §2.1, §2.4); a server that cannot be reached is a ``TransportError``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ERROR_HEADER",
    "OCTET_STREAM",
    "Client",
    "HttpError",
    "Response",
    "Transport",
    "TransportError",
    "urllib_transport",
]

OCTET_STREAM = "application/octet-stream"
ERROR_HEADER = "Ieee-1609.2.1-Error"
_BODY_PREVIEW = 300


@dataclass(frozen=True)
class Response:
    """An HTTP response: status, headers (names lower-cased) and the body octets."""

    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)


Transport = Callable[[str, str, Mapping[str, str], bytes | None, float], Response]
"""(method, url, headers, body, timeout) → Response, for every status. Tests inject their own."""


class TransportError(Exception):
    """The request did not get an HTTP answer (connection refused, timeout, bad URL)."""


class HttpError(Exception):
    """A non-2xx answer: ``status``, the Table 8 ``error_code`` (or None) and the body text."""

    def __init__(self, method: str, path: str, status: int, error_code: str | None, body: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.error_code = error_code
        self.body = body
        code = f" {ERROR_HEADER}: {error_code}" if error_code else ""
        detail = f": {body}" if body else ""
        super().__init__(f"{method} {path} refused: HTTP {status}{code}{detail}")


def urllib_transport(method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float) -> Response:
    """The default transport: ``urllib.request`` (no third-party HTTP client)."""
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise TransportError(f"{url}: only http and https URLs are supported")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)  # noqa: S310 (scheme checked)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (scheme checked)
            return Response(answer.status, _lower(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as exc:
        # A 4xx/5xx is an answer, not a transport failure: hand it back like any other.
        with exc:
            return Response(exc.code, _lower(exc.headers.items()), exc.read())
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransportError(f"{method} {url}: no answer ({reason})") from exc


def _lower(items: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in items}


@dataclass(frozen=True)
class Client:
    """The SCMS's public REST API (protocol.md §2) and management API (docs/architecture.md) at ``base_url``."""

    base_url: str
    timeout: float = 30.0
    transport: Transport = urllib_transport

    def post_spdu(self, path: str, spdu: bytes) -> bytes:
        """POST a COER SPDU as ``application/octet-stream``; the COER answer of any 2xx."""
        return self.post_spdu_response(path, spdu).body

    def post_spdu_response(self, path: str, spdu: bytes) -> Response:
        """``post_spdu`` with the whole answer (headers such as ``Scms-Report-Id``), for any 2xx."""
        headers = {"Content-Type": OCTET_STREAM, "Accept": OCTET_STREAM}
        return self._call("POST", path, headers, spdu)

    def get(self, path: str, query: Mapping[str, str] | None = None, *, etag: str | None = None) -> Response:
        """A GET whose 200, 206 and 304 answers come back whole (``If-None-Match: etag`` when given)."""
        headers = {"Accept": OCTET_STREAM}
        if etag is not None:
            headers["If-None-Match"] = etag
        return self._call("GET", _with_query(path, query), headers, None, not_modified=etag is not None)

    def get_binary(self, path: str, query: Mapping[str, str] | None = None) -> bytes:
        """GET a binary download (certificates, chains)."""
        return self._call("GET", _with_query(path, query), {"Accept": OCTET_STREAM}, None).body

    def manage(self, method: str, path: str, api_key: str, body: Any = None) -> Any:
        """A management API call with ``X-Api-Key``: JSON in, JSON out (docs/architecture.md)."""
        headers = {"X-Api-Key": api_key, "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        answer = self._call(method, path, headers, data)
        try:
            return json.loads(answer.body or b"null")
        except ValueError as exc:
            raise HttpError(method, path, answer.status, None, "answer is not JSON") from exc

    def _call(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None, *, not_modified: bool = False
    ) -> Response:
        answer = self.transport(method, self.base_url.rstrip("/") + path, headers, body, self.timeout)
        if not (200 <= answer.status < 300 or (not_modified and answer.status == 304)):
            text = answer.body[:_BODY_PREVIEW].decode("utf-8", "replace").strip()
            raise HttpError(method, path, answer.status, answer.headers.get(ERROR_HEADER.lower()), text)
        return answer


def _with_query(path: str, query: Mapping[str, str] | None) -> str:
    return path if not query else f"{path}?{urllib.parse.urlencode(query)}"
