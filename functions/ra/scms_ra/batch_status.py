"""The request's status through its batch: ``plan`` (→ GENERATING), ``finish`` (complete?), ``done``, ``fail``.

architecture.md "Provisioning pipeline": ``ACCEPTED → GENERATING → DONE``, either of the first two
``→ FAILED`` with a short reason the device can read (the error name and the first line of its
message, never a secret). Every transition is a conditional write (``set_status``), so a retried
task repeats it harmlessly and a late one cannot undo another's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from scms_service.config import Settings
from scms_service.errors import Conflict
from scms_service.stores.auth_requests import AuthRequestStore, RequestNotFound, RequestRecord, RequestStatus
from scms_service.stores.issued_certs import IssuedCertStore

__all__ = [
    "MAX_REASON",
    "PlanLike",
    "Planned",
    "ProvisioningStalled",
    "RequestNotProvisionable",
    "done",
    "fail",
    "failure_reason",
    "finish",
    "plan",
]

MAX_REASON = 200


class ProvisioningStalled(RuntimeError):
    """The batch is still incomplete after ``provision_max_rounds`` drain rounds (an ASL error name)."""


class RequestNotProvisionable(Conflict):
    """The request failed already: a new batch is not started for it (an ASL error name)."""


class PlanLike(Protocol):
    """What ``scms_ra.plan.Plan`` gives: the chunks, j count, whether LAs are asked, and the lanes."""

    @property
    def chunks(self) -> tuple[tuple[int, int], ...]: ...

    @property
    def j_max(self) -> int: ...

    @property
    def linkage(self) -> bool: ...

    @property
    def lanes(self) -> int: ...


Planner = Callable[[RequestRecord, Settings], PlanLike]


@dataclass(frozen=True)
class Planned:
    """The plan of a request, or ``done`` when it was provisioned already."""

    record: RequestRecord
    plan: PlanLike | None

    @property
    def done(self) -> bool:
        return self.plan is None


def _record(requests: AuthRequestStore, request_hash: bytes) -> RequestRecord:
    record = requests.get(request_hash)
    if record is None:
        raise RequestNotFound("no such authorization request")
    return record


def plan(
    requests: AuthRequestStore,
    request_hash: bytes,
    *,
    settings: Settings,
    now: int,
    planner: Planner,
    revoked: Callable[[str], bool] = lambda _device_id: False,
) -> Planned:
    """ACCEPTED (or GENERATING, a retry) → GENERATING and the request's chunks; DONE → nothing to do.

    A request still ACCEPTED whose device has been revoked since (``revoked(device_id)``) is not
    provisioned (issue #6 §1: revocation blocks further provisioning); the ASL's Catch marks it FAILED.
    A revocation racing this check is harmless: a Revoked device's downloads are refused (400-20).
    """
    record = _record(requests, request_hash)
    if record.status is RequestStatus.DONE:
        return Planned(record, None)
    if record.status is RequestStatus.FAILED:
        raise RequestNotProvisionable("the request failed; it is not provisioned again")
    if record.status is RequestStatus.ACCEPTED and revoked(record.device_id):
        raise RequestNotProvisionable("the device was revoked after the request was accepted")
    record = requests.set_status(
        request_hash, RequestStatus.GENERATING,
        allowed_from=(RequestStatus.ACCEPTED, RequestStatus.GENERATING), now=now,
    )  # fmt: skip
    return Planned(record, planner(record, settings))


@dataclass(frozen=True)
class Progress:
    """After a drain round: whether every (i, j) has its certificate or refusal, and the next round's number."""

    complete: bool
    round: int
    missing: int


def finish(
    requests: AuthRequestStore, issued: IssuedCertStore, request_hash: bytes, *, round: int, settings: Settings
) -> Progress:
    """Is every (i, j) of the request delivered? ``ProvisioningStalled`` once ``provision_max_rounds`` pass."""
    record = _record(requests, request_hash)
    expected = (record.last_i - record.first_i + 1) * record.certs_per_period
    # Only (i, j) of the record are ever stored (expand makes no other), so a count decides.
    missing = max(0, expected - issued.count(request_hash, record.first_i, record.last_i))
    if missing and round + 1 >= settings.provision_max_rounds:
        raise ProvisioningStalled(f"{missing} of {expected} certificates missing after {round + 1} rounds")
    return Progress(missing == 0, round + 1, missing)


def done(requests: AuthRequestStore, request_hash: bytes, *, now: int) -> RequestRecord:
    """GENERATING → DONE (DONE again for a retried task)."""
    return requests.set_status(
        request_hash, RequestStatus.DONE, allowed_from=(RequestStatus.GENERATING, RequestStatus.DONE), now=now
    )


def failure_reason(error: Any) -> str:
    """``<Error>: <first line of the cause's message>``, at most ``MAX_REASON`` characters.

    ``error`` is the ASL Catch's ``{"Error", "Cause"}``; a Lambda's Cause is JSON with an
    ``errorMessage``. Our exceptions' messages carry no secret (style.md 15); the stack trace is dropped.
    """
    name = str(error.get("Error", "") if isinstance(error, dict) else "") or "Error"
    cause = error.get("Cause", "") if isinstance(error, dict) else ""
    message = cause if isinstance(cause, str) else ""
    try:
        parsed = json.loads(message) if message.startswith("{") else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        message = str(parsed.get("errorMessage", ""))
    lines = message.strip().splitlines()
    first = lines[0].strip() if lines else ""
    reason = f"{name}: {first}" if first else name
    return reason[:MAX_REASON]


def fail(requests: AuthRequestStore, request_hash: bytes, error: Any, *, now: int) -> RequestRecord:
    """ACCEPTED or GENERATING (or FAILED, a retry) → FAILED with the short reason of ``error``."""
    return requests.set_status(
        request_hash,
        RequestStatus.FAILED,
        allowed_from=(RequestStatus.ACCEPTED, RequestStatus.GENERATING, RequestStatus.FAILED),
        reason=failure_reason(error),
        now=now,
    )
