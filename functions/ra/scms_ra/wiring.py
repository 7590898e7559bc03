"""What the RA app needs, built once per process from Settings (tests pass their own)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec
from scms_service import aws
from scms_service.auth import ApiKeyCheck, secrets_manager_digest
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy
from scms_service.iperiod import IPeriods
from scms_service.stores.artifacts import Artifacts, S3Artifacts
from scms_service.stores.auth_requests import AuthRequestStore, DynamoDbAuthRequestStore
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.devices import Device, DeviceStore, DynamoDeviceStore
from scms_service.stores.download_counters import DownloadCounterStore, DynamoDbDownloadCounterStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore
from scms_service.stores.successor_requests import DynamoDbSuccessorStore, SuccessorStore

from scms_codec.cert.certificate import Certificate
from scms_codec.secured.signer import Signer

from .authorize import RaKeys
from .ca_certificate import CertificateLookup
from .provision_start import Starter, start_provisioning
from .successor import SuccessorIssuer

__all__ = ["MANAGEMENT_ACTOR", "InProcessEca", "LazyRaKeys", "Services", "from_settings", "step_functions_starter"]

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


class LazyRaKeys:
    """The CA hierarchy as ``RaKeys``, loaded on first use (a request refused early reads no secret)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @functools.cached_property
    def _hierarchy(self) -> Hierarchy:
        s = self._settings
        return Hierarchy.load(DynamoDbCaStore.from_settings(s), SecretsManagerKeyVault.from_settings(s))

    def signer(self, role: str) -> Signer:
        return self._hierarchy.signer(role)

    def certificate(self, role: str) -> Certificate:
        return self._hierarchy.certificate(role)

    def encryption_private_key(self, role: str) -> ec.EllipticCurvePrivateKey:
        return self._hierarchy.encryption_private_key(role)

    def by_hashed_id8(self, hashed_id8: bytes) -> Certificate | None:
        return self._hierarchy.by_hashed_id8(hashed_id8)

    def anchors(self) -> list[Certificate]:
        return self._hierarchy.anchors()

    def chain(self, role: str) -> Sequence[Certificate]:
        return self._hierarchy.chain(role)


class InProcessEca:
    """``SuccessorIssuer``: the ECA's use case (``scms_eca.successor``) called in this process.

    The port's one adapter today (docs/architecture.md "Successor enrollment"): the RA's role then
    needs EcaTable and the ECA key secret. An adapter that invokes an ECA task function instead
    would keep the ECA's key out of the RA's reach; the port's signature stays.
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
        successor_issuer=InProcessEca(settings, ra),
    )
