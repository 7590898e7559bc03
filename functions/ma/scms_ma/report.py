"""``POST /v3/misbehavior-report``: open, check and store one misbehaviour report (protocol.md §3.6).

Checks in protocol.md §2.4 order (docs/architecture.md "MA"): parse 400-42 (not encrypted 400-10),
decrypt 400-41, reporter signature 400-43, reporter chain to a root of the hierarchy and PSID 38
in its appPermissions 400-40, generationTime in the future 400-50 / older than ``ra_max_age``
400-77, evidence signature 400-43, evidence chain 400-40. A report is stored once: the same octets
again, or another encryption of the same signed report, are answered with the stored report's id
and store nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec
from scms_service.config import Settings
from scms_service.errors import BadRequest, from_codec
from scms_service.stores.ma_records import MaRecordStore, ReportExists, ReportRecord

from scms_codec.cert.certificate import Certificate
from scms_codec.cert.chain import verify_chain
from scms_codec.errors import CodecError, ErrorCode
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu.misbehavior import (
    MISBEHAVIOR_REPORT_PSID,
    MisbehaviorReport,
    open_misbehavior_report,
    verify_evidence_signature,
)
from scms_codec.spdu.scms_pdu import request_hash

__all__ = ["MaKeys", "receive_report"]

log = logging.getLogger(__name__)
_MAX_CHAIN = 8


class MaKeys(Protocol):
    """What the MA needs of the CA hierarchy (``scms_service.hierarchy.Hierarchy`` fits)."""

    def certificate(self, role: str) -> Certificate: ...

    def encryption_private_key(self, role: str) -> ec.EllipticCurvePrivateKey: ...

    def by_hashed_id8(self, hashed_id8: bytes) -> Certificate | None: ...

    def anchors(self) -> list[Certificate]: ...


def receive_report(data: bytes, *, now: int, settings: Settings, keys: MaKeys, records: MaRecordStore) -> str:
    """The report id (16 hex) of the misbehaviour report ``data`` received at Time32 ``now``, stored once."""
    report_id = request_hash(data).hex()
    if records.get_report(report_id) is not None:
        log.info("replayed misbehaviour report answered from the store")
        return report_id
    keyring = Keyring()
    keyring.add_certificate(keys.certificate("ma"), keys.encryption_private_key("ma"))
    try:
        report = open_misbehavior_report(data, keyring, resolve_signer=keys.by_hashed_id8, verify_evidence=False)
    except CodecError as exc:
        raise from_codec(exc) from exc
    stored = records.report_by_signed_id(report.signed_id.hex())
    if stored is not None:
        # Another encryption of a stored report (1609.2 ECIES leaves V's y-parity unauthenticated).
        log.info("another encryption of a stored misbehaviour report answered as its replay")
        return stored
    _check_chain(report.reporter, keys, report.generation_time, "reporter")
    if MISBEHAVIOR_REPORT_PSID not in report.reporter.app_psids:
        raise _refuse(ErrorCode.CHAIN_VERIFICATION_FAILED, "reporter certificate does not permit PSID 38")
    if report.generation_time > now + settings.clock_skew:
        raise _refuse(ErrorCode.GENERATION_TIME_IN_FUTURE, "generationTime is in the future")
    if now - report.generation_time > settings.ra_max_age:
        raise _refuse(ErrorCode.RA_MAX_AGE, "report is older than ra-maxAge")
    try:
        report = verify_evidence_signature(report, resolve_signer=keys.by_hashed_id8)
    except CodecError as exc:
        raise from_codec(exc) from exc
    evidence_time = report.evidence_generation_time
    _check_chain(report.suspect, keys, report.generation_time if evidence_time is None else evidence_time, "suspect")
    return _store(report, now, records)


def _store(report: MisbehaviorReport, now: int, records: MaRecordStore) -> str:
    record = ReportRecord(
        report_id=report.report_id.hex(),
        received_at=now,
        suspect_cert=report.suspect.encoded,
        suspect_cert_id=report.suspect.hashed_id8.hex(),
        evidence=report.evidence,
        evidence_psid=report.evidence_psid,
        reporter_cert_id=report.reporter.hashed_id8.hex(),
        signed_id=report.signed_id.hex(),
    )
    try:
        records.put_report(record)
    except ReportExists as exists:
        # A concurrent copy (same octets or same signed report) was stored first: its id is the answer.
        return exists.report_id
    log.info("misbehaviour report stored", extra={"report_id": record.report_id, "evidence_psid": record.evidence_psid})
    return record.report_id


def _check_chain(cert: Certificate, keys: MaKeys, at: int, who: str) -> None:
    """400-40 unless ``cert`` chains to a root of the hierarchy at Time32 ``at``."""
    intermediates: list[Certificate] = []
    issuer_id = cert.issuer_id
    while issuer_id is not None and len(intermediates) < _MAX_CHAIN:
        issuer = keys.by_hashed_id8(issuer_id)
        if issuer is None:
            break
        intermediates.append(issuer)
        issuer_id = issuer.issuer_id
    try:
        verify_chain(cert, _unique(intermediates), keys.anchors(), at=at)
    except CodecError as exc:  # ChainError, or a key that an implicit certificate cannot yield
        raise _refuse(ErrorCode.CHAIN_VERIFICATION_FAILED, f"{who} certificate chain does not verify") from exc


def _unique(certs: Sequence[Certificate]) -> list[Certificate]:
    return list({c.hashed_id8: c for c in certs}.values())


def _refuse(code: ErrorCode, message: str) -> BadRequest:
    return BadRequest(message, code=code)
