"""Read one device with its audit trail, or a page of devices."""

from __future__ import annotations

import re

from scms_service.errors import BadRequest, NotFound
from scms_service.lifecycle import AuditEntry
from scms_service.stores.devices import Device, DeviceStore

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "list_devices", "show"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_LIMIT = re.compile(r"[0-9]{1,6}")


def show(store: DeviceStore, device_id: str) -> tuple[Device, list[AuditEntry]]:
    """The device and its audit trail; ``NotFound`` if it was never registered."""
    device = store.get(device_id)
    if device is None:
        raise NotFound(f"device {device_id} is not registered")
    return device, store.audit(device_id)


def list_devices(store: DeviceStore, limit: str | None, next_token: str | None) -> tuple[list[Device], str | None]:
    """A page of devices; ``limit`` as the query string gives it (default 100, at most 1000)."""
    if limit is None:
        count = DEFAULT_LIMIT
    elif _LIMIT.fullmatch(limit) and 1 <= int(limit) <= MAX_LIMIT:
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
        count = int(limit)
    else:
        raise BadRequest(f"limit: expected an integer 1..{MAX_LIMIT}")
    return store.list(count, next_token or None)
