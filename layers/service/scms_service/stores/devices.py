"""The RA's devices in ``RaTable``: registration, lifecycle transitions with their audit trail (protocol.md §6).

Items (docs/architecture.md, "Tables"):

- device ``pk=DEVICE#<id>, sk=STATE`` (carries ``canonicalId`` for the ``byCanonicalId`` GSI);
- audit ``pk=DEVICE#<id>, sk=AUDIT#<unix 12 digits>#<version 6 digits>``: one per transition,
  written in the same transaction as the change it records;
- enrollment ``pk=DEVICE#<id>, sk=ENROLLMENT#<HashedId8 hex>`` (carries ``enrollmentCertId`` for the
  ``byEnrollmentCert`` GSI): one per enrollment certificate, so a successor does not hide the old one;
- canonical-id guard ``pk=CANONICAL#<canonicalId>, sk=DEVICE``: makes the canonical id unique (a GSI
  cannot) and gives ``get_by_canonical_id`` a strongly consistent read.

Every change is conditional on the state and version read before it, so two concurrent changes
cannot both win (no lost update).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

from botocore.exceptions import ClientError

from ..errors import BadRequest, Conflict, NotFound, ScmsError
from ..lifecycle import AuditEntry, DeviceState, check_transition
from .aws_errors import error_code
from .dynamo import DynamoTable

__all__ = [
    "CANONICAL_ID_PATTERN",
    "DEVICE_ID_PATTERN",
    "Device",
    "DeviceExists",
    "DeviceStore",
    "DynamoDeviceStore",
    "EnrollmentRecord",
    "InMemoryDeviceStore",
    "Permission",
    "StaleDevice",
    "StoreError",
]

log = logging.getLogger(__name__)

DEVICE_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
# canonicalId is an IA5String (protocol.md §3.1); the RA registers printable ASCII without spaces.
CANONICAL_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
_HASHED_ID8_HEX = re.compile(r"[0-9a-f]{16}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_REGISTERED_CAUSE = "registered"


class DeviceExists(Conflict):
    """A device with this device id or canonical id is registered already (409)."""


class StaleDevice(Conflict):
    """The device changed since it was read (another transition won): nothing was written (409)."""


class StoreError(ScmsError):
    """The device table refused a call for a reason that retrying will not fix (500)."""

    HTTP_STATUS = 500


@dataclass(frozen=True)
class Permission:
    """One permitted PSID and, optionally, its SSP octets."""

    psid: int
    ssp: bytes | None = None


@dataclass(frozen=True)
class EnrollmentRecord:
    """An enrollment certificate the ECA issued to a device (protocol.md §3.2 step 6).

    ``cert_hash`` (SHA-256 of the certificate's COER) is what a hash CRL entry is made of when the
    device is revoked (HashedId10 = its last 10 octets, protocol.md §3.6); records written before it
    existed have None.
    """

    cert_id: str  # HashedId8 of the enrollment certificate, 16 lowercase hex
    valid_from: int  # Time32
    valid_until: int  # Time32
    eca_id: str  # HashedId8 of the issuing ECA certificate, 16 lowercase hex
    cert_hash: str | None = None  # SHA-256 of the COER enrollment certificate, 64 lowercase hex

    def __post_init__(self) -> None:
        for name in ("cert_id", "eca_id"):
            if not _HASHED_ID8_HEX.fullmatch(getattr(self, name)):
                raise ValueError(f"{name}: expected 16 lowercase hex digits")
        if self.cert_hash is not None and not _SHA256_HEX.fullmatch(self.cert_hash):
            raise ValueError("cert_hash: expected 64 lowercase hex digits")
        if self.cert_hash is not None and self.cert_hash[-16:] != self.cert_id:
            # HashedId8 = the low 8 octets of the same SHA-256 (1609.2 §6.4.3): one certificate, both names.
            raise ValueError("cert_hash: does not end with cert_id")
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until: before valid_from")


@dataclass(frozen=True)
class Device:
    """A registered device as the RA keeps it; ``version`` counts its changes (1 after registration)."""

    device_id: str
    canonical_id: str
    canonical_key: bytes  # compressed SEC 1 P-256 point (33 octets)
    state: DeviceState = DeviceState.REGISTERED
    previous_state: DeviceState | None = None
    permissions: tuple[Permission, ...] = ()
    region: Mapping[str, Any] | None = None
    policy: Mapping[str, Any] = field(default_factory=dict)
    enrollments: tuple[EnrollmentRecord, ...] = ()
    version: int = 0
    created_at: int = 0  # Unix seconds
    updated_at: int = 0  # Unix seconds

    def __post_init__(self) -> None:
        if not DEVICE_ID_PATTERN.fullmatch(self.device_id):
            raise ValueError("device_id: expected 1..64 characters of [A-Za-z0-9._-]")
        if not self.canonical_id:
            raise ValueError("canonical_id: must not be empty")
        if len(self.canonical_key) != 33 or self.canonical_key[0] not in (2, 3):
            raise ValueError("canonical_key: expected a compressed SEC 1 P-256 point (33 octets)")

    @property
    def enrollment(self) -> EnrollmentRecord | None:
        """The newest enrollment certificate, if any."""
        return self.enrollments[-1] if self.enrollments else None


# Aliases: inside the store classes the name ``list`` is the method, not the builtin.
_Devices = list[Device]
_AuditTrail = list[AuditEntry]


class DeviceStore(Protocol):
    """The RA's device records. Implementations: ``DynamoDeviceStore`` (RaTable), ``InMemoryDeviceStore``."""

    def get(self, device_id: str) -> Device | None:
        """The device, or None."""
        ...

    def get_by_canonical_id(self, canonical_id: str) -> Device | None:
        """The device registered under ``canonical_id`` (protocol.md §3.1), or None."""
        ...

    def get_by_enrollment_cert(self, hashed_id8_hex: str) -> Device | None:
        """The device that holds the enrollment certificate with this HashedId8 (any of its certs), or None."""
        ...

    def list(self, limit: int, next_token: str | None = None) -> tuple[_Devices, str | None]:
        """Up to ``limit`` devices and an opaque token for the next page (None at the end)."""
        ...

    def create(self, device: Device, *, actor: str, now_unix: int) -> Device:
        """Register ``device`` (state Registered, version 1) with its first audit entry; ``DeviceExists`` if taken."""
        ...

    def transition(
        self,
        device_id: str,
        target: DeviceState,
        *,
        expected: DeviceState,
        cause: str,
        actor: str,
        now_unix: int,
        unblocking: bool = False,
        enrollment: EnrollmentRecord | None = None,
        expected_version: int | None = None,
    ) -> Device:
        """Move the device from ``expected`` to ``target`` and audit it, atomically.

        ``NotFound`` if there is no such device; ``StaleDevice`` if its state is not ``expected``,
        its version is not ``expected_version`` (when given) or it changed while we wrote;
        ``IllegalTransition`` if ``lifecycle.check_transition`` refuses. ``enrollment`` is added to
        the device's enrollment certificates (and their index) in the same write.
        """
        ...

    def audit(self, device_id: str) -> _AuditTrail:
        """The device's transitions, oldest first (empty for an unknown device)."""
        ...


def _plan(
    current: Device | None,
    device_id: str,
    target: DeviceState,
    *,
    expected: DeviceState,
    cause: str,
    actor: str,
    now_unix: int,
    unblocking: bool,
    enrollment: EnrollmentRecord | None,
    expected_version: int | None,
) -> tuple[Device, AuditEntry]:
    """The checked new device and its audit entry; shared by both stores so they refuse alike."""
    if current is None:
        raise NotFound(f"device {device_id} is not registered")
    if current.state is not expected:
        raise StaleDevice(f"device {device_id} is {current.state.value}, not {expected.value}")
    if expected_version is not None and current.version != expected_version:
        raise StaleDevice(f"device {device_id} is at version {current.version}, not {expected_version}")
    check_transition(current.state, target, unblocking=unblocking)
    if enrollment is not None and any(e.cert_id == enrollment.cert_id for e in current.enrollments):
        raise DeviceExists(f"enrollment certificate {enrollment.cert_id} is recorded already")
    updated = replace(
        current,
        state=target,
        previous_state=current.state,
        enrollments=current.enrollments + ((enrollment,) if enrollment is not None else ()),
        version=current.version + 1,
        updated_at=now_unix,
    )
    return updated, AuditEntry(at=now_unix, previous=current.state, state=target, cause=cause, actor=actor)


def _registered(device: Device, actor: str, now_unix: int) -> tuple[Device, AuditEntry]:
    created = replace(
        device,
        state=DeviceState.REGISTERED,
        previous_state=None,
        enrollments=(),
        version=1,
        created_at=now_unix,
        updated_at=now_unix,
    )
    return created, AuditEntry(
        at=now_unix, previous=None, state=DeviceState.REGISTERED, cause=_REGISTERED_CAUSE, actor=actor
    )


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= 1000:
        raise BadRequest("limit: expected 1..1000")


def _encode_token(device_id: str) -> str:
    return base64.urlsafe_b64encode(device_id.encode()).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        device_id = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("next: not a token this API returned") from None
    if not DEVICE_ID_PATTERN.fullmatch(device_id):
        raise BadRequest("next: not a token this API returned")
    return device_id


class InMemoryDeviceStore:
    """A ``DeviceStore`` in a dict, with the same checks and refusals as the DynamoDB one (tests, tools)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._devices: dict[str, Device] = {}
        self._by_canonical: dict[str, str] = {}
        self._by_cert: dict[str, str] = {}
        self._audit: dict[str, list[AuditEntry]] = {}

    def get(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)

    def get_by_canonical_id(self, canonical_id: str) -> Device | None:
        device_id = self._by_canonical.get(canonical_id)
        return None if device_id is None else self._devices.get(device_id)

    def get_by_enrollment_cert(self, hashed_id8_hex: str) -> Device | None:
        device_id = self._by_cert.get(hashed_id8_hex.lower())
        return None if device_id is None else self._devices.get(device_id)

    def list(self, limit: int, next_token: str | None = None) -> tuple[_Devices, str | None]:
        _check_limit(limit)
        after = _decode_token(next_token) if next_token else None
        ids = sorted(i for i in self._devices if after is None or i > after)
        page = [self._devices[i] for i in ids[:limit]]
        return page, (_encode_token(page[-1].device_id) if len(ids) > limit else None)

    def create(self, device: Device, *, actor: str, now_unix: int) -> Device:
        created, entry = _registered(device, actor, now_unix)
        with self._lock:
            if device.device_id in self._devices:
                raise DeviceExists(f"device_id {device.device_id} is registered already")
            if device.canonical_id in self._by_canonical:
                raise DeviceExists("canonical_id is registered already")
            self._devices[device.device_id] = created
            self._by_canonical[device.canonical_id] = device.device_id
            self._audit[device.device_id] = [entry]
        return created

    def transition(
        self,
        device_id: str,
        target: DeviceState,
        *,
        expected: DeviceState,
        cause: str,
        actor: str,
        now_unix: int,
        unblocking: bool = False,
        enrollment: EnrollmentRecord | None = None,
        expected_version: int | None = None,
    ) -> Device:
        with self._lock:
            updated, entry = _plan(
                self._devices.get(device_id),
                device_id,
                target,
                expected=expected,
                cause=cause,
                actor=actor,
                now_unix=now_unix,
                unblocking=unblocking,
                enrollment=enrollment,
                expected_version=expected_version,
            )
            self._devices[device_id] = updated
            self._audit[device_id].append(entry)
            if enrollment is not None:
                self._by_cert[enrollment.cert_id] = device_id
        return updated

    def audit(self, device_id: str) -> _AuditTrail:
        return list(self._audit.get(device_id, []))


def _cancel_codes(exc: ClientError) -> list[str]:
    """The per-item codes of a TransactionCanceledException, in the order of the transaction's items."""
    reasons: Sequence[Mapping[str, Any]] = exc.response.get("CancellationReasons", [])
    return [str(r.get("Code", "None")) for r in reasons]


class DynamoDeviceStore(DynamoTable):
    """``DeviceStore`` on the ``RaTable`` (low-level DynamoDB client, injectable; default ``aws.client``)."""

    settings_field = "ra_table"
    store_error = StoreError
    table_label = "device table"
    busy_message = "{action}: the {table} is busy, retry"
    failed_message = "{action}: the {table} refused the call"

    _STATE: ClassVar[str] = "STATE"

    def error(self, exc: ClientError, action: str) -> ScmsError:
        log.warning("RaTable %s failed: %s", action, error_code(exc))
        return super().error(exc, action)

    # Reads --------------------------------------------------------------------------------------

    def get(self, device_id: str) -> Device | None:
        if not DEVICE_ID_PATTERN.fullmatch(device_id):
            return None
        try:
            out = self.client.get_item(TableName=self._table, Key=_key(device_id, self._STATE), ConsistentRead=True)
        except ClientError as exc:
            raise self.error(exc, "get device") from exc
        item = out.get("Item")
        return None if item is None else _device_from_item(item)

    def get_by_canonical_id(self, canonical_id: str) -> Device | None:
        if not CANONICAL_ID_PATTERN.fullmatch(canonical_id):
            # No device has it, and a request's unbounded canonicalId could exceed DynamoDB's
            # 2 KB key limit (ValidationException, a 500 instead of "not registered").
            return None
        try:
            out = self.client.get_item(
                TableName=self._table,
                Key={"pk": {"S": f"CANONICAL#{canonical_id}"}, "sk": {"S": "DEVICE"}},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise self.error(exc, "get device by canonical id") from exc
        item = out.get("Item")
        return None if item is None else self.get(item["deviceId"]["S"])

    def get_by_enrollment_cert(self, hashed_id8_hex: str) -> Device | None:
        try:
            out = self.client.query(
                TableName=self._table,
                IndexName="byEnrollmentCert",
                KeyConditionExpression="enrollmentCertId = :c",
                ExpressionAttributeValues={":c": {"S": hashed_id8_hex.lower()}},
                Limit=1,
            )
        except ClientError as exc:
            raise self.error(exc, "get device by enrollment certificate") from exc
        items = out.get("Items", [])
        return None if not items else self.get(items[0]["deviceId"]["S"])

    def list(self, limit: int, next_token: str | None = None) -> tuple[_Devices, str | None]:
        _check_limit(limit)
        start: dict[str, Any] | None = _key(_decode_token(next_token), self._STATE) if next_token else None
        devices: _Devices = []
        more = True
        while more and len(devices) <= limit:
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "FilterExpression": "sk = :state",
                "ExpressionAttributeValues": {":state": {"S": self._STATE}},
                "Limit": limit + 1,
            }
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            try:
                out = self.client.scan(**kwargs)
            except ClientError as exc:
                raise self.error(exc, "list devices") from exc
            devices.extend(_device_from_item(i) for i in out.get("Items", []))
            start = out.get("LastEvaluatedKey")
            more = start is not None
        # One device more than asked tells us there is a next page; it starts after the last one shown.
        if len(devices) > limit:
            page = devices[:limit]
            return page, _encode_token(page[-1].device_id)
        return devices, None

    def audit(self, device_id: str) -> _AuditTrail:
        items = self.query_all(
            "read audit trail",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
            ExpressionAttributeValues={":pk": {"S": f"DEVICE#{device_id}"}, ":audit": {"S": "AUDIT#"}},
            ConsistentRead=True,
        )
        return [_audit_from_item(i) for i in items]

    # Writes -------------------------------------------------------------------------------------

    def create(self, device: Device, *, actor: str, now_unix: int) -> Device:
        created, entry = _registered(device, actor, now_unix)
        items = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _device_item(created),
                    # The device id is free: no STATE item under this pk yet.
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        "pk": {"S": f"CANONICAL#{created.canonical_id}"},
                        "sk": {"S": "DEVICE"},
                        "deviceId": {"S": created.device_id},
                    },
                    # The canonical id is free: no other device holds its guard item.
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _audit_item(created.device_id, created.version, entry),
                    # An audit entry is never overwritten.
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                codes = _cancel_codes(exc)
                if codes[:1] == ["ConditionalCheckFailed"]:
                    raise DeviceExists(f"device_id {device.device_id} is registered already") from exc
                if codes[1:2] == ["ConditionalCheckFailed"]:
                    raise DeviceExists("canonical_id is registered already") from exc
            raise self.error(exc, "register device") from exc
        return created

    def transition(
        self,
        device_id: str,
        target: DeviceState,
        *,
        expected: DeviceState,
        cause: str,
        actor: str,
        now_unix: int,
        unblocking: bool = False,
        enrollment: EnrollmentRecord | None = None,
        expected_version: int | None = None,
    ) -> Device:
        current = self.get(device_id)
        updated, entry = _plan(
            current,
            device_id,
            target,
            expected=expected,
            cause=cause,
            actor=actor,
            now_unix=now_unix,
            unblocking=unblocking,
            enrollment=enrollment,
            expected_version=expected_version,
        )
        assert current is not None  # _plan raised NotFound otherwise
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _key(device_id, self._STATE),
                    "UpdateExpression": (
                        "SET #state = :target, previousState = :previous, version = :next, "
                        "updatedAt = :now, enrollments = :enrollments"
                    ),
                    # Nothing changed since we read it: same state and same version (no lost update).
                    "ConditionExpression": "#state = :expected AND version = :version",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": {
                        ":target": {"S": updated.state.value},
                        ":previous": {"S": current.state.value},
                        ":next": {"N": str(updated.version)},
                        ":now": {"N": str(now_unix)},
                        ":enrollments": {"S": _enrollments_json(updated.enrollments)},
                        ":expected": {"S": current.state.value},
                        ":version": {"N": str(current.version)},
                    },
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _audit_item(device_id, updated.version, entry),
                    # An audit entry is never overwritten.
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        if enrollment is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "pk": {"S": f"DEVICE#{device_id}"},
                            "sk": {"S": f"ENROLLMENT#{enrollment.cert_id}"},
                            "enrollmentCertId": {"S": enrollment.cert_id},
                            "deviceId": {"S": device_id},
                        },
                        # Each enrollment certificate is recorded once.
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException" and (
                "ConditionalCheckFailed" in _cancel_codes(exc)
            ):
                raise StaleDevice(f"device {device_id} changed while it was being updated") from exc
            raise self.error(exc, "change device state") from exc
        return updated


# Item codecs ------------------------------------------------------------------------------------


def _key(device_id: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": f"DEVICE#{device_id}"}, "sk": {"S": sk}}


def _permissions_json(permissions: Sequence[Permission]) -> str:
    return json.dumps(
        [{"psid": p.psid, **({"ssp": p.ssp.hex()} if p.ssp is not None else {})} for p in permissions],
        sort_keys=True,
    )


def _enrollments_json(enrollments: Sequence[EnrollmentRecord]) -> str:
    return json.dumps(
        [
            {
                "cert_id": e.cert_id,
                "valid_from": e.valid_from,
                "valid_until": e.valid_until,
                "eca_id": e.eca_id,
                **({"cert_hash": e.cert_hash} if e.cert_hash is not None else {}),
            }
            for e in enrollments
        ],
        sort_keys=True,
    )


def _device_item(device: Device) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_key(device.device_id, DynamoDeviceStore._STATE),
        "deviceId": {"S": device.device_id},
        "canonicalId": {"S": device.canonical_id},
        "canonicalKey": {"B": device.canonical_key},
        "state": {"S": device.state.value},
        "permissions": {"S": _permissions_json(device.permissions)},
        "policy": {"S": json.dumps(dict(device.policy), sort_keys=True)},
        "enrollments": {"S": _enrollments_json(device.enrollments)},
        "version": {"N": str(device.version)},
        "createdAt": {"N": str(device.created_at)},
        "updatedAt": {"N": str(device.updated_at)},
    }
    if device.region is not None:
        item["region"] = {"S": json.dumps(dict(device.region), sort_keys=True)}
    if device.previous_state is not None:
        item["previousState"] = {"S": device.previous_state.value}
    return item


def _device_from_item(item: Mapping[str, Any]) -> Device:
    previous = item.get("previousState")
    region = item.get("region")
    return Device(
        device_id=item["deviceId"]["S"],
        canonical_id=item["canonicalId"]["S"],
        canonical_key=bytes(item["canonicalKey"]["B"]),
        state=DeviceState(item["state"]["S"]),
        previous_state=DeviceState(previous["S"]) if previous is not None else None,
        permissions=tuple(
            Permission(p["psid"], bytes.fromhex(p["ssp"]) if "ssp" in p else None)
            for p in json.loads(item["permissions"]["S"])
        ),
        region=json.loads(region["S"]) if region is not None else None,
        policy=json.loads(item["policy"]["S"]),
        enrollments=tuple(EnrollmentRecord(**e) for e in json.loads(item["enrollments"]["S"])),
        version=int(item["version"]["N"]),
        created_at=int(item["createdAt"]["N"]),
        updated_at=int(item["updatedAt"]["N"]),
    )


def _audit_item(device_id: str, version: int, entry: AuditEntry) -> dict[str, Any]:
    # The version makes the sort key unique per device even for two changes in one second.
    item: dict[str, Any] = {
        "pk": {"S": f"DEVICE#{device_id}"},
        "sk": {"S": f"AUDIT#{entry.at:012d}#{version:06d}"},
        "at": {"N": str(entry.at)},
        "state": {"S": entry.state.value},
        "cause": {"S": entry.cause},
        "actor": {"S": entry.actor},
    }
    if entry.previous is not None:
        item["previous"] = {"S": entry.previous.value}
    return item


def _audit_from_item(item: Mapping[str, Any]) -> AuditEntry:
    previous = item.get("previous")
    return AuditEntry(
        at=int(item["at"]["N"]),
        previous=DeviceState(previous["S"]) if previous is not None else None,
        state=DeviceState(item["state"]["S"]),
        cause=item["cause"]["S"],
        actor=item["actor"]["S"],
    )
