"""What the RA app needs, built once per process from Settings (tests pass their own)."""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scms_service import aws
from scms_service.auth import ApiKeyCheck, secrets_manager_digest
from scms_service.config import Settings
from scms_service.errors import BadRequest, Conflict, ScmsError, TransientStoreError
from scms_service.iperiod import IPeriods
from scms_service.lambda_invoke import invoke_task
from scms_service.lazy_hierarchy import LazyHierarchy
from scms_service.stores.artifacts import Artifacts, S3Artifacts
from scms_service.stores.auth_requests import AuthRequestStore, DynamoDbAuthRequestStore
from scms_service.stores.ca import DynamoDbCaStore
from scms_service.stores.devices import Device, DeviceStore, DynamoDeviceStore
from scms_service.stores.download_counters import DownloadCounterStore, DynamoDbDownloadCounterStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore
from scms_service.stores.successor_requests import DynamoDbSuccessorStore, SuccessorStore

from scms_codec.errors import ErrorCode

from .authorize import RaKeys
from .ca_certificate import CertificateLookup
from .provision_start import Starter, start_provisioning
from .successor import SuccessorIssuer

__all__ = [
    "MANAGEMENT_ACTOR",
    "EcaBusy",
    "EcaInvocationFailed",
    "EcaUnavailable",
    "InProcessEca",
    "LambdaEca",
    "LazyRaKeys",
    "Services",
    "from_settings",
    "step_functions_starter",
    "successor_issuer",
]

log = logging.getLogger(__name__)

# Who the audit trail names for management API changes (the API key has no per-operator identity).
MANAGEMENT_ACTOR = "management-api"


def _unix_now() -> int:
    return int(time.time())


class _Unwired:
    """A collaborator a test's ``Services`` did not provide: using it is a test bug, said plainly."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> object:
        raise AttributeError(f"Services.{self._name} not wired (.{attribute})")

    def __call__(self, *args: object, **kwargs: object) -> object:
        raise AttributeError(f"Services.{self._name} not wired")


def _unwired(name: str) -> Callable[[], object]:
    return lambda: _Unwired(name)


@dataclass
class Services:
    """The RA's collaborators; ``clock`` gives Unix seconds for audit entries.

    The authorization-certificate routes need the rest: ``auth_requests`` (RaTable REQ items),
    ``ra`` (the hierarchy as ``RaKeys``, loaded on first use), ``start_provisioning`` (StartExecution
    of one request hash), ``artifacts`` (batch zips), ``periods`` (the i-period schedule) and
    ``download_counters`` (download-maxReqs/minWait). The successor-enrollment routes need
    ``successors`` (RaTable SUCCESSOR# items) and ``successor_issuer`` (the port to the ECA).
    Tests of other routes may leave them out.
    """

    settings: Settings
    devices: DeviceStore
    check_api_key: Callable[[str | None], None]
    ca_certificates: CertificateLookup
    clock: Callable[[], int] = field(default=_unix_now)
    auth_requests: AuthRequestStore = field(default_factory=_unwired("auth_requests"))  # type: ignore[assignment]
    ra: RaKeys = field(default_factory=_unwired("ra"))  # type: ignore[assignment]
    start_provisioning: Starter = field(default_factory=_unwired("start_provisioning"))  # type: ignore[assignment]
    artifacts: Artifacts = field(default_factory=_unwired("artifacts"))  # type: ignore[assignment]
    periods: IPeriods | None = None
    download_counters: DownloadCounterStore = field(default_factory=_unwired("download_counters"))  # type: ignore[assignment]
    successors: SuccessorStore = field(default_factory=_unwired("successors"))  # type: ignore[assignment]
    successor_issuer: SuccessorIssuer = field(default_factory=_unwired("successor_issuer"))  # type: ignore[assignment]

    @property
    def schedule(self) -> IPeriods:
        """The i-period schedule (from Settings unless a test set ``periods``)."""
        return self.periods if self.periods is not None else IPeriods.from_settings(self.settings)


# The CA hierarchy as ``RaKeys``, loaded on first use (a request refused early reads no secret).
LazyRaKeys = LazyHierarchy


class InProcessEca:
    """``SuccessorIssuer``: the ECA's use case (``scms_eca.successor``) called in this process.

    For tests of the RA alone and a local run without ``Settings.eca_task_function``: this process
    then needs ``scms_eca``, EcaTable and the ECA key secret, which RaFunction has neither of on AWS
    (``LambdaEca`` is the deployed adapter; docs/architecture.md "Successor enrollment").
    """

    def __init__(self, settings: Settings, ca: LazyRaKeys) -> None:
        self._settings = settings
        self._ca = ca

    def __call__(self, inner_spdu: bytes, *, request_hash: bytes, device: Device, now: int) -> bytes:
        # Imported on use: the ECA's package is needed only by this route (and not by the other RA routes).
        from scms_eca.successor import issue_successor

        return issue_successor(
            inner_spdu, request_hash=request_hash, device=device, now=now, settings=self._settings,
            requests=DynamoDbEcaRequestStore.from_settings(self._settings), ca=self._ca,
        )  # fmt: skip


class EcaUnavailable(TransientStoreError):
    """The ECA task could not be reached or was throttled (503): the device sends the same bytes again."""


class EcaBusy(Conflict):
    """Another attempt holds the ECA's claim on this request (409, the ECA's ``RequestInProgress``)."""


class EcaInvocationFailed(ScmsError):
    """The ECA task failed or answered something that is not its contract (500: a bug or a misconfiguration)."""


# The task's own error names (``errorType``) that are not failures of the SCMS: Lambda's crashed or
# timed-out container (the local stack's crashed worker says the same), a busy store, a held claim.
_TASK_TRANSIENT = frozenset({"TransientStoreError", "Lambda.ServiceException", "Sandbox.Timedout"})
_TASK_IN_PROGRESS = "RequestInProgress"


class LambdaEca:
    """``SuccessorIssuer``: a synchronous ``lambda:InvokeFunction`` of the ECA's ``tasks.successor_task``.

    The deployed adapter: the ECA's key, EcaTable and policy stay in ``EcaTaskFunction``; this
    function's role may only invoke it. Payload ``{"request", "requestHash", "deviceId"}``, answer
    ``{"response"}`` or ``{"refusal"}`` (functions/eca/tasks.py). A refusal is ``BadRequest`` with
    the ECA's code; throttling, an unreachable or timed-out ECA and a busy ECA store are
    ``EcaUnavailable`` (503), a claim held by another attempt ``EcaBusy`` (409), any other function
    error or answer ``EcaInvocationFailed`` (500). Only the error's class name is kept, never the
    task's message.
    """

    def __init__(self, function_name: str, client: Any | None = None) -> None:
        self._function = function_name
        self._client = client

    def __call__(self, inner_spdu: bytes, *, request_hash: bytes, device: Device, now: int) -> bytes:
        if not self._function:
            raise EcaInvocationFailed("ECA task function not configured")
        payload = {
            "request": base64.b64encode(inner_spdu).decode("ascii"),
            "requestHash": request_hash.hex(),
            "deviceId": device.device_id,
        }
        answer = invoke_task(self._function, payload, client=self._client, callee="the ECA", retried="request",
                             unavailable=EcaUnavailable, failed=EcaInvocationFailed)  # fmt: skip
        if answer.error_type is not None:
            return _task_error(answer.error_type)
        return _answer(answer.body)


def _task_error(error_type: str) -> bytes:
    log.warning("ECA task raised %s", error_type or "an unnamed error")
    if error_type in _TASK_TRANSIENT:
        raise EcaUnavailable("the ECA is busy; send the same request again")
    if error_type == _TASK_IN_PROGRESS:
        raise EcaBusy("this request is being processed; retry later")
    raise EcaInvocationFailed(f"the ECA task failed ({error_type or 'unnamed error'})")


def _answer(body: Any) -> bytes:
    if isinstance(body, dict) and isinstance(body.get("response"), str):
        try:
            return base64.b64decode(body["response"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise EcaInvocationFailed("the ECA's response is not base64") from exc
    if isinstance(body, dict) and isinstance(body.get("refusal"), str):
        try:
            code = ErrorCode(body["refusal"])
        except ValueError as exc:
            raise EcaInvocationFailed("the ECA refused with an unknown code") from exc
        raise BadRequest("refused by the ECA", code=code)
    raise EcaInvocationFailed("the ECA's answer has neither response nor refusal")


def successor_issuer(settings: Settings, ca: LazyRaKeys) -> SuccessorIssuer:
    """``LambdaEca`` on ``Settings.eca_task_function`` (the template always sets it), else ``InProcessEca``."""
    if settings.eca_task_function:
        return LambdaEca(settings.eca_task_function)
    return InProcessEca(settings, ca)


def step_functions_starter(state_machine_arn: str, client: object | None = None) -> Starter:
    """StartExecution on ``state_machine_arn`` (the process's Step Functions client unless one is given)."""

    def start(request_hash: bytes) -> bool:
        return start_provisioning(client if client is not None else aws.client("stepfunctions"), state_machine_arn,
                                  request_hash)  # fmt: skip

    return start


class _LazyCaStore:
    """``DynamoDbCaStore`` created on first use, so the boto3 client is made lazily."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: DynamoDbCaStore | None = None

    def by_hashed_id8(self, hashed_id8: bytes) -> object:
        if self._store is None:
            self._store = DynamoDbCaStore.from_settings(self._settings)
        return self._store.by_hashed_id8(hashed_id8)


class _LazyArtifacts:
    """``S3Artifacts`` whose boto3 client is made on first use (inside the test's moto context)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def put(self, key: str, data: bytes) -> None:
        S3Artifacts.from_settings(self._settings).put(key, data)

    def get(self, key: str) -> bytes | None:
        return S3Artifacts.from_settings(self._settings).get(key)


def from_settings(settings: Settings) -> Services:
    """The production wiring: RaTable, CaTable, the API key digest, the hierarchy, S3 and Step Functions."""
    lookup: CertificateLookup = _LazyCaStore(settings)  # type: ignore[assignment]
    ra = LazyRaKeys(settings)
    return Services(
        settings=settings,
        devices=DynamoDeviceStore(settings.ra_table),
        check_api_key=ApiKeyCheck(secrets_manager_digest(settings.management_api_key_secret)),
        ca_certificates=lookup,
        auth_requests=DynamoDbAuthRequestStore.from_settings(settings),
        ra=ra,
        start_provisioning=step_functions_starter(settings.provision_state_machine),
        artifacts=_LazyArtifacts(settings),
        periods=IPeriods.from_settings(settings),
        download_counters=DynamoDbDownloadCounterStore.from_settings(settings),
        successors=DynamoDbSuccessorStore.from_settings(settings),
        successor_issuer=successor_issuer(settings, ra),
    )
