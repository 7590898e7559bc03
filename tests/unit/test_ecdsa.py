"""ECDSA over 1609.2 signing digests as Signature CHOICE values (1609.2 §5.3.1, protocol.md §4.2)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from scms_codec import asn1
from scms_codec.crypto import ecdsa, hashing, keys
from scms_codec.errors import InvalidSignature, UnsupportedAlgorithm
from tests.support.vectors import VECTORS, crypto_cases, h

CURVE_NAMES = list(keys.CURVES)
CERTS = VECTORS / "encoded"

# Real explicit certificates and their issuers (None = self-signed), with the hash their
# signature uses. The last two are brainpool: the signing hash follows the signer's curve.
REAL_CERTS = [
    ("iyourshaw-ieee1609/iss_v2x_root.oer", None, "sha256"),
    ("bouncycastle-its-certs/CERT_IUT_A_RCA.oer", None, "sha256"),
    ("bouncycastle-its-certs/CERT_IUT_A_AA.oer", "bouncycastle-its-certs/CERT_IUT_A_RCA.oer", "sha256"),
    ("bouncycastle-its-certs/CERT_IUT_A_B_AT.oer", "bouncycastle-its-certs/CERT_IUT_A_B_AA.oer", "sha256"),
    ("bouncycastle-its-certs/CERT_IUT_A_B33_AT.oer", "bouncycastle-its-certs/CERT_IUT_A_B3_AA.oer", "sha384"),
]


def _digest_for(curve: str, data: bytes = b"message") -> bytes:
    return hashing.digest(data, hashing.hash_algorithm_for_curve(curve))


def _flip(data: bytes, index: int = -1) -> bytes:
    out = bytearray(data)
    out[index] ^= 1
    return bytes(out)


def _pyca_verify(key: ec.EllipticCurvePublicKey, digest: bytes, signature: tuple[str, Any]) -> None:
    # An independent check that bypasses ecdsa.verify: r from x-only, or x mod n of a point R.
    body = signature[1]
    spec = keys.CURVES[{c.signature: c.name for c in keys.CURVES.values()}[signature[0]]]
    r = int.from_bytes(body["rSig"][1], "big") % spec.order
    s = int.from_bytes(body["sSig"], "big")
    hash_alg = hashes.SHA256() if len(digest) == 32 else hashes.SHA384()
    key.verify(encode_dss_signature(r, s), digest, ec.ECDSA(Prehashed(hash_alg)))


@pytest.mark.parametrize("case", crypto_cases("camp_ecdsa.json"))
def test_nist_example_signature_verifies(case: dict[str, Any]) -> None:
    # Given the NIST worked example (digest = SHA-256 of the message) and its fixed-nonce r, s
    digest = h(case["digest_hex"])
    assert hashlib.sha256(h(case["message_hex"])).digest() == digest
    key = keys.public_key_from_sec1(h(case["public_key_uncompressed_hex"]))
    sig = ("ecdsaNistP256Signature", {"rSig": ("x-only", h(case["expected_r_hex"])), "sSig": h(case["expected_s_hex"])})
    # Then it verifies, and the nonce k gives R whose x is r
    ecdsa.verify(key, digest, sig)
    nonce_point = keys.private_key_from_int(int(case["nonce_k_hex"], 16)).public_key()
    assert keys.point_to_asn1(nonce_point)[1] == h(case["expected_R_x_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_ecdsa.json"))
@pytest.mark.parametrize("part", ["r", "s", "digest"])
def test_nist_example_with_one_flipped_bit_fails(case: dict[str, Any], part: str) -> None:
    values = {"digest": h(case["digest_hex"]), "r": h(case["expected_r_hex"]), "s": h(case["expected_s_hex"])}
    values[part] = _flip(values[part])
    digest, r, s = values["digest"], values["r"], values["s"]
    key = keys.public_key_from_sec1(h(case["public_key_uncompressed_hex"]))
    with pytest.raises(InvalidSignature):
        ecdsa.verify(key, digest, ("ecdsaNistP256Signature", {"rSig": ("x-only", r), "sSig": s}))


@pytest.mark.parametrize("case", crypto_cases("camp_ecdsa.json"))
def test_nist_example_as_compressed_r_point_verifies_and_canonicalises_to_x_only(case: dict[str, Any]) -> None:
    key = keys.public_key_from_sec1(h(case["public_key_uncompressed_hex"]))
    r_point = keys.point_to_asn1(keys.private_key_from_int(int(case["nonce_k_hex"], 16)).public_key())
    sig = ("ecdsaNistP256Signature", {"rSig": r_point, "sSig": h(case["expected_s_hex"])})
    ecdsa.verify(key, h(case["digest_hex"]), sig)
    assert ecdsa.canonical_signature(sig) == (
        "ecdsaNistP256Signature",
        {"rSig": ("x-only", h(case["expected_r_hex"])), "sSig": h(case["expected_s_hex"])},
    )


def _real_cert(subject: str, issuer: str | None) -> tuple[bytes, bytes, ec.EllipticCurvePublicKey, Any]:
    """(tbs COER, signer input, issuer key, signature) of a sample certificate."""
    cert = asn1.decode("Certificate", (CERTS / subject).read_bytes())
    signer = b"" if issuer is None else (CERTS / issuer).read_bytes()
    signer_cert = cert if issuer is None else asn1.decode("Certificate", signer)
    key = keys.verification_key_from_asn1(signer_cert["toBeSigned"]["verifyKeyIndicator"][1])
    return asn1.encode("ToBeSignedCertificate", cert["toBeSigned"]), signer, key, cert["signature"]


REAL_CERT_IDS = [c[0].split("/")[-1] for c in REAL_CERTS]


@pytest.mark.parametrize(("subject", "issuer", "alg"), REAL_CERTS, ids=REAL_CERT_IDS)
def test_real_certificate_signature_verifies(subject: str, issuer: str | None, alg: hashing.HashAlgorithm) -> None:
    tbs, signer, key, signature = _real_cert(subject, issuer)
    ecdsa.verify(key, hashing.signing_digest(tbs, signer, alg), signature)


@pytest.mark.parametrize(("subject", "issuer", "alg"), REAL_CERTS, ids=REAL_CERT_IDS)
def test_real_certificate_with_altered_tbs_fails(subject: str, issuer: str | None, alg: hashing.HashAlgorithm) -> None:
    tbs, signer, key, signature = _real_cert(subject, issuer)
    with pytest.raises(InvalidSignature):
        ecdsa.verify(key, hashing.signing_digest(_flip(tbs), signer, alg), signature)


@pytest.mark.parametrize("curve", CURVE_NAMES)
@pytest.mark.parametrize("r_form", ["x-only", "compressed"])
def test_signature_verifies_here_and_independently_and_encodes(curve: str, r_form: ecdsa.RForm) -> None:
    private = ec.generate_private_key(keys.CURVES[curve].ec_curve)
    digest = _digest_for(curve)
    sig = ecdsa.sign(private, digest, r_form=r_form)
    assert sig[0] == keys.CURVES[curve].signature
    expected_forms = {"x-only"} if r_form == "x-only" else {"compressed-y-0", "compressed-y-1"}
    assert sig[1]["rSig"][0] in expected_forms
    ecdsa.verify(private.public_key(), digest, sig)
    _pyca_verify(private.public_key(), digest, sig)
    assert asn1.decode("Signature", asn1.encode("Signature", sig)) == sig


@pytest.mark.parametrize("curve", CURVE_NAMES)
def test_signature_over_another_digest_fails(curve: str) -> None:
    private = ec.generate_private_key(keys.CURVES[curve].ec_curve)
    sig = ecdsa.sign(private, _digest_for(curve))
    with pytest.raises(InvalidSignature):
        ecdsa.verify(private.public_key(), _digest_for(curve, b"other"), sig)


def test_compressed_r_is_a_valid_point_whose_x_mod_n_is_r() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    digest = _digest_for("nistP256")
    sig = ecdsa.sign(private, digest, r_form="compressed")
    r_point = keys.point_from_asn1(sig[1]["rSig"])  # raises InvalidKey if R is not on the curve
    canonical = ecdsa.canonical_signature(sig)
    r = r_point.public_numbers().x % keys.CURVES["nistP256"].order
    assert canonical[1]["rSig"] == ("x-only", r.to_bytes(32, "big"))
    ecdsa.verify(private.public_key(), digest, canonical)


def test_compressed_r_with_swapped_parity_still_carries_r() -> None:
    # Verification uses only x(R) mod n, as FIPS 186-4 verification does; the parity is not checked.
    private = ec.generate_private_key(ec.SECP256R1())
    digest = _digest_for("nistP256")
    sig = ecdsa.sign(private, digest, r_form="compressed")
    form, x = sig[1]["rSig"]
    swapped = "compressed-y-1" if form == "compressed-y-0" else "compressed-y-0"
    ecdsa.verify(private.public_key(), digest, (sig[0], {"rSig": (swapped, x), "sSig": sig[1]["sSig"]}))
    with pytest.raises(InvalidSignature):
        ecdsa.verify(private.public_key(), digest, (sig[0], {"rSig": (form, _flip(x)), "sSig": sig[1]["sSig"]}))


def test_uncompressed_r_point_verifies() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    digest = _digest_for("nistP256")
    sig = ecdsa.sign(private, digest, r_form="compressed")
    r_key = keys.point_from_asn1(sig[1]["rSig"])
    numbers = r_key.public_numbers()
    r_sig = ("uncompressedP256", {"x": numbers.x.to_bytes(32, "big"), "y": numbers.y.to_bytes(32, "big")})
    ecdsa.verify(private.public_key(), digest, (sig[0], {"rSig": r_sig, "sSig": sig[1]["sSig"]}))


def test_canonical_signature_leaves_x_only_unchanged() -> None:
    sig = ecdsa.sign(ec.generate_private_key(ec.SECP256R1()), _digest_for("nistP256"))
    assert ecdsa.canonical_signature(sig) == sig


def test_signature_on_another_curve_than_the_key_fails() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    digest = _digest_for("nistP256")
    sig = ecdsa.sign(private, digest)
    with pytest.raises(InvalidSignature):
        ecdsa.verify(private.public_key(), digest, ("ecdsaBrainpoolP256r1Signature", sig[1]))


@pytest.mark.parametrize(
    "signature",
    [
        ("sm2Signature", {"rSig": bytes(32), "sSig": bytes(32)}),
        ("ecdsaNistP256Signature", {"rSig": ("fill", None), "sSig": bytes(32)}),
    ],
    ids=["sm2", "fill"],
)
def test_sm2_and_fill_signatures_are_unsupported(signature: tuple[str, Any]) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(UnsupportedAlgorithm):
        ecdsa.verify(key, _digest_for("nistP256"), signature)


P256_N = keys.CURVES["nistP256"].order


@pytest.mark.parametrize(("r", "s"), [(0, 1), (1, 0), (P256_N, 1), (1, P256_N)])
def test_out_of_range_r_or_s_fails(r: int, s: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    sig = ("ecdsaNistP256Signature", {"rSig": ("x-only", r.to_bytes(32, "big")), "sSig": s.to_bytes(32, "big")})
    with pytest.raises(InvalidSignature):
        ecdsa.verify(key, _digest_for("nistP256"), sig)


def test_digest_of_the_wrong_size_is_a_caller_error() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError, match=r"^digest: "):
        ecdsa.sign(private, _digest_for("nistP256"))


def test_unknown_r_form_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match=r"^r_form: "):
        ecdsa.sign(ec.generate_private_key(ec.SECP256R1()), _digest_for("nistP256"), r_form="uncompressed")  # type: ignore[arg-type]


def test_signing_twice_uses_fresh_nonces() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    digest = _digest_for("nistP256")
    assert ecdsa.sign(private, digest) != ecdsa.sign(private, digest)
    assert ecdsa.sign(private, digest, r_form="compressed") != ecdsa.sign(private, digest, r_form="compressed")
