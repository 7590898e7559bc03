"""Real API Gateway (REST, proxy integration) events as JSON files, loaded by ``load_event`` (style.md 21)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent


def load_event(name: str) -> dict[str, Any]:
    """The event in ``tests/events/<name>.json``."""
    value: dict[str, Any] = json.loads((_HERE / f"{name}.json").read_text())
    return value
