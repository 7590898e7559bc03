"""``scms-ee report``: send a misbehaviour report to the MA (1609.2.1 §6.3.5.6; protocol.md §2.2 T15, §3.6).

The evidence is a file holding one ``Ieee1609Dot2Data`` signedData observed on the air (e.g. made
by ``sign-message`` on another device), whose signer is the suspect's ``certificate``. The device:

1. reads the evidence's psid (an evidence that is not such a signedData is refused here, exit 1:
   the codec's ``build_misbehavior_report`` cannot carry it);
2. downloads the MA certificate (``GET /v3/ma-certificate?psid=<evidence psid>``) and accepts it
   only if it chains to the stored root now through the stored CCF (``fetch-chain``), is an MA
   certificate (PSID 35 ``MaSsp``) whose ``relevantPsids`` cover the evidence's psid, and has an
   encryption key;
3. signs the report with one of its own pseudonyms valid now that carries PSID 38
   (``MISBEHAVIOR_REPORT_PSID``; the newest request's, lowest j), encrypts it to the MA certificate
   (``scms_codec.spdu.misbehavior.build_misbehavior_report``) and POSTs it to
   ``/v3/misbehavior-report``. The MA answers 202 with ``Scms-Report-Id`` (docs/architecture.md, MA).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from scms_codec.cert.certificate import Certificate
from scms_codec.cert.chain import verify_chain
from scms_codec.cert.ssp import ma_relevant_psids
from scms_codec.errors import ChainError, CodecError
from scms_codec.secured.signed_data import parse_signed_data
from scms_codec.spdu.misbehavior import MISBEHAVIOR_REPORT_PSID, build_misbehavior_report

from . import fetch_chain as fetch_chain_use_case
from .client import Client
from .enroll import VerificationFailed
from .fetch_chain import certificate_role
from .provision import ca_certificates
from .pseudonym_files import OwnPseudonym, own_pseudonyms
from .state import DeviceState, StateError
from .trace import Trace

__all__ = [
    "MA_CERTIFICATE_PATH",
    "REPORT_ID_HEADER",
    "REPORT_PATH",
    "SentReport",
    "evidence_psid",
    "ma_certificate",
    "report",
    "reporter_pseudonym",
    "verify_ma_certificate",
]

REPORT_PATH = "/v3/misbehavior-report"
MA_CERTIFICATE_PATH = "/v3/ma-certificate"
REPORT_ID_HEADER = "Scms-Report-Id"
_REPORT_ID = re.compile(r"^[0-9a-fA-F]{16}$")


@dataclass(frozen=True)
class SentReport:
    """An accepted report: the MA's report id, the reporter pseudonym and the MA certificate it went to."""

    report_id: str
    reporter: OwnPseudonym
    ma: Certificate
    evidence_psid: int


def evidence_psid(evidence: bytes) -> int:
    """The psid of an evidence signedData with a certificate signer; ``VerificationFailed`` for anything else."""
    try:
        parts = parse_signed_data(evidence, expected_psid=None, psid_only_header=False)
    except CodecError as exc:
        raise VerificationFailed(f"evidence is not an Ieee1609Dot2Data signedData ({type(exc).__name__})") from exc
    if parts.certificate is None:
        raise VerificationFailed("evidence: its signer is not a certificate, so it names no suspect")
    return parts.psid


def verify_ma_certificate(
    ma: Certificate, *, root: Certificate, ca: tuple[Certificate, ...], psid: int, now: int
) -> None:
    """The MA certificate chains to ``root`` now, is an MA's, covers ``psid`` and has an encryption key (step 2)."""
    try:
        verify_chain(ma, list(ca), [root], at=now)
    except ChainError as exc:
        raise VerificationFailed(
            f"MA certificate {ma.hashed_id8.hex()} does not chain to root {root.hashed_id8.hex()}: {exc}"
        ) from exc
    relevant = ma_relevant_psids(ma)
    if relevant is None:
        raise VerificationFailed(f"certificate {ma.hashed_id8.hex()} is not an MA certificate (no MaSsp)")
    if psid not in relevant:
        raise VerificationFailed(f"MA certificate {ma.hashed_id8.hex()} is not relevant for PSID {psid}")
    if ma.encryption_key() is None:
        raise VerificationFailed(f"MA certificate {ma.hashed_id8.hex()} has no encryption key")


def ma_certificate(
    state: DeviceState, client: Client, trace: Trace, *, psid: int, now: int, say: Callable[[str], None]
) -> Certificate:
    """Download and verify the MA certificate for ``psid`` (module docstring, step 2)."""
    root = state.trusted_root()
    if root is None:
        raise StateError("no trusted root: run `scms-ee enroll` (or fetch-chain --root) first")
    ca = ca_certificates(state)
    if not ca:
        fetch_chain_use_case.fetch_chain(state, client, trace, pinned_root=None, series=None, now=now, say=say)
        ca = ca_certificates(state)
    data = client.get_binary(MA_CERTIFICATE_PATH, {"psid": str(psid)})
    try:
        ma = Certificate.from_bytes(data)
    except CodecError as exc:
        raise VerificationFailed(f"GET {MA_CERTIFICATE_PATH}: not a COER certificate ({type(exc).__name__})") from exc
    if trace.enabled:
        trace.certificate(certificate_role(ma), ma, issued_by=None)
    verify_ma_certificate(ma, root=root, ca=ca, psid=psid, now=now)
    return ma


def reporter_pseudonym(state: DeviceState, *, now: int) -> OwnPseudonym:
    """The pseudonym that signs the report: valid now, PSID 38 permitted; newest request first, then lowest j."""
    best: OwnPseudonym | None = None
    for candidate in own_pseudonyms(state):
        start, end = candidate.certificate.validity
        if not start <= now < end or MISBEHAVIOR_REPORT_PSID not in candidate.certificate.app_psids:
            continue
        if best is None or candidate.request != best.request or candidate.j < best.j:
            best = candidate  # later requests come later: the last one seen wins
    if best is None:
        raise StateError(
            f"no pseudonym certificate valid now with PSID {MISBEHAVIOR_REPORT_PSID}: "
            f"provision with --psid {MISBEHAVIOR_REPORT_PSID}"
        )
    return best


def report(
    state: DeviceState,
    client: Client,
    trace: Trace,
    *,
    evidence: bytes,
    now: int,
    say: Callable[[str], None] = lambda _line: None,
) -> SentReport:
    """The whole ``report`` command (module docstring); ``HttpError`` for the MA's refusal, nothing stored."""
    psid = evidence_psid(evidence)
    reporter = reporter_pseudonym(state, now=now)
    ma = ma_certificate(state, client, trace, psid=psid, now=now, say=say)
    spdu = build_misbehavior_report(evidence, reporter.signer(), ma, generation_time=now)
    if trace.enabled:
        trace.message("sent", "Ieee1609Dot2Data", evidence, signed_by=None)
        reporter_file = trace.certificate("pseudonym", reporter.certificate, issued_by=None)
        trace.message("sent", "MisbehaviorReportSpdu", spdu, signed_by=reporter_file)
    answer = client.post_spdu_response(REPORT_PATH, spdu)
    report_id = answer.headers.get(REPORT_ID_HEADER.lower(), "")
    if not _REPORT_ID.match(report_id):
        raise VerificationFailed(f"the MA accepted the report but sent no valid {REPORT_ID_HEADER} header")
    return SentReport(report_id.lower(), reporter, ma, psid)
