"""``MisbehaviorReportSpdu``: an EE reports a suspect's signed message to the MA (protocol.md §3.6).

1609.2.1 leaves ``EeMaInterfacePdu ::= NULL`` and SAE J3287 is not public, so the report is our
own composition of 1609.2 structures (docs/architecture.md, "MA"): ``Ieee1609Dot2Data``
encryptedData to the MA certificate (certRecipInfo, ECIES, protocol.md §4.4) whose plaintext is
an ``Ieee1609Dot2Data`` signedData with psid ``MISBEHAVIOR_REPORT_PSID``, headerInfo
``{psid, generationTime}``, signer = the reporter's pseudonym ``certificate`` (protocol.md §4.2),
and payload unsecuredData = the COER of the **evidence**: one ``Ieee1609Dot2Data`` signedData
observed on the air whose signer is the suspect's ``certificate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..cert.certificate import Certificate
from ..crypto.hashing import hashed_id8
from ..errors import CodecError, SpduShapeError
from ..secured._content import data_value, require_bytes
from ..secured.encrypted_data import encrypt
from ..secured.keyring import Keyring
from ..secured.recipients import CertRecipient
from ..secured.signed_data import Resolver, SignedDataParts, parse_signed_data, sign_tbs_data, verify_signed_data
from ..secured.signer import Signer
from ._wrap import decrypt_spdu
from .scms_pdu import request_hash

__all__ = [
    "MISBEHAVIOR_REPORT_PSID",
    "MisbehaviorReport",
    "build_misbehavior_report",
    "open_misbehavior_report",
    "verify_evidence_signature",
]

MISBEHAVIOR_REPORT_PSID = 38
"""PSID 38 (0x26), misbehaviour reporting: the report's SignedData psid (docs/architecture.md, "MA")."""

_MICROSECONDS = 1_000_000
_REPORT_HEADER = frozenset({"psid", "generationTime"})


@dataclass(frozen=True)
class MisbehaviorReport:
    """An opened report: its reporter's signature verified, the evidence shape-checked (protocol.md §3.6).

    ``report_id`` is HashedId8 of the SPDU exactly as received (protocol.md §4.1);
    ``generation_time`` is the report's Time64 generationTime cut to Time32 seconds, and
    ``evidence_generation_time`` the evidence's (None when its header has none). ``signed_id`` is
    HashedId8 of the decrypted signed report: another encryption of the same report has another
    ``report_id`` but the same ``signed_id``. ``evidence_verified`` says whether the suspect's
    signature over the evidence was checked.
    """

    report_id: bytes
    reporter: Certificate
    evidence: bytes = field(repr=False)
    suspect: Certificate
    evidence_psid: int
    generation_time: int
    signed_id: bytes = b""
    evidence_generation_time: int | None = None
    evidence_verified: bool = True
    _evidence_parts: SignedDataParts | None = field(default=None, repr=False, compare=False)


def build_misbehavior_report(evidence: bytes, reporter: Signer, ma_cert: Certificate, *, generation_time: int) -> bytes:
    """COER ``MisbehaviorReportSpdu`` of ``evidence``, signed by ``reporter``, encrypted to ``ma_cert``.

    ``evidence`` must be a signedData with a ``certificate`` signer (ValueError otherwise);
    ``generation_time`` is Time32 (seconds), written as Time64 (protocol.md §3.6, §4.2, §4.4).
    """
    evidence = require_bytes("evidence", evidence)
    if not isinstance(reporter, Signer):
        raise TypeError(f"reporter: expected Signer, got {type(reporter).__name__}")
    if reporter.certificate is None:
        raise ValueError("reporter: a misbehaviour report is signed by a pseudonym certificate, not self")
    if not isinstance(ma_cert, Certificate):
        raise TypeError(f"ma_cert: expected Certificate, got {type(ma_cert).__name__}")
    if not isinstance(generation_time, int) or isinstance(generation_time, bool) or generation_time < 0:
        raise ValueError("generation_time: expected a non-negative Time32")
    try:
        _evidence_parts(evidence)
    except CodecError as exc:
        raise ValueError(f"evidence: {exc}") from exc
    tbs = {
        "payload": {"data": data_value("unsecuredData", evidence)},
        "headerInfo": {"psid": MISBEHAVIOR_REPORT_PSID, "generationTime": generation_time * _MICROSECONDS},
    }
    signed = sign_tbs_data(tbs, reporter, signer_form="certificate")
    return encrypt(signed, CertRecipient(ma_cert))


def open_misbehavior_report(
    data: bytes,
    ma_keyring: Keyring,
    *,
    resolve_signer: Resolver | None = None,
    verify_evidence: bool = True,
) -> MisbehaviorReport:
    """Open a ``MisbehaviorReportSpdu`` at the MA (protocol.md §3.6; checks in §2.4 order).

    NotEncrypted (400-10) if not encrypted; DecryptionError (400-41); DecodeError/SpduShapeError
    (400-42) for any shape fault of the report or the evidence (trailing bytes, another psid or
    header field, a ``digest`` or ``self`` signer, evidence that is not signedData);
    InvalidSignature (400-43) for the reporter's signature and, when ``verify_evidence``, the
    suspect's. ``resolve_signer`` names the issuer of an implicit (ECQV) certificate. Chains,
    times and permissions are the caller's to check.
    """
    data = require_bytes("data", data)
    opened = decrypt_spdu(data, ma_keyring, "MisbehaviorReportSpdu")
    report = parse_signed_data(opened.plaintext, expected_psid=MISBEHAVIOR_REPORT_PSID, psid_only_header=False)
    if set(report.header_info) != _REPORT_HEADER:
        raise SpduShapeError("misbehaviour report: headerInfo must hold psid and generationTime only")
    if report.signer[0] != "certificate" or report.certificate is None:
        raise SpduShapeError(f"misbehaviour report: signer must be one certificate, got {report.signer[0]}")
    evidence_parts = _evidence_parts(report.payload)
    assert evidence_parts.certificate is not None  # _evidence_parts refuses any other signer
    # Parse errors of both layers come before any signature error (protocol.md §2.4).
    verified = verify_signed_data(report, resolve_signer=resolve_signer)
    assert verified.signer is not None  # a certificate signer always yields its certificate
    result = MisbehaviorReport(
        report_id=request_hash(data),
        reporter=verified.signer,
        evidence=report.payload,
        suspect=evidence_parts.certificate,
        evidence_psid=evidence_parts.psid,
        generation_time=report.header_info["generationTime"] // _MICROSECONDS,
        signed_id=hashed_id8(opened.plaintext),
        evidence_generation_time=_seconds(evidence_parts.header_info.get("generationTime")),
        evidence_verified=False,
        _evidence_parts=evidence_parts,
    )
    if verify_evidence:
        result = verify_evidence_signature(result, resolve_signer=resolve_signer)
    return result


def verify_evidence_signature(
    report: MisbehaviorReport, *, resolve_signer: Resolver | None = None
) -> MisbehaviorReport:
    """``report`` with the suspect's signature over the evidence verified (InvalidSignature, 400-43).

    Separate from opening so that the MA can check the reporter's chain and the report's time
    before the evidence's signature, as the contract's §2.4-ordered checks say.
    """
    if not isinstance(report, MisbehaviorReport):
        raise TypeError(f"report: expected MisbehaviorReport, got {type(report).__name__}")
    parts = report._evidence_parts if report._evidence_parts is not None else _evidence_parts(report.evidence)
    verify_signed_data(parts, resolve_signer=resolve_signer)
    return replace(report, evidence_verified=True, _evidence_parts=parts)


def _seconds(time64: int | None) -> int | None:
    return None if time64 is None else time64 // _MICROSECONDS


def _evidence_parts(evidence: bytes) -> SignedDataParts:
    """The evidence as shape-checked SignedData with one ``certificate`` signer (SpduShapeError otherwise)."""
    # Air messages (BSMs) carry generationTime and more in headerInfo, so any header is allowed.
    parts = parse_signed_data(evidence, expected_psid=None, psid_only_header=False)
    if parts.signer[0] != "certificate" or parts.certificate is None:
        raise SpduShapeError(f"misbehaviour evidence: signer must be the suspect's certificate, got {parts.signer[0]}")
    return parts
