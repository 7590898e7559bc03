"""P-256 affine arithmetic agrees with cryptography: a·G + b·G = (a+b)·G, k·(a·G) = (ka)·G, ECDH KATs, edge cases."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from scms_codec.crypto import points
from scms_codec.crypto.points import P256_G, P256_N, P256_P, Point
from scms_codec.errors import InvalidKey
from tests.support.vectors import crypto_cases, h

scalars = st.integers(min_value=1, max_value=P256_N - 1)


def _point(hex_point: str) -> Point:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), h(hex_point))
    return points.from_public_key(key)


def _reference(k: int) -> Point:
    """k·G straight from cryptography, independent of points.base_mul's own code path."""
    numbers = ec.derive_private_key(k % P256_N, ec.SECP256R1()).public_key().public_numbers()
    return (numbers.x, numbers.y)


# Known answers: NIST CAVS ECDH vectors give d, d·G and x(d·Peer).


@pytest.mark.parametrize("case", crypto_cases("camp_ecdh.json"))
def test_base_mul_matches_ecdh_vector_public_key(case: dict[str, Any]) -> None:
    d = int(case["private_key_hex"], 16)
    assert points.base_mul(d) == _point(case["own_public_key_uncompressed_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_ecdh.json"))
def test_base_mul_of_neighbour_scalar_differs_from_vector(case: dict[str, Any]) -> None:
    d = int(case["private_key_hex"], 16)
    assert points.base_mul(d + 1) != _point(case["own_public_key_uncompressed_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_ecdh.json"))
def test_mul_gives_ecdh_vector_shared_x_and_a_curve_point(case: dict[str, Any]) -> None:
    result = points.mul(int(case["private_key_hex"], 16), _point(case["peer_public_key_uncompressed_hex"]))
    assert result[0].to_bytes(32, "big") == h(case["expected_z_hex"])
    assert points.is_on_curve(result)


@pytest.mark.parametrize("case", crypto_cases("camp_ecdh.json"))
def test_mul_with_flipped_scalar_bit_misses_ecdh_vector(case: dict[str, Any]) -> None:
    result = points.mul(int(case["private_key_hex"], 16) ^ 1, _point(case["peer_public_key_uncompressed_hex"]))
    assert result[0].to_bytes(32, "big") != h(case["expected_z_hex"])


# Properties against cryptography (notes/performance.md §3 checks).


@settings(max_examples=30, deadline=None)
@given(a=scalars, b=scalars)
def test_add_of_two_multiples_equals_multiple_of_sum(a: int, b: int) -> None:
    if (a + b) % P256_N == 0:
        with pytest.raises(ValueError, match="infinity"):
            points.add(_reference(a), _reference(b))
    else:
        assert points.add(_reference(a), _reference(b)) == _reference(a + b)


@settings(max_examples=30, deadline=None)
@given(k=scalars, a=scalars)
def test_mul_of_multiple_equals_multiple_of_product(k: int, a: int) -> None:
    assert points.mul(k, _reference(a)) == _reference(k * a)


@settings(max_examples=30, deadline=None)
@given(k=scalars)
def test_base_mul_equals_cryptography_and_lies_on_curve(k: int) -> None:
    result = points.base_mul(k)
    assert result == _reference(k)
    assert points.is_on_curve(result)


@settings(max_examples=10, deadline=None)
@given(pairs=st.lists(st.tuples(scalars, scalars), min_size=1, max_size=12))
def test_add_many_equals_one_add_per_pair(pairs: list[tuple[int, int]]) -> None:
    operands = [(_reference(a), _reference(b)) for a, b in pairs if (a + b) % P256_N]
    assert points.add_many(operands) == [_reference(a + b) for a, b in pairs if (a + b) % P256_N]


# Edge cases.


def test_add_doubles_when_both_operands_are_equal() -> None:
    assert points.add(P256_G, P256_G) == _reference(2)


def test_add_of_point_and_its_negation_raises_point_at_infinity() -> None:
    with pytest.raises(ValueError, match="infinity"):
        points.add(P256_G, points.neg(P256_G))


def test_add_many_handles_doubling_inside_a_batch() -> None:
    pairs = [(_reference(3), _reference(5)), (_reference(7), _reference(7)), (P256_G, _reference(2))]
    assert points.add_many(pairs) == [_reference(8), _reference(14), _reference(3)]


def test_add_many_names_the_pair_that_reaches_infinity() -> None:
    pairs = [(_reference(3), _reference(5)), (_reference(9), _reference(P256_N - 9))]
    with pytest.raises(ValueError, match=r"pairs\[1\]"):
        points.add_many(pairs)


def test_add_many_of_nothing_is_empty() -> None:
    assert points.add_many([]) == []


def test_mul_by_one_returns_the_point() -> None:
    assert points.mul(1, _reference(12345)) == _reference(12345)


def test_mul_by_n_minus_one_returns_the_negation() -> None:
    assert points.mul(P256_N - 1, _reference(12345)) == points.neg(_reference(12345))


def test_mul_by_two_and_by_n_minus_two() -> None:
    assert points.mul(2, _reference(777)) == _reference(1554)
    assert points.mul(P256_N - 2, _reference(777)) == _reference(-1554)


def test_mul_reduces_scalar_mod_n() -> None:
    assert points.mul(P256_N + 5, _reference(11)) == _reference(55)


@pytest.mark.parametrize("k", [0, P256_N, -P256_N])
def test_scalar_multiple_of_n_raises_point_at_infinity(k: int) -> None:
    with pytest.raises(ValueError, match="infinity"):
        points.base_mul(k)
    with pytest.raises(ValueError, match="infinity"):
        points.mul(k, P256_G)


def test_base_mul_of_one_and_n_minus_one_are_g_and_minus_g() -> None:
    assert points.base_mul(1) == P256_G
    assert points.base_mul(P256_N - 1) == points.neg(P256_G)


def test_generate_returns_a_scalar_and_its_point() -> None:
    k, big_k = points.generate()
    assert 0 < k < P256_N
    assert big_k == _reference(k)


def test_add_random_returns_k_and_the_point_plus_k_g() -> None:
    base = _reference(7)
    k, total = points.add_random(base)
    assert 0 < k < P256_N
    assert total == _reference(7 + k)
    assert points.add_random(base)[0] != k  # a fresh k per call


def test_add_random_refuses_a_point_off_the_curve() -> None:
    with pytest.raises(InvalidKey):
        points.add_random((P256_G[0], P256_G[1] ^ 1))


def test_point_off_the_curve_is_refused_as_invalid_key() -> None:
    off = (P256_G[0], P256_G[1] ^ 1)
    assert not points.is_on_curve(off)
    with pytest.raises(InvalidKey):
        points.to_public_key(off)
    with pytest.raises(InvalidKey):
        points.mul(3, off)


def test_coordinates_outside_the_field_are_not_on_curve() -> None:
    assert not points.is_on_curve((P256_G[0] + P256_P, P256_G[1]))


def test_public_key_round_trip() -> None:
    p = _reference(424242)
    assert points.from_public_key(points.to_public_key(p)) == p


def test_from_public_key_refuses_another_curve() -> None:
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(ValueError, match="P-256"):
        points.from_public_key(other)


def test_wrong_argument_types_raise_type_error() -> None:
    with pytest.raises(TypeError, match="k"):
        points.base_mul(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="p"):
        points.add([1, 2], P256_G)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key"):
        points.from_public_key(b"\x02" * 33)  # type: ignore[arg-type]
