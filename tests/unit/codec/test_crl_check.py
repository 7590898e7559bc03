"""Receiver-side CRL checks (scms_codec.crl_check): every revoked (i, j) found, nothing else."""

from __future__ import annotations

import pytest

from scms_codec.asn1 import decode, encode
from scms_codec.crl_check import hash_crl_revokes, linked_crl_revokes, linked_revocations
from scms_codec.crypto.linkage import linkage_value, pre_linkage_value, seed_at
from scms_codec.spdu.crl import CrlContents

# camp_lv.json (protocol.md §4.6): i = 0, j = 8 gives lv 688ACF70E25EC01F32.
LA1, LA2 = bytes.fromhex("8E09"), bytes.fromhex("59CE")
LS1 = bytes.fromhex("4840ED221502D9AB6786BF68FBA9F210")
LS2 = bytes.fromhex("6B71A7EB5755F16E89981D2189A6DAEA")
KAT_LV = bytes.fromhex("688ACF70E25EC01F32")


def _lv(i: int, j: int, ls1: bytes = LS1, ls2: bytes = LS2, i0: int = 0) -> bytes:
    s1, s2 = seed_at(LA1, ls1, i0, i), seed_at(LA2, ls2, i0, i)
    return linkage_value(pre_linkage_value(LA1, s1, j), pre_linkage_value(LA2, s2, j))


def _linked(i_rev: int, jmax: int, i_max: int, seeds: tuple[bytes, bytes] | None = None) -> CrlContents:
    s1, s2 = seeds or (seed_at(LA1, LS1, 0, i_rev), seed_at(LA2, LS2, 0, i_rev))
    individual = [
        {"jmax": jmax, "contents": [{"la1Id": LA1, "la2Id": LA2, "contents": [
            {"iMax": i_max, "contents": [{"linkageSeed1": s1, "linkageSeed2": s2}]}]}]}
    ]  # fmt: skip
    body = {"iRev": i_rev, "indexWithinI": 0, "individual": individual}
    contents = CrlContents(1, bytes(8), 10, 20, ("fullLinkedCrl", body))
    # Through the codec, as a device sees it after parse_secured_crl.
    return CrlContents.from_asn1(decode("CrlContents", encode("CrlContents", contents.to_asn1())))


def test_kat_linkage_value_is_found_at_i0() -> None:
    assert _lv(0, 8) == KAT_LV
    assert linked_crl_revokes(_linked(0, 20, 10), KAT_LV, 0)
    assert not linked_crl_revokes(_linked(0, 8, 10), KAT_LV, 0)  # twin: j = 8 is not below jmax 8


def test_every_revoked_i_j_is_found_and_no_other() -> None:
    crl = _linked(i_rev=3, jmax=5, i_max=6)
    for i in range(0, 9):
        for j in range(0, 7):
            expected = 3 <= i <= 6 and j < 5
            assert linked_crl_revokes(crl, _lv(i, j), i) is expected, (i, j)


def test_another_chain_is_not_revoked() -> None:
    crl = _linked(i_rev=2, jmax=20, i_max=9)
    other = (bytes(range(16)), bytes(range(16, 32)))
    for i in range(2, 6):
        for j in range(20):
            assert not linked_crl_revokes(crl, _lv(i, j, *other), i)
            assert linked_crl_revokes(crl, _lv(i, j), i)


def test_linkage_value_of_the_wrong_period_is_not_revoked() -> None:
    crl = _linked(i_rev=2, jmax=20, i_max=9)
    assert not linked_crl_revokes(crl, _lv(4, 1), 5)
    assert linked_crl_revokes(crl, _lv(5, 1), 5)


def test_hash_crl_is_no_linked_crl_and_back() -> None:
    hash_crl = CrlContents(2, bytes(8), 10, 20, ("fullHashCrl", {"crlSerial": 1, "entries": [
        {"id": b"\x01" * 10, "expiry": 99}]}))  # fmt: skip
    assert hash_crl_revokes(hash_crl, b"\x01" * 10)
    assert not hash_crl_revokes(hash_crl, b"\x02" * 10)
    assert not linked_crl_revokes(hash_crl, KAT_LV, 0)
    assert not hash_crl_revokes(_linked(0, 20, 10), b"\x01" * 10)
    assert list(linked_revocations(hash_crl)) == []
    assert len(list(linked_revocations(_linked(0, 20, 10)))) == 1


@pytest.mark.parametrize(("call", "arg"), [("linked", b"\x00" * 8), ("hash", b"\x00" * 9)])
def test_wrong_sizes_are_refused(call: str, arg: bytes) -> None:
    with pytest.raises(ValueError):
        if call == "linked":
            linked_crl_revokes(_linked(0, 20, 10), arg, 0)
        else:
            hash_crl_revokes(_linked(0, 20, 10), arg)
