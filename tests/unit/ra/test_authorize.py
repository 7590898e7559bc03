"""The RA's authorization-request use case with fakes: every refusal has a passing twin and changes nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from scms_ra.authorize import authorize
from scms_service.config import Settings, load_settings
from scms_service.errors import BadRequest
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.iperiod import IPeriods
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.auth_requests import FakeAuthRequestStore
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.devices import InMemoryDeviceStore, Permission
from scms_service.stores.eca_requests import FakeEcaRequestStore

from scms_codec.errors import CodecError, ErrorCode
from scms_codec.secured.encrypted_data import decrypt
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.signer import Signer
from scms_codec.spdu import parse_ra_ee_cert_ack, request_hash
from tests.unit.eca.ee import PSID_BSM
from tests.unit.ra.ee_auth import EnrolledEe

NOW = 700_000_000
ENROLLED_AT = NOW - 5000


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    ca, _ = init_hierarchy(load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(),
                           now=NOW - 10_000)  # fmt: skip
    return ca


@dataclass
class World:
    hierarchy: Hierarchy
    settings: Settings
    devices: InMemoryDeviceStore
    requests: FakeAuthRequestStore
    ee: EnrolledEe

    @property
    def periods(self) -> IPeriods:
        return IPeriods.from_settings(self.settings)

    def request(self, **kwargs: Any) -> bytes:
        kwargs.setdefault("generation_time", NOW)
        return self.ee.request(self.hierarchy.certificate("ra"), **kwargs)

    def authorize(self, data: bytes, *, now: int = NOW, **overrides: Any) -> bytes:
        settings = replace(self.settings, **overrides) if overrides else self.settings
        return authorize(
            data, now=now, settings=settings, periods=IPeriods.from_settings(settings), devices=self.devices,
            requests=self.requests, ra=self.hierarchy,
        )  # fmt: skip

    def snapshot(self) -> tuple[Any, ...]:
        return (
            copy.deepcopy(self.requests.requests),
            copy.deepcopy(self.requests.rates),
            self.devices.get(self.ee.ee.device_id),
        )

    def refused(self, data: bytes, code: ErrorCode, **kwargs: Any) -> None:
        before = self.snapshot()
        with pytest.raises(BadRequest) as info:
            self.authorize(data, **kwargs)
        assert info.value.code is code, info.value.message
        assert self.snapshot() == before


def make_world(hierarchy: Hierarchy, *, registered: Any = None, **settings: Any) -> World:
    s = load_settings({}, **settings)
    devices = InMemoryDeviceStore()
    ee = EnrolledEe.enroll(
        hierarchy=hierarchy, devices=devices, eca_requests=FakeEcaRequestStore(), settings=s, now=ENROLLED_AT,
        registered=registered,
    )  # fmt: skip
    return World(hierarchy, s, devices, FakeAuthRequestStore(), ee)


@pytest.fixture
def world(hierarchy: Hierarchy) -> World:
    return make_world(hierarchy)


def _ack(world: World, data: bytes) -> Any:
    opened = parse_ra_ee_cert_ack(data)
    assert opened.signer is not None and opened.signer.hashed_id8 == world.hierarchy.certificate("ra").hashed_id8
    return opened.content


@pytest.mark.parametrize("variant", ["original", "unified", "compactUnified"])
def test_butterfly_request_is_acked_with_first_i_and_the_device_provisions(world: World, variant: str) -> None:
    data = world.request(params=variant)
    ack = _ack(world, world.authorize(data))
    periods = world.periods
    assert ack.request_hash == request_hash(data)
    assert ack.first_i == periods.i_at(NOW)
    assert ack.next_dl_time == max(NOW, periods.next_download_time(ack.first_i))
    record = world.requests.get(request_hash(data))
    assert record is not None and record.variant == variant and record.certs_per_period == 20
    assert record.first_i == ack.first_i and len(record.chain_id) == 16
    assert world.devices.get(world.ee.ee.device_id).state is DeviceState.PROVISIONING  # type: ignore[union-attr]


@pytest.mark.parametrize("variant", ["encryptionKey", "plain"])
def test_non_butterfly_request_is_acked_without_first_i(world: World, variant: str) -> None:
    data = world.request(params=variant)
    ack = _ack(world, world.authorize(data))
    assert ack.first_i is None and ack.next_dl_time == NOW
    record = world.requests.get(request_hash(data))
    assert record is not None and record.variant == variant and record.certs_per_period == 1


def test_the_record_hides_key_material_from_its_repr(world: World) -> None:
    data = world.request(params="original")
    world.authorize(data)
    text = repr(world.requests.get(request_hash(data)))
    assert "caterpillar_key" not in text and "chain_id" not in text and "ack" not in text.replace("ACCEPTED", "")


def test_a_replay_returns_the_same_ack_bytes_and_no_second_record(world: World) -> None:
    data = world.request()
    first = world.authorize(data)
    before = world.snapshot()
    assert world.authorize(data, now=NOW + 30) == first
    assert world.snapshot() == before


def _reencrypted_copy(world: World, data: bytes) -> bytes:
    """The same request in another valid ciphertext: the ECIES ephemeral key's y-parity toggled (V → -V)."""
    keyring = Keyring()
    keyring.add_certificate(world.hierarchy.certificate("ra"), world.hierarchy.encryption_private_key("ra"))
    plaintext = decrypt(data, keyring).plaintext
    for index, octet in enumerate(data):
        if octet in (0x82, 0x83):
            copy_ = bytearray(data)
            copy_[index] ^= 0x01
            try:
                if decrypt(bytes(copy_), keyring).plaintext == plaintext:
                    return bytes(copy_)
            except CodecError:
                continue
    raise AssertionError("no re-encryption found")


def test_another_encryption_of_a_stored_request_is_its_replay_not_a_second_request(world: World) -> None:
    data = world.request()
    first = world.authorize(data)
    before = world.snapshot()
    copy_ = _reencrypted_copy(world, data)
    assert request_hash(copy_) != request_hash(data)
    assert world.authorize(copy_, now=NOW + 30) == first
    assert world.snapshot() == before
    # Twin: different content (another generationTime) under the same keys is a second request.
    world.authorize(world.request(generation_time=NOW - 1))
    assert len(world.requests.requests) == 2


def test_another_encryption_within_ra_min_wait_is_its_replay_not_a_400_711(world: World) -> None:
    data = world.request()
    first = world.authorize(data, ra_min_wait=600)
    before = world.snapshot()
    assert world.authorize(_reencrypted_copy(world, data), now=NOW + 5, ra_min_wait=600) == first
    assert world.snapshot() == before
    # Twin: a distinct request within ra-minWait is refused with 400-711.
    with pytest.raises(BadRequest) as refused:
        world.authorize(world.request(generation_time=NOW - 1), now=NOW + 5, ra_min_wait=600)
    assert refused.value.code is ErrorCode.RA_MIN_WAIT
    assert world.snapshot() == before


def test_a_second_distinct_request_of_a_provisioning_device_is_accepted(world: World) -> None:
    world.authorize(world.request())
    world.authorize(world.request(generation_time=NOW - 1))
    assert len(world.requests.requests) == 2


def test_three_years_of_weekly_periods_are_recorded_for_a_long_validity(world: World) -> None:
    data = world.request(duration=("years", 3))
    world.authorize(data)
    record = world.requests.get(request_hash(data))
    assert record is not None
    assert record.last_i == world.periods.i_at(NOW + world.settings.ra_max_preload_time)
    assert 156 <= record.last_i - record.first_i + 1 <= 158


def test_a_request_longer_than_the_preload_horizon_is_cut_to_it(world: World) -> None:
    data = world.request(duration=("years", 3))
    world.authorize(data, ra_max_preload_time=10 * 604_800)
    record = world.requests.get(request_hash(data))
    assert record is not None and record.last_i == world.periods.i_at(NOW + 10 * 604_800)


# ---- refusals, each with its passing twin ------------------------------------------------------


def test_plain_bytes_are_refused_as_not_encrypted(world: World) -> None:
    world.refused(b"\xff\x00", ErrorCode.FAILED_PARSING)
    from scms_codec.secured.cert_request import sign_cert_request
    from scms_codec.spdu import encode_scms_pdu
    from scms_codec.spdu.ee_ra_cert_request import EeRaCertRequest

    # A signed but unencrypted request: 400-10.
    content = EeRaCertRequest(NOW, "explicit", _tbs(world), None)
    inner = sign_cert_request(encode_scms_pdu(EeRaCertRequest.PATH, content.to_asn1()),
                              Signer(world.ee.ee.enrollment, world.ee.certificate))  # fmt: skip
    world.refused(inner, ErrorCode.NOT_ENCRYPTED)


def _tbs(world: World) -> dict[str, Any]:
    from scms_codec.crypto import keys

    return {
        "id": ("none", None),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": NOW, "duration": ("hours", 169)},
        "appPermissions": [{"psid": PSID_BSM}],
        "verifyKeyIndicator": ("verificationKey", keys.verification_key_to_asn1(world.ee.caterpillar.public_key())),
    }


def test_a_request_encrypted_to_another_key_is_refused_as_undecryptable(world: World, hierarchy: Hierarchy) -> None:
    data = world.ee.request(hierarchy.certificate("ma"), generation_time=NOW)
    world.refused(data, ErrorCode.DECRYPTION_FAILED)


def test_a_tampered_ciphertext_is_refused(world: World) -> None:
    data = bytearray(world.request())
    data[-5] ^= 1
    world.refused(bytes(data), ErrorCode.DECRYPTION_FAILED)


def test_a_request_signed_with_another_key_is_refused_as_bad_signature(world: World) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    other = Signer(ec.generate_private_key(ec.SECP256R1()), world.ee.certificate)
    world.refused(world.request(sign_with=other), ErrorCode.SIGNATURE_VERIFICATION_FAILED)


def test_a_certificate_outside_the_hierarchy_is_refused_as_chain_failure(world: World) -> None:
    from tests.unit.eca.ee import hierarchy as foreign_hierarchy
    from tests.unit.eca.ee import settings as eca_settings

    devices = InMemoryDeviceStore()
    foreign = EnrolledEe.enroll(
        hierarchy=foreign_hierarchy(),  # type: ignore[arg-type]
        devices=devices, eca_requests=FakeEcaRequestStore(), settings=eca_settings(), now=ENROLLED_AT,
    )  # fmt: skip
    data = foreign.request(world.hierarchy.certificate("ra"), generation_time=NOW)
    world.refused(data, ErrorCode.CHAIN_VERIFICATION_FAILED)


def test_a_signer_that_is_not_an_enrollment_certificate_is_refused(world: World, hierarchy: Hierarchy) -> None:
    # The MA's certificate (appPermissions, no certRequestPermissions) signing with its own key.
    world.refused(world.request(sign_with=hierarchy.signer("ma")), ErrorCode.ENROLLMENT_CERT_INVALID)


def test_an_unknown_enrollment_certificate_is_refused(world: World) -> None:
    data = world.request()
    world.devices = InMemoryDeviceStore()
    world.refused(data, ErrorCode.ENROLLMENT_CERT_UNREGISTERED)


@pytest.mark.parametrize("state", [DeviceState.BLOCKED, DeviceState.REVOKED])
def test_a_blocked_or_revoked_device_is_refused(world: World, state: DeviceState) -> None:
    device = world.devices.get(world.ee.ee.device_id)
    assert device is not None
    world.devices.transition(device.device_id, state, expected=device.state, cause="t", actor="t", now_unix=0)
    world.refused(world.request(), ErrorCode.ENROLLMENT_CERT_BLOCKED)


def test_a_request_before_the_enrollment_certificate_is_valid_is_refused(world: World) -> None:
    start, _ = world.ee.certificate.validity
    data = world.request(generation_time=start - 10, start=start - 10)
    world.refused(data, ErrorCode.OUTSIDE_ENROLLMENT_VALIDITY, now=start - 5)
    # Twin: at the certificate's start it is accepted.
    world.authorize(world.request(generation_time=start, start=start), now=start + 5)


def test_a_future_generation_time_is_refused(world: World) -> None:
    world.refused(world.request(generation_time=NOW + 6), ErrorCode.GENERATION_TIME_IN_FUTURE)
    world.authorize(world.request(generation_time=NOW + 5))


def test_an_old_request_is_refused_by_ra_max_age(world: World) -> None:
    world.refused(world.request(generation_time=NOW - 1001), ErrorCode.RA_MAX_AGE)
    world.authorize(world.request(generation_time=NOW - 1000))


def test_a_start_far_from_generation_time_is_refused_by_ra_max_gen_delay(world: World) -> None:
    world.refused(world.request(start=NOW + 4001), ErrorCode.RA_MAX_GEN_DELAY)
    world.refused(world.request(start=NOW - 4001), ErrorCode.RA_MAX_GEN_DELAY)
    world.authorize(world.request(start=NOW + 4000))


def test_a_start_beyond_the_preload_horizon_is_refused(world: World) -> None:
    world.refused(world.request(start=NOW + 101), ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED, ra_max_preload_time=100)
    world.authorize(world.request(start=NOW + 100), ra_max_preload_time=100)


def test_more_than_ra_max_reqs_per_psid_set_is_refused(world: World) -> None:
    world.authorize(world.request(generation_time=NOW - 2), ra_max_reqs=2)
    world.authorize(world.request(generation_time=NOW - 1), ra_max_reqs=2)
    world.refused(world.request(), ErrorCode.RA_MAX_REQS, ra_max_reqs=2)
    # Twin: another PSID set has its own count.
    other = make_world(world.hierarchy, registered=(Permission(PSID_BSM), Permission(38)))
    other.authorize(other.request(generation_time=NOW - 2), ra_max_reqs=1)
    other.authorize(other.request(app_permissions=[{"psid": 38}]), ra_max_reqs=1)


def test_a_retry_within_ra_min_wait_is_refused(world: World) -> None:
    world.authorize(world.request(generation_time=NOW - 100), ra_min_wait=100)
    world.refused(world.request(generation_time=NOW - 1), ErrorCode.RA_MIN_WAIT, ra_min_wait=100)
    world.authorize(world.request(generation_time=NOW), ra_min_wait=100)


def test_app_permissions_outside_the_registration_are_refused(world: World) -> None:
    world.refused(world.request(app_permissions=[{"psid": 38}]), ErrorCode.APP_PERMISSIONS_NOT_ALLOWED)


def test_app_permissions_with_a_psid_twice_are_invalid(world: World) -> None:
    data = world.request(app_permissions=[{"psid": PSID_BSM}, {"psid": PSID_BSM}])
    world.refused(data, ErrorCode.APP_PERMISSIONS_INVALID)


def test_an_ssp_other_than_the_registered_one_is_refused(world: World) -> None:
    # The registration was narrowed to one SSP after enrollment (the certificate allows any SSP).
    device = world.devices.get(world.ee.ee.device_id)
    assert device is not None
    narrowed = replace(device, permissions=(Permission(PSID_BSM, b"\x01"),))
    world.devices._devices[device.device_id] = narrowed  # type: ignore[attr-defined]
    world.refused(
        world.request(app_permissions=[{"psid": PSID_BSM, "ssp": ("opaque", b"\x02")}]),
        ErrorCode.APP_PERMISSIONS_NOT_ALLOWED,
    )
    world.authorize(world.request(app_permissions=[{"psid": PSID_BSM, "ssp": ("opaque", b"\x01")}]))


def test_a_certificate_type_the_device_policy_forbids_is_refused(hierarchy: Hierarchy) -> None:
    world = make_world(hierarchy)
    device = world.devices.get(world.ee.ee.device_id)
    assert device is not None
    world.devices._devices[device.device_id] = replace(device, policy={"cert_type": "explicit"})  # type: ignore[attr-defined]
    world.refused(world.request(cert_type="implicit"), ErrorCode.CERT_TYPE_NOT_ALLOWED)
    world.authorize(world.request(cert_type="explicit"))


@pytest.mark.parametrize("variant", ["original", "unified", "compactUnified"])
def test_a_butterfly_variant_not_in_ra_butterfly_types_is_refused(world: World, variant: str) -> None:
    others = ",".join(v for v in ("original", "unified", "compactUnified") if v != variant)
    world.refused(world.request(params=variant), ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, ra_butterfly_types=others)
    world.authorize(world.request(params=variant), ra_butterfly_types=variant)


def test_a_tbs_cert_breaking_the_request_constraints_is_refused(world: World) -> None:
    data = world.request(tbs_extra={"crlSeries": 7}, unchecked=True)
    world.refused(data, ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED)


def test_a_device_blocked_after_acceptance_gets_no_replay(world: World) -> None:
    data = world.request()
    world.authorize(data)
    device = world.devices.get(world.ee.ee.device_id)
    assert device is not None
    world.devices.transition(device.device_id, DeviceState.BLOCKED, expected=device.state, cause="t", actor="t",
                             now_unix=0)  # fmt: skip
    world.refused(data, ErrorCode.ENROLLMENT_CERT_BLOCKED)


def test_a_crash_before_the_device_transition_is_finished_by_the_replay(world: World) -> None:
    data = world.request()
    world.authorize(data)
    device = world.devices.get(world.ee.ee.device_id)
    assert device is not None
    # Simulate the crash: the record is stored but the device is still Enrolled.
    world.devices._devices[device.device_id] = replace(device, state=DeviceState.ENROLLED)  # type: ignore[attr-defined]
    world.authorize(data)
    assert world.devices.get(device.device_id).state is DeviceState.PROVISIONING  # type: ignore[union-attr]


def test_a_concurrent_copy_stored_first_is_answered_with_its_ack(world: World) -> None:
    data = world.request()
    store = world.requests
    original_get: Callable[[bytes], Any] = store.get
    calls = {"n": 0}
    winner: dict[str, bytes] = {}

    def racing_get(h: bytes) -> Any:
        # The first look-up sees nothing; meanwhile "another attempt" stores the same bytes.
        calls["n"] += 1
        if calls["n"] == 1:
            other = FakeAuthRequestStore()
            authorize(data, now=NOW, settings=world.settings, periods=world.periods, devices=world.devices,
                      requests=other, ra=world.hierarchy)  # fmt: skip
            record = other.get(h)
            assert record is not None
            store.put(record)
            winner["ack"] = record.ack
            return None
        return original_get(h)

    store.get = racing_get  # type: ignore[method-assign]
    assert world.authorize(data) == winner["ack"]
    assert len(store.requests) == 1
