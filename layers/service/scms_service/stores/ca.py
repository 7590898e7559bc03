"""CA certificates (``CaTable``) and CA private keys (Secrets Manager under KMS), docs/architecture.md "Tables".

Items of ``CaTable``:
- ``pk=ROLE#<role>, sk=CERT#<HashedId8 hex>``: one certificate of a role (COER in ``certificate``),
  ``hashedId8`` (the ``byHashedId8`` GSI key), ``active``, ``createdAt`` (Time32), ``keySecret``.
- ``pk=ROLE#<role>, sk=ACTIVE``: the pointer to the role's active certificate (``certId``). Every
  creation or rotation writes it conditionally in the same transaction as the certificate, so two
  concurrent ``scms init`` runs cannot both create a role.
- ``pk=CTL#<ctlSeriesId hex>, sk=SEQ#<sequenceNumber 5 digits>``: a published ``MultiSignedCtlSpdu``.

Private keys never appear in a repr, a log line or an exception message here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from ..errors import Conflict, ScmsError, TransientStoreError
from .aws_errors import error_code, is_condition_failure, is_transient
from .dynamo import DynamoTable

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "CaRecord",
    "CaStore",
    "CaStoreError",
    "CtlRecord",
    "DynamoDbCaStore",
    "InMemoryCaStore",
    "InMemoryKeyVault",
    "KeyVault",
    "KeyVaultError",
    "SecretsManagerKeyVault",
]


class CaStoreError(ScmsError):
    """The CA table could not be read or written (500; the cause is chained, never shown to clients)."""


class KeyVaultError(ScmsError):
    """The key vault could not be read or written (500; the cause is chained, never shown to clients)."""


def _vault_error(exc: ClientError, what: str) -> ScmsError:
    code = error_code(exc)
    if is_transient(exc):
        return TransientStoreError(f"{what}: temporarily unavailable ({code})")
    return KeyVaultError(f"{what}: {code or 'failed'}")


@dataclass(frozen=True)
class CaRecord:
    """One CA certificate of a role as stored: COER octets, identifiers and the name of its key's secret."""

    role: str
    hashed_id8: bytes
    certificate: bytes = field(repr=False)
    active: bool
    created_at: int
    key_secret: str


@dataclass(frozen=True)
class CtlRecord:
    """One published CTL: its series, sequence number and the COER ``MultiSignedCtlSpdu``."""

    series_id: bytes
    sequence_number: int
    spdu: bytes = field(repr=False)
    created_at: int


class CaStore(Protocol):
    """Where CA certificates and CTLs live (``CaTable``)."""

    def active(self, role: str) -> CaRecord | None:
        """The active certificate of ``role``, or None when the role has none yet."""
        ...

    def records(self, role: str) -> list[CaRecord]:
        """Every certificate of ``role``, active or rotated, oldest first (the active one last on a tie)."""
        ...

    def by_hashed_id8(self, hashed_id8: bytes) -> CaRecord | None:
        """The certificate with this HashedId8, in any role, or None."""
        ...

    def create(self, record: CaRecord) -> None:
        """Store the first (active) certificate of a role; ``Conflict`` if the role has one already."""
        ...

    def rotate(self, record: CaRecord, previous: bytes) -> None:
        """Make ``record`` the active certificate in place of ``previous``; ``Conflict`` if that is not active."""
        ...

    def put_ctl(self, ctl: CtlRecord) -> None:
        """Store a CTL; ``Conflict`` if its series already has this sequence number."""
        ...

    def ctls(self, series_id: bytes) -> list[CtlRecord]:
        """The CTLs of a series, lowest sequence number first."""
        ...


class KeyVault(Protocol):
    """Where CA private keys live: one secret per name, written once, never overwritten."""

    def create(self, name: str, value: str) -> None:
        """Create the secret ``name``; ``Conflict`` if it exists."""
        ...

    def get(self, name: str) -> str | None:
        """The secret's value, or None when there is no such secret."""
        ...


def _role_pk(role: str) -> str:
    return f"ROLE#{role}"


def _cert_sk(hashed_id8: bytes) -> str:
    return f"CERT#{hashed_id8.hex()}"


_ACTIVE_SK = "ACTIVE"


def _ctl_pk(series_id: bytes) -> str:
    return f"CTL#{series_id.hex()}"


def _ctl_sk(sequence_number: int) -> str:
    return f"SEQ#{sequence_number:05d}"


class InMemoryCaStore:
    """A ``CaStore`` in a dict, with the same conditions as the DynamoDB adapter (tests, local tools)."""

    def __init__(self) -> None:
        self._certs: dict[tuple[str, bytes], CaRecord] = {}
        self._active: dict[str, bytes] = {}
        self._ctls: dict[tuple[bytes, int], CtlRecord] = {}
        self._lock = threading.Lock()

    def active(self, role: str) -> CaRecord | None:
        h = self._active.get(role)
        return None if h is None else self._certs[(role, h)]

    def records(self, role: str) -> list[CaRecord]:
        return sorted((r for (rl, _), r in self._certs.items() if rl == role), key=lambda r: (r.created_at, r.active))

    def by_hashed_id8(self, hashed_id8: bytes) -> CaRecord | None:
        return next((r for (_, h), r in self._certs.items() if h == hashed_id8), None)

    def create(self, record: CaRecord) -> None:
        with self._lock:
            if record.role in self._active or (record.role, record.hashed_id8) in self._certs:
                raise Conflict(f"CA role {record.role} already has a certificate")
            self._certs[(record.role, record.hashed_id8)] = replace(record, active=True)
            self._active[record.role] = record.hashed_id8

    def rotate(self, record: CaRecord, previous: bytes) -> None:
        with self._lock:
            if self._active.get(record.role) != previous or (record.role, record.hashed_id8) in self._certs:
                raise Conflict(f"CA role {record.role}: {previous.hex()} is no longer the active certificate")
            old = self._certs[(record.role, previous)]
            self._certs[(record.role, previous)] = replace(old, active=False)
            self._certs[(record.role, record.hashed_id8)] = replace(record, active=True)
            self._active[record.role] = record.hashed_id8

    def put_ctl(self, ctl: CtlRecord) -> None:
        with self._lock:
            if (ctl.series_id, ctl.sequence_number) in self._ctls:
                raise Conflict(f"CTL {ctl.series_id.hex()} #{ctl.sequence_number} exists")
            self._ctls[(ctl.series_id, ctl.sequence_number)] = ctl

    def ctls(self, series_id: bytes) -> list[CtlRecord]:
        return [c for (s, _), c in sorted(self._ctls.items()) if s == series_id]

    def snapshot(self) -> dict[str, Any]:
        """Every item, for tests that prove nothing changed."""
        return {"certs": dict(self._certs), "active": dict(self._active), "ctls": dict(self._ctls)}


class DynamoDbCaStore(DynamoTable):
    """``CaStore`` on the ``CaTable`` DynamoDB table (low-level client, injectable)."""

    settings_field = "ca_table"
    store_error = CaStoreError
    table_label = "CA table"
    busy_message = "{table} {action}: temporarily unavailable ({code})"
    failed_message = "{table} {action}: {code}"

    @staticmethod
    def _record(item: Mapping[str, Any]) -> CaRecord:
        return CaRecord(
            role=item["pk"]["S"].removeprefix("ROLE#"),
            hashed_id8=bytes.fromhex(item["hashedId8"]["S"]),
            certificate=bytes(item["certificate"]["B"]),
            active=bool(item["active"]["BOOL"]),
            created_at=int(item["createdAt"]["N"]),
            key_secret=item["keySecret"]["S"],
        )

    @staticmethod
    def _item(record: CaRecord, active: bool) -> dict[str, Any]:
        return {
            "pk": {"S": _role_pk(record.role)},
            "sk": {"S": _cert_sk(record.hashed_id8)},
            "hashedId8": {"S": record.hashed_id8.hex()},
            "certificate": {"B": record.certificate},
            "active": {"BOOL": active},
            "createdAt": {"N": str(record.created_at)},
            "keySecret": {"S": record.key_secret},
        }

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            response = self.client.get_item(
                TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
            )
        except ClientError as exc:
            raise self.error(exc, "read") from exc
        item: dict[str, Any] | None = response.get("Item")
        return item

    def active(self, role: str) -> CaRecord | None:
        pointer = self._get(_role_pk(role), _ACTIVE_SK)
        if pointer is None:
            return None
        item = self._get(_role_pk(role), f"CERT#{pointer['certId']['S']}")
        if item is None:
            raise CaStoreError(f"CA table: active certificate of {role} is missing")
        return self._record(item)

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        try:
            paginator = self.client.get_paginator("query")
            for page in paginator.paginate(TableName=self._table, **kwargs):
                items.extend(page.get("Items", []))
        except ClientError as exc:
            raise self.error(exc, "query") from exc
        return items

    def records(self, role: str) -> list[CaRecord]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :cert)",
            ExpressionAttributeValues={":pk": {"S": _role_pk(role)}, ":cert": {"S": "CERT#"}},
            ConsistentRead=True,
        )
        return sorted((self._record(i) for i in items), key=lambda r: (r.created_at, r.active))

    def by_hashed_id8(self, hashed_id8: bytes) -> CaRecord | None:
        items = self._query(
            IndexName="byHashedId8",
            KeyConditionExpression="hashedId8 = :h",
            ExpressionAttributeValues={":h": {"S": hashed_id8.hex()}},
        )
        # CTL items carry no hashedId8, so every hit is a certificate item.
        return self._record(items[0]) if items else None

    def _transact(self, items: list[dict[str, Any]], what: str) -> None:
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if is_condition_failure(exc):
                raise Conflict(what) from exc
            raise self.error(exc, "write") from exc

    def create(self, record: CaRecord) -> None:
        pk = {"S": _role_pk(record.role)}
        self._transact(
            [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {"pk": pk, "sk": {"S": _ACTIVE_SK}, "certId": {"S": record.hashed_id8.hex()}},
                        # The role has no active certificate yet: a concurrent init loses here.
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._item(record, True),
                        # Never overwrite a stored certificate.
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ],
            f"CA role {record.role} already has a certificate",
        )

    def rotate(self, record: CaRecord, previous: bytes) -> None:
        pk = {"S": _role_pk(record.role)}
        self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": pk, "sk": {"S": _ACTIVE_SK}},
                        "UpdateExpression": "SET certId = :new",
                        # Only the rotation that saw ``previous`` active may replace it.
                        "ConditionExpression": "certId = :old",
                        "ExpressionAttributeValues": {
                            ":new": {"S": record.hashed_id8.hex()},
                            ":old": {"S": previous.hex()},
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._item(record, True),
                        # Never overwrite a stored certificate.
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": pk, "sk": {"S": _cert_sk(previous)}},
                        "UpdateExpression": "SET active = :false",
                        # The old certificate must exist: an update would otherwise create a stub item.
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":false": {"BOOL": False}},
                    }
                },
            ],
            f"CA role {record.role}: {previous.hex()} is no longer the active certificate",
        )

    def put_ctl(self, ctl: CtlRecord) -> None:
        try:
            self.client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": _ctl_pk(ctl.series_id)},
                    "sk": {"S": _ctl_sk(ctl.sequence_number)},
                    "spdu": {"B": ctl.spdu},
                    "createdAt": {"N": str(ctl.created_at)},
                },
                # A CTL sequence number is issued once per series.
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise Conflict(f"CTL {ctl.series_id.hex()} #{ctl.sequence_number} exists") from exc
            raise self.error(exc, "write") from exc

    def ctls(self, series_id: bytes) -> list[CtlRecord]:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _ctl_pk(series_id)}},
            ConsistentRead=True,
        )
        out = [
            CtlRecord(
                series_id, int(i["sk"]["S"].removeprefix("SEQ#")), bytes(i["spdu"]["B"]), int(i["createdAt"]["N"])
            )
            for i in items
        ]
        return sorted(out, key=lambda c: c.sequence_number)


class InMemoryKeyVault:
    """A ``KeyVault`` in a dict (tests, local tools). Its repr shows names only."""

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}

    def create(self, name: str, value: str) -> None:
        if name in self._secrets:
            raise Conflict(f"secret {name} exists")
        self._secrets[name] = value

    def get(self, name: str) -> str | None:
        return self._secrets.get(name)

    def names(self) -> list[str]:
        """The stored secret names."""
        return sorted(self._secrets)

    def __repr__(self) -> str:
        return f"InMemoryKeyVault(names={self.names()})"


class SecretsManagerKeyVault:
    """``KeyVault`` on AWS Secrets Manager; every secret is encrypted under ``kms_key_id``."""

    def __init__(self, kms_key_id: str, client: Any) -> None:
        self._kms_key_id = kms_key_id
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings, client: Any | None = None) -> SecretsManagerKeyVault:
        from .. import aws

        return cls(settings.kms_key_id, client if client is not None else aws.client("secretsmanager"))

    def create(self, name: str, value: str) -> None:
        try:
            self._client.create_secret(Name=name, SecretString=value, KmsKeyId=self._kms_key_id)
        except ClientError as exc:
            if error_code(exc) == "ResourceExistsException":
                raise Conflict(f"secret {name} exists") from exc
            # A ClientError's text names the operation and AWS's message, never the SecretString sent.
            raise _vault_error(exc, f"secret {name}") from exc

    def get(self, name: str) -> str | None:
        try:
            response = self._client.get_secret_value(SecretId=name)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise _vault_error(exc, f"secret {name}") from exc
        value: str = response["SecretString"]
        return value
