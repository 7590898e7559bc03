"""The JSON shape of a device in management API answers (and the CLI's input)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scms_service.lifecycle import AuditEntry
from scms_service.stores.devices import Device

__all__ = ["audit_json", "device_json"]


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """One audit entry: Unix time, previous state (None at registration), new state, cause, actor."""
    return {
        "at": entry.at,
        "previous": entry.previous.value if entry.previous is not None else None,
        "state": entry.state.value,
        "cause": entry.cause,
        "actor": entry.actor,
    }


def device_json(device: Device, audit: Sequence[AuditEntry] | None = None) -> dict[str, Any]:
    """The device as JSON; with ``audit``, its audit trail under ``"audit"``."""
    out: dict[str, Any] = {
        "device_id": device.device_id,
        "canonical_id": device.canonical_id,
        "canonical_public_key": device.canonical_key.hex(),
        "state": device.state.value,
        "previous_state": device.previous_state.value if device.previous_state is not None else None,
        "permissions": [
            {"psid": p.psid, **({"ssp": p.ssp.hex()} if p.ssp is not None else {})} for p in device.permissions
        ],
        "region": dict(device.region) if device.region is not None else None,
        "policy": dict(device.policy),
        "enrollments": [
            {"cert_id": e.cert_id, "valid_from": e.valid_from, "valid_until": e.valid_until, "eca_id": e.eca_id}
            for e in device.enrollments
        ],
        "version": device.version,
        "created_at": device.created_at,
        "updated_at": device.updated_at,
    }
    if audit is not None:
        out["audit"] = [audit_json(a) for a in audit]
    return out
