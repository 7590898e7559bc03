"""Butterfly key expansion: f_k(i, j), cocoon keys, ACA randomisation and EE private keys (1609.2.1 §9.3).

Who computes what (protocol.md §4.5): the EE sends caterpillar public keys and 16-octet AES
expansion keys; the RA expands cocoon keys B = A + f_k(i, j)·G; the ACA randomises them
(explicit U = B + c·G, or ECQV with R = B); the EE rebuilds the private keys from its
caterpillar private key. Only public points are added in Python (``points``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from scms_codec.crypto import ecqv, points
from scms_codec.crypto.points import P256_N, Point
from scms_codec.errors import InvalidKey

__all__ = [
    "EXPANSION_KEY_SIZE",
    "Expander",
    "KeyKind",
    "Variant",
    "cocoon_private_key",
    "cocoon_public_key",
    "cocoon_public_keys",
    "expansion_input",
    "explicit_private_key",
    "implicit_private_key",
    "randomize_explicit",
    "randomize_explicit_many",
    "response_encryption_private_key",
    "response_encryption_public_key",
]

EXPANSION_KEY_SIZE = 16
"""Octets of ``ButterflyExpansion.aes128``."""

KeyKind = Literal["signing", "encryption"]
"""Which x layout f uses: signing x_s = 0^32 ‖ i ‖ j ‖ 0^32, encryption x_e = 1^32 ‖ i ‖ j ‖ 0^32."""

Variant = Literal["original", "unified", "compact-unified"]
"""The ``AdditionalParams`` butterfly choice (protocol.md §4.5)."""

_PREFIX = {"signing": 0, "encryption": 0xFFFFFFFF}
_U32 = 1 << 32


def _u32(value: int, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int")
    if not 0 <= value < _U32:
        raise ValueError(f"{name} must fit in 32 bits")
    return value


def _kind(kind: str) -> int:
    try:
        return _PREFIX[kind]
    except KeyError:
        raise ValueError(f"kind must be 'signing' or 'encryption', not {kind!r}") from None


def _scalar(value: int, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int")
    return value


def _nonzero(value: int, what: str) -> int:
    if value == 0:
        # Probability ~2^-256, but a zero key must never be used or crash cryptography later.
        raise ValueError(f"{what} is 0 mod n")
    return value


def expansion_input(i: int, j: int, kind: KeyKind) -> bytes:
    """x = prefix^32 ‖ i ‖ j ‖ 0^32 as 16 octets (1609.2.1 §9.3, protocol.md §4.5); i, j are 32-bit."""
    x = (_kind(kind) << 96) | (_u32(i, "i") << 64) | (_u32(j, "j") << 32)
    return x.to_bytes(16, "big")


class Expander:
    """The expansion function f_k of one 16-octet AES-128 key k, 1609.2.1 §9.3 (protocol.md §4.5).

    One ECB encryptor is created and reused for every (i, j): 0.11 µs against 2.5 µs per new
    cipher (performance.md §2). ECB on single blocks is exactly the block cipher the formula uses.
    An instance is not thread-safe; use one per thread or process. The key never appears in a repr.
    """

    __slots__ = ("_encryptor",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray | memoryview):
            raise TypeError("key must be bytes")
        if len(key) != EXPANSION_KEY_SIZE:
            raise ValueError(f"key must be {EXPANSION_KEY_SIZE} octets (ButterflyExpansion.aes128)")
        self._encryptor = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()  # noqa: S305

    def __repr__(self) -> str:
        return "Expander(<AES-128 key>)"

    def y(self, i: int, j: int, kind: KeyKind) -> bytes:
        """y = (AES_k(x+1) ⊕ (x+1)) ‖ (AES_k(x+2) ⊕ (x+2)) ‖ (AES_k(x+3) ⊕ (x+3)), 48 octets (1609.2.1 §9.3)."""
        x = int.from_bytes(expansion_input(i, j, kind), "big")
        # The low 32 bits of x are zero, so x+1..x+3 never carry out of 128 bits.
        blocks = b"".join((x + t).to_bytes(16, "big") for t in (1, 2, 3))
        encrypted = self._encryptor.update(blocks)
        return (int.from_bytes(encrypted, "big") ^ int.from_bytes(blocks, "big")).to_bytes(48, "big")

    def f(self, i: int, j: int, kind: KeyKind) -> int:
        """f_k(i, j) = int(y) mod n, the expansion scalar (1609.2.1 §9.3, protocol.md §4.5)."""
        return int.from_bytes(self.y(i, j, kind), "big") % P256_N


def cocoon_public_keys(
    caterpillar: Point, expander: Expander, pairs: Sequence[tuple[int, int]], kind: KeyKind
) -> list[Point]:
    """RA side: B_ij = A + f_k(i, j)·G for every (i, j), with one inversion for the batch (1609.2.1 §9.3)."""
    if not points.is_on_curve(caterpillar):
        raise InvalidKey("caterpillar is not a point of P-256")
    # f·G goes through cryptography (f is known to the RA only); the additions are on public points.
    expanded = [points.base_mul(_nonzero(expander.f(i, j, kind), "f_k(i, j)")) for i, j in pairs]
    return points.add_many([(caterpillar, f_g) for f_g in expanded])


def cocoon_public_key(caterpillar: Point, expander: Expander, i: int, j: int, kind: KeyKind) -> Point:
    """RA side: one cocoon public key B = A + f_k(i, j)·G (1609.2.1 §9.3, protocol.md §4.5)."""
    return cocoon_public_keys(caterpillar, expander, [(i, j)], kind)[0]


def randomize_explicit(cocoon: Point) -> tuple[int, Point]:
    """ACA side, explicit certificate: random c and U = B + c·G; c goes to the EE (1609.2.1 §9.3, protocol.md §4.5)."""
    return randomize_explicit_many([cocoon])[0]


def randomize_explicit_many(cocoons: Sequence[Point]) -> list[tuple[int, Point]]:
    """``randomize_explicit`` for a batch of cocoon keys with one inversion (performance.md §7)."""
    for index, cocoon in enumerate(cocoons):
        if not points.is_on_curve(cocoon):
            raise InvalidKey(f"cocoons[{index}] is not a point of P-256")
    draws = [points.generate() for _ in cocoons]
    try:
        sums = points.add_many([(cocoon, c_g) for cocoon, (_, c_g) in zip(cocoons, draws, strict=True)])
    except ValueError:
        # Some c·G = -B (probability ~2^-256): redo each one alone, drawing again where needed.
        return [points.add_random(cocoon) for cocoon in cocoons]
    return [(c, u) for (c, _), u in zip(draws, sums, strict=True)]


def cocoon_private_key(caterpillar_private: int, expander: Expander, i: int, j: int, kind: KeyKind) -> int:
    """EE side: b = (a + f_k(i, j)) mod n, the cocoon private key (1609.2.1 §9.3, protocol.md §4.5)."""
    a = _scalar(caterpillar_private, "caterpillar_private")
    # Secret-scalar addition in Python: cryptography has no scalar arithmetic, and the sum is unavoidable.
    return _nonzero((a + expander.f(i, j, kind)) % P256_N, "cocoon private key")


def explicit_private_key(b: int, c: int) -> int:
    """EE side, explicit certificate: u = (b + c) mod n; check it with ``ecqv.check_key_pair`` (protocol.md §4.5)."""
    # Secret-scalar addition in Python, unavoidable as in cocoon_private_key.
    return _nonzero((_scalar(b, "b") + _scalar(c, "c")) % P256_N, "certificate private key")


def implicit_private_key(b: int, e: int, r: int) -> int:
    """EE side, implicit certificate: d = (e·b + r) mod n, ECQV with k_U = b (protocol.md §4.3, §4.5)."""
    return ecqv.reconstruct_private(e, b, r)


def response_encryption_public_key(
    variant: Variant,
    *,
    cocoon_signing: Point,
    encryption_caterpillar: Point | None = None,
    encryption_expander: Expander | None = None,
    i: int,
    j: int,
) -> Point:
    """The key the ACA encrypts response (i, j) to, per butterfly variant (1609.2.1 §9.3.4, protocol.md §4.5).

    original: Q = H + f_ek(x_e)·G from the encryption caterpillar H and its expansion key.
    unified and compact-unified: Q = B, the cocoon signing key itself. This is protocol.md
    Uncertain 6 (?): 1609.2.1 §9.3.4.1/9.3.4.2 only say the key comes from A (or B) with the
    signing caterpillar and expansion key; the other reading is A + f_ck(x_e)·G. Q = B follows
    OpenSCMS's ACA and US 12,010,247 claim 6. This function and its private twin are the only
    places to change if a peer or an IEEE vector says otherwise.
    """
    if variant == "original":
        if encryption_caterpillar is None or encryption_expander is None:
            raise ValueError("original variant needs encryption_caterpillar and encryption_expander")
        return cocoon_public_key(encryption_caterpillar, encryption_expander, i, j, "encryption")
    if variant in ("unified", "compact-unified"):
        if not points.is_on_curve(cocoon_signing):
            raise InvalidKey("cocoon_signing is not a point of P-256")
        return cocoon_signing
    raise ValueError(f"variant must be 'original', 'unified' or 'compact-unified', not {variant!r}")


def response_encryption_private_key(
    variant: Variant,
    *,
    cocoon_signing_private: int,
    encryption_caterpillar_private: int | None = None,
    encryption_expander: Expander | None = None,
    i: int,
    j: int,
) -> int:
    """EE side: the private key that opens response (i, j), twin of ``response_encryption_public_key`` (§9.3.4).

    original: h + f_ek(x_e) mod n. unified and compact-unified: b, the cocoon signing private key
    (the same (?) choice as the public twin, protocol.md Uncertain 6).
    """
    if variant == "original":
        if encryption_caterpillar_private is None or encryption_expander is None:
            raise ValueError("original variant needs encryption_caterpillar_private and encryption_expander")
        return cocoon_private_key(encryption_caterpillar_private, encryption_expander, i, j, "encryption")
    if variant in ("unified", "compact-unified"):
        return _nonzero(_scalar(cocoon_signing_private, "cocoon_signing_private") % P256_N, "cocoon private key")
    raise ValueError(f"variant must be 'original', 'unified' or 'compact-unified', not {variant!r}")
