"""scms_ee.wire reads what asn1tools reads (or declines); the one-verification ECQV key check is the textbook one."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from scms_ee import wire
from scms_ee.pseudonyms import implicit_key_matches

from scms_codec.cert.certificate import Certificate
from scms_codec.crypto import ecqv, points
from scms_codec.crypto.points import P256_N
from scms_codec.errors import InvalidKey
from scms_codec.secured.unsecured import unwrap_unsecured
from tests.unit.ee.test_pseudonyms import Batches, World
from tests.unit.ee.test_pseudonyms import issued as issued  # the module-scoped fixtures
from tests.unit.ee.test_pseudonyms import world as world


@pytest.mark.parametrize("cert_type", ["explicit", "implicit"])
def test_a_plain_response_reads_as_asn1tools_decodes_it(world: World, issued: Batches, cert_type: str) -> None:
    # Given a plain response as the ACA wrote it,
    data = next(iter(issued["plain", cert_type].responses.values()))
    # When the fast reader and the strict codec read it,
    fast = wire.read_response(data)
    assert fast is not None
    strict = Certificate.from_bytes(fast.certificate.encoded)
    # Then they agree on every field, and the octets are the certificate's canonical COER.
    assert fast.certificate.value == strict.value and fast.certificate.encoded == strict.encoded
    assert fast.certificate.tbs_coer == strict.tbs_encoded and fast.certificate.issuer_id == strict.issuer_id
    assert fast.certificate.implicit == strict.is_implicit
    assert wire.read_unsecured(data) == unwrap_unsecured(data)


@pytest.mark.parametrize("cert_type", ["explicit", "implicit"])
def test_a_certificate_of_another_shape_is_left_to_the_strict_parser(
    world: World, issued: Batches, cert_type: str
) -> None:
    data = next(iter(issued["plain", cert_type].responses.values()))
    fast = wire.read_response(data)
    assert fast is not None
    cert = fast.certificate.encoded
    assert wire.read_certificate(cert) is not None
    # A trailing octet, a self-signed issuer, a non-minimal length: each is declined, never misread.
    assert wire.read_certificate(cert + b"\x00") is None
    assert wire.read_certificate(cert[:3] + b"\x81" + cert[4:]) is None
    assert wire.read_unsecured(b"\x03\x80\x81\x05" + b"x" * 5) is None
    assert wire.read_response(data[:-1]) is None


def test_encrypted_and_signed_responses_are_split_where_the_aca_wrote_the_fields(world: World, issued: Batches) -> None:
    cubk = next(iter(issued["cubk", "explicit"].responses.values()))
    encrypted = wire.read_encrypted(cubk)
    assert encrypted is not None and len(encrypted.v) == 33 and encrypted.v[0] in (2, 3)
    assert cubk.endswith(encrypted.ciphertext) and len(encrypted.nonce) == 12
    assert wire.read_encrypted(cubk + b"\x00") is None and wire.read_signed(cubk) is None
    private = next(iter(issued["obk", "explicit"].responses.values()))
    signed = wire.read_signed(private)
    assert signed is not None and signed.signer_certificate == world.aca.encoded
    assert wire.read_encrypted(signed.payload) is not None
    assert wire.read_signed(private[:-1]) is None


def _ecqv_case() -> tuple[int, points.Point, int, points.Point]:
    """A CA key Q, a holder's P_U, e and d with d·G = e·P_U + Q (1609.2 §5.3.2)."""
    ca, q = points.generate()
    k, p_u = points.generate()
    e = int.from_bytes(os.urandom(32), "big") % P256_N
    return (e * k + ca) % P256_N, p_u, e, q


@pytest.mark.parametrize("seed", range(20))
def test_the_one_verification_key_check_accepts_what_the_textbook_check_accepts(seed: int) -> None:
    d, p_u, e, q = _ecqv_case()
    ecqv.check_key_pair(d, ecqv.reconstruct_public(e, p_u, q))
    assert implicit_key_matches(d, points.to_public_key(p_u), e, points.add(points.P256_G, points.neg(q)))


@pytest.mark.parametrize("seed", range(20))
def test_the_one_verification_key_check_refuses_a_wrong_key_point_or_sign(seed: int) -> None:
    d, p_u, e, q = _ecqv_case()
    g_minus_q = points.add(points.P256_G, points.neg(q))
    for bad_d, bad_p, bad_e in ((d + 1, p_u, e), (d, points.neg(p_u), e), (d, p_u, e + 1), ((P256_N - d), p_u, e)):
        with pytest.raises(InvalidKey):
            ecqv.check_key_pair(bad_d % P256_N, ecqv.reconstruct_public(bad_e, bad_p, q))
        assert not implicit_key_matches(bad_d % P256_N, points.to_public_key(bad_p), bad_e, g_minus_q)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert not implicit_key_matches(d, points.to_public_key(p_u), e, points.add(points.P256_G, points.neg(
        points.from_public_key(other))))  # fmt: skip
