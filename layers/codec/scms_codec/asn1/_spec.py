"""Compile the vendored 1609.2 / 1609.2.1 modules once per process (style.md 6).

Compiling costs about 0.6 s, every Lambda cold start and every test process. ``compiled.pickle``
beside the modules holds the compiled specification, keyed by a hash of the module files and
the asn1tools version (the pickle holds plain Python objects, readable by any Python 3.8+); loading
it costs about 10 ms. Any mismatch (edited modules, another asn1tools) falls back to compiling, so
the cache can be stale but never wrong. ``make asn1-cache`` rewrites it; a test fails while it is stale.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from pathlib import Path
from typing import Any

import asn1tools

MODULES_DIR = Path(__file__).parent / "modules"
CACHE_FILE = MODULES_DIR / "compiled.pickle"


def module_files() -> list[Path]:
    """The vendored compiled-ready modules, in a stable order."""
    return sorted(MODULES_DIR.glob("*.asn"))


@functools.cache
def specification() -> Any:
    """The compiled OER specification: from ``compiled.pickle`` when it matches, else compiled (`make bench`)."""
    key = cache_key()
    try:
        blob = CACHE_FILE.read_bytes()
    except OSError:
        blob = b""
    if blob[: len(key)] == key:
        # Our own file, written by write_cache from these very sources (the key proves it).
        return pickle.loads(blob[len(key) :])  # noqa: S301
    return compile_specification()


def cache_key() -> bytes:
    """SHA-256 over the asn1tools version and every vendored module file."""
    h = hashlib.sha256(f"asn1tools {asn1tools.__version__}".encode())
    for path in module_files():
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.digest()


def compile_specification() -> Any:
    """Compile the modules (the slow path) and repair what asn1tools gets wrong."""
    spec = asn1tools.compile_files([str(p) for p in module_files()], "oer", encoding="utf-8")
    seen: set[int] = set()
    for compiled in spec.types.values():
        _fix_fixed_size_bit_string_defaults(compiled._type, seen)
    return spec


def write_cache(path: Path = CACHE_FILE) -> Path:
    """Compile and write the cache file (``make asn1-cache``); returns its path."""
    data = cache_key() + pickle.dumps(compile_specification(), protocol=pickle.HIGHEST_PROTOCOL)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
    return path


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
