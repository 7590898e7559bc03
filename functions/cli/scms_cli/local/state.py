"""Local state between runs of ``make serve``: snapshot moto's DynamoDB, S3, Secrets Manager and KMS key.

moto keeps everything in memory. The local cloud writes a snapshot to ``<state_dir>/state.json``
on shutdown and every few seconds, atomically (temporary file, fsync, rename), and restores it at
start. The file holds secrets in plaintext (CA private keys of the LOCAL hierarchy), so it is
created with mode 0600: the local stack is not for production keys (docs/local.md).

What a snapshot holds: every item of every table the template defines, every current S3 object
of the artifacts bucket, every secret's current value, and the KMS key (id and key material) so
that anything encrypted under it still decrypts after a restart. Not kept: Step Functions
executions, S3 object versions other than the current one, secret versions other than the current.

``scms serve`` hands ``snapshot`` the items and objects read from the moto backends of its own
process (``cloud.moto_table_rows``, ``cloud.moto_bucket_objects``); with boto3 clients only, it scans
and GETs through the API (the same file, item for item: tests/functional/test_local_state_snapshot.py).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "STATE_FILE", "b64_attr", "object_record", "read_state", "restore", "snapshot", "write_state"]

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
FORMAT = 1
_B64 = "__b64__"


def b64_attr(value: bytes | str) -> dict[str, str]:
    """A binary in the file's form: octets, or their base64 text as moto keeps binaries inside maps."""
    return {_B64: value if isinstance(value, str) else base64.b64encode(value).decode("ascii")}


def _encode_attr(value: Any) -> Any:
    """A DynamoDB attribute value (client shape) with bytes made JSON-safe, reversibly."""
    if isinstance(value, bytes):
        return {_B64: base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {k: _encode_attr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode_attr(v) for v in value]
    return value


def _decode_attr(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {_B64}:
            return base64.b64decode(value[_B64])
        return {k: _decode_attr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_attr(v) for v in value]
    return value


def snapshot(
    *,
    dynamodb: Any,
    s3: Any,
    secretsmanager: Any,
    tables: list[str],
    bucket: str,
    kms_key: Mapping[str, Any] | None,
    items: Mapping[str, list[Any]] | None = None,
    objects: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything the local cloud must keep, as a JSON-safe dict.

    ``items``, ``objects``: the tables' items and the bucket's objects already in the file's form
    (``cloud.moto_table_rows``, ``cloud.moto_bucket_objects``: read from the moto backends in this
    process); without them every table is scanned through ``dynamodb`` and every object read through ``s3``.
    """
    if objects is None:
        objects = _read_objects(s3, bucket)
    if items is not None:
        return _document(dict(items), objects, secretsmanager, bucket, kms_key)
    scanned: dict[str, list[Any]] = {}
    for table in tables:
        rows: list[Any] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            rows.extend(_encode_attr(item) for item in page["Items"])
        scanned[table] = rows
    return _document(scanned, objects, secretsmanager, bucket, kms_key)


def object_record(key: str, content_type: str, metadata: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """One S3 object in the file's form."""
    return {
        "key": key,
        "contentType": content_type,
        "metadata": dict(metadata),
        "body": base64.b64encode(body).decode("ascii"),
    }


def _read_objects(s3: Any, bucket: str) -> list[dict[str, Any]]:
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            obj = s3.get_object(Bucket=bucket, Key=entry["Key"])
            content_type = obj.get("ContentType", "binary/octet-stream")
            objects.append(object_record(entry["Key"], content_type, obj.get("Metadata", {}), obj["Body"].read()))
    return objects


def _document(
    items: dict[str, list[Any]],
    objects: list[dict[str, Any]],
    secretsmanager: Any,
    bucket: str,
    kms_key: Mapping[str, Any] | None,
) -> dict[str, Any]:
    secrets = []
    for page in secretsmanager.get_paginator("list_secrets").paginate():
        for entry in page["SecretList"]:
            value = secretsmanager.get_secret_value(SecretId=entry["ARN"])
            record: dict[str, Any] = {"name": entry["Name"], "description": entry.get("Description", "")}
            if entry.get("KmsKeyId"):
                record["kmsKeyId"] = entry["KmsKeyId"]
            if entry.get("Tags"):
                record["tags"] = entry["Tags"]
            if "SecretBinary" in value:
                record["binary"] = base64.b64encode(value["SecretBinary"]).decode("ascii")
            else:
                record["string"] = value["SecretString"]
            secrets.append(record)
    return {
        "format": FORMAT,
        "dynamodb": items,
        "s3": {"bucket": bucket, "objects": objects},
        "secrets": secrets,
        "kms": dict(kms_key) if kms_key else None,
    }


def restore(data: Mapping[str, Any], *, dynamodb: Any, s3: Any, secretsmanager: Any) -> None:
    """Put a snapshot's items, objects and secrets back (tables and bucket exist; the KMS key is restored first)."""
    for table, rows in data.get("dynamodb", {}).items():
        for start in range(0, len(rows), 25):
            batch = [{"PutRequest": {"Item": _decode_attr(row)}} for row in rows[start : start + 25]]
            pending: dict[str, Any] = {table: batch}
            while pending:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    bucket = data.get("s3", {}).get("bucket")
    for obj in data.get("s3", {}).get("objects", []):
        s3.put_object(
            Bucket=bucket,
            Key=obj["key"],
            Body=base64.b64decode(obj["body"]),
            ContentType=obj["contentType"],
            Metadata=obj.get("metadata", {}),
        )
    for secret in data.get("secrets", []):
        args: dict[str, Any] = {"Name": secret["name"], "Description": secret.get("description", "")}
        if secret.get("kmsKeyId"):
            args["KmsKeyId"] = secret["kmsKeyId"]
        if secret.get("tags"):
            args["Tags"] = secret["tags"]
        if "binary" in secret:
            args["SecretBinary"] = base64.b64decode(secret["binary"])
        else:
            args["SecretString"] = secret["string"]
        secretsmanager.create_secret(**args)


def write_state(state_dir: Path, data: Mapping[str, Any]) -> Path:
    """Write ``data`` to ``state_dir/state.json`` atomically, readable by the owner only (0600)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    target = state_dir / STATE_FILE
    fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".json", dir=state_dir)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # One json.dumps (its C encoder end to end) and one write: json.dump's chunked writes cost
            # about twice the CPU for a state of tens of thousands of items.
            handle.write(json.dumps(data, separators=(",", ":"), sort_keys=True))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The snapshot in ``state_dir``, or ``None`` on a first start."""
    target = state_dir / STATE_FILE
    if not target.exists():
        return None
    with target.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    if data.get("format") != FORMAT:
        raise ValueError(f"{target}: unknown state format {data.get('format')!r} (expected {FORMAT})")
    return data
