"""Butterfly expansion reproduces the OpenSCMS and CAMP vectors; RA, ACA and EE keys agree for every variant."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec.crypto import butterfly, ecqv, points
from scms_codec.crypto.butterfly import Expander, Variant
from scms_codec.crypto.points import P256_N, Point
from scms_codec.errors import InvalidKey
from tests.support.vectors import crypto_cases, h


def _point(hex_point: str) -> Point:
    return points.from_public_key(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), h(hex_point)))


def _flip(key: bytes) -> bytes:
    return bytes([key[0] ^ 0x01]) + key[1:]


# OpenSCMS RA vectors: x, y, f, f·G and the cocoon public key.


@pytest.mark.parametrize("vector", crypto_cases("butterfly_expansion_original_openscms.json"))
def test_openscms_vector_expands_to_its_cocoon_public_key(vector: dict[str, Any]) -> None:
    i, j, kind = vector["i"], vector["j"], vector["key_type"]
    expander = Expander(h(vector["expansion_key_hex"]))
    f = expander.f(i, j, kind)
    assert butterfly.expansion_input(i, j, kind) == h(vector["x_hex"])
    assert expander.y(i, j, kind) == h(vector["y_hex"])
    assert f == int(vector["f_ij_mod_n_hex"], 16)
    assert points.base_mul(f) == _point(vector["f_ij_G_compressed_hex"])
    caterpillar = _point(vector["caterpillar_public_key_uncompressed_hex"])
    cocoon = butterfly.cocoon_public_key(caterpillar, expander, i, j, kind)
    assert cocoon == _point(vector["cocoon_public_key_compressed_hex"])


@pytest.mark.parametrize("vector", crypto_cases("butterfly_expansion_original_openscms.json"))
def test_openscms_vector_with_flipped_key_bit_gives_another_cocoon(vector: dict[str, Any]) -> None:
    i, j, kind = vector["i"], vector["j"], vector["key_type"]
    expander = Expander(_flip(h(vector["expansion_key_hex"])))
    assert expander.f(i, j, kind) != int(vector["f_ij_mod_n_hex"], 16)
    caterpillar = _point(vector["caterpillar_public_key_uncompressed_hex"])
    cocoon = butterfly.cocoon_public_key(caterpillar, expander, i, j, kind)
    assert cocoon != _point(vector["cocoon_public_key_compressed_hex"])


@pytest.mark.parametrize("vector", crypto_cases("butterfly_expansion_original_openscms.json"))
def test_openscms_vector_with_the_other_kind_or_next_j_differs(vector: dict[str, Any]) -> None:
    i, j = vector["i"], vector["j"]
    other = "signing" if vector["key_type"] == "encryption" else "encryption"
    expander = Expander(h(vector["expansion_key_hex"]))
    assert butterfly.expansion_input(i, j, other) != h(vector["x_hex"])
    assert expander.f(i, j, other) != int(vector["f_ij_mod_n_hex"], 16)
    assert expander.f(i, j + 1, vector["key_type"]) != int(vector["f_ij_mod_n_hex"], 16)


# CAMP vectors: every AES block and the private side.


@pytest.mark.parametrize("case", crypto_cases("camp_bfkeyexp.json"))
def test_camp_vector_intermediates_and_both_cocoon_keys(case: dict[str, Any]) -> None:
    i, j, kind = case["i"], case["j"], case["key_type"]
    expander = Expander(h(case["expansion_key_hex"]))
    a = int(case["caterpillar_private_key_hex"], 16)
    caterpillar = _point(case["caterpillar_public_key_uncompressed_hex"])
    x = butterfly.expansion_input(i, j, kind)
    y = expander.y(i, j, kind)
    assert x == h(case["x_hex"])
    assert [(int.from_bytes(x, "big") + t).to_bytes(16, "big") for t in (1, 2, 3)] == [
        h(v) for v in case["aes_inputs_x_plus_1_2_3_hex"]
    ]
    assert [y[k : k + 16] for k in (0, 16, 32)] == [h(v) for v in case["blocks_aes_xor_input_hex"]]
    assert y == h(case["y_hex"])
    assert expander.f(i, j, kind) == int(case["f_mod_n_hex"], 16)
    assert points.base_mul(a) == caterpillar
    b = butterfly.cocoon_private_key(a, expander, i, j, kind)
    big_b = butterfly.cocoon_public_key(caterpillar, expander, i, j, kind)
    assert b == int(case["cocoon_private_key_hex"], 16)
    assert big_b == _point(case["cocoon_public_key_uncompressed_hex"])
    ecqv.check_key_pair(b, big_b)


@pytest.mark.parametrize("case", crypto_cases("camp_bfkeyexp.json"))
def test_camp_vector_with_flipped_key_bit_misses_cocoon_private_key(case: dict[str, Any]) -> None:
    i, j, kind = case["i"], case["j"], case["key_type"]
    expander = Expander(_flip(h(case["expansion_key_hex"])))
    b = butterfly.cocoon_private_key(int(case["caterpillar_private_key_hex"], 16), expander, i, j, kind)
    assert b != int(case["cocoon_private_key_hex"], 16)
    with pytest.raises(InvalidKey):
        ecqv.check_key_pair(b, _point(case["cocoon_public_key_uncompressed_hex"]))


# Batches.


def test_cocoon_public_keys_batch_equals_one_by_one() -> None:
    _, caterpillar = points.generate()
    expander = Expander(bytes(range(16)))
    pairs = [(i, j) for i in (0, 1, 7590) for j in range(5)]
    batch = butterfly.cocoon_public_keys(caterpillar, expander, pairs, "signing")
    assert batch == [butterfly.cocoon_public_key(caterpillar, expander, i, j, "signing") for i, j in pairs]
    assert len(set(batch)) == len(pairs)


def test_randomize_explicit_many_adds_c_times_g_to_each_cocoon() -> None:
    cocoons = [points.generate()[1] for _ in range(6)]
    for cocoon, (c, u) in zip(cocoons, butterfly.randomize_explicit_many(cocoons), strict=True):
        assert 0 < c < P256_N
        assert u == points.add(cocoon, points.base_mul(c))


# The whole flow, per variant: EE caterpillars -> RA cocoons -> ACA randomisation -> EE keys.


@pytest.mark.parametrize("variant", ["original", "unified", "compact-unified"])
@pytest.mark.parametrize("form", ["explicit", "implicit"])
def test_ee_rebuilds_certificate_and_response_keys_that_match_the_aca(variant: Variant, form: str) -> None:
    # Given an EE with a signing caterpillar (a, A), an encryption caterpillar (h, H) and expansion keys
    a, big_a = points.generate()
    h_priv, big_h = points.generate()
    ck, ek = Expander(b"\x11" * 16), Expander(b"\x22" * 16)
    d_aca, q_aca = points.generate()
    i, j = 3, 17
    encryption = {"encryption_caterpillar": big_h, "encryption_expander": ek} if variant == "original" else {}
    # When the RA expands the cocoon key and the response encryption key
    big_b = butterfly.cocoon_public_keys(big_a, ck, [(i, j)], "signing")[0]
    enc_pub = butterfly.response_encryption_public_key(variant, cocoon_signing=big_b, i=i, j=j, **encryption)
    # And the ACA randomises B, and the EE rebuilds its keys
    b = butterfly.cocoon_private_key(a, ck, i, j, "signing")
    if form == "explicit":
        c, cert_key = butterfly.randomize_explicit(big_b)
        cert_priv = butterfly.explicit_private_key(b, c)
    else:
        k, p_u = ecqv.ca_randomize(big_b)
        e = ecqv.certificate_hash_e(b"pseudonym tbs", b"ACA certificate")
        cert_priv = butterfly.implicit_private_key(b, e, ecqv.private_reconstruction(e, k, d_aca))
        cert_key = ecqv.reconstruct_public(e, p_u, q_aca)
    enc_priv = butterfly.response_encryption_private_key(
        variant,
        cocoon_signing_private=b,
        encryption_caterpillar_private=h_priv if variant == "original" else None,
        encryption_expander=ek if variant == "original" else None,
        i=i,
        j=j,
    )
    # Then both private keys match the public keys the SCMS used
    ecqv.check_key_pair(cert_priv, cert_key)
    ecqv.check_key_pair(enc_priv, enc_pub)
    assert (enc_pub == big_b) is (variant != "original")


def test_ee_key_for_the_wrong_j_fails_the_key_check() -> None:
    a, big_a = points.generate()
    ck = Expander(b"\x33" * 16)
    c, cert_key = butterfly.randomize_explicit(butterfly.cocoon_public_key(big_a, ck, 5, 1, "signing"))
    wrong = butterfly.explicit_private_key(butterfly.cocoon_private_key(a, ck, 5, 2, "signing"), c)
    with pytest.raises(InvalidKey):
        ecqv.check_key_pair(wrong, cert_key)


def test_original_variant_encryption_key_differs_from_cocoon_signing_key() -> None:
    _, big_a = points.generate()
    ck = Expander(b"\x44" * 16)
    big_b = butterfly.cocoon_public_key(big_a, ck, 0, 0, "signing")
    # The same caterpillar and expansion key, used as the encryption pair, still differ by x_e vs x_s.
    enc = butterfly.response_encryption_public_key(
        "original", cocoon_signing=big_b, encryption_caterpillar=big_a, encryption_expander=ck, i=0, j=0
    )
    assert enc != big_b


# Refusals.


def test_original_variant_without_encryption_caterpillar_is_refused() -> None:
    with pytest.raises(ValueError, match="encryption_caterpillar"):
        butterfly.response_encryption_public_key("original", cocoon_signing=points.P256_G, i=0, j=0)
    with pytest.raises(ValueError, match="encryption_caterpillar_private"):
        butterfly.response_encryption_private_key("original", cocoon_signing_private=5, i=0, j=0)


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="variant"):
        butterfly.response_encryption_public_key("cubk", cocoon_signing=points.P256_G, i=0, j=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="variant"):
        butterfly.response_encryption_private_key("cubk", cocoon_signing_private=5, i=0, j=0)  # type: ignore[arg-type]


def test_expander_refuses_wrong_key_size_and_hides_the_key() -> None:
    with pytest.raises(ValueError, match="16 octets"):
        Expander(b"\x00" * 15)
    with pytest.raises(TypeError, match="key"):
        Expander("00" * 16)  # type: ignore[arg-type]
    assert "5e7b" not in repr(Expander(bytes.fromhex("5e7ba5dd187f729d2a09b76a74e321cc")))


@pytest.mark.parametrize(("i", "j"), [(-1, 0), (0, 1 << 32)])
def test_i_and_j_must_fit_32_bits(i: int, j: int) -> None:
    with pytest.raises(ValueError, match="32 bits"):
        Expander(b"\x00" * 16).f(i, j, "signing")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        butterfly.expansion_input(0, 0, "verification")  # type: ignore[arg-type]


def test_caterpillar_off_the_curve_is_an_invalid_key() -> None:
    off = (points.P256_G[0], points.P256_G[1] ^ 1)
    with pytest.raises(InvalidKey):
        butterfly.cocoon_public_key(off, Expander(b"\x00" * 16), 0, 0, "signing")
    with pytest.raises(InvalidKey):
        butterfly.randomize_explicit(off)
