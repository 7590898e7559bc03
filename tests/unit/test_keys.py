"""Keys and points on the wire: compressed/uncompressed forms, key CHOICEs, scalars (protocol.md §4.1)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import asn1
from scms_codec.crypto import keys
from scms_codec.errors import InvalidKey, UnsupportedAlgorithm
from tests.support.vectors import VECTORS, crypto_cases, crypto_file, h

CURVE_NAMES = list(keys.CURVES)
X962 = serialization.Encoding.X962
UNCOMPRESSED = serialization.PublicFormat.UncompressedPoint
# x = 1 is not the x-coordinate of any P-256 point (x^3 - 3x + b is a non-residue).
X_OFF_CURVE = (1).to_bytes(32, "big")


def _public(curve: str, d: int = 7) -> ec.EllipticCurvePublicKey:
    return ec.derive_private_key(d, keys.CURVES[curve].ec_curve).public_key()


def _same(a: ec.EllipticCurvePublicKey, b: ec.EllipticCurvePublicKey) -> bool:
    return a.public_bytes(X962, UNCOMPRESSED) == b.public_bytes(X962, UNCOMPRESSED)


@pytest.mark.parametrize("curve", CURVE_NAMES)
def test_group_order_is_right_because_n_minus_1_times_g_is_minus_g(curve: str) -> None:
    spec = keys.CURVES[curve]
    g = _public(curve, 1).public_numbers()
    minus_g = _public(curve, spec.order - 1).public_numbers()
    assert (minus_g.x, minus_g.y) != (g.x, g.y)
    assert minus_g.x == g.x
    with pytest.raises(ValueError):
        ec.derive_private_key(spec.order, spec.ec_curve)


@pytest.mark.parametrize("curve", CURVE_NAMES)
def test_compressed_point_round_trips_and_matches_sec1_prefix(curve: str) -> None:
    for d in (1, 2, 3, 5):  # enough to meet both parities on every curve
        key = _public(curve, d)
        alternative, x = keys.point_to_asn1(key)
        sec1 = key.public_bytes(X962, serialization.PublicFormat.CompressedPoint)
        assert alternative == {2: "compressed-y-0", 3: "compressed-y-1"}[sec1[0]]
        assert x == sec1[1:] and len(x) == keys.CURVES[curve].size
        assert _same(keys.point_from_asn1((alternative, x), curve), key)


@pytest.mark.parametrize("case", crypto_cases("camp_ecdh.json"))
def test_uncompressed_and_compressed_forms_give_the_same_key(case: dict[str, Any]) -> None:
    sec1 = h(case["peer_public_key_uncompressed_hex"])
    uncompressed = ("uncompressedP256", {"x": sec1[1:33], "y": sec1[33:]})
    key = keys.point_from_asn1(uncompressed)
    assert key.public_bytes(X962, UNCOMPRESSED) == sec1
    canonical = keys.canonical_point(uncompressed)
    assert canonical == keys.point_to_asn1(key)
    assert _same(keys.point_from_asn1(canonical), key)


def test_annex_d_ephemeral_key_compresses_to_the_published_form() -> None:
    v = crypto_file("ecies_p256_ieee1609dot2_annexD.json")["vector"]
    key = keys.public_key_from_sec1(h(v["ephemeral_public_key_V_uncompressed_hex"]))
    compressed = h(v["ephemeral_public_key_V_compressed_hex"])
    assert keys.point_to_asn1(key) == ("compressed-y-1", compressed[1:])


def test_swapped_parity_gives_the_negated_point() -> None:
    key = _public("nistP256")
    alternative, x = keys.point_to_asn1(key)
    other = "compressed-y-1" if alternative == "compressed-y-0" else "compressed-y-0"
    negated = keys.point_from_asn1((other, x))
    assert not _same(negated, key)
    p256_p = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
    assert negated.public_numbers().y == p256_p - key.public_numbers().y


@pytest.mark.parametrize(
    "point",
    [
        ("compressed-y-0", X_OFF_CURVE),
        ("compressed-y-1", X_OFF_CURVE),
        ("compressed-y-0", bytes(31) + b"\x07" + b"\x00"),  # 33 octets
        ("x-only", bytes(32)),
        ("fill", None),
        ("uncompressedP384", {"x": bytes(48), "y": bytes(48)}),
    ],
    ids=["y0-off-curve", "y1-off-curve", "long-x", "x-only", "fill", "wrong-size-uncompressed"],
)
def test_non_key_points_are_invalid_keys(point: tuple[str, Any]) -> None:
    with pytest.raises(InvalidKey):
        keys.point_from_asn1(point)


def test_uncompressed_point_with_a_wrong_y_is_an_invalid_key() -> None:
    sec1 = _public("nistP256").public_bytes(X962, UNCOMPRESSED)
    y = bytearray(sec1[33:])
    y[-1] ^= 1
    with pytest.raises(InvalidKey):
        keys.point_from_asn1(("uncompressedP256", {"x": sec1[1:33], "y": bytes(y)}))


def test_p384_uncompressed_point_is_accepted_on_p384_curves() -> None:
    key = _public("brainpoolP384r1")
    sec1 = key.public_bytes(X962, UNCOMPRESSED)
    point = ("uncompressedP384", {"x": sec1[1:49], "y": sec1[49:]})
    assert _same(keys.point_from_asn1(point, "brainpoolP384r1"), key)
    assert keys.canonical_point(point, "brainpoolP384r1") == keys.point_to_asn1(key)


@pytest.mark.parametrize("curve", ["sm2", "nistP224", "secp256r1"])
def test_unsupported_curve_names_are_refused(curve: str) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        keys.point_from_asn1(("compressed-y-0", bytes(32)), curve)


def test_key_on_an_unsupported_curve_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP224R1()).public_key()
    with pytest.raises(UnsupportedAlgorithm):
        keys.point_to_asn1(key)


def test_canonical_point_keeps_canonical_forms_and_refuses_fill() -> None:
    assert keys.canonical_point(("compressed-y-1", X_OFF_CURVE)) == ("compressed-y-1", X_OFF_CURVE)
    assert keys.canonical_point(("x-only", X_OFF_CURVE)) == ("x-only", X_OFF_CURVE)
    with pytest.raises(InvalidKey):
        keys.canonical_point(("fill", None))


def test_public_key_from_sec1_refuses_a_point_off_the_curve() -> None:
    with pytest.raises(InvalidKey):
        keys.public_key_from_sec1(b"\x02" + X_OFF_CURVE)


@pytest.mark.parametrize("curve", CURVE_NAMES)
def test_verification_key_round_trips_through_coer(curve: str) -> None:
    key = _public(curve)
    value = keys.verification_key_to_asn1(key)
    assert value[0] == keys.CURVES[curve].verification_key
    decoded = asn1.decode("PublicVerificationKey", asn1.encode("PublicVerificationKey", value))
    assert _same(keys.verification_key_from_asn1(decoded), key)


def test_verification_key_of_the_iss_root_is_read_from_the_certificate() -> None:
    cert = asn1.decode("Certificate", (VECTORS / "encoded/iyourshaw-ieee1609/iss_v2x_root.oer").read_bytes())
    indicator = cert["toBeSigned"]["verifyKeyIndicator"]
    key = keys.verification_key_from_asn1(indicator[1])
    assert keys.verification_key_to_asn1(key) == indicator[1]


def test_sm2_verification_key_is_unsupported() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        keys.verification_key_from_asn1(("ecsigSm2", keys.point_to_asn1(_public("nistP256"))))


def test_x_only_verification_key_is_invalid() -> None:
    with pytest.raises(InvalidKey):
        keys.verification_key_from_asn1(("ecdsaNistP256", ("x-only", bytes(32))))


def test_encryption_key_round_trips_through_coer() -> None:
    key = _public("nistP256")
    value = keys.encryption_key_to_asn1(key)
    assert value["supportedSymmAlg"] == "aes128Ccm" and value["publicKey"][0] == "eciesNistP256"
    decoded = asn1.decode("PublicEncryptionKey", asn1.encode("PublicEncryptionKey", value))
    assert _same(keys.encryption_key_from_asn1(decoded), key)


@pytest.mark.parametrize(
    "value",
    [
        {"supportedSymmAlg": "sm4Ccm", "publicKey": ("eciesNistP256", ("compressed-y-0", bytes(32)))},
        {"supportedSymmAlg": "aes128Ccm", "publicKey": ("eciesBrainpoolP256r1", ("compressed-y-0", bytes(32)))},
        {"supportedSymmAlg": "aes128Ccm", "publicKey": ("ecencSm2", ("compressed-y-0", bytes(32)))},
    ],
    ids=["sm4", "brainpool-ecies", "sm2"],
)
def test_other_encryption_algorithms_are_unsupported(value: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        keys.encryption_key_from_asn1(value)


def test_brainpool_key_cannot_be_an_encryption_key() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        keys.encryption_key_to_asn1(_public("brainpoolP256r1"))


def test_private_key_from_int_gives_the_published_public_key() -> None:
    case = crypto_file("camp_ecdsa.json")["cases"][0]
    d = int(case["private_key_d_hex"], 16)
    key = keys.private_key_from_int(d)
    assert key.public_key().public_bytes(X962, UNCOMPRESSED) == h(case["public_key_uncompressed_hex"])
    assert keys.private_key_to_int(key) == d
    other = keys.private_key_from_int(d ^ 1)
    assert other.public_key().public_bytes(X962, UNCOMPRESSED) != h(case["public_key_uncompressed_hex"])


@pytest.mark.parametrize("d", [0, -123456789, keys.CURVES["nistP256"].order, keys.CURVES["nistP256"].order + 987654321])
def test_private_scalar_out_of_range_is_refused_without_echoing_it(d: int) -> None:
    with pytest.raises(ValueError, match=r"^d: ") as info:
        keys.private_key_from_int(d)
    assert str(d) not in str(info.value)


def test_private_key_from_int_refuses_non_integers() -> None:
    with pytest.raises(TypeError):
        keys.private_key_from_int(b"\x01")  # type: ignore[arg-type]


def test_scalar_to_bytes_pads_to_32_octets_and_refuses_overflow() -> None:
    assert keys.scalar_to_bytes(1) == bytes(31) + b"\x01"
    assert keys.scalar_to_bytes(2**256 - 1) == b"\xff" * 32
    with pytest.raises(ValueError):
        keys.scalar_to_bytes(2**256)
    with pytest.raises(ValueError):
        keys.scalar_to_bytes(-1)
