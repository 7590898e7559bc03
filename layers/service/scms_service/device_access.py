"""The device-facing refusal of a device by its lifecycle state (protocol.md §6, Table 8 400-20/400-21).

Apart from ``lifecycle`` (states and transitions, which every store and the MA use) so that only the
functions that answer devices (RA, ECA) reach these codes.
"""

from __future__ import annotations

from scms_codec.errors import ErrorCode

from .errors import BadRequest
from .lifecycle import DeviceState

__all__ = ["check_serves_device"]


def check_serves_device(state: DeviceState | None) -> None:
    """Refuse a device-facing request of a device in ``state`` (None: no such device), protocol.md §6.

    400-21 (``BadRequest``, ``ENROLLMENT_CERT_UNREGISTERED``) when the device is unknown or Deleted,
    400-20 (``ENROLLMENT_CERT_BLOCKED``) when it is Blocked or Revoked; any other state passes.
    """
    if state is None or state is DeviceState.DELETED:
        raise BadRequest("enrollment certificate is not registered", code=ErrorCode.ENROLLMENT_CERT_UNREGISTERED)
    if state in (DeviceState.BLOCKED, DeviceState.REVOKED):
        raise BadRequest("enrollment certificate is blocked", code=ErrorCode.ENROLLMENT_CERT_BLOCKED)
