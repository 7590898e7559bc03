"""EncryptedData: the Bouncy Castle ETSI SPDU decrypts, every RecipientInfo kind round-trips, bad input fails typed."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from scms_codec import asn1
from scms_codec.crypto import aesccm
from scms_codec.crypto.keys import encryption_key_to_asn1, private_key_from_int
from scms_codec.errors import CodecError, DecodeError, DecryptionError, SpduShapeError
from scms_codec.secured.encrypted_data import decrypt, encrypt
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.recipients import (
    CertRecipient,
    PskRecipient,
    RekRecipient,
    SignedDataRecipient,
    SymmRecipient,
)
from scms_codec.secured.signed_data import sign_data, sign_tbs_data
from scms_codec.secured.signer import Signer
from scms_codec.secured.unsecured import wrap_unsecured
from tests.support.vectors import VECTORS, crypto_file, h
from tests.unit.test_signed_data import explicit_leaf, flip, root

ETSI = crypto_file("ecies_aesccm_etsi_ec_request_bouncycastle.json")["vector"]
ETSI_SPDU = (VECTORS / "encoded/bouncycastle-etsi-encrypted/EncryptedEcRequest.oer").read_bytes()
PLAINTEXT = wrap_unsecured(b"a request, wrapped as 1609.2 says")


def etsi_keyring(p1: bytes = h(ETSI["p1_hex"])) -> Keyring:
    keys = Keyring()
    d = private_key_from_int(int(ETSI["recipient_private_key_d_hex"], 16))
    keys.add_private_key("certRecipInfo", h(ETSI["recipient_id_hashedid8_hex"]), d, p1=p1)
    return keys


# --- known answer: Bouncy Castle's ETSI enrolment request ---------------------------------------------


def test_etsi_vector_spdu_is_the_encoded_sample() -> None:
    assert h(ETSI["spdu_ieee1609dot2data_hex"]) == ETSI_SPDU


def test_etsi_encrypted_request_decrypts_to_the_expected_plaintext() -> None:
    opened = decrypt(ETSI_SPDU, etsi_keyring())
    assert opened.plaintext == h(ETSI["expected_plaintext_hex"])
    assert opened.recipient_id == h(ETSI["recipient_id_hashedid8_hex"])
    assert opened.kind == "certRecipInfo"


def test_etsi_encrypted_request_fails_with_a_flipped_p1_bit() -> None:
    with pytest.raises(DecryptionError):
        decrypt(ETSI_SPDU, etsi_keyring(flip(h(ETSI["p1_hex"]), 0)))


@pytest.mark.parametrize("field", ["encrypted_key_c_hex", "tag_t_hex", "ccm_nonce_hex", "ccm_ciphertext_with_tag_hex"])
def test_etsi_encrypted_request_fails_with_a_flipped_bit_in_each_field(field: str) -> None:
    at = ETSI_SPDU.index(h(ETSI[field])) + 3
    with pytest.raises(DecryptionError):
        decrypt(flip(ETSI_SPDU, at), etsi_keyring())


def test_etsi_encrypted_request_is_not_ours_without_the_key() -> None:
    with pytest.raises(DecryptionError):
        decrypt(ETSI_SPDU, Keyring())


# --- round trips for every recipient kind --------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> Signer:
    return root()


def _cert_case(ca: Signer) -> tuple[Any, Keyring]:
    enc = ec.generate_private_key(ec.SECP256R1())
    ra = explicit_leaf(ca, encryption_key=enc.public_key())
    assert ra.certificate is not None
    keys = Keyring()
    keys.add_certificate(ra.certificate, enc)
    return CertRecipient(ra.certificate), keys


def _signed_data_case(ca: Signer) -> tuple[Any, Keyring]:
    # An EE sends a signed request whose headerInfo.encryptionKey is where the answer should go.
    enc = ec.generate_private_key(ec.SECP256R1())
    tbs_data = {
        "payload": {"data": {"protocolVersion": 3, "content": ("unsecuredData", b"request")}},
        "headerInfo": {"psid": 35, "encryptionKey": ("public", encryption_key_to_asn1(enc.public_key()))},
    }
    spdu = sign_tbs_data(tbs_data, explicit_leaf(ca))
    keys = Keyring()
    keys.add_signed_data(spdu, enc)
    return SignedDataRecipient.from_spdu(spdu), keys


def _rek_case(ca: Signer) -> tuple[Any, Keyring]:
    enc = ec.generate_private_key(ec.SECP256R1())
    keys = Keyring()
    keys.add_response_key(enc)
    return RekRecipient(enc.public_key()), keys


def _psk_case(ca: Signer) -> tuple[Any, Keyring]:
    key = os.urandom(16)
    keys = Keyring()
    keys.add_symmetric(key)
    return PskRecipient(key), keys


def _symm_case(ca: Signer) -> tuple[Any, Keyring]:
    key = os.urandom(16)
    keys = Keyring()
    keys.add_symmetric(key)
    return SymmRecipient(key), keys


CASES = {
    "certRecipInfo": _cert_case,
    "signedDataRecipInfo": _signed_data_case,
    "rekRecipInfo": _rek_case,
    "pskRecipInfo": _psk_case,
    "symmRecipInfo": _symm_case,
}


@pytest.mark.parametrize("kind", CASES)
def test_encrypt_then_decrypt_round_trips_for_every_recipient_kind(ca: Signer, kind: str) -> None:
    recipient, keys = CASES[kind](ca)
    spdu = encrypt(PLAINTEXT, recipient)
    assert asn1.decode("Ieee1609Dot2Data", spdu)["content"][1]["recipients"][0][0] == kind
    opened = decrypt(spdu, keys)
    assert (opened.plaintext, opened.kind) == (PLAINTEXT, kind)


@pytest.mark.parametrize("kind", CASES)
def test_decrypt_with_another_keyring_fails_for_every_recipient_kind(ca: Signer, kind: str) -> None:
    recipient, _ = CASES[kind](ca)
    _, other_keys = CASES[kind](ca)  # same kind, another key
    with pytest.raises(DecryptionError):
        decrypt(encrypt(PLAINTEXT, recipient), other_keys)


@pytest.mark.parametrize("kind", CASES)
def test_flipped_ciphertext_bit_fails_for_every_recipient_kind(ca: Signer, kind: str) -> None:
    recipient, keys = CASES[kind](ca)
    spdu = encrypt(PLAINTEXT, recipient)
    with pytest.raises(DecryptionError):
        decrypt(flip(spdu, len(spdu) - 20), keys)


def test_recipient_ids_follow_the_1609_2_table(ca: Signer) -> None:
    # Independent recomputation with hashlib (protocol.md §4.4).
    recipient, _ = _cert_case(ca)
    info = asn1.decode("Ieee1609Dot2Data", encrypt(PLAINTEXT, recipient))["content"][1]["recipients"][0][1]
    assert info["recipientId"] == hashlib.sha256(recipient.certificate.encoded).digest()[-8:]
    rek, _ = _rek_case(ca)
    rek_info = asn1.decode("Ieee1609Dot2Data", encrypt(PLAINTEXT, rek))["content"][1]["recipients"][0][1]
    point = asn1.encode("PublicEncryptionKey", encryption_key_to_asn1(rek.key))
    assert rek_info["recipientId"] == hashlib.sha256(point).digest()[-8:]
    psk_spdu = encrypt(PLAINTEXT, PskRecipient(b"\x11" * 16))
    psk_id = asn1.decode("Ieee1609Dot2Data", psk_spdu)["content"][1]["recipients"][0][1]
    assert psk_id == hashlib.sha256(b"\x80" + b"\x11" * 16).digest()[-8:]


def test_cert_recipient_uses_the_certificate_hash_as_p1(ca: Signer) -> None:
    # A keyring told only (recipientId, P1 = SHA-256(cert)) opens a message made for the certificate.
    enc = ec.generate_private_key(ec.SECP256R1())
    ra = explicit_leaf(ca, encryption_key=enc.public_key())
    assert ra.certificate is not None
    keys = Keyring()
    keys.add_private_key(
        "certRecipInfo", ra.certificate.hashed_id8, enc, p1=hashlib.sha256(ra.certificate.encoded).digest()
    )
    assert decrypt(encrypt(PLAINTEXT, CertRecipient(ra.certificate)), keys).plaintext == PLAINTEXT
    wrong = Keyring()
    wrong.add_private_key("certRecipInfo", ra.certificate.hashed_id8, enc, p1=hashlib.sha256(b"").digest())
    with pytest.raises(DecryptionError):
        decrypt(encrypt(PLAINTEXT, CertRecipient(ra.certificate)), wrong)


def test_rek_key_is_not_opened_as_a_cert_recipient() -> None:
    # P1 and the entry depend on the kind: the same private key under certRecipInfo does not match.
    enc = ec.generate_private_key(ec.SECP256R1())
    keys = Keyring()
    keys.add_response_key(enc)
    value = asn1.decode("Ieee1609Dot2Data", encrypt(PLAINTEXT, RekRecipient(enc.public_key())))
    recipients = value["content"][1]["recipients"]
    recipients[0] = ("certRecipInfo", recipients[0][1])
    with pytest.raises(DecryptionError):
        decrypt(asn1.encode("Ieee1609Dot2Data", value), keys)


def test_one_message_to_several_recipients_opens_for_each(ca: Signer) -> None:
    (rek, rek_keys), (symm, symm_keys) = _rek_case(ca), _symm_case(ca)
    spdu = encrypt(PLAINTEXT, [rek, symm])
    assert decrypt(spdu, rek_keys).kind == "rekRecipInfo"
    assert decrypt(spdu, symm_keys).kind == "symmRecipInfo"


def test_each_message_uses_a_fresh_key_and_nonce() -> None:
    recipient = SymmRecipient(b"\x22" * 16)
    first, second = (asn1.decode("Ieee1609Dot2Data", encrypt(PLAINTEXT, recipient)) for _ in range(2))
    a, b = first["content"][1], second["content"][1]
    assert a["ciphertext"][1]["nonce"] != b["ciphertext"][1]["nonce"]
    assert a["recipients"][0][1]["encKey"] != b["recipients"][0][1]["encKey"]


# --- input checks -------------------------------------------------------------------------------------


def test_plaintext_must_be_an_ieee1609dot2data() -> None:
    with pytest.raises(ValueError, match="plaintext"):
        encrypt(b"raw bytes", PskRecipient(b"\x11" * 16))


def test_psk_recipient_cannot_be_combined() -> None:
    with pytest.raises(ValueError, match="recipient"):
        encrypt(PLAINTEXT, [PskRecipient(b"\x11" * 16), SymmRecipient(b"\x22" * 16)])


def test_certificate_without_encryption_key_is_not_a_recipient(ca: Signer) -> None:
    with pytest.raises(ValueError, match="certificate"):
        CertRecipient(explicit_leaf(ca).certificate)  # type: ignore[arg-type]


def test_signed_data_without_encryption_key_names_no_recipient(ca: Signer) -> None:
    with pytest.raises(SpduShapeError):
        SignedDataRecipient.from_spdu(sign_data(b"p", 35, explicit_leaf(ca)))


def test_signed_data_is_not_encrypted_data(ca: Signer) -> None:
    with pytest.raises(SpduShapeError):
        decrypt(sign_data(b"p", 35, explicit_leaf(ca)), Keyring())


def test_decrypted_plaintext_that_is_not_ieee1609dot2data_is_a_decode_error() -> None:
    # Given a psk message whose plaintext is raw bytes (built by hand; encrypt() refuses it)
    key, nonce = b"\x11" * 16, b"\x00" * 12
    keys = Keyring()
    psk_id = keys.add_symmetric(key)
    body = {
        "recipients": [("pskRecipInfo", psk_id)],
        "ciphertext": ("aes128ccm", {"nonce": nonce, "ccmCiphertext": aesccm.encrypt(key, nonce, b"raw")}),
    }
    spdu = asn1.encode("Ieee1609Dot2Data", {"protocolVersion": 3, "content": ("encryptedData", body)})
    # Then decryption succeeds cryptographically but the plaintext is refused as 400-42
    with pytest.raises(DecodeError) as info:
        decrypt(spdu, keys)
    assert not isinstance(info.value, DecryptionError)


def test_keyring_repr_hides_symmetric_keys() -> None:
    keys = Keyring()
    keys.add_symmetric(b"\xab" * 16)
    assert "abab" not in repr(keys) and "\\xab" not in repr(keys)
    assert "abab" not in repr(PskRecipient(b"\xab" * 16)) and "\\xab" not in repr(PskRecipient(b"\xab" * 16))


@settings(max_examples=150, deadline=None)
@given(index=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_mutated_encrypted_spdu_raises_only_codec_errors(index: int, bit: int) -> None:
    # Every octet is covered by the ECIES tag or the CCM tag, except the ephemeral point's form.
    data = flip(ETSI_SPDU, index % len(ETSI_SPDU), bit)
    try:
        opened = decrypt(data, etsi_keyring())
    except CodecError:
        return
    assert opened.plaintext == h(ETSI["expected_plaintext_hex"])


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=0), junk=st.binary(max_size=8))
def test_truncated_or_extended_encrypted_spdu_raises_only_codec_errors(cut: int, junk: bytes) -> None:
    with pytest.raises(CodecError):
        decrypt(ETSI_SPDU[: cut % len(ETSI_SPDU)] + junk, etsi_keyring())
