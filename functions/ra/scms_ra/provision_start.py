"""Start the provisioning state machine for an accepted authorization request (docs/architecture.md
"Provisioning pipeline", Start; issue #5 §2).

One execution per request: its name is the request hash (16 hex digits), its input
``{"requestHash": "<hex>"}``. Step Functions refuses a second execution of the same name
(``ExecutionAlreadyExists``), which counts as started, so a replay or a concurrent copy of the same
request never starts a second batch. The route starts while the stored record is ``ACCEPTED``: the
first time, and on a replay after a crash or a failed start (the plan task moves it on).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from scms_service.errors import ScmsError, TransientStoreError
from scms_service.stores.auth_requests import RequestStatus
from scms_service.stores.aws_errors import error_code, is_transient

__all__ = [
    "ProvisioningBusy",
    "ProvisioningNotStarted",
    "RecordLookup",
    "Starter",
    "execution_input",
    "execution_name",
    "start_if_accepted",
    "start_provisioning",
]

log = logging.getLogger(__name__)

# Step Functions' own retryable answers, beside the shared throttling/service codes.
_SFN_TRANSIENT = frozenset({"InternalFailure", "ServiceUnavailableException", "ServiceQuotaExceededException"})


class ProvisioningBusy(TransientStoreError):
    """StartExecution was throttled or unreachable (503): the device's retry of the same bytes starts it."""


class ProvisioningNotStarted(ScmsError):
    """StartExecution failed for a reason retrying will not fix (no or a wrong state machine ARN): 500."""


class _Status(Protocol):
    @property
    def status(self) -> RequestStatus: ...


class RecordLookup(Protocol):
    """Stored authorization requests by hash (``stores.auth_requests.AuthRequestStore`` fits)."""

    def get(self, request_hash: bytes) -> Any: ...


Starter = Callable[[bytes], bool]
"""Starts the execution of one request hash; True if this call started it, False if it existed."""


def execution_name(request_hash: bytes) -> str:
    """The execution's name: the request hash as 16 lower-case hex digits."""
    return request_hash.hex()


def execution_input(request_hash: bytes) -> str:
    """The execution's input document."""
    return json.dumps({"requestHash": request_hash.hex()})


def start_provisioning(sfn_client: Any, state_machine_arn: str, request_hash: bytes) -> bool:
    """StartExecution for ``request_hash``; True when started now, False when it existed already."""
    if not state_machine_arn:
        raise ProvisioningNotStarted("provisioning state machine not configured")
    try:
        sfn_client.start_execution(
            stateMachineArn=state_machine_arn,
            name=execution_name(request_hash),
            input=execution_input(request_hash),
        )
    except ClientError as exc:
        code = error_code(exc)
        if code == "ExecutionAlreadyExists":
            return False
        if is_transient(exc) or code in _SFN_TRANSIENT:
            raise ProvisioningBusy("provisioning could not start yet; send the same request again") from exc
        raise ProvisioningNotStarted("provisioning could not start") from exc
    except (ConnectionError, HTTPClientError) as exc:
        # The call may or may not have reached Step Functions; the retry is safe (same name).
        raise ProvisioningBusy("provisioning could not start yet; send the same request again") from exc
    return True


def start_if_accepted(requests: RecordLookup, request_hash: bytes, start: Starter) -> bool:
    """Start the request's execution while its record is ``ACCEPTED``; True when this call started it."""
    record: _Status | None = requests.get(request_hash)
    if record is None or record.status is not RequestStatus.ACCEPTED:
        # Gone (refused and deleted) or already taken up by the state machine's plan task.
        return False
    started = start(request_hash)
    log.info("provisioning started" if started else "provisioning already started")
    return started
