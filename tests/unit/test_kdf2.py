"""KDF2-SHA256 of IEEE 1363a, the ECIES key derivation (1609.2 §5.3.5, protocol.md §4.4)."""

from __future__ import annotations

from typing import Any

import pytest

from scms_codec.crypto.kdf2 import kdf2_sha256
from tests.support.vectors import crypto_cases, h

CASES = crypto_cases("camp_kdf.json") + crypto_cases("kdf2_sha256_ieee1609dot2_annexD.json")


@pytest.mark.parametrize("case", CASES)
def test_kdf2_matches_the_published_output(case: dict[str, Any]) -> None:
    assert kdf2_sha256(h(case["z_hex"]), h(case["p1_hex"]), case["output_len"]) == h(case["expected_hex"])


@pytest.mark.parametrize("case", CASES)
def test_kdf2_with_one_flipped_bit_of_z_differs(case: dict[str, Any]) -> None:
    z = bytearray(h(case["z_hex"]))
    z[0] ^= 1
    assert kdf2_sha256(bytes(z), h(case["p1_hex"]), case["output_len"]) != h(case["expected_hex"])


def test_kdf2_with_another_p1_differs() -> None:
    assert kdf2_sha256(b"z", b"p1", 48) != kdf2_sha256(b"z", b"p2", 48)


def test_shorter_output_is_a_prefix_of_the_longer() -> None:
    long = kdf2_sha256(b"secret", b"", 100)
    assert len(long) == 100
    assert kdf2_sha256(b"secret", b"", 48) == long[:48]
    assert kdf2_sha256(b"secret", b"", 0) == b""


def test_negative_length_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match=r"^length: "):
        kdf2_sha256(b"z", b"", -1)


def test_text_input_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^z: "):
        kdf2_sha256("z", b"", 16)  # type: ignore[arg-type]
