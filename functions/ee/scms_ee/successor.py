"""``scms-ee successor-enroll``: a new enrollment certificate through the RA (1609.2.1 §6.3.5.4-5; protocol.md §3.4).

The device draws a new key (explicit: the enrollment key; implicit: k with R = k·G), builds an
``EeEcaCertRequestSpdu`` for it signed with that key (no ``canonicalId``: proof of possession), signs
that as a certificate request with its CURRENT enrollment certificate and encrypts it to the RA
certificate of the stored CCF (``EeRaSuccessorEnrollmentCertRequestSpdu``). The
``RaEeEnrollmentCertAckSpdu`` must be signed by that RA certificate and name the request's HashedId8.
The device then downloads ``<requestHash>_enroll.oer`` with an ``EeRaDownloadRequestSpdu`` signed by
the same current certificate, polling while the RA answers 404 with ``Retry-After`` (up to ``wait``),
and checks the ``EcaEeCertResponseSpdu`` exactly as ``enroll`` does (``enroll.verify_response``: ECA
signature, requestHash = the outer request's, chain to the stored root, our key; implicit keys
reconstructed). Only then does the new certificate become current; the old one and its key are
kept under ``previous/<HashedId8>.oer`` / ``.pem`` (0600) and listed in ``state.json``
``"previous_enrollments"``. While the request is in flight its new key waits in
``successor/<REQUESTHASH>/key.pem`` (0600), so nothing is lost if the download fails.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec.cert.certificate import Certificate
from scms_codec.crypto.keys import verification_key_to_asn1
from scms_codec.errors import CodecError
from scms_codec.secured.recipients import CertRecipient
from scms_codec.secured.signer import Signer
from scms_codec.spdu.eca_ee import CertificateType, EeEcaCertRequest, build_ee_eca_cert_request
from scms_codec.spdu.ra_ee_ack import RaEeCertInfo, parse_ra_ee_enrollment_cert_ack
from scms_codec.spdu.scms_pdu import request_hash
from scms_codec.spdu.successor import build_successor_request
from scms_codec.time32 import duration_from_seconds

from .client import ERROR_HEADER, OCTET_STREAM, Client, HttpError
from .download import NotReady, authorization_header, download_request, retry_after_seconds
from .enroll import Enrollment, PreparedRequest, VerificationFailed, _cert_request_permissions, _trace_response
from .enroll import verify_response as verify_enrollment_response
from .provision import enrollment_signer, ra_certificate
from .register import Permission, default_permissions
from .state import DeviceState, StateError, _pem, _write_atomic
from .trace import Trace

__all__ = ["SUCCESSOR_PATH", "PreparedSuccessor", "SuccessorResult", "build_request", "successor_enroll", "verify_ack"]

SUCCESSOR_PATH = "/v3/successor-enrollment-certificate"
_YEAR = 31_556_952
_POLL = 0.05
_BODY_PREVIEW = 300


@dataclass(frozen=True)
class PreparedSuccessor:
    """The signed, encrypted successor request and its new secret (explicit key or implicit k)."""

    spdu: bytes = field(repr=False)
    request_hash: bytes
    cert_type: CertificateType
    secret: ec.EllipticCurvePrivateKey = field(repr=False)

    @property
    def filename(self) -> str:
        """``<requestHash hex>_enroll.oer`` (clause 8.3.2)."""
        return f"{self.request_hash.hex().upper()}_enroll.oer"


@dataclass(frozen=True)
class SuccessorResult:
    """A verified successor: the new enrollment, the certificate it replaced and the request's hash."""

    enrollment: Enrollment
    previous: Certificate
    request_hash: bytes
    ack: RaEeCertInfo


def build_request(
    current: Signer,
    ra: Certificate,
    cert_type: CertificateType,
    permissions: list[Permission],
    *,
    now: int,
    validity_years: int,
) -> PreparedSuccessor:
    """``EeRaSuccessorEnrollmentCertRequestSpdu`` for a new key (module docstring)."""
    if cert_type not in ("explicit", "implicit"):
        raise ValueError(f"cert_type: expected explicit or implicit, got {cert_type!r}")
    if not permissions:
        raise ValueError("permissions: at least one PSID is needed")
    secret = ec.generate_private_key(ec.SECP256R1())
    tbs_cert: dict[str, Any] = {
        "id": ("none", None),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": now, "duration": duration_from_seconds(validity_years * _YEAR)},
        "certRequestPermissions": _cert_request_permissions(permissions),
        "verifyKeyIndicator": ("verificationKey", verification_key_to_asn1(secret.public_key())),
    }
    inner = build_ee_eca_cert_request(EeEcaCertRequest(now, cert_type, tbs_cert), secret)
    spdu = build_successor_request(inner, current, CertRecipient(ra))
    return PreparedSuccessor(spdu, request_hash(spdu), cert_type, secret)


def verify_ack(prepared: PreparedSuccessor, ack: bytes, ra: Certificate) -> RaEeCertInfo:
    """The ``RaEeEnrollmentCertAckSpdu`` is signed by ``ra`` and names our request; ``VerificationFailed`` if not."""
    try:
        opened = parse_ra_ee_enrollment_cert_ack(ack, resolve_signer=lambda h: ra if h == ra.hashed_id8 else None)
    except CodecError as exc:
        raise VerificationFailed(f"ack is not a valid RaEeEnrollmentCertAckSpdu: {type(exc).__name__}: {exc}") from exc
    if opened.signer is None or opened.signer.encoded != ra.encoded:
        raise VerificationFailed(f"ack is not signed by the RA certificate {ra.hashed_id8.hex()}")
    if opened.content.request_hash != prepared.request_hash:
        raise VerificationFailed(
            f"ack names request {opened.content.request_hash.hex()}, not ours {prepared.request_hash.hex()}"
        )
    return opened.content


def _cert_type(state: DeviceState, current: Certificate) -> CertificateType:
    saved = state.load_json().get("enrollment")
    kind = saved.get("type") if isinstance(saved, dict) else None
    if kind in ("explicit", "implicit"):
        return "explicit" if kind == "explicit" else "implicit"
    return "implicit" if current.is_implicit else "explicit"


def _fetch(
    client: Client,
    trace: Trace,
    prepared: PreparedSuccessor,
    current: Signer,
    ra: Certificate,
    files: tuple[str | None, str | None],
    *,
    now: Callable[[], int],
    wait: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> bytes:
    """GET ``<requestHash>_enroll.oer``, polling on 404-not-ready until ``wait`` seconds have passed."""
    name = prepared.filename
    url = f"{client.base_url.rstrip('/')}{SUCCESSOR_PATH}?{urllib.parse.urlencode({'filename': name})}"
    deadline = clock() + wait
    while True:
        spdu = download_request(name, enrollment=current, ra_certificate=ra, generation_time=now())
        trace.message("sent", "EeRaDownloadRequestSpdu", spdu, signed_by=files[0])
        answer = client.transport("GET", url, {"Accept": OCTET_STREAM, **authorization_header(spdu)}, None,
                                  client.timeout)  # fmt: skip
        if answer.status == 200:
            return answer.body
        retry = retry_after_seconds(answer.headers, now_unix=time.time()) if answer.status == 404 else None
        if retry is None:
            text = answer.body[:_BODY_PREVIEW].decode("utf-8", "replace").strip()
            raise HttpError("GET", f"{SUCCESSOR_PATH}?filename={name}", answer.status,
                            answer.headers.get(ERROR_HEADER.lower()), text)  # fmt: skip
        delay = max(_POLL, min(retry, deadline - clock()))
        if clock() + delay > deadline:
            raise NotReady(name, retry)
        sleep(delay)


def successor_enroll(
    state: DeviceState,
    client: Client,
    trace: Trace,
    *,
    now: int,
    validity_years: int = 6,
    wait: float = 30.0,
    say: Callable[[str], None] = lambda _line: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    current_time: Callable[[], int] | None = None,
) -> SuccessorResult:
    """The whole ``successor-enroll`` command (module docstring); a refusal or failed check changes nothing current."""
    current = enrollment_signer(state)
    assert current.certificate is not None  # enrollment_signer requires it
    trusted = state.trusted_root()
    if trusted is None:
        raise StateError("no trusted root: run `scms-ee enroll` first")
    ra = ra_certificate(state, client, trace, now=now, say=say)
    saved = state.load_json()
    permissions = [Permission.from_json(p) for p in saved.get("permissions", [])] or default_permissions([32])
    prepared = build_request(current, ra, _cert_type(state, current.certificate), permissions, now=now,
                             validity_years=validity_years)  # fmt: skip
    pending = state.root / "successor" / prepared.request_hash.hex().upper()
    pending.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_atomic(pending / "key.pem", _pem(prepared.secret), 0o600)
    _write_atomic(pending / "EeRaSuccessorEnrollmentCertRequestSpdu.oer", prepared.spdu, 0o644)

    files = _trace_certificates(trace, current, ra)
    trace.message("sent", "EeRaSuccessorEnrollmentCertRequestSpdu", prepared.spdu, signed_by=files[0])
    answer = client.post_spdu(SUCCESSOR_PATH, prepared.spdu)
    trace.message("received", "RaEeEnrollmentCertAckSpdu", answer, signed_by=files[1])
    ack = verify_ack(prepared, answer, ra)
    _write_atomic(pending / "RaEeEnrollmentCertAckSpdu.oer", answer, 0o644)
    say(f"successor request {prepared.request_hash.hex().upper()} acked; downloading {prepared.filename}")

    body = _fetch(client, trace, prepared, current, ra, files, now=current_time or (lambda: now), wait=wait,
                  clock=clock, sleep=sleep)  # fmt: skip
    _trace_response(trace, body)
    check = PreparedRequest(prepared.spdu, prepared.cert_type, prepared.request_hash, prepared.secret)
    result = verify_enrollment_response(check, body, trusted_root=trusted, root_source="stored", now=now)
    _write_atomic(pending / "EcaEeCertResponseSpdu.oer", body, 0o644)
    _keep_previous(state, current)
    state.save_enrollment_key(result.private_key)
    state.save_enrollment(result.certificate, result.chain)
    start, end = result.certificate.validity
    state.update_json(
        enrollment={
            "type": prepared.cert_type,
            "hashed_id8": result.certificate.hashed_id8.hex(),
            "issuer": result.chain[0].hashed_id8.hex(),
            "validity": [start, end],
            "request_hash": prepared.request_hash.hex(),
            "chain": [c.hashed_id8.hex() for c in result.chain],
            "successor_of": current.certificate.hashed_id8.hex(),
        }
    )
    (pending / "key.pem").unlink(missing_ok=True)  # the key now lives in enrollment.pem
    return SuccessorResult(result, current.certificate, prepared.request_hash, ack)


def _keep_previous(state: DeviceState, current: Signer) -> None:
    """Keep the certificate being replaced and its key (it stays valid until it expires: RA policy)."""
    assert current.certificate is not None
    directory = state.root / "previous"
    directory.mkdir(mode=0o700, exist_ok=True)
    name = current.certificate.hashed_id8.hex()
    _write_atomic(directory / f"{name}.oer", current.certificate.received, 0o644)
    _write_atomic(directory / f"{name}.pem", _pem(current.key), 0o600)
    saved = state.load_json().get("previous_enrollments")
    previous = [p for p in saved if isinstance(p, dict)] if isinstance(saved, list) else []
    start, end = current.certificate.validity
    if all(p.get("hashed_id8") != name for p in previous):
        previous.append({"hashed_id8": name, "validity": [start, end]})
    state.update_json(previous_enrollments=previous)


def _trace_certificates(trace: Trace, current: Signer, ra: Certificate) -> tuple[str | None, str | None]:
    if not trace.enabled or current.certificate is None:
        return None, None
    return (
        trace.certificate("enrollment", current.certificate, issued_by=None),
        trace.certificate("ra", ra, issued_by=None),
    )
