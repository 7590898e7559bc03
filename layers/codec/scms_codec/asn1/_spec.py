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
    spec = asn1tools.compile_files([str(p) for p in module_files()], "oer", encoding="utf-8")
    seen: set[int] = set()
    for compiled in spec.types.values():
        _fix_fixed_size_bit_string_defaults(compiled._type, seen)
    return spec


def _fix_fixed_size_bit_string_defaults(node: Any, seen: set[int]) -> None:
    """Give a fixed-size BIT STRING's DEFAULT its full size (shared asn1/README.md, pitfall 1).

    asn1tools holds ``eeType EndEntityType DEFAULT {app}`` (SIZE (8)) as ``(b'\\x80', 1)``: a
    decoded certificate that omits eeType, as COER requires, then fails the SIZE (8) check, and
    a value written naturally as ``(b'\\x80', 8)`` is encoded although COER forbids encoding a
    DEFAULT value. With the default padded to its fixed size, both behave as X.696 says.
    """
    if id(node) in seen:
        return
    seen.add(id(node))
    bits = getattr(node, "number_of_bits", None)
    default = getattr(node, "default", None)
    if bits is not None and isinstance(default, tuple) and default[1] < bits:
        node.default = (bytes(default[0]).ljust((bits + 7) // 8, b"\x00"), bits)
    for attr in ("root_members", "additions"):
        for member in getattr(node, attr, None) or ():
            _fix_fixed_size_bit_string_defaults(member, seen)
    element = getattr(node, "element_type", None)
    if element is not None:
        _fix_fixed_size_bit_string_defaults(element, seen)
