"""scms_ra.ca_chain: the issuer walk shared by the CCF and the CRL listing (twins for each refusal)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from scms_ra.ca_chain import chains_to_approved_root


@dataclass(frozen=True)
class _Cert:
    """The two attributes the walk reads."""

    issuer_id: bytes | None
    hashed_id32: bytes


ROOT = _Cert(None, b"R" * 32)
ICA = _Cert(b"root0000", b"I" * 32)
LEAF = _Cert(b"ica00000", b"L" * 32)
CERTS: dict[bytes, Any] = {b"root0000": ROOT, b"ica00000": ICA}


def _walk(cert: _Cert, certs: dict[bytes, Any], approved: set[bytes]) -> bool:
    return chains_to_approved_root(cast(Any, cert), certs, frozenset(approved))


def test_a_leaf_under_an_approved_root_is_vouched_for() -> None:
    assert _walk(LEAF, CERTS, {ROOT.hashed_id32})


def test_a_leaf_under_a_root_the_ctl_does_not_approve_is_not() -> None:
    assert not _walk(LEAF, CERTS, {b"X" * 32})


def test_the_approved_root_itself_is_vouched_for_and_an_unapproved_one_not() -> None:
    assert _walk(ROOT, CERTS, {ROOT.hashed_id32})
    assert not _walk(ROOT, CERTS, set())


def test_an_unknown_issuer_ends_the_walk_unvouched() -> None:
    assert not _walk(LEAF, {b"ica00000": ICA}, {ROOT.hashed_id32})


def test_an_issuer_loop_ends_the_walk_unvouched() -> None:
    a = _Cert(b"bbbbbbbb", b"A" * 32)
    b = _Cert(b"aaaaaaaa", b"B" * 32)
    assert not _walk(a, {b"aaaaaaaa": a, b"bbbbbbbb": b}, {a.hashed_id32, b.hashed_id32})
