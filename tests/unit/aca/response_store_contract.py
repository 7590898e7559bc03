"""What every ``AcaResponseStore`` does (the fake here, the DynamoDB adapter under moto in tests/functional)."""

from __future__ import annotations

from scms_service.stores.aca_responses import AcaResponseStore

H1, H2, H3 = bytes(8), bytes(range(8)), bytes(range(8, 16))


def first_answer_wins(store: AcaResponseStore) -> None:
    # Given one stored response,
    assert store.put_many({H1: b"first"}, expires_at=10) == {H1: b"first"}
    # When a batch stores a different response for it and new ones for others,
    stored = store.put_many({H1: b"second", H2: b"new", H3: b"other"}, expires_at=20)
    # Then the first answer is kept and returned, and the new ones are stored.
    assert stored == {H1: b"first", H2: b"new", H3: b"other"}
    assert store.get_many([H1, H2, H3]) == stored


def get_many_leaves_out_unknown_hashes(store: AcaResponseStore) -> None:
    assert store.get_many([H1, H2]) == {}
    store.put_many({H2: b"x"}, expires_at=10)
    assert store.get_many([H1, H2, H2]) == {H2: b"x"}


def many_items_cross_the_batch_limits(store: AcaResponseStore) -> None:
    # 250 items: more than one BatchGetItem (100) and TransactWriteItems (100) call each.
    responses = {i.to_bytes(8, "big"): bytes([i % 256]) * 3 for i in range(250)}
    store.put_many({k: responses[k] for k in list(responses)[100:150]}, expires_at=10)
    assert store.put_many(responses, expires_at=10) == responses
    assert store.get_many(list(responses)) == responses


CONTRACT = (first_answer_wins, get_many_leaves_out_unknown_hashes, many_items_cross_the_batch_limits)
