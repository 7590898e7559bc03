"""Hashes, HashedIdN and the 1609.2 signing input (protocol.md §4.1-§4.2)."""

from __future__ import annotations

import hashlib

import pytest

from scms_codec.crypto import hashing
from scms_codec.errors import UnsupportedAlgorithm
from tests.support.vectors import VECTORS

ISS_ROOT = (VECTORS / "encoded/iyourshaw-ieee1609/iss_v2x_root.oer").read_bytes()


def test_hashed_ids_of_the_empty_string_match_protocol_notes() -> None:
    # protocol.md §4.1 quotes these low-order octets of SHA-256("").
    assert hashing.hashed_id3(b"") == bytes.fromhex("52b855")
    assert hashing.hashed_id8(b"") == bytes.fromhex("a495991b7852b855")
    assert hashing.hashed_id10(b"") == bytes.fromhex("934ca495991b7852b855")
    assert hashing.digest(b"") == hashing.EMPTY_SHA256 == hashlib.sha256(b"").digest()


def test_hashed_ids_change_when_one_bit_of_the_input_changes() -> None:
    assert hashing.hashed_id8(b"\x01") != hashing.hashed_id8(b"\x00")
    assert hashing.hashed_id3(b"\x01") != hashing.hashed_id3(b"\x00")


def test_hashed_id8_of_the_iss_root_is_the_crl_signer_digest() -> None:
    # The ISS CRL names its signer by this digest (protocol.md §1.1, §4.1 [vec]).
    assert hashing.hashed_id8(ISS_ROOT) == bytes.fromhex("7ac9efd3cc396921")


def test_hashed_id8_of_a_modified_iss_root_differs() -> None:
    altered = ISS_ROOT[:-1] + bytes([ISS_ROOT[-1] ^ 1])
    assert hashing.hashed_id8(altered) != bytes.fromhex("7ac9efd3cc396921")


def test_sha384_hashed_ids_are_the_low_order_octets_of_sha384() -> None:
    full = hashlib.sha384(b"abc").digest()
    assert hashing.digest(b"abc", "sha384") == full
    assert hashing.hashed_id8(b"abc", "sha384") == full[-8:]
    assert hashing.hashed_id8(b"abc", "sha384") != hashing.hashed_id8(b"abc", "sha256")


@pytest.mark.parametrize("alg", ["sha256", "sha384"])
def test_signing_digest_hashes_the_two_hashes_concatenated(alg: hashing.HashAlgorithm) -> None:
    h = getattr(hashlib, alg)
    expected = h(h(b"tbs").digest() + h(b"signer cert").digest()).digest()
    assert hashing.signing_digest(b"tbs", b"signer cert", alg) == expected


def test_signing_digest_of_a_self_signer_hashes_the_empty_string() -> None:
    expected = hashlib.sha256(hashlib.sha256(b"tbs").digest() + hashlib.sha256(b"").digest()).digest()
    assert hashing.signing_digest(b"tbs", b"") == expected


def test_signing_digest_depends_on_the_order_of_its_inputs() -> None:
    assert hashing.signing_digest(b"a", b"b") != hashing.signing_digest(b"b", b"a")


@pytest.mark.parametrize(
    ("curve", "alg"),
    [("nistP256", "sha256"), ("brainpoolP256r1", "sha256"), ("nistP384", "sha384"), ("brainpoolP384r1", "sha384")],
)
def test_hash_algorithm_follows_the_curve(curve: str, alg: str) -> None:
    assert hashing.hash_algorithm_for_curve(curve) == alg


@pytest.mark.parametrize("curve", ["sm2", "secp256r1", ""])
def test_unknown_curve_has_no_hash_algorithm(curve: str) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        hashing.hash_algorithm_for_curve(curve)


def test_sm3_is_an_unsupported_hash() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        hashing.digest(b"", "sm3")  # type: ignore[arg-type]
