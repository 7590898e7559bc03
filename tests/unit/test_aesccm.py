"""AES-128-CCM with the 1609.2 parameters (1609.2 §5.3.8, protocol.md §4.4)."""

from __future__ import annotations

from typing import Any

import pytest

from scms_codec.crypto import aesccm
from scms_codec.errors import DecryptionError, ErrorCode
from tests.support.vectors import crypto_cases, h

CASES = crypto_cases("camp_aesccm.json")


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 1
    return bytes(out)


@pytest.mark.parametrize("case", CASES)
def test_encrypt_gives_the_published_ciphertext_and_tag(case: dict[str, Any]) -> None:
    out = aesccm.encrypt(h(case["key_hex"]), h(case["nonce_hex"]), h(case["plaintext_hex"]))
    assert out == h(case["ciphertext_with_tag_hex"])


@pytest.mark.parametrize("case", CASES)
def test_decrypt_gives_the_published_plaintext(case: dict[str, Any]) -> None:
    out = aesccm.decrypt(h(case["key_hex"]), h(case["nonce_hex"]), h(case["ciphertext_with_tag_hex"]))
    assert out == h(case["plaintext_hex"])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("part", ["ciphertext", "tag", "key", "nonce"])
def test_decrypt_with_one_flipped_bit_fails(case: dict[str, Any], part: str) -> None:
    key, nonce, data = h(case["key_hex"]), h(case["nonce_hex"]), h(case["ciphertext_with_tag_hex"])
    if part == "ciphertext":
        data = _flip(data, 0)
    elif part == "tag":
        data = _flip(data, -1)
    elif part == "key":
        key = _flip(key, 0)
    else:
        nonce = _flip(nonce, 0)
    with pytest.raises(DecryptionError) as info:
        aesccm.decrypt(key, nonce, data)
    assert info.value.error_code is ErrorCode.DECRYPTION_FAILED


@pytest.mark.parametrize("case", CASES)
def test_reused_cipher_object_gives_the_same_results(case: dict[str, Any]) -> None:
    cipher = aesccm.CcmCipher(h(case["key_hex"]))
    data = cipher.encrypt(h(case["nonce_hex"]), h(case["plaintext_hex"]))
    assert data == h(case["ciphertext_with_tag_hex"])
    assert cipher.decrypt(h(case["nonce_hex"]), data) == h(case["plaintext_hex"])


def test_cipher_repr_hides_the_key() -> None:
    key = bytes.fromhex("e58d5c8f8c9ed9785679e08abc7c8116")
    assert key.hex() not in repr(aesccm.CcmCipher(key))
    assert "e58d" not in repr(aesccm.CcmCipher(key))


def test_data_shorter_than_the_tag_cannot_be_decrypted() -> None:
    with pytest.raises(DecryptionError):
        aesccm.decrypt(bytes(16), bytes(12), bytes(15))


def test_empty_plaintext_gives_just_a_tag() -> None:
    data = aesccm.encrypt(bytes(16), bytes(12), b"")
    assert len(data) == aesccm.TAG_SIZE
    assert aesccm.decrypt(bytes(16), bytes(12), data) == b""


@pytest.mark.parametrize(
    ("key", "nonce", "name"),
    [(bytes(32), bytes(12), "key"), (bytes(15), bytes(12), "key"), (bytes(16), bytes(13), "nonce")],
)
def test_wrong_key_or_nonce_size_is_a_caller_error(key: bytes, nonce: bytes, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: "):
        aesccm.encrypt(key, nonce, b"x")
