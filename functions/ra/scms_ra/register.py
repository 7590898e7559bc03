"""Register a device (protocol.md §3.1): validate the management JSON and store it as Registered."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from scms_service.errors import BadRequest
from scms_service.json_body import json_object
from scms_service.stores.devices import CANONICAL_ID_PATTERN, DEVICE_ID_PATTERN, Device, DeviceStore, Permission

from scms_codec.crypto.keys import public_key_from_sec1
from scms_codec.errors import CodecError

__all__ = ["CERT_TYPES", "POLICY_KEYS", "parse_registration", "register"]

_FIELDS = frozenset({"device_id", "canonical_public_key", "canonical_id", "permissions", "region", "policy"})
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_PSID_MAX = 2**32 - 1
_SSP_MAX_OCTETS = 31  # ServiceSpecificPermissions opaque, as the certificates we issue use it
CERT_TYPES = frozenset({"explicit", "implicit", "any"})
# Known policy keys and what they hold; other keys are kept as given (the policy is free-form).
# The ECA reads each of them (scms_eca.policy), so each is checked here, at registration.
POLICY_KEYS = {
    "cert_type": (
        "one of explicit, implicit, any, or a non-empty list of explicit/implicit: "
        "the enrollment certificate types the ECA may issue"
    ),
    "max_validity_years": "integer 1..40: the longest enrollment certificate validity",
    "max_validity_seconds": "integer >= 1: the longest enrollment certificate validity, in seconds",
    "max_requests": "integer >= 1: enrollment requests per 7 days (overrides eca_max_reqs)",
}
_ISSUED_TYPES = ("explicit", "implicit")


def _fail(field: str, why: str) -> BadRequest:
    return BadRequest(f"{field}: {why}")


def _hex(value: Any, field: str) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise _fail(field, "expected an even number of hex digits")
    return bytes.fromhex(value)


def _int(value: Any, field: str, low: int, high: int) -> int:
    # bool is an int in Python; JSON true is not a number here.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _fail(field, f"expected an integer {low}..{high}")
    return value


def _permissions(value: Any) -> tuple[Permission, ...]:
    if not isinstance(value, list):
        raise _fail("permissions", "expected a list of {psid, ssp?}")
    out: list[Permission] = []
    for n, item in enumerate(value):
        field = f"permissions[{n}]"
        if not isinstance(item, dict):
            raise _fail(field, "expected an object {psid, ssp?}")
        unknown = set(item) - {"psid", "ssp"}
        if unknown:
            raise _fail(f"{field}.{sorted(unknown)[0]}", "unknown field")
        psid = _int(item.get("psid"), f"{field}.psid", 0, _PSID_MAX)
        ssp = None
        if item.get("ssp") is not None:
            ssp = _hex(item["ssp"], f"{field}.ssp")
            if len(ssp) > _SSP_MAX_OCTETS:
                raise _fail(f"{field}.ssp", f"at most {_SSP_MAX_OCTETS} octets")
        if any(p.psid == psid for p in out):
            raise _fail(f"{field}.psid", f"PSID {psid} is listed twice")
        out.append(Permission(psid, ssp))
    return tuple(out)


def _region(value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"countries"}:
        raise _fail("region", 'expected {"countries": [UN M.49 country codes]}')
    countries = value["countries"]
    if not isinstance(countries, list) or not countries:
        raise _fail("region.countries", "expected a non-empty list of country codes")
    return {"countries": [_int(c, f"region.countries[{n}]", 0, 0xFFFF) for n, c in enumerate(countries)]}


def _cert_type(value: Any) -> None:
    # A list must be checked before any membership test: a list or dict is not hashable.
    if isinstance(value, str) and value in CERT_TYPES:
        return
    if isinstance(value, list) and value and all(isinstance(t, str) and t in _ISSUED_TYPES for t in value):
        return
    raise _fail(
        "policy.cert_type", f"expected one of {', '.join(sorted(CERT_TYPES))} or a non-empty list of explicit/implicit"
    )


def _policy(value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail("policy", "expected an object")
    if "cert_type" in value:
        _cert_type(value["cert_type"])
    if "max_validity_years" in value:
        _int(value["max_validity_years"], "policy.max_validity_years", 1, 40)
    if "max_validity_seconds" in value:
        _int(value["max_validity_seconds"], "policy.max_validity_seconds", 1, 2**32 - 1)
    if "max_requests" in value:
        _int(value["max_requests"], "policy.max_requests", 1, 1_000_000)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise _fail("policy", "not serialisable") from None
    return dict(value)


def parse_registration(body: bytes) -> Device:
    """The device described by a ``POST /manage/v1/devices`` body; ``BadRequest`` naming the bad field."""
    doc = json_object(body)
    unknown = set(doc) - _FIELDS
    if unknown:
        raise _fail(sorted(unknown)[0], "unknown field")
    device_id = doc.get("device_id")
    if not isinstance(device_id, str) or not DEVICE_ID_PATTERN.fullmatch(device_id):
        raise _fail("device_id", "expected 1..64 characters of [A-Za-z0-9._-]")
    if "canonical_public_key" not in doc:
        raise _fail("canonical_public_key", "required")
    point = _hex(doc["canonical_public_key"], "canonical_public_key")
    try:
        key = public_key_from_sec1(point, "nistP256")
    except (CodecError, ValueError):
        raise _fail(
            "canonical_public_key", "not a valid SEC 1 P-256 point (02/03 compressed or 04 uncompressed)"
        ) from None
    uncompressed = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    canonical_id = doc.get("canonical_id")
    if canonical_id is None:
        # protocol.md §3.1: the 64-hex SHA-256 of the uncompressed x‖y, as OpenSCMS and its samples use.
        canonical_id = hashlib.sha256(uncompressed[1:]).hexdigest()
    elif not isinstance(canonical_id, str) or not CANONICAL_ID_PATTERN.fullmatch(canonical_id):
        raise _fail("canonical_id", "expected 1..128 printable ASCII characters")
    return Device(
        device_id=device_id,
        canonical_id=canonical_id,
        canonical_key=key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint),
        permissions=_permissions(doc.get("permissions", [])),
        region=_region(doc.get("region")),
        policy=_policy(doc.get("policy")),
    )


def register(store: DeviceStore, body: bytes, *, actor: str, now_unix: int) -> Device:
    """Validate ``body`` and register the device; ``DeviceExists`` (409) if its id or canonical id is taken."""
    return store.create(parse_registration(body), actor=actor, now_unix=now_unix)
