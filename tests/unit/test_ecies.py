"""ECIES key transport on P-256, MAC1 and ECDH (1609.2 §5.3.5, protocol.md §4.4)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import asn1
from scms_codec.crypto import aesccm, ecies, hashing, keys
from scms_codec.crypto.kdf2 import kdf2_sha256
from scms_codec.errors import DecryptionError, ErrorCode, UnsupportedAlgorithm
from tests.support.vectors import crypto_cases, crypto_file, h

UNCOMPRESSED = (serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
ETSI = crypto_file("ecies_aesccm_etsi_ec_request_bouncycastle.json")["vector"]
ANNEX_D = crypto_file("ecies_p256_ieee1609dot2_annexD.json")["vector"]


def _flip(data: bytes, index: int = 0) -> bytes:
    out = bytearray(data)
    out[index] ^= 1
    return bytes(out)


def _private(hex_value: str) -> ec.EllipticCurvePrivateKey:
    return keys.private_key_from_int(int(hex_value, 16))


# MAC1 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", crypto_cases("camp_mac1.json"))
def test_mac1_is_hmac_sha256_truncated_to_16_octets(case: dict[str, Any]) -> None:
    tag = ecies.mac1(h(case["key_hex"]), h(case["msg_hex"]))
    assert tag == h(case["tag_hex"])
    if case.get("full_hmac_sha256_hex"):
        assert h(case["full_hmac_sha256_hex"])[:16] == tag


@pytest.mark.parametrize("case", crypto_cases("camp_mac1.json"))
def test_mac1_with_one_flipped_key_bit_differs(case: dict[str, Any]) -> None:
    assert ecies.mac1(_flip(h(case["key_hex"])), h(case["msg_hex"])) != h(case["tag_hex"])


# ECDH ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", crypto_cases("camp_ecdh.json"))
def test_ecdh_gives_the_published_shared_secret(case: dict[str, Any]) -> None:
    private = _private(case["private_key_hex"])
    assert private.public_key().public_bytes(*UNCOMPRESSED) == h(case["own_public_key_uncompressed_hex"])
    peer = keys.public_key_from_sec1(h(case["peer_public_key_uncompressed_hex"]))
    assert ecies.shared_secret(private, peer) == h(case["expected_z_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_ecdh.json"))
def test_ecdh_with_another_private_key_differs(case: dict[str, Any]) -> None:
    private = _private(case["private_key_hex"][:-1] + format(int(case["private_key_hex"][-1], 16) ^ 1, "x"))
    peer = keys.public_key_from_sec1(h(case["peer_public_key_uncompressed_hex"]))
    assert ecies.shared_secret(private, peer) != h(case["expected_z_hex"])


# ECIES wrap/unwrap known answers -----------------------------------------------------------------


@pytest.mark.parametrize("case", crypto_cases("camp_ecies.json"))
def test_wrap_with_a_fixed_ephemeral_key_gives_the_published_v_c_t(case: dict[str, Any]) -> None:
    recipient = keys.public_key_from_sec1(h(case["recipient_public_key_uncompressed_hex"]))
    ct = ecies.wrap(
        recipient, h(case["aes_key_k_hex"]), h(case["p1_hex"]), ephemeral=_private(case["ephemeral_private_key_v_hex"])
    )
    assert ct.v.public_bytes(*UNCOMPRESSED) == h(case["expected_V_uncompressed_hex"])
    assert (ct.c, ct.t) == (h(case["expected_c_hex"]), h(case["expected_t_hex"]))


@pytest.mark.parametrize("case", crypto_cases("camp_ecies.json"))
def test_unwrap_recovers_the_published_aes_key(case: dict[str, Any]) -> None:
    v = keys.public_key_from_sec1(h(case["expected_V_uncompressed_hex"]))
    ct = ecies.EciesCiphertext(v, h(case["expected_c_hex"]), h(case["expected_t_hex"]))
    recipient = _private(case["recipient_private_key_r_hex"])
    assert ecies.unwrap(recipient, ct, h(case["p1_hex"])) == h(case["aes_key_k_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_ecies.json"))
@pytest.mark.parametrize("part", ["c", "t", "p1", "v", "recipient"])
def test_unwrap_with_one_altered_input_fails(case: dict[str, Any], part: str) -> None:
    v = keys.public_key_from_sec1(h(case["expected_V_uncompressed_hex"]))
    c, t, p1 = h(case["expected_c_hex"]), h(case["expected_t_hex"]), h(case["p1_hex"])
    recipient = _private(case["recipient_private_key_r_hex"])
    if part == "c":
        c = _flip(c)
    elif part == "t":
        t = _flip(t, -1)
    elif part == "p1":
        p1 = _flip(p1)
    elif part == "v":
        v = ec.generate_private_key(ec.SECP256R1()).public_key()
    else:
        recipient = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(DecryptionError) as info:
        ecies.unwrap(recipient, ecies.EciesCiphertext(v, c, t), p1)
    assert info.value.error_code is ErrorCode.DECRYPTION_FAILED


def test_annex_d_intermediate_values_match() -> None:
    # z = x(k·Q), K1 ‖ K2 = KDF2(z, P1, 48), as the Annex D ECIES1 vector spells them out.
    ephemeral = _private(ANNEX_D["ephemeral_private_key_hex"])
    recipient = keys.public_key_from_sec1(h(ANNEX_D["recipient_public_key_uncompressed_hex"]))
    z = ecies.shared_secret(ephemeral, recipient)
    assert z == h(ANNEX_D["shared_secret_z_hex"])
    assert kdf2_sha256(z, h(ANNEX_D["p1_hex"]), 48) == h(ANNEX_D["kdf2_output_K1_K2_hex"])
    ct = ecies.wrap(recipient, h(ANNEX_D["aes_key_to_wrap_hex"]), h(ANNEX_D["p1_hex"]), ephemeral=ephemeral)
    assert (ct.c, ct.t) == (h(ANNEX_D["expected_c_hex"]), h(ANNEX_D["expected_t_hex"]))
    value = ecies.to_asn1(ct)
    assert b"\x03" + value[1]["v"][1] == h(ANNEX_D["ephemeral_public_key_V_compressed_hex"])


def test_annex_d_with_another_p1_gives_another_tag() -> None:
    ephemeral = _private(ANNEX_D["ephemeral_private_key_hex"])
    recipient = keys.public_key_from_sec1(h(ANNEX_D["recipient_public_key_uncompressed_hex"]))
    ct = ecies.wrap(recipient, h(ANNEX_D["aes_key_to_wrap_hex"]), hashing.EMPTY_SHA256, ephemeral=ephemeral)
    assert ct.t != h(ANNEX_D["expected_t_hex"])


# End to end: a real encrypted Ieee1609Dot2Data (ETSI EC request, Bouncy Castle) -------------------


def _etsi_recipient_info() -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    spdu = asn1.decode("Ieee1609Dot2Data", h(ETSI["spdu_ieee1609dot2data_hex"]))
    encrypted = spdu["content"][1]
    (kind, info), = encrypted["recipients"]
    assert kind == "certRecipInfo"
    return info["recipientId"], info["encKey"], encrypted["ciphertext"][1]


def test_etsi_request_decrypts_to_a_strict_ieee1609dot2data() -> None:
    # Given the SPDU and the recipient's key and P1 (SHA-256 of its certificate, whose HashedId8 is the recipientId)
    recipient_id, enc_key, ccm = _etsi_recipient_info()
    p1 = h(ETSI["p1_hex"])
    assert recipient_id == h(ETSI["recipient_id_hashedid8_hex"]) == p1[-8:]
    # When the key is unwrapped and the data decrypted
    ct = ecies.from_asn1(enc_key)
    assert ct.v.public_bytes(*UNCOMPRESSED) == h(ETSI["ephemeral_public_key_V_uncompressed_hex"])
    aes_key = ecies.unwrap(_private(ETSI["recipient_private_key_d_hex"]), ct, p1)
    assert aes_key == h(ETSI["expected_aes_key_hex"])
    assert ccm["nonce"] == h(ETSI["ccm_nonce_hex"])
    plaintext = aesccm.decrypt(aes_key, ccm["nonce"], ccm["ccmCiphertext"])
    # Then the plaintext is the expected signed Ieee1609Dot2Data, canonical COER
    assert plaintext == h(ETSI["expected_plaintext_hex"])
    assert asn1.decode("Ieee1609Dot2Data", plaintext)["content"][0] == "signedData"


def test_etsi_request_with_the_wrong_p1_fails() -> None:
    _, enc_key, _ = _etsi_recipient_info()
    with pytest.raises(DecryptionError):
        ecies.unwrap(_private(ETSI["recipient_private_key_d_hex"]), ecies.from_asn1(enc_key), hashing.EMPTY_SHA256)


def test_etsi_request_with_altered_ccm_ciphertext_fails() -> None:
    _, enc_key, ccm = _etsi_recipient_info()
    aes_key = ecies.unwrap(_private(ETSI["recipient_private_key_d_hex"]), ecies.from_asn1(enc_key), h(ETSI["p1_hex"]))
    with pytest.raises(DecryptionError):
        aesccm.decrypt(aes_key, ccm["nonce"], _flip(ccm["ccmCiphertext"], 5))


# Round trips, encoding and refusals --------------------------------------------------------------


def test_wrap_then_unwrap_round_trips_through_coer() -> None:
    recipient = ec.generate_private_key(ec.SECP256R1())
    aes_key, p1 = bytes(range(16)), hashing.digest(b"recipient certificate")
    value = ecies.to_asn1(ecies.wrap(recipient.public_key(), aes_key, p1))
    decoded = asn1.decode("EncryptedDataEncryptionKey", asn1.encode("EncryptedDataEncryptionKey", value))
    assert decoded == value
    assert ecies.unwrap(recipient, ecies.from_asn1(decoded), p1) == aes_key


def test_each_wrap_draws_a_fresh_ephemeral_key() -> None:
    recipient = ec.generate_private_key(ec.SECP256R1()).public_key()
    a, b = (ecies.wrap(recipient, bytes(16), b"") for _ in range(2))
    assert a.v.public_bytes(*UNCOMPRESSED) != b.v.public_bytes(*UNCOMPRESSED)
    assert a.c != b.c


def test_other_key_encryption_algorithms_are_unsupported() -> None:
    body = {"v": ("compressed-y-0", bytes(32)), "c": bytes(16), "t": bytes(16)}
    with pytest.raises(UnsupportedAlgorithm):
        ecies.from_asn1(("eciesBrainpoolP256r1", body))


def test_invalid_ephemeral_point_is_a_decryption_error() -> None:
    body = {"v": ("compressed-y-0", (1).to_bytes(32, "big")), "c": bytes(16), "t": bytes(16)}
    with pytest.raises(DecryptionError):
        ecies.from_asn1(("eciesNistP256", body))


def test_brainpool_recipient_is_unsupported() -> None:
    recipient = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    with pytest.raises(UnsupportedAlgorithm):
        ecies.wrap(recipient, bytes(16), b"")


def test_brainpool_private_key_cannot_unwrap() -> None:
    ct = ecies.wrap(ec.generate_private_key(ec.SECP256R1()).public_key(), bytes(16), b"")
    with pytest.raises(DecryptionError):
        ecies.unwrap(ec.generate_private_key(ec.BrainpoolP256R1()), ct, b"")


def test_aes_key_of_the_wrong_size_is_a_caller_error() -> None:
    recipient = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(ValueError, match=r"^aes_key: "):
        ecies.wrap(recipient, bytes(32), b"")


def test_ciphertext_fields_are_checked() -> None:
    ct = ecies.wrap(ec.generate_private_key(ec.SECP256R1()).public_key(), bytes(16), b"")
    with pytest.raises(ValueError, match=r"^c: "):
        dataclasses.replace(ct, c=bytes(15))
    with pytest.raises(ValueError, match=r"^t: "):
        dataclasses.replace(ct, t=bytes(17))
