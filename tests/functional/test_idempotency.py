"""Idempotency of enrollment (issue #7 §3): the same request twice, concurrently, or after a crash or a
timeout yields one certificate, the same answer bytes, one Enrolled transition and one audit entry.
Idempotency of authorization requests: one record, one provisioning execution, the same ack bytes.

Concurrency is simulated as Lambda scales: each thread calls its own copy of ``functions/eca/app.py``
(its own Chalice app, as a separate container), all on one moto cloud whose calls are each atomic
(``tests.support.stack``), as DynamoDB's are.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from chalice.test import Client
from scms_ra import provision_start
from scms_ra.wiring import from_settings
from scms_service.errors import TransientStoreError
from scms_service.lifecycle import DeviceState
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore, RequestStatus

from scms_codec import time32
from scms_codec.errors import ErrorCode
from scms_codec.spdu import request_hash
from tests.functional.ra_app import create_state_machine
from tests.support.stack import Cloud, load_app, open_cloud
from tests.unit.eca.ee import Ee
from tests.unit.ra.ee_auth import EnrolledEe

ENROLL = "/v3/enrollment-certificate"
OCTETS = {"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"}
_ids = itertools.count()


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    with open_cloud() as built:
        yield built


@pytest.fixture
def ee(cloud: Cloud) -> Ee:
    return cloud.register(f"obu-idem-{next(_ids)}")


def post(app_module: Any, body: bytes) -> Any:
    with Client(app_module.app) as client:
        return client.http.post(ENROLL, headers=OCTETS, body=body)


def enrolled_once(cloud: Cloud, ee: Ee) -> str:
    """The device holds exactly one enrollment and its audit one Enrolled entry; returns the cert id."""
    store = DynamoDeviceStore(cloud.settings.ra_table)
    device = store.get(ee.device_id)
    assert device is not None and device.state is DeviceState.ENROLLED
    assert len(device.enrollments) == 1
    audit = store.audit(ee.device_id)
    assert [a.state for a in audit] == [DeviceState.REGISTERED, DeviceState.ENROLLED]
    return device.enrollments[0].cert_id


def request_items(cloud: Cloud, ee: Ee) -> list[dict[str, Any]]:
    """The device's REQ and RATE items in EcaTable."""
    items = boto3.client("dynamodb").scan(TableName=cloud.settings.eca_table, ConsistentRead=True)["Items"]
    return [i for i in items if i.get("canonicalId", {}).get("S") == ee.canonical_id or ee.canonical_id in i["pk"]["S"]]


def run_together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` on threads released at once; their results (or exceptions) in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(n: int) -> None:
        barrier.wait()
        try:
            results[n] = calls[n]()
        except BaseException as exc:  # surfaced to the test below
            results[n] = exc

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_same_request_twice_in_sequence_gets_identical_bytes_and_one_enrollment(cloud: Cloud, ee: Ee) -> None:
    request = ee.request(generation_time=time32.now())
    first, second = post(cloud.eca, request), post(cloud.eca, request)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.body == first.body
    enrolled_once(cloud, ee)
    record = DynamoDbEcaRequestStore.from_settings(cloud.settings).get(request_hash(request))
    assert record is not None and record.status is RequestStatus.DONE and record.response == first.body


def test_a_second_different_request_of_an_enrolled_device_is_refused_400_32(cloud: Cloud, ee: Ee) -> None:
    # The twin: only the SAME bytes are answered again; other bytes are a re-enrollment.
    now = time32.now()
    assert post(cloud.eca, ee.request(generation_time=now)).status_code == 200
    other = post(cloud.eca, ee.request(generation_time=now - 1))
    assert (other.status_code, other.headers["Ieee-1609.2.1-Error"]) == (400, ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED)
    enrolled_once(cloud, ee)


@pytest.mark.parametrize("round_", range(3))
def test_same_request_concurrently_gets_one_certificate_and_identical_bytes(cloud: Cloud, ee: Ee, round_: int) -> None:
    request = ee.request(generation_time=time32.now())
    containers = [cloud.eca_container(n) for n in range(4)]
    answers = run_together([lambda c=c: post(c, request) for c in containers])
    assert all(not isinstance(a, BaseException) for a in answers), answers
    # A copy that finds another copy's claim in progress is told to retry (409); none is refused otherwise.
    assert {a.status_code for a in answers} <= {200, 409}, [(a.status_code, a.body) for a in answers]
    retried = [a if a.status_code == 200 else post(cloud.eca, request) for a in answers]
    assert {a.status_code for a in retried} == {200}
    assert len({a.body for a in retried}) == 1
    enrolled_once(cloud, ee)


class SimulatedCrash(BaseException):
    """The Lambda died (timeout, OOM): nothing after this point of the attempt runs, no handler catches it."""


def test_crash_after_the_certificate_is_stored_is_finished_by_the_retry(
    cloud: Cloud, ee: Ee, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = ee.request(generation_time=time32.now())
    real = DynamoDbEcaRequestStore.record_issued
    stored: list[bytes] = []

    def record_then_crash(self: DynamoDbEcaRequestStore, rh: bytes, **kwargs: Any) -> None:
        real(self, rh, **kwargs)
        stored.append(kwargs["response"])
        raise SimulatedCrash

    with monkeypatch.context() as m:
        m.setattr(DynamoDbEcaRequestStore, "record_issued", record_then_crash)
        with pytest.raises(SimulatedCrash):
            post(cloud.eca, request)
    retry, again = post(cloud.eca, request), post(cloud.eca, request)
    assert (retry.status_code, again.status_code) == (200, 200)
    assert retry.body == again.body == stored[0]  # the certificate issued before the crash, not a new one
    enrolled_once(cloud, ee)


def test_timeout_reported_after_the_certificate_was_stored_keeps_it_for_the_retry(
    cloud: Cloud, ee: Ee, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DynamoDB applied the write but the answer was lost (the client gave up): the attempt fails with
    # a transient error. Meanwhile the device, tired of waiting, retried and got its certificate from
    # the stored item. The certificate (and its REQ and RATE items) must survive the failed attempt.
    request = ee.request(generation_time=time32.now())
    real = DynamoDbEcaRequestStore.record_issued
    delivered: list[Any] = []

    def record_then_time_out(self: DynamoDbEcaRequestStore, rh: bytes, **kwargs: Any) -> None:
        real(self, rh, **kwargs)
        delivered.append(post(cloud.eca_container(9), request))  # the device's retry, another container
        raise TransientStoreError("ECA table busy during record_issued")

    with monkeypatch.context() as m:
        m.setattr(DynamoDbEcaRequestStore, "record_issued", record_then_time_out)
        first = post(cloud.eca, request)
    assert first.status_code == 503
    assert delivered[0].status_code == 200
    replay = post(cloud.eca, request)
    assert (replay.status_code, replay.body) == (200, delivered[0].body)
    enrolled_once(cloud, ee)
    kinds = sorted(i["pk"]["S"].split("#")[0] for i in request_items(cloud, ee))
    assert kinds == ["RATE", "REQ"]


def test_failure_before_the_certificate_is_stored_releases_the_claim(
    cloud: Cloud, ee: Ee, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The twin: when issuance itself fails nothing was stored, so the claim and rate entry go and a
    # retry starts afresh at once (no 409 for the lease).
    request = ee.request(generation_time=time32.now())
    with monkeypatch.context() as m:
        m.setattr("scms_eca.enroll._issue", lambda *a, **k: (_ for _ in ()).throw(TransientStoreError("busy")))
        assert post(cloud.eca, request).status_code == 503
    assert request_items(cloud, ee) == []
    assert post(cloud.eca, request).status_code == 200
    enrolled_once(cloud, ee)


@pytest.mark.parametrize("round_", range(3))
def test_different_requests_of_one_device_concurrently_enroll_it_once(cloud: Cloud, ee: Ee, round_: int) -> None:
    now = time32.now()
    requests = [ee.request(generation_time=now - n) for n in range(4)]
    answers = run_together([lambda n=n: post(cloud.eca_container(n), requests[n]) for n in range(4)])
    assert all(not isinstance(a, BaseException) for a in answers), answers
    winners = [a for a in answers if a.status_code == 200]
    assert len(winners) == 1, [(a.status_code, a.body) for a in answers]
    for loser in (a for a in answers if a.status_code != 200):
        # Lost the race on the device (409) or saw it Enrolled already (400-32); never a 500.
        assert loser.status_code in (400, 409), (loser.status_code, loser.body)
        if loser.status_code == 400:
            assert loser.headers["Ieee-1609.2.1-Error"] == ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED
    cert_id = enrolled_once(cloud, ee)
    # Only the winner's answer is kept: the losers' certificates were deleted unseen.
    store = DynamoDbEcaRequestStore.from_settings(cloud.settings)
    kept = [store.get(request_hash(r)) for r in requests]
    issued = [k for k in kept if k is not None and k.issued is not None]
    assert [k.issued.certificate_id for k in issued if k.issued is not None] == [cert_id]


# ------------------------------------------------------------------ POST /v3/authorization-certificate
# The same authorization request twice, concurrently, or after a crash or a timeout: one record, one
# execution of the provisioning state machine (named by the request hash), the same ack bytes.

AUTHZ = "/v3/authorization-certificate"


@pytest.fixture(scope="module")
def state_machine(cloud: Cloud) -> str:
    return create_state_machine("scms-provision-idempotency")


def ra_container(cloud: Cloud, state_machine: str, n: int) -> Any:
    """The RA app as a separate container ``n``, wired to the cloud and the state machine."""
    module = load_app("ra", f"scms_ra_container_{n}")
    module.configure(from_settings(replace(cloud.settings, provision_state_machine=state_machine)))
    return module


@pytest.fixture
def obu(cloud: Cloud) -> EnrolledEe:
    settings = cloud.settings
    return EnrolledEe.enroll(
        hierarchy=cloud.hierarchy, devices=DynamoDeviceStore(settings.ra_table),
        eca_requests=DynamoDbEcaRequestStore.from_settings(settings), settings=settings,
        now=time32.now() - 600, device_id=f"obu-authz-{next(_ids)}",
    )  # fmt: skip


def post_authz(app_module: Any, body: bytes) -> Any:
    with Client(app_module.app) as client:
        return client.http.post(AUTHZ, headers=OCTETS, body=body)


def started(state_machine: str, rh: bytes) -> int:
    """How many executions of the state machine carry this request's name."""
    listed = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine)["executions"]
    return sum(1 for e in listed if e["name"] == rh.hex())


def authz_items(cloud: Cloud, rh: bytes) -> list[str]:
    """The RaTable items of one request: its REQ record, its rate entry and its DEVICE#…/REQUEST# index item."""
    items = boto3.client("dynamodb").scan(TableName=cloud.settings.ra_table, ConsistentRead=True)["Items"]
    return sorted(i["pk"]["S"].split("#")[0] for i in items if rh.hex() in i["pk"]["S"] + i["sk"]["S"])


def test_same_authorization_request_twice_gets_identical_ack_and_one_execution(
    cloud: Cloud, state_machine: str, obu: EnrolledEe
) -> None:
    data = obu.request(cloud.hierarchy.certificate("ra"), generation_time=time32.now())
    ra = ra_container(cloud, state_machine, 0)
    first, second = post_authz(ra, data), post_authz(ra, data)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.body == first.body
    rh = request_hash(data)
    assert started(state_machine, rh) == 1
    assert authz_items(cloud, rh) == ["DEVICE", "RARATE", "REQ"]


def test_different_authorization_requests_each_start_their_own_execution(
    cloud: Cloud, state_machine: str, obu: EnrolledEe
) -> None:
    # The twin: only the SAME bytes share an execution.
    now = time32.now()
    ra = ra_container(cloud, state_machine, 0)
    requests = [obu.request(cloud.hierarchy.certificate("ra"), generation_time=now - n) for n in range(2)]
    assert [post_authz(ra, r).status_code for r in requests] == [202, 202]
    assert [started(state_machine, request_hash(r)) for r in requests] == [1, 1]


@pytest.mark.parametrize("round_", range(3))
def test_same_authorization_request_concurrently_gets_one_execution_and_identical_bytes(
    cloud: Cloud, state_machine: str, obu: EnrolledEe, round_: int
) -> None:
    data = obu.request(cloud.hierarchy.certificate("ra"), generation_time=time32.now())
    containers = [ra_container(cloud, state_machine, n) for n in range(4)]
    answers = run_together([lambda c=c: post_authz(c, data) for c in containers])
    assert all(not isinstance(a, BaseException) for a in answers), answers
    assert {a.status_code for a in answers} == {202}, [(a.status_code, a.body) for a in answers]
    assert len({a.body for a in answers}) == 1
    rh = request_hash(data)
    assert started(state_machine, rh) == 1
    assert authz_items(cloud, rh) == ["DEVICE", "RARATE", "REQ"]


def test_crash_before_the_start_is_finished_by_the_replay(
    cloud: Cloud, state_machine: str, obu: EnrolledEe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Lambda died after storing the record and before StartExecution: the ack never left. The
    # device sends the same bytes again, gets the stored ack and the batch starts then.
    data = obu.request(cloud.hierarchy.certificate("ra"), generation_time=time32.now())
    ra = ra_container(cloud, state_machine, 0)

    def crash(*args: Any, **kwargs: Any) -> bool:
        raise SimulatedCrash

    with monkeypatch.context() as m:
        m.setattr("scms_ra.wiring.start_provisioning", crash)
        with pytest.raises(SimulatedCrash):
            post_authz(ra, data)
    rh = request_hash(data)
    assert started(state_machine, rh) == 0 and authz_items(cloud, rh) == ["DEVICE", "RARATE", "REQ"]
    retry, again = post_authz(ra, data), post_authz(ra, data)
    assert (retry.status_code, again.status_code) == (202, 202) and retry.body == again.body
    assert started(state_machine, rh) == 1


def test_timeout_after_the_execution_started_is_503_and_the_retry_does_not_start_a_second(
    cloud: Cloud, state_machine: str, obu: EnrolledEe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # StartExecution was applied but its answer was lost: the attempt is a 503; the device's retry
    # finds the execution (ExecutionAlreadyExists counts as started) and gets the ack.
    data = obu.request(cloud.hierarchy.certificate("ra"), generation_time=time32.now())
    ra = ra_container(cloud, state_machine, 0)
    real = provision_start.start_provisioning

    def start_then_time_out(client: Any, arn: str, rh: bytes) -> bool:
        real(client, arn, rh)
        raise provision_start.ProvisioningBusy("timed out")

    with monkeypatch.context() as m:
        m.setattr("scms_ra.wiring.start_provisioning", start_then_time_out)
        assert post_authz(ra, data).status_code == 503
    rh = request_hash(data)
    assert started(state_machine, rh) == 1
    retry = post_authz(ra, data)
    assert retry.status_code == 202
    assert started(state_machine, rh) == 1


# --- successor enrollment (issue #6 §3): one certificate per request bytes, the same ack ---

SUCCESSOR = "/v3/successor-enrollment-certificate"


def post_successor(app_module: Any, body: bytes) -> Any:
    with Client(app_module.app) as client:
        return client.http.post(SUCCESSOR, headers=OCTETS, body=body)


def successor_data(cloud: Cloud, obu: EnrolledEe, generation_time: int) -> bytes:
    from tests.unit.ra.test_successor import Holder, successor_request

    return successor_request(Holder(obu.ee, obu.certificate), cloud.hierarchy.certificate("ra"),
                             generation_time=generation_time)[0]  # fmt: skip


def enrollments_of(cloud: Cloud, obu: EnrolledEe) -> list[str]:
    device = DynamoDeviceStore(cloud.settings.ra_table).get(obu.ee.device_id)
    assert device is not None
    return [e.cert_id for e in device.enrollments]


def eca_items(cloud: Cloud, rh: bytes) -> int:
    items = boto3.client("dynamodb").scan(TableName=cloud.settings.eca_table, ConsistentRead=True)["Items"]
    return sum(1 for i in items if i["pk"]["S"] == f"REQ#{rh.hex()}")


def test_same_successor_request_twice_gets_identical_ack_and_one_certificate(
    cloud: Cloud, state_machine: str, obu: EnrolledEe
) -> None:
    data = successor_data(cloud, obu, time32.now())
    ra = ra_container(cloud, state_machine, 0)
    first, second = post_successor(ra, data), post_successor(ra, data)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.body == first.body
    assert len(enrollments_of(cloud, obu)) == 2 and eca_items(cloud, request_hash(data)) == 1
    # Twin: other bytes of the (now superseded) certificate are judged anew, and refused.
    other = post_successor(ra, successor_data(cloud, obu, time32.now() - 1))
    assert other.status_code == 400 and len(enrollments_of(cloud, obu)) == 2


@pytest.mark.parametrize("round_", range(2))
def test_same_successor_request_concurrently_gets_one_certificate_and_identical_acks(
    cloud: Cloud, state_machine: str, obu: EnrolledEe, round_: int
) -> None:
    data = successor_data(cloud, obu, time32.now())
    containers = [ra_container(cloud, state_machine, n) for n in range(4)]
    answers = run_together([lambda c=c: post_successor(c, data) for c in containers])
    assert all(not isinstance(a, BaseException) for a in answers), answers
    # A copy that finds another attempt holding the ECA's claim is told to retry (409, no Table 8 code).
    assert {a.status_code for a in answers} <= {202, 409}, [(a.status_code, a.body) for a in answers]
    acks = {a.body for a in answers if a.status_code == 202}
    assert len(acks) == 1
    assert len(enrollments_of(cloud, obu)) == 2 and eca_items(cloud, request_hash(data)) == 1
    # The retry of any refused copy gets the same ack.
    assert post_successor(containers[0], data).body in acks


def test_crash_before_the_successor_request_is_marked_done_is_finished_by_the_replay(
    cloud: Cloud, state_machine: str, obu: EnrolledEe, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scms_service.stores.successor_requests import DynamoDbSuccessorStore, SuccessorStatus

    data = successor_data(cloud, obu, time32.now())
    ra = ra_container(cloud, state_machine, 0)
    real = DynamoDbSuccessorStore.complete

    def crash(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise SimulatedCrash()

    monkeypatch.setattr(DynamoDbSuccessorStore, "complete", crash)
    with pytest.raises(SimulatedCrash):
        post_successor(ra, data)
    record = DynamoDbSuccessorStore.from_settings(cloud.settings).get(request_hash(data))
    assert record is not None and record.status is SuccessorStatus.PENDING
    linked = enrollments_of(cloud, obu)
    assert len(linked) == 2  # linked before the crash
    monkeypatch.setattr(DynamoDbSuccessorStore, "complete", real)
    again = post_successor(ra, data)
    assert again.status_code == 202
    assert enrollments_of(cloud, obu) == linked and eca_items(cloud, request_hash(data)) == 1
    record = DynamoDbSuccessorStore.from_settings(cloud.settings).get(request_hash(data))
    assert record is not None and record.status is SuccessorStatus.DONE and record.new_cert_id == linked[-1]
