"""One loader per vector format (style.md 19). Parametrize ids are the vector file names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@dataclass(frozen=True)
class EncodedSample:
    """One public encoded message from vectors/index.json."""

    path: str
    asn1_type: str
    data: bytes
    summary: str


@cache
def encoded_samples() -> tuple[EncodedSample, ...]:
    index = json.loads((VECTORS / "index.json").read_text())
    return tuple(
        EncodedSample(e["file"], e["asn1_type"], (VECTORS / e["file"]).read_bytes(), e.get("summary", ""))
        for e in index["files"]
    )


def encoded_params() -> list[Any]:
    """``pytest.param`` per encoded sample, id = its path under vectors/."""
    return [pytest.param(s, id=s.path.removeprefix("encoded/")) for s in encoded_samples()]


@cache
def crypto_file(name: str) -> dict[str, Any]:
    """The parsed JSON of vectors/crypto/<name>."""
    data: dict[str, Any] = json.loads((VECTORS / "crypto" / name).read_text())
    return data


def crypto_cases(name: str) -> list[Any]:
    """``pytest.param`` per case of a crypto vector file ("cases", "vectors" or one "vector")."""
    data = crypto_file(name)
    cases = data.get("cases") or data.get("vectors") or [data["vector"]]
    stem = name.removesuffix(".json")
    return [pytest.param(c, id=f"{stem}[{c.get('name', i)}]") for i, c in enumerate(cases)]


def h(value: str) -> bytes:
    """Bytes of a hex string from a vector file."""
    return bytes.fromhex(value)
