"""Signed files kept once per content on ``RaTable``, so that a download's octets are stable (protocol.md §2.1).

A signature (ECDSA) differs each time it is made, but a download's ETag (its name) promises the same
octets while the content stays the same, and a ``Range`` resume splices two answers. So the RA signs a
file once per content and keeps it: item ``pk=SIGNED#<key>, sk=SIGNED`` with ``data`` (B),
``createdAt`` and ``expiresAt`` (Unix s, the table's TTL), put once (conditional); a concurrent signer
that loses gets the first one's octets. Used for the certificate-management info status
(``scms_ra.info_status``), keyed by the SHA-256 of its unsigned content and the signer.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ..errors import ScmsError
from .aws_errors import is_condition_failure
from .dynamo import DynamoTable

__all__ = ["DynamoDbSignedFileStore", "InMemorySignedFileStore", "SignedFileStore", "SignedFileStoreError"]

_SK = "SIGNED"


class SignedFileStoreError(ScmsError):
    """The RA table could not be read or written for a signed file (500; the cause is chained)."""


class SignedFileStore(Protocol):
    """Signed octets by key, written once."""

    def get(self, key: str) -> bytes | None:
        """The octets stored under ``key``, or None."""
        ...

    def put_once(self, key: str, data: bytes, *, now_unix: int, ttl: int) -> bytes:
        """Store ``data`` under ``key`` unless something is there; the stored octets (the first writer's)."""
        ...


class InMemorySignedFileStore:
    """``SignedFileStore`` in a dict (tests)."""

    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        return self.items.get(key)

    def put_once(self, key: str, data: bytes, *, now_unix: int, ttl: int) -> bytes:
        with self._lock:
            return self.items.setdefault(key, bytes(data))


class DynamoDbSignedFileStore(DynamoTable):
    """``SignedFileStore`` on ``RaTable`` (boto3 client injectable)."""

    settings_field = "ra_table"
    store_error = SignedFileStoreError
    table_label = "RA table"
    error_topic = "signed file"

    @staticmethod
    def _key(key: str) -> dict[str, Any]:
        return {"pk": {"S": f"SIGNED#{key}"}, "sk": {"S": _SK}}

    def get(self, key: str) -> bytes | None:
        try:
            out = self.client.get_item(TableName=self._table, Key=self._key(key), ConsistentRead=True)
        except ClientError as exc:
            raise self.error(exc, "read") from exc
        item = out.get("Item")
        return None if item is None else bytes(item["data"]["B"])

    def put_once(self, key: str, data: bytes, *, now_unix: int, ttl: int) -> bytes:
        item = {
            **self._key(key),
            "data": {"B": bytes(data)},
            "createdAt": {"N": str(now_unix)},
            "expiresAt": {"N": str(now_unix + ttl)},
        }
        try:
            # Once: the first signature of a content is the one every later download serves.
            self.client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise self.error(exc, "write") from exc
            stored = self.get(key)
            if stored is None:
                raise SignedFileStoreError(f"RA table: signed file {key} vanished after a conflicting write") from exc
            return stored
        return bytes(data)
