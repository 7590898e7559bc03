"""The device lifecycle the RA enforces (protocol.md §6): states, allowed transitions, audit entries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import IllegalTransition

__all__ = ["AuditEntry", "DeviceState", "check_transition"]


class DeviceState(StrEnum):
    """Registered → Enrolled → Provisioning → Successor Enrolled, plus Blocked, Revoked and Deleted (terminal)."""

    REGISTERED = "Registered"
    ENROLLED = "Enrolled"
    PROVISIONING = "Provisioning"
    SUCCESSOR_ENROLLED = "SuccessorEnrolled"
    BLOCKED = "Blocked"
    REVOKED = "Revoked"
    DELETED = "Deleted"


_S = DeviceState
# protocol.md §6 "Rules": every other change is refused. Blocked → previous state is the unblock
# operation (the previous state is stored with the block); Revoked is terminal.
_ALLOWED: dict[DeviceState, frozenset[DeviceState]] = {
    _S.REGISTERED: frozenset({_S.ENROLLED, _S.BLOCKED, _S.REVOKED}),
    _S.ENROLLED: frozenset({_S.PROVISIONING, _S.SUCCESSOR_ENROLLED, _S.BLOCKED, _S.REVOKED}),
    _S.PROVISIONING: frozenset({_S.SUCCESSOR_ENROLLED, _S.BLOCKED, _S.REVOKED}),
    _S.SUCCESSOR_ENROLLED: frozenset({_S.PROVISIONING, _S.SUCCESSOR_ENROLLED, _S.BLOCKED, _S.REVOKED}),
    _S.BLOCKED: frozenset({_S.REGISTERED, _S.ENROLLED, _S.PROVISIONING, _S.SUCCESSOR_ENROLLED, _S.REVOKED}),
    _S.REVOKED: frozenset({_S.DELETED}),
    _S.DELETED: frozenset(),
}
# An operator may delete a device from any state; the record and its audit trail stay (no data loss).
for _state in _S:
    if _state is not _S.DELETED:
        _ALLOWED[_state] = _ALLOWED[_state] | {_S.DELETED}


def check_transition(current: DeviceState, target: DeviceState, *, unblocking: bool = False) -> None:
    """Raise ``IllegalTransition`` unless ``current`` → ``target`` is allowed.

    Leaving Blocked is allowed only as an unblock (``unblocking=True``), never as a side effect
    of another flow such as enrollment.
    """
    if current is DeviceState.BLOCKED and target not in (DeviceState.REVOKED, DeviceState.DELETED) and not unblocking:
        raise IllegalTransition(f"device is Blocked: {target.value} is refused until it is unblocked")
    if target not in _ALLOWED[current]:
        raise IllegalTransition(f"illegal lifecycle transition {current.value} → {target.value}")


@dataclass(frozen=True)
class AuditEntry:
    """One stored transition: when, from what, to what, why and who asked."""

    at: int  # Unix seconds (wall clock of the authority that made the change)
    previous: DeviceState | None
    state: DeviceState
    cause: str
    actor: str
