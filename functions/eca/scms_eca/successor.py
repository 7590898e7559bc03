"""Successor enrollment at the ECA: the RA forwards the inner ``EeEcaCertRequestSpdu`` (§6.3.5.4; protocol.md §3.4).

The RA has opened the ``EeRaSuccessorEnrollmentCertRequestSpdu``, checked its outer signature by the
device's current enrollment certificate and found the device; it hands over the inner request (signed
by the NEW key: proof of possession, ``canonicalId`` absent), the outer requestHash and the device. The
ECA runs the enrollment checks of ``policy`` (the same functions as ``enroll``): inner signature 400-43,
``canonicalId`` present 400-32, times 400-50/70/72, rates per device 400-71/73, policy
400-34/31/61/33/35/32/64. A refusal writes nothing.

The response's ``requestHash`` is the OUTER request's HashedId8 (protocol.md §3.4 step 3), and the
``EcaTable`` claim is keyed by it, with ``enroll``'s write order (claim → issue → ISSUED → DONE): a
retry of the same outer request (the RA resuming after a crash, or two copies at once) gets the stored
response, never a second certificate. The device record is the RA's to change (it links the new
certificate and moves the device to Successor Enrolled).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from scms_service.config import Settings
from scms_service.errors import BadRequest, from_codec
from scms_service.stores.devices import Device
from scms_service.stores.eca_requests import EcaRequestStore, RequestStatus

from scms_codec.errors import CodecError, ErrorCode
from scms_codec.spdu import parse_ee_eca_cert_request

from .enroll import CaKeys, RequestInProgress, issue_claimed

__all__ = ["issue_successor"]

log = logging.getLogger(__name__)


def _new_token() -> str:
    return secrets.token_hex(16)


def issue_successor(
    inner_spdu: bytes,
    *,
    request_hash: bytes,
    device: Device,
    now: int,
    settings: Settings,
    requests: EcaRequestStore,
    ca: CaKeys,
    new_token: Callable[[], str] = _new_token,
) -> bytes:
    """The ``EcaEeCertResponseSpdu`` for a successor request whose outer HashedId8 is ``request_hash``."""
    rh = request_hash
    existing = requests.get(rh)
    if existing is not None:
        if existing.status in (RequestStatus.ISSUED, RequestStatus.DONE) and existing.response is not None:
            log.info("successor request answered from the store")
            if existing.status is RequestStatus.ISSUED:
                requests.complete(rh)
            return existing.response
        if now - existing.claimed_at < settings.eca_claim_lease:
            raise RequestInProgress("this request is being processed; retry later")
        log.warning("taking over a stale successor claim")

    try:
        # Self-signed by the requested (new) key: the default ``self_key`` of the parser.
        request = parse_ee_eca_cert_request(inner_spdu).content
    except CodecError as exc:
        raise from_codec(exc) from exc
    if request.canonical_id is not None:
        raise BadRequest("a successor request carries no canonicalId", code=ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED)
    claim, _ = issue_claimed(
        request, rh, device, existing, now=now, settings=settings, requests=requests, ca=ca, new_token=new_token
    )
    assert claim.response is not None and claim.issued is not None
    requests.complete(rh)
    log.info("successor enrollment certificate issued", extra={"certificate_id": claim.issued.certificate_id})
    return claim.response
