"""Authorization request: ``EeRaCertRequestSpdu`` in, ``RaEeCertAckSpdu`` out (1609.2.1 §6.3.5.2; protocol.md §3.3).

Checks in the order of protocol.md §2.4 and §3.3 ("RA on receipt"), each with its Table 8 code:
decrypt (400-10/41), parse (400-42), signature (400-43), the enrollment certificate and its chain to
the hierarchy's roots (400-62/40), the device by enrollment certificate (400-21 unknown or Deleted,
400-20 Blocked or Revoked), generationTime and now inside the enrollment certificate (400-712);
times (400-50, 400-77, 400-78, 400-35); rates per (enrollment certificate, PSID/SSP set) by
generationTime (400-79, 400-711); policy: tbsCert constraints (400-32), appPermissions (400-60
malformed, 400-30 outside the enrollment certificate's certRequestPermissions or the device's
registration), region (400-33), type (400-34), butterfly variant vs ra-butterflyType (400-32).
A refusal writes nothing.

Writes: the request item (with the signed ack) and its rate entry in one conditional transaction,
then the device Enrolled|SuccessorEnrolled → Provisioning. Of two copies of the same bytes only one
is stored; the other answers the stored ack. If the device changed meanwhile (blocked), the item is
deleted again and the request refused. A crash between the two writes leaves an item whose replay
finishes the transition. A replay is answered with the stored ack octets (never a second record),
unless the device has been blocked, revoked or deleted since.

Not here yet (next step of issue 5 §2): starting the batch work. The stored record is its input.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from scms_service.config import Settings
from scms_service.device_access import check_serves_device
from scms_service.errors import BadRequest, Conflict, from_codec
from scms_service.iperiod import I_MAX, IPeriods
from scms_service.lifecycle import DeviceState
from scms_service.stores.auth_requests import (
    AuthRequestStore,
    RateEntry,
    RequestExists,
    RequestRecord,
    RequestStatus,
)
from scms_service.stores.devices import Device, DeviceStore, Permission

from scms_codec import asn1, time32
from scms_codec.cert.certificate import Certificate
from scms_codec.cert.chain import verify_chain
from scms_codec.cert.permissions import check_end_entity_permissions
from scms_codec.cert.region import check_region_within
from scms_codec.crypto import keys
from scms_codec.errors import ChainError, CodecError, ErrorCode
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.signer import Signer
from scms_codec.spdu import RaEeCertAck, build_ra_ee_cert_ack, request_hash
from scms_codec.spdu.ee_ra_cert_request import (
    AdditionalParams,
    ButterflyCompactUnified,
    ButterflyOriginal,
    ButterflyUnified,
    EeRaCertRequest,
    ResponseEncryptionKey,
    parse_ee_ra_cert_request,
)

__all__ = ["RATE_WINDOW", "RA_ACTOR", "RaKeys", "authorize", "psid_set_of", "variant_of"]

log = logging.getLogger(__name__)

RA_ACTOR = "ra"
RATE_WINDOW = 7 * 24 * 3600
"""ra-maxReqs counts requests whose generationTime lies in 7x24 h (protocol.md §5.3)."""

_RETENTION_MARGIN = 24 * 3600
_BUTTERFLY = ("original", "unified", "compactUnified")
_CERT_TYPES = ("explicit", "implicit")
_FROM_STATES = (DeviceState.ENROLLED, DeviceState.SUCCESSOR_ENROLLED)


class RaKeys(Protocol):
    """What the RA needs of the CA hierarchy (``scms_service.hierarchy.Hierarchy`` is one)."""

    def signer(self, role: str) -> Signer: ...

    def certificate(self, role: str) -> Certificate: ...

    def encryption_private_key(self, role: str) -> ec.EllipticCurvePrivateKey: ...

    def by_hashed_id8(self, hashed_id8: bytes) -> Certificate | None: ...

    def anchors(self) -> list[Certificate]: ...


def _refuse(code: ErrorCode, message: str) -> BadRequest:
    return BadRequest(message, code=code)


def _new_chain_id() -> bytes:
    return secrets.token_bytes(16)


def authorize(
    data: bytes,
    *,
    now: int,
    settings: Settings,
    periods: IPeriods,
    devices: DeviceStore,
    requests: AuthRequestStore,
    ra: RaKeys,
    new_chain_id: Callable[[], bytes] = _new_chain_id,
) -> bytes:
    """The ``RaEeCertAckSpdu`` for the authorization request ``data`` received at Time32 ``now`` (protocol.md §3.3)."""
    rh = request_hash(data)
    stored = requests.get(rh)
    if stored is not None:
        log.info("replayed authorization request answered from the store")
        return _replay(stored, devices, now)

    keyring = Keyring()
    keyring.add_certificate(ra.certificate("ra"), ra.encryption_private_key("ra"))
    try:
        opened = parse_ee_ra_cert_request(data, keyring, resolve_signer=ra.by_hashed_id8)
    except CodecError as exc:
        raise from_codec(exc) from exc
    request = opened.content
    enrollment = opened.signer
    assert enrollment is not None  # parse_ee_ra_cert_request requires SignerSingleCert
    _check_enrollment_certificate(enrollment, ra, request.generation_time)
    device = _device(devices, enrollment)
    _check_enrollment_validity(enrollment, request.generation_time, now)
    variant = variant_of(request.additional_params)
    first_i, last_i = _check_times(request, variant, now=now, settings=settings, periods=periods)
    cert_id = enrollment.hashed_id8.hex()
    psid_set = psid_set_of(request.tbs_cert.get("appPermissions"))
    since = request.generation_time - RATE_WINDOW + 1
    entries = requests.rate_entries(cert_id, psid_set, since=since)

    butterfly = variant in _BUTTERFLY
    next_dl = max(now, periods.next_download_time(first_i)) if butterfly else now
    ack = build_ra_ee_cert_ack(RaEeCertAck(now, rh, next_dl, first_i if butterfly else None), ra.signer("ra"))
    record = _record(
        request, rh, device, cert_id, variant, psid_set, first_i, last_i, ack,
        chain_id=new_chain_id(), now=now, settings=settings, periods=periods,
    )  # fmt: skip
    twin = _same_request(requests, entries, record)
    if twin is not None:
        # Another encryption of a stored request (say its ECIES ephemeral key's y-parity flipped,
        # which 1609.2 §5.3.5 leaves unauthenticated, or the same content re-signed): its replay,
        # looked for before the rates, which the stored request already counts (ra-minWait would
        # otherwise refuse the copy with 400-711, as it would not refuse a replay of the same bytes).
        log.info("another encryption of a stored authorization request answered as its replay")
        return _replay(twin, devices, now)
    _check_rates(request, rh, entries, settings=settings)
    _check_policy(request, variant, enrollment, device, settings)
    try:
        requests.put(record)
    except RequestExists:
        # A concurrent copy of the same bytes was stored first: its ack is the answer.
        winner = requests.get(rh)
        if winner is None:
            raise
        return _replay(winner, devices, now)
    try:
        _to_provisioning(device, devices, now, rh)
    except BadRequest:
        _delete_quietly(requests, record)
        raise
    log.info("authorization request accepted", extra={"first_i": first_i, "last_i": last_i, "variant": variant})
    return ack


def variant_of(params: AdditionalParams | None) -> str:
    """The request's kind: a butterfly variant, ``encryptionKey`` (no butterfly, encrypted) or ``plain``."""
    if isinstance(params, ButterflyOriginal):
        return "original"
    if isinstance(params, ButterflyUnified):
        return "unified"
    if isinstance(params, ButterflyCompactUnified):
        return "compactUnified"
    if isinstance(params, ResponseEncryptionKey):
        return "encryptionKey"
    return "plain"


def psid_set_of(app_permissions: Any) -> str:
    """The rate key of an appPermissions list: 16 hex of SHA-256 over its sorted PSID/SSP entries."""
    entries: list[str] = []
    for entry in app_permissions or ():
        ssp = entry.get("ssp")
        psid = int(entry["psid"])
        entries.append(f"{psid}" if ssp is None else f"{psid}:{ssp[0]}:{bytes(ssp[1]).hex()}")
    return hashlib.sha256(",".join(sorted(entries)).encode()).hexdigest()[:16]


def _check_enrollment_certificate(cert: Certificate, ra: RaKeys, generation_time: int) -> None:
    """400-62 not an enrollment certificate, 400-40 its chain does not reach a root of the hierarchy."""
    if "certRequestPermissions" not in cert.tbs or "appPermissions" in cert.tbs:
        raise _refuse(ErrorCode.ENROLLMENT_CERT_INVALID, "signer is not an enrollment certificate")
    intermediates: list[Certificate] = []
    issuer_id = cert.issuer_id
    while issuer_id is not None and len(intermediates) < 8:
        issuer = ra.by_hashed_id8(issuer_id)
        if issuer is None:
            break
        intermediates.append(issuer)
        issuer_id = issuer.issuer_id
    # Verified at generationTime when the certificate was valid then, else at its nearest valid
    # instant: an expired enrollment certificate is 400-712 (after the device look-up), not 400-40.
    start, end = cert.validity
    at = min(max(generation_time, start), end - 1)
    try:
        verify_chain(cert, intermediates, ra.anchors(), at=at)
    except ChainError as exc:
        raise _refuse(ErrorCode.CHAIN_VERIFICATION_FAILED, "enrollment certificate chain does not verify") from exc


def _device(devices: DeviceStore, enrollment: Certificate) -> Device:
    """400-21 unknown (or Deleted), 400-20 Blocked or Revoked (protocol.md §6)."""
    device = devices.get_by_enrollment_cert(enrollment.hashed_id8.hex())
    check_serves_device(device.state if device is not None else None)
    assert device is not None
    return device


def _check_enrollment_validity(enrollment: Certificate, generation_time: int, now: int) -> None:
    """400-712: generationTime or now outside the enrollment certificate's validity (protocol.md §5.3)."""
    start, end = enrollment.validity
    if not (start <= generation_time < end and start <= now < end):
        raise _refuse(ErrorCode.OUTSIDE_ENROLLMENT_VALIDITY, "outside the enrollment certificate's validity")


def _check_times(
    request: EeRaCertRequest, variant: str, *, now: int, settings: Settings, periods: IPeriods
) -> tuple[int, int]:
    """400-50, 400-77, 400-78, 400-35; returns the request's (first_i, last_i) cut to the preload horizon."""
    generation = request.generation_time
    if generation > now + settings.clock_skew:
        raise _refuse(ErrorCode.GENERATION_TIME_IN_FUTURE, "generationTime is in the future")
    if now - generation > settings.ra_max_age:
        raise _refuse(ErrorCode.RA_MAX_AGE, "generationTime is older than ra-maxAge")
    validity = request.tbs_cert["validityPeriod"]
    start = int(validity["start"])
    if abs(start - generation) > settings.ra_max_gen_delay:
        raise _refuse(ErrorCode.RA_MAX_GEN_DELAY, "validity start is beyond ra-maxGenDelay of generationTime")
    horizon = now + settings.ra_max_preload_time
    if start > horizon:
        raise _refuse(ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED, "validity start is beyond ra-maxPreloadTime")
    first_i = periods.first_i_for(start)
    if variant in _BUTTERFLY:
        last_i = min(max(first_i, periods.last_i_for(time32.validity_end(validity))), periods.i_at(horizon))
    else:
        last_i = first_i
    if first_i < periods.init or last_i > I_MAX:
        raise _refuse(ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED, "validity lies outside the i-periods (IValue)")
    return first_i, last_i


def _check_rates(request: EeRaCertRequest, rh: bytes, entries: Sequence[RateEntry], *, settings: Settings) -> None:
    """400-79 ra-maxReqs per 7x24 h, 400-711 ra-minWait, keyed on (enrollment cert, PSID/SSP set)."""
    others = [e for e in entries if e.request_hash != rh]
    if len(others) >= settings.ra_max_reqs:
        raise _refuse(ErrorCode.RA_MAX_REQS, "more than ra-maxReqs authorization requests in 7x24 h")
    if settings.ra_min_wait > 0 and others:
        latest = max(e.generation_time for e in others)
        if request.generation_time - latest < settings.ra_min_wait:
            raise _refuse(ErrorCode.RA_MIN_WAIT, "authorization request retried within ra-minWait")


def _allowed_types(policy: Any) -> tuple[str, ...]:
    value = policy.get("cert_type")
    if value is None or value == "any":
        return _CERT_TYPES
    return (value,) if isinstance(value, str) else tuple(value)


def _registered_covers(entry: dict[str, Any], registered: Sequence[Permission]) -> bool:
    psid, ssp = int(entry["psid"]), entry.get("ssp")
    for permission in registered:
        if permission.psid == psid:
            if permission.ssp is None:
                return True
            return ssp is not None and ssp[0] == "opaque" and bytes(ssp[1]) == permission.ssp
    return False


def _check_policy(
    request: EeRaCertRequest, variant: str, enrollment: Certificate, device: Device, settings: Settings
) -> None:
    """400-32 constraints, 400-60/30 appPermissions, 400-33 region, 400-34 type, 400-32 variant."""
    problems = request.violations()
    if problems:
        raise _refuse(ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, "tbsCert breaks EeRaCertRequest: " + "; ".join(problems))
    app = request.tbs_cert["appPermissions"]
    if not app:
        raise _refuse(ErrorCode.APP_PERMISSIONS_INVALID, "appPermissions is empty")
    if len({int(e["psid"]) for e in app}) != len(app):
        raise _refuse(ErrorCode.APP_PERMISSIONS_INVALID, "appPermissions lists a PSID twice")
    try:
        check_end_entity_permissions(enrollment.tbs["certRequestPermissions"], app, "app", 1, "appPermissions")
    except ChainError as exc:
        raise _refuse(ErrorCode.APP_PERMISSIONS_NOT_ALLOWED, "appPermissions exceed certRequestPermissions") from exc
    if not all(_registered_covers(entry, device.permissions) for entry in app):
        raise _refuse(ErrorCode.APP_PERMISSIONS_NOT_ALLOWED, "appPermissions exceed the device's registration")
    try:
        check_region_within(request.tbs_cert.get("region"), enrollment.tbs.get("region"), "region")
    except ChainError as exc:
        raise _refuse(ErrorCode.REGION_NOT_ALLOWED, "region is outside the enrollment certificate's") from exc
    if request.type not in _allowed_types(device.policy):
        raise _refuse(ErrorCode.CERT_TYPE_NOT_ALLOWED, f"{request.type} certificates are not allowed")
    allowed = {v.strip() for v in settings.ra_butterfly_types.split(",") if v.strip()}
    if variant in _BUTTERFLY and variant not in allowed:
        raise _refuse(ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, f"butterfly variant {variant} is not supported")
    try:
        keys.verification_key_from_asn1(request.tbs_cert["verifyKeyIndicator"][1])
    except CodecError as exc:
        raise from_codec(exc) from exc


def _compressed(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


def _record(
    request: EeRaCertRequest,
    rh: bytes,
    device: Device,
    cert_id: str,
    variant: str,
    psid_set: str,
    first_i: int,
    last_i: int,
    ack: bytes,
    *,
    chain_id: bytes,
    now: int,
    settings: Settings,
    periods: IPeriods,
) -> RequestRecord:
    params = request.additional_params
    encryption_key = signing_expansion = encryption_expansion = None
    if isinstance(params, ButterflyOriginal):
        encryption_key = _compressed(params.encryption_key)
        signing_expansion, encryption_expansion = params.signing_expansion, params.encryption_expansion
    elif isinstance(params, ButterflyUnified | ButterflyCompactUnified):
        signing_expansion = params.expansion
    elif isinstance(params, ResponseEncryptionKey):
        encryption_key = _compressed(params.key)
    caterpillar = keys.verification_key_from_asn1(request.tbs_cert["verifyKeyIndicator"][1])
    keep = max(RATE_WINDOW, settings.ra_max_age + settings.clock_skew)
    return RequestRecord(
        request_hash=rh,
        device_id=device.device_id,
        enrollment_cert_id=cert_id,
        variant=variant,
        cert_type=request.type,
        tbs_template=asn1.encode("ToBeSignedCertificate", request.tbs_cert),
        caterpillar_key=_compressed(caterpillar),
        encryption_key=encryption_key,
        signing_expansion=signing_expansion,
        encryption_expansion=encryption_expansion,
        first_i=first_i,
        last_i=last_i,
        certs_per_period=periods.certs_per_period if variant in _BUTTERFLY else 1,
        chain_id=chain_id,
        psid_set=psid_set,
        generation_time=request.generation_time,
        status=RequestStatus.ACCEPTED,
        ack=ack,
        created_at=now,
        rate_expires_at=time32.to_unix(request.generation_time) + keep + _RETENTION_MARGIN,
    )


_SAME_CONTENT = (
    "device_id", "enrollment_cert_id", "variant", "cert_type", "tbs_template", "caterpillar_key",
    "encryption_key", "signing_expansion", "encryption_expansion", "generation_time", "psid_set",
)  # fmt: skip


def _same_request(
    requests: AuthRequestStore, entries: Sequence[RateEntry], record: RequestRecord
) -> RequestRecord | None:
    """A stored request of the same content under another request hash, if any (no request twice).

    The request hash covers the outer, encrypted SPDU; the same signed request can arrive in
    another ciphertext. Same enrollment certificate, PSID set, generationTime, template and keys
    (fresh per request) means the same request. Candidates come from the rate entries already read.
    """
    for entry in entries:
        if entry.generation_time != record.generation_time or entry.request_hash == record.request_hash:
            continue
        stored = requests.get(entry.request_hash)
        if stored is not None and all(getattr(stored, f) == getattr(record, f) for f in _SAME_CONTENT):
            return stored
    return None


def _to_provisioning(device: Device, devices: DeviceStore, now: int, rh: bytes) -> None:
    """Enrolled|SuccessorEnrolled → Provisioning (Provisioning stays); 400-20/21 if it was blocked or deleted."""
    current: Device | None = device
    for _ in range(3):
        check_serves_device(current.state if current is not None else None)
        assert current is not None
        if current.state not in _FROM_STATES:
            return  # Provisioning already (or Registered, which cannot hold an enrollment certificate).
        try:
            devices.transition(
                current.device_id,
                DeviceState.PROVISIONING,
                expected=current.state,
                expected_version=current.version,
                cause=f"authorization request {rh.hex()} accepted",
                actor=RA_ACTOR,
                now_unix=time32.to_unix(now),
            )
            return
        except Conflict:
            # The device changed under us (another request moved it, or it was blocked): look again.
            current = devices.get(current.device_id)
    raise Conflict("device keeps changing; retry")


def _replay(stored: RequestRecord, devices: DeviceStore, now: int) -> bytes:
    """The stored ack, after finishing the device's transition if a crash interrupted it."""
    _to_provisioning_by_id(stored, devices, now)
    return stored.ack


def _to_provisioning_by_id(stored: RequestRecord, devices: DeviceStore, now: int) -> None:
    device = devices.get(stored.device_id)
    if device is None:
        raise _refuse(ErrorCode.ENROLLMENT_CERT_UNREGISTERED, "enrollment certificate is not registered")
    _to_provisioning(device, devices, now, stored.request_hash)


def _delete_quietly(requests: AuthRequestStore, record: RequestRecord) -> None:
    try:
        requests.delete(record)
    except Exception:
        # The refusal is what the client must see; a left-over item answers replays with its ack.
        log.exception("could not delete the refused authorization request")
