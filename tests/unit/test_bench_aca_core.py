"""``python -m bench.aca_core``: the ACA use case alone, ratioed to OpenSSL figures of the same run (not timed)."""

from __future__ import annotations

import pytest

from bench import aca_core, openssl_ref
from bench.aca_core import VARIANTS, use_case_ops, use_case_table

# 1e6 / rate: sign 20 µs, verify 50 µs, ECDH 40 µs; a second, slower run must not lower the budget.
FAST = openssl_ref.OpenSSLSpeed(command=("openssl",), sign_per_s=50_000.0, verify_per_s=20_000.0,
                                ecdh_per_s=25_000.0)  # fmt: skip
SLOW = openssl_ref.OpenSSLSpeed(command=("openssl",), sign_per_s=25_000.0, verify_per_s=10_000.0,
                                ecdh_per_s=12_500.0)  # fmt: skip


def test_every_variant_gets_a_ratio_to_the_faster_openssl_run(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = iter([SLOW, FAST])
    monkeypatch.setattr(openssl_ref, "run_openssl_speed", lambda **_: next(runs))
    monkeypatch.setattr(aca_core, "cpu_fixed_base_us", lambda: 10.0)
    text, results = use_case_table(batch=2, repeat=1)
    assert [r["variant"] for r in results] == [v.name for v in VARIANTS]
    for variant, row in zip(VARIANTS, results, strict=True):
        expected = use_case_ops(variant).budget_us(fixed_base_us=10.0, sign_us=20.0, ecdh_us=40.0, verify_us=50.0)
        assert row["c_budget_us"] == pytest.approx(expected)
        assert row["us_per_cert"] > 0 and row["ratio"] == pytest.approx(row["us_per_cert"] / expected)
        assert f"{row['ratio']:.2f}x" in text
    assert "sign 20.0, verify 50.0, ECDH 40.0" in text


def test_without_openssl_there_is_no_table(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = openssl_ref.OpenSSLSpeed(error="'openssl' not found on PATH: no OpenSSL ratio")
    monkeypatch.setattr(openssl_ref, "run_openssl_speed", lambda **_: missing)
    with pytest.raises(SystemExit, match="no OpenSSL reference"):
        use_case_table(batch=2, repeat=1)
