"""Plain-text tables for ``make bench`` and the JSON file of ``--json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A left-aligned first column and right-aligned others, sized to their contents."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        first, *rest = row
        return "  ".join([first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def ratio(python_us: float | None, c_us: float | None) -> str | None:
    """``python / C`` as ``1.85x``, or None when either side is missing."""
    if not python_us or not c_us:
        return None
    return f"{python_us / c_us:.2f}x"


def per_second(us: float | None) -> float | None:
    """Operations per second from µs per operation."""
    return None if not us else 1e6 / us


def section(title: str) -> str:
    """A heading line with a rule under it."""
    return f"\n{title}\n{'=' * len(title)}"


def save_json(path: Path, results: dict[str, Any]) -> None:
    """Write the results with stable key order."""
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
