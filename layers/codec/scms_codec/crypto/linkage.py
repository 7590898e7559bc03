"""Linkage seeds, pre-linkage values and linkage values of the LAs (1609.2 §5.1.3.4, 1609.2.1 Annex D).

Sizes (protocol.md §4.6): ``LaId`` 2 octets, ``LinkageSeed`` 16, ``PreLinkageValue`` and
``LinkageValue`` 9. Seed evolution is ``seedEvoFn1-sha256`` and the PLV function ``lvGenFn1-aes128``;
group linkage follows the CAMP construction of ``camp_glv.json``. Seeds are secrets of the LA:
they never appear in exception messages.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "ENCRYPTED_INDEX_SIZE",
    "GROUP_CHAIN_ID_SIZE",
    "INDICES_KEY_SIZE",
    "LA_ID_SIZE",
    "LINKAGE_VALUE_SIZE",
    "SEED_SIZE",
    "encrypted_index",
    "evolve_seed",
    "group_linkage_value",
    "group_pre_linkage_value",
    "initial_seed",
    "linkage_value",
    "linkage_values_for_crl",
    "pre_linkage_value",
    "pre_linkage_values",
    "seed_at",
]

LA_ID_SIZE = 2
SEED_SIZE = 16
LINKAGE_VALUE_SIZE = 9
GROUP_CHAIN_ID_SIZE = 4
INDICES_KEY_SIZE = 16
ENCRYPTED_INDEX_SIZE = 16

_SEED_PAD = bytes(14)  # 0^112: pads la_id ‖ seed to one 32-octet SHA-256 input
_PLV_PAD = bytes(10)  # 0^80: pads la_id ‖ j to one AES block
_U32 = 1 << 32


def _octets(value: bytes, size: int, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be bytes")
    if len(value) != size:
        raise ValueError(f"{name} must be {size} octets")
    return bytes(value)


def _index(value: int, name: str, limit: int = _U32) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int")
    if not 0 <= value < limit:
        raise ValueError(f"{name} must be in [0, {limit})")
    return value


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _aes_davies_meyer(key: bytes, blocks: bytes) -> bytes:
    """AES_key(m) ⊕ m for each 16-octet block m, with one ECB encryptor for all of them."""
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - single-block PRF use
    return _xor(encryptor.update(blocks), blocks)


def initial_seed() -> bytes:
    """A fresh random linkage seed ls(0) of 16 octets, one per (EE chain, LA) (protocol.md §4.6)."""
    return secrets.token_bytes(SEED_SIZE)


def evolve_seed(la_id: bytes, seed: bytes) -> bytes:
    """ls(i) = first 16 octets of SHA-256(la_id ‖ ls(i-1) ‖ 0^112), seedEvoFn1-sha256 (1609.2 §5.1.3.4)."""
    la_id = _octets(la_id, LA_ID_SIZE, "la_id")
    seed = _octets(seed, SEED_SIZE, "seed")
    return hashlib.sha256(la_id + seed + _SEED_PAD).digest()[:SEED_SIZE]


def seed_at(la_id: bytes, seed0: bytes, i_from: int, i_to: int) -> bytes:
    """The seed of period i_to, given ``seed0`` = the seed of period i_from (i_from <= i_to), 1609.2 §5.1.3.4."""
    _index(i_from, "i_from")
    _index(i_to, "i_to")
    if i_to < i_from:
        raise ValueError("i_to must not be before i_from: seeds only evolve forwards")
    seed = _octets(seed0, SEED_SIZE, "seed0")
    for _ in range(i_to - i_from):
        seed = evolve_seed(la_id, seed)
    return seed


def pre_linkage_values(la_id: bytes, seed_i: bytes, js: Iterable[int]) -> list[bytes]:
    """plv(i, j) = first 9 octets of AES_ls(i)(m) ⊕ m, m = la_id ‖ j ‖ 0^80 per j (lvGenFn1-aes128, 1609.2 §5.1.3.4)."""
    la_id = _octets(la_id, LA_ID_SIZE, "la_id")
    seed_i = _octets(seed_i, SEED_SIZE, "seed_i")
    blocks = b"".join(la_id + _index(j, "j").to_bytes(4, "big") + _PLV_PAD for j in js)
    if not blocks:
        return []
    out = _aes_davies_meyer(seed_i, blocks)
    return [out[k : k + LINKAGE_VALUE_SIZE] for k in range(0, len(out), 16)]


def pre_linkage_value(la_id: bytes, seed_i: bytes, j: int) -> bytes:
    """One 9-octet pre-linkage value plv(i, j) (lvGenFn1-aes128, 1609.2 §5.1.3.4, protocol.md §4.6)."""
    return pre_linkage_values(la_id, seed_i, [j])[0]


def linkage_value(plv1: bytes, plv2: bytes) -> bytes:
    """lv(i, j) = plv1(i, j) ⊕ plv2(i, j), 9 octets, the certificate's ``linkage-value`` (protocol.md §4.6)."""
    return _xor(_octets(plv1, LINKAGE_VALUE_SIZE, "plv1"), _octets(plv2, LINKAGE_VALUE_SIZE, "plv2"))


def group_pre_linkage_value(la_id: bytes, group_seed_i: bytes, j: int) -> bytes:
    """gplv(i, j): the PLV function on a group seed gs(i), arbitrary 32-bit j (camp_glv.json, protocol.md §4.6)."""
    return pre_linkage_values(la_id, _octets(group_seed_i, SEED_SIZE, "group_seed_i"), [j])[0]


def group_linkage_value(gplv1: bytes, gplv2: bytes) -> bytes:
    """glv(i, j) = gplv1 ⊕ gplv2, 9 octets, ``GroupLinkageValue.value`` (protocol.md §4.6)."""
    return _xor(_octets(gplv1, LINKAGE_VALUE_SIZE, "gplv1"), _octets(gplv2, LINKAGE_VALUE_SIZE, "gplv2"))


def encrypted_index(ik: bytes, k: bytes, j: int) -> bytes:
    """ei(j, k) = AES_ik(m) ⊕ m with m = k ‖ j ‖ 0^64, 16 octets (CAMP group linkage, protocol.md §4.6).

    k (the 32-bit group chain id) comes first, j second, although CAMP's label says j ‖ k: the
    values in ``camp_glv.json`` fix this order. How 1609.2's 4-octet ``GroupLinkageValue.jValue``
    derives from ei is not known (protocol.md Uncertain 10).
    """
    ik = _octets(ik, INDICES_KEY_SIZE, "ik")
    k = _octets(k, GROUP_CHAIN_ID_SIZE, "k")
    return _aes_davies_meyer(ik, k + _index(j, "j").to_bytes(4, "big") + bytes(8))


def linkage_values_for_crl(
    la1_id: bytes, ls1: bytes, la2_id: bytes, ls2: bytes, i_rev: int, i: int, jmax: int
) -> list[bytes]:
    """The linkage values lv(i, 0..jmax-1) a receiver derives from a linked CRL entry (protocol.md §4.6).

    ``ls1`` and ``ls2`` are the entry's ``linkageSeed1/2`` for period ``i_rev``; they are evolved to
    the certificate's period ``i`` (i >= i_rev, else ``ValueError``: a revoked chain is not revoked
    backwards) and compared against its ``linkage-value``.
    """
    _index(jmax, "jmax", _U32 + 1)
    seed1 = seed_at(la1_id, ls1, i_rev, i)
    seed2 = seed_at(la2_id, ls2, i_rev, i)
    js = range(jmax)
    plv1s = pre_linkage_values(la1_id, seed1, js)
    plv2s = pre_linkage_values(la2_id, seed2, js)
    return [linkage_value(a, b) for a, b in zip(plv1s, plv2s, strict=True)]
