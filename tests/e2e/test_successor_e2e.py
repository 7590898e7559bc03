"""End to end: successor enrollment twice in a row with the real ``scms-ee`` against ``scms serve`` (issue #6 §3, §5).

The RA reaches the ECA as on AWS: a Lambda invoke of ``EcaTaskFunction`` (moto Lambda, the real
``tasks.successor_task`` run by the local stack), so the stack's log holds the task's line.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import RunningStack
from tests.e2e.ee_helpers import Stack, manage, scms_ee
from tests.e2e.test_enroll_e2e import registered_device, stack  # noqa: F401

TASK_LINE = '"location":"successor_task:'


def enrolled(stack: Stack, state: Path, device_id: str) -> None:  # noqa: F811
    registered_device(stack, state, device_id)
    for step in (("enroll",), ("fetch-chain",)):
        run = scms_ee(stack, state, *step)
        assert run.code == 0, run.err


def test_successor_enrollment_twice_in_a_row_through_the_eca_task(
    stack: Stack,  # noqa: F811
    local_stack: RunningStack,
    tmp_path: Path,
) -> None:
    # Given an enrolled device
    state = tmp_path / "obu-succ"
    enrolled(stack, state, "e2e-succ")
    first = manage(stack, "GET", "/manage/v1/devices/e2e-succ")["enrollments"][0]["cert_id"]
    # When it successor-enrolls twice
    for _ in range(2):
        run = scms_ee(stack, state, "successor-enroll")
        assert run.code == 0, run.err
        assert "successor enrolled:" in run.out
    # Then the RA holds three certificates, the device's state file the newest, and the ECA task answered twice
    device = manage(stack, "GET", "/manage/v1/devices/e2e-succ")
    certs = [e["cert_id"] for e in device["enrollments"]]
    assert device["state"] == "SuccessorEnrolled" and len(certs) == 3 and certs[0] == first
    assert certs[-1] in json.dumps(json.loads((state / "state.json").read_text(encoding="utf-8")))
    assert sum(TASK_LINE in line for line in local_stack.lines) >= 2


def test_successor_enrollment_of_a_blocked_device_is_refused_400_20(stack: Stack, tmp_path: Path) -> None:  # noqa: F811
    # Given an enrolled device, blocked by the operator
    state = tmp_path / "obu-succ-blocked"
    enrolled(stack, state, "e2e-succ-blocked")
    manage(stack, "POST", "/manage/v1/devices/e2e-succ-blocked/block", {"cause": "e2e test"})
    # When it asks for a successor, then the RA refuses and nothing changes
    run = scms_ee(stack, state, "successor-enroll")
    assert run.code == 1
    assert "Ieee-1609.2.1-Error: 400-20" in run.err
    device = manage(stack, "GET", "/manage/v1/devices/e2e-succ-blocked")
    assert device["state"] == "Blocked" and len(device["enrollments"]) == 1
