"""The in-memory DeviceStore fulfils the DeviceStore contract."""

from __future__ import annotations

import pytest
from scms_service.errors import BadRequest
from scms_service.stores.devices import DeviceStore, DynamoDeviceStore, InMemoryDeviceStore

from tests.unit.ra.device_store_contract import DeviceStoreContract


class TestInMemoryDeviceStore(DeviceStoreContract):
    @pytest.fixture
    def store(self) -> DeviceStore:
        return InMemoryDeviceStore()


def test_list_rejects_forged_token() -> None:
    with pytest.raises(BadRequest, match="next"):
        InMemoryDeviceStore().list(5, "%%%not-a-token")


def test_list_rejects_limit_out_of_range() -> None:
    with pytest.raises(BadRequest, match="limit"):
        InMemoryDeviceStore().list(0)


class _NoCalls:
    """A DynamoDB client standing in for one that refuses the key: any call is a test failure."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"DynamoDB {name} called")


@pytest.mark.parametrize("canonical_id", ["x" * 3000, "", "has space", "tab\there", "é"])
def test_dynamo_lookup_of_a_canonical_id_no_device_can_have_asks_nothing(canonical_id: str) -> None:
    # An EeEcaCertRequest's canonicalId is an unbounded IA5String; over 2 KB the key made real
    # DynamoDB answer ValidationException, so an unregistered device got a 500, not 400-21.
    assert DynamoDeviceStore("scms-ra", client=_NoCalls()).get_by_canonical_id(canonical_id) is None


def test_dynamo_lookup_of_a_registrable_canonical_id_asks_the_table() -> None:
    # Twin: a canonical id the RA accepts at registration (1..128 printable ASCII) is looked up.
    with pytest.raises(AssertionError, match="get_item"):
        DynamoDeviceStore("scms-ra", client=_NoCalls()).get_by_canonical_id("x" * 128)
