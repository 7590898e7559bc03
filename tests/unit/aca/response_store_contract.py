"""What every ``AcaResponseStore`` does (the fake here, the DynamoDB adapter under moto in tests/functional)."""

from __future__ import annotations

from scms_service.stores.aca_responses import AcaAnswer, AcaResponseStore, HashCrlEntry

H1, H2, H3 = bytes(8), bytes(range(8)), bytes(range(8, 16))


def answer(response: bytes, cert: int = 0, expires_at: int = 10) -> AcaAnswer:
    """An answer whose certificate id is ``cert`` (8 octets, big-endian) and whose TTL is ``expires_at``."""
    return AcaAnswer(response, (0xC0 << 56 | cert).to_bytes(8, "big"), expires_at)


def first_answer_wins(store: AcaResponseStore) -> None:
    # Given one stored response,
    assert store.put_many({H1: answer(b"first", 1)}) == {H1: b"first"}
    # When a batch stores a different response for it and new ones for others,
    stored = store.put_many({H1: answer(b"second", 9, 20), H2: answer(b"new", 2), H3: answer(b"other", 3)})
    # Then the first answer is kept and returned, and the new ones are stored.
    assert stored == {H1: b"first", H2: b"new", H3: b"other"}
    assert store.get_many([H1, H2, H3]) == stored
    # And the first answer's certificate id is the one looked up; the losing one's names nothing.
    ids = [answer(b"", n).cert_id for n in (1, 9)]
    assert store.lookup(ids) == {ids[0]: H1}


def get_many_leaves_out_unknown_hashes(store: AcaResponseStore) -> None:
    assert store.get_many([H1, H2]) == {}
    store.put_many({H2: answer(b"x")})
    assert store.get_many([H1, H2, H2]) == {H2: b"x"}


def lookup_finds_the_request_of_each_certificate(store: AcaResponseStore) -> None:
    # Given two answered requests,
    store.put_many({H1: answer(b"a", 1), H2: answer(b"b", 2)})
    one, two, never = (answer(b"", n).cert_id for n in (1, 2, 3))
    # Then each certificate id names its own request; an id never issued (and a repeat) is left out.
    assert store.lookup([two, never, one, two]) == {one: H1, two: H2}
    assert store.lookup([never]) == {}


def non_butterfly(response: bytes, cert: int, expiry: int) -> AcaAnswer:
    """An answer with a certificate without linkage data: its hash CRL entry rides along."""
    base = answer(response, cert)
    return AcaAnswer(response, base.cert_id, 10, HashCrlEntry(b"\xee\xee" + base.cert_id, expiry))


def hash_entries_name_only_non_butterfly_answers(store: AcaResponseStore) -> None:
    # Given a non-butterfly answer (H1) and a butterfly one (H2, no hash CRL entry),
    store.put_many({H1: non_butterfly(b"a", 1, 700), H2: answer(b"b", 2)})
    # Then the first request's entry is answered; the butterfly one and an unknown one are left out.
    assert store.hash_entries([H2, H3, H1, H1]) == {H1: HashCrlEntry(b"\xee\xee" + answer(b"", 1).cert_id, 700)}
    assert store.hash_entries([H2, H3]) == {}


def many_items_cross_the_batch_limits(store: AcaResponseStore) -> None:
    # 250 items: more than one BatchGetItem (100) and TransactWriteItems (100) call each.
    responses = {i.to_bytes(8, "big"): bytes([i % 256]) * 3 for i in range(250)}
    answers = {h: answer(r, i) for i, (h, r) in enumerate(responses.items())}
    store.put_many({k: answers[k] for k in list(answers)[100:150]})
    assert store.put_many(answers) == responses
    assert store.get_many(list(responses)) == responses


CONTRACT = (
    first_answer_wins,
    get_many_leaves_out_unknown_hashes,
    lookup_finds_the_request_of_each_certificate,
    hash_entries_name_only_non_butterfly_answers,
    many_items_cross_the_batch_limits,
)
