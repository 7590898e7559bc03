"""Linkage seeds, PLVs, LVs, group values and encrypted indices reproduce every CAMP intermediate; twins miss."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from scms_codec.crypto import linkage
from tests.support.vectors import crypto_cases, h


def _flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 0x01]) + value[1:]


# Individual linkage (camp_lv.json).


@pytest.mark.parametrize("case", crypto_cases("camp_lv.json"))
def test_camp_lv_seeds_plvs_and_lv(case: dict[str, Any]) -> None:
    i, j = case["i"], case["j"]
    for n in ("1", "2"):
        la_id, seed0 = h(case[f"la_id{n}_hex"]), h(case[f"ls{n}_0_hex"])
        if f"seed_evolution_sha256_input{n}_hex" in case:
            assert la_id + seed0 + bytes(14) == h(case[f"seed_evolution_sha256_input{n}_hex"])
            assert hashlib.sha256(la_id + seed0 + bytes(14)).digest() == h(case[f"seed_evolution_sha256_output{n}_hex"])
            assert linkage.evolve_seed(la_id, seed0) == h(case[f"ls{n}_i_hex"])
        seed_i = linkage.seed_at(la_id, seed0, 0, i)
        assert seed_i == h(case[f"ls{n}_i_hex"])
        assert la_id + j.to_bytes(4, "big") + bytes(10) == h(case[f"aes_input{n}_hex"])
        assert linkage.pre_linkage_value(la_id, seed_i, j) == h(case[f"plv{n}_hex"])
    plv1, plv2 = h(case["plv1_hex"]), h(case["plv2_hex"])
    assert linkage.linkage_value(plv1, plv2) == h(case["lv_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_lv.json"))
def test_camp_lv_with_flipped_seed_or_la_id_or_next_j_misses(case: dict[str, Any]) -> None:
    la_id, seed_i, j = h(case["la_id1_hex"]), h(case["ls1_i_hex"]), case["j"]
    expected = h(case["plv1_hex"])
    assert linkage.pre_linkage_value(la_id, _flip(seed_i), j) != expected
    assert linkage.pre_linkage_value(_flip(la_id), seed_i, j) != expected
    assert linkage.pre_linkage_value(la_id, seed_i, j + 1) != expected
    assert linkage.linkage_value(_flip(expected), h(case["plv2_hex"])) != h(case["lv_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_lv.json"))
def test_camp_lv_seed_evolution_with_flipped_la_id_misses(case: dict[str, Any]) -> None:
    la_id, seed0 = h(case["la_id1_hex"]), h(case["ls1_0_hex"])
    assert linkage.evolve_seed(_flip(la_id), seed0) != linkage.evolve_seed(la_id, seed0)
    if case["i"] > 0:
        assert linkage.seed_at(_flip(la_id), seed0, 0, case["i"]) != h(case["ls1_i_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_lv.json"))
def test_crl_entry_seeds_yield_the_certificate_lv_at_its_j(case: dict[str, Any]) -> None:
    # Given a linked CRL entry that publishes both LAs' seeds for period 0
    seeds = (h(case["la_id1_hex"]), h(case["ls1_0_hex"]), h(case["la_id2_hex"]), h(case["ls2_0_hex"]))
    # When a receiver derives the LVs of period i for j < jmax
    lvs = linkage.linkage_values_for_crl(*seeds, 0, case["i"], case["j"] + 2)
    # Then the certificate's LV is among them, at index j, and only there
    assert len(lvs) == case["j"] + 2
    assert lvs.index(h(case["lv_hex"])) == case["j"]
    # And a jmax that stops before j misses it
    assert h(case["lv_hex"]) not in linkage.linkage_values_for_crl(*seeds, 0, case["i"], case["j"])


def test_crl_entry_from_a_later_period_cannot_reach_back() -> None:
    case = crypto_cases("camp_lv.json")[1].values[0]
    with pytest.raises(ValueError, match="i_to"):
        linkage.linkage_values_for_crl(
            h(case["la_id1_hex"]), h(case["ls1_i_hex"]), h(case["la_id2_hex"]), h(case["ls2_i_hex"]), 1, 0, 4
        )


def test_pre_linkage_values_batch_equals_one_by_one() -> None:
    la_id, seed = b"\x8e\x09", bytes(range(16))
    js = [0, 1, 8, 19, 0xFFFFFFFF]
    assert linkage.pre_linkage_values(la_id, seed, js) == [linkage.pre_linkage_value(la_id, seed, j) for j in js]
    assert linkage.pre_linkage_values(la_id, seed, []) == []


# Group linkage (camp_glv.json).


@pytest.mark.parametrize("case", crypto_cases("camp_glv.json"))
def test_camp_glv_group_values_and_encrypted_index(case: dict[str, Any]) -> None:
    i, j = case["i"], case["j"]
    gplvs = []
    for n in ("1", "2"):
        la_id = h(case[f"la_id{n}_hex"])
        gs_i = linkage.seed_at(la_id, h(case[f"gs{n}_0_hex"]), 0, i)
        assert gs_i == h(case[f"gs{n}_i_hex"])
        assert la_id + j.to_bytes(4, "big") + bytes(10) == h(case[f"aes_input{n}_hex"])
        gplvs.append(linkage.group_pre_linkage_value(la_id, gs_i, j))
        assert gplvs[-1] == h(case[f"gplv{n}_hex"])
    assert linkage.group_linkage_value(*gplvs) == h(case["glv_hex"])
    assert h(case["k_hex"]) + j.to_bytes(4, "big") + bytes(8) == h(case["ei_aes_input_hex"])
    assert linkage.encrypted_index(h(case["ik_hex"]), h(case["k_hex"]), j) == h(case["ei_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_glv.json"))
def test_camp_glv_twins_miss(case: dict[str, Any]) -> None:
    ik, k, j = h(case["ik_hex"]), h(case["k_hex"]), case["j"]
    # The operand order matters: j ‖ k (the source's label) does not give the printed ei.
    assert linkage.encrypted_index(ik, j.to_bytes(4, "big"), int.from_bytes(k, "big")) != h(case["ei_hex"])
    assert linkage.encrypted_index(_flip(ik), k, j) != h(case["ei_hex"])
    gs1_flipped = _flip(h(case["gs1_i_hex"]))
    assert linkage.group_pre_linkage_value(h(case["la_id1_hex"]), gs1_flipped, j) != h(case["gplv1_hex"])
    assert linkage.group_linkage_value(_flip(h(case["gplv1_hex"])), h(case["gplv2_hex"])) != h(case["glv_hex"])


# Sizes and caller mistakes.


def test_initial_seeds_are_16_random_octets() -> None:
    first, second = linkage.initial_seed(), linkage.initial_seed()
    assert len(first) == linkage.SEED_SIZE == 16
    assert first != second


def test_seed_at_same_period_returns_the_seed() -> None:
    seed = bytes(16)
    assert linkage.seed_at(b"\x00\x01", seed, 5, 5) == seed


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: linkage.evolve_seed(b"\x00", bytes(16)), "la_id"),
        (lambda: linkage.evolve_seed(b"\x00\x01", bytes(15)), "seed"),
        (lambda: linkage.pre_linkage_value(b"\x00\x01", bytes(16), 1 << 32), "j"),
        (lambda: linkage.linkage_value(bytes(9), bytes(16)), "plv2"),
        (lambda: linkage.encrypted_index(bytes(16), bytes(2), 0), "k"),
        (lambda: linkage.encrypted_index(bytes(8), bytes(4), 0), "ik"),
        (lambda: linkage.seed_at(b"\x00\x01", bytes(16), 2, 1), "i_to"),
    ],
)
def test_wrong_sizes_and_ranges_raise_value_error_naming_the_argument(call: Any, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


def test_wrong_types_raise_type_error_naming_the_argument() -> None:
    with pytest.raises(TypeError, match="seed"):
        linkage.evolve_seed(b"\x00\x01", "00" * 16)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="j"):
        linkage.pre_linkage_value(b"\x00\x01", bytes(16), "1")  # type: ignore[arg-type]
