"""The in-memory AcaResponseStore keeps the DynamoDB adapter's contract (first answer wins)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from scms_service.stores.aca_responses import AcaResponseStore, FakeAcaResponseStore

from tests.unit.aca.response_store_contract import CONTRACT, H1


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_fake_store_keeps_the_contract(check: Callable[[AcaResponseStore], None]) -> None:
    check(FakeAcaResponseStore())


def test_fake_store_keeps_the_first_expiry_too() -> None:
    store = FakeAcaResponseStore()
    store.put_many({H1: b"a"}, expires_at=10)
    store.put_many({H1: b"b"}, expires_at=99)
    assert store.items[H1] == (b"a", 10)


def test_a_store_that_overwrote_would_break_the_contract() -> None:
    # Twin: a store that lets the last write win fails first_answer_wins.
    class Overwriting(FakeAcaResponseStore):
        def put_many(self, responses: dict[bytes, bytes], *, expires_at: int) -> dict[bytes, bytes]:  # type: ignore[override]
            self.items.update({h: (r, expires_at) for h, r in responses.items()})
            return dict(responses)

    with pytest.raises(AssertionError):
        CONTRACT[0](Overwriting())
