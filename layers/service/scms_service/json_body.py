"""The JSON object of a management API request body (RA and MA), refused with 400 (never a 500) when it is not one."""

from __future__ import annotations

import json
from typing import Any

from .errors import BadRequest

__all__ = ["MAX_BODY_OCTETS", "json_object"]

# A device item or a revocation must stay far below DynamoDB's 400 KB item limit (a bigger one was a 500 at the store).
MAX_BODY_OCTETS = 64 * 1024


def json_object(body: bytes) -> dict[str, Any]:
    """``body`` as a JSON object; ``BadRequest`` ("body: ...") if too big, not UTF-8 JSON, or not an object.

    Refused as well: nesting deeper than the parser's recursion limit (a RecursionError, not a
    ValueError) and strings holding lone surrogates (``"\\ud800"`` is valid JSON, but not UTF-8 that
    DynamoDB would store).
    """
    if len(body) > MAX_BODY_OCTETS:
        raise BadRequest(f"body: larger than {MAX_BODY_OCTETS} octets")
    try:
        doc = json.loads(body)
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        raise BadRequest("body: expected a JSON object") from None
    if not isinstance(doc, dict):
        raise BadRequest("body: expected a JSON object")
    return doc
