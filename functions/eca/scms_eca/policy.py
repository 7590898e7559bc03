"""The ECA's checks of an enrollment request, in the order of protocol.md §3.2 step 3, and what it issues.

Each check raises ``BadRequest`` with its Table 8 code; nothing here writes anything. The device's
registration (``Device``) is the policy: its permissions, region and ``policy`` mapping, whose keys
this module reads are

- ``cert_type``: ``"explicit"``, ``"implicit"``, ``"any"`` or a list of explicit/implicit
  (default: both allowed);
- ``max_validity_years`` and ``max_validity_seconds``: the longest validity the device may ask for
  (default: no device limit; the ECA still cuts every certificate to
  ``Settings.enrollment_validity_years`` and to its own certificate's end);
- ``max_requests``: eca-maxReqs for this device, replacing ``Settings.eca_max_reqs``.

These are the keys the RA documents and checks at registration (``scms_ra.register.POLICY_KEYS``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from scms_service.config import Settings
from scms_service.errors import BadRequest
from scms_service.stores.devices import Device, Permission
from scms_service.stores.eca_requests import RateEntry

from scms_codec.cert.certificate import Certificate
from scms_codec.cert.region import check_region_within
from scms_codec.crypto import keys
from scms_codec.errors import ChainError, CodecError, ErrorCode
from scms_codec.spdu import EeEcaCertRequest
from scms_codec.time32 import DURATION_UNITS, duration_from_seconds, duration_seconds

__all__ = [
    "RATE_WINDOW",
    "EnrollmentTerms",
    "canonical_id_of",
    "check_policy",
    "check_rates",
    "check_times",
    "max_requests",
    "registered_permissions",
    "registered_region",
    "validity_period",
]

RATE_WINDOW = 7 * 24 * 3600
"""eca-maxReqs counts requests whose generationTime lies in 7x24 h (protocol.md §5.3)."""

_YEAR = int(DURATION_UNITS["years"])
_CERT_TYPES = ("explicit", "implicit")
_UINT16_MAX = 0xFFFF


@dataclass(frozen=True)
class EnrollmentTerms:
    """What the ECA will put in the enrollment certificate after the policy checks."""

    cert_type: str
    subject_key: ec.EllipticCurvePublicKey  # explicit: the key to certify; implicit: the ECQV request point R
    start: int  # Time32
    end: int  # Time32 (exclusive end, start + duration)
    region: Any  # asn1tools GeographicRegion value or None
    cert_request_permissions: list[dict[str, Any]]


def canonical_id_of(key: ec.EllipticCurvePublicKey) -> str:
    """The default canonicalId of a canonical key: 64-hex SHA-256 of the uncompressed x‖y (protocol.md §3.1)."""
    raw = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return hashlib.sha256(raw[1:]).hexdigest()


def _refuse(code: ErrorCode, message: str) -> BadRequest:
    return BadRequest(message, code=code)


def check_times(request: EeEcaCertRequest, *, now: int, settings: Settings) -> None:
    """400-50 future, 400-70 older than eca-maxAge, 400-72 start - generationTime beyond eca-maxWait (§5.3)."""
    generation = request.generation_time
    if generation > now + settings.clock_skew:
        raise _refuse(ErrorCode.GENERATION_TIME_IN_FUTURE, "generationTime is in the future")
    if now - generation > settings.eca_max_age:
        raise _refuse(ErrorCode.ECA_MAX_AGE, "generationTime is older than eca-maxAge")
    start = int(request.tbs_cert["validityPeriod"]["start"])
    if start - generation > settings.eca_max_wait:
        raise _refuse(ErrorCode.ECA_MAX_WAIT, "validity start is beyond eca-maxWait after generationTime")


def max_requests(device: Device, settings: Settings) -> int:
    """eca-maxReqs for ``device``: its policy's ``max_requests``, else ``Settings.eca_max_reqs``."""
    value = device.policy.get("max_requests")
    return settings.eca_max_reqs if value is None else int(value)


def check_rates(
    request: EeEcaCertRequest,
    request_hash: bytes,
    entries: Iterable[RateEntry],
    *,
    settings: Settings,
    max_reqs: int | None = None,
) -> None:
    """400-71 eca-maxReqs per device per 7x24 h by generationTime, 400-73 eca-minWait (protocol.md §5.3).

    ``entries`` are the device's accepted requests with generationTime after
    ``generationTime - RATE_WINDOW``; later ones count too, so back-dating a request does not
    escape the limit. This request's own entry (a retried claim) is not counted. ``max_reqs``
    replaces ``settings.eca_max_reqs`` (a device policy's ``max_requests``).
    """
    others = [e for e in entries if e.request_hash != request_hash]
    if len(others) >= (settings.eca_max_reqs if max_reqs is None else max_reqs):
        raise _refuse(ErrorCode.ECA_MAX_REQS, "more than eca-maxReqs enrollment requests in 7x24 h")
    if settings.eca_min_wait > 0 and others:
        latest = max(e.generation_time for e in others)
        if request.generation_time - latest < settings.eca_min_wait:
            raise _refuse(ErrorCode.ECA_MIN_WAIT, "enrollment request retried within eca-minWait")


def _allowed_types(policy: Mapping[str, Any]) -> tuple[str, ...]:
    value = policy.get("cert_type")
    if value is None or value == "any":
        return _CERT_TYPES
    return (value,) if isinstance(value, str) else tuple(value)


def _permissions_within(requested: Any, registered: Sequence[Permission]) -> None:
    """400-61 malformed, 400-31 wider than the device's registered PSIDs/SSPs."""
    if not isinstance(requested, list) or not requested:
        raise _refuse(ErrorCode.CERT_REQUEST_PERMISSIONS_INVALID, "certRequestPermissions is absent or empty")
    allowed = {p.psid: p.ssp for p in registered}
    for group in requested:
        if int(group.get("minChainLength", 1)) < 1 or int(group.get("chainLengthRange", 0)) < -1:
            raise _refuse(ErrorCode.CERT_REQUEST_PERMISSIONS_INVALID, "certRequestPermissions chain length invalid")
        kind, body = group["subjectPermissions"]
        if kind != "explicit":
            raise _refuse(ErrorCode.CERT_REQUEST_PERMISSIONS_NOT_ALLOWED, "certRequestPermissions must list PSIDs")
        if not body:
            raise _refuse(ErrorCode.CERT_REQUEST_PERMISSIONS_INVALID, "certRequestPermissions lists no PSID")
        for entry in body:
            psid = int(entry["psid"])
            if psid not in allowed:
                raise _refuse(ErrorCode.CERT_REQUEST_PERMISSIONS_NOT_ALLOWED, f"PSID {psid} is not registered")
            ssp = allowed[psid]
            if ssp is None:
                continue
            # A registered SSP admits only that SSP: a request for any other, or for all, is wider.
            ssp_range = entry.get("sspRange")
            if ssp_range is None or ssp_range[0] != "opaque" or {bytes(s) for s in ssp_range[1]} - {ssp}:
                raise _refuse(ErrorCode.CERT_REQUEST_PERMISSIONS_NOT_ALLOWED, f"SSP of PSID {psid} is not registered")


def registered_permissions(registered: Sequence[Permission]) -> list[dict[str, Any]]:
    """certRequestPermissions of the enrollment certificate: what the device may later ask the RA for."""
    entries: list[dict[str, Any]] = []
    for p in sorted(registered, key=lambda p: p.psid):
        entry: dict[str, Any] = {"psid": p.psid}
        if p.ssp is not None:
            entry["sspRange"] = ("opaque", [p.ssp])
        entries.append(entry)
    return [{"subjectPermissions": ("explicit", entries), "minChainLength": 1, "chainLengthRange": 0}]


def registered_region(region: Mapping[str, Any] | None) -> Any:
    """The device's registered region as a GeographicRegion value (``{"countries": [840, ...]}``), or None."""
    if not region:
        return None
    countries = region.get("countries")
    if not countries:
        return None
    return ("identifiedRegion", [("countryOnly", int(c)) for c in countries])


def _validity(request: EeEcaCertRequest, device: Device, eca: Certificate, settings: Settings) -> tuple[int, int]:
    period = request.tbs_cert["validityPeriod"]
    start = int(period["start"])
    try:
        requested = duration_seconds(period["duration"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _refuse(ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED, "validity duration is not usable") from exc
    limits = [int(device.policy["max_validity_seconds"])] if "max_validity_seconds" in device.policy else []
    if "max_validity_years" in device.policy:
        limits.append(int(device.policy["max_validity_years"]) * _YEAR)
    if limits and requested > min(limits):
        raise _refuse(ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED, "validity is longer than the device's policy allows")
    eca_start, eca_end = eca.validity
    if start < eca_start or start >= eca_end:
        raise _refuse(ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED, "validity start is outside the ECA's validity")
    # The ECA may shorten what it grants (protocol.md §3.2 step 4): to its configured maximum and
    # so that the certificate ends no later than the ECA's own (a chain must nest).
    end = min(start + requested, start + settings.enrollment_validity_years * _YEAR, eca_end)
    return start, end


def _subject_key(request: EeEcaCertRequest) -> ec.EllipticCurvePublicKey:
    """400-64 unless verifyKeyIndicator is a valid verification key (P-256 for implicit: the ECQV R)."""
    kind, value = request.tbs_cert["verifyKeyIndicator"]
    if kind != "verificationKey":
        raise _refuse(ErrorCode.VERIFY_KEY_INDICATOR_INVALID, "verifyKeyIndicator is not a verificationKey")
    try:
        key = keys.verification_key_from_asn1(value)
    except (CodecError, ValueError, KeyError, TypeError) as exc:
        raise _refuse(ErrorCode.VERIFY_KEY_INDICATOR_INVALID, "verifyKeyIndicator is not a valid point") from exc
    if request.type == "implicit" and not isinstance(key.curve, ec.SECP256R1):
        raise _refuse(ErrorCode.VERIFY_KEY_INDICATOR_INVALID, "implicit certificates need a P-256 request point")
    return key


def check_policy(request: EeEcaCertRequest, device: Device, eca: Certificate, settings: Settings) -> EnrollmentTerms:
    """400-34 type, 400-31/61 permissions, 400-33 region, 400-35 validity, 400-32 other fields, 400-64 key."""
    if request.type not in _allowed_types(device.policy):
        raise _refuse(ErrorCode.CERT_TYPE_NOT_ALLOWED, f"{request.type} certificates are not allowed for this device")
    tbs = request.tbs_cert
    _permissions_within(tbs.get("certRequestPermissions"), device.permissions)
    region = registered_region(device.region)
    try:
        check_region_within(tbs.get("region"), region, "requested region")
        check_region_within(region, eca.tbs.get("region"), "registered region")
    except ChainError as exc:
        raise _refuse(ErrorCode.REGION_NOT_ALLOWED, "region is not within the device's registered region") from exc
    start, end = _validity(request, device, eca, settings)
    other = [p for p in request.violations() if not p.startswith(("verifyKeyIndicator", "certRequestPermissions"))]
    if other:
        raise _refuse(ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, "; ".join(other))
    return EnrollmentTerms(
        cert_type=request.type,
        subject_key=_subject_key(request),
        start=start,
        end=end,
        region=region,
        cert_request_permissions=registered_permissions(device.permissions),
    )


def validity_period(start: int, end: int) -> dict[str, Any]:
    """A ValidityPeriod from ``start`` ending at ``end``, or as close before it as a Duration can say."""
    seconds = end - start
    try:
        return {"start": start, "duration": duration_from_seconds(seconds)}
    except ValueError:
        pass
    # Not exact in any unit: the finest unit whose count fits a Uint16, rounded down (never later than end).
    for unit in ("seconds", "minutes", "hours", "sixtyHours", "years"):
        count = seconds // int(DURATION_UNITS[unit])
        if count <= _UINT16_MAX:
            return {"start": start, "duration": (unit, count)}
    raise ValueError(f"end: {seconds} s of validity cannot be expressed as a Duration")
