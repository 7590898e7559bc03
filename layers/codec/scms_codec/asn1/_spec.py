"""Compile the vendored 1609.2 / 1609.2.1 modules once per process (style.md 6)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import asn1tools

MODULES_DIR = Path(__file__).parent / "modules"


def module_files() -> list[Path]:
    """The vendored compiled-ready modules, in a stable order."""
    return sorted(MODULES_DIR.glob("*.asn"))


@functools.cache
def specification() -> Any:
    """The compiled OER specification; the first call costs the compile (see `make bench`)."""
    return asn1tools.compile_files([str(p) for p in module_files()], "oer", encoding="utf-8")
