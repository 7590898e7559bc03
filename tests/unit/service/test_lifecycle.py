"""The RA's device lifecycle (protocol.md §6): allowed transitions pass, every other one is refused."""

from __future__ import annotations

import itertools

import pytest
from scms_service.device_access import check_serves_device
from scms_service.errors import BadRequest, IllegalTransition
from scms_service.lifecycle import DeviceState, check_transition

from scms_codec.errors import ErrorCode

S = DeviceState
ALLOWED = (
    {
        (S.REGISTERED, S.ENROLLED),
        (S.ENROLLED, S.PROVISIONING),
        (S.ENROLLED, S.SUCCESSOR_ENROLLED),
        (S.PROVISIONING, S.SUCCESSOR_ENROLLED),
        (S.SUCCESSOR_ENROLLED, S.SUCCESSOR_ENROLLED),
        (S.SUCCESSOR_ENROLLED, S.PROVISIONING),
        (S.REVOKED, S.DELETED),
    }
    | {(s, S.BLOCKED) for s in (S.REGISTERED, S.ENROLLED, S.PROVISIONING, S.SUCCESSOR_ENROLLED)}
    | {(s, S.REVOKED) for s in S if s not in (S.REVOKED, S.DELETED)}
    | {(s, S.DELETED) for s in S if s is not S.DELETED}
)


@pytest.mark.parametrize(("current", "target"), sorted(itertools.product(S, S)))
def test_transition_is_allowed_exactly_as_protocol_section_6_says(current: DeviceState, target: DeviceState) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


@pytest.mark.parametrize("previous", [S.REGISTERED, S.ENROLLED, S.PROVISIONING, S.SUCCESSOR_ENROLLED])
def test_unblock_returns_to_the_previous_state_only_as_an_unblock(previous: DeviceState) -> None:
    check_transition(S.BLOCKED, previous, unblocking=True)
    with pytest.raises(IllegalTransition):
        check_transition(S.BLOCKED, previous)


def test_revoked_and_deleted_are_terminal() -> None:
    with pytest.raises(IllegalTransition):
        check_transition(S.DELETED, S.REGISTERED, unblocking=True)
    with pytest.raises(IllegalTransition):
        check_transition(S.REVOKED, S.ENROLLED, unblocking=True)


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (None, ErrorCode.ENROLLMENT_CERT_UNREGISTERED),
        (S.DELETED, ErrorCode.ENROLLMENT_CERT_UNREGISTERED),
        (S.BLOCKED, ErrorCode.ENROLLMENT_CERT_BLOCKED),
        (S.REVOKED, ErrorCode.ENROLLMENT_CERT_BLOCKED),
    ],
)
def test_a_device_request_is_refused_for_an_unknown_deleted_blocked_or_revoked_device(
    state: DeviceState | None, code: ErrorCode
) -> None:
    with pytest.raises(BadRequest) as info:
        check_serves_device(state)
    assert info.value.code is code


@pytest.mark.parametrize("state", [S.REGISTERED, S.ENROLLED, S.PROVISIONING, S.SUCCESSOR_ENROLLED])
def test_a_device_request_passes_in_every_other_state(state: DeviceState) -> None:
    check_serves_device(state)  # twin of the refusals: no exception
