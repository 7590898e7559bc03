"""The device side of authorization-certificate downloads (6.3.5.3, 8.2; protocol.md §2.3, §3.3): ``scms-ee download``.

``download_request`` builds the ``EeRaDownloadRequestSpdu`` (signed with the enrollment key and
certificate under PSID 35, encrypted to the RA certificate), ``authorization_header`` its
``Ieee-1609.2.1-Authorization`` value (RFC 4648 base64 with padding), and ``open_period_zip``
reads a downloaded batch with the RA's own layout rules and checks that its ``.info`` names the
request and the i-period asked for.

``fetch_batch`` GETs one period's zip and polls while the RA answers 404 with ``Retry-After`` (not
generated yet): it waits what the server says, never less than ``poll`` seconds (0.05 by default, so
a ``Retry-After: 0`` of a batch being generated is polled quickly). When the server's time lies
beyond the wait, it still polls every ``poll`` seconds until the deadline (a request's batches are
generated in one go, so a batch "due next week" is usually there in seconds), then gives up with
``NotReady``. A 404 without ``Retry-After`` (no such batch) or any other
refusal is an ``HttpError`` at once, carrying ``Ieee-1609.2.1-Error``.

``download`` does the whole command for a stored request (``provision.ProvisioningStore``): every
period firstI … lastI is fetched (the first alone, polled while the RA generates; then ``fetchers``
at a time) and opened as soon as it arrives, in a pool of worker processes (``pseudonyms.Opener``:
decrypt, verify, reconstruct, check), while the next ones download. Then every linkage value of
the request must be distinct, and the certificates are saved under ``pseudonyms/<REQHASH>/<i hex>/<j hex>.oer``
with the private keys of each period in ``keys.json`` (0600).
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path

from scms_ra.batch_files import BadPeriodZip, BatchName, PeriodZip, batch_filename, read_period_zip

from scms_codec import time32
from scms_codec.cert.certificate import Certificate
from scms_codec.cert.chain import verify_chain
from scms_codec.errors import ChainError
from scms_codec.secured.recipients import CertRecipient
from scms_codec.secured.signer import Signer
from scms_codec.spdu.download import EeRaDownloadRequest, build_ee_ra_download_request

from . import fetch_chain as fetch_chain_use_case
from .client import ERROR_HEADER, OCTET_STREAM, Client, HttpError
from .enroll import VerificationFailed
from .fetch_chain import certificate_role
from .provision import (
    AUTHORIZATION_PATH,
    ProvisionedRequest,
    ProvisioningStore,
    ca_certificates,
    enrollment_signer,
)
from .pseudonyms import DeviceKeys, Expected, Opener, Pseudonym
from .state import DeviceState, StateError
from .trace import Trace

__all__ = [
    "AUTHORIZATION_PATH",
    "DownloadResult",
    "NotReady",
    "PeriodResult",
    "authorization_header",
    "download",
    "download_request",
    "fetch_batch",
    "open_period_zip",
    "retry_after_seconds",
    "trusted_acas",
]

NEXT_DOWNLOAD_HEADER = "Scms-Next-Dl-Time"
_BODY_PREVIEW = 300


def download_request(filename: str, *, enrollment: Signer, ra_certificate: Certificate, generation_time: int) -> bytes:
    """``EeRaDownloadRequestSpdu`` for ``filename``: Encrypted{Signed{…, 35} by the enrollment certificate}."""
    if enrollment.certificate is None:
        raise ValueError("enrollment: the download request is signed with the enrollment certificate")
    content = EeRaDownloadRequest(generation_time=generation_time, filename=filename)
    return build_ee_ra_download_request(content, enrollment, CertRecipient(ra_certificate))


def authorization_header(spdu: bytes) -> dict[str, str]:
    """The ``Ieee-1609.2.1-Authorization`` header carrying ``spdu`` (standard base64, padded)."""
    return {"Ieee-1609.2.1-Authorization": base64.b64encode(spdu).decode("ascii")}


def open_period_zip(data: bytes, *, request_hash: bytes, i: int, allow_empty: bool = False) -> PeriodZip:
    """A downloaded batch i of ``request_hash``: layout checked, ``.info`` for this request and period.

    ``VerificationFailed`` names the first broken rule (the CLI's exit code 1). A batch without any
    certificate (the ACA refused them all) is one too, unless ``allow_empty``.
    """
    expected = BatchName(request_hash, i)
    try:
        batch = read_period_zip(data, expected=expected)
    except BadPeriodZip as exc:
        raise VerificationFailed(f"{batch_filename(request_hash, i)}: {exc}") from None
    if not batch.responses and not allow_empty:
        raise VerificationFailed(f"{expected.filename}: no certificate in the batch")
    return batch


# --- polling for one period's zip ----------------------------------------------------------------


class NotReady(Exception):
    """Batch i was not generated before the wait ran out; ``retry_after`` (seconds) is the server's last word."""

    def __init__(self, filename: str, retry_after: float | None) -> None:
        self.filename = filename
        self.retry_after = retry_after
        when = "" if retry_after is None else f" (the RA says: retry in {retry_after:.0f} s)"
        super().__init__(f"{filename}: not generated before the wait ran out{when}")


def retry_after_seconds(headers: Mapping[str, str], *, now_unix: float) -> float | None:
    """Seconds until the RA's ``Retry-After`` (delay-seconds or HTTP-date), or ``Scms-Next-Dl-Time`` (Time32)."""
    value = headers.get("retry-after")
    if value is not None:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now_unix)
        except (TypeError, ValueError):
            pass
    next_dl = headers.get(NEXT_DOWNLOAD_HEADER.lower())
    if next_dl is not None and next_dl.strip().isdigit():
        return max(0.0, float(time32.to_unix(int(next_dl))) - now_unix)
    return None


@dataclass(frozen=True)
class _Fetcher:
    """What every download request of one stored authorization request needs."""

    client: Client
    request_hash: bytes
    enrollment: Signer
    ra: Certificate
    trace: Trace
    now: Callable[[], int]
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    poll: float
    enrollment_file: str | None = None
    ra_file: str | None = None


def fetch_batch(fetcher: _Fetcher, i: int, deadline: float) -> tuple[bytes, int]:
    """Batch i's zip and how many GETs it took; polls on 404-not-ready until ``deadline`` (module docstring)."""
    name = batch_filename(fetcher.request_hash, i)
    url = f"{fetcher.client.base_url.rstrip('/')}{AUTHORIZATION_PATH}?{urllib.parse.urlencode({'filename': name})}"
    attempts = 0
    while True:
        attempts += 1
        spdu = download_request(name, enrollment=fetcher.enrollment, ra_certificate=fetcher.ra,
                                generation_time=fetcher.now())  # fmt: skip
        fetcher.trace.message("sent", "EeRaDownloadRequestSpdu", spdu, signed_by=fetcher.enrollment_file)
        headers = {"Accept": OCTET_STREAM, **authorization_header(spdu)}
        answer = fetcher.client.transport("GET", url, headers, None, fetcher.client.timeout)
        if answer.status == 200:
            return answer.body, attempts
        retry = retry_after_seconds(answer.headers, now_unix=time.time()) if answer.status == 404 else None
        if retry is None:
            text = answer.body[:_BODY_PREVIEW].decode("utf-8", "replace").strip()
            raise HttpError("GET", f"{AUTHORIZATION_PATH}?filename={name}", answer.status,
                            answer.headers.get(ERROR_HEADER.lower()), text)  # fmt: skip
        delay = max(fetcher.poll, retry)
        if fetcher.clock() + delay > deadline:
            # The RA names a time beyond our wait. Batches are generated in one go and served as soon
            # as they exist, so poll what is left of the wait at the polling interval before giving up.
            delay = fetcher.poll
            if fetcher.clock() + delay > deadline:
                raise NotReady(name, retry)
        fetcher.sleep(delay)


# --- opening periods, in worker processes ---------------------------------------------------------


@dataclass(frozen=True)
class PeriodResult:
    """One period's verified pseudonyms (j order) and the ``.info``'s nextDlTime."""

    i: int
    pseudonyms: tuple[Pseudonym, ...]
    next_dl_time: int
    seconds: float  # time spent opening, in the worker


_worker: tuple[Opener, bytes] | None = None


def _init_worker(device: DeviceKeys, expected: Expected, acas: list[bytes], request_hash: bytes) -> None:
    global _worker
    _worker = (Opener(device, expected, [Certificate.from_bytes(a) for a in acas]), request_hash)


def _open_in_worker(i: int, data: bytes) -> PeriodResult:
    assert _worker is not None, "worker not initialised"
    opener, request_hash = _worker
    return open_period(opener, request_hash, i, data)


def open_period(opener: Opener, request_hash: bytes, i: int, data: bytes) -> PeriodResult:
    """Read batch i's zip (layout, ``.info``) and open every response in it."""
    started = time.perf_counter()
    # An empty batch is reported, not refused: the ACA may refuse certificates by policy (batch_files).
    batch = open_period_zip(data, request_hash=request_hash, i=i, allow_empty=True)
    if not opener.device.butterfly and len(batch.responses) > 1:
        raise VerificationFailed(f"{batch_filename(request_hash, i)}: a non-butterfly request has one certificate")
    found = tuple(opener.open(i, j, body) for j, body in batch.responses.items())
    return PeriodResult(i, found, batch.info.next_dl_time, time.perf_counter() - started)


def _context() -> multiprocessing.context.BaseContext:
    # fork starts a worker in milliseconds, but is only safe while this process runs one thread.
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


# --- trust --------------------------------------------------------------------------------------


def trusted_acas(state: DeviceState, *, now: int) -> tuple[Certificate, ...]:
    """The ACA certificates of the stored CCF that chain to the trusted root now (``fetch-chain``)."""
    root = state.trusted_root()
    if root is None:
        raise StateError("no trusted root: run `scms-ee enroll` (or fetch-chain --root) first")
    certificates = ca_certificates(state)
    out = []
    for cert in certificates:
        if certificate_role(cert) != "aca":
            continue
        try:
            verify_chain(cert, list(certificates), [root], at=now)
        except ChainError:
            continue  # expired or not under our root: certificates it issued are not trusted
        out.append(cert)
    return tuple(out)


# --- the command ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadResult:
    """A verified download: every pseudonym by period, and where the time went (seconds)."""

    request_hash: bytes
    periods: Mapping[int, int]  # i → certificates verified
    pseudonyms: tuple[Pseudonym, ...] = field(repr=False)
    downloads: int  # GETs, polls included
    total_seconds: float
    download_seconds: float  # from the first GET until the last zip arrived (polls, transfers)
    open_seconds: float  # decrypting and checking, summed over workers
    workers: int

    @property
    def verified(self) -> int:
        return len(self.pseudonyms)

    @property
    def empty_periods(self) -> tuple[int, ...]:
        """Periods whose batch held no certificate (every one refused by the SCMS)."""
        return tuple(i for i, count in self.periods.items() if count == 0)


def download(
    state: DeviceState,
    client: Client,
    trace: Trace,
    *,
    request_hash: bytes | None = None,
    wait: float = 60.0,
    poll: float = 0.05,
    workers: int | None = None,
    fetchers: int = 2,
    now: Callable[[], int] = time32.now,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    save: bool = True,
    say: Callable[[str], None] = lambda _line: None,
) -> DownloadResult:
    """The whole ``download`` command for a stored request (module docstring); the library API of the bench.

    ``VerificationFailed`` for anything that does not check out, ``NotReady`` when ``wait`` ran out,
    ``HttpError`` for a refusal (e.g. 410 when the RA's batch work failed). Nothing is saved unless
    every period verified.
    """
    started = clock()
    store = ProvisioningStore(state)
    record, device = store.load(request_hash if request_hash is not None else store.latest())
    enrollment = enrollment_signer(state)
    at = now()
    ra = _ra_certificate(state, record)
    acas = trusted_acas(state, now=at)
    if not acas:
        fetch_chain_use_case.fetch_chain(state, client, trace, pinned_root=None, series=None, now=at, say=say)
        acas = trusted_acas(state, now=at)
    if not acas:
        raise VerificationFailed("the CCF holds no ACA certificate that chains to the trusted root now")
    enrollment_file = ra_file = None
    if trace.enabled and enrollment.certificate is not None:
        enrollment_file = trace.certificate("enrollment", enrollment.certificate, issued_by=None)
        ra_file = trace.certificate("ra", ra, issued_by=None)
    fetcher = _Fetcher(client, record.request_hash, enrollment, ra, trace, now, clock, sleep, poll,
                       enrollment_file, ra_file)  # fmt: skip
    indices = list(range(record.first_i, record.last_i + 1))
    count = workers if workers is not None else (min(2, os.cpu_count() or 1) if len(indices) > 2 else 1)
    deadline = started + wait
    with trace.deferred():
        results, downloads, waited, zips = _fetch_and_open(
            fetcher, record, device, acas, indices, count, deadline, fetchers
        )
        pseudonyms = tuple(p for i in indices for p in results[i].pseudonyms)
        _check_distinct(pseudonyms)
        if trace.enabled:
            _trace_batches(trace, record.request_hash, zips, results, acas)
    if save:
        _save(state, record, zips, results)
    return DownloadResult(
        record.request_hash, {i: len(results[i].pseudonyms) for i in indices}, pseudonyms, downloads,
        clock() - started, waited, sum(r.seconds for r in results.values()), count,
    )  # fmt: skip


def _ra_certificate(state: DeviceState, record: ProvisionedRequest) -> Certificate:
    for cert in ca_certificates(state):
        if cert.hashed_id8.hex() == record.ra_certificate:
            return cert
    raise StateError(f"the RA certificate {record.ra_certificate} of this request is no longer in the stored CCF")


def _fetched(fetcher: _Fetcher, indices: list[int], deadline: float, fetchers: int) -> Iterator[tuple[int, bytes, int]]:
    """(i, zip, GETs) per period: the first alone (polled while the RA generates), the rest ``fetchers`` at a time.

    Only one period is polled while the batch is generated, so polling never competes with the SCMS
    for CPU more than one request at a time; once the first batch exists the others usually do too.
    """
    if not indices:
        return
    data, attempts = fetch_batch(fetcher, indices[0], deadline)
    yield indices[0], data, attempts
    rest = indices[1:]
    if fetchers <= 1 or len(rest) <= 1:
        for i in rest:
            data, attempts = fetch_batch(fetcher, i, deadline)
            yield i, data, attempts
        return
    with ThreadPoolExecutor(fetchers, thread_name_prefix="scms-ee-download") as threads:
        futures = {threads.submit(fetch_batch, fetcher, i, deadline): i for i in rest}
        try:
            for future in as_completed(futures):
                data, attempts = future.result()
                yield futures[future], data, attempts
        finally:
            for future in futures:
                future.cancel()


def _fetch_and_open(
    fetcher: _Fetcher,
    record: ProvisionedRequest,
    device: DeviceKeys,
    acas: Iterable[Certificate],
    indices: list[int],
    workers: int,
    deadline: float,
    fetchers: int,
) -> tuple[dict[int, PeriodResult], int, float, dict[int, bytes]]:
    """Fetch the periods; each zip is opened (in the pool) while the next ones download."""
    zips: dict[int, bytes] = {}
    downloads = 0
    begin = fetcher.clock()
    waited = 0.0
    if workers <= 1:
        opener = Opener(device, record.expected, acas)
        results: dict[int, PeriodResult] = {}
        for i, data, attempts in _fetched(fetcher, indices, deadline, fetchers):
            zips[i], downloads, waited = data, downloads + attempts, fetcher.clock() - begin
            results[i] = open_period(opener, record.request_hash, i, data)
        return results, downloads, waited, zips
    initargs = (device, record.expected, [c.encoded for c in acas], record.request_hash)
    # The first submit forks every worker (fork context) before any download thread exists.
    with ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init_worker, initargs=initargs) as pool:
        futures: dict[int, Future[PeriodResult]] = {}
        try:
            for i, data, attempts in _fetched(fetcher, indices, deadline, fetchers):
                zips[i], downloads, waited = data, downloads + attempts, fetcher.clock() - begin
                futures[i] = pool.submit(_open_in_worker, i, data)
            return {i: futures[i].result() for i in indices}, downloads, waited, zips
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise


def _check_distinct(pseudonyms: tuple[Pseudonym, ...]) -> None:
    """Every linkage value of a request differs (protocol.md §4.6), and so does every certificate."""
    seen: dict[bytes, tuple[int, int]] = {}
    for p in pseudonyms:
        if p.linkage_value is None:
            continue
        other = seen.setdefault(p.linkage_value, (p.i, p.j))
        if other != (p.i, p.j):
            raise VerificationFailed(f"{p.i:x}_{p.j:x} repeats the linkage value of {other[0]:x}_{other[1]:x}")
    if len({p.hashed_id8 for p in pseudonyms}) != len(pseudonyms):
        raise VerificationFailed("the same certificate came twice")


def _trace_batches(
    trace: Trace, request_hash: bytes, zips: Mapping[int, bytes], results: Mapping[int, PeriodResult],
    acas: Iterable[Certificate],
) -> None:  # fmt: skip
    """Every ``.info`` and response as a received message, every pseudonym certificate under ``certs/``."""
    aca_files = {c.hashed_id8: trace.certificate("aca", c, issued_by=None) for c in acas}
    for i, data in zips.items():
        batch = read_period_zip(data, expected=BatchName(request_hash, i))
        trace.message("received", "RaEeCertInfoSpdu", batch.info_spdu, signed_by=None)
        by_j = {p.j: p for p in results[i].pseudonyms}
        for j, body in batch.responses.items():
            pseudonym = by_j[j]
            issuer = aca_files.get(Certificate.from_bytes(pseudonym.certificate).issuer_id or b"")
            kind = _SPDU_NAME.get(body[1:2], "AcaEeCertResponseSpdu")
            trace.message("received", kind, body, signed_by=issuer if kind.endswith("PrivateSpdu") else None)
            trace.certificate_octets("pseudonym", pseudonym.hashed_id8, pseudonym.certificate, issued_by=issuer)


# The content tag of the Ieee1609Dot2Data each response form is (protocol.md §1.3).
_SPDU_NAME = {
    b"\x80": "AcaEeCertResponsePlainSpdu",
    b"\x81": "AcaEeCertResponsePrivateSpdu",
    b"\x82": "AcaEeCertResponseCubkSpdu",
}


def _write_private(path: Path, data: bytes) -> None:
    """A 0600 file without an fsync per file (thousands of them; a lost one is downloaded again)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def _save(
    state: DeviceState, record: ProvisionedRequest, zips: Mapping[int, bytes], results: Mapping[int, PeriodResult]
) -> None:
    """``pseudonyms/<REQHASH>/<i>/<j>.oer`` and ``keys.json`` (0600) per period; the zips beside the request."""
    name = record.request_hash.hex().upper()
    root = state.root / "pseudonyms" / name
    batches = ProvisioningStore(state).directory(record.request_hash) / "batches"
    batches.mkdir(mode=0o700, parents=True, exist_ok=True)
    for i, result in results.items():
        directory = root / f"{i:x}"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for p in result.pseudonyms:
            (directory / f"{p.j:x}.oer").write_bytes(p.certificate)
        keys = {f"{p.j:x}": f"{p.private_key:064x}" for p in result.pseudonyms}
        _write_private(directory / "keys.json", (json.dumps(keys) + "\n").encode())
        (batches / batch_filename(record.request_hash, i)).write_bytes(zips[i])
    summary = {"periods": {f"{i:x}": len(r.pseudonyms) for i, r in results.items()}}
    (root / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
