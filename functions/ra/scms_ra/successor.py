"""Successor enrollment through the RA: ``POST`` and ``GET /v3/successor-enrollment-certificate``
(1609.2.1 §6.3.5.4, §6.3.5.5, clause 8.3.2; protocol.md §3.4).

**Request** (``successor_enroll``): the device sends an ``EeRaSuccessorEnrollmentCertRequestSpdu``, an
``EeEcaCertRequestSpdu`` for its new key (self-signed by that key, no ``canonicalId``) signed as a
certificate request by its CURRENT enrollment certificate and encrypted to the RA. Checks in the
order of protocol.md §2.4, each refusal writing nothing: decrypt 400-10/41, parse 400-42, signatures
(outer and inner) 400-43, the signer is an enrollment certificate chaining to the hierarchy 400-62/40,
the device by that certificate 400-21 (unknown or Deleted) / 400-20 (Blocked or Revoked),
generationTime and now inside its validity 400-712 (these four are ``authorize``'s own checks), then
times 400-50 (future beyond ``clock_skew``) and 400-77 (older than ra-maxAge), rates per device by
generationTime 400-79 (ra-maxReqs in 7x24 h) and 400-711 (the successor ra-minWait,
``Settings.ra_successor_min_wait``: protocol.md §3.4 step 2, §5.4 gives successor enrollment its own
value), and the policy below (400-32).
The inner request then goes to the ECA (``SuccessorIssuer``, the port: its checks and codes are the
ECA's, ``scms_eca.successor``); its refusal is this POST's answer (we process synchronously, so the
device learns it at once rather than at download time) and the RA's claim is removed again.

**Policy for old certificates.** A successor request must be signed by the device's newest enrollment
certificate; one signed by a certificate that already has a successor is refused with 400-32
("requested fields not allowed": a policy refusal the device understands), so a device's
certificates form one line, never a fork. A superseded certificate otherwise stays valid until it
expires: the RA still accepts its authorization requests and downloads (a device may be in the middle
of provisioning with it, and it must download its successor with it). Blocking the device stops all
of its certificates at once (protocol.md §6).

**Writes**, ordered so that a crash never loses or doubles a certificate: (1) the request item PENDING
with the signed ``RaEeEnrollmentCertAckSpdu`` and the device's rate entry, one conditional transaction
(of two copies of the same bytes only one is stored); (2) the ECA issues (its own claim is keyed by
the same requestHash, so a retry gets the same certificate back); (3) the ``EcaEeCertResponseSpdu``
goes to the artifacts bucket as ``successor/<REQUESTHASH>_enroll.oer``; (4) the device gains the new
certificate and moves to Successor Enrolled (conditional on its state and version; repeatable:
Successor Enrolled → Successor Enrolled); (5) the item → DONE. A replay of a DONE request answers the
stored ack (400-20/21 if the device was blocked or deleted since); a replay of a PENDING one (a crash
between 1 and 5) runs 2-5 again with the stored ack.

**Another ciphertext of a stored request.** The requestHash covers the encrypted SPDU, and the same
inner request can arrive under another one: 1609.2 ECIES (§5.3.5) leaves the y-parity of the
ephemeral key V unauthenticated (V and -V decrypt alike), and a device may re-encrypt or re-sign its
outer layer. Once opened and its certificate and device checked, a request whose inner
``EeEcaCertRequestSpdu`` (SHA-256, stored with the record and as its own item, conditionally) was
carried by a stored request of the same enrollment certificate is answered as that request's replay,
PENDING (finished again) or DONE, never issued twice; the same inner request under another
certificate is refused 400-32. Two such copies racing are settled by the conditional write.

**Download** (``successor_download``): ``Ieee-1609.2.1-Authorization`` (required: scmsV3-eeAuth =
enrollment) with an ``EeRaDownloadRequestSpdu`` whose filename is ``<requestHash hex>_enroll.oer``,
signed by the enrollment certificate that made the request. The checks and codes are the batch
download's (``scms_ra.download``, module docstring): 400-42/10/41/43, grammar 400-42, chain at now
400-40, device 400-21/20, the request made by this very certificate else 400-43, times 400-50/74;
PENDING → 404 (``BatchNotReady``, one second); download-maxReqs/minWait counted as for batches.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Protocol

from scms_service.config import Settings
from scms_service.device_access import check_serves_device
from scms_service.errors import BadRequest, Conflict, IllegalTransition, ScmsError, from_codec
from scms_service.iperiod import IPeriods
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import Artifacts
from scms_service.stores.devices import Device, DeviceStore, EnrollmentRecord
from scms_service.stores.download_counters import DownloadCounterStore
from scms_service.stores.successor_requests import (
    SuccessorExists,
    SuccessorRecord,
    SuccessorStatus,
    SuccessorStore,
)

from scms_codec import time32
from scms_codec.cert.certificate import Certificate
from scms_codec.cert.chain import verify_chain
from scms_codec.errors import ChainError, CodecError, ErrorCode
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu import (
    RaEeCertInfo,
    SuccessorRequest,
    build_ra_ee_enrollment_cert_ack,
    parse_eca_ee_cert_response,
    parse_successor_request,
    request_hash,
)
from scms_codec.spdu.download import parse_ee_ra_download_request
from scms_codec.spdu.opened import Opened

from .authorize import RA_ACTOR, RATE_WINDOW, RaKeys, _check_enrollment_certificate, _check_enrollment_validity, _device
from .download import (
    AUTHORIZATION_HEADER,
    BatchNotReady,
    CorruptBatch,
    TrustView,
    _check_device,
    _decode_header,
    _intermediates,
    count_download,
)

# The RA's own checks, shared with the authorization request and the batch download (not duplicated).
from .served_file import ServedFile

__all__ = [
    "ECA_REFUSALS",
    "SUCCESSOR_SUFFIX",
    "EcaRefusedUnexpectedly",
    "SuccessorIssuer",
    "artifact_key",
    "successor_download",
    "successor_enroll",
    "successor_filename",
]

log = logging.getLogger(__name__)

SUCCESSOR_SUFFIX = "_enroll.oer"
_NAME = re.compile(r"([0-9A-Fa-f]{16})_enroll\.oer")
_RETENTION_MARGIN = 24 * 3600
_NOT_READY_RETRY = 1  # seconds: a PENDING request is being finished by another attempt (or a resumed replay)

ECA_REFUSALS = frozenset(
    {
        # The inner request as the codec judges it (scms_codec.errors classes).
        ErrorCode.FAILED_PARSING, ErrorCode.SIGNATURE_VERIFICATION_FAILED, ErrorCode.VERIFY_KEY_INDICATOR_INVALID,
        # The ECA's own checks (scms_eca.policy, scms_eca.successor), protocol.md §3.2 step 3.
        ErrorCode.GENERATION_TIME_IN_FUTURE, ErrorCode.ECA_MAX_AGE, ErrorCode.ECA_MAX_WAIT, ErrorCode.ECA_MAX_REQS,
        ErrorCode.ECA_MIN_WAIT, ErrorCode.CERT_TYPE_NOT_ALLOWED, ErrorCode.CERT_REQUEST_PERMISSIONS_NOT_ALLOWED,
        ErrorCode.CERT_REQUEST_PERMISSIONS_INVALID, ErrorCode.REGION_NOT_ALLOWED, ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED,
        ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED,
        # The device as the ECA task reads it: blocked or deleted between the RA's check and the ECA's.
        ErrorCode.ENROLLMENT_CERT_BLOCKED, ErrorCode.ENROLLMENT_CERT_UNREGISTERED,
    }
)  # fmt: skip
"""Table 8 codes the ECA's refusal may carry through this route; any other is the SCMS's own fault (500)."""


class EcaRefusedUnexpectedly(ScmsError):
    """The ECA refused with a code that is not an enrollment refusal (500: a bug or a misconfiguration)."""


class SuccessorIssuer(Protocol):
    """The port to the ECA: issue the successor for the inner request (``scms_eca.successor.issue_successor``).

    Returns the ``EcaEeCertResponseSpdu`` (its requestHash = ``request_hash``, the outer one) or raises
    ``BadRequest`` with the ECA's Table 8 code. Idempotent per ``request_hash``.
    """

    def __call__(self, inner_spdu: bytes, *, request_hash: bytes, device: Device, now: int) -> bytes: ...


def successor_filename(rh: bytes) -> str:
    """``<requestHash hex>_enroll.oer`` (clause 8.3.2), upper-case hex like the batch names."""
    return f"{rh.hex().upper()}{SUCCESSOR_SUFFIX}"


def artifact_key(rh: bytes) -> str:
    """Where the response lies in the artifacts bucket."""
    return f"successor/{successor_filename(rh)}"


def _refuse(code: ErrorCode, message: str) -> BadRequest:
    return BadRequest(message, code=code)


def _open(data: bytes, ra: RaKeys) -> Opened[SuccessorRequest]:
    keyring = Keyring()
    keyring.add_certificate(ra.certificate("ra"), ra.encryption_private_key("ra"))
    try:
        return parse_successor_request(data, keyring, resolve_signer=ra.by_hashed_id8)
    except CodecError as exc:
        raise from_codec(exc) from exc


def successor_enroll(
    data: bytes,
    *,
    now: int,
    settings: Settings,
    periods: IPeriods,
    devices: DeviceStore,
    requests: SuccessorStore,
    ra: RaKeys,
    eca: SuccessorIssuer,
    artifacts: Artifacts,
) -> bytes:
    """The ``RaEeEnrollmentCertAckSpdu`` for the successor request ``data`` received at Time32 ``now``."""
    rh = request_hash(data)
    stored = requests.get(rh)
    if stored is not None:
        return _replay(stored, data, now=now, devices=devices, requests=requests, ra=ra, eca=eca, artifacts=artifacts)

    opened = _open(data, ra)
    inner = opened.content.inner.content
    enrollment = opened.signer
    assert enrollment is not None  # parse_successor_request requires SignerSingleCert
    generation = inner.generation_time
    _check_enrollment_certificate(enrollment, ra, generation)
    device = _device(devices, enrollment)
    cert_id = enrollment.hashed_id8.hex()
    inner_hash = hashlib.sha256(opened.content.inner_spdu).digest()
    twin = _twin(requests.by_inner_hash(inner_hash), cert_id)
    if twin is not None:
        log.info("another encryption of a stored successor request answered as its replay")
        return _replay(twin, data, now=now, devices=devices, requests=requests, ra=ra, eca=eca, artifacts=artifacts)
    _check_enrollment_validity(enrollment, generation, now)
    if generation > now + settings.clock_skew:
        raise _refuse(ErrorCode.GENERATION_TIME_IN_FUTURE, "generationTime is in the future")
    if now - generation > settings.ra_max_age:
        raise _refuse(ErrorCode.RA_MAX_AGE, "generationTime is older than ra-maxAge")
    others = [e for e in requests.rate_entries(device.device_id, since=generation - RATE_WINDOW + 1)
              if e.request_hash != rh]  # fmt: skip
    if len(others) >= settings.ra_max_reqs:
        raise _refuse(ErrorCode.RA_MAX_REQS, "more than ra-maxReqs successor requests in 7x24 h")
    if (
        settings.ra_successor_min_wait > 0
        and others
        and generation - max(e.generation_time for e in others) < settings.ra_successor_min_wait
    ):
        raise _refuse(ErrorCode.RA_MIN_WAIT, "successor request retried within the successor ra-minWait")
    try:
        _check_current(device, cert_id)
    except BadRequest:
        # A concurrent copy of these very bytes (or another ciphertext of them) may have been accepted,
        # and its certificate made current, since our first look: then its answer is ours.
        winner = requests.get(rh) or _twin(requests.by_inner_hash(inner_hash), cert_id)
        if winner is None:
            raise
        return _replay(winner, data, now=now, devices=devices, requests=requests, ra=ra, eca=eca, artifacts=artifacts)

    info = RaEeCertInfo(now, periods.i_at(now), rh, now)
    ack = build_ra_ee_enrollment_cert_ack(info, ra.signer("ra"))
    keep = max(RATE_WINDOW, settings.ra_max_age + settings.clock_skew)
    record = SuccessorRecord(
        request_hash=rh,
        device_id=device.device_id,
        enrollment_cert_id=cert_id,
        generation_time=generation,
        status=SuccessorStatus.PENDING,
        ack=ack,
        created_at=now,
        rate_expires_at=time32.to_unix(generation) + keep + _RETENTION_MARGIN,
        inner_hash=inner_hash,
    )
    try:
        requests.put(record)
    except SuccessorExists:
        # A concurrent copy of the same bytes, or another ciphertext of them, was stored first: its replay.
        winner = requests.get(rh) or _twin(requests.by_inner_hash(inner_hash), cert_id)
        if winner is None:
            raise
        return _replay(winner, data, now=now, devices=devices, requests=requests, ra=ra, eca=eca, artifacts=artifacts)
    _finish(record, opened.content.inner_spdu, device, now=now, devices=devices, requests=requests, eca=eca,
            artifacts=artifacts)  # fmt: skip
    log.info("successor enrollment accepted")
    return ack


def _twin(stored: SuccessorRecord | None, cert_id: str) -> SuccessorRecord | None:
    """The stored request that carried the same inner request, if it was signed by the same certificate.

    The same inner request (self-signed by a new key only its device holds) under another enrollment
    certificate is never a second request: 400-32, as any successor request the policy does not allow.
    """
    if stored is None:
        return None
    if stored.enrollment_cert_id != cert_id:
        raise _refuse(ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED,
                      "this successor key was requested with another enrollment certificate")  # fmt: skip
    return stored


def _check_current(device: Device, cert_id: str) -> None:
    """400-32 unless ``cert_id`` is the device's newest enrollment certificate (module docstring, policy)."""
    current = device.enrollment
    if current is None or current.cert_id != cert_id:
        raise _refuse(ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED,
                      "only the current enrollment certificate may request a successor")  # fmt: skip


def _replay(
    stored: SuccessorRecord,
    data: bytes,
    *,
    now: int,
    devices: DeviceStore,
    requests: SuccessorStore,
    ra: RaKeys,
    eca: SuccessorIssuer,
    artifacts: Artifacts,
) -> bytes:
    """The stored ack, after finishing a PENDING request (a crash or a concurrent copy) from its bytes."""
    device = devices.get(stored.device_id)
    _usable(device)
    assert device is not None
    if stored.status is SuccessorStatus.DONE:
        log.info("replayed successor request answered from the store")
        return stored.ack
    log.info("resuming a pending successor request")
    opened = _open(data, ra)
    _finish(stored, opened.content.inner_spdu, device, now=now, devices=devices, requests=requests, eca=eca,
            artifacts=artifacts)  # fmt: skip
    return stored.ack


def _usable(device: Device | None) -> None:
    check_serves_device(device.state if device is not None else None)


def _finish(
    record: SuccessorRecord,
    inner_spdu: bytes,
    device: Device,
    *,
    now: int,
    devices: DeviceStore,
    requests: SuccessorStore,
    eca: SuccessorIssuer,
    artifacts: Artifacts,
) -> None:
    """Steps 2-5 of the module docstring; a refusal removes the PENDING claim (nothing was delivered)."""
    try:
        response = eca(inner_spdu, request_hash=record.request_hash, device=device, now=now)
    except BadRequest as exc:
        _delete_quietly(requests, record)
        if exc.code not in ECA_REFUSALS:
            raise EcaRefusedUnexpectedly("the ECA refused the successor request with an unexpected code") from exc
        raise
    new = _issued(response)
    artifacts.put(artifact_key(record.request_hash), response)
    try:
        _link(device.device_id, record, new, devices=devices, now=now)
    except BadRequest:
        _delete_quietly(requests, record)
        raise
    requests.complete(record.request_hash, new_cert_id=new.cert_id, now=now)


def _issued(response: bytes) -> EnrollmentRecord:
    """The device record's entry for the certificate in the ECA's response (which the RA does not re-verify)."""
    content = parse_eca_ee_cert_response(response).content
    start, end = content.certificate.validity
    return EnrollmentRecord(
        content.certificate.hashed_id8.hex(), start, end, content.eca_cert_chain[0].hashed_id8.hex(),
        # What a hash CRL entry for it is made of, should the device be revoked (protocol.md §3.6).
        cert_hash=hashlib.sha256(content.certificate.encoded).hexdigest(),
    )  # fmt: skip


def _link(device_id: str, record: SuccessorRecord, new: EnrollmentRecord, *, devices: DeviceStore, now: int) -> None:
    """The device gains ``new`` and moves to Successor Enrolled, conditional on what was read (no lost update)."""
    for _ in range(3):
        current = devices.get(device_id)
        _usable(current)
        assert current is not None
        if any(e.cert_id == new.cert_id for e in current.enrollments):
            return  # a concurrent attempt (or the crashed one) linked it already
        # Another successor of the same certificate won meanwhile: this one must not fork the line.
        _check_current(current, record.enrollment_cert_id)
        try:
            devices.transition(
                device_id,
                DeviceState.SUCCESSOR_ENROLLED,
                expected=current.state,
                expected_version=current.version,
                cause=f"successor enrollment {record.request_hash.hex()}: certificate {new.cert_id}",
                actor=RA_ACTOR,
                now_unix=time32.to_unix(now),
                enrollment=new,
            )
            return
        except IllegalTransition as exc:
            raise _refuse(ErrorCode.ENROLLMENT_CERT_UNREGISTERED, "device cannot take a successor") from exc
        except Conflict:
            continue  # the device changed under us: look again
    raise Conflict("device keeps changing; retry")


def _delete_quietly(requests: SuccessorStore, record: SuccessorRecord) -> None:
    try:
        requests.delete(record)
    except Exception:
        # The refusal is what the client must see; a left-over PENDING item is finished by a replay.
        log.exception("could not delete the refused successor request")


# --- download ----------------------------------------------------------------------------------


def _parse_name(name: str, what: str) -> bytes:
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise _refuse(ErrorCode.FAILED_PARSING, f"{what}: expected <16 hex digits>_enroll.oer")
    return bytes.fromhex(match.group(1))


def successor_download(
    header_value: str | None,
    filename_param: str | None,
    *,
    now: int,
    settings: Settings,
    keyring: Keyring,
    ra_anchors: TrustView,
    requests: SuccessorStore,
    devices: DeviceStore,
    artifacts: Artifacts,
    counters: DownloadCounterStore | None = None,
) -> ServedFile:
    """Check a successor download request and return the ``EcaEeCertResponseSpdu`` it names (module docstring)."""
    if header_value is None:
        raise _refuse(ErrorCode.FAILED_PARSING, f"{AUTHORIZATION_HEADER} required: this endpoint authenticates "
                      "with the enrollment certificate")  # fmt: skip
    spdu = _decode_header(header_value)
    try:
        opened = parse_ee_ra_download_request(spdu, keyring, resolve_signer=ra_anchors.by_hashed_id8)
    except CodecError as exc:
        raise from_codec(exc) from exc
    content = opened.content
    rh = _parse_name(content.filename, "eeRaDownloadRequest.filename")
    if filename_param is not None and _parse_name(filename_param, "filename") != rh:
        raise _refuse(ErrorCode.FAILED_PARSING, "filename: differs from eeRaDownloadRequest.filename")

    signer: Certificate | None = opened.signer
    assert signer is not None  # open_signed requires a certificate signer
    try:
        verify_chain(signer, _intermediates(signer, ra_anchors), ra_anchors.anchors(), at=now)
    except ChainError as exc:
        raise from_codec(exc) from exc
    cert_id = signer.hashed_id8.hex()
    device_id = _check_device(devices, cert_id)

    record = requests.get(rh)
    if record is None or record.enrollment_cert_id != cert_id or record.device_id != device_id:
        # One answer for "no such request" and "another device's request": no existence oracle.
        raise _refuse(ErrorCode.SIGNATURE_VERIFICATION_FAILED,
                      "request not signed by the enrollment certificate of the successor request")  # fmt: skip
    generated = content.generation_time
    if generated > now + settings.clock_skew:
        raise _refuse(ErrorCode.GENERATION_TIME_IN_FUTURE, "generationTime is in the future")
    if now - generated > settings.download_max_age:
        raise _refuse(ErrorCode.DOWNLOAD_MAX_AGE, "generationTime older than download-maxAge")
    if record.status is not SuccessorStatus.DONE:
        raise BatchNotReady("successor certificate not stored yet", next_dl_time=now + _NOT_READY_RETRY)
    body = artifacts.get(artifact_key(rh))
    if body is None:
        raise CorruptBatch(f"stored successor response {successor_filename(rh)} is missing")
    if counters is not None:
        count_download(counters, cert_id, now=now, settings=settings)
    updated = record.updated_at if record.updated_at is not None else record.created_at
    # The name as the device spelled it (Content-Disposition must equal it, protocol.md §2.1).
    return ServedFile(body, content.filename, time32.to_unix(updated))
