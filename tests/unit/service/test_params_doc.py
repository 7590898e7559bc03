"""docs/params.md lists every ``Settings`` field with the code's default (issue #4 §1)."""

from __future__ import annotations

import re
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any

from scms_service.config import Settings

PARAMS = Path(__file__).resolve().parents[3] / "docs" / "params.md"
_ROW = re.compile(r"^\| `(SCMS_[A-Z0-9_]+)` \| ([^|]*) \|", re.MULTILINE)


def documented_defaults(text: str) -> dict[str, str]:
    """Key → default cell of every row of the "Every setting" table (the first column is the key)."""
    section = text.split("## 2. Every setting", 1)[-1].split("\n## ", 1)[0]
    return {key: cell.strip() for key, cell in _ROW.findall(section)}


def _key(f: Field[Any]) -> str:
    return f"SCMS_{f.name.upper()}"


def _default(f: Field[Any]) -> str:
    value = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[operator]
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return '`""`'
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    return f"`{value}`"


def problems(text: str) -> list[str]:
    """Each Settings field missing from docs/params.md, or documented with another default."""
    documented = documented_defaults(text)
    out = []
    for f in fields(Settings):
        key = _key(f)
        if key not in documented:
            out.append(f"{key}: not documented")
        elif documented[key] != _default(f):
            out.append(f"{key}: documented default {documented[key]}, code default {_default(f)}")
    return out


def test_every_setting_is_documented_with_its_default() -> None:
    assert problems(PARAMS.read_text(encoding="utf-8")) == []


def test_a_setting_missing_from_the_doc_is_reported() -> None:
    # Twin: the same document without the eca-maxAge row.
    text = "\n".join(
        line for line in PARAMS.read_text(encoding="utf-8").splitlines() if not line.startswith("| `SCMS_ECA_MAX_AGE`")
    )
    assert problems(text) == ["SCMS_ECA_MAX_AGE: not documented"]


def test_a_wrong_default_in_the_doc_is_reported() -> None:
    row = "| `SCMS_ECA_MAX_WAIT` | `100` |"
    text = PARAMS.read_text(encoding="utf-8").replace(row, row.replace("`100`", "`10`"))
    assert problems(text) == ["SCMS_ECA_MAX_WAIT: documented default `10`, code default `100`"]


def test_every_clause_4_3_parameter_of_protocol_md_is_in_the_doc() -> None:
    # The parameter names of protocol.md §5.4's table, each mapped (or marked not yet enforced).
    protocol = (PARAMS.parent / "protocol.md").read_text(encoding="utf-8")
    table = protocol.split("### 5.4", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"^\| ([a-zA-Z0-9-]+)[ ,|]", table, re.MULTILINE)) - {"Parameter"}
    doc = PARAMS.read_text(encoding="utf-8").split("## 2.", 1)[0]
    assert names and not sorted(n for n in names if n not in doc)
