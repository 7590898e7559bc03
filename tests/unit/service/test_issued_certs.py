"""The delivered-certificate store: its contract (the fake here, the DynamoDB adapter on moto in tests/functional)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from scms_service.errors import TransientStoreError
from scms_service.stores.issued_certs import DynamoDbIssuedCertStore, FakeIssuedCertStore, IssuedCert, IssuedCertError

RH = bytes.fromhex("0011223344556677")
OTHER = bytes.fromhex("8899aabbccddeeff")


def cert(i: int, j: int, *, request: bytes = RH, spdu: bytes | None = None, refusal: str | None = None) -> IssuedCert:
    if spdu is None and refusal is None:
        spdu = bytes([i % 256, j % 256]) * 4
    return IssuedCert(request, i, j, f"{i:08x}{j:08x}", 1_900_000_000 + i, spdu=spdu, refusal=refusal)


# --------------------------------------------------------------------------------------------
# Contract


def certificates_and_refusals_read_back_by_range(store: Any) -> None:
    store.put_many([cert(4, 0), cert(4, 1, refusal="400-35"), cert(5, 0), cert(6, 2), cert(5, 0, request=OTHER)])
    assert store.list(RH, 4, 5) == [cert(4, 0), cert(4, 1, refusal="400-35"), cert(5, 0)]
    assert store.delivered(RH, 5, 6) == {(5, 0), (6, 2)}
    assert store.delivered(OTHER, 0, 99) == {(5, 0)}
    assert store.list(RH, 7, 9) == [] and store.delivered(RH, 6, 5) == set()
    counts = (store.count(RH, 4, 6), store.count(RH, 5, 5), store.count(OTHER, 0, 99), store.count(RH, 7, 9))
    assert counts == (4, 1, 1, 0)


def a_repeated_delivery_replaces_the_same_item(store: Any) -> None:
    store.put_many([cert(1, 1)])
    store.put_many([cert(1, 1), cert(1, 1)])
    assert store.list(RH, 0, 10) == [cert(1, 1)]


def j_and_i_order_numerically(store: Any) -> None:
    store.put_many([cert(10, 2), cert(9, 11), cert(10, 10), cert(9, 100)])
    assert [(c.i, c.j) for c in store.list(RH, 9, 10)] == [(9, 11), (9, 100), (10, 2), (10, 10)]


def many_items_cross_the_batch_limit(store: Any) -> None:
    certs = [cert(i, j) for i in range(3) for j in range(40)]  # 120 items: five BatchWriteItem calls
    store.put_many(certs)
    assert store.list(RH, 0, 2) == certs
    assert store.delivered(RH, 1, 1) == {(1, j) for j in range(40)}
    assert store.count(RH, 0, 2) == 120


CONTRACT: tuple[Callable[[Any], None], ...] = (
    certificates_and_refusals_read_back_by_range,
    a_repeated_delivery_replaces_the_same_item,
    j_and_i_order_numerically,
    many_items_cross_the_batch_limit,
)


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_fake_store_keeps_the_contract(check: Callable[[Any], None]) -> None:
    check(FakeIssuedCertStore())


def test_a_store_that_ignored_the_request_would_break_the_contract() -> None:
    # Twin: a store that mixes requests fails the range check.
    class Mixing(FakeIssuedCertStore):
        def delivered(self, request_hash: bytes, i_first: int, i_last: int) -> set[tuple[int, int]]:
            return {(i, j) for (_, i, j) in self.items if i_first <= i <= i_last}

    with pytest.raises(AssertionError):
        certificates_and_refusals_read_back_by_range(Mixing())


def test_an_item_holds_exactly_one_of_certificate_and_refusal() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        IssuedCert(RH, 1, 1, "00" * 8, 0)
    with pytest.raises(ValueError, match="exactly one"):
        IssuedCert(RH, 1, 1, "00" * 8, 0, spdu=b"x", refusal="400-35")
    with pytest.raises(ValueError, match="range"):
        IssuedCert(RH, 1, 1000, "00" * 8, 0, spdu=b"x")
    assert IssuedCert(RH, 99_999, 999, "00" * 8, 0, refusal="400-35").refusal == "400-35"


def test_the_response_stays_out_of_the_repr() -> None:
    assert "abab" not in repr(cert(1, 1, spdu=b"\xab" * 20)) and "\\xab" not in repr(cert(1, 1, spdu=b"\xab" * 20))


class _Failing:
    def __init__(self, code: str) -> None:
        self.code = code

    def batch_write_item(self, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": self.code}}, "BatchWriteItem")

    def query(self, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": self.code}}, "Query")


def test_throttling_is_transient_and_other_failures_are_store_errors() -> None:
    with pytest.raises(TransientStoreError):
        DynamoDbIssuedCertStore("t", _Failing("ThrottlingException")).put_many([cert(1, 1)])
    with pytest.raises(TransientStoreError):
        DynamoDbIssuedCertStore("t", _Failing("ThrottlingException")).list(RH, 0, 1)
    with pytest.raises(IssuedCertError):
        DynamoDbIssuedCertStore("t", _Failing("ValidationException")).delivered(RH, 0, 1)
