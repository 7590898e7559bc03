"""Encrypted individual PLVs: LA encrypts, RA carries, ACA derives the CAMP linkage value (protocol.md §4.6)."""

from __future__ import annotations

import os

import pytest

from scms_codec import asn1
from scms_codec.crypto import linkage
from scms_codec.errors import DecodeError, DecryptionError
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu.plv import decrypt_plv, encrypt_plv, linkage_value_of
from scms_codec.spdu.ra_aca import EncryptedIndividualPLV, LinkageInfo
from tests.support.vectors import crypto_file, h

CASE = crypto_file("camp_lv.json")["cases"][0]


def _camp_plvs() -> tuple[bytes, bytes]:
    la1, la2 = h(CASE["la_id1_hex"]), h(CASE["la_id2_hex"])
    seed1, seed2 = h(CASE["ls1_i_hex"]), h(CASE["ls2_i_hex"])
    return (linkage.pre_linkage_value(la1, seed1, CASE["j"]), linkage.pre_linkage_value(la2, seed2, CASE["j"]))


def test_aca_derives_the_camp_linkage_value_from_two_encrypted_plvs() -> None:
    # Given LA1 and LA2 each sharing a key with the ACA
    k1, k2 = os.urandom(16), os.urandom(16)
    plv1, plv2 = _camp_plvs()
    info = LinkageInfo(encrypt_plv(h(CASE["la_id1_hex"]), plv1, k1), encrypt_plv(h(CASE["la_id2_hex"]), plv2, k2))
    # The LinkageInfo the RA forwards is canonical COER
    encoded = asn1.encode("LinkageInfo", info.to_asn1())
    assert LinkageInfo.from_asn1(asn1.decode("LinkageInfo", encoded)) == info
    # When the ACA decrypts both, Then it gets the CAMP linkage value
    aca = Keyring()
    aca.add_symmetric(k1)
    aca.add_symmetric(k2)
    assert (plv1, plv2) == (h(CASE["plv1_hex"]), h(CASE["plv2_hex"]))
    assert linkage_value_of(info, aca) == h(CASE["lv_hex"])


def test_plv_does_not_open_without_the_la_aca_key() -> None:
    plv1, _ = _camp_plvs()
    encrypted = encrypt_plv(b"\x8e\x09", plv1, os.urandom(16))
    other = Keyring()
    other.add_symmetric(os.urandom(16))
    with pytest.raises(DecryptionError):
        decrypt_plv(encrypted, other)


def test_plv_with_a_flipped_ciphertext_bit_is_refused() -> None:
    key = os.urandom(16)
    plv1, _ = _camp_plvs()
    encrypted = encrypt_plv(b"\x8e\x09", plv1, key)
    flipped = EncryptedIndividualPLV(encrypted.la_id, encrypted.enc_plv[:-1] + bytes([encrypted.enc_plv[-1] ^ 1]))
    keys = Keyring()
    keys.add_symmetric(key)
    assert decrypt_plv(encrypted, keys) == plv1
    with pytest.raises(DecryptionError):
        decrypt_plv(flipped, keys)


def test_two_plvs_from_the_same_la_are_refused() -> None:
    key = os.urandom(16)
    plv1, plv2 = _camp_plvs()
    info = LinkageInfo(encrypt_plv(b"\x8e\x09", plv1, key), encrypt_plv(b"\x8e\x09", plv2, key))
    keys = Keyring()
    keys.add_symmetric(key)
    with pytest.raises(DecryptionError):
        linkage_value_of(info, keys)


def test_plv_of_the_wrong_size_is_not_encrypted() -> None:
    with pytest.raises((ValueError, DecodeError)):
        encrypt_plv(b"\x8e\x09", b"\x00" * 8, os.urandom(16))
