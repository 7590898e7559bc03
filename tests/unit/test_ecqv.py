"""ECQV: the 1609.2 full-hash e reconstructs the GHS certificates, SEC 4's e the CAMP KATs; a wrong e never does."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import asn1
from scms_codec.crypto import ecqv, points
from scms_codec.crypto.points import P256_N, Point
from scms_codec.errors import InvalidKey
from tests.support.vectors import crypto_cases, crypto_file, h


def _point(hex_point: str) -> Point:
    return points.from_public_key(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), h(hex_point)))


def _compressed(p: Point) -> bytes:
    return bytes([2 | (p[1] & 1)]) + p[0].to_bytes(32, "big")


def _int(hex_value: str) -> int:
    return int(hex_value, 16)


def _cases(style_prefix: str) -> list[Any]:
    """The ecqv_implicit_cert_p256.json vectors whose ``style`` starts with ``style_prefix``."""
    vectors = crypto_file("ecqv_implicit_cert_p256.json")["vectors"]
    chosen = [v for v in vectors if v["style"].startswith(style_prefix)]
    return [pytest.param(v, id=f"ecqv_implicit_cert_p256[{v['name']}]") for v in chosen]


def _ghs_keys(vector: dict[str, Any], e: int) -> tuple[int, Point]:
    """d_U and Q_U of a GHS vector for a given e."""
    d_u = ecqv.reconstruct_private(e, _int(vector["kU_hex"]), _int(vector["r_private_reconstruction_value_hex"]))
    issuer_key = _point(vector["issuer_public_key_compressed_hex"])
    return d_u, ecqv.reconstruct_public(e, _point(vector["PU_compressed_hex"]), issuer_key)


def _ghs_e(vector: dict[str, Any], e_form: str = "ieee1609dot2") -> int:
    """e of a GHS certificate, computed from the certificate's own toBeSigned and the given issuer hash."""
    cert = asn1.decode("Certificate", h(vector["certificate_coer_hex"]))
    tbs_hash = hashlib.sha256(asn1.encode("ToBeSignedCertificate", cert["toBeSigned"])).digest()
    if e_form == "sec4":
        return int.from_bytes(hashlib.sha256(tbs_hash + h(vector["issuer_cert_hash_hex"])).digest(), "big") >> 1
    return ecqv.e_from_digests(tbs_hash, h(vector["issuer_cert_hash_hex"]))


# IEEE 1609.2 form: real GHS implicit certificates.


@pytest.mark.parametrize("vector", _cases("IEEE 1609.2"))
def test_ghs_certificate_reconstructs_with_full_hash_e(vector: dict[str, Any]) -> None:
    # Given a real COER implicit certificate and its issuer's hash
    cert = asn1.decode("Certificate", h(vector["certificate_coer_hex"]))
    assert cert["issuer"] == ("sha256AndDigest", h(vector["issuer_cert_hash_hex"])[-8:])
    p_u = _point(vector["PU_compressed_hex"])
    assert _compressed(p_u)[1:] == cert["toBeSigned"]["verifyKeyIndicator"][1][1]
    # When e is computed from the certificate's toBeSigned
    e = _ghs_e(vector)
    d_u = ecqv.reconstruct_private(e, _int(vector["kU_hex"]), _int(vector["r_private_reconstruction_value_hex"]))
    q_u = ecqv.reconstruct_public(e, p_u, _point(vector["issuer_public_key_compressed_hex"]))
    # Then e, d_U and Q_U are the vector's, and they form a key pair
    assert e == _int(vector["e_hex"])
    assert d_u == _int(vector["expected_dU_hex"])
    assert q_u == _point(vector["expected_QU_uncompressed_hex"])
    ecqv.check_key_pair(d_u, q_u)


@pytest.mark.parametrize("vector", _cases("IEEE 1609.2"))
def test_ghs_certificate_fails_key_check_with_sec4_e(vector: dict[str, Any]) -> None:
    e = _ghs_e(vector, "sec4")
    d_u, q_u = _ghs_keys(vector, e)
    with pytest.raises(InvalidKey):
        ecqv.check_key_pair(d_u, q_u)


@pytest.mark.parametrize("vector", _cases("IEEE 1609.2"))
def test_ghs_certificate_with_flipped_tbs_bit_fails_key_check(vector: dict[str, Any]) -> None:
    cert = asn1.decode("Certificate", h(vector["certificate_coer_hex"]))
    tbs = bytearray(asn1.encode("ToBeSignedCertificate", cert["toBeSigned"]))
    tbs[10] ^= 0x01
    e = ecqv.e_from_digests(hashlib.sha256(tbs).digest(), h(vector["issuer_cert_hash_hex"]))
    d_u, q_u = _ghs_keys(vector, e)
    with pytest.raises(InvalidKey):
        ecqv.check_key_pair(d_u, q_u)


# SEC 4 arithmetic with e = SHA-256(CertU) mod n (KISA), and SEC 4's e = H >> 1 (CAMP, with the CA side).


@pytest.mark.parametrize("vector", _cases("SEC 4"))
def test_kisa_vector_reconstructs_with_full_hash_of_cert_u(vector: dict[str, Any]) -> None:
    digest = hashlib.sha256(h(vector["certU_hex"])).digest()
    assert digest == h(vector["e_input_hash_hex"])
    e = int.from_bytes(digest, "big") % P256_N
    d_u = ecqv.reconstruct_private(e, _int(vector["kU_hex"]), _int(vector["r_private_reconstruction_value_hex"]))
    q_u = ecqv.reconstruct_public(e, _point(vector["PU_compressed_hex"]), _point(vector["QCA_uncompressed_hex"]))
    assert d_u == _int(vector["expected_dU_hex"])
    assert q_u == _point(vector["expected_QU_uncompressed_hex"])
    ecqv.check_key_pair(d_u, q_u)


@pytest.mark.parametrize("vector", _cases("SEC 4"))
def test_kisa_vector_misses_with_sec4_shifted_e(vector: dict[str, Any]) -> None:
    e = ecqv.sec4_e(h(vector["certU_hex"]))
    d_u = ecqv.reconstruct_private(e, _int(vector["kU_hex"]), _int(vector["r_private_reconstruction_value_hex"]))
    assert d_u != _int(vector["expected_dU_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_implicit.json"))
def test_camp_vector_ca_side_and_holder_side(case: dict[str, Any]) -> None:
    # Given the requester's R_U, the CA key and the CA's ephemeral k
    r_u = _point(case["RU_uncompressed_hex"])
    k = _int(case["ca_ephemeral_k_hex"])
    # When the CA builds P_U = R_U + k·G, CertU and r
    p_u = points.add(r_u, points.base_mul(k))
    cert_u = h(case["tbs_cert_hex"]) + _compressed(p_u)
    e = ecqv.sec4_e(cert_u)
    r = ecqv.private_reconstruction(e, k, _int(case["dCA_hex"]))
    # And the holder and a verifier reconstruct
    d_u = ecqv.reconstruct_private(e, _int(case["kU_hex"]), r)
    q_u = ecqv.reconstruct_public(e, p_u, _point(case["QCA_uncompressed_hex"]))
    # Then every value is the vector's
    assert r_u == points.base_mul(_int(case["kU_hex"]))
    assert p_u == _point(case["expected_PU_uncompressed_hex"])
    assert cert_u == h(case["expected_certU_hex"])
    assert r == _int(case["expected_r_hex"])
    assert d_u == _int(case["expected_dU_hex"])
    assert q_u == _point(case["expected_QU_uncompressed_hex"])
    ecqv.check_key_pair(d_u, q_u)


@pytest.mark.parametrize("case", crypto_cases("camp_implicit.json"))
def test_camp_vector_misses_with_unshifted_e(case: dict[str, Any]) -> None:
    e = int.from_bytes(hashlib.sha256(h(case["expected_certU_hex"])).digest(), "big") % P256_N
    r = ecqv.private_reconstruction(e, _int(case["ca_ephemeral_k_hex"]), _int(case["dCA_hex"]))
    assert r != _int(case["expected_r_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_implicit.json"))
def test_camp_vector_with_flipped_cert_u_bit_gives_other_e(case: dict[str, Any]) -> None:
    cert_u = bytearray(h(case["expected_certU_hex"]))
    cert_u[0] ^= 0x80
    r = ecqv.private_reconstruction(ecqv.sec4_e(bytes(cert_u)), _int(case["ca_ephemeral_k_hex"]), _int(case["dCA_hex"]))
    assert r != _int(case["expected_r_hex"])


# The whole flow with random keys and the 1609.2 e over (tbs, issuer certificate).


def test_issue_and_reconstruct_round_trip_passes_key_check() -> None:
    # Given a CA key and a requester's R = k_U·G
    d_ca, q_ca = points.generate()
    k_u, request = points.generate()
    tbs, issuer = b"to-be-signed certificate", b"issuer certificate"
    # When the CA randomises and answers, and the holder reconstructs
    k, p_u = ecqv.ca_randomize(request)
    e = ecqv.certificate_hash_e(tbs, issuer)
    r = ecqv.private_reconstruction(e, k, d_ca)
    d_u = ecqv.reconstruct_private(e, k_u, r)
    # Then P_U - R is k·G and d_U matches Q_U = e·P_U + Q_CA
    assert points.add(p_u, points.neg(request)) == points.base_mul(k)
    ecqv.check_key_pair(d_u, ecqv.reconstruct_public(e, p_u, q_ca))


def test_reconstruction_with_another_issuer_certificate_fails_key_check() -> None:
    d_ca, q_ca = points.generate()
    k_u, request = points.generate()
    k, p_u = ecqv.ca_randomize(request)
    r = ecqv.private_reconstruction(ecqv.certificate_hash_e(b"tbs", b"issuer A"), k, d_ca)
    e_other = ecqv.certificate_hash_e(b"tbs", b"issuer B")
    with pytest.raises(InvalidKey):
        ecqv.check_key_pair(ecqv.reconstruct_private(e_other, k_u, r), ecqv.reconstruct_public(e_other, p_u, q_ca))


def test_certificate_hash_e_is_hash_of_both_hashes_reduced_mod_n() -> None:
    tbs, issuer = b"\x01\x02", b"\x03"
    inner = hashlib.sha256(tbs).digest() + hashlib.sha256(issuer).digest()
    assert ecqv.certificate_hash_e(tbs, issuer) == int.from_bytes(hashlib.sha256(inner).digest(), "big") % P256_N
    assert ecqv.certificate_hash_e(issuer, tbs) != ecqv.certificate_hash_e(tbs, issuer)


# Refusals.


def test_check_key_pair_refuses_out_of_range_private_key() -> None:
    for d in (0, P256_N):
        with pytest.raises(InvalidKey):
            ecqv.check_key_pair(d, points.P256_G)


def test_zero_r_is_refused_so_the_ca_draws_again() -> None:
    with pytest.raises(ValueError, match="draw a new k"):
        ecqv.private_reconstruction(1, 1, P256_N - 1)


def test_zero_reconstructed_private_key_is_invalid() -> None:
    with pytest.raises(InvalidKey):
        ecqv.reconstruct_private(1, 1, P256_N - 1)


def test_zero_e_is_invalid_for_reconstruction() -> None:
    with pytest.raises(InvalidKey):
        ecqv.reconstruct_public(P256_N, points.P256_G, points.base_mul(2))


def test_reconstructed_point_at_infinity_is_invalid() -> None:
    # e·P_U = -Q_CA gives Q_U = infinity.
    with pytest.raises(InvalidKey, match="infinity"):
        ecqv.reconstruct_public(2, points.P256_G, points.base_mul(P256_N - 2))


def test_points_off_the_curve_are_invalid_keys() -> None:
    off = (points.P256_G[0], points.P256_G[1] ^ 1)
    with pytest.raises(InvalidKey):
        ecqv.reconstruct_public(5, off, points.P256_G)
    with pytest.raises(InvalidKey):
        ecqv.reconstruct_public(5, points.P256_G, off)
    with pytest.raises(InvalidKey):
        ecqv.ca_randomize(off)


def test_caller_mistakes_raise_type_and_value_errors() -> None:
    with pytest.raises(ValueError, match="tbs_hash"):
        ecqv.e_from_digests(b"\x00" * 31, b"\x00" * 32)
    with pytest.raises(TypeError, match="tbs_coer"):
        ecqv.certificate_hash_e("tbs", b"")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ca_private"):
        ecqv.private_reconstruction(1, 2, "3")  # type: ignore[arg-type]
