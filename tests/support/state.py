"""Every stored thing of a deployment (DynamoDB items, secrets, S3 objects), for "nothing changed" checks.

``capture(settings)`` reads all three stores through boto3 (so it works against moto in-process,
the local moto server or a real account); ``assert_unchanged(before, after)`` fails with the
first differences named. Bad input must change nothing (issue #7 §3): tests capture once before a
batch of hostile requests and compare after each one.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient
from scms_service import aws
from scms_service.config import Settings

__all__ = ["StoredState", "WriteWatch", "assert_unchanged", "capture", "differences"]


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return item["pk"]["S"], item["sk"]["S"]


@dataclass(frozen=True)
class StoredState:
    """Items by table and (pk, sk); secrets by name; object versions by ``key@version`` (see ``capture``)."""

    items: dict[str, dict[tuple[str, str], dict[str, Any]]]
    secrets: dict[str, tuple[Any, ...]]
    objects: dict[str, Any]

    def texts(self) -> Iterator[tuple[str, bytes]]:
        """(where, octets) of every DynamoDB attribute value, and of secret values and S3 bodies if captured."""
        for table, items in self.items.items():
            for key, item in items.items():
                for name, value in item.items():
                    yield from ((f"{table}{key}.{name}", raw) for raw in _leaves(value))
        for name, meta in self.secrets.items():
            if len(meta) > 3 and meta[3] is not None:
                value = meta[3]
                yield f"secret {name}", value.encode() if isinstance(value, str) else bytes(value)
        for object_key, body in self.objects.items():
            if isinstance(body, bytes):
                yield f"s3://{object_key}", body


def _leaves(value: Any) -> Iterator[bytes]:
    """The octets inside one DynamoDB attribute value (client shape), recursively."""
    if isinstance(value, dict):
        for kind, inner in value.items():
            if kind in ("S", "N"):
                yield str(inner).encode()
            elif kind == "B":
                yield bytes(inner)
            elif kind in ("SS", "NS"):
                yield from (str(v).encode() for v in inner)
            elif kind == "BS":
                yield from (bytes(v) for v in inner)
            elif kind == "L":
                for v in inner:
                    yield from _leaves(v)
            elif kind == "M":
                for v in inner.values():
                    yield from _leaves(v)


def capture(
    settings: Settings,
    *,
    contents: bool = False,
    dynamodb: Any | None = None,
    s3: Any | None = None,
    secretsmanager: Any | None = None,
) -> StoredState:
    """Every item of the template's tables, every secret and every artifacts object (all versions).

    Without ``contents`` a secret is its version ids and change date and an object version its
    ETag and size: enough to see any write (Secrets Manager makes a new version for every value
    written and the bucket is versioned, as in the template), in five calls. ``contents`` also
    reads every secret value and object body (for scans of what is stored).
    """
    ddb = dynamodb or aws.client("dynamodb")
    items: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for table in (settings.ra_table, settings.eca_table, settings.ca_table):
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            rows.update((_key(item), item) for item in page["Items"])
        items[table] = rows
    sm = secretsmanager or aws.client("secretsmanager")
    secrets: dict[str, tuple[Any, ...]] = {}
    for page in sm.get_paginator("list_secrets").paginate(IncludePlannedDeletion=True):
        for entry in page["SecretList"]:
            name = entry["Name"]
            versions = tuple(sorted(entry.get("SecretVersionsToStages", {}).items()))
            meta: tuple[Any, ...] = (versions, str(entry.get("LastChangedDate")), str(entry.get("DeletedDate")))
            if contents:
                value = sm.get_secret_value(SecretId=name)
                meta += (value.get("SecretString", value.get("SecretBinary")),)
            secrets[name] = meta
    bucket = s3 or aws.client("s3")
    objects: dict[str, Any] = {}
    for page in bucket.get_paginator("list_object_versions").paginate(Bucket=settings.artifacts_bucket):
        for entry in page.get("Versions", []):
            where = f"{entry['Key']}@{entry['VersionId']}"
            if contents:
                objects[where] = bucket.get_object(
                    Bucket=settings.artifacts_bucket, Key=entry["Key"], VersionId=entry["VersionId"]
                )["Body"].read()
            else:
                objects[where] = (entry["ETag"], entry["Size"], entry["IsLatest"])
        for marker in page.get("DeleteMarkers", []):
            objects[f"{marker['Key']}@{marker['VersionId']}"] = ("delete marker", marker["IsLatest"])
    return StoredState(items, secrets, objects)


def _digest(value: Any) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:12]


def differences(before: StoredState, after: StoredState) -> list[str]:
    """What changed, one line per item, secret or object (values shown only as digests: they may be keys)."""
    out: list[str] = []
    for table in sorted(set(before.items) | set(after.items)):
        old, new = before.items.get(table, {}), after.items.get(table, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                out.append(f"{table} {key}: {_digest(old.get(key))} -> {_digest(new.get(key))}")
    for name in sorted(set(before.secrets) | set(after.secrets)):
        if before.secrets.get(name) != after.secrets.get(name):
            out.append(f"secret {name}: changed, created or deleted")
    for object_key in sorted(set(before.objects) | set(after.objects)):
        if before.objects.get(object_key) != after.objects.get(object_key):
            out.append(f"s3 {object_key}: changed, created or deleted")
    return out


def assert_unchanged(before: StoredState, after: StoredState) -> None:
    """Fail naming every item, secret and object that differs."""
    changed = differences(before, after)
    assert not changed, "stored state changed:\n  " + "\n  ".join(changed[:20])


_READS = re.compile(r"(Get|List|Describe|Query|Scan|BatchGet|TransactGet|Head|Decrypt|Encrypt|GenerateDataKey|Verify)")


class WriteWatch:
    """Records every AWS call that could change state and succeeded, from any boto3 client in the process.

    Installed by patching ``botocore.client.BaseClient._make_api_call`` (so it sees the apps' own
    cached clients too). Reads, and calls that raised (a failed condition writes nothing), are not
    recorded. Cheaper than ``capture`` by two orders of magnitude, so it can check every example of
    a property test; ``capture`` then confirms at the end.
    """

    def __init__(self) -> None:
        self._writes: list[str] = []
        self._lock = threading.Lock()

    def install(self, monkeypatch: Any) -> WriteWatch:
        original = BaseClient._make_api_call
        watch = self

        def recording(client: BaseClient, operation_name: str, api_params: Any) -> Any:
            result = original(client, operation_name, api_params)
            if not _READS.match(operation_name):
                with watch._lock:
                    watch._writes.append(f"{client.meta.service_model.service_name}.{operation_name}")
            return result

        monkeypatch.setattr(BaseClient, "_make_api_call", recording)
        return self

    def take(self) -> list[str]:
        """The writes since the last ``take``, and forget them."""
        with self._lock:
            writes, self._writes = self._writes, []
        return writes
