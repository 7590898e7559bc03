"""What the RA app needs, built once per process from Settings (tests pass their own)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scms_service.auth import ApiKeyCheck, secrets_manager_digest
from scms_service.config import Settings
from scms_service.stores.ca import DynamoDbCaStore
from scms_service.stores.devices import DeviceStore, DynamoDeviceStore

from .ca_certificate import CertificateLookup

__all__ = ["MANAGEMENT_ACTOR", "Services", "from_settings"]

# Who the audit trail names for management API changes (the API key has no per-operator identity).
MANAGEMENT_ACTOR = "management-api"


def _unix_now() -> int:
    return int(time.time())


@dataclass
class Services:
    """The RA's collaborators; ``clock`` gives Unix seconds for audit entries."""

    settings: Settings
    devices: DeviceStore
    check_api_key: Callable[[str | None], None]
    ca_certificates: CertificateLookup
    clock: Callable[[], int] = field(default=_unix_now)


class _LazyCaStore:
    """``DynamoDbCaStore`` created on first use, so the boto3 client is made lazily."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: DynamoDbCaStore | None = None

    def by_hashed_id8(self, hashed_id8: bytes) -> object:
        if self._store is None:
            self._store = DynamoDbCaStore.from_settings(self._settings)
        return self._store.by_hashed_id8(hashed_id8)


def from_settings(settings: Settings) -> Services:
    """The production wiring: RaTable, CaTable and the API key digest in Secrets Manager."""
    lookup: CertificateLookup = _LazyCaStore(settings)  # type: ignore[assignment]
    return Services(
        settings=settings,
        devices=DynamoDeviceStore(settings.ra_table),
        check_api_key=ApiKeyCheck(secrets_manager_digest(settings.management_api_key_secret)),
        ca_certificates=lookup,
    )
