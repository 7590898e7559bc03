"""Authorization-certificate download, ``GET /v3/authorization-certificate`` (6.3.5.3, 8.2; protocol.md §2.2, §3.3).

The device sends ``Ieee-1609.2.1-Authorization: base64(EeRaDownloadRequestSpdu)`` (RFC 4648, padding
required) and may add ``?filename=``. The policy for this endpoint is ``scmsV3-eeAuth = enrollment``
(protocol.md §2.1), so the header is required: a bare ``?filename=`` is refused like a missing input.

Checks, in the fixed order of protocol.md §2.4 (parse, decrypt, signature and chain, registration and
blocking, times), each refusal changing nothing:

1. header missing → 400-42; not base64 → 400-42; not encrypted → 400-10; decryption → 400-41;
   bad COER or shape → 400-42; signature → 400-43 (``parse_ee_ra_download_request``);
2. the filename inside: grammar (``batch_files``) and, when ``?filename=`` is given, the same
   file (hash and i compared as values, so the case may differ) → 400-42;
3. the signer (the enrollment certificate) chains to the trust anchors at ``now`` → 400-40;
4. device by that certificate: unknown or Deleted → 400-21, Blocked or Revoked → 400-20 (read by the
   id that the named request recorded when it was made with this certificate, else looked up by the
   certificate: the same device, one read fewer; ``_check_device``);
5. the request named by the file exists and was made with this very enrollment certificate
   (protocol.md §6). Both failures give the same answer, 400-43, so that nobody learns whether
   another device's request hash exists. We chose 400-43 ("signature verification failed": the
   request is not signed by the certificate the file belongs to) over 403: Table 8 as we know it
   has no 403 code of its own for this, and 403-43 is only OpenSCMS's (protocol.md §2.4);
6. generationTime in the future (beyond ``clock_skew``) → 400-50; older than download-maxAge → 400-74;
7. the request FAILED (the state machine's Catch) → ``ProvisioningFailed`` (410) naming the reason;
8. i outside the request's [first_i, last_i] → 404 (the batch never exists); the batch not yet
   in the artifacts bucket while the request is ACCEPTED or GENERATING → ``BatchNotReady`` (404)
   carrying the next download time: one second ahead (every batch of a request is generated in one
   run), or the batch's due time if that is sooner; missing from a DONE request → ``CorruptBatch``;
9. download-maxReqs: ``download_max_reqs`` downloads of this enrollment certificate counted in the
   last seven days (daily buckets: the current day and the six before it) → 400-75;
   download-minWait: less than ``download_min_wait`` seconds since its last counted download →
   400-76. Otherwise the download is counted (``stores.download_counters``, one conditional write;
   a refusal anywhere counts nothing) and the batch served.

Only answers from a batch file count (200, and the route's 206/304/416), not the 404s of a batch
still being generated: a device that polls as ``Retry-After`` tells it while the SCMS is slow (a
past-due batch says "now") must not use up its week's downloads and be locked out.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Protocol

from scms_service.config import Settings
from scms_service.device_access import check_serves_device
from scms_service.errors import BadRequest, Conflict, NotFound, ScmsError, from_codec
from scms_service.stores.artifacts import Artifacts
from scms_service.stores.auth_requests import RequestStatus
from scms_service.stores.devices import DeviceStore
from scms_service.stores.download_counters import CounterChanged, DownloadCounter, DownloadCounterStore

from scms_codec import time32
from scms_codec.cert.certificate import Certificate
from scms_codec.cert.chain import verify_chain
from scms_codec.errors import ChainError, CodecError, ErrorCode
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu.download import parse_ee_ra_download_request

from .batch_files import BadBatchName, BadPeriodZip, BatchName, batch_key, parse_batch_filename, read_period_zip
from .served_file import ServedFile

__all__ = [
    "AUTHORIZATION_HEADER",
    "BatchNotReady",
    "CorruptBatch",
    "DownloadSchedule",
    "ProvisioningFailed",
    "RequestLookup",
    "RequestRecordLike",
    "TrustView",
    "authorization_download",
    "count_download",
]

AUTHORIZATION_HEADER = "Ieee-1609.2.1-Authorization"
_GENERATING_RETRY = 1  # seconds: how soon a device should look again while its request is generated
_MAX_HEADER = 4096  # an EeRaDownloadRequestSpdu is a few hundred octets; refuse before decoding a huge header
_DAY = 86_400
_WINDOW_DAYS = 7  # download-maxReqs counts per 7x24 h (docs/params.md)


class BatchNotReady(NotFound):
    """Batch not generated yet (404, protocol.md §3.3 "404 (?)"); ``next_dl_time`` (Time32): when to retry."""

    def __init__(self, message: str, *, next_dl_time: int) -> None:
        super().__init__(message)
        self.next_dl_time = next_dl_time


class ProvisioningFailed(ScmsError):
    """The request's batch work failed for good (410): ``message`` names the reason; make a new request."""

    HTTP_STATUS = 410


class CorruptBatch(ScmsError):
    """A stored batch zip breaks the layout or belongs to another batch (500: the SCMS's own data)."""


class RequestRecordLike(Protocol):
    """What the download needs of a stored authorization request (``stores.auth_requests.RequestRecord`` fits)."""

    @property
    def request_hash(self) -> bytes: ...

    @property
    def device_id(self) -> str: ...

    @property
    def enrollment_cert_id(self) -> str: ...

    @property
    def first_i(self) -> int: ...

    @property
    def last_i(self) -> int: ...

    @property
    def status(self) -> RequestStatus: ...

    @property
    def status_reason(self) -> str | None: ...


class RequestLookup(Protocol):
    """Stored authorization requests by requestHash (the HashedId8 octets)."""

    def get(self, request_hash: bytes) -> RequestRecordLike | None: ...


class TrustView(Protocol):
    """The CA certificates the RA knows and the roots it trusts (``scms_service.hierarchy.Hierarchy`` fits)."""

    def by_hashed_id8(self, hashed_id8: bytes) -> Certificate | None: ...

    def anchors(self) -> list[Certificate]: ...


class DownloadSchedule(Protocol):
    """When batch i is due (``scms_service.iperiod.IPeriods`` fits)."""

    def next_download_time(self, i: int) -> int: ...


def _bad(message: str) -> BadRequest:
    return BadRequest(message, code=ErrorCode.FAILED_PARSING)


def _decode_header(header_value: str) -> bytes:
    text = header_value.strip()
    if not text or len(text) > _MAX_HEADER:
        raise _bad(f"{AUTHORIZATION_HEADER}: empty or too long")
    try:
        # validate=True: no characters outside the alphabet; padding is required by b64decode itself.
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeError, binascii.Error, ValueError):
        raise _bad(f"{AUTHORIZATION_HEADER}: not RFC 4648 base64 with padding") from None


def _parse_name(name: str, what: str) -> BatchName:
    try:
        return parse_batch_filename(name)
    except BadBatchName:
        raise _bad(f"{what}: expected <16 hex digits>_<i in hex>.zip") from None


def _intermediates(leaf: Certificate, trust: TrustView) -> Sequence[Certificate]:
    """The issuers of ``leaf`` the RA knows, following issuer ids (a rotated ECA is found too)."""
    chain: list[Certificate] = []
    current = leaf
    while (issuer_id := current.issuer_id) is not None and len(chain) < 8:
        issuer = trust.by_hashed_id8(issuer_id)
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return chain


def _check_device(devices: DeviceStore, cert_id: str, record: RequestRecordLike | None = None) -> str:
    """The id of the device holding enrollment certificate ``cert_id``, if the RA serves it (step 4).

    A request made with ``cert_id`` names that device already (``authorize`` stored the device it
    found by this certificate, and a certificate belongs to one device), so its state is read by id:
    one consistent GetItem instead of the ``byEnrollmentCert`` index (a Query, eventually consistent
    on AWS) and then the GetItem. Any other case (no such request, another certificate's) looks the
    certificate up; the answers are the same either way. The state is read on every request, never
    cached: a device Revoked or Blocked a moment ago is refused now.
    """
    if record is not None and record.enrollment_cert_id == cert_id:
        device = devices.get(record.device_id)
    else:
        device = devices.get_by_enrollment_cert(cert_id)
    check_serves_device(device.state if device is not None else None)
    assert device is not None
    return device.device_id


def authorization_download(
    header_value: str | None,
    filename_param: str | None,
    *,
    now: int,
    settings: Settings,
    keyring: Keyring,
    ra_anchors: TrustView,
    requests: RequestLookup,
    devices: DeviceStore,
    artifacts: Artifacts,
    schedule: DownloadSchedule,
    counters: DownloadCounterStore | None = None,
) -> ServedFile:
    """Check a download request and return the batch zip it names (module docstring for the order of checks).

    ``counters`` None skips step 9 (unit tests of the other checks); the RA route always passes one.
    """
    if header_value is None:
        if filename_param is None:
            raise _bad(f"neither {AUTHORIZATION_HEADER} nor filename given")
        raise _bad(f"{AUTHORIZATION_HEADER} required: this endpoint authenticates with the enrollment certificate")
    spdu = _decode_header(header_value)
    try:
        opened = parse_ee_ra_download_request(spdu, keyring, resolve_signer=ra_anchors.by_hashed_id8)
    except CodecError as exc:
        raise from_codec(exc) from exc
    content = opened.content
    name = _parse_name(content.filename, "eeRaDownloadRequest.filename")
    if filename_param is not None and _parse_name(filename_param, "filename") != name:
        raise _bad("filename: differs from eeRaDownloadRequest.filename")

    signer = opened.signer
    assert signer is not None  # open_signed requires a certificate signer
    try:
        verify_chain(signer, _intermediates(signer, ra_anchors), ra_anchors.anchors(), at=now)
    except ChainError as exc:
        raise from_codec(exc) from exc
    cert_id = signer.hashed_id8.hex()
    record = requests.get(name.request_hash)  # read first: it names the device (``_check_device``)
    device_id = _check_device(devices, cert_id, record)

    if record is None or record.enrollment_cert_id != cert_id or record.device_id != device_id:
        # One answer for "no such request" and "another device's request": no existence oracle.
        raise BadRequest("request not signed by the enrollment certificate of the batch's request",
                         code=ErrorCode.SIGNATURE_VERIFICATION_FAILED)  # fmt: skip

    generated = content.generation_time
    if generated > now + settings.clock_skew:
        raise BadRequest("generationTime is in the future", code=ErrorCode.GENERATION_TIME_IN_FUTURE)
    if now - generated > settings.download_max_age:
        raise BadRequest("generationTime older than download-maxAge", code=ErrorCode.DOWNLOAD_MAX_AGE)

    if record.status == RequestStatus.FAILED:
        raise ProvisioningFailed(f"provisioning failed: {record.status_reason or 'no reason recorded'}")

    if not record.first_i <= name.i <= record.last_i:
        raise NotFound(f"no batch {name.i:x} in this request")
    data = artifacts.get(batch_key(name.request_hash, name.i))
    if data is None:
        if record.status == RequestStatus.DONE:
            # Every batch of a DONE request was written before the status changed: it was lost.
            raise CorruptBatch(f"stored batch {name.filename} is missing")
        # The RA generates every batch of a request at once, not period by period: while the request
        # is ACCEPTED or GENERATING the batch is a moment away, never later than its due time.
        due = min(schedule.next_download_time(name.i), now + _GENERATING_RETRY)
        raise BatchNotReady("batch not generated yet", next_dl_time=max(due, now))
    try:
        batch = read_period_zip(data, expected=name)
    except BadPeriodZip as exc:
        raise CorruptBatch(f"stored batch {name.filename} is corrupt") from exc
    if counters is not None:
        count_download(counters, cert_id, now=now, settings=settings)
    # The name requested, as the device spelled it (Content-Disposition must equal it, protocol.md §2.1).
    return ServedFile(data, content.filename, time32.to_unix(batch.info.generation_time))


def count_download(counters: DownloadCounterStore, cert_id: str, *, now: int, settings: Settings) -> None:
    """Count one download request of ``cert_id`` at Time32 ``now``, or refuse it (400-75, 400-76) counting nothing.

    First one conditional write (``counters.count``): it counts only what the judgement below would
    count (a counter of today, under download-maxReqs, past download-minWait; with minWait 0, a
    ``last`` not after ``now``, so that ``last`` stays the latest). Otherwise (a new day, no counter
    yet, a refusal to make) the counter is read and judged, and replaced on the version read.
    """
    day = now // _DAY
    wait = settings.download_min_wait
    expires_at = time32.to_unix(now) + 8 * _DAY
    latest = now - wait if wait > 0 else now
    if counters.count(cert_id, day=day, max_reqs=settings.download_max_reqs, last_at_most=latest, now=now,
                      expires_at=expires_at):  # fmt: skip
        return
    for _ in range(3):
        current = counters.get(cert_id)
        days = {d: n for d, n in (current.days if current else {}).items() if d > day - _WINDOW_DAYS}
        if sum(days.values()) >= settings.download_max_reqs:
            raise BadRequest("more than download-maxReqs download requests", code=ErrorCode.DOWNLOAD_MAX_REQS)
        # download-minWait 0 is off: a concurrent request of the same device counted a second later
        # (its ``now`` read after ours) must not make ours "too soon" (a negative wait).
        if settings.download_min_wait > 0 and current is not None and now < current.last + settings.download_min_wait:
            raise BadRequest("download request within download-minWait", code=ErrorCode.DOWNLOAD_MIN_WAIT)
        days[day] = days.get(day, 0) + 1
        version = current.version if current is not None else 0
        counted = DownloadCounter(cert_id, days, max(now, current.last if current else 0), version + 1)
        try:
            counters.replace(counted, expected_version=version, expires_at=expires_at)
            return
        except CounterChanged:
            continue  # a concurrent request of the same certificate counted first: judge again
    raise Conflict("download counter keeps changing; retry")
