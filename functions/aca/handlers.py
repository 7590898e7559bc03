"""The ACA's Lambda task handlers (``AcaFunction``): no HTTP route reaches the ACA (docs/architecture.md).

``issue_task`` is the task the RA's state machine calls with a batch of shuffled requests:
event ``{"requests": [<base64 RaAcaCertRequestSpdu>, ...]}`` → ``{"responses": [<base64
AcaRaCertResponseSpdu> or null, ...], "refused": [{"index": i, "code": "400-xx"}, ...]}``,
``responses`` aligned with ``requests`` (null where refused). The use case is ``scms_aca.issue``.
A malformed event raises ``InvalidTaskInput``; a busy table ``TransientStoreError`` (ASL Retry).

``lookup_task`` (``AcaLookupFunction``, invoked by the MA; protocol.md §3.6 step 1): event
``{"certIds": ["<16 hex HashedId8 of an issued certificate>", ...]}`` (1..100) → ``{"found":
[{"certId", "acaRequestId": "<16 hex HashedId8 of the RaAcaCertRequestSpdu>"}], "missing":
[certId, ...]}``; or ``{"acaRequests": ["<16 hex HashedId8 of an RaAcaCertRequestSpdu>", ...]}``
(1..100; the RA's requests for a revoked device's non-butterfly certificates) → ``{"found":
[{"acaRequest", "hashedId10": "<20 hex>", "expiry": Time32}], "missing": [acaRequest, ...]}``
(requests answered with a butterfly certificate, unknown or expired ones are missing). Exactly one
of the two keys; ``correlationId`` (the MA's revocation id) is optional and only logged. The use
case is ``scms_aca.lookup``; it reads only the ``byCertId`` and ``byHashCrl`` indexes.
"""

from __future__ import annotations

import base64
import binascii
import functools
from typing import Any

from aws_lambda_powertools import Logger
from scms_aca.issue import IssueResult, issue_batch
from scms_aca.lookup import InvalidLookup, hash_entries, lookup, parse_aca_requests, parse_cert_ids
from scms_aca.wiring import policy_for, ra_certificates
from scms_service import aws, observability
from scms_service.config import Settings, load_settings
from scms_service.health import answers_health, batch_table_check, ca_query_check, index_check
from scms_service.hierarchy import Hierarchy
from scms_service.linkage_keys import la_aca_keyring
from scms_service.stores.aca_responses import DynamoDbAcaResponseStore
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault

from scms_codec import time32
from scms_codec.errors import ErrorCode
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu import request_hash

logger = Logger(service="aca")
tracer = observability.task_tracer("aca")


class InvalidTaskInput(ValueError):
    """The event does not fit its task (an ASL / caller error name: a bug upstream, not retried)."""


@functools.cache
def settings() -> Settings:
    """Read once per process (cold start), style.md 14."""
    return load_settings()


class _Aca:
    """The hierarchy and the LA-ACA keys, loaded on first use and kept for the container's life."""

    @functools.cached_property
    def vault(self) -> SecretsManagerKeyVault:
        return SecretsManagerKeyVault.from_settings(settings())

    @functools.cached_property
    def hierarchy(self) -> Hierarchy:
        return Hierarchy.load(DynamoDbCaStore.from_settings(settings()), self.vault)

    @functools.cached_property
    def linkage_keys(self) -> Keyring:
        return la_aca_keyring(settings(), self.vault)


_aca = _Aca()


def _requests(event: Any) -> list[bytes | None]:
    """Each request's octets, or None for an entry that is not base64 (refused as unparsable)."""
    if not isinstance(event, dict) or not isinstance(event.get("requests"), list):
        raise InvalidTaskInput('event: expected {"requests": [<base64>, ...]}')
    out: list[bytes | None] = []
    for entry in event["requests"]:
        if not isinstance(entry, str):
            raise InvalidTaskInput("event.requests: every entry is a base64 string")
        try:
            out.append(base64.b64decode(entry, validate=True))
        except (binascii.Error, ValueError):
            out.append(None)
    return out


@answers_health("aca", lambda: {  # its role: BatchGetItem on AcaTable, Query on CaTable
    "table": batch_table_check(aws.client("dynamodb"), settings().aca_table),
    "ca": ca_query_check(DynamoDbCaStore.from_settings(settings()), "aca"),
})  # fmt: skip
@observability.trace_handler(tracer)
def issue_task(event: Any, context: Any) -> dict[str, Any]:
    """Answer a batch of RaAcaCertRequestSpdus (1609.2.1 §6.3.5, protocol.md §3.3 "ACA (per request)")."""
    requests = _requests(event)
    valid = [r for r in requests if r is not None]
    s = settings()
    hierarchy = _aca.hierarchy
    now = time32.now()
    issued = observability.IssuedCertificates()
    results = iter(
        _issue_batch(
            valid,
            aca=hierarchy.signer("aca"),
            ra_certificate_resolver=ra_certificates(hierarchy, now=now),
            plv_keys=_aca.linkage_keys,
            now=now,
            policy=policy_for(s, hierarchy),
            responses=DynamoDbAcaResponseStore.from_settings(s),
            on_issued=issued.add,
        )
    )
    answered: list[IssueResult] = [
        next(results) if r is not None else IssueResult(b"", None, ErrorCode.FAILED_PARSING) for r in requests
    ]
    responses = [None if r.response is None else base64.b64encode(r.response).decode("ascii") for r in answered]
    refused = [{"index": i, "code": r.refusal.value} for i, r in enumerate(answered) if r.refusal is not None]
    logger.info(
        "batch answered",
        extra={"requests": len(requests), "refused": len(refused), "first_request": _first_hash(valid)},
    )
    issued.publish()  # CertificatesIssued by response kind and type: nothing that names a device
    return {"responses": responses, "refused": refused}


# The use case, traced: one subsegment around the whole batch (its answer is never recorded).
_issue_batch = observability.trace_use_case(tracer)(issue_batch)


def _first_hash(requests: list[bytes]) -> str | None:
    # A correlation handle for the log: the request hash, which names no device.
    return request_hash(requests[0]).hex() if requests else None


@answers_health("aca-lookup", lambda: {  # its role: Query on the byCertId and byHashCrl indexes only
    "table": index_check(aws.client("dynamodb"), settings().aca_table, "byCertId", "certId"),
})  # fmt: skip
@observability.trace_handler(tracer)
def lookup_task(event: Any, context: Any) -> dict[str, Any]:
    """Which request each certificate answered, or which hash CRL entries requests need (protocol.md §3.6, §3.5)."""
    if not isinstance(event, dict) or len({"certIds", "acaRequests"} & set(event)) != 1:
        raise InvalidTaskInput('event: expected {"certIds": [<16 hex>, ...]} or {"acaRequests": [<16 hex>, ...]}')
    logger.set_correlation_id(observability.task_correlation_id(event))
    responses = DynamoDbAcaResponseStore.from_settings(settings())
    if "acaRequests" in event:
        return _hash_entries(event["acaRequests"], responses)
    try:
        cert_ids = parse_cert_ids(event.get("certIds"))
    except InvalidLookup as exc:
        raise InvalidTaskInput(str(exc)) from None
    result = lookup(cert_ids, responses=responses)
    # Counts only: a certificate id beside its request hash is what this answer is for, not for a log.
    logger.info("certificates looked up", extra={"asked": len(cert_ids), "found": len(result.found)})
    return {
        "found": [{"certId": c.hex(), "acaRequestId": r.hex()} for c, r in result.found],
        "missing": [c.hex() for c in result.missing],
    }


def _hash_entries(value: Any, responses: DynamoDbAcaResponseStore) -> dict[str, Any]:
    """The ``acaRequests`` question: the hash CRL entries of a revoked device's non-butterfly certificates."""
    try:
        aca_requests = parse_aca_requests(value)
    except InvalidLookup as exc:
        raise InvalidTaskInput(str(exc)) from None
    result = hash_entries(aca_requests, responses=responses)
    # Counts only, as above: which requests are one device's is the MA's to know, not the log's.
    logger.info("hash CRL entries looked up", extra={"asked": len(aca_requests), "found": len(result.found)})
    return {
        "found": [
            {"acaRequest": r.hex(), "hashedId10": e.hashed_id10.hex(), "expiry": e.expiry} for r, e in result.found
        ],
        "missing": [r.hex() for r in result.missing],
    }
