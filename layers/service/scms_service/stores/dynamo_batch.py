"""BatchWriteItem and BatchGetItem in chunks, with the unprocessed remainder retried under backoff.

DynamoDB answers a batch partly when it throttles (``UnprocessedItems``/``UnprocessedKeys``): the
remainder is sent again after a short, growing pause; what is still left after the last attempt
raises ``TransientStoreError`` (the ASL retries the task). A ``ClientError`` is given to the
caller's ``on_error`` to become its domain error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from ..errors import ScmsError, TransientStoreError

__all__ = ["GET_CHUNK", "WRITE_CHUNK", "batch_get", "batch_write"]

WRITE_CHUNK = 25  # BatchWriteItem's limit
GET_CHUNK = 100  # BatchGetItem's limit
_ATTEMPTS = 8
_FIRST_PAUSE = 0.02  # seconds; doubled after each partial answer

Sleep = Callable[[float], None]
OnError = Callable[[ClientError, str], ScmsError]


def batch_write(
    client: Any,
    table: str,
    requests: Sequence[dict[str, Any]],
    *,
    on_error: OnError,
    action: str,
    sleep: Sleep = time.sleep,
) -> None:
    """Send ``requests`` (``{"PutRequest": …}`` / ``{"DeleteRequest": …}``) 25 at a time until all are processed."""
    for start in range(0, len(requests), WRITE_CHUNK):
        pending: dict[str, Any] = {table: list(requests[start : start + WRITE_CHUNK])}
        pause = _FIRST_PAUSE
        for attempt in range(_ATTEMPTS):
            try:
                out = client.batch_write_item(RequestItems=pending)
            except ClientError as exc:
                raise on_error(exc, action) from exc
            pending = out.get("UnprocessedItems") or {}
            if not pending.get(table):
                break
            if attempt + 1 < _ATTEMPTS:
                sleep(pause)
                pause *= 2
        else:
            raise TransientStoreError(f"table busy during {action}: items left unprocessed")


def batch_get(
    client: Any,
    table: str,
    keys: Sequence[dict[str, Any]],
    *,
    on_error: OnError,
    action: str,
    projection: str | None = None,
    names: dict[str, str] | None = None,
    consistent: bool = True,
    sleep: Sleep = time.sleep,
) -> list[dict[str, Any]]:
    """The items found for ``keys`` (any order; absent keys give nothing), 100 keys per request."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), GET_CHUNK):
        spec: dict[str, Any] = {"Keys": list(keys[start : start + GET_CHUNK]), "ConsistentRead": consistent}
        if projection is not None:
            spec["ProjectionExpression"] = projection
        if names:
            spec["ExpressionAttributeNames"] = names
        pending: dict[str, Any] = {table: spec}
        pause = _FIRST_PAUSE
        for attempt in range(_ATTEMPTS):
            try:
                out = client.batch_get_item(RequestItems=pending)
            except ClientError as exc:
                raise on_error(exc, action) from exc
            found.extend(out.get("Responses", {}).get(table, []))
            pending = out.get("UnprocessedKeys") or {}
            if not pending.get(table, {}).get("Keys"):
                break
            if attempt + 1 < _ATTEMPTS:
                sleep(pause)
                pause *= 2
        else:
            raise TransientStoreError(f"table busy during {action}: keys left unprocessed")
    return found
