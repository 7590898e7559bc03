"""Starting the provisioning state machine (scms_ra.provision_start): names, input, error mapping, ACCEPTED only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from scms_ra.provision_start import (
    ProvisioningBusy,
    ProvisioningNotStarted,
    execution_input,
    execution_name,
    start_if_accepted,
    start_provisioning,
)
from scms_service.errors import TransientStoreError
from scms_service.stores.auth_requests import RequestStatus

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:scms-provision"
RH = bytes.fromhex("ab09281c9867de53")


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "from the service"}}, "StartExecution")


@dataclass
class Sfn:
    """A Step Functions client that records calls and raises ``error`` when set."""

    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def start_execution(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        if kwargs["name"] in self.names:
            raise _client_error("ExecutionAlreadyExists")
        self.names.add(kwargs["name"])
        return {"executionArn": f"{ARN}:{kwargs['name']}"}


def test_execution_is_named_by_the_request_hash_with_the_hash_as_input() -> None:
    sfn = Sfn()
    assert start_provisioning(sfn, ARN, RH) is True
    (call,) = sfn.calls
    assert call == {"stateMachineArn": ARN, "name": "ab09281c9867de53", "input": '{"requestHash": "ab09281c9867de53"}'}
    assert execution_name(RH) == RH.hex() and json.loads(execution_input(RH)) == {"requestHash": RH.hex()}


def test_an_existing_execution_counts_as_started() -> None:
    sfn = Sfn()
    assert start_provisioning(sfn, ARN, RH) is True
    assert start_provisioning(sfn, ARN, RH) is False
    # Twin: another hash is a new execution.
    assert start_provisioning(sfn, ARN, bytes(8)) is True


@pytest.mark.parametrize("code", ["ThrottlingException", "ServiceUnavailableException", "InternalFailure"])
def test_throttling_and_service_failures_are_retryable_503(code: str) -> None:
    with pytest.raises(ProvisioningBusy) as info:
        start_provisioning(Sfn(error=_client_error(code)), ARN, RH)
    assert isinstance(info.value, TransientStoreError) and info.value.status == 503
    assert "from the service" not in info.value.message  # the AWS text stays in the cause (the log)


def test_an_unreachable_endpoint_is_retryable() -> None:
    with pytest.raises(ProvisioningBusy):
        start_provisioning(Sfn(error=EndpointConnectionError(endpoint_url="https://states")), ARN, RH)


@pytest.mark.parametrize("code", ["StateMachineDoesNotExist", "InvalidArn", "AccessDeniedException"])
def test_other_failures_are_500_not_retried(code: str) -> None:
    with pytest.raises(ProvisioningNotStarted) as info:
        start_provisioning(Sfn(error=_client_error(code)), ARN, RH)
    assert info.value.status == 500 and not isinstance(info.value, TransientStoreError)


def test_no_state_machine_configured_is_500_without_a_call() -> None:
    sfn = Sfn()
    with pytest.raises(ProvisioningNotStarted):
        start_provisioning(sfn, "", RH)
    assert sfn.calls == []


@dataclass(frozen=True)
class Record:
    status: RequestStatus


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (RequestStatus.ACCEPTED, [RH]),
        (RequestStatus.GENERATING, []),
        (RequestStatus.DONE, []),
        (RequestStatus.FAILED, []),
    ],
)
def test_only_an_accepted_record_is_started(status: RequestStatus, expected: list[bytes]) -> None:
    starts: list[bytes] = []

    def start(h: bytes) -> bool:
        starts.append(h)
        return True

    class Lookup:
        def get(self, request_hash: bytes) -> Record | None:
            return Record(status) if request_hash == RH else None

    assert start_if_accepted(Lookup(), RH, start) is bool(expected)
    assert starts == expected
    # No record (a refused request deleted again): nothing to start.
    assert start_if_accepted(Lookup(), bytes(8), start) is False
    assert starts == expected
