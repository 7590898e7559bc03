"""P-256 points as affine (x, y) integers: fixed-base multiplication through ``cryptography``, addition in Python.

Design (notes/performance.md §3, §7): every multiplication by a secret scalar goes through
``cryptography`` (``derive_private_key`` / ``generate_private_key`` / ECDH). Python integer
arithmetic here touches public points only: additions such as cocoon key B = A + f·G, the ACA's
U = B + c·G, and the verifier's e·P_U + Q_CA (protocol.md §4.3, §4.5). The point at infinity is
never a value of ``Point``; operations that would produce it raise ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec.errors import InvalidKey

__all__ = [
    "P256_A",
    "P256_B",
    "P256_G",
    "P256_N",
    "P256_P",
    "Point",
    "add",
    "add_many",
    "add_random",
    "base_mul",
    "from_public_key",
    "generate",
    "is_on_curve",
    "mul",
    "neg",
    "to_public_key",
]

Point = tuple[int, int]
"""An affine P-256 point (x, y); public values only, never the point at infinity."""

P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_A = P256_P - 3
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
P256_G: Point = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)

_CURVE = ec.SECP256R1()
_INFINITY = "point at infinity"


def _scalar(k: int, name: str) -> int:
    """k reduced mod n; a multiple of n would give the point at infinity."""
    if not isinstance(k, int) or isinstance(k, bool):
        raise TypeError(f"{name} must be an int")
    k %= P256_N
    if k == 0:
        raise ValueError(f"{name} is 0 mod n: {_INFINITY}")
    return k


def _is_point(p: object) -> bool:
    """The common case of ``_check_point``, without building an error message: a tuple of two plain ints."""
    return type(p) is tuple and len(p) == 2 and type(p[0]) is int and type(p[1]) is int


def _check_point(p: Point, name: str) -> None:
    if not (isinstance(p, tuple) and len(p) == 2 and all(isinstance(c, int) for c in p)):
        raise TypeError(f"{name} must be a tuple (x, y) of ints")


def is_on_curve(p: Point) -> bool:
    """True if p = (x, y) is an affine point of P-256: y² = x³ - 3x + b over F_p."""
    if not _is_point(p):
        _check_point(p, "p")
    x, y = p
    if not (0 <= x < P256_P and 0 <= y < P256_P):
        return False
    # x³ + a·x + b with a = -3, written as x·(x² - 3): no multiplication by the 256-bit a.
    return (y * y - x * (x * x - 3) - P256_B) % P256_P == 0


def neg(p: Point) -> Point:
    """-P = (x, -y mod p)."""
    _check_point(p, "p")
    return (p[0], (-p[1]) % P256_P)


def from_public_key(key: ec.EllipticCurvePublicKey) -> Point:
    """The (x, y) of a ``cryptography`` P-256 public key."""
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TypeError("key must be an EllipticCurvePublicKey")
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"key must be on P-256, not {key.curve.name}")
    numbers = key.public_numbers()
    return (numbers.x, numbers.y)


def to_public_key(p: Point) -> ec.EllipticCurvePublicKey:
    """A ``cryptography`` public key for p; ``InvalidKey`` if p is not on P-256."""
    _check_point(p, "p")
    if not is_on_curve(p):
        raise InvalidKey("point is not on P-256")
    return ec.EllipticCurvePublicNumbers(p[0], p[1], _CURVE).public_key()


def base_mul(k: int) -> Point:
    """k·G for any scalar k (secret or not), computed by ``cryptography``; k ≡ 0 mod n raises ``ValueError``."""
    k = _scalar(k, "k")
    return from_public_key(ec.derive_private_key(k, _CURVE).public_key())


def generate() -> tuple[int, Point]:
    """A random scalar k in [1, n-1] and k·G, via ``generate_private_key`` (cheaper than draw + derive, perf. §2)."""
    # One private_numbers() call carries the public numbers too: 6 µs against 14 µs for reading
    # private_value and public_key().public_numbers() separately.
    numbers = ec.generate_private_key(_CURVE).private_numbers()
    public = numbers.public_numbers
    return numbers.private_value, (public.x, public.y)


def add(p: Point, q: Point) -> Point:
    """P + Q in affine coordinates, doubling when P = Q; P + (-P) raises ``ValueError`` (public points only)."""
    _check_point(p, "p")
    _check_point(q, "q")
    num, den = _slope_fraction(p, q)
    return _finish_add(p, q, num * pow(den, -1, P256_P) % P256_P)


def _slope_fraction(p: Point, q: Point) -> tuple[int, int]:
    """Numerator and non-zero denominator of the slope of the line through P and Q (tangent when P = Q)."""
    (x1, y1), (x2, y2) = p, q
    if x1 != x2:
        return (y2 - y1) % P256_P, (x2 - x1) % P256_P
    if y1 != y2 or y1 == 0:
        # Same x, different y means Q = -P. P-256 has prime order, so y = 0 never occurs on the curve,
        # but a caller's junk point must not divide by zero either.
        raise ValueError(f"P + (-P) is the {_INFINITY}")
    return (3 * x1 * x1 + P256_A) % P256_P, (2 * y1) % P256_P


def _finish_add(p: Point, q: Point, slope: int) -> Point:
    x3 = (slope * slope - p[0] - q[0]) % P256_P
    return (x3, (slope * (p[0] - x3) - p[1]) % P256_P)


def add_random(p: Point) -> tuple[int, Point]:
    """A fresh random k and P + k·G: the CA's randomisation of a requested or cocoon key (protocol.md §4.3, §4.5).

    k is secret; k·G comes from ``generate``. ``InvalidKey`` if P is not on P-256.
    """
    _check_point(p, "p")
    if not is_on_curve(p):
        raise InvalidKey("p is not on P-256")
    while True:
        k, k_g = generate()
        try:
            return k, add(p, k_g)
        except ValueError:
            # k·G = -P: the sum would be the point at infinity. Probability ~2^-256; draw again.
            continue


def add_many(pairs: Sequence[tuple[Point, Point]]) -> list[Point]:
    """[P_i + Q_i] for every pair, with one modular inversion for the whole batch (Montgomery's trick)."""
    fractions = []
    for index, (p, q) in enumerate(pairs):
        if not (_is_point(p) and _is_point(q)):  # the messages are built only when a check fails
            _check_point(p, f"pairs[{index}][0]")
            _check_point(q, f"pairs[{index}][1]")
        try:
            fractions.append(_slope_fraction(p, q))
        except ValueError as exc:
            raise ValueError(f"pairs[{index}]: P + (-P) is the {_INFINITY}") from exc
    if not fractions:
        return []
    # prefix[i] = d_0 · … · d_i; one inverse of the full product, then peel one factor off per step
    # going backwards: inv(d_i) = inv(prefix[i]) · prefix[i-1], inv(prefix[i-1]) = inv(prefix[i]) · d_i.
    prefix = []
    acc = 1
    for _, den in fractions:
        acc = acc * den % P256_P
        prefix.append(acc)
    inv_acc = pow(acc, -1, P256_P)
    out: list[Point] = [P256_G] * len(fractions)
    for i in range(len(fractions) - 1, -1, -1):
        num, den = fractions[i]
        inv_den = inv_acc * prefix[i - 1] % P256_P if i else inv_acc
        inv_acc = inv_acc * den % P256_P
        p, q = pairs[i]
        out[i] = _finish_add(p, q, num * inv_den % P256_P)
    return out


def mul(k: int, p: Point) -> Point:
    """k·P for an arbitrary point: x(kP), x((k+1)P) by ECDH, y by Okeya-Sakurai recovery (performance.md §3).

    For public results only (e·P_U of an implicit certificate): the scalar goes through ECDH in
    ``cryptography``, but the y recovery is variable-time Python on x(kP). k ≡ 0 mod n raises ``ValueError``;
    p off the curve raises ``InvalidKey``.
    """
    k = _scalar(k, "k")
    peer = to_public_key(p)
    if k == 1:
        return p
    if k == P256_N - 1:
        # (k+1)·P would be the point at infinity, which ECDH cannot return.
        return neg(p)
    x, y = p
    x1 = _ecdh_x(k, peer)
    x2 = _ecdh_x(k + 1, peer)
    # Okeya-Sakurai: with Q1 = kP = (x1, y1) and Q2 = Q1 + P = (x2, ·),
    # y1 = (2b + (a + x·x1)(x + x1) - x2·(x - x1)²) / (2y). It also holds when x1 = x (kP = P).
    num = (2 * P256_B + (P256_A + x * x1) * (x + x1) - x2 * (x - x1) ** 2) % P256_P
    y1 = num * pow(2 * y, -1, P256_P) % P256_P
    result = (x1, y1)
    if not is_on_curve(result):  # pragma: no cover - would mean a broken formula or backend
        raise ArithmeticError("y recovery produced a point off the curve")
    return result


def _ecdh_x(k: int, peer: ec.EllipticCurvePublicKey) -> int:
    shared = ec.derive_private_key(k, _CURVE).exchange(ec.ECDH(), peer)
    return int.from_bytes(shared, "big")
