"""``scms-ee provision``: ask the RA for authorization certificates (1609.2.1 §6.3.5.2; protocol.md §3.3).

The device draws the keys of its variant (``pseudonyms.DeviceKeys``: obk a, h, ck, ek; ubk and cubk
a, ck; plain its own key; private its own key and a response encryption key), builds an
``EeRaCertRequest`` whose tbsCert asks for its registered application PSIDs from ``start`` (default
now) over ``periods`` i-periods (the end is start(firstI + periods) + time-overlap, cut down to a
whole Duration, so the RA's ``last_i_for`` gives exactly that many), signs it with the enrollment
certificate and encrypts it to the RA certificate of the stored CCF (``fetch-chain``; fetched now if
missing). The ``RaEeCertAckSpdu`` must be signed by that RA certificate, name our request's hash,
carry firstI exactly for butterfly requests, and agree with the device's i-period schedule (the
defaults of docs/params.md unless overridden): the certificates are checked against it later.

Stored under ``--state DIR`` (``ProvisioningStore``): ``provisioning/<REQHASH>/request.json`` (what
was asked and acked), ``keys.json`` (0600: the caterpillar/own keys and expansion keys), and the
request and ack SPDUs as sent and received; ``state.json`` ``"provisioning"`` names the latest request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scms_service.config import Settings
from scms_service.iperiod import IPeriods

from scms_codec import time32
from scms_codec.cert.certificate import Certificate
from scms_codec.cert.chain import verify_chain
from scms_codec.crypto import keys
from scms_codec.errors import ChainError, CodecError
from scms_codec.secured.recipients import CertRecipient
from scms_codec.secured.signer import Signer
from scms_codec.spdu.ee_ra_cert_request import EeRaCertRequest, build_ee_ra_cert_request
from scms_codec.spdu.ra_ee_ack import RaEeCertAck, parse_ra_ee_cert_ack
from scms_codec.spdu.scms_pdu import request_hash
from scms_codec.time32 import DURATION_UNITS, duration_from_seconds

from . import fetch_chain as fetch_chain_use_case
from .client import Client
from .enroll import VerificationFailed
from .fetch_chain import certificate_role
from .pseudonyms import CertType, DeviceKeys, Expected, Permission, Variant
from .register import SECURITY_MGMT_PSID
from .register import Permission as Registered
from .state import DeviceState, StateError, _write_atomic, load_certificate
from .trace import Trace

__all__ = [
    "AUTHORIZATION_PATH",
    "PreparedRequest",
    "ProvisionedRequest",
    "ProvisioningStore",
    "build_request",
    "ca_certificates",
    "default_schedule",
    "enrollment_signer",
    "provision",
    "ra_certificate",
    "request_permissions",
    "request_validity",
    "verify_ack",
]

AUTHORIZATION_PATH = "/v3/authorization-certificate"
_UINT16_MAX = 0xFFFF
_CUT_UNITS = ("seconds", "minutes", "hours", "sixtyHours", "years")
_DEFAULT_PSID = 32


def default_schedule(
    *, length: int | None = None, epoch: int | None = None, init: int | None = None, overlap: int | None = None
) -> IPeriods:
    """The i-period schedule the device assumes: docs/params.md's defaults, each overridable."""
    defaults = IPeriods.from_settings(Settings())
    return IPeriods(
        length=defaults.length if length is None else length,
        epoch=defaults.epoch if epoch is None else epoch,
        init=defaults.init if init is None else init,
        overlap=defaults.overlap if overlap is None else overlap,
        certs_per_period=defaults.certs_per_period,
    )


def _duration_at_most(seconds: int) -> tuple[str, int]:
    """The exact Duration of ``seconds`` if there is one, else the longest Duration below it."""
    try:
        return duration_from_seconds(seconds)
    except ValueError:
        pass
    for unit in _CUT_UNITS:
        count = seconds // int(DURATION_UNITS[unit])
        if count <= _UINT16_MAX:
            return unit, count
    return "years", _UINT16_MAX


def request_validity(schedule: IPeriods, start: int, periods: int) -> dict[str, Any]:
    """The ValidityPeriod asking for ``periods`` i-periods from the one ``start`` lies in (protocol.md §5.2).

    The end aims at start(firstI + periods) + overlap; rounding the Duration down (to whole minutes
    or hours for long spans) stays inside the last period, so ``IPeriods.last_i_for`` at the RA
    gives firstI + periods - 1.
    """
    if periods < 1:
        raise ValueError("periods: at least one i-period")
    first_i = schedule.i_at(start)
    end = schedule.start(first_i + periods) + schedule.overlap
    duration = _duration_at_most(end - start)
    if duration[1] == 0:
        raise ValueError("start: too close to the end of its period to ask for anything")
    return {"start": start, "duration": duration}


def request_permissions(state: DeviceState, psids: Sequence[int] | None = None) -> tuple[Permission, ...]:
    """The appPermissions to ask for: ``psids``, else the registered application PSIDs (not 35), else 32."""
    if psids:
        return tuple((psid, None) for psid in dict.fromkeys(psids))
    saved = state.load_json().get("permissions", [])
    registered = [Registered.from_json(p) for p in saved if isinstance(p, dict)]
    chosen = tuple((p.psid, p.ssp) for p in registered if p.psid != SECURITY_MGMT_PSID)
    return chosen or ((_DEFAULT_PSID, None),)


def _app_permissions(permissions: Sequence[Permission]) -> list[dict[str, Any]]:
    return [{"psid": psid} if ssp is None else {"psid": psid, "ssp": ("opaque", ssp)} for psid, ssp in permissions]


@dataclass(frozen=True)
class PreparedRequest:
    """A signed, encrypted authorization request and what goes with it (``keys`` is secret)."""

    spdu: bytes = field(repr=False)
    request_hash: bytes
    keys: DeviceKeys = field(repr=False)
    expected: Expected
    first_i: int
    last_i: int
    generation_time: int


def build_request(
    device: DeviceKeys,
    cert_type: CertType,
    permissions: Sequence[Permission],
    *,
    enrollment: Signer,
    ra_certificate: Certificate,
    now: int,
    schedule: IPeriods,
    periods: int = 1,
    start: int | None = None,
) -> PreparedRequest:
    """The ``EeRaCertRequestSpdu`` of protocol.md §3.3 (EE side) for ``device``'s variant."""
    if cert_type not in ("explicit", "implicit"):
        raise ValueError(f"cert_type: expected explicit or implicit, got {cert_type!r}")
    if not permissions:
        raise ValueError("permissions: at least one PSID")
    count = periods if device.butterfly else 1
    validity = request_validity(schedule, now if start is None else start, count)
    tbs = {
        "id": ("none", None),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": validity,
        "appPermissions": _app_permissions(permissions),
        # verificationKey for both types: A (butterfly) or the device's own key / ECQV request point.
        "verifyKeyIndicator": ("verificationKey", keys.verification_key_to_asn1(device.signing_public())),
    }
    content = EeRaCertRequest(now, cert_type, tbs, device.additional_params())
    spdu = build_ee_ra_cert_request(content, enrollment, CertRecipient(ra_certificate))
    first_i = schedule.i_at(validity["start"])
    request_start = int(validity["start"])
    request_end = time32.validity_end(validity)
    expected = Expected(device.variant, cert_type, tuple(permissions), request_start, request_end, schedule)
    return PreparedRequest(spdu, request_hash(spdu), device, expected, first_i, first_i + count - 1, now)


def verify_ack(prepared: PreparedRequest, ack: bytes, ra: Certificate) -> RaEeCertAck:
    """Check the ``RaEeCertAckSpdu`` (module docstring); ``VerificationFailed`` names what is wrong."""
    try:
        opened = parse_ra_ee_cert_ack(ack, resolve_signer=lambda h: ra if h == ra.hashed_id8 else None)
    except CodecError as exc:
        raise VerificationFailed(f"ack is not a valid RaEeCertAckSpdu: {type(exc).__name__}: {exc}") from exc
    if opened.signer is None or opened.signer.encoded != ra.encoded:
        raise VerificationFailed(f"ack is not signed by the RA certificate {ra.hashed_id8.hex()}")
    content = opened.content
    if content.request_hash != prepared.request_hash:
        raise VerificationFailed(
            f"ack names request {content.request_hash.hex()}, not ours {prepared.request_hash.hex()}"
        )
    if prepared.keys.butterfly:
        if content.first_i is None:
            raise VerificationFailed("ack of a butterfly request without firstI")
        if content.first_i != prepared.first_i:
            raise VerificationFailed(
                f"ack firstI {content.first_i:x} differs from {prepared.first_i:x} by this device's i-period "
                "schedule: set --i-period-length/--i-period-epoch/--i-period-init like the RA's"
            )
    elif content.first_i is not None:
        raise VerificationFailed("ack of a non-butterfly request carries firstI")
    return content


# --- the CA certificates the device trusts (from fetch-chain's CCF) ----------------------------


def ca_certificates(state: DeviceState) -> tuple[Certificate, ...]:
    """The CA certificates of the stored, verified CCF (``fetch-chain``), in its order."""
    saved = state.load_json().get("ccf")
    if not isinstance(saved, dict):
        return ()
    out = []
    for entry in saved.get("certificates", []):
        path = state.root / "ccf" / f"{entry['hashed_id8']}.oer"
        if path.exists():
            out.append(load_certificate(path))
    return tuple(out)


def ra_certificate(
    state: DeviceState, client: Client, trace: Trace, *, now: int, say: Callable[[str], None]
) -> Certificate:
    """The RA certificate to encrypt to: the newest valid ``ra`` of the stored CCF, after ``fetch-chain`` if needed."""
    certificates = ca_certificates(state)
    if not any(certificate_role(c) == "ra" for c in certificates):
        if state.trusted_root() is None:
            raise StateError("no trusted root: run `scms-ee enroll` (or fetch-chain --root) first")
        fetch_chain_use_case.fetch_chain(state, client, trace, pinned_root=None, series=None, now=now, say=say)
        certificates = ca_certificates(state)
    root = state.trusted_root()
    candidates = []
    for cert in certificates:
        if certificate_role(cert) != "ra" or cert.encryption_key() is None:
            continue
        try:
            verify_chain(cert, list(certificates), [root] if root is not None else [], at=now)
        except ChainError:
            continue  # expired or rotated out: another one may be valid
        candidates.append(cert)
    if not candidates:
        raise VerificationFailed("the CCF holds no RA certificate with an encryption key that is valid now")
    return max(candidates, key=lambda c: c.validity[0])


# --- the state directory's provisioning records ------------------------------------------------


@dataclass(frozen=True)
class ProvisionedRequest:
    """An acked authorization request as stored: what the download needs to fetch and check its batches."""

    request_hash: bytes
    variant: Variant
    cert_type: CertType
    first_i: int
    last_i: int
    next_dl_time: int
    expected: Expected
    ra_certificate: str  # HashedId8 hex of the RA certificate the request went to
    ack: RaEeCertAck | None = field(default=None, compare=False)  # as verified (not stored: the SPDU is)

    def to_json(self) -> dict[str, Any]:
        schedule = self.expected.schedule
        return {
            "request_hash": self.request_hash.hex(),
            "variant": self.variant,
            "cert_type": self.cert_type,
            "first_i": self.first_i,
            "last_i": self.last_i,
            "next_dl_time": self.next_dl_time,
            "ra_certificate": self.ra_certificate,
            "permissions": [[psid, None if ssp is None else ssp.hex()] for psid, ssp in self.expected.permissions],
            "validity": [self.expected.request_start, self.expected.request_end],
            "schedule": {
                "length": schedule.length, "epoch": schedule.epoch, "init": schedule.init,
                "overlap": schedule.overlap, "certs_per_period": schedule.certs_per_period,
            },
        }  # fmt: skip

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ProvisionedRequest:
        schedule = IPeriods(**value["schedule"])
        permissions = tuple(
            (int(psid), None if ssp is None else bytes.fromhex(ssp)) for psid, ssp in value["permissions"]
        )
        start, end = value["validity"]
        expected = Expected(value["variant"], value["cert_type"], permissions, int(start), int(end), schedule)
        return cls(
            bytes.fromhex(value["request_hash"]), value["variant"], value["cert_type"], int(value["first_i"]),
            int(value["last_i"]), int(value["next_dl_time"]), expected, value["ra_certificate"],
        )  # fmt: skip


@dataclass(frozen=True)
class ProvisioningStore:
    """``provisioning/<REQHASH>/`` under a device's state directory (module docstring)."""

    state: DeviceState

    def directory(self, request_hash: bytes) -> Path:
        return self.state.root / "provisioning" / request_hash.hex().upper()

    def save(self, record: ProvisionedRequest, device: DeviceKeys, spdu: bytes, ack: bytes) -> None:
        directory = self.directory(record.request_hash)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomic(directory / "keys.json", (json.dumps(device.to_json()) + "\n").encode(), 0o600)
        _write_atomic(directory / "EeRaCertRequestSpdu.oer", spdu, 0o644)
        _write_atomic(directory / "RaEeCertAckSpdu.oer", ack, 0o644)
        text = json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n"
        _write_atomic(directory / "request.json", text.encode(), 0o644)
        saved = self.state.load_json().get("provisioning")
        requests = list(saved.get("requests", [])) if isinstance(saved, dict) else []
        name = record.request_hash.hex().upper()
        self.state.update_json(provisioning={"latest": name, "requests": [*[r for r in requests if r != name], name]})

    def latest(self) -> bytes:
        saved = self.state.load_json().get("provisioning")
        if not isinstance(saved, dict) or not saved.get("latest"):
            raise StateError("no authorization request yet: run `scms-ee provision` first")
        return bytes.fromhex(saved["latest"])

    def load(self, request_hash: bytes) -> tuple[ProvisionedRequest, DeviceKeys]:
        directory = self.directory(request_hash)
        try:
            record = ProvisionedRequest.from_json(json.loads((directory / "request.json").read_text(encoding="utf-8")))
            device = DeviceKeys.from_json(json.loads((directory / "keys.json").read_text(encoding="utf-8")))
        except FileNotFoundError as exc:
            raise StateError(f"no authorization request {request_hash.hex().upper()} in {self.state.root}") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Only the file and the error's type, and no chained exception: a parser's message could
            # quote the key file, whose content is secret.
            raise StateError(f"{directory}: unreadable provisioning record ({type(exc).__name__})") from None
        return record, device


# --- the command -------------------------------------------------------------------------------


def enrollment_signer(state: DeviceState) -> Signer:
    """The enrollment key and certificate that sign requests to the RA."""
    certificate = state.enrollment_certificate()
    if certificate is None:
        raise StateError("no enrollment certificate: run `scms-ee enroll` first")
    return Signer(state.enrollment_key(), certificate)


def provision(
    state: DeviceState,
    client: Client,
    trace: Trace,
    *,
    variant: Variant,
    cert_type: CertType,
    now: int,
    schedule: IPeriods,
    periods: int = 1,
    start: int | None = None,
    psids: Sequence[int] | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> ProvisionedRequest:
    """The whole ``provision`` command up to the ack: keys, request, POST, trace, verify, store (module docstring).

    ``HttpError`` (a refusal) and ``VerificationFailed`` store nothing.
    """
    enrollment = enrollment_signer(state)
    ra = ra_certificate(state, client, trace, now=now, say=say)
    device = DeviceKeys.generate(variant)
    prepared = build_request(
        device, cert_type, request_permissions(state, psids), enrollment=enrollment, ra_certificate=ra,
        now=now, schedule=schedule, periods=periods, start=start,
    )  # fmt: skip
    enrollment_file, ra_file = _trace_certificates(trace, enrollment, ra)
    trace.message("sent", "EeRaCertRequestSpdu", prepared.spdu, signed_by=enrollment_file)
    answer = client.post_spdu(AUTHORIZATION_PATH, prepared.spdu)
    trace.message("received", "RaEeCertAckSpdu", answer, signed_by=ra_file)
    ack = verify_ack(prepared, answer, ra)
    first_i = prepared.first_i if ack.first_i is None else ack.first_i
    record = ProvisionedRequest(
        prepared.request_hash, variant, cert_type, first_i, prepared.last_i, ack.next_dl_time, prepared.expected,
        ra.hashed_id8.hex(), ack,
    )  # fmt: skip
    ProvisioningStore(state).save(record, device, prepared.spdu, answer)
    return record


def _trace_certificates(trace: Trace, enrollment: Signer, ra: Certificate) -> tuple[str | None, str | None]:
    """Record the enrollment and RA certificates so that the messages can name their signers."""
    if not trace.enabled or enrollment.certificate is None:
        return None, None
    enrollment_file = trace.certificate("enrollment", enrollment.certificate, issued_by=None)
    return enrollment_file, trace.certificate("ra", ra, issued_by=None)
