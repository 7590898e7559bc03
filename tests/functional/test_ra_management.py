"""RA management: the DynamoDB DeviceStore under moto (conditions really run) and the management API."""

from __future__ import annotations

import pytest
from scms_service.config import Settings
from scms_service.stores.devices import DeviceStore, DynamoDeviceStore

from tests.unit.ra.device_store_contract import DeviceStoreContract


class TestDynamoDeviceStore(DeviceStoreContract):
    @pytest.fixture
    def store(self, aws_settings: Settings) -> DeviceStore:
        return DynamoDeviceStore(aws_settings.ra_table)
