"""Operator lifecycle changes: block, unblock, delete (protocol.md §6), each audited with its cause."""

from __future__ import annotations

from dataclasses import dataclass

from scms_service.errors import BadRequest, IllegalTransition, NotFound
from scms_service.json_body import json_object
from scms_service.lifecycle import DeviceState
from scms_service.stores.devices import Device, DeviceStore

__all__ = ["Change", "block", "delete", "parse_change", "unblock"]

_MAX_CAUSE = 256


@dataclass(frozen=True)
class Change:
    """Why the operator asks for a change, and optionally the version they saw (optimistic concurrency)."""

    cause: str
    version: int | None = None


def parse_change(body: bytes, *, default_cause: str | None = None) -> Change:
    """``{"cause": str, "version"?: int}``; the cause is required unless ``default_cause`` is given."""
    doc = json_object(body) if body.strip() else {}
    unknown = set(doc) - {"cause", "version"}
    if unknown:
        raise BadRequest(f"{sorted(unknown)[0]}: unknown field")
    cause = doc.get("cause", default_cause)
    if not isinstance(cause, str) or not 1 <= len(cause) <= _MAX_CAUSE:
        raise BadRequest(f"cause: expected a string of 1..{_MAX_CAUSE} characters")
    version = doc.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise BadRequest("version: expected a positive integer")
    return Change(cause, version)


def _current(store: DeviceStore, device_id: str) -> Device:
    device = store.get(device_id)
    if device is None:
        raise NotFound(f"device {device_id} is not registered")
    return device


def block(store: DeviceStore, device_id: str, change: Change, *, actor: str, now_unix: int) -> Device:
    """Block the device, remembering the state it leaves (unblock returns to it)."""
    device = _current(store, device_id)
    return store.transition(
        device_id,
        DeviceState.BLOCKED,
        expected=device.state,
        cause=change.cause,
        actor=actor,
        now_unix=now_unix,
        expected_version=change.version,
    )


def unblock(store: DeviceStore, device_id: str, change: Change, *, actor: str, now_unix: int) -> Device:
    """Return a Blocked device to the state it had before it was blocked."""
    device = _current(store, device_id)
    if device.state is not DeviceState.BLOCKED or device.previous_state is None:
        raise IllegalTransition(f"device {device_id} is {device.state.value}, not Blocked")
    return store.transition(
        device_id,
        device.previous_state,
        expected=DeviceState.BLOCKED,
        cause=change.cause,
        actor=actor,
        now_unix=now_unix,
        unblocking=True,
        expected_version=change.version,
    )


def delete(store: DeviceStore, device_id: str, change: Change, *, actor: str, now_unix: int) -> Device:
    """Mark the device Deleted; its record, canonical id and audit trail are kept."""
    device = _current(store, device_id)
    return store.transition(
        device_id,
        DeviceState.DELETED,
        expected=device.state,
        cause=change.cause,
        actor=actor,
        now_unix=now_unix,
        expected_version=change.version,
    )
