"""ECDSA over a 1609.2 signing digest, as ``Signature`` CHOICE values (1609.2 §5.3.1, protocol.md §4.2).

The digest is always the already computed H(H(data) ‖ H(signer)) (``hashing.signing_digest``);
it is signed as a prehashed value. No low-s normalisation is applied (performance.md §8).
"""

from __future__ import annotations

from typing import Any, Literal

from cryptography.exceptions import InvalidSignature as _PycaInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from ..errors import InvalidSignature, UnsupportedAlgorithm
from .keys import CURVES, Curve, curve_of, point_to_asn1, private_key_to_int

__all__ = ["RForm", "canonical_signature", "sign", "verify"]

RForm = Literal["x-only", "compressed"]

# One ECDSA(Prehashed) object per digest size, built once (performance.md §2: reuse objects).
_ALGORITHMS: dict[int, ec.ECDSA] = {
    32: ec.ECDSA(Prehashed(hashes.SHA256())),
    48: ec.ECDSA(Prehashed(hashes.SHA384())),
}
_BY_SIGNATURE = {c.signature: c for c in CURVES.values()}
_R_POINT_FORMS = frozenset({"compressed-y-0", "compressed-y-1"})


def sign(
    private_key: ec.EllipticCurvePrivateKey, digest: bytes, *, r_form: RForm = "x-only"
) -> tuple[str, dict[str, Any]]:
    """Sign a 1609.2 signing digest; the ``Signature`` CHOICE value, 1609.2 §5.3.1 (protocol.md §4.2).

    ``r_form="x-only"`` (the default, FIPS 186-4) carries r; ``"compressed"`` (SEC 1) carries
    the point R = kG compressed, which lets a verifier use R directly.
    """
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"private_key: expected EllipticCurvePrivateKey, got {type(private_key).__name__}")
    spec = curve_of(private_key)
    algorithm = _algorithm_for(spec, digest)
    if r_form == "x-only":
        r, s = decode_dss_signature(private_key.sign(digest, algorithm))
        r_sig: tuple[str, bytes] = ("x-only", r.to_bytes(spec.size, "big"))
    elif r_form == "compressed":
        r_sig, s = _sign_with_point(private_key, spec, digest)
    else:
        raise ValueError(f"r_form: expected 'x-only' or 'compressed', got {r_form!r}")
    return spec.signature, {"rSig": r_sig, "sSig": s.to_bytes(spec.size, "big")}


def verify(public_key: ec.EllipticCurvePublicKey, digest: bytes, signature: tuple[str, Any]) -> None:
    """Verify a ``Signature`` over a 1609.2 signing digest, 1609.2 §5.3.1; ``InvalidSignature`` if it fails.

    rSig may be x-only (r) or a point R (compressed or uncompressed), whose x mod n is r.
    A signature whose curve differs from the key's does not verify.
    """
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise TypeError(f"public_key: expected EllipticCurvePublicKey, got {type(public_key).__name__}")
    spec = _signature_curve(signature)
    if curve_of(public_key) is not spec:
        raise InvalidSignature(f"signature is {signature[0]}, the key is on {public_key.curve.name}")
    algorithm = _algorithm_for(spec, digest)
    r, s = _r_and_s(spec, signature[1])
    if not (0 < r < spec.order and 0 < s < spec.order):
        raise InvalidSignature("signature: r or s is out of range")
    try:
        public_key.verify(encode_dss_signature(r, s), digest, algorithm)
    except _PycaInvalidSignature:
        raise InvalidSignature("signature does not verify") from None


def canonical_signature(signature: tuple[str, Any]) -> tuple[str, Any]:
    """The signature with rSig in x-only form (x mod n), the canonical form for hashing, 1609.2 §6.1.2."""
    spec = _signature_curve(signature)
    r, _ = _r_and_s(spec, signature[1])
    body = dict(signature[1])
    body["rSig"] = ("x-only", r.to_bytes(spec.size, "big"))
    return signature[0], body


def _sign_with_point(
    private_key: ec.EllipticCurvePrivateKey, spec: Curve, digest: bytes
) -> tuple[tuple[str, bytes], int]:
    # pyca never reveals the nonce, so this path is ECDSA by hand: k and R = kG come from a fresh
    # generate_private_key (constant-time k·G), then s = k^-1 (e + r·d) mod n in Python int
    # arithmetic, which is variable-time on the secrets k and d. It is opt-in, never the default.
    n = spec.order
    d = private_key_to_int(private_key)
    e = int.from_bytes(digest, "big")  # digest size = the curve's order size: no truncation
    while True:
        nonce = ec.generate_private_key(spec.ec_curve)
        k = private_key_to_int(nonce)
        r_point = point_to_asn1(nonce.public_key())
        r = int.from_bytes(r_point[1], "big") % n
        s = pow(k, -1, n) * (e + r * d) % n
        if r and s:  # r = 0 or s = 0 happens with probability ~2^-256; draw another k.
            return r_point, s


def _algorithm_for(spec: Curve, digest: bytes) -> ec.ECDSA:
    if not isinstance(digest, (bytes, bytearray)):
        raise TypeError(f"digest: expected bytes, got {type(digest).__name__}")
    if len(digest) != spec.size:
        raise ValueError(f"digest: {spec.name} signs a {spec.size}-octet digest, got {len(digest)} octets")
    return _ALGORITHMS[spec.size]


def _signature_curve(signature: Any) -> Curve:
    if not (isinstance(signature, tuple) and len(signature) == 2 and isinstance(signature[1], dict)):
        raise TypeError("signature: expected an asn1tools Signature CHOICE tuple (alternative, dict)")
    spec = _BY_SIGNATURE.get(signature[0])
    if spec is None:
        raise UnsupportedAlgorithm(f"signature: algorithm {signature[0]!r} is not supported")
    return spec


def _r_and_s(spec: Curve, body: dict[str, Any]) -> tuple[int, int]:
    r_sig: Any = body.get("rSig")
    s_sig: Any = body.get("sSig")
    if not (isinstance(r_sig, tuple) and len(r_sig) == 2):
        raise TypeError("signature: rSig must be an EccPxxxCurvePoint CHOICE tuple")
    alternative, value = r_sig
    x: Any
    if alternative == spec.uncompressed and isinstance(value, dict):
        x = value.get("x")
    elif alternative == "x-only" or alternative in _R_POINT_FORMS:
        x = value
    else:
        raise UnsupportedAlgorithm(f"signature: rSig form {alternative!r} is not supported")
    for name, octets in (("rSig", x), ("sSig", s_sig)):
        if not isinstance(octets, (bytes, bytearray)) or len(octets) != spec.size:
            raise InvalidSignature(f"signature: {name} must be {spec.size} octets")
    r = int.from_bytes(x, "big")
    if alternative != "x-only":
        # R's x is an integer mod p; r is x mod n (the EcdsaP256Signature comment in Ieee1609Dot2BaseTypes).
        r %= spec.order
    return r, int.from_bytes(s_sig, "big")
