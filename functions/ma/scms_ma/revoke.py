"""``POST /manage/v1/revocations``: revoke a device by report, certificate, enrollment certificate or id.

Separation of duties (protocol.md §3.6, docs/architecture.md "Revocation and trust distribution"):
the ACA turns a certificate into the request it answered, the RA that request (or an enrollment
certificate, or a device id) into a Revoked device and its chains' opaque ids plus its enrollment
certificate hashes and the ACA requests of its non-butterfly certificates, the ACA those requests
into the certificates' HashedId10s, LA1/LA2 each chain id into its seed at the current i-period.
The MA writes a linked CRL entry per chain and a hash entry per enrollment or non-butterfly
certificate to the CRL store and asks the CRL generator to publish. Every step is idempotent, so a
revocation that failed half-way completes when sent again; the record is written last, once. Every
callee's event carries the revocation id as its correlation id. NEW reports whose suspect the new
entries cover become REVOKED by this revocation (``covered``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from scms_service.errors import BadRequest, NotFound
from scms_service.iperiod import IPeriods
from scms_service.stores.crl_entries import HashedEntry, LinkedEntry
from scms_service.stores.devices import DEVICE_ID_PATTERN
from scms_service.stores.ma_records import MaRecordStore, RevocationRecord

from scms_codec.cert.certificate import Certificate
from scms_codec.crypto.hashing import hashed_id10
from scms_codec.errors import CodecError

from .authorities import (
    AcaLookup,
    AuthorityFailed,
    ChainNotIssued,
    CrlPublisher,
    LaSeed,
    LaSeeds,
    RaRevocation,
    RaRevoker,
    TargetNotFound,
)
from .covered import mark_covered_reports

__all__ = [
    "Authorities",
    "CrlEntrySink",
    "HashedEntry",
    "LinkedEntry",
    "RevocationRequest",
    "parse_revocation",
    "revocation_id",
    "revoke",
]

log = logging.getLogger(__name__)

TARGET_KINDS = ("report", "certificate", "enrollmentCert", "device")
MAX_CAUSE = 200
_HEX16 = re.compile(r"[0-9a-f]{16}")
_MAX_CERT_HEX = 2 * 4096


@dataclass(frozen=True)
class RevocationRequest:
    """One operator decision: the target (kind, value) and its cause."""

    kind: str
    value: str
    cause: str


class CrlEntrySink(Protocol):
    """Where the entries go: the CRL generator's ``CrlEntryStore`` (``stores/crl_entries.py``) fits."""

    def add_linked(self, entries: Sequence[LinkedEntry]) -> int: ...

    def add_hashed(self, entries: Sequence[HashedEntry]) -> int: ...


@dataclass
class Authorities:
    """The MA's callees (Lambda clients or in-process twins, ``wiring``) and the CRL store."""

    aca_lookup: AcaLookup
    ra_revoke: RaRevoker
    la1_seed: LaSeeds
    la2_seed: LaSeeds
    publish: CrlPublisher
    crl_entries: CrlEntrySink


def parse_revocation(doc: dict[str, Any]) -> RevocationRequest:
    """The request in a JSON body: exactly one target key plus ``cause`` (BadRequest naming the field)."""
    unknown = set(doc) - {*TARGET_KINDS, "cause"}
    if unknown:
        raise BadRequest(f"{sorted(unknown)[0]}: not a revocation field")
    kinds = [k for k in TARGET_KINDS if k in doc]
    if len(kinds) != 1:
        raise BadRequest("target: give exactly one of report, certificate, enrollmentCert, device")
    kind = kinds[0]
    value = doc[kind]
    cause = doc.get("cause")
    if not isinstance(cause, str) or not cause.strip() or len(cause) > MAX_CAUSE:
        raise BadRequest(f"cause: expected a non-empty string of at most {MAX_CAUSE} characters")
    if not isinstance(value, str):
        raise BadRequest(f"{kind}: expected a string")
    if kind in ("report", "enrollmentCert"):
        value = value.lower()
        if not _HEX16.fullmatch(value):
            raise BadRequest(f"{kind}: expected 16 hex digits")
    elif kind == "device":
        if not DEVICE_ID_PATTERN.fullmatch(value):
            raise BadRequest("device: not a device id")
    else:
        value = value.lower()
        _certificate(value)
    return RevocationRequest(kind, value, cause)


def _certificate(value: str) -> Certificate:
    if len(value) > _MAX_CERT_HEX or not re.fullmatch(r"(?:[0-9a-f]{2})+", value):
        raise BadRequest("certificate: expected the hex COER of a certificate")
    try:
        return Certificate.from_bytes(bytes.fromhex(value))
    except (CodecError, ValueError):
        raise BadRequest("certificate: not a canonical COER certificate") from None


def revocation_id(kind: str, value: str) -> str:
    """First 16 hex of SHA-256(kind ‖ value): the same target always names the same revocation."""
    return hashlib.sha256(kind.encode() + value.encode()).hexdigest()[:16]


def revoke(
    request: RevocationRequest,
    *,
    now: int,
    periods: IPeriods,
    records: MaRecordStore,
    authorities: Authorities,
) -> tuple[RevocationRecord, bool]:
    """The revocation of ``request`` at Time32 ``now`` and whether it was made now (False: stored before)."""
    rid = revocation_id(request.kind, request.value)
    stored = records.get_revocation(rid)
    if stored is not None:
        return stored, False
    hashed: list[HashedEntry] = []
    ra = _ra_revocation(request, rid, hashed, records, authorities)
    linked = [entry for chain in (ra.chains if ra else ()) if (entry := _linked(chain, rid, now, periods, authorities))]
    hashed += [HashedEntry(bytes.fromhex(e.cert_hash)[-10:], e.expiry, rid) for e in (ra.enrollments if ra else ())]
    if ra and ra.aca_requests:
        # The device's non-butterfly certificates, which only the ACA can name (protocol.md §3.5).
        issued = authorities.aca_lookup.hash_entries(ra.aca_requests, correlation_id=rid)
        hashed += [HashedEntry(e.hashed_id10, e.expiry, rid) for e in issued]
    # An enrollment certificate given as the target comes back among the device's enrollments too.
    hashed = list({e.hashed_id10: e for e in hashed}.values())
    authorities.crl_entries.add_linked(linked)
    authorities.crl_entries.add_hashed(hashed)
    crls = authorities.publish(force=False, correlation_id=rid)
    # Before the record: a failure here leaves none, so the operator's retry marks them (idempotent).
    mark_covered_reports(linked, hashed, rid, records=records)
    record = RevocationRecord(
        revocation_id=rid,
        target_kind=request.kind,
        target_value=request.value,
        cause=request.cause,
        created_at=now,
        linked_entries=len(linked),
        hash_entries=len(hashed),
        crls=tuple(crls),
        already_revoked=bool(ra and ra.already_revoked),
    )
    # A concurrent decision on the same target may have stored first: its record is the answer.
    kept, created = records.put_revocation(record)
    if request.kind == "report":
        records.mark_revoked(request.value, rid)
    log.info("revocation recorded", extra={"revocation_id": rid, "linked": len(linked), "hashed": len(hashed)})
    return kept, created


def _ra_revocation(
    request: RevocationRequest,
    rid: str,
    hashed: list[HashedEntry],
    records: MaRecordStore,
    authorities: Authorities,
) -> RaRevocation | None:
    """The RA's answer for the target (None for a certificate only a hash entry can revoke)."""
    if request.kind in ("enrollmentCert", "device"):
        return authorities.ra_revoke(request.kind, request.value, request.cause, correlation_id=rid)
    if request.kind == "report":
        report = records.get_report(request.value)
        if report is None:
            raise NotFound(f"report: {request.value} is not stored")
        cert = Certificate.from_bytes(report.suspect_cert)
    else:
        cert = _certificate(request.value)
    cert_id = cert.hashed_id8.hex()
    aca_request = authorities.aca_lookup([cert_id], correlation_id=rid).get(cert_id)
    if cert.tbs["id"][0] == "linkageData":
        if aca_request is None:
            raise TargetNotFound("certificate: not issued by this SCMS's ACA")
        return authorities.ra_revoke("acaRequest", aca_request, request.cause, correlation_id=rid)
    # Enrollment and non-butterfly certificates go on the hash CRL themselves (protocol.md §3.5).
    hashed.append(HashedEntry(hashed_id10(cert.encoded, cert.hash_algorithm), cert.validity[1], rid))
    if aca_request is not None:
        return authorities.ra_revoke("acaRequest", aca_request, request.cause, correlation_id=rid)
    try:
        # Not the ACA's: an enrollment certificate names its device at the RA.
        return authorities.ra_revoke("enrollmentCert", cert_id, request.cause, correlation_id=rid)
    except TargetNotFound:
        return None


def _linked(chain: Any, rid: str, now: int, periods: IPeriods, authorities: Authorities) -> LinkedEntry | None:
    """Both LAs' seeds of ``chain`` at the current i-period (or its origin, if later).

    None when an LA never gave values for the chain (a revocation between the RA's ``plan`` and
    the LAs' first call): no certificate carries it, so there is nothing to put on a CRL.
    """
    i = periods.i_at(now)
    try:
        seed1 = authorities.la1_seed(chain.chain_id, i, correlation_id=rid)
        seed2 = authorities.la2_seed(chain.chain_id, i, correlation_id=rid)
    except ChainNotIssued:
        return None
    if seed1.i != seed2.i:
        # Both LAs drew their first seed at the chain's first i, so this does not happen; if it
        # does, both seeds are taken at the later i (a seed evolves only forward).
        later = max(seed1.i, seed2.i)
        seed1, seed2 = (
            _at(authorities.la1_seed, chain.chain_id, later, seed1, rid),
            _at(authorities.la2_seed, chain.chain_id, later, seed2, rid),
        )
        if seed1.i != seed2.i:
            raise AuthorityFailed("the LAs answered seeds of different i-periods")
    return LinkedEntry(seed1.la_id, seed2.la_id, seed1.seed, seed2.seed, seed1.i, chain.j_max, chain.i_last, rid, now)


def _at(la: LaSeeds, chain_id: str, i: int, seed: LaSeed, rid: str) -> LaSeed:
    return seed if seed.i == i else la(chain_id, i, correlation_id=rid)
