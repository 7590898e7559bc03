"""What a task module's Powertools logger writes, as parsed JSON lines (the fields CloudWatch would index)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class TaskLogs:
    """The JSON lines one Powertools logger wrote while the ``captured`` block ran."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    def lines(self, message: str | None = None) -> list[dict[str, Any]]:
        """Every line (or those whose message contains ``message``), oldest first; read clears nothing."""
        out = [json.loads(line) for line in self._buffer.getvalue().splitlines() if line.startswith("{")]
        return [line for line in out if message is None or message in str(line.get("message"))]


@contextmanager
def captured(logger: Any) -> Iterator[TaskLogs]:
    """Point ``logger``'s (a Powertools ``Logger``) handler at a buffer for the block, then back."""
    handler = logger.registered_handler
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    try:
        yield TaskLogs(buffer)
    finally:
        handler.setStream(old)
