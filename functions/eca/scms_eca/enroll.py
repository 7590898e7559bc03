"""Enrollment: ``EeEcaCertRequestSpdu`` in, ``EcaEeCertResponseSpdu`` out (1609.2.1 §6.3.4.2; protocol.md §3.2).

Checks run in the order of protocol.md §3.2 step 3, each with its Table 8 code: parse (400-42),
registered by canonicalId (400-21), not blocked (400-20), signature by the REGISTERED canonical key
(400-43), times (400-50/70/72), rates (400-71/73), policy (400-34/31/61/33/35/32/64). A refusal
writes nothing.

Writes, ordered so that a crash never loses an issued certificate nor issues two:

1. claim the requestHash (``REQ`` item PENDING + the device's rate entry, one conditional
   transaction): concurrent copies of the same bytes cannot both pass;
2. issue the certificate and sign the response, in memory;
3. store the response on the claim (PENDING → ISSUED, conditional on our claim token): from here
   on this is THE certificate of the request, and only one attempt can get here;
4. record the enrollment on the device (Registered → Enrolled, conditional on the device's
   version): a concurrent enrollment of the same device with other bytes loses here, and its
   stored response is deleted before anyone saw it;
5. mark the claim DONE.

Replays and retries: DONE → the stored bytes. ISSUED (crash after 3) → steps 4-5 are finished with
the stored certificate and the stored bytes returned; nothing is issued again. PENDING (a crash or
a slow attempt between 1 and 3: no certificate left memory) → refused with 409 while the claim's
lease (``Settings.eca_claim_lease``) runs; after it, the retry takes the claim over (conditional on
the old token, so only one retry can) and runs every check again. A slow first attempt that wakes
up after a take-over fails its step 3 and its certificate is discarded unseen.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec
from scms_service.config import Settings
from scms_service.errors import BadRequest, Conflict, IllegalTransition
from scms_service.lifecycle import DeviceState, check_transition
from scms_service.stores.devices import Device, DeviceStore, EnrollmentRecord
from scms_service.stores.eca_requests import (
    EcaRequestStore,
    IssuedCertificate,
    RequestClaimed,
    RequestRecord,
    RequestStatus,
)

from scms_codec import time32
from scms_codec.cert.certificate import Certificate, issue_explicit, issue_implicit
from scms_codec.crypto import keys, points
from scms_codec.errors import ErrorCode, SpduShapeError
from scms_codec.secured.cert_request import SelfKey, requested_verification_key
from scms_codec.secured.signer import Signer
from scms_codec.spdu import (
    EcaEeCertResponse,
    EeEcaCertRequest,
    build_eca_ee_cert_response,
    content_path,
    parse_eca_ee_cert_response,
    parse_ee_eca_cert_request,
    request_hash,
)

from .policy import (
    RATE_WINDOW,
    EnrollmentTerms,
    canonical_id_of,
    check_policy,
    check_rates,
    check_times,
    max_requests,
    validity_period,
)

__all__ = ["ECA_ACTOR", "CaKeys", "RequestInProgress", "enroll", "issue_claimed"]

log = logging.getLogger(__name__)

ECA_ACTOR = "eca"
_RETENTION_MARGIN = 24 * 3600
_REENROLL_REFUSED = ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED


class CaKeys(Protocol):
    """What the ECA needs of the CA hierarchy (``scms_service.hierarchy.Hierarchy`` is one)."""

    def signer(self, role: str) -> Signer: ...

    def chain(self, role: str) -> Sequence[Certificate]: ...


class RequestInProgress(Conflict):
    """The same request bytes are being processed by another attempt; retry later (409)."""


def _new_token() -> str:
    return secrets.token_hex(16)


def enroll(
    data: bytes,
    *,
    now: int,
    settings: Settings,
    devices: DeviceStore,
    requests: EcaRequestStore,
    ca: CaKeys,
    new_token: Callable[[], str] = _new_token,
    on_issued: Callable[[str], None] | None = None,
) -> bytes:
    """The ``EcaEeCertResponseSpdu`` for the request ``data`` received at Time32 ``now`` (protocol.md §3.2).

    ``on_issued(cert_type)`` ("explicit" or "implicit") is called once a new certificate is stored,
    never for a replay or a resumed request (the handler counts issued certificates with it).
    """
    rh = request_hash(data)
    existing = requests.get(rh)
    if existing is not None:
        if existing.status is RequestStatus.DONE and existing.response is not None:
            log.info("replayed request answered from the store")
            return existing.response
        if existing.status is RequestStatus.ISSUED:
            log.info("resuming a request whose certificate is stored")
            return _finish(existing, devices, requests, None, now=now)
        if now - existing.claimed_at < settings.eca_claim_lease:
            raise RequestInProgress("this request is being processed; retry later")
        log.warning("taking over a stale claim")

    device_seen: list[Device] = []
    opened = parse_ee_eca_cert_request(data, self_key=_registered_key(devices, settings, device_seen))
    request = opened.content
    device = device_seen[-1]
    if device.state is not DeviceState.REGISTERED:
        # Devices understand Table 8 codes, so this policy refusal is one: 400-32 ("not allowed").
        refusal = BadRequest("device is enrolled already; re-enrollment is not allowed", code=_REENROLL_REFUSED)
        if not settings.allow_reenrollment:
            raise refusal
        try:
            check_transition(device.state, DeviceState.ENROLLED)
        except IllegalTransition as exc:
            raise refusal from exc
    claim, terms = issue_claimed(
        request, rh, device, existing, now=now, settings=settings, requests=requests, ca=ca, new_token=new_token
    )
    assert claim.response is not None and claim.issued is not None
    log.info("enrollment certificate issued", extra={"certificate_id": claim.issued.certificate_id})
    if on_issued is not None:
        on_issued(terms.cert_type)
    return _finish(claim, devices, requests, device, now=now)


def issue_claimed(
    request: EeEcaCertRequest,
    rh: bytes,
    device: Device,
    existing: RequestRecord | None,
    *,
    now: int,
    settings: Settings,
    requests: EcaRequestStore,
    ca: CaKeys,
    new_token: Callable[[], str] = _new_token,
) -> tuple[RequestRecord, EnrollmentTerms]:
    """The ECA's checks of an opened request, its claim, the certificate and the ISSUED record (§3.2 steps 3-5).

    Times, rates and policy (protocol.md §3.2 step 3, ``scms_eca.policy``) are checked before anything
    is written; then the request is claimed (or a stale claim ``existing`` taken over), issued and
    recorded ISSUED. Returns the ISSUED record (response and certificate set) and the terms applied.
    Shared by first enrollment and successor enrollment (``scms_eca.successor``).
    """
    check_times(request, now=now, settings=settings)
    since = request.generation_time - RATE_WINDOW + 1
    entries = requests.rate_entries(device.canonical_id, since=since)
    check_rates(request, rh, entries, settings=settings, max_reqs=max_requests(device, settings))
    signer = ca.signer("eca")
    chain = tuple(ca.chain("eca"))
    terms = check_policy(request, device, chain[0], settings)

    token = new_token()
    claim = RequestRecord(
        request_hash=rh,
        status=RequestStatus.PENDING,
        claim_token=token,
        claimed_at=now,
        canonical_id=device.canonical_id,
        generation_time=request.generation_time,
        expires_at=_expires_at(request.generation_time, settings),
    )
    try:
        if existing is None:
            requests.claim(claim)
        else:
            claim = requests.take_over(rh, old_token=existing.claim_token, new_token=token, now=now)
    except RequestClaimed as exc:
        raise RequestInProgress("this request is being processed; retry later") from exc

    try:
        response, issued = _issue(request, terms, rh, signer, chain, now=now, settings=settings)
    except Exception:
        _release_quietly(requests, claim)
        raise
    try:
        requests.record_issued(rh, token=token, response=response, issued=issued)
    except RequestClaimed as exc:
        # Another retry took the claim over: our certificate is dropped before anyone saw it.
        raise RequestInProgress("this request is being processed; retry later") from exc
    # Any other failure of record_issued is NOT released: the write may have been applied (a timeout
    # after DynamoDB accepted it) and a retry may already have delivered that certificate. The claim
    # stays: a retry finishes it if ISSUED, or takes it over after the lease if still PENDING.
    return replace(claim, status=RequestStatus.ISSUED, response=response, issued=issued), terms


def _registered_key(devices: DeviceStore, settings: Settings, seen: list[Device]) -> SelfKey:
    """The ``self_key`` look-up: 400-21 unregistered, 400-20 blocked, else the registered canonical key."""

    def self_key(scms_pdu: dict[str, Any]) -> ec.EllipticCurvePublicKey:
        if content_path(scms_pdu) != EeEcaCertRequest.PATH:
            raise SpduShapeError("ScmsPdu: not an eeEcaCertRequest")
        content = scms_pdu["content"][1][1]
        canonical_id = content.get("canonicalId")
        requested = None
        if canonical_id is None:
            if not settings.allow_self_keyed_enrollment:
                raise BadRequest("request carries no canonicalId", code=ErrorCode.ENROLLMENT_CERT_UNREGISTERED)
            # Self-keyed: the device asks to certify its registered canonical key itself.
            requested = requested_verification_key(scms_pdu)
            canonical_id = canonical_id_of(requested)
        device = devices.get_by_canonical_id(str(canonical_id))
        if device is None or device.state is DeviceState.DELETED:
            raise BadRequest("device is not registered", code=ErrorCode.ENROLLMENT_CERT_UNREGISTERED)
        if device.state in (DeviceState.BLOCKED, DeviceState.REVOKED):
            raise BadRequest("device is blocked", code=ErrorCode.ENROLLMENT_CERT_BLOCKED)
        registered = keys.public_key_from_sec1(device.canonical_key)
        if requested is not None and requested != registered:
            raise BadRequest("requested key is not the registered key", code=ErrorCode.ENROLLMENT_CERT_UNREGISTERED)
        seen.append(device)
        return registered

    return self_key


def _expires_at(generation_time: int, settings: Settings) -> int:
    """TTL (Unix seconds): past the rate window and past the age after which the bytes are refused anyway."""
    keep = max(RATE_WINDOW, settings.eca_max_age + settings.clock_skew)
    return time32.to_unix(generation_time) + keep + _RETENTION_MARGIN


def _issue(
    request: EeEcaCertRequest,
    terms: EnrollmentTerms,
    rh: bytes,
    signer: Signer,
    chain: tuple[Certificate, ...],
    *,
    now: int,
    settings: Settings,
) -> tuple[bytes, IssuedCertificate]:
    """Issue the enrollment certificate (explicit or ECQV implicit) and sign the response (protocol.md §3.2 4-5)."""
    eca = chain[0]
    tbs: dict[str, Any] = {
        "id": request.tbs_cert["id"],
        # The ECA sets the revocation coordinates: the root is the CRACA of enrollment certificates here,
        # and an enrollment certificate (no linkage data) is revoked on the hash CRL (protocol.md §3.5).
        "cracaId": chain[-1].hashed_id3,
        "crlSeries": settings.crl_hash_series,
        "validityPeriod": validity_period(terms.start, terms.end),
        "certRequestPermissions": terms.cert_request_permissions,
    }
    if terms.region is not None:
        tbs["region"] = terms.region
    private_key_info = None
    if terms.cert_type == "implicit":
        certificate, r = issue_implicit(tbs, points.from_public_key(terms.subject_key), eca, signer.key)
        private_key_info = keys.scalar_to_bytes(r)
    else:
        certificate = issue_explicit(tbs, terms.subject_key, eca, signer.key)
    content = EcaEeCertResponse(now, rh, chain, certificate, private_key_info)
    start, end = certificate.validity
    issued = IssuedCertificate(certificate.hashed_id8.hex(), start, end, eca.hashed_id8.hex())
    return build_eca_ee_cert_response(content, signer), issued


def _finish(
    record: RequestRecord, devices: DeviceStore, requests: EcaRequestStore, device: Device | None, *, now: int
) -> bytes:
    """Steps 4-5: record the enrollment on the device (once), mark the claim DONE, return the response."""
    assert record.response is not None and record.issued is not None  # an ISSUED record holds both
    issued = record.issued
    if device is None:
        device = devices.get_by_canonical_id(record.canonical_id)
    if device is None:
        _release_quietly(requests, record)
        raise BadRequest("device is not registered", code=ErrorCode.ENROLLMENT_CERT_UNREGISTERED)
    if not _holds(device, issued):
        enrollment = EnrollmentRecord(
            issued.certificate_id, issued.validity_start, issued.validity_end, issued.eca_id,
            cert_hash=_certificate_hash(record.response),
        )  # fmt: skip
        try:
            devices.transition(
                device.device_id,
                DeviceState.ENROLLED,
                expected=device.state,
                expected_version=device.version,
                cause=f"enrolled: certificate {issued.certificate_id}",
                actor=ECA_ACTOR,
                now_unix=time32.to_unix(now),
                enrollment=enrollment,
            )
        except Conflict:
            # Either a concurrent resume of this same request recorded it first (then all is well),
            # or the device changed under us (another enrollment won, or it was blocked): then this
            # certificate never reached anyone, so it is deleted with the claim and we refuse.
            if not _holds(devices.get(device.device_id), issued):
                _release_quietly(requests, record)
                raise
    requests.complete(record.request_hash)
    return record.response


def _certificate_hash(response: bytes) -> str:
    """SHA-256 (hex) of the COER certificate in our own signed response: what a hash CRL entry is made of."""
    return hashlib.sha256(parse_eca_ee_cert_response(response).content.certificate.encoded).hexdigest()


def _holds(device: Device | None, issued: IssuedCertificate) -> bool:
    return device is not None and any(e.cert_id == issued.certificate_id for e in device.enrollments)


def _release_quietly(requests: EcaRequestStore, record: RequestRecord) -> None:
    try:
        requests.release(record)
    except Exception:
        # The original failure is the one to report; a left-over claim expires by TTL.
        log.exception("could not release the request claim")
