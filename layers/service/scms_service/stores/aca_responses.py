"""The ACA's answered requests on ``AcaTable`` (docs/architecture.md "ACA issuance"): one response per request, ever.

Item ``pk=REQ#<requestHash hex>, sk=REQ`` with ``response`` (the signed ``AcaRaCertResponseSpdu``),
``certId`` (16 hex: the HashedId8 of the certificate it carries, indexed by the KEYS_ONLY GSI
``byCertId``) and ``expiresAt`` (Unix seconds, the table's TTL attribute: at least the certificate's
validity end + 7 days, so a certificate stays revocable for its whole life). The key is the HashedId8
of the ``RaAcaCertRequestSpdu`` as received (protocol.md §4.1), so a retried request finds the answer
it already got: the first stored response wins and a second, different certificate is never handed
out for the same request. ``lookup`` answers the revocation question "which request did this
certificate answer" (protocol.md §3.6 step 1). An answer whose certificate carries no linkage data
(non-butterfly: it goes on the hash CRL, protocol.md §3.5) also holds ``crlHash`` (20 hex: its
HashedId10) and ``validUntil`` (Time32: its validity end), indexed by the sparse GSI ``byHashCrl``
(pk, crlHash; INCLUDE validUntil): ``hash_entries`` answers "which hash CRL entry does the
certificate of this request need" without reading a response. Nothing else is stored: the ACA
knows no device (issue #5 §4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ..errors import ScmsError, TransientStoreError
from .dynamo import DynamoTable

__all__ = [
    "AcaAnswer",
    "AcaResponseStore",
    "AcaStoreError",
    "DynamoDbAcaResponseStore",
    "FakeAcaResponseStore",
    "HashCrlEntry",
]

# DynamoDB limits: 100 keys per BatchGetItem, 100 items per TransactWriteItems.
_BATCH = 100
_MAX_UNPROCESSED_ROUNDS = 8
CERT_ID_INDEX = "byCertId"
HASH_CRL_INDEX = "byHashCrl"


class AcaStoreError(ScmsError):
    """The ACA table failed for a reason that retrying will not fix (500)."""


@dataclass(frozen=True)
class AcaAnswer:
    """One answer to store: the signed response, the HashedId8 of the certificate in it, and its TTL."""

    response: bytes = field(repr=False)  # COER AcaRaCertResponseSpdu
    cert_id: bytes  # HashedId8 (8 octets) of the issued certificate's COER
    expires_at: int  # Unix seconds (TTL)
    # Only for a certificate without linkage data (it goes on the hash CRL): its entry there.
    hash_crl: HashCrlEntry | None = None

    def __post_init__(self) -> None:
        if len(self.cert_id) != 8:
            raise ValueError("cert_id: a HashedId8 is 8 octets")
        if self.hash_crl is not None and self.hash_crl.hashed_id10[-8:] != self.cert_id:
            raise ValueError("hash_crl: the HashedId10 of another certificate")


@dataclass(frozen=True)
class HashCrlEntry:
    """What a hash CRL entry of a non-butterfly certificate needs (1609.2 §7.3.3 HashBasedRevocationInfo)."""

    hashed_id10: bytes  # the low 10 octets of the SHA-256 of the certificate's COER
    expiry: int  # Time32: the certificate's validity end

    def __post_init__(self) -> None:
        if len(self.hashed_id10) != 10:
            raise ValueError("hashed_id10: a HashedId10 is 10 octets")


class AcaResponseStore(Protocol):
    """Responses by request hash: read many, write many, never overwrite; request hashes by certificate id."""

    def get_many(self, request_hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        """The stored response of each hash that has one (absent hashes are left out)."""
        ...

    def put_many(self, answers: Mapping[bytes, AcaAnswer]) -> dict[bytes, bytes]:
        """Store each answer unless its hash has one already; return the response stored for every hash given.

        For a hash answered before (by an earlier attempt or a concurrent one), the returned value
        is that earlier response, not the one passed in.
        """
        ...

    def lookup(self, cert_ids: Sequence[bytes]) -> dict[bytes, bytes]:
        """The request hash each certificate id (HashedId8) answered; ids never issued (or expired) are left out."""
        ...

    def hash_entries(self, request_hashes: Sequence[bytes]) -> dict[bytes, HashCrlEntry]:
        """The hash CRL entry of each request's certificate, for non-butterfly certificates only.

        Requests never answered, expired, or answered with a certificate that carries linkage data
        (the linked CRL revokes those) are left out.
        """
        ...


def _key(request_hash: bytes) -> dict[str, Any]:
    return {"pk": {"S": f"REQ#{request_hash.hex()}"}, "sk": {"S": "REQ"}}


def _hash_of(item: Mapping[str, Any]) -> bytes:
    return bytes.fromhex(str(item["pk"]["S"]).removeprefix("REQ#"))


class DynamoDbAcaResponseStore(DynamoTable):
    """``AcaResponseStore`` on the ``AcaTable`` (boto3 client injectable)."""

    settings_field = "aca_table"
    store_error = AcaStoreError
    table_label = "ACA table"

    def get_many(self, request_hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        unique = list(dict.fromkeys(request_hashes))
        for start in range(0, len(unique), _BATCH):
            # Strongly consistent: a retry right after the first answer must see its item.
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [_key(h) for h in unique[start : start + _BATCH]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "pk, #r",
                    "ExpressionAttributeNames": {"#r": "response"},
                }
            }
            for _ in range(_MAX_UNPROCESSED_ROUNDS):
                try:
                    out = self.client.batch_get_item(RequestItems=pending)
                except ClientError as exc:
                    raise self.error(exc, "get_many") from exc
                for item in out.get("Responses", {}).get(self._table, []):
                    found[_hash_of(item)] = bytes(item["response"]["B"])
                pending = out.get("UnprocessedKeys") or {}
                if not pending:
                    break
            else:
                raise TransientStoreError("ACA table busy during get_many (keys left unprocessed)")
        return found

    def put_many(self, answers: Mapping[bytes, AcaAnswer]) -> dict[bytes, bytes]:
        stored: dict[bytes, bytes] = {}
        hashes = list(answers)
        for start in range(0, len(hashes), _BATCH):
            todo = hashes[start : start + _BATCH]
            while todo:
                taken = self._put_chunk(todo, answers)
                if taken is None:
                    stored.update({h: answers[h].response for h in todo})
                    break
                # Hashes answered before keep their first response; write the others again.
                stored.update(self.get_many(taken))
                lost = [h for h in taken if h not in stored]
                if lost:
                    # The item existed at the write but is gone now (TTL): an answer we cannot give twice.
                    raise AcaStoreError("ACA table lost an answered request between write and read")
                todo = [h for h in todo if h not in stored]
        return stored

    def _put_chunk(self, hashes: list[bytes], answers: Mapping[bytes, AcaAnswer]) -> list[bytes] | None:
        """Put every item in one transaction; None on success, else the hashes whose item already exists."""
        items = [
            {
                "Put": {
                    "TableName": self._table,
                    # certId rides on the item the issue path writes anyway: no extra call per certificate.
                    "Item": {
                        **_key(h),
                        "response": {"B": answers[h].response},
                        "certId": {"S": answers[h].cert_id.hex()},
                        "expiresAt": {"N": str(answers[h].expires_at)},
                        **_hash_crl_attributes(answers[h].hash_crl),
                    },
                    # First answer only: a request already answered keeps its response (and certificate).
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for h in hashes
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise self.error(exc, "put_many") from exc
            reasons = exc.response.get("CancellationReasons") or []
            taken = [h for h, r in zip(hashes, reasons, strict=False) if r.get("Code") == "ConditionalCheckFailed"]
            if not taken:
                # Cancelled for another reason (a conflict with a concurrent transaction): retry later.
                raise self.error(exc, "put_many") from exc
            return taken
        return None

    def lookup(self, cert_ids: Sequence[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        for cert_id in dict.fromkeys(cert_ids):
            try:
                # The GSI (KEYS_ONLY) holds pk, sk and certId: the request hash is in pk. A GSI read is
                # eventually consistent, which revocation (long after issuance) can live with.
                out = self.client.query(
                    TableName=self._table,
                    IndexName=CERT_ID_INDEX,
                    KeyConditionExpression="certId = :c",
                    ExpressionAttributeValues={":c": {"S": cert_id.hex()}},
                    Limit=1,
                )
            except ClientError as exc:
                raise self.error(exc, "lookup") from exc
            items = out.get("Items", [])
            if items:
                found[cert_id] = _hash_of(items[0])
        return found

    def hash_entries(self, request_hashes: Sequence[bytes]) -> dict[bytes, HashCrlEntry]:
        found: dict[bytes, HashCrlEntry] = {}
        for request_hash in dict.fromkeys(request_hashes):
            try:
                # The sparse index holds only answers with crlHash (no linkage data) and projects
                # validUntil beside the keys: never the response. Eventually consistent, as lookup.
                out = self.client.query(
                    TableName=self._table,
                    IndexName=HASH_CRL_INDEX,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": _key(request_hash)["pk"]},
                    Limit=1,
                )
            except ClientError as exc:
                raise self.error(exc, "hash_entries") from exc
            items = out.get("Items", [])
            if items:
                item = items[0]
                found[request_hash] = HashCrlEntry(bytes.fromhex(item["crlHash"]["S"]), int(item["validUntil"]["N"]))
        return found


def _hash_crl_attributes(entry: HashCrlEntry | None) -> dict[str, Any]:
    """``crlHash`` and ``validUntil`` of a non-butterfly answer (they put its item in ``byHashCrl``)."""
    if entry is None:
        return {}
    return {"crlHash": {"S": entry.hashed_id10.hex()}, "validUntil": {"N": str(entry.expiry)}}


class FakeAcaResponseStore:
    """In-memory ``AcaResponseStore`` with the same first-answer-wins condition as the DynamoDB adapter."""

    def __init__(self) -> None:
        self.items: dict[bytes, AcaAnswer] = {}  # requestHash → the first answer stored

    def get_many(self, request_hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        return {h: self.items[h].response for h in request_hashes if h in self.items}

    def put_many(self, answers: Mapping[bytes, AcaAnswer]) -> dict[bytes, bytes]:
        for h, answer in answers.items():
            self.items.setdefault(h, answer)
        return {h: self.items[h].response for h in answers}

    def lookup(self, cert_ids: Sequence[bytes]) -> dict[bytes, bytes]:
        by_cert = {a.cert_id: h for h, a in self.items.items()}
        return {c: by_cert[c] for c in cert_ids if c in by_cert}

    def hash_entries(self, request_hashes: Sequence[bytes]) -> dict[bytes, HashCrlEntry]:
        return {h: entry for h in request_hashes if h in self.items if (entry := self.items[h].hash_crl) is not None}
