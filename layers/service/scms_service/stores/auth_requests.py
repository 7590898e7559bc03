"""The RA's accepted authorization requests and their rate entries on ``RaTable`` (docs/architecture.md).

Items:
- ``pk=REQ#<requestHash hex>, sk=REQ``: one accepted ``EeRaCertRequestSpdu``, keyed by the HashedId8 of
  its bytes as received (protocol.md §3.3 step 3). It holds what the batch work needs (device,
  enrollment certificate, variant, the requested tbsCert as template, the caterpillar and expansion
  keys, the i-period range, jmax, the chain id the LAs know the device by) and the signed ack, so a
  replay is answered with the same octets and never creates a second record.
- ``pk=RARATE#<enrollmentCertId>#<psidSet>, sk=<generationTime 10 digits>#<requestHash hex>``: one
  accepted request, counted by generationTime for ra-maxReqs and ra-minWait (protocol.md §5.3),
  with ``expiresAt`` (Unix seconds, TTL) past the 7x24 h window.
- ``pk=DEVICE#<deviceId>, sk=REQUEST#<requestHash hex>`` (keys only, no TTL): the device's requests,
  one Query away, for revocation (protocol.md §3.6 step 2: every linkage chain of the device).

All three are written in one transaction, conditional on the request item being absent: of two
concurrent copies of the same bytes exactly one is stored. ``request_of_aca_request`` reads the
``byAcaRequest`` index of the delivered certificates (``stores.issued_certs``), which share the
request's partition: an ACA request's HashedId8 → the authorization request it was made for.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ..errors import Conflict, NotFound, ScmsError
from .aws_errors import is_condition_failure
from .dynamo import DynamoTable
from .request_claims import RateEntry, claim_items, consistent_get, rate_entries, rate_item, rate_key, transact

__all__ = [
    "AuthRequestStore",
    "DynamoDbAuthRequestStore",
    "FakeAuthRequestStore",
    "RateEntry",
    "RequestExists",
    "RequestNotFound",
    "RequestRecord",
    "RequestStatus",
    "StoreError",
]


class RequestStatus(StrEnum):
    """Where an accepted authorization request stands: ACCEPTED → GENERATING → DONE, or → FAILED (architecture.md)."""

    ACCEPTED = "ACCEPTED"
    GENERATING = "GENERATING"
    DONE = "DONE"
    FAILED = "FAILED"


ACA_REQUEST_INDEX = "byAcaRequest"


class RequestExists(Conflict):
    """A request with this hash is stored already (a replay or a concurrent copy): 409."""


class RequestNotFound(NotFound):
    """No accepted request has this hash (404)."""


class StoreError(ScmsError):
    """The RA table failed for a reason that retrying will not fix (500)."""


@dataclass(frozen=True)
class RequestRecord:
    """One accepted authorization request (the ``REQ`` item); key material is kept out of reprs."""

    request_hash: bytes
    device_id: str
    enrollment_cert_id: str  # HashedId8 hex of the enrollment certificate that signed it
    variant: str  # original | unified | compactUnified | encryptionKey | plain
    cert_type: str  # explicit | implicit
    # COER ToBeSignedCertificate as the EE requested it: appPermissions, region, verifyKeyIndicator.
    tbs_template: bytes = field(repr=False)
    # SEC 1 compressed points: the caterpillar (or EE) verification key A and, for ``original``, the
    # caterpillar encryption key H, for ``encryptionKey`` the response encryption key.
    caterpillar_key: bytes | None = field(repr=False)
    encryption_key: bytes | None = field(repr=False)
    signing_expansion: bytes | None = field(repr=False)  # ck (unified variants: the one expansion key)
    encryption_expansion: bytes | None = field(repr=False)  # ek (original only)
    first_i: int
    last_i: int
    certs_per_period: int
    chain_id: bytes = field(repr=False)  # 16 random octets: how the LAs know this device's chain
    psid_set: str  # the rate key's PSID/SSP set
    generation_time: int  # Time32 of the request
    status: RequestStatus
    ack: bytes = field(repr=False)  # the signed RaEeCertAckSpdu
    created_at: int  # Time32
    rate_expires_at: int  # Unix seconds: TTL of the rate entry
    status_reason: str | None = None  # FAILED: the error name and a short message (no secrets)
    updated_at: int | None = None  # Time32 of the last status change


class AuthRequestStore(Protocol):
    """Replay and rate state of the RA's authorization requests."""

    def get(self, request_hash: bytes) -> RequestRecord | None:
        """The accepted request, or None."""
        ...

    def put(self, record: RequestRecord) -> None:
        """Store ``record`` and its rate entry together; ``RequestExists`` if the hash is stored already."""
        ...

    def delete(self, record: RequestRecord) -> None:
        """Remove ``record`` and its rate entry (only if the stored item is this one: same chain id)."""
        ...

    def rate_entries(self, enrollment_cert_id: str, psid_set: str, *, since: int) -> list[RateEntry]:
        """Entries of that key with generationTime ≥ ``since``, oldest first."""
        ...

    def of_device(self, device_id: str) -> list[bytes]:
        """The hashes of every request the device made that is stored (in hash order)."""
        ...

    def request_of_aca_request(self, aca_request_id: bytes) -> bytes | None:
        """The request a delivered certificate's ``RaAcaCertRequestSpdu`` (by its HashedId8) was made for, or None."""
        ...

    def set_status(
        self,
        request_hash: bytes,
        status: RequestStatus,
        *,
        allowed_from: Collection[RequestStatus],
        reason: str | None = None,
        now: int,
    ) -> RequestRecord:
        """Move the request to ``status`` (the updated record); ``Conflict`` unless its status is in ``allowed_from``.

        ``RequestNotFound`` when no such request is stored. ``reason`` replaces the stored one (None removes it).
        """
        ...


def _req_key(request_hash: bytes) -> dict[str, Any]:
    return {"pk": {"S": f"REQ#{request_hash.hex()}"}, "sk": {"S": "REQ"}}


def _rate_pk(enrollment_cert_id: str, psid_set: str) -> str:
    return f"RARATE#{enrollment_cert_id}#{psid_set}"


def _device_key(record: RequestRecord) -> dict[str, Any]:
    return {"pk": {"S": f"DEVICE#{record.device_id}"}, "sk": {"S": f"REQUEST#{record.request_hash.hex()}"}}


def _rate_key(record: RequestRecord) -> dict[str, Any]:
    return rate_key(_rate_pk(record.enrollment_cert_id, record.psid_set), record.generation_time, record.request_hash)


_OPTIONAL_B = ("caterpillar_key", "encryption_key", "signing_expansion", "encryption_expansion")
_NAMES = {
    "caterpillar_key": "caterpillarKey",
    "encryption_key": "encryptionKey",
    "signing_expansion": "signingExpansion",
    "encryption_expansion": "encryptionExpansion",
}


def _record_item(record: RequestRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_req_key(record.request_hash),
        "deviceId": {"S": record.device_id},
        # Not "enrollmentCertId": that attribute puts an item into the byEnrollmentCert device index.
        "signerCertId": {"S": record.enrollment_cert_id},
        "variant": {"S": record.variant},
        "certType": {"S": record.cert_type},
        "tbsTemplate": {"B": record.tbs_template},
        "firstI": {"N": str(record.first_i)},
        "lastI": {"N": str(record.last_i)},
        "certsPerPeriod": {"N": str(record.certs_per_period)},
        "chainId": {"B": record.chain_id},
        "psidSet": {"S": record.psid_set},
        "generationTime": {"N": str(record.generation_time)},
        "status": {"S": record.status.value},
        "ack": {"B": record.ack},
        "createdAt": {"N": str(record.created_at)},
        "rateExpiresAt": {"N": str(record.rate_expires_at)},
    }
    for name in _OPTIONAL_B:
        value = getattr(record, name)
        if value is not None:
            item[_NAMES[name]] = {"B": value}
    if record.status_reason is not None:
        item["statusReason"] = {"S": record.status_reason}
    if record.updated_at is not None:
        item["updatedAt"] = {"N": str(record.updated_at)}
    return item


def _record_from_item(item: dict[str, Any]) -> RequestRecord:
    optional = {name: bytes(item[_NAMES[name]]["B"]) if _NAMES[name] in item else None for name in _OPTIONAL_B}
    return RequestRecord(
        request_hash=bytes.fromhex(item["pk"]["S"].removeprefix("REQ#")),
        device_id=item["deviceId"]["S"],
        enrollment_cert_id=item["signerCertId"]["S"],
        variant=item["variant"]["S"],
        cert_type=item["certType"]["S"],
        tbs_template=bytes(item["tbsTemplate"]["B"]),
        first_i=int(item["firstI"]["N"]),
        last_i=int(item["lastI"]["N"]),
        certs_per_period=int(item["certsPerPeriod"]["N"]),
        chain_id=bytes(item["chainId"]["B"]),
        psid_set=item["psidSet"]["S"],
        generation_time=int(item["generationTime"]["N"]),
        status=RequestStatus(item["status"]["S"]),
        ack=bytes(item["ack"]["B"]),
        created_at=int(item["createdAt"]["N"]),
        rate_expires_at=int(item["rateExpiresAt"]["N"]),
        status_reason=item["statusReason"]["S"] if "statusReason" in item else None,
        updated_at=int(item["updatedAt"]["N"]) if "updatedAt" in item else None,
        **optional,
    )


class DynamoDbAuthRequestStore(DynamoTable):
    """``AuthRequestStore`` on the ``RaTable`` (boto3 client injectable)."""

    settings_field = "ra_table"
    store_error = StoreError
    table_label = "RA table"

    def get(self, request_hash: bytes) -> RequestRecord | None:
        item = consistent_get(self, _req_key(request_hash), action="get")
        return None if item is None else _record_from_item(item)

    def put(self, record: RequestRecord) -> None:
        rate = rate_item(_rate_key(record), generation_time=record.generation_time, expires_at=record.rate_expires_at)
        transact(
            self,
            [
                *claim_items(self._table, _record_item(record), rate),
                # The device's list of requests (revocation): likewise.
                {"Put": {"TableName": self._table, "Item": _device_key(record)}},
            ],
            action="put",
            conflict=RequestExists("request stored already"),
        )

    def delete(self, record: RequestRecord) -> None:
        transact(
            self,
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _req_key(record.request_hash),
                        # Only our own item: its chain id was drawn by the attempt that stored it.
                        "ConditionExpression": "chainId = :chain",
                        "ExpressionAttributeValues": {":chain": {"B": record.chain_id}},
                    }
                },
                {"Delete": {"TableName": self._table, "Key": _rate_key(record)}},
                {"Delete": {"TableName": self._table, "Key": _device_key(record)}},
            ],
            action="delete",
            conflict=RequestExists("request item changed"),
        )

    def rate_entries(self, enrollment_cert_id: str, psid_set: str, *, since: int) -> list[RateEntry]:
        return rate_entries(self, _rate_pk(enrollment_cert_id, psid_set), since=since)

    def of_device(self, device_id: str) -> list[bytes]:
        items = self.query_all(
            "of_device",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :req)",
            ExpressionAttributeValues={":pk": {"S": f"DEVICE#{device_id}"}, ":req": {"S": "REQUEST#"}},
            ProjectionExpression="sk",
            # Strongly consistent: a request accepted just before the revocation is listed.
            ConsistentRead=True,
        )
        return [bytes.fromhex(item["sk"]["S"].removeprefix("REQUEST#")) for item in items]

    def request_of_aca_request(self, aca_request_id: bytes) -> bytes | None:
        try:
            # KEYS_ONLY index over the delivered certificates (pk=REQ#<requestHash>, sk=CERT#i#j).
            out = self.client.query(
                TableName=self._table,
                IndexName=ACA_REQUEST_INDEX,
                KeyConditionExpression="acaRequestId = :a",
                ExpressionAttributeValues={":a": {"S": aca_request_id.hex()}},
                Limit=1,
            )
        except ClientError as exc:
            raise self.error(exc, "request_of_aca_request") from exc
        items = out.get("Items", [])
        return bytes.fromhex(items[0]["pk"]["S"].removeprefix("REQ#")) if items else None

    def set_status(
        self,
        request_hash: bytes,
        status: RequestStatus,
        *,
        allowed_from: Collection[RequestStatus],
        reason: str | None = None,
        now: int,
    ) -> RequestRecord:
        allowed = sorted({RequestStatus(s).value for s in allowed_from})
        values: dict[str, Any] = {":status": {"S": status.value}, ":now": {"N": str(now)}}
        values.update({f":from{n}": {"S": v} for n, v in enumerate(allowed)})
        update = "SET #status = :status, updatedAt = :now"
        if reason is None:
            update += " REMOVE statusReason"
        else:
            update += ", statusReason = :reason"
            values[":reason"] = {"S": reason}
        from_list = ", ".join(f":from{n}" for n in range(len(allowed)))
        # Only an existing request whose current status may move to the new one: two tasks racing
        # (a retried plan and a fail, say) cannot overwrite each other's transition.
        if not allowed:
            raise ValueError("allowed_from: name at least one status")
        condition = f"attribute_exists(pk) AND #status IN ({from_list})"
        try:
            out = self.client.update_item(
                TableName=self._table,
                Key=_req_key(request_hash),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                # Which condition failed: read the item once (rare path) to say absent or in which status.
                old = self.get(request_hash)
                if old is None:
                    raise RequestNotFound("no such authorization request") from exc
                raise Conflict(f"request is {old.status.value}, not one of {allowed}") from exc
            raise self.error(exc, "set_status") from exc
        return _record_from_item(out["Attributes"])


class FakeAuthRequestStore:
    """In-memory ``AuthRequestStore`` with the same conditions as the DynamoDB adapter."""

    def __init__(self) -> None:
        self.requests: dict[bytes, RequestRecord] = {}
        self.rates: dict[tuple[str, str], dict[tuple[int, bytes], int]] = {}
        # What the byAcaRequest index holds on DynamoDB (the delivered certificates' acaRequestId):
        # tests that deliver certificates note them here (HashedId8 of the ACA request → request hash).
        self.aca_requests: dict[bytes, bytes] = {}

    def get(self, request_hash: bytes) -> RequestRecord | None:
        return self.requests.get(request_hash)

    def put(self, record: RequestRecord) -> None:
        if record.request_hash in self.requests:
            raise RequestExists("request stored already")
        self.requests[record.request_hash] = record
        key = (record.enrollment_cert_id, record.psid_set)
        self.rates.setdefault(key, {})[(record.generation_time, record.request_hash)] = record.rate_expires_at

    def delete(self, record: RequestRecord) -> None:
        current = self.requests.get(record.request_hash)
        if current is None or current.chain_id != record.chain_id:
            raise RequestExists("request item changed")
        del self.requests[record.request_hash]
        entries = self.rates.get((record.enrollment_cert_id, record.psid_set), {})
        entries.pop((record.generation_time, record.request_hash), None)
        if not entries:
            self.rates.pop((record.enrollment_cert_id, record.psid_set), None)

    def rate_entries(self, enrollment_cert_id: str, psid_set: str, *, since: int) -> list[RateEntry]:
        entries = self.rates.get((enrollment_cert_id, psid_set), {})
        found = sorted((g, h) for (g, h) in entries if g >= since)
        return [RateEntry(g, h) for g, h in found]

    def of_device(self, device_id: str) -> list[bytes]:
        return sorted(h for h, r in self.requests.items() if r.device_id == device_id)

    def request_of_aca_request(self, aca_request_id: bytes) -> bytes | None:
        return self.aca_requests.get(aca_request_id)

    def set_status(
        self,
        request_hash: bytes,
        status: RequestStatus,
        *,
        allowed_from: Collection[RequestStatus],
        reason: str | None = None,
        now: int,
    ) -> RequestRecord:
        current = self.requests.get(request_hash)
        if current is None:
            raise RequestNotFound("no such authorization request")
        if current.status not in allowed_from:
            raise Conflict(f"request is {current.status.value}, not one of {sorted(s.value for s in allowed_from)}")
        updated = replace(current, status=status, status_reason=reason, updated_at=now)
        self.requests[request_hash] = updated
        return updated
