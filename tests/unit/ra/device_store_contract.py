"""Behaviour every ``DeviceStore`` shares; run against the fake (unit) and DynamoDB under moto (functional)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from scms_service.errors import IllegalTransition, NotFound
from scms_service.lifecycle import DeviceState
from scms_service.stores.devices import (
    Device,
    DeviceExists,
    DeviceStore,
    EnrollmentRecord,
    Permission,
    StaleDevice,
)

S = DeviceState
NOW = 1_700_000_000


def make_device(device_id: str = "dev-1", *, seed: int = 1) -> Device:
    """A device with a real P-256 canonical key derived from ``seed``."""
    public = ec.derive_private_key(seed, ec.SECP256R1()).public_key()
    raw = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return Device(
        device_id=device_id,
        canonical_id=hashlib.sha256(raw[1:]).hexdigest(),
        canonical_key=public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint),
        permissions=(Permission(32), Permission(35, bytes.fromhex("0001"))),
        region={"countries": [840]},
        policy={"cert_type": "explicit"},
    )


ENROLLMENT = EnrollmentRecord(
    cert_id="0123456789abcdef", valid_from=600_000_000, valid_until=700_000_000, eca_id="fedcba9876543210"
)


class DeviceStoreContract:
    """Subclasses provide a ``store`` fixture."""

    def test_create_registers_device_at_version_1_with_audit(self, store: DeviceStore) -> None:
        created = store.create(make_device(), actor="op", now_unix=NOW)
        assert (created.state, created.version, created.created_at) == (S.REGISTERED, 1, NOW)
        assert store.get("dev-1") == created
        assert [(a.previous, a.state, a.actor) for a in store.audit("dev-1")] == [(None, S.REGISTERED, "op")]

    def test_get_unknown_device_is_none(self, store: DeviceStore) -> None:
        assert store.get("nobody") is None
        assert store.get_by_canonical_id("00" * 32) is None
        assert store.get_by_enrollment_cert("0123456789abcdef") is None

    def test_create_refuses_taken_device_id_and_keeps_the_first(self, store: DeviceStore) -> None:
        first = store.create(make_device(seed=1), actor="op", now_unix=NOW)
        with pytest.raises(DeviceExists, match="device_id"):
            store.create(make_device(seed=2), actor="op", now_unix=NOW + 1)
        assert store.get("dev-1") == first
        assert store.get_by_canonical_id(make_device(seed=2).canonical_id) is None

    def test_create_refuses_taken_canonical_id(self, store: DeviceStore) -> None:
        store.create(make_device("a", seed=1), actor="op", now_unix=NOW)
        with pytest.raises(DeviceExists, match="canonical_id"):
            store.create(make_device("b", seed=1), actor="op", now_unix=NOW)
        assert store.get("b") is None
        assert store.audit("b") == []

    def test_get_by_canonical_id_finds_the_device(self, store: DeviceStore) -> None:
        device = make_device()
        store.create(device, actor="op", now_unix=NOW)
        found = store.get_by_canonical_id(device.canonical_id)
        assert found is not None and found.device_id == "dev-1"

    def test_transition_with_enrollment_records_and_indexes_the_cert(self, store: DeviceStore) -> None:
        store.create(make_device(), actor="op", now_unix=NOW)
        enrolled = store.transition(
            "dev-1",
            S.ENROLLED,
            expected=S.REGISTERED,
            cause="enrolled",
            actor="eca",
            now_unix=NOW + 5,
            enrollment=ENROLLMENT,
        )
        assert (enrolled.state, enrolled.previous_state, enrolled.version) == (S.ENROLLED, S.REGISTERED, 2)
        assert enrolled.enrollment == ENROLLMENT
        assert store.get("dev-1") == enrolled
        assert store.get_by_enrollment_cert("0123456789ABCDEF") == enrolled
        assert [a.state for a in store.audit("dev-1")] == [S.REGISTERED, S.ENROLLED]

    def test_illegal_transition_is_refused_and_nothing_changes(self, store: DeviceStore) -> None:
        before = store.create(make_device(), actor="op", now_unix=NOW)
        with pytest.raises(IllegalTransition):
            store.transition("dev-1", S.PROVISIONING, expected=S.REGISTERED, cause="x", actor="ra", now_unix=NOW)
        assert store.get("dev-1") == before
        assert len(store.audit("dev-1")) == 1

    def test_transition_from_unexpected_state_is_stale(self, store: DeviceStore) -> None:
        before = store.create(make_device(), actor="op", now_unix=NOW)
        with pytest.raises(StaleDevice):
            store.transition("dev-1", S.BLOCKED, expected=S.ENROLLED, cause="x", actor="op", now_unix=NOW)
        assert store.get("dev-1") == before

    def test_transition_with_stale_version_is_refused(self, store: DeviceStore) -> None:
        store.create(make_device(), actor="op", now_unix=NOW)
        blocked = store.transition("dev-1", S.BLOCKED, expected=S.REGISTERED, cause="a", actor="op", now_unix=NOW)
        with pytest.raises(StaleDevice):
            store.transition(
                "dev-1",
                S.REGISTERED,
                expected=S.BLOCKED,
                cause="b",
                actor="op",
                now_unix=NOW,
                unblocking=True,
                expected_version=1,
            )
        assert store.get("dev-1") == blocked
        store.transition(
            "dev-1",
            S.REGISTERED,
            expected=S.BLOCKED,
            cause="b",
            actor="op",
            now_unix=NOW,
            unblocking=True,
            expected_version=2,
        )

    def test_transition_of_unknown_device_is_not_found(self, store: DeviceStore) -> None:
        with pytest.raises(NotFound):
            store.transition("ghost", S.BLOCKED, expected=S.REGISTERED, cause="x", actor="op", now_unix=NOW)

    def test_block_keeps_previous_state_and_unblock_needs_the_flag(self, store: DeviceStore) -> None:
        store.create(make_device(), actor="op", now_unix=NOW)
        store.transition(
            "dev-1", S.ENROLLED, expected=S.REGISTERED, cause="e", actor="eca", now_unix=NOW, enrollment=ENROLLMENT
        )
        blocked = store.transition("dev-1", S.BLOCKED, expected=S.ENROLLED, cause="ma", actor="op", now_unix=NOW)
        assert blocked.previous_state is S.ENROLLED
        with pytest.raises(IllegalTransition):
            store.transition("dev-1", S.ENROLLED, expected=S.BLOCKED, cause="u", actor="op", now_unix=NOW)
        back = store.transition(
            "dev-1", S.ENROLLED, expected=S.BLOCKED, cause="u", actor="op", now_unix=NOW, unblocking=True
        )
        assert (back.state, back.version, back.enrollments) == (S.ENROLLED, 4, (ENROLLMENT,))

    def test_successor_keeps_the_old_enrollment_cert_findable(self, store: DeviceStore) -> None:
        store.create(make_device(), actor="op", now_unix=NOW)
        store.transition(
            "dev-1", S.ENROLLED, expected=S.REGISTERED, cause="e", actor="eca", now_unix=NOW, enrollment=ENROLLMENT
        )
        # (with the SHA-256 of its COER, which a hash CRL entry needs; the first one predates that field)
        successor = EnrollmentRecord("1111111111111111", 600_000_100, 700_000_100, "fedcba9876543210",
                                     cert_hash="ab" * 24 + "1111111111111111")  # fmt: skip
        store.transition(
            "dev-1",
            S.SUCCESSOR_ENROLLED,
            expected=S.ENROLLED,
            cause="s",
            actor="ra",
            now_unix=NOW + 1,
            enrollment=successor,
        )
        old, new = store.get_by_enrollment_cert(ENROLLMENT.cert_id), store.get_by_enrollment_cert(successor.cert_id)
        assert old is not None and new is not None and old == new
        assert old.enrollment == successor

    def test_delete_keeps_record_and_audit(self, store: DeviceStore) -> None:
        store.create(make_device(), actor="op", now_unix=NOW)
        deleted = store.transition("dev-1", S.DELETED, expected=S.REGISTERED, cause="d", actor="op", now_unix=NOW)
        assert store.get("dev-1") == deleted
        assert [a.state for a in store.audit("dev-1")] == [S.REGISTERED, S.DELETED]
        with pytest.raises(IllegalTransition):
            store.transition("dev-1", S.BLOCKED, expected=S.DELETED, cause="x", actor="op", now_unix=NOW)

    def test_list_pages_through_every_device_once(self, store: DeviceStore) -> None:
        for i in range(5):
            store.create(make_device(f"d{i}", seed=i + 1), actor="op", now_unix=NOW)
        seen: list[str] = []
        token: str | None = None
        pages = 0
        while True:
            page, token = store.list(2, token)
            pages += 1
            assert len(page) <= 2
            seen.extend(d.device_id for d in page)
            if token is None:
                break
        assert sorted(seen) == [f"d{i}" for i in range(5)]
        assert pages == 3

    def test_list_of_empty_store_has_no_next(self, store: DeviceStore) -> None:
        assert store.list(10) == ([], None)
