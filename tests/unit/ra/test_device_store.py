"""The in-memory DeviceStore fulfils the DeviceStore contract."""

from __future__ import annotations

import pytest
from scms_service.errors import BadRequest
from scms_service.stores.devices import DeviceStore, InMemoryDeviceStore

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
