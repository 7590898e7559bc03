"""The compiled-ASN.1 cache is current, equivalent to a fresh compile, and ignored when it does not match."""

from __future__ import annotations

from pathlib import Path

import pytest

from scms_codec.asn1 import _spec
from tests.support.vectors import encoded_samples


def test_shipped_cache_matches_the_vendored_modules() -> None:
    blob = _spec.CACHE_FILE.read_bytes()
    assert blob[:32] == _spec.cache_key(), "compiled.pickle is stale: run `make asn1-cache`"


def test_cached_specification_codes_every_sample_as_a_fresh_compile_does() -> None:
    cached, fresh = _spec.specification(), _spec.compile_specification()
    for sample in encoded_samples():
        a = cached.decode(sample.asn1_type, sample.data, check_constraints=True)
        b = fresh.decode(sample.asn1_type, sample.data, check_constraints=True)
        assert a == b, sample.path
        assert cached.encode(sample.asn1_type, a, check_constraints=True) == fresh.encode(sample.asn1_type, b)
    # The repaired eeType DEFAULT survives the round trip through the cache
    assert cached.decode("PsidGroupPermissions", bytes.fromhex("0081"))["eeType"] == (b"\x80", 8)


def test_a_cache_for_other_sources_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a cache file whose key does not match (as after editing a module)
    stale = tmp_path / "compiled.pickle"
    stale.write_bytes(b"\x00" * 32 + b"not a pickle")
    monkeypatch.setattr(_spec, "CACHE_FILE", stale)
    compiled: list[bool] = []
    real = _spec.compile_specification
    monkeypatch.setattr(_spec, "compile_specification", lambda: compiled.append(True) or real())
    # When the specification is loaded afresh, Then it is compiled, not unpickled
    _spec.specification.cache_clear()
    try:
        assert _spec.specification().types["Certificate"] is not None
        assert compiled == [True]
    finally:
        _spec.specification.cache_clear()


def test_write_cache_writes_a_file_the_loader_accepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _spec.write_cache(tmp_path / "compiled.pickle")
    monkeypatch.setattr(_spec, "CACHE_FILE", path)
    monkeypatch.setattr(_spec, "compile_specification", lambda: pytest.fail("the cache should have been used"))
    _spec.specification.cache_clear()
    try:
        assert "Ieee1609Dot2Data" in _spec.specification().types
    finally:
        _spec.specification.cache_clear()
