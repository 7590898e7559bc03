"""Shared inputs of the interop checks: every item is decoded by the other tool once per session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from scms_codec import asn1
from tests.interop import ours
from tests.interop.expected import dissector_bug, without_dissector_bugs
from tests.interop.tools import (
    BcResult,
    Dissection,
    bc_compile,
    bc_missing,
    bc_run,
    certificate_carrier,
    tshark_dissect,
    tshark_missing,
)
from tests.support.vectors import encoded_samples

# The types both tools decode. ScmsPdu samples are skipped: neither BC 1.72 nor tshark 4.0 has 1609.2.1.
_TOOL_TYPE = {"Certificate": "Certificate", "Ieee1609Dot2Data": "Ieee1609Dot2Data", "SecuredCrl": "Ieee1609Dot2Data"}


@dataclass(frozen=True)
class Item:
    """One encoding to cross-check: a public sample or something our codec built."""

    name: str
    asn1_type: str  # "Certificate" or "Ieee1609Dot2Data"
    data: bytes
    ours: bool

    @property
    def value(self) -> Any:
        """Our strict decode of the same bytes."""
        return asn1.decode(self.asn1_type, self.data)


@cache
def items() -> tuple[Item, ...]:
    """The public samples first, then our certificates and SPDUs."""
    samples = tuple(
        Item(s.path.removeprefix("encoded/"), _TOOL_TYPE[s.asn1_type], s.data, False)
        for s in encoded_samples()
        if s.asn1_type in _TOOL_TYPE
    )
    built = tuple(Item(b.name, b.asn1_type, b.data, True) for b in ours.certificates() + ours.spdus())
    return samples + built


def item_params() -> list[Any]:
    return [pytest.param(i, id=i.name) for i in items()]


def _skip_or_fail(reason: str | None) -> None:
    """Skip when a decoder is missing, except in CI (.ci/run sets SCMS_REQUIRE_INTEROP=1), where it fails."""
    if reason is None:
        return
    if os.environ.get("SCMS_REQUIRE_INTEROP") == "1":
        pytest.fail(f"{reason} (SCMS_REQUIRE_INTEROP=1: CI must run the interop checks)")
    pytest.skip(reason)


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / (name.replace("/", "__") + ".oer")
    path.write_bytes(data)
    return path


@pytest.fixture(scope="session")
def bc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``check(asn1_type, data) -> BcResult``: every call after the first batch runs in one more JVM."""
    _skip_or_fail(bc_missing())
    work = tmp_path_factory.mktemp("bc")
    classes = bc_compile(work / "classes")
    inputs = work / "inputs"
    inputs.mkdir()
    cache_: dict[tuple[str, bytes], BcResult] = {}

    def run(batch: list[tuple[str, bytes]]) -> None:
        todo = [(t, d) for t, d in dict.fromkeys(batch) if (t, d) not in cache_]
        paths = [(t, str(_write(inputs, f"{len(cache_) + i}", d))) for i, (t, d) in enumerate(todo)]
        results = bc_run(classes, paths)
        for (t, d), (_, p) in zip(todo, paths, strict=True):
            cache_[(t, d)] = results[p]

    # One JVM for every item, its truncated twin and its trailing-octet twin.
    run([(i.asn1_type, d) for i in items() for d in (i.data, i.data[:-1], i.data + b"\x00")])

    def check(asn1_type: str, data: bytes) -> BcResult:
        if (asn1_type, data) not in cache_:
            run([(asn1_type, data)])
        return cache_[(asn1_type, data)]

    return check


@pytest.fixture(scope="session")
def dissect(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``dissect(record) -> Dissection`` of an Ieee1609Dot2Data record, batched into as few tshark runs as possible."""
    _skip_or_fail(tshark_missing())
    work = tmp_path_factory.mktemp("tshark")
    cache_: dict[bytes, Dissection] = {}

    def run(records: list[bytes]) -> None:
        todo = [r for r in dict.fromkeys(records) if r not in cache_]
        if todo:
            for record, dissection in zip(todo, tshark_dissect(work, todo), strict=True):
                cache_[record] = dissection

    run([r for i in items() for r in wireshark_records(i).values()])

    def get(record: bytes) -> Dissection:
        if record not in cache_:
            run([record])
        return cache_[record]

    return get


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


@cache
def wireshark_records(item: Item) -> dict[str, bytes]:
    """What tshark is fed for an item, and its twins.

    ``record``: the SPDU itself, or a SignedData carrying the certificate. ``stripped``: the record with
    the group-permission fields tshark 4.0 cannot read set to their DEFAULTs (only when it has any).
    ``flipped``: one octet flipped in a field the check covers (certificates: validity start; SPDUs and
    stripped records: the last octet, a signature or ciphertext octet),
    ``trailing``: one extra octet (after the stripped record if there is one), ``truncated``: one octet short.
    """
    record = certificate_carrier(item.data) if item.asn1_type == "Certificate" else item.data
    value = asn1.decode("Ieee1609Dot2Data", record)
    out = {"record": record}
    if dissector_bug(value):
        out["stripped"] = without_dissector_bugs("Ieee1609Dot2Data", value)
        out["flipped"] = _flip_last(out["stripped"])
    elif item.asn1_type == "Certificate":
        # Flip the last octet of validityPeriod.start: a field checked on every curve (P-384 keys are not).
        start = asn1.decode("Certificate", item.data)["toBeSigned"]["validityPeriod"]["start"].to_bytes(4, "big")
        at = item.data.index(start) + 3
        out["flipped"] = certificate_carrier(item.data[:at] + bytes([item.data[at] ^ 0x01]) + item.data[at + 1 :])
    else:
        out["flipped"] = _flip_last(record)
    out["trailing"] = out.get("stripped", record) + b"\x00"
    out["truncated"] = record[:-1]
    return out
