"""The LA use case ``scms_la.plv`` on the in-memory seed store: vectors, chain continuity, races, refusals."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from scms_la.plv import (
    MAX_PLVS,
    PlvBeforeOrigin,
    PlvRequest,
    PlvRequestInvalid,
    PlvRequestRefused,
    PlvRequestTooLarge,
    PlvResponse,
    SeedMismatch,
    UnknownChain,
    pre_linkage_values,
    seed_at,
)
from scms_service.stores.linkage_seeds import ChainSeed, InMemorySeedStore

from scms_codec import asn1
from scms_codec.crypto import linkage
from scms_codec.errors import CodecError, DecryptionError
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu.plv import decrypt_plv, linkage_value_of
from scms_codec.spdu.ra_aca import EncryptedIndividualPLV, LinkageInfo
from tests.support.vectors import crypto_cases, h

LA1 = b"\x00\x01"
LA2 = b"\x00\x02"
NOW = 600_000_000
KEY1 = bytes(range(16))
KEY2 = bytes(range(16, 32))
CHAIN = bytes.fromhex("00112233445566778899aabbccddeeff")


def aca_keyring(*keys: bytes) -> Keyring:
    keyring = Keyring()
    for key in keys:
        keyring.add_symmetric(key)
    return keyring


def decoded(enc_plv: bytes) -> EncryptedIndividualPLV:
    return EncryptedIndividualPLV.from_asn1(asn1.decode("EncryptedIndividualPLV", enc_plv))


def opened(response: PlvResponse, keyring: Keyring) -> dict[tuple[int, int], bytes]:
    """(i, j) → clear PLV, as the ACA would read each COER EncryptedIndividualPLV."""
    out = {}
    for p in response.plvs:
        encrypted = decoded(p.enc_plv)
        assert encrypted.la_id == response.la_id
        out[(p.i, p.j)] = decrypt_plv(encrypted, keyring)
    return out


def ask(
    seeds: InMemorySeedStore, i_first: int, i_last: int, j_max: int, *, la_id: bytes = LA1, key: bytes = KEY1,
    chain: bytes = CHAIN, max_plvs: int = MAX_PLVS,
) -> PlvResponse:  # fmt: skip
    request = PlvRequest(chain, i_first, i_last, j_max)
    return pre_linkage_values(request, la_id=la_id, seeds=seeds, aca_key=key, now=NOW, max_plvs=max_plvs)


def seeded(la_id: bytes, seed: bytes, origin_i: int = 0, chain: bytes = CHAIN) -> InMemorySeedStore:
    store = InMemorySeedStore()
    store.put_if_absent(ChainSeed(chain, origin_i, seed, la_id, NOW))
    return store


# --- known answers (camp_lv.json) ---


@pytest.mark.parametrize("case", crypto_cases("camp_lv.json"))
def test_stored_camp_seed_gives_the_camp_plv_inside_the_encrypted_plv(case: dict[str, Any]) -> None:
    # Given LA1's stored seed is CAMP's ls1(0) at i-period 0,
    la_id, i, j = h(case["la_id1_hex"]), case["i"], case["j"]
    store = seeded(la_id, h(case["ls1_0_hex"]))
    # When the RA asks for period i, j = 0..j,
    response = ask(store, i, i, j + 1, la_id=la_id)
    # Then the ACA opens plv1(i, j) of the vector,
    assert opened(response, aca_keyring(KEY1))[(i, j)] == h(case["plv1_hex"])
    # And seed_at(i) is CAMP's ls1(i).
    assert seed_at(CHAIN, i, la_id=la_id, seeds=store) == h(case["ls1_i_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_lv.json"))
def test_another_seed_or_la_id_misses_the_camp_plv(case: dict[str, Any]) -> None:
    # Twin: a seed with one bit flipped, or LA2's id on LA1's seed, does not give the vector's PLV.
    la_id, i, j = h(case["la_id1_hex"]), case["i"], case["j"]
    seed = bytearray(h(case["ls1_0_hex"]))
    seed[0] ^= 1
    flipped = opened(ask(seeded(la_id, bytes(seed)), i, i, j + 1, la_id=la_id), aca_keyring(KEY1))
    other_la = h(case["la_id2_hex"])
    wrong_la = opened(ask(seeded(other_la, h(case["ls1_0_hex"])), i, i, j + 1, la_id=other_la), aca_keyring(KEY1))
    assert flipped[(i, j)] != h(case["plv1_hex"])
    assert wrong_la[(i, j)] != h(case["plv1_hex"])


@pytest.mark.parametrize("case", crypto_cases("camp_lv.json"))
def test_la1_xor_la2_opened_by_the_aca_is_the_camp_linkage_value(case: dict[str, Any]) -> None:
    # Given LA1 and LA2 with CAMP's seeds and each its own ACA key, asked for j = 0..j+1,
    i, j = case["i"], case["j"]
    la1, la2 = h(case["la_id1_hex"]), h(case["la_id2_hex"])
    r1 = ask(seeded(la1, h(case["ls1_0_hex"])), i, i, j + 2, la_id=la1, key=KEY1)
    r2 = ask(seeded(la2, h(case["ls2_0_hex"])), i, i, j + 2, la_id=la2, key=KEY2)
    enc1 = {(p.i, p.j): decoded(p.enc_plv) for p in r1.plvs}
    enc2 = {(p.i, p.j): decoded(p.enc_plv) for p in r2.plvs}
    # When the ACA opens the pair for (i, j) with its keyring of both keys,
    lv = linkage_value_of(LinkageInfo(enc1[(i, j)], enc2[(i, j)]), aca_keyring(KEY1, KEY2))
    # Then it is the vector's lv and crypto.linkage.linkage_value of the two PLVs.
    assert lv == h(case["lv_hex"])
    assert lv == linkage.linkage_value(h(case["plv1_hex"]), h(case["plv2_hex"]))
    # Twin: LA1's PLV of the next j with LA2's of j gives another value.
    mixed = linkage_value_of(LinkageInfo(enc1[(i, j + 1)], enc2[(i, j)]), aca_keyring(KEY1, KEY2))
    assert mixed != h(case["lv_hex"])


# --- the chain: first seed, continuation, races ---


def test_first_request_stores_one_random_seed_at_i_first_and_answers_every_i_j_in_order() -> None:
    # Given an LA that never saw the chain, When asked for i = 7..9, j < 4,
    store = InMemorySeedStore()
    response = ask(store, 7, 9, 4)
    # Then one seed is stored at origin 7, and the answers are (i, j) in order, each from that seed.
    stored = store.get(CHAIN)
    assert stored is not None and stored.origin_i == 7 and stored.la_id == LA1 and stored.created_at == NOW
    assert [(p.i, p.j) for p in response.plvs] == [(i, j) for i in range(7, 10) for j in range(4)]
    clear = opened(response, aca_keyring(KEY1))
    for i in range(7, 10):
        seed = linkage.seed_at(LA1, stored.seed, 7, i)
        assert [clear[(i, j)] for j in range(4)] == linkage.pre_linkage_values(LA1, seed, range(4))
    # Twin: another chain gets another seed.
    ask(store, 7, 7, 1, chain=bytes(16))
    other = store.get(bytes(16))
    assert other is not None and other.seed != stored.seed


def test_later_request_continues_the_chain_from_the_stored_seed() -> None:
    # Given a chain first asked for i = 10..11,
    store = InMemorySeedStore()
    first = opened(ask(store, 10, 11, 3), aca_keyring(KEY1))
    stored = store.get(CHAIN)
    assert stored is not None
    # When asked later for i = 15 and again for 11,
    later = opened(ask(store, 15, 15, 3), aca_keyring(KEY1))
    again = opened(ask(store, 11, 11, 3), aca_keyring(KEY1))
    # Then ls(15) is ls(10) evolved five times, the PLVs are its, and period 11 answers the same PLVs.
    seed = stored.seed
    for _ in range(5):
        seed = linkage.evolve_seed(LA1, seed)
    assert seed_at(CHAIN, 15, la_id=LA1, seeds=store) == seed
    assert [later[(15, j)] for j in range(3)] == linkage.pre_linkage_values(LA1, seed, range(3))
    assert [again[(11, j)] for j in range(3)] == [first[(11, j)] for j in range(3)]
    assert store.get(CHAIN) == stored  # the seed is never rewritten
    # Twin: ls(14) is not ls(15).
    assert seed_at(CHAIN, 14, la_id=LA1, seeds=store) != seed


class RacingSeedStore(InMemorySeedStore):
    """Both first requests read "no seed" before either writes (a barrier holds the first get)."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self._barrier = threading.Barrier(parties)
        self.misses = 0

    def get(self, chain_id: bytes) -> ChainSeed | None:
        found = super().get(chain_id)
        if found is None:
            self.misses += 1
            self._barrier.wait(timeout=10)
        return found


def test_concurrent_first_requests_end_with_one_seed_and_the_same_plvs() -> None:
    # Given two first requests that both find no seed,
    store = RacingSeedStore(2)
    results: list[dict[tuple[int, int], bytes]] = []

    def run() -> None:
        results.append(opened(ask(store, 3, 4, 5), aca_keyring(KEY1)))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    # Then both raced (each saw no seed), one seed is stored and both answers are that seed's PLVs.
    assert store.misses == 2 and len(results) == 2
    assert store.chains() == [CHAIN]
    assert results[0] == results[1]
    stored = store.get(CHAIN)
    assert stored is not None
    assert results[0][(4, 2)] == linkage.pre_linkage_value(LA1, linkage.evolve_seed(LA1, stored.seed), 2)


def test_seed_of_another_la_in_the_table_is_refused_not_used() -> None:
    # Given LA2's seed in the store LA1 reads (a misconfigured table),
    store = seeded(LA2, bytes(16), 0)
    # Then LA1 refuses to answer from it; Twin: LA2 answers.
    with pytest.raises(SeedMismatch):
        ask(store, 0, 0, 1, la_id=LA1)
    assert len(ask(store, 0, 0, 1, la_id=LA2, key=KEY2).plvs) == 1


# --- refusals change nothing ---


def test_request_below_the_chain_origin_is_refused() -> None:
    # Given a chain whose first seed is for i = 20,
    store = InMemorySeedStore()
    ask(store, 20, 20, 2)
    before = store.get(CHAIN)
    # When asked from i = 19, Then it is refused and the seed is unchanged; seed_at(19) is refused too.
    with pytest.raises(PlvBeforeOrigin):
        ask(store, 19, 21, 2)
    with pytest.raises(PlvBeforeOrigin):
        seed_at(CHAIN, 19, la_id=LA1, seeds=store)
    assert store.get(CHAIN) == before
    # Twin: from the origin itself it is answered.
    assert len(ask(store, 20, 21, 2).plvs) == 4


def test_request_larger_than_the_maximum_is_refused_and_stores_no_seed() -> None:
    # Given the default maximum of 156 x 20,
    store = InMemorySeedStore()
    # When 157 periods of 20 are asked for, Then it is refused clearly and no seed is created,
    with pytest.raises(PlvRequestTooLarge, match="3140 PLVs asked for; at most 3120"):
        ask(store, 0, 156, 20)
    assert store.chains() == []
    # Twin: exactly the maximum is answered.
    assert len(ask(store, 0, 155, 20).plvs) == MAX_PLVS
    # And a configured lower maximum applies.
    with pytest.raises(PlvRequestTooLarge):
        ask(store, 0, 1, 20, max_plvs=39)


@pytest.mark.parametrize(
    ("chain", "i_first", "i_last", "j_max"),
    [
        (bytes(15), 0, 0, 1),
        (bytes(17), 0, 0, 1),
        (CHAIN, 5, 4, 1),
        (CHAIN, -1, 0, 1),
        (CHAIN, 0, 0x10000, 1),
        (CHAIN, 0, 0, 0),
        (CHAIN, 0, 0, 256),
        (CHAIN, True, 1, 1),
        (CHAIN, 0, "1", 1),
    ],
    ids=["chain15", "chain17", "last<first", "negative-i", "i>uint16", "jmax0", "jmax>uint8", "bool-i", "str-i"],
)
def test_malformed_request_is_refused_and_stores_nothing(chain: bytes, i_first: Any, i_last: Any, j_max: Any) -> None:
    store = InMemorySeedStore()
    with pytest.raises(PlvRequestInvalid):
        pre_linkage_values(PlvRequest(chain, i_first, i_last, j_max), la_id=LA1, seeds=store, aca_key=KEY1, now=NOW)
    assert store.chains() == []


def test_refusals_are_bad_requests_with_distinct_asl_names() -> None:
    # The class names are the ASL error names the state machine's Catch will match.
    names = {c.__name__ for c in (PlvRequestInvalid, PlvRequestTooLarge, PlvBeforeOrigin)}
    assert len(names) == 3
    assert all(issubclass(c, PlvRequestRefused) for c in (PlvRequestInvalid, PlvRequestTooLarge, PlvBeforeOrigin))


def test_seed_at_an_unknown_chain_is_not_found() -> None:
    with pytest.raises(UnknownChain):
        seed_at(CHAIN, 0, la_id=LA1, seeds=InMemorySeedStore())
    # Twin: a known chain answers its origin seed.
    assert seed_at(CHAIN, 3, la_id=LA1, seeds=seeded(LA1, bytes(16), 3)) == bytes(16)


# --- the ACA key ---


def test_only_the_la_aca_key_opens_the_plvs() -> None:
    # Given PLVs encrypted under LA1's ACA key,
    response = ask(InMemorySeedStore(), 0, 0, 2)
    # When opened with another key (the RA has none, LA2's is another), Then it fails,
    with pytest.raises(DecryptionError):
        opened(response, aca_keyring(KEY2))
    with pytest.raises(DecryptionError):
        opened(response, Keyring())
    # Twin: the ACA's keyring with LA1's key opens them.
    assert len(opened(response, aca_keyring(KEY2, KEY1))) == 2


def test_encrypted_plv_octets_are_the_asn1_coer_of_encrypted_individual_plv() -> None:
    # Given answers of both LAs, Then each is canonical COER EncryptedIndividualPLV {version 2, laId, encPlv}.
    for la_id, key in ((LA1, KEY1), (LA2, KEY2)):
        for p in ask(InMemorySeedStore(), 0, 1, 3, la_id=la_id, key=key, chain=os.urandom(16)).plvs:
            value = asn1.decode("EncryptedIndividualPLV", p.enc_plv)
            assert value["version"] == 2 and value["laId"] == la_id
            assert asn1.encode("EncryptedIndividualPLV", value) == p.enc_plv
    # Twin: a flipped version octet is refused by the strict decoder.
    bad = bytes([3]) + ask(InMemorySeedStore(), 0, 0, 1).plvs[0].enc_plv[1:]
    with pytest.raises(CodecError):
        asn1.decode("EncryptedIndividualPLV", bad)


# --- secrets stay out of reprs ---


def test_reprs_show_no_seed_and_no_plv() -> None:
    store = InMemorySeedStore()
    response = ask(store, 0, 0, 2)
    stored = store.get(CHAIN)
    assert stored is not None
    clear = opened(response, aca_keyring(KEY1))
    text = " ".join(repr(x) for x in (store, stored, response, *response.plvs))
    for secret in (stored.seed, *clear.values(), KEY1):
        assert secret.hex() not in text and repr(secret) not in text
    # Twin: the reprs do name what is not secret.
    assert repr(CHAIN) in repr(stored) and "la_id=0001" in repr(response)
