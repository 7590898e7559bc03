"""The CRL generator's entries and issued CRLs on ``CrlTable`` (docs/architecture.md "CRL generator").

Items (protocol.md §3.5, §4.6):
- linked entry ``pk=LINKED, sk=<16 hex of SHA-256(la1Id ‖ la2Id ‖ seed1 ‖ seed2 ‖ iSeed (4 octets))>``
  (``la1Id``, ``la2Id`` (S, 4 hex), ``seed1``, ``seed2`` (B, 16 octets), ``iSeed``, ``jMax``, ``iMax``,
  ``revocationId``, ``createdAt``);
- hash entry ``pk=HASHED, sk=<HashedId10 hex>`` (``expiry``, ``revocationId``);
- issued CRL ``pk=CRL#<craca hex>#<series>, sk=SERIAL#<10 digits>`` and the same attributes under
  ``sk=LATEST`` and under ``pk=LATEST, sk=<craca hex>#<series 10 digits>`` (so ``latest_all`` is one
  query, not a scan over the entries): ``craca``, ``series``, ``crlSerial``, ``issueDate``,
  ``nextCrl``, ``s3Key``, ``entriesDigest`` (and a linked CRL's ``iRev``, ``indexWithinI``).
Entries and serial items are put once (conditional) and never changed; the LATEST copies move only
forwards. Seeds are secrets until published: never in a repr, a log or an error message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ..errors import ScmsError
from .aws_errors import is_condition_failure
from .dynamo import DynamoTable

__all__ = [
    "CrlEntryStore",
    "CrlRecord",
    "CrlSerialTaken",
    "CrlStoreError",
    "DynamoDbCrlEntryStore",
    "HashedEntry",
    "InMemoryCrlEntryStore",
    "LinkedEntry",
    "linked_entry_id",
]


class CrlStoreError(ScmsError):
    """The CRL table failed for a reason that retrying will not fix (500)."""


class CrlSerialTaken(ScmsError):
    """``put_crl``: this (CRACA, series) has a CRL with this serial or a later one already (a concurrent publish)."""

    HTTP_STATUS = 409


@dataclass(frozen=True)
class LinkedEntry:
    """A linked CRL entry: both LAs' seeds of one chain at ``i_seed`` (1609.2 §5.1.3.4, protocol.md §4.6).

    ``la1_id``/``la2_id`` are the 2-octet ``LaId``s, ``seed1``/``seed2`` the 16-octet seeds ls(i_seed);
    ``j_max`` the chain's certificates per period, ``i_max`` its last period.
    """

    la1_id: bytes
    la2_id: bytes
    seed1: bytes = field(repr=False)
    seed2: bytes = field(repr=False)
    i_seed: int
    j_max: int
    i_max: int
    revocation_id: str
    created_at: int

    @property
    def entry_id(self) -> str:
        return linked_entry_id(self.la1_id, self.la2_id, self.seed1, self.seed2, self.i_seed)


@dataclass(frozen=True)
class HashedEntry:
    """A hash CRL entry: HashedId10 of a certificate and its validity end (Time32), 1609.2 §7.3."""

    hashed_id10: bytes
    expiry: int
    revocation_id: str


@dataclass(frozen=True)
class CrlRecord:
    """One issued CRL of a (CRACA, series): where its octets are and what it covered."""

    craca: bytes
    series: int
    crl_serial: int
    issue_date: int
    next_crl: int
    s3_key: str
    entries_digest: str
    i_rev: int | None = None
    """A linked CRL's iRev and indexWithinI (1609.2 §7.3.3), so the next CRL can count within the period."""
    index_within_i: int | None = None


def linked_entry_id(la1_id: bytes, la2_id: bytes, seed1: bytes, seed2: bytes, i_seed: int) -> str:
    """The entry's sort key: first 16 hex of SHA-256(la1Id ‖ la2Id ‖ seed1 ‖ seed2 ‖ iSeed as Uint32)."""
    material = bytes(la1_id) + bytes(la2_id) + bytes(seed1) + bytes(seed2) + int(i_seed).to_bytes(4, "big")
    return hashlib.sha256(material).hexdigest()[:16]


class CrlEntryStore(Protocol):
    """Entries put once; issued CRLs by serial, and the latest per (CRACA, series)."""

    def add_linked(self, entries: Sequence[LinkedEntry]) -> int:
        """Store the entries not stored yet; the number of new ones."""
        ...

    def add_hashed(self, entries: Sequence[HashedEntry]) -> int:
        """Store the entries not stored yet (by HashedId10); the number of new ones."""
        ...

    def linked(self) -> list[LinkedEntry]: ...

    def hashed(self) -> list[HashedEntry]: ...

    def put_crl(self, record: CrlRecord) -> None:
        """Record an issued CRL and make it the latest; ``CrlSerialTaken`` unless its serial is new and later."""
        ...

    def latest(self, craca: bytes, series: int) -> CrlRecord | None: ...

    def latest_all(self) -> list[CrlRecord]: ...


def _crl_pk(craca: bytes, series: int) -> str:
    return f"CRL#{craca.hex()}#{series}"


def _latest_index_key(craca: bytes, series: int) -> dict[str, Any]:
    return {"pk": {"S": "LATEST"}, "sk": {"S": f"{craca.hex()}#{series:010d}"}}


def _linked_item(e: LinkedEntry) -> dict[str, Any]:
    return {
        "pk": {"S": "LINKED"},
        "sk": {"S": e.entry_id},
        "la1Id": {"S": e.la1_id.hex()},
        "la2Id": {"S": e.la2_id.hex()},
        "seed1": {"B": bytes(e.seed1)},
        "seed2": {"B": bytes(e.seed2)},
        "iSeed": {"N": str(e.i_seed)},
        "jMax": {"N": str(e.j_max)},
        "iMax": {"N": str(e.i_max)},
        "revocationId": {"S": e.revocation_id},
        "createdAt": {"N": str(e.created_at)},
    }


def _linked_from(item: dict[str, Any]) -> LinkedEntry:
    return LinkedEntry(
        la1_id=bytes.fromhex(item["la1Id"]["S"]),
        la2_id=bytes.fromhex(item["la2Id"]["S"]),
        seed1=bytes(item["seed1"]["B"]),
        seed2=bytes(item["seed2"]["B"]),
        i_seed=int(item["iSeed"]["N"]),
        j_max=int(item["jMax"]["N"]),
        i_max=int(item["iMax"]["N"]),
        revocation_id=item["revocationId"]["S"],
        created_at=int(item["createdAt"]["N"]),
    )


def _hashed_item(e: HashedEntry) -> dict[str, Any]:
    return {
        "pk": {"S": "HASHED"},
        "sk": {"S": bytes(e.hashed_id10).hex()},
        "expiry": {"N": str(e.expiry)},
        "revocationId": {"S": e.revocation_id},
    }


def _hashed_from(item: dict[str, Any]) -> HashedEntry:
    return HashedEntry(bytes.fromhex(item["sk"]["S"]), int(item["expiry"]["N"]), item["revocationId"]["S"])


def _crl_attributes(r: CrlRecord) -> dict[str, Any]:
    linked = {} if r.i_rev is None else {"iRev": {"N": str(r.i_rev)}, "indexWithinI": {"N": str(r.index_within_i or 0)}}
    return {
        **linked,
        "craca": {"S": r.craca.hex()},
        "series": {"N": str(r.series)},
        "crlSerial": {"N": str(r.crl_serial)},
        "issueDate": {"N": str(r.issue_date)},
        "nextCrl": {"N": str(r.next_crl)},
        "s3Key": {"S": r.s3_key},
        "entriesDigest": {"S": r.entries_digest},
    }


def _crl_from(item: dict[str, Any]) -> CrlRecord:
    return CrlRecord(
        craca=bytes.fromhex(item["craca"]["S"]),
        series=int(item["series"]["N"]),
        crl_serial=int(item["crlSerial"]["N"]),
        issue_date=int(item["issueDate"]["N"]),
        next_crl=int(item["nextCrl"]["N"]),
        s3_key=item["s3Key"]["S"],
        entries_digest=item["entriesDigest"]["S"],
        i_rev=int(item["iRev"]["N"]) if "iRev" in item else None,
        index_within_i=int(item["indexWithinI"]["N"]) if "indexWithinI" in item else None,
    )


def _check_linked(e: LinkedEntry) -> None:
    if len(e.la1_id) != 2 or len(e.la2_id) != 2 or len(e.seed1) != 16 or len(e.seed2) != 16:
        raise ValueError("linked entry: LaId must be 2 octets and seeds 16")


def _check_hashed(e: HashedEntry) -> None:
    if len(e.hashed_id10) != 10:
        raise ValueError("hash entry: HashedId10 must be 10 octets")


class DynamoDbCrlEntryStore(DynamoTable):
    """``CrlEntryStore`` on ``CrlTable`` (boto3 client injectable)."""

    settings_field = "crl_table"
    store_error = CrlStoreError
    table_label = "CRL table"

    def add_linked(self, entries: Sequence[LinkedEntry]) -> int:
        for e in entries:
            _check_linked(e)
        return sum(self._put_once(_linked_item(e), "add linked entry") for e in entries)

    def add_hashed(self, entries: Sequence[HashedEntry]) -> int:
        for e in entries:
            _check_hashed(e)
        return sum(self._put_once(_hashed_item(e), "add hash entry") for e in entries)

    def linked(self) -> list[LinkedEntry]:
        return [_linked_from(i) for i in self._query("LINKED", "list linked entries")]

    def hashed(self) -> list[HashedEntry]:
        return [_hashed_from(i) for i in self._query("HASHED", "list hash entries")]

    def put_crl(self, record: CrlRecord) -> None:
        attributes = _crl_attributes(record)
        pk = _crl_pk(record.craca, record.series)
        newer = "attribute_not_exists(pk) OR crlSerial < :serial"
        serial = {":serial": {"N": str(record.crl_serial)}}
        items = [
            # The serial is new: two publishers never issue two CRLs under one serial.
            {"Put": {"TableName": self._table,
                     "Item": {"pk": {"S": pk}, "sk": {"S": f"SERIAL#{record.crl_serial:010d}"}, **attributes},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            # The latest only moves forwards: a late writer of an older serial does not replace a newer CRL.
            {"Put": {"TableName": self._table, "Item": {"pk": {"S": pk}, "sk": {"S": "LATEST"}, **attributes},
                     "ConditionExpression": newer, "ExpressionAttributeValues": serial}},
            # Its copy in the index of all latest CRLs, under the same rule.
            {"Put": {"TableName": self._table,
                     "Item": {**_latest_index_key(record.craca, record.series), **attributes},
                     "ConditionExpression": newer, "ExpressionAttributeValues": serial}},
        ]  # fmt: skip
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if is_condition_failure(exc):
                raise CrlSerialTaken(f"CRL series {record.series}: serial {record.crl_serial} is not new") from exc
            raise self.error(exc, "put CRL") from exc

    def latest(self, craca: bytes, series: int) -> CrlRecord | None:
        try:
            out = self.client.get_item(
                TableName=self._table,
                Key={"pk": {"S": _crl_pk(craca, series)}, "sk": {"S": "LATEST"}},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise self.error(exc, "get latest CRL") from exc
        item = out.get("Item")
        return None if item is None else _crl_from(item)

    def latest_all(self) -> list[CrlRecord]:
        return [_crl_from(i) for i in self._query("LATEST", "list latest CRLs")]

    def _put_once(self, item: dict[str, Any], action: str) -> int:
        try:
            # Once: an entry is never changed, so a repeated revocation adds nothing.
            self.client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if is_condition_failure(exc):
                return 0
            raise self.error(exc, action) from exc
        return 1

    def _query(self, pk: str, action: str) -> Iterator[dict[str, Any]]:
        return self.query_all(
            action, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}, ConsistentRead=True
        )


class InMemoryCrlEntryStore:
    """In-memory ``CrlEntryStore`` with the adapter's once-only and forwards-only conditions."""

    def __init__(self) -> None:
        self._linked: dict[str, LinkedEntry] = {}
        self._hashed: dict[bytes, HashedEntry] = {}
        self.crls: dict[tuple[bytes, int, int], CrlRecord] = {}
        self._latest: dict[tuple[bytes, int], CrlRecord] = {}

    def __repr__(self) -> str:
        return f"InMemoryCrlEntryStore(linked={len(self._linked)}, hashed={len(self._hashed)}, crls={len(self.crls)})"

    def add_linked(self, entries: Sequence[LinkedEntry]) -> int:
        new = 0
        for e in entries:
            _check_linked(e)
            if e.entry_id not in self._linked:
                self._linked[e.entry_id] = e
                new += 1
        return new

    def add_hashed(self, entries: Sequence[HashedEntry]) -> int:
        new = 0
        for e in entries:
            _check_hashed(e)
            if bytes(e.hashed_id10) not in self._hashed:
                self._hashed[bytes(e.hashed_id10)] = e
                new += 1
        return new

    def linked(self) -> list[LinkedEntry]:
        return [self._linked[k] for k in sorted(self._linked)]

    def hashed(self) -> list[HashedEntry]:
        return [self._hashed[k] for k in sorted(self._hashed)]

    def put_crl(self, record: CrlRecord) -> None:
        key = (record.craca, record.series)
        current = self._latest.get(key)
        if (*key, record.crl_serial) in self.crls or (current is not None and current.crl_serial >= record.crl_serial):
            raise CrlSerialTaken(f"CRL series {record.series}: serial {record.crl_serial} is not new")
        self.crls[(*key, record.crl_serial)] = record
        self._latest[key] = record

    def latest(self, craca: bytes, series: int) -> CrlRecord | None:
        return self._latest.get((craca, series))

    def latest_all(self) -> list[CrlRecord]:
        return [self._latest[k] for k in sorted(self._latest)]
