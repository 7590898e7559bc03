"""The RA's part of a revocation (protocol.md §3.6 step 2, §6): which device, Revoked, and what to put on the CRLs.

The MA asks, by one of three handles, and the RA answers without naming the device:

- ``acaRequest`` (16 hex: HashedId8 of an ``RaAcaCertRequestSpdu``, which the ACA's lookup gave the MA
  for a pseudonym certificate) → the ``byAcaRequest`` index of the delivered certificates → the
  authorization request → its device. The RA never sees the certificate itself.
- ``enrollmentCert`` (16 hex: HashedId8 of an enrollment certificate) → the ``byEnrollmentCert`` index.
- ``device`` (a device id, the operator's handle).

The device moves to **Revoked** (audit entry with the MA's cause, actor ``ma``; conditional on the
state and version read, re-read when another change won). A device Revoked before is answered the
same way with ``already_revoked`` (nothing written). A Deleted device cannot change state (Deleted
is terminal) but its certificates may still be in use, so its chains and enrollment hashes are
answered all the same (``already_revoked`` false). Afterwards its authorization, successor and
download requests are refused with 400-20 (``authorize``, ``successor``, ``download``).

The answer: every linkage chain of the device's butterfly requests that reached the LAs (status
GENERATING or DONE: an ACCEPTED request's chain is unknown to them, and neither an ACCEPTED nor a
FAILED request's certificates can be downloaded by a Revoked device) as (chain id, i range, jMax),
which only the LAs can turn into seeds; and the SHA-256 of every enrollment certificate the device
ever had (``EnrollmentRecord.cert_hash``) with its validity end, for the hash CRL. Records written
before ``cert_hash`` existed are left out (counted in ``missing_hashes``). And, for the hash CRL too,
the ACA-side handles of the device's non-butterfly certificates (variants ``encryptionKey`` and
``plain``, GENERATING or DONE): the HashedId8 of each ``RaAcaCertRequestSpdu`` the ACA answered with
a certificate (the delivered items' ``acaRequestId``; refusals left out). The RA never sees those
certificates; only the ACA can turn the handles into their HashedId10s (``lookup_task``). Chain ids
are secrets: never in a log, a repr or exception text.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from enum import StrEnum

from scms_service.errors import BadRequest, NotFound
from scms_service.lifecycle import DeviceState
from scms_service.stores.auth_requests import AuthRequestStore, RequestRecord, RequestStatus
from scms_service.stores.devices import DEVICE_ID_PATTERN, Device, DeviceStore, StaleDevice
from scms_service.stores.issued_certs import IssuedCertStore

from scms_codec.time32 import to_unix

from .expand import BUTTERFLY_VARIANTS

__all__ = [
    "MAX_CAUSE",
    "REVOKE_ACTOR",
    "InvalidRevocation",
    "LinkageChain",
    "Revocation",
    "RevocationTargetNotFound",
    "RevokeBy",
    "RevokedEnrollment",
    "revoke",
]

log = logging.getLogger(__name__)

REVOKE_ACTOR = "ma"
MAX_CAUSE = 200
_ATTEMPTS = 3
_HASHED_ID8_HEX = re.compile(r"[0-9a-f]{16}")
_CHAIN_STATUSES = frozenset({RequestStatus.GENERATING, RequestStatus.DONE})


class RevokeBy(StrEnum):
    """How the MA names the target."""

    ACA_REQUEST = "acaRequest"
    ENROLLMENT_CERT = "enrollmentCert"
    DEVICE = "device"


class InvalidRevocation(BadRequest):
    """The target kind, its value or the cause is malformed."""


class RevocationTargetNotFound(NotFound):
    """No certificate delivered for that ACA request, no device with that enrollment certificate, or no such device."""


@dataclass(frozen=True)
class LinkageChain:
    """One butterfly request's linkage chain as the LAs know it, and the (i, j) its certificates used."""

    chain_id: bytes = field(repr=False)  # 16 random octets: the device's name at the LAs (a secret)
    i_first: int
    i_last: int
    j_max: int  # certificates per period: j in [0, j_max)


@dataclass(frozen=True)
class RevokedEnrollment:
    """An enrollment certificate of the device, as a hash CRL entry needs it."""

    cert_hash: bytes  # SHA-256 of its COER (HashedId10 = the last 10 octets)
    expiry: int  # Time32: its validity end


@dataclass(frozen=True)
class Revocation:
    """The RA's answer; it names no device."""

    already_revoked: bool
    chains: tuple[LinkageChain, ...]
    enrollments: tuple[RevokedEnrollment, ...]
    missing_hashes: int = 0  # enrollment records without a stored certificate hash
    # HashedId8s of the RaAcaCertRequestSpdus the ACA answered for the device's non-butterfly requests.
    aca_requests: tuple[bytes, ...] = ()


def _target(by: str, value: str) -> tuple[RevokeBy, str]:
    try:
        kind = RevokeBy(by)
    except ValueError:
        raise InvalidRevocation(f"by: expected one of {[k.value for k in RevokeBy]}") from None
    if not isinstance(value, str):
        raise InvalidRevocation("value: expected a string")
    if kind is RevokeBy.DEVICE:
        if not DEVICE_ID_PATTERN.fullmatch(value):
            raise InvalidRevocation("value: expected a device id (1..64 of [A-Za-z0-9._-])")
    elif not _HASHED_ID8_HEX.fullmatch(value):
        raise InvalidRevocation("value: expected a HashedId8 in 16 lower-case hex digits")
    return kind, value


def _cause(cause: str) -> str:
    if not isinstance(cause, str) or len(cause) > MAX_CAUSE:
        raise InvalidRevocation(f"cause: expected a string of at most {MAX_CAUSE} characters")
    return cause or "revoked by the MA"


def _device(kind: RevokeBy, value: str, *, devices: DeviceStore, requests: AuthRequestStore) -> Device:
    """The device the target names; ``RevocationTargetNotFound`` (which names nothing) otherwise."""
    device: Device | None
    if kind is RevokeBy.DEVICE:
        device = devices.get(value)
    elif kind is RevokeBy.ENROLLMENT_CERT:
        device = devices.get_by_enrollment_cert(value)
    else:
        request_hash = requests.request_of_aca_request(bytes.fromhex(value))
        record = None if request_hash is None else requests.get(request_hash)
        device = None if record is None else devices.get(record.device_id)
    if device is None:
        raise RevocationTargetNotFound(f"no {kind.value} of that value is known to the RA")
    return device


def _mark_revoked(device: Device, cause: str, *, devices: DeviceStore, now: int) -> tuple[Device, bool]:
    """The device in Revoked (or Deleted, which stays) and whether it was so before; retried on a lost race."""
    current: Device | None = device
    for _ in range(_ATTEMPTS):
        assert current is not None  # a device is never removed, only moved to Deleted
        if current.state is DeviceState.REVOKED:
            return current, True
        if current.state is DeviceState.DELETED:
            return current, False
        try:
            updated = devices.transition(
                current.device_id,
                DeviceState.REVOKED,
                expected=current.state,
                expected_version=current.version,
                cause=cause,
                actor=REVOKE_ACTOR,
                now_unix=to_unix(now),
            )
        except StaleDevice:
            current = devices.get(current.device_id)  # another change won: decide again on what it wrote
            continue
        return updated, False
    raise StaleDevice("the device kept changing while it was being revoked; retry")


def _served(device: Device, requests: AuthRequestStore) -> list[RequestRecord]:
    """The device's requests whose certificates may be in its hands: GENERATING or DONE."""
    records = (requests.get(request_hash) for request_hash in requests.of_device(device.device_id))
    return [r for r in records if r is not None and r.status in _CHAIN_STATUSES]


def _chains(records: list[RequestRecord]) -> tuple[LinkageChain, ...]:
    chains = [
        LinkageChain(r.chain_id, r.first_i, r.last_i, r.certs_per_period)
        for r in records
        if r.variant in BUTTERFLY_VARIANTS
    ]
    return tuple(sorted(chains, key=lambda c: (c.i_first, c.chain_id)))


def _aca_requests(records: list[RequestRecord], issued: IssuedCertStore) -> tuple[bytes, ...]:
    """The ACA requests answered with a certificate, of the non-butterfly requests (protocol.md §3.5: hash CRL)."""
    found: set[bytes] = set()
    for r in records:
        if r.variant in BUTTERFLY_VARIANTS:
            continue  # their certificates carry linkage data: the chains revoke them
        found |= {bytes.fromhex(c.aca_request_id) for c in issued.list(r.request_hash, r.first_i, r.last_i)
                  if c.spdu is not None}  # fmt: skip
    return tuple(sorted(found))


def revoke(
    by: str,
    value: str,
    cause: str,
    *,
    now: int,
    devices: DeviceStore,
    requests: AuthRequestStore,
    issued: IssuedCertStore,
) -> Revocation:
    """Find the device ``by`` names, move it to Revoked, and answer its chains, enrollment hashes and ACA requests.

    ``now`` is Time32. Raises ``InvalidRevocation`` (malformed input), ``RevocationTargetNotFound``,
    ``StaleDevice`` (the device kept changing), ``TransientStoreError``. See the module docstring.
    """
    kind, checked = _target(by, value)
    audit_cause = _cause(cause)
    device = _device(kind, checked, devices=devices, requests=requests)
    device, already = _mark_revoked(device, audit_cause, devices=devices, now=now)
    enrollments = tuple(
        RevokedEnrollment(bytes.fromhex(e.cert_hash), e.valid_until) for e in device.enrollments if e.cert_hash
    )
    missing = len(device.enrollments) - len(enrollments)
    if missing:
        log.warning("enrollment records without a certificate hash cannot go on the hash CRL", extra={"count": missing})
    served = _served(device, requests)
    return Revocation(already, _chains(served), enrollments, missing, _aca_requests(served, issued))
