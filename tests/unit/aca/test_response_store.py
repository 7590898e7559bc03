"""The in-memory AcaResponseStore keeps the DynamoDB adapter's contract (first answer wins, lookup by certId)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pytest
from scms_service.stores.aca_responses import AcaAnswer, AcaResponseStore, FakeAcaResponseStore, HashCrlEntry

from tests.unit.aca.response_store_contract import CONTRACT, H1, answer, hash_entries_name_only_non_butterfly_answers


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_fake_store_keeps_the_contract(check: Callable[[AcaResponseStore], None]) -> None:
    check(FakeAcaResponseStore())


def test_fake_store_keeps_the_first_expiry_too() -> None:
    store = FakeAcaResponseStore()
    store.put_many({H1: answer(b"a", 1, 10)})
    store.put_many({H1: answer(b"b", 2, 99)})
    assert store.items[H1] == answer(b"a", 1, 10)


def test_a_store_that_overwrote_would_break_the_contract() -> None:
    # Twin: a store that lets the last write win fails first_answer_wins.
    class Overwriting(FakeAcaResponseStore):
        def put_many(self, answers: Mapping[bytes, AcaAnswer]) -> dict[bytes, bytes]:
            self.items.update(answers)
            return {h: a.response for h, a in answers.items()}

    with pytest.raises(AssertionError):
        CONTRACT[0](Overwriting())


def test_a_store_whose_lookup_forgot_a_certificate_would_break_the_contract() -> None:
    # Twin of lookup_finds_the_request_of_each_certificate: a lookup that finds only the first id fails it.
    class Forgetful(FakeAcaResponseStore):
        def lookup(self, cert_ids: Sequence[bytes]) -> dict[bytes, bytes]:
            return dict(list(super().lookup(cert_ids).items())[:1])

    with pytest.raises(AssertionError):
        CONTRACT[2](Forgetful())


def test_an_answer_names_a_hashed_id8() -> None:
    with pytest.raises(ValueError, match="cert_id"):
        AcaAnswer(b"r", bytes(7), 1)
    assert AcaAnswer(b"r", bytes(8), 1).cert_id == bytes(8)
    assert "b'r'" not in repr(AcaAnswer(b"r", bytes(8), 1))  # the response stays out of reprs


def test_a_store_whose_hash_entries_answered_butterfly_requests_would_break_the_contract() -> None:
    # Twin of hash_entries_name_only_non_butterfly_answers: an entry made up for every known request fails it.
    class Indiscriminate(FakeAcaResponseStore):
        def hash_entries(self, request_hashes: Sequence[bytes]) -> dict[bytes, HashCrlEntry]:
            return {h: HashCrlEntry(b"\0\0" + self.items[h].cert_id, 1) for h in request_hashes if h in self.items}

    with pytest.raises(AssertionError):
        hash_entries_name_only_non_butterfly_answers(Indiscriminate())


def test_a_hash_crl_entry_is_the_answers_own_certificates() -> None:
    # The entry's HashedId10 ends with the answer's HashedId8 (the same SHA-256), and is 10 octets.
    assert AcaAnswer(b"r", bytes(8), 1, HashCrlEntry(b"\1\1" + bytes(8), 5)).hash_crl is not None
    with pytest.raises(ValueError, match="hash_crl"):
        AcaAnswer(b"r", bytes(8), 1, HashCrlEntry(bytes(9) + b"\1", 5))
    with pytest.raises(ValueError, match="hashed_id10"):
        HashCrlEntry(bytes(8), 5)
