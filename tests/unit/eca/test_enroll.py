"""The enrollment use case with fakes: each refusal of protocol.md §3.2 with its passing twin, replay, crashes."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from scms_eca.enroll import RequestInProgress, enroll
from scms_service.config import Settings
from scms_service.errors import BadRequest, Conflict, ScmsError
from scms_service.lifecycle import DeviceState
from scms_service.stores.devices import InMemoryDeviceStore, Permission
from scms_service.stores.eca_requests import FakeEcaRequestStore, RequestStatus

from scms_codec import time32
from scms_codec.errors import CodecError, ErrorCode
from scms_codec.spdu import request_hash
from tests.unit.eca.ee import NOW, PSID_BSM, Ee, hierarchy, settings

CREATED_UNIX = time32.to_unix(NOW - 5000)


@dataclass
class World:
    """Given: a registered device, empty ECA stores, the CA hierarchy."""

    ee: Ee = field(default_factory=Ee)
    devices: InMemoryDeviceStore = field(default_factory=InMemoryDeviceStore)
    requests: FakeEcaRequestStore = field(default_factory=FakeEcaRequestStore)
    settings: Settings = field(default_factory=settings)

    def register(self, **kwargs: Any) -> World:
        self.devices.create(self.ee.device(**kwargs), actor="test", now_unix=CREATED_UNIX)
        return self

    def enroll(self, data: bytes, *, now: int = NOW, tokens: list[str] | None = None) -> bytes:
        token_source = iter(tokens) if tokens else None
        extra: dict[str, Any] = {} if token_source is None else {"new_token": lambda: next(token_source)}
        return enroll(
            data,
            now=now,
            settings=self.settings,
            devices=self.devices,
            requests=self.requests,
            ca=hierarchy(),
            **extra,
        )

    def snapshot(self) -> tuple[Any, ...]:
        device = self.devices.get(self.ee.device_id)
        return (
            copy.deepcopy(self.requests.requests),
            dict(self.requests.rates),
            device,
            self.devices.audit(self.ee.device_id),
        )


@pytest.fixture
def world() -> World:
    return World().register()


def refused(world: World, data: bytes, code: ErrorCode, *, now: int = NOW) -> None:
    """When ``data`` is enrolled, then it is refused with ``code`` and nothing changed."""
    before = world.snapshot()
    with pytest.raises((ScmsError, CodecError)) as info:
        world.enroll(data, now=now)
    exc = info.value
    got = exc.code if isinstance(exc, ScmsError) else exc.error_code
    assert got is code, f"expected {code.value}, got {got}: {exc}"
    assert world.snapshot() == before


# ---------------------------------------------------------------- success and what it records


@pytest.mark.parametrize("cert_type", ["explicit", "implicit"])
def test_enroll_issues_a_certificate_the_ee_verifies_and_marks_the_device_enrolled(
    world: World, cert_type: str
) -> None:
    request = world.ee.request(cert_type=cert_type)
    response = world.enroll(request)
    cert = world.ee.accept(response, request, hierarchy())
    assert cert.is_implicit is (cert_type == "implicit")
    device = world.devices.get(world.ee.device_id)
    assert device is not None and device.state is DeviceState.ENROLLED
    assert device.enrollment is not None and device.enrollment.cert_id == cert.hashed_id8.hex()
    assert device.enrollment.eca_id == hierarchy().certificate("eca").hashed_id8.hex()
    assert world.requests.requests[request_hash(request)].status is RequestStatus.DONE


def test_enroll_response_fails_ee_check_when_tampered(world: World) -> None:
    request = world.ee.request()
    response = bytearray(world.enroll(request))
    response[-5] ^= 0x01
    with pytest.raises(CodecError):
        world.ee.accept(bytes(response), request, hierarchy())


def test_implicit_key_does_not_reconstruct_with_another_enrollment_key(world: World) -> None:
    request = world.ee.request(cert_type="implicit")
    response = world.enroll(request)
    impostor = replace(world.ee, enrollment=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(CodecError):
        impostor.accept(response, request, hierarchy())


def test_issued_certificate_carries_registered_permissions_region_and_eca_revocation_fields() -> None:
    world = World().register(permissions=(Permission(PSID_BSM), Permission(38, b"\x01")), region={"countries": [840]})
    request = world.ee.request(psids=(PSID_BSM,))
    cert = world.ee.accept(world.enroll(request), request, hierarchy())
    groups = cert.tbs["certRequestPermissions"]
    listed = {e["psid"]: e.get("sspRange") for g in groups for e in g["subjectPermissions"][1]}
    assert listed == {PSID_BSM: None, 38: ("opaque", [b"\x01"])}
    assert cert.tbs["region"] == ("identifiedRegion", [("countryOnly", 840)])
    assert cert.tbs["cracaId"] == hierarchy().certificate("root").hashed_id3
    # An enrollment certificate has no linkage data: it is revoked on the hash CRL series (protocol.md §3.5).
    assert cert.tbs["crlSeries"] == world.settings.crl_hash_series != world.settings.crl_series
    # And the device record holds the SHA-256 of its COER, a hash CRL entry's source (twin: another cert's differs).
    device = world.devices.get_by_canonical_id(world.ee.device().canonical_id)
    assert device is not None
    [record] = device.enrollments
    assert record.cert_hash == hashlib.sha256(cert.encoded).hexdigest() != hashlib.sha256(b"other").hexdigest()
    assert record.cert_hash is not None and record.cert_hash.endswith(cert.hashed_id8.hex())


def test_validity_is_cut_to_the_configured_maximum() -> None:
    world = World(settings=settings(enrollment_validity_years=2)).register()
    request = world.ee.request(duration=("years", 5))
    cert = world.ee.accept(world.enroll(request), request, hierarchy())
    start, end = cert.validity
    assert end - start == 2 * 31_556_952


def test_validity_within_the_maximum_is_granted_as_asked(world: World) -> None:
    request = world.ee.request(duration=("years", 1))
    cert = world.ee.accept(world.enroll(request), request, hierarchy())
    start, end = cert.validity
    assert (start, end - start) == (NOW, 31_556_952)


# ---------------------------------------------------------------- replay and write order


def test_replay_returns_the_same_bytes_and_writes_nothing(world: World) -> None:
    request = world.ee.request()
    first = world.enroll(request)
    before = world.snapshot()
    again = world.enroll(request, now=NOW + 30)
    assert again == first
    assert world.snapshot() == before


def test_other_bytes_from_an_enrolled_device_are_refused_not_replayed(world: World) -> None:
    world.enroll(world.ee.request())
    refused(world, world.ee.request(generation_time=NOW + 1), ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, now=NOW + 1)


def test_pending_claim_is_refused_while_its_lease_runs(world: World) -> None:
    request = world.ee.request()
    crash_after_claim(world, request)
    before = world.snapshot()
    with pytest.raises(RequestInProgress):
        world.enroll(request, now=NOW + world.settings.eca_claim_lease - 1)
    assert world.snapshot() == before


def test_pending_claim_is_taken_over_after_its_lease_and_issues_once(world: World) -> None:
    request = world.ee.request()
    crash_after_claim(world, request)
    later = NOW + world.settings.eca_claim_lease
    response = world.enroll(request, now=later, tokens=["retry"])
    world.ee.accept(response, request, hierarchy(), at=later)
    record = world.requests.requests[request_hash(request)]
    assert (record.status, record.claim_token) == (RequestStatus.DONE, "retry")
    device = world.devices.get(world.ee.device_id)
    assert device is not None and len(device.enrollments) == 1
    assert len(world.requests.rates) == 1


def test_slow_first_attempt_loses_to_a_take_over_and_its_certificate_is_dropped(world: World) -> None:
    # Given a first attempt that claimed, then stalled past its lease while a retry took over.
    request = world.ee.request()
    crash_after_claim(world, request, token="slow")
    world.requests.take_over(request_hash(request), old_token="slow", new_token="retry", now=NOW + 100)
    # When the slow attempt tries to store its certificate, then it is refused and nothing is recorded.
    with pytest.raises(Conflict):
        world.requests.record_issued(request_hash(request), token="slow", response=b"x", issued=None)  # type: ignore[arg-type]
    assert world.requests.requests[request_hash(request)].response is None


def test_issued_but_unrecorded_request_is_finished_with_the_stored_certificate(world: World) -> None:
    request = world.ee.request()
    stored = crash_after_issue(world, request)
    response = world.enroll(request, now=NOW + 500)
    assert response == stored
    device = world.devices.get(world.ee.device_id)
    assert device is not None and device.state is DeviceState.ENROLLED and len(device.enrollments) == 1
    assert world.requests.requests[request_hash(request)].status is RequestStatus.DONE


def test_issued_request_whose_device_was_recorded_is_only_marked_done(world: World) -> None:
    request = world.ee.request()
    first = world.enroll(request)
    rh = request_hash(request)
    world.requests.requests[rh] = replace(world.requests.requests[rh], status=RequestStatus.ISSUED)
    audit_before = world.devices.audit(world.ee.device_id)
    assert world.enroll(request, now=NOW + 10) == first
    assert world.devices.audit(world.ee.device_id) == audit_before
    assert world.requests.requests[rh].status is RequestStatus.DONE


def test_concurrent_enrollment_with_other_bytes_loses_and_leaves_no_trace(world: World) -> None:
    # Given request A stored its certificate (ISSUED), then request B enrolled the device first.
    a = world.ee.request()
    crash_after_issue(world, a)
    a_items = dict(world.requests.requests), dict(world.requests.rates)
    world.requests = FakeEcaRequestStore()  # B's attempt does not see A's claim (another device key path)
    b = world.ee.request(generation_time=NOW + 1)
    world.enroll(b, now=NOW + 1)
    world.requests.requests.update(a_items[0])
    world.requests.rates.update(a_items[1])
    # When A resumes, then it is refused, and its stored certificate and rate entry are gone.
    with pytest.raises(Conflict):
        world.enroll(a, now=NOW + 2)
    assert request_hash(a) not in world.requests.requests
    assert [k[2] for k in world.requests.rates] == [request_hash(b)]
    device = world.devices.get(world.ee.device_id)
    assert device is not None and len(device.enrollments) == 1


def crash_after_claim(world: World, request: bytes, token: str = "first") -> None:
    """The first attempt claimed the request, then died before storing a certificate."""
    fail = FailingStore(world.requests, fail_on="record_issued")
    with pytest.raises(RuntimeError):
        enroll(
            request,
            now=NOW,
            settings=world.settings,
            devices=world.devices,
            requests=fail,
            ca=hierarchy(),
            new_token=lambda: token,
        )
    # A crash does not run the release; undo what the failing store's handler did.
    world.requests.requests.update(fail.released)
    for record in fail.released.values():
        world.requests.rates[(record.canonical_id, record.generation_time, record.request_hash)] = record.expires_at


def crash_after_issue(world: World, request: bytes) -> bytes:
    """The first attempt stored its certificate (ISSUED), then died before recording it on the device."""
    devices = world.devices

    class Dying:
        def __getattr__(self, name: str) -> Any:
            return getattr(devices, name)

        def transition(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        enroll(request, now=NOW, settings=world.settings, devices=Dying(), requests=world.requests, ca=hierarchy())  # type: ignore[arg-type]
    record = world.requests.requests[request_hash(request)]
    assert record.status is RequestStatus.ISSUED and record.response is not None
    return record.response


class FailingStore:
    """Delegates to a fake store but raises on one method; remembers what ``release`` removed."""

    def __init__(self, inner: FakeEcaRequestStore, fail_on: str) -> None:
        self.inner = inner
        self.fail_on = fail_on
        self.released: dict[bytes, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name == self.fail_on:

            def boom(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("crash")

            return boom
        if name == "release":

            def release(record: Any) -> None:
                self.released[record.request_hash] = self.inner.requests[record.request_hash]
                self.inner.release(record)

            return release
        return getattr(self.inner, name)


# ---------------------------------------------------------------- refusals, in protocol order, each with a twin


def test_garbage_is_refused_as_a_parse_failure(world: World) -> None:
    refused(world, b"\x03\x81\x00garbage", ErrorCode.FAILED_PARSING)


def test_truncated_request_is_refused_as_a_parse_failure(world: World) -> None:
    refused(world, world.ee.request()[:-3], ErrorCode.FAILED_PARSING)


def test_unknown_canonical_id_is_refused_as_unregistered(world: World) -> None:
    refused(world, world.ee.request(canonical_id="f" * 64), ErrorCode.ENROLLMENT_CERT_UNREGISTERED)


def test_request_without_canonical_id_is_refused_by_default(world: World) -> None:
    refused(
        world, world.ee.request(canonical_id=None, sign_with=world.ee.canonical), ErrorCode.ENROLLMENT_CERT_UNREGISTERED
    )


def test_self_keyed_request_is_accepted_when_policy_allows_and_key_is_registered() -> None:
    world = World(settings=settings(allow_self_keyed_enrollment=True))
    world.ee.enrollment = world.ee.canonical  # the device asks to certify its registered canonical key
    world.register()
    request = world.ee.request(canonical_id=None)
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_self_keyed_request_for_an_unregistered_key_is_refused_even_when_allowed(world: World) -> None:
    world.settings = settings(allow_self_keyed_enrollment=True)
    refused(world, world.ee.request(canonical_id=None), ErrorCode.ENROLLMENT_CERT_UNREGISTERED)


@pytest.mark.parametrize("state", [DeviceState.BLOCKED, DeviceState.REVOKED])
def test_blocked_or_revoked_device_is_refused_as_blocked(world: World, state: DeviceState) -> None:
    world.devices.transition(
        world.ee.device_id, state, expected=DeviceState.REGISTERED, cause="t", actor="t", now_unix=CREATED_UNIX
    )
    refused(world, world.ee.request(), ErrorCode.ENROLLMENT_CERT_BLOCKED)


def test_unblocked_device_enrolls(world: World) -> None:
    world.devices.transition(
        world.ee.device_id,
        DeviceState.BLOCKED,
        expected=DeviceState.REGISTERED,
        cause="t",
        actor="t",
        now_unix=CREATED_UNIX,
    )
    world.devices.transition(
        world.ee.device_id,
        DeviceState.REGISTERED,
        expected=DeviceState.BLOCKED,
        cause="t",
        actor="t",
        now_unix=CREATED_UNIX,
        unblocking=True,
    )
    request = world.ee.request()
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_deleted_device_is_refused_as_unregistered(world: World) -> None:
    world.devices.transition(
        world.ee.device_id,
        DeviceState.DELETED,
        expected=DeviceState.REGISTERED,
        cause="t",
        actor="t",
        now_unix=CREATED_UNIX,
    )
    refused(world, world.ee.request(), ErrorCode.ENROLLMENT_CERT_UNREGISTERED)


def test_request_signed_by_another_key_is_refused_as_bad_signature(world: World) -> None:
    refused(world, world.ee.request(sign_with=world.ee.enrollment), ErrorCode.SIGNATURE_VERIFICATION_FAILED)


def test_blocked_check_comes_before_signature_check(world: World) -> None:
    world.devices.transition(
        world.ee.device_id,
        DeviceState.BLOCKED,
        expected=DeviceState.REGISTERED,
        cause="t",
        actor="t",
        now_unix=CREATED_UNIX,
    )
    refused(world, world.ee.request(sign_with=world.ee.enrollment), ErrorCode.ENROLLMENT_CERT_BLOCKED)


def test_generation_time_beyond_the_clock_skew_is_refused_as_future(world: World) -> None:
    skew = world.settings.clock_skew
    refused(world, world.ee.request(generation_time=NOW + skew + 1), ErrorCode.GENERATION_TIME_IN_FUTURE)


def test_generation_time_within_the_clock_skew_is_accepted(world: World) -> None:
    skew = world.settings.clock_skew
    request = world.ee.request(generation_time=NOW + skew)
    world.ee.accept(world.enroll(request), request, hierarchy(), at=NOW + skew)


def test_generation_time_older_than_max_age_is_refused(world: World) -> None:
    age = world.settings.eca_max_age
    refused(world, world.ee.request(generation_time=NOW - age - 1), ErrorCode.ECA_MAX_AGE)


def test_generation_time_exactly_max_age_old_is_accepted(world: World) -> None:
    age = world.settings.eca_max_age
    request = world.ee.request(generation_time=NOW - age)
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_validity_start_beyond_max_wait_is_refused(world: World) -> None:
    wait = world.settings.eca_max_wait
    refused(world, world.ee.request(start=NOW + wait + 1), ErrorCode.ECA_MAX_WAIT)


def test_validity_start_at_max_wait_is_accepted(world: World) -> None:
    wait = world.settings.eca_max_wait
    request = world.ee.request(start=NOW + wait)
    world.ee.accept(world.enroll(request), request, hierarchy(), at=NOW + wait)


def seed_rate(world: World, *generation_times: int) -> None:
    for i, g in enumerate(generation_times):
        world.requests.rates[(world.ee.canonical_id, g, bytes([i]) * 8)] = 0


def test_more_than_max_reqs_in_seven_days_is_refused() -> None:
    world = World(settings=settings(eca_max_reqs=2)).register()
    seed_rate(world, NOW - 7 * 24 * 3600 + 1, NOW - 10)
    refused(world, world.ee.request(), ErrorCode.ECA_MAX_REQS)


def test_requests_older_than_seven_days_do_not_count_towards_max_reqs() -> None:
    world = World(settings=settings(eca_max_reqs=2)).register()
    seed_rate(world, NOW - 7 * 24 * 3600, NOW - 10)
    request = world.ee.request()
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_request_within_min_wait_of_the_previous_is_refused() -> None:
    world = World(settings=settings(eca_min_wait=60)).register()
    seed_rate(world, NOW - 59)
    refused(world, world.ee.request(), ErrorCode.ECA_MIN_WAIT)


def test_request_after_min_wait_is_accepted() -> None:
    world = World(settings=settings(eca_min_wait=60)).register()
    seed_rate(world, NOW - 60)
    request = world.ee.request()
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_rate_entries_are_keyed_by_canonical_id(world: World) -> None:
    request = world.ee.request()
    world.enroll(request)
    assert list(world.requests.rates) == [(world.ee.canonical_id, NOW, request_hash(request))]


def test_disallowed_certificate_type_is_refused() -> None:
    world = World().register(policy={"cert_type": "explicit"})
    refused(world, world.ee.request(cert_type="implicit"), ErrorCode.CERT_TYPE_NOT_ALLOWED)


def test_allowed_certificate_type_is_accepted() -> None:
    world = World().register(policy={"cert_type": ["implicit"]})
    request = world.ee.request(cert_type="implicit")
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_unregistered_psid_is_refused(world: World) -> None:
    refused(world, world.ee.request(psids=(PSID_BSM, 99)), ErrorCode.CERT_REQUEST_PERMISSIONS_NOT_ALLOWED)


def test_request_for_all_psids_is_refused(world: World) -> None:
    groups = [{"subjectPermissions": ("all", None), "minChainLength": 1}]
    refused(
        world,
        world.ee.request(tbs_extra={"certRequestPermissions": groups}),
        ErrorCode.CERT_REQUEST_PERMISSIONS_NOT_ALLOWED,
    )


def test_registered_psid_subset_is_accepted() -> None:
    world = World().register(permissions=(Permission(PSID_BSM), Permission(99)))
    request = world.ee.request(psids=(99,))
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_ssp_other_than_the_registered_one_is_refused() -> None:
    world = World().register(permissions=(Permission(38, b"\x01"),))
    groups = [{"subjectPermissions": ("explicit", [{"psid": 38, "sspRange": ("opaque", [b"\x02"])}])}]
    refused(
        world,
        world.ee.request(tbs_extra={"certRequestPermissions": groups}),
        ErrorCode.CERT_REQUEST_PERMISSIONS_NOT_ALLOWED,
    )


def test_registered_ssp_is_accepted() -> None:
    world = World().register(permissions=(Permission(38, b"\x01"),))
    groups = [{"subjectPermissions": ("explicit", [{"psid": 38, "sspRange": ("opaque", [b"\x01"])}])}]
    request = world.ee.request(tbs_extra={"certRequestPermissions": groups})
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_empty_psid_list_is_refused_as_invalid_permissions(world: World) -> None:
    groups = [{"subjectPermissions": ("explicit", []), "minChainLength": 1}]
    refused(
        world,
        world.ee.request(tbs_extra={"certRequestPermissions": groups}),
        ErrorCode.CERT_REQUEST_PERMISSIONS_INVALID,
    )


def test_region_outside_the_registered_one_is_refused() -> None:
    world = World().register(region={"countries": [840]})
    refused(
        world,
        world.ee.request(tbs_extra={"region": ("identifiedRegion", [("countryOnly", 124)])}),
        ErrorCode.REGION_NOT_ALLOWED,
    )


def test_region_inside_the_registered_one_is_accepted() -> None:
    world = World().register(region={"countries": [840, 124]})
    request = world.ee.request(tbs_extra={"region": ("identifiedRegion", [("countryOnly", 124)])})
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_validity_longer_than_the_device_policy_is_refused() -> None:
    world = World().register(policy={"max_validity_seconds": 31_556_952})
    refused(world, world.ee.request(duration=("years", 2)), ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED)


def test_validity_within_the_device_policy_is_accepted() -> None:
    world = World().register(policy={"max_validity_seconds": 31_556_952})
    request = world.ee.request(duration=("years", 1))
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_validity_starting_before_the_eca_is_refused(world: World) -> None:
    eca_start, _ = hierarchy().certificate("eca").validity
    refused(world, world.ee.request(start=eca_start - 1), ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED)


def test_nonzero_craca_id_is_refused_as_other_fields(world: World) -> None:
    refused(
        world,
        world.ee.request(tbs_extra={"cracaId": b"\x01\x02\x03"}, unchecked=True),
        ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED,
    )


def test_zero_craca_id_and_crl_series_are_accepted(world: World) -> None:
    request = world.ee.request(tbs_extra={"cracaId": b"\x00\x00\x00", "crlSeries": 0}, unchecked=True)
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_type_check_comes_before_permissions_check() -> None:
    world = World().register(policy={"cert_type": "explicit"})
    refused(world, world.ee.request(cert_type="implicit", psids=(99,)), ErrorCode.CERT_TYPE_NOT_ALLOWED)


def test_time_check_comes_before_policy_checks(world: World) -> None:
    age = world.settings.eca_max_age
    refused(world, world.ee.request(generation_time=NOW - age - 1, psids=(99,)), ErrorCode.ECA_MAX_AGE)


def test_enrolled_device_is_refused_reenrollment_by_default(world: World) -> None:
    world.enroll(world.ee.request())
    refused(world, world.ee.request(generation_time=NOW + 2), ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, now=NOW + 2)


def test_enrolled_device_is_still_refused_when_reenrollment_is_allowed_but_lifecycle_forbids_it() -> None:
    world = World(settings=settings(allow_reenrollment=True)).register()
    world.enroll(world.ee.request())
    refused(world, world.ee.request(generation_time=NOW + 2), ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, now=NOW + 2)


def test_bad_request_codes_are_table_8_members() -> None:
    assert BadRequest("x", code=ErrorCode.ECA_MAX_AGE).status == 400


# ---------------------------------------------------------------- the RA's documented policy keys


@pytest.mark.parametrize("cert_type", ["explicit", "implicit"])
def test_policy_cert_type_any_allows_both_types(cert_type: str) -> None:
    # "any" is what the RA documents and accepts at registration; it once refused every request (400-34).
    world = World().register(policy={"cert_type": "any"})
    request = world.ee.request(cert_type=cert_type)
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_validity_longer_than_the_policy_max_validity_years_is_refused() -> None:
    world = World().register(policy={"max_validity_years": 1})
    refused(world, world.ee.request(duration=("years", 2)), ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED)


def test_validity_within_the_policy_max_validity_years_is_accepted() -> None:
    world = World().register(policy={"max_validity_years": 2})
    request = world.ee.request(duration=("years", 2))
    world.ee.accept(world.enroll(request), request, hierarchy())


def test_policy_max_requests_overrides_eca_max_reqs_downwards() -> None:
    world = World().register(policy={"max_requests": 1})
    seed_rate(world, NOW - 10)
    refused(world, world.ee.request(), ErrorCode.ECA_MAX_REQS)


def test_policy_max_requests_overrides_eca_max_reqs_upwards() -> None:
    world = World(settings=settings(eca_max_reqs=1)).register(policy={"max_requests": 2})
    seed_rate(world, NOW - 10)
    request = world.ee.request()
    world.ee.accept(world.enroll(request), request, hierarchy())
