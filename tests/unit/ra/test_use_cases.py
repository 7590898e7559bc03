"""RA use cases with the fake store: registration validation, lifecycle operations, CA certificate lookup."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from scms_ra import ca_certificate, lifecycle_ops, read, register
from scms_service.errors import BadRequest, IllegalTransition, NotFound
from scms_service.lifecycle import DeviceState
from scms_service.stores.devices import DeviceExists, InMemoryDeviceStore, StaleDevice

from scms_codec.errors import ErrorCode

G = "036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"


def _body(**fields: object) -> bytes:
    return json.dumps({"device_id": "obu-1", "canonical_public_key": G, **fields}).encode()


def test_register_fills_default_canonical_id_and_policy() -> None:
    store = InMemoryDeviceStore()
    device = register.register(store, _body(policy={"cert_type": "implicit", "extra": 1}), actor="t", now_unix=5)
    assert len(device.canonical_id) == 64 and device.policy == {"cert_type": "implicit", "extra": 1}
    assert store.get_by_canonical_id(device.canonical_id) == device


def test_register_keeps_given_canonical_id() -> None:
    device = register.parse_registration(_body(canonical_id="vendor-123"))
    assert device.canonical_id == "vendor-123"


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"canonical_id": "has space"}, "canonical_id"),
        ({"permissions": [{"psid": 32}, {"psid": 32}]}, "permissions[1].psid"),
        ({"permissions": [{"psid": True}]}, "permissions[0].psid"),
        ({"region": {"circle": {}}}, "region"),
        ({"policy": {"max_validity_years": 0}}, "policy.max_validity_years"),
        ({"policy": []}, "policy"),
        # Unhashable values once reached a set membership test: a 500, not a 400.
        ({"policy": {"cert_type": ["implicit", "both"]}}, "policy.cert_type"),
        ({"policy": {"cert_type": []}}, "policy.cert_type"),
        ({"policy": {"cert_type": {"explicit": True}}}, "policy.cert_type"),
        # The ECA reads it as an integer: a string would fail there, at enrollment time.
        ({"policy": {"max_validity_seconds": "a year"}}, "policy.max_validity_seconds"),
    ],
)
def test_register_rejects_bad_field(fields: dict[str, object], name: str) -> None:
    store = InMemoryDeviceStore()
    with pytest.raises(BadRequest) as info:
        register.register(store, _body(**fields), actor="t", now_unix=5)
    assert info.value.message.startswith(name + ":")
    assert store.get("obu-1") is None


@pytest.mark.parametrize(
    "policy",
    [
        {"cert_type": "any"},
        {"cert_type": ["implicit"]},
        {"cert_type": ["explicit", "implicit"]},
        {"max_validity_seconds": 86_400},
        {"max_validity_years": 3, "max_requests": 5},
    ],
)
def test_register_accepts_every_policy_shape_the_eca_reads(policy: dict[str, object]) -> None:
    device = register.parse_registration(_body(policy=policy))
    assert device.policy == policy


def test_register_twice_is_device_exists() -> None:
    store = InMemoryDeviceStore()
    register.register(store, _body(), actor="t", now_unix=5)
    with pytest.raises(DeviceExists):
        register.register(store, _body(), actor="t", now_unix=6)


def test_unblock_returns_to_the_state_before_the_block() -> None:
    store = InMemoryDeviceStore()
    register.register(store, _body(), actor="t", now_unix=1)
    store.transition("obu-1", DeviceState.ENROLLED, expected=DeviceState.REGISTERED, cause="e", actor="eca", now_unix=2)
    lifecycle_ops.block(store, "obu-1", lifecycle_ops.Change("MA"), actor="t", now_unix=3)
    device = lifecycle_ops.unblock(store, "obu-1", lifecycle_ops.Change("ok"), actor="t", now_unix=4)
    assert device.state is DeviceState.ENROLLED


def test_unblock_of_a_device_that_is_not_blocked_is_illegal() -> None:
    store = InMemoryDeviceStore()
    before = register.register(store, _body(), actor="t", now_unix=1)
    with pytest.raises(IllegalTransition):
        lifecycle_ops.unblock(store, "obu-1", lifecycle_ops.Change("ok"), actor="t", now_unix=2)
    assert store.get("obu-1") == before


def test_block_with_stale_version_is_refused() -> None:
    store = InMemoryDeviceStore()
    register.register(store, _body(), actor="t", now_unix=1)
    with pytest.raises(StaleDevice):
        lifecycle_ops.block(store, "obu-1", lifecycle_ops.Change("MA", version=7), actor="t", now_unix=2)


def test_operations_on_unknown_device_are_not_found() -> None:
    with pytest.raises(NotFound):
        lifecycle_ops.delete(InMemoryDeviceStore(), "x", lifecycle_ops.Change("d"), actor="t", now_unix=1)
    with pytest.raises(NotFound):
        read.show(InMemoryDeviceStore(), "x")


@pytest.mark.parametrize("body", [b"", b"[]", b'{"cause": ""}', b'{"cause": "c", "version": 0}', b'{"why": "c"}'])
def test_parse_change_rejects_bad_bodies(body: bytes) -> None:
    with pytest.raises(BadRequest):
        lifecycle_ops.parse_change(body)


def test_parse_change_uses_default_cause_for_empty_body() -> None:
    assert lifecycle_ops.parse_change(b"", default_cause="gone") == lifecycle_ops.Change("gone")


@dataclass(frozen=True)
class _Cert:
    certificate: bytes


class _Lookup:
    def by_hashed_id8(self, hashed_id8: bytes) -> _Cert | None:
        return _Cert(b"\x80cert") if hashed_id8 == bytes.fromhex("0123456789abcdef") else None


def test_ca_certificate_found_by_hashed_id8() -> None:
    assert ca_certificate.ca_certificate(_Lookup(), "0123456789ABCDEF") == (b"\x80cert", "0123456789abcdef.oer")


def test_ca_certificate_unknown_is_not_found() -> None:
    with pytest.raises(NotFound):
        ca_certificate.ca_certificate(_Lookup(), "0000000000000000")


@pytest.mark.parametrize("cert_id", [None, "", "0123", "0123456789abcdeZ"])
def test_ca_certificate_malformed_id_is_400_42(cert_id: str | None) -> None:
    with pytest.raises(BadRequest) as info:
        ca_certificate.ca_certificate(_Lookup(), cert_id)
    assert info.value.code is ErrorCode.FAILED_PARSING


@pytest.mark.parametrize("limit", ["²", "\u0661\u0660", "0", "1001", "-1", "+5", " 5", "5.0", "", "1" * 30])
def test_list_refuses_a_limit_that_is_not_ascii_digits_1_to_1000(limit: str) -> None:
    # "²" passes str.isdigit() but not int(): it was a 500.
    with pytest.raises(BadRequest) as info:
        read.list_devices(InMemoryDeviceStore(), limit, None)
    assert info.value.message.startswith("limit:")


@pytest.mark.parametrize(("limit", "count"), [(None, 0), ("1", 1), ("1000", 1), ("0007", 1)])
def test_list_accepts_a_limit_of_1_to_1000(limit: str | None, count: int) -> None:
    store = InMemoryDeviceStore()
    if count:
        register.register(store, _body(), actor="t", now_unix=1)
    devices, _ = read.list_devices(store, limit, None)
    assert len(devices) == count


HOSTILE_BODIES = {
    "nested": b"[" * 100_000 + b"]" * 100_000,
    "lone surrogate": b'{"cause": "\\ud800"}',
    "huge": json.dumps({"cause": "c", "padding": "x" * 70_000}).encode(),
    "not utf-8": b'{"cause": "\xff"}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_lifecycle_change_refuses_a_hostile_body_as_400(name: str) -> None:
    # Each was a 500: RecursionError, DynamoDB refusing the string, an item over 400 KB.
    with pytest.raises(BadRequest) as info:
        lifecycle_ops.parse_change(HOSTILE_BODIES[name])
    assert info.value.message.startswith("body:")


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_registration_refuses_a_hostile_body_as_400(name: str) -> None:
    with pytest.raises(BadRequest) as info:
        register.parse_registration(HOSTILE_BODIES[name])
    assert info.value.message.startswith("body:")


def test_a_body_with_non_ascii_text_under_the_size_limit_is_accepted() -> None:
    # Twin: a valid surrogate pair (U+1F600) and other non-ASCII text are fine.
    change = lifecycle_ops.parse_change(json.dumps({"cause": "blocked \U0001f600 é €" + "x" * 200}).encode())
    assert change.cause.startswith("blocked \U0001f600")
    assert register.parse_registration(_body(policy={"note": "y" * 60_000})).policy == {"note": "y" * 60_000}
