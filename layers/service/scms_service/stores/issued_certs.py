"""Delivered certificates of an authorization request on ``RaTable`` (architecture.md "Delivered certificates").

Item ``pk=REQ#<requestHash hex>, sk=CERT#<i 5 digits>#<j 3 digits>``: ``spdu`` (B: the
``AcaEeCertResponse{Plain,Private,Cubk}Spdu`` the ACA made for the device; the RA cannot read an
encrypted one) or ``refusal`` (the Table 8 code the ACA, or the RA's check of its answer, gave),
``acaRequestId`` (16 hex: HashedId8 of the ``RaAcaCertRequestSpdu``; the ``byAcaRequest`` index
finds (request, i, j) from an ACA request, for revocation) and ``expiresAt`` (Unix seconds, TTL).
The items share the partition of the request's ``REQ`` item, so one Query reads a batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ..errors import ScmsError
from .dynamo import DynamoTable
from .dynamo_batch import Sleep, batch_write

__all__ = ["DynamoDbIssuedCertStore", "FakeIssuedCertStore", "IssuedCert", "IssuedCertError", "IssuedCertStore"]

_I_MAX = 99_999
_J_MAX = 999


class IssuedCertError(ScmsError):
    """The RA table failed for delivered certificates in a way retrying will not fix (500)."""


@dataclass(frozen=True)
class IssuedCert:
    """What the ACA answered for (i, j) of a request: the response SPDU for the device, or a refusal code."""

    request_hash: bytes
    i: int
    j: int
    aca_request_id: str  # HashedId8 hex of the RaAcaCertRequestSpdu
    expires_at: int  # Unix seconds (TTL): past the end of the certificate's validity
    spdu: bytes | None = field(default=None, repr=False)
    refusal: str | None = None  # a Table 8 code (scms_codec.errors.ErrorCode value)

    def __post_init__(self) -> None:
        if (self.spdu is None) == (self.refusal is None):
            raise ValueError("spdu, refusal: exactly one is set")
        if not (0 <= self.i <= _I_MAX and 0 <= self.j <= _J_MAX):
            raise ValueError("i, j: out of the item key's range")


class IssuedCertStore(Protocol):
    """Delivered certificates and refusals by request and (i, j)."""

    def put_many(self, certs: Sequence[IssuedCert]) -> None:
        """Store ``certs`` (the same (i, j) again replaces it: a repeated delivery writes the same octets)."""
        ...

    def delivered(self, request_hash: bytes, i_first: int, i_last: int) -> set[tuple[int, int]]:
        """The (i, j) with an item (certificate or refusal), i in [i_first, i_last]."""
        ...

    def list(self, request_hash: bytes, i_first: int, i_last: int) -> list[IssuedCert]:
        """The items of i in [i_first, i_last] in (i, j) order, with their SPDUs."""
        ...

    def count(self, request_hash: bytes, i_first: int, i_last: int) -> int:
        """How many items (certificates and refusals) of i in [i_first, i_last] are stored."""
        ...


def _pk(request_hash: bytes) -> str:
    return f"REQ#{request_hash.hex()}"


def _sk(i: int, j: int) -> str:
    return f"CERT#{i:05d}#{j:03d}"


def _ij(sk: str) -> tuple[int, int]:
    _, i, j = sk.split("#")
    return int(i), int(j)


class DynamoDbIssuedCertStore(DynamoTable):
    """``IssuedCertStore`` on the ``RaTable`` (boto3 client injectable)."""

    settings_field = "ra_table"
    store_error = IssuedCertError
    table_label = "RA table"
    error_topic = "certificates"

    def __init__(self, table_name: str, client: Any | None = None, *, sleep: Sleep = time.sleep) -> None:
        super().__init__(table_name, client)
        self._sleep = sleep

    def put_many(self, certs: Sequence[IssuedCert]) -> None:
        unique = {(c.request_hash, c.i, c.j): c for c in certs}  # a batch may not name a key twice
        requests = []
        for cert in unique.values():
            item: dict[str, Any] = {
                "pk": {"S": _pk(cert.request_hash)},
                "sk": {"S": _sk(cert.i, cert.j)},
                "acaRequestId": {"S": cert.aca_request_id},
                "expiresAt": {"N": str(cert.expires_at)},
            }
            if cert.spdu is not None:
                item["spdu"] = {"B": cert.spdu}
            else:
                item["refusal"] = {"S": str(cert.refusal)}
            requests.append({"PutRequest": {"Item": item}})
        batch_write(self.client, self._table, requests, on_error=self.error, action="put", sleep=self._sleep)

    def _query(
        self, request_hash: bytes, i_first: int, i_last: int, projection: str | None, *, count: bool = False
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": {"S": _pk(request_hash)},
                ":lo": {"S": _sk(max(i_first, 0), 0)},
                ":hi": {"S": _sk(min(i_last, _I_MAX), _J_MAX)},
            },
            "ConsistentRead": True,
        }
        if projection is not None:
            kwargs["ProjectionExpression"] = projection
        if count:
            kwargs["Select"] = "COUNT"  # one {"n": Count} per page: no item travels
        items: list[dict[str, Any]] = []
        try:
            while True:
                out = self.client.query(**kwargs)
                items.extend(out.get("Items", []) if not count else [{"n": out.get("Count", 0)}])
                last = out.get("LastEvaluatedKey")
                if not last:
                    return items
                kwargs["ExclusiveStartKey"] = last
        except ClientError as exc:
            raise self.error(exc, "query") from exc

    def delivered(self, request_hash: bytes, i_first: int, i_last: int) -> set[tuple[int, int]]:
        if i_last < i_first:
            return set()
        return {_ij(item["sk"]["S"]) for item in self._query(request_hash, i_first, i_last, "sk")}

    def list(self, request_hash: bytes, i_first: int, i_last: int) -> list[IssuedCert]:
        if i_last < i_first:
            return []
        out = []
        for item in self._query(request_hash, i_first, i_last, None):
            i, j = _ij(item["sk"]["S"])
            spdu = bytes(item["spdu"]["B"]) if "spdu" in item else None
            refusal = item["refusal"]["S"] if "refusal" in item else None
            expires = int(item["expiresAt"]["N"])
            out.append(IssuedCert(request_hash, i, j, item["acaRequestId"]["S"], expires, spdu, refusal))
        return out

    def count(self, request_hash: bytes, i_first: int, i_last: int) -> int:
        if i_last < i_first:
            return 0
        return sum(int(page["n"]) for page in self._query(request_hash, i_first, i_last, None, count=True))


class FakeIssuedCertStore:
    """In-memory ``IssuedCertStore``."""

    def __init__(self) -> None:
        self.items: dict[tuple[bytes, int, int], IssuedCert] = {}
        self.writes = 0  # how many items were written, repeats included

    def put_many(self, certs: Sequence[IssuedCert]) -> None:
        for cert in certs:
            self.items[(cert.request_hash, cert.i, cert.j)] = cert
            self.writes += 1

    def delivered(self, request_hash: bytes, i_first: int, i_last: int) -> set[tuple[int, int]]:
        return {(i, j) for (h, i, j) in self.items if h == request_hash and i_first <= i <= i_last}

    def list(self, request_hash: bytes, i_first: int, i_last: int) -> list[IssuedCert]:
        keys = sorted(k for k in self.items if k[0] == request_hash and i_first <= k[1] <= i_last)
        return [self.items[k] for k in keys]

    def count(self, request_hash: bytes, i_first: int, i_last: int) -> int:
        return len(self.delivered(request_hash, i_first, i_last))
