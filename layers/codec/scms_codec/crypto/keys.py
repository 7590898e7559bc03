"""Elliptic-curve keys and points on the wire (protocol.md §4.1; performance.md §8).

Points are asn1tools values of ``EccP256CurvePoint`` / ``EccP384CurvePoint``: a
``(alternative, value)`` tuple. ``compressed-y-0`` is SEC 1 prefix 02 and ``compressed-y-1``
is 03; the OCTET STRING holds x alone, big-endian, padded to the coordinate size.
Curve names are those of the ASN.1 alternatives: ``nistP256``, ``brainpoolP256r1``,
``nistP384``, ``brainpoolP384r1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import InvalidKey, UnsupportedAlgorithm

__all__ = [
    "CURVES",
    "Curve",
    "canonical_point",
    "curve_for",
    "curve_of",
    "encryption_key_from_asn1",
    "encryption_key_to_asn1",
    "point_from_asn1",
    "point_to_asn1",
    "private_key_from_int",
    "private_key_to_int",
    "public_key_from_sec1",
    "scalar_to_bytes",
    "verification_key_from_asn1",
    "verification_key_to_asn1",
]


@dataclass(frozen=True)
class Curve:
    """One supported curve: its ASN.1 name, pyca curve, group order and coordinate size."""

    name: str
    ec_curve: ec.EllipticCurve
    order: int
    size: int  # octets per coordinate
    uncompressed: str  # the EccPxxxCurvePoint alternative for an uncompressed point
    verification_key: str  # the PublicVerificationKey alternative
    signature: str  # the Signature alternative


# Group orders: NIST FIPS 186-4 and RFC 5639 (the P-256 ones are quoted in the EcdsaP256Signature
# comment of Ieee1609Dot2BaseTypes); tests check each with (n-1)·G = -G.
CURVES: dict[str, Curve] = {
    c.name: c
    for c in (
        Curve(
            "nistP256",
            ec.SECP256R1(),
            0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
            32,
            "uncompressedP256",
            "ecdsaNistP256",
            "ecdsaNistP256Signature",
        ),
        Curve(
            "brainpoolP256r1",
            ec.BrainpoolP256R1(),
            0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7,
            32,
            "uncompressedP256",
            "ecdsaBrainpoolP256r1",
            "ecdsaBrainpoolP256r1Signature",
        ),
        Curve(
            "nistP384",
            ec.SECP384R1(),
            0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
            48,
            "uncompressedP384",
            "ecdsaNistP384",
            "ecdsaNistP384Signature",
        ),
        Curve(
            "brainpoolP384r1",
            ec.BrainpoolP384R1(),
            0x8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565,
            48,
            "uncompressedP384",
            "ecdsaBrainpoolP384r1",
            "ecdsaBrainpoolP384r1Signature",
        ),
    )
}

_BY_PYCA_NAME = {c.ec_curve.name: c for c in CURVES.values()}
_BY_VERIFICATION_KEY = {c.verification_key: c for c in CURVES.values()}
_COMPRESSED_PREFIX = {"compressed-y-0": b"\x02", "compressed-y-1": b"\x03"}
_PREFIX_NAME = {2: "compressed-y-0", 3: "compressed-y-1"}
_P256 = CURVES["nistP256"]


def curve_for(curve: str) -> Curve:
    """The supported curve named ``curve`` (an ASN.1 name), else ``UnsupportedAlgorithm``."""
    try:
        return CURVES[curve]
    except (KeyError, TypeError):
        raise UnsupportedAlgorithm(
            f"curve: {curve!r} is not supported (nistP256, brainpoolP256r1, nistP384, brainpoolP384r1)"
        ) from None


def curve_of(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> Curve:
    """The supported curve of a pyca key, else ``UnsupportedAlgorithm``."""
    if not isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        raise TypeError(f"key: expected an elliptic-curve key, got {type(key).__name__}")
    try:
        return _BY_PYCA_NAME[key.curve.name]
    except KeyError:
        raise UnsupportedAlgorithm(f"key: curve {key.curve.name} is not supported") from None


def point_to_asn1(key: ec.EllipticCurvePublicKey) -> tuple[str, bytes]:
    """The canonical (compressed) ``EccPxxxCurvePoint`` of a public key, protocol.md §4.1."""
    curve_of(key)
    encoded = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    return _PREFIX_NAME[encoded[0]], encoded[1:]


def point_from_asn1(point: tuple[str, Any], curve: str = "nistP256") -> ec.EllipticCurvePublicKey:
    """The public key of a compressed or uncompressed ``EccPxxxCurvePoint`` (SEC 1 §2.3.4); else ``InvalidKey``.

    ``x-only`` (only meaningful for an ECDSA rSig) and ``fill`` are not keys and are rejected.
    """
    spec = curve_for(curve)
    alternative, value = _split_choice(point, "point")
    if alternative in _COMPRESSED_PREFIX:
        encoded = _COMPRESSED_PREFIX[alternative] + _coordinate(value, spec, "point")
    elif alternative == spec.uncompressed:
        if not isinstance(value, dict):
            raise TypeError(f"point: {alternative} value must be a dict with x and y")
        encoded = b"\x04" + _coordinate(value.get("x"), spec, "point.x") + _coordinate(value.get("y"), spec, "point.y")
    else:
        raise InvalidKey(f"point: {alternative!r} is not a public key form for {spec.name}")
    return _decode_point(spec.name, encoded)


def canonical_point(point: tuple[str, Any], curve: str = "nistP256") -> tuple[str, Any]:
    """The canonical form of a point for hashing: uncompressed → compressed, 1609.2 §6.1.2 (protocol.md §4.1).

    ``compressed-y-*`` and ``x-only`` are returned unchanged; ``fill`` has no canonical form
    (``InvalidKey``). The point is not validated here: decoding it as a key does that.
    """
    spec = curve_for(curve)
    alternative, value = _split_choice(point, "point")
    if alternative in _COMPRESSED_PREFIX or alternative == "x-only":
        return point
    if alternative == spec.uncompressed and isinstance(value, dict):
        x = _coordinate(value.get("x"), spec, "point.x")
        y = _coordinate(value.get("y"), spec, "point.y")
        return ("compressed-y-1" if y[-1] & 1 else "compressed-y-0"), x
    raise InvalidKey(f"point: {alternative!r} has no canonical form for {spec.name}")


def public_key_from_sec1(data: bytes, curve: str = "nistP256") -> ec.EllipticCurvePublicKey:
    """The public key of a SEC 1 encoded point (02/03/04 prefix), else ``InvalidKey``."""
    spec = curve_for(curve)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data: expected bytes, got {type(data).__name__}")
    return _decode_point(spec.name, bytes(data))


def verification_key_to_asn1(key: ec.EllipticCurvePublicKey) -> tuple[str, tuple[str, bytes]]:
    """The ``PublicVerificationKey`` CHOICE of an ECDSA public key (protocol.md §4.1)."""
    return curve_of(key).verification_key, point_to_asn1(key)


def verification_key_from_asn1(value: tuple[str, Any]) -> ec.EllipticCurvePublicKey:
    """The ECDSA public key of a ``PublicVerificationKey`` (ecsigSm2 → ``UnsupportedAlgorithm``)."""
    alternative, point = _split_choice(value, "value")
    spec = _BY_VERIFICATION_KEY.get(alternative)
    if spec is None:
        raise UnsupportedAlgorithm(f"value: verification key algorithm {alternative!r} is not supported")
    return point_from_asn1(point, spec.name)


def encryption_key_to_asn1(key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The ``PublicEncryptionKey`` {aes128Ccm, eciesNistP256} of a P-256 key, 1609.2 §5.3.5 (protocol.md §4.4)."""
    if curve_of(key) is not _P256:
        raise UnsupportedAlgorithm(f"key: ECIES is supported on nistP256 only, not {key.curve.name}")
    return {"supportedSymmAlg": "aes128Ccm", "publicKey": ("eciesNistP256", point_to_asn1(key))}


def encryption_key_from_asn1(value: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a ``PublicEncryptionKey``; other algorithms → ``UnsupportedAlgorithm``."""
    if not isinstance(value, dict):
        raise TypeError(f"value: expected a PublicEncryptionKey dict, got {type(value).__name__}")
    symm = value.get("supportedSymmAlg")
    if symm != "aes128Ccm":
        raise UnsupportedAlgorithm(f"value: symmetric algorithm {symm!r} is not supported (aes128Ccm)")
    alternative, point = _split_choice(value.get("publicKey"), "value.publicKey")
    if alternative != "eciesNistP256":
        raise UnsupportedAlgorithm(f"value: encryption key algorithm {alternative!r} is not supported")
    return point_from_asn1(point, "nistP256")


def private_key_from_int(d: int, curve: str = "nistP256") -> ec.EllipticCurvePrivateKey:
    """The private key with scalar ``d`` (1 ≤ d < n) on ``curve``."""
    spec = curve_for(curve)
    if not isinstance(d, int) or isinstance(d, bool):
        raise TypeError(f"d: expected int, got {type(d).__name__}")
    if not 0 < d < spec.order:
        # The value itself stays out of the message: it is a secret.
        raise ValueError(f"d: private scalar must be in [1, n-1] for {spec.name}")
    return ec.derive_private_key(d, spec.ec_curve)


def private_key_to_int(key: ec.EllipticCurvePrivateKey) -> int:
    """The private scalar of ``key`` (for the ECQV and butterfly sums that need it)."""
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"key: expected EllipticCurvePrivateKey, got {type(key).__name__}")
    return key.private_numbers().private_value


def scalar_to_bytes(d: int, size: int = 32) -> bytes:
    """``d`` as ``size`` big-endian octets (32 for P-256), as ``privateKeyInfo`` and ``sSig`` carry it."""
    if not isinstance(d, int) or isinstance(d, bool):
        raise TypeError(f"d: expected int, got {type(d).__name__}")
    if d < 0 or d.bit_length() > 8 * size:
        raise ValueError(f"d: scalar does not fit in {size} octets")
    return d.to_bytes(size, "big")


def _split_choice(value: Any, name: str) -> tuple[str, Any]:
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)):
        raise TypeError(f"{name}: expected an asn1tools CHOICE tuple (alternative, value)")
    return value[0], value[1]


def _coordinate(value: Any, spec: Curve, name: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{name}: expected bytes, got {type(value).__name__}")
    if len(value) != spec.size:
        raise InvalidKey(f"{name}: coordinate is {len(value)} octets, {spec.name} needs {spec.size}")
    return bytes(value)


@lru_cache(maxsize=4096)
def _decode_point(curve: str, encoded: bytes) -> ec.EllipticCurvePublicKey:
    # Decompression costs ~14 µs (performance.md §2) and the same CA keys recur in every chain,
    # so valid points are cached; keys are immutable and invalid points raise (never cached).
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVES[curve].ec_curve, encoded)
    except ValueError:
        raise InvalidKey(f"point is not a valid {curve} public key") from None
