"""The CLI's HTTP client of the management APIs (RA ``/manage/v1/devices``, MA ``/manage/v1/reports`` and revocations).

``scms device``, ``scms revoke`` and ``scms reports`` send one JSON request with the ``X-Api-Key``
header (docs/architecture.md "Management API") and read a JSON answer; ``scms status`` uses the
transport for the health routes. The transport is injectable so tests talk to the app in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

__all__ = ["Transport", "api_key", "send_json", "urllib_transport"]

# (method, url, headers, body) -> (status, body): injectable so tests can talk to the app in-process.
Transport = Callable[[str, str, dict[str, str], bytes | None], tuple[int, bytes]]


def urllib_transport(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
    """HTTP with the standard library; an HTTP error status is returned, not raised."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("url: expected http:// or https://")
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 (scheme checked)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (scheme checked)
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def api_key(args: argparse.Namespace, command: str) -> str | None:
    """``--api-key`` or env ``SCMS_API_KEY``; None after printing that there is none."""
    key: str | None = args.api_key or os.environ.get("SCMS_API_KEY")
    if not key:
        print(f"scms {command}: no API key (--api-key or SCMS_API_KEY)", file=sys.stderr)
    return key


def send_json(
    url: str, key: str, transport: Transport, method: str, path: str, body: dict[str, Any] | None, *, command: str
) -> tuple[int, Any] | None:
    """(status, JSON answer), the refusal (status ≥ 400) printed; None after printing why ``url`` was not reached.

    An answer that is not JSON becomes ``{"error": <its text>}``.
    """
    headers = {"X-Api-Key": key, "Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    try:
        status, raw = transport(method, url.rstrip("/") + path, headers, data)
    except (OSError, ValueError) as exc:
        print(f"scms {command}: cannot reach {url}: {exc}", file=sys.stderr)
        return None
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = {"error": raw.decode("utf-8", "replace").strip()}
    if status >= 400:
        message = answer.get("error", answer) if isinstance(answer, dict) else answer
        print(f"scms {command}: refused ({status}): {message}", file=sys.stderr)
    return status, answer
