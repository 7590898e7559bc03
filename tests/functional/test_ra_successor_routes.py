# ruff: noqa: F811  (pytest fixtures imported from another module are parameters here)
"""The RA's successor-enrollment routes on moto (RaTable and EcaTable conditions, S3 really run):
``POST /v3/successor-enrollment-certificate`` (202 + ``RaEeEnrollmentCertAckSpdu``; the RA invokes the
ECA's ``EcaTaskFunction`` through moto Lambda, whose invoke runs the real ``tasks.successor_task`` via the
local stack's patch) and ``GET /v3/successor-enrollment-certificate`` (``<requestHash>_enroll.oer``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import ModuleType
from typing import Any

import boto3
import pytest
from chalice.test import Client
from scms_ee.download import authorization_header, download_request
from scms_ra.successor import artifact_key, successor_filename
from scms_ra.wiring import from_settings
from scms_service.auth import key_digest
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore, RequestStatus
from scms_service.stores.eca_requests import RequestRecord as EcaRequestRecord
from scms_service.stores.successor_requests import (
    DynamoDbSuccessorStore,
    SuccessorExists,
    SuccessorRecord,
    SuccessorStatus,
)

from scms_cli.local.stepfunctions import create_functions, install_lambda_patch, uninstall_lambda_patch
from scms_codec import time32
from scms_codec.errors import ErrorCode
from scms_codec.secured.signer import Signer
from scms_codec.spdu import parse_eca_ee_cert_response, parse_ra_ee_enrollment_cert_ack, request_hash
from tests.functional.ra_app import API_KEY, load_ra_app
from tests.functional.test_iam import deployed  # noqa: F401
from tests.functional.test_ra_authorization_routes import _enroll, ca, now  # noqa: F401
from tests.support.state import assert_unchanged, capture
from tests.unit.eca.test_tasks import load_eca_tasks
from tests.unit.ra.test_successor import Holder, successor_request

PATH = "/v3/successor-enrollment-certificate"
OCTETS = {"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"}
ERROR = "Ieee-1609.2.1-Error"
ECA_TASK = "EcaTaskFunction"


@contextlib.contextmanager
def eca_task_lambda(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, wrap: Callable[[str, Any], Any] | None = None
) -> Iterator[Settings]:
    """``EcaTaskFunction`` as a moto Lambda function running the real handler (the local stack's patch).

    Yields ``settings`` naming it (``eca_task_function``), so ``from_settings`` wires ``LambdaEca``.
    ``wrap(function, handler)`` may wrap the handler (test_iam's per-function recorder).
    """
    tasks = load_eca_tasks()
    monkeypatch.setattr(tasks, "settings", lambda: settings)
    monkeypatch.setattr(tasks, "_ca", tasks._LazyHierarchy())  # this test's hierarchy, not a cached one
    handler = tasks.successor_task if wrap is None else wrap(ECA_TASK, tasks.successor_task)
    install_lambda_patch({ECA_TASK: handler})
    try:
        create_functions(boto3.client("lambda"), boto3.client("iam"), {ECA_TASK: "tasks.successor_task"})
        yield replace(settings, eca_task_function=ECA_TASK)
    finally:
        uninstall_lambda_patch()


@pytest.fixture
def ra(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The RA app wired as deployed (``LambdaEca``), the ECA task behind moto Lambda."""
    boto3.client("secretsmanager").create_secret(
        Name=aws_settings.management_api_key_secret, SecretString=key_digest(API_KEY)
    )
    with eca_task_lambda(aws_settings, monkeypatch) as settings:
        module = load_ra_app()
        module.configure(from_settings(settings))
        try:
            yield module
        finally:
            module.configure(None)


@pytest.fixture
def holder(aws_settings: Settings, ca: Hierarchy, now: int) -> Holder:
    enrolled = _enroll(aws_settings, ca, now, "obu-succ")
    return Holder(enrolled.ee, enrolled.certificate)


def post(ra: ModuleType, body: bytes) -> Any:
    with Client(ra.app) as client:
        return client.http.post(PATH, headers=OCTETS, body=body)


def get(ra: ModuleType, name: str, signer: Signer, ca: Hierarchy, *, query: str = "", at: int | None = None) -> Any:
    spdu = download_request(name, enrollment=signer, ra_certificate=ca.certificate("ra"),
                            generation_time=time32.now() if at is None else at)  # fmt: skip
    with Client(ra.app) as client:
        return client.http.get(PATH + query, headers={"Accept": OCTETS["Accept"], **authorization_header(spdu)})


def successor_round(ra: ModuleType, ca: Hierarchy, holder: Holder, now: int) -> tuple[Holder, bytes]:
    """POST a successor request, download the file, and return the device holding the new certificate."""
    data, key = successor_request(holder, ca.certificate("ra"), generation_time=now)
    answer = post(ra, data)
    assert answer.status_code == 202, answer.body
    ack = parse_ra_ee_enrollment_cert_ack(answer.body, issuer=ca.certificate("ra")).content
    assert ack.request_hash == request_hash(data)
    name = successor_filename(ack.request_hash)
    got = get(ra, name, holder.signer, ca)
    assert got.status_code == 200, got.body
    assert got.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    content = parse_eca_ee_cert_response(got.body, issuer=ca.certificate("eca")).content
    assert content.request_hash == ack.request_hash
    assert content.certificate.public_key() == key.public_key()
    return Holder(replace(holder.ee, enrollment=key), content.certificate, [*holder.history, holder.signer]), data


def test_successor_enrollment_works_twice_in_a_row(
    ra: ModuleType,
    aws_settings: Settings,
    ca: Hierarchy,
    holder: Holder,
    now: int,
) -> None:
    # Given an enrolled device, when it successor-enrolls, then again with its new certificate
    second, first_data = successor_round(ra, ca, holder, now)
    third, _ = successor_round(ra, ca, second, now + 1)
    # Then the device holds all three certificates, the newest current, and is Successor Enrolled
    device = DynamoDeviceStore(aws_settings.ra_table).get(holder.ee.device_id)
    assert device is not None and device.state is DeviceState.SUCCESSOR_ENROLLED
    assert [e.cert_id for e in device.enrollments] == [
        c.hashed_id8.hex() for c in (holder.certificate, second.certificate, third.certificate)
    ]
    assert DynamoDeviceStore(aws_settings.ra_table).get_by_enrollment_cert(third.certificate.hashed_id8.hex())
    record = DynamoDbSuccessorStore.from_settings(aws_settings).get(request_hash(first_data))
    assert record is not None and record.status is SuccessorStatus.DONE
    # Twin: the first certificate, superseded, may not ask for another successor.
    fork, _ = successor_request(holder, ca.certificate("ra"), generation_time=now + 2)
    answer = post(ra, fork)
    assert (answer.status_code, answer.headers.get(ERROR)) == (400, ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED.value)


def test_replay_answers_the_same_ack_and_issues_no_second_certificate(
    ra: ModuleType,
    aws_settings: Settings,
    ca: Hierarchy,
    holder: Holder,
    now: int,
) -> None:
    data, key = successor_request(holder, ca.certificate("ra"), generation_time=now)
    first = post(ra, data)
    assert first.status_code == 202
    before = capture(aws_settings)
    again = post(ra, data)
    assert (again.status_code, again.body) == (202, first.body)
    assert_unchanged(before, capture(aws_settings))
    # Twin: a new request by the new certificate (other bytes) is processed and changes the stores.
    content = parse_eca_ee_cert_response(
        S3Artifacts.from_settings(aws_settings).get(artifact_key(request_hash(data))) or b""
    ).content
    newer = Holder(replace(holder.ee, enrollment=key), content.certificate)
    assert post(ra, successor_request(newer, ca.certificate("ra"), generation_time=now + 1)[0]).status_code == 202
    assert capture(aws_settings) != before


def test_refusals_at_the_ra_and_at_the_eca_store_nothing(
    ra: ModuleType,
    aws_settings: Settings,
    ca: Hierarchy,
    holder: Holder,
    now: int,
) -> None:
    before = capture(aws_settings)
    ra_cert = ca.certificate("ra")
    for data, code in (
        (successor_request(holder, ra_cert, generation_time=now + 120)[0], ErrorCode.GENERATION_TIME_IN_FUTURE),
        (successor_request(holder, ra_cert, generation_time=now, start=now + 500)[0], ErrorCode.ECA_MAX_WAIT),
        (b"\x03\x81\x00", ErrorCode.FAILED_PARSING),
    ):
        answer = post(ra, data)
        assert (answer.status_code, answer.headers.get(ERROR)) == (400, code.value), answer.body
        assert_unchanged(before, capture(aws_settings))
    # Twin: a request within every limit is accepted and stored.
    assert post(ra, successor_request(holder, ra_cert, generation_time=now, start=now + 50)[0]).status_code == 202
    assert capture(aws_settings) != before


def test_download_refusals_and_the_requesting_certificate(
    ra: ModuleType,
    aws_settings: Settings,
    ca: Hierarchy,
    holder: Holder,
    now: int,
) -> None:
    data, _ = successor_request(holder, ca.certificate("ra"), generation_time=now)
    assert post(ra, data).status_code == 202
    name = successor_filename(request_hash(data))
    with Client(ra.app) as client:
        missing = client.http.get(PATH, headers={"Accept": OCTETS["Accept"]})
    assert (missing.status_code, missing.headers.get(ERROR)) == (400, ErrorCode.FAILED_PARSING.value)
    # Another device's certificate (or an unknown request) gets 400-43.
    other = _enroll(aws_settings, ca, now, "obu-other")
    stranger = get(ra, name, Signer(other.ee.enrollment, other.certificate), ca)
    assert (stranger.status_code, stranger.headers.get(ERROR)) == (400, ErrorCode.SIGNATURE_VERIFICATION_FAILED.value)
    mismatch = get(ra, name, holder.signer, ca, query="?filename=0000000000000000_enroll.oer")
    assert (mismatch.status_code, mismatch.headers.get(ERROR)) == (400, ErrorCode.FAILED_PARSING.value)
    # Twin: the requesting certificate gets the stored file, with ?filename in another case too.
    ok = get(ra, name, holder.signer, ca, query=f"?filename={name.lower()}")
    assert ok.status_code == 200
    assert ok.body == S3Artifacts.from_settings(aws_settings).get(artifact_key(request_hash(data)))


def test_eca_claim_is_keyed_by_the_outer_request_hash(
    ra: ModuleType,
    aws_settings: Settings,
    ca: Hierarchy,
    holder: Holder,
    now: int,
) -> None:
    data, _ = successor_request(holder, ca.certificate("ra"), generation_time=now)
    assert post(ra, data).status_code == 202
    eca_record = DynamoDbEcaRequestStore.from_settings(aws_settings).get(request_hash(data))
    assert eca_record is not None and eca_record.response is not None
    assert DynamoDbEcaRequestStore.from_settings(aws_settings).get(request_hash(data)[::-1]) is None  # twin


def _record(rh: bytes, status: SuccessorStatus = SuccessorStatus.PENDING) -> SuccessorRecord:
    return SuccessorRecord(rh, "dev-1", "00" * 8, 700_000_000, status, b"ack", 700_000_000, 1_800_000_000)


def test_successor_store_conditions_hold_in_dynamodb(aws_settings: Settings) -> None:
    store = DynamoDbSuccessorStore.from_settings(aws_settings)
    record = _record(b"\x01" * 8)
    store.put(record)
    with pytest.raises(SuccessorExists):
        store.put(replace(record, ack=b"other"))  # the same hash is stored once
    assert store.get(record.request_hash) == record
    assert [e.request_hash for e in store.rate_entries("dev-1", since=0)] == [record.request_hash]
    done = store.complete(record.request_hash, new_cert_id="11" * 8, now=700_000_001)
    assert done.status is SuccessorStatus.DONE and done.new_cert_id == "11" * 8
    assert store.complete(record.request_hash, new_cert_id="11" * 8, now=700_000_002).new_cert_id == "11" * 8
    with pytest.raises(SuccessorExists):
        store.complete(record.request_hash, new_cert_id="22" * 8, now=700_000_003)  # never another certificate
    with pytest.raises(SuccessorExists):
        store.delete(record)  # a DONE request is never removed
    # Twin: a PENDING one is, with its rate entry.
    pending = _record(b"\x02" * 8)
    store.put(pending)
    store.delete(pending)
    assert store.get(pending.request_hash) is None
    assert [e.request_hash for e in store.rate_entries("dev-1", since=0)] == [record.request_hash]


def test_the_route_reaches_the_eca_task_through_lambda(
    aws_settings: Settings, ca: Hierarchy, holder: Holder, now: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the RA wired as deployed, the ECA task behind moto Lambda, its invocations counted
    invoked: list[dict[str, Any]] = []

    def counting(_: str, handler: Any) -> Any:
        def counted(event: dict[str, Any], context: Any) -> Any:
            invoked.append(event)
            return handler(event, context)

        return counted

    boto3.client("secretsmanager").create_secret(
        Name=aws_settings.management_api_key_secret, SecretString=key_digest(API_KEY)
    )
    with eca_task_lambda(aws_settings, monkeypatch, counting) as settings:
        module = load_ra_app()
        module.configure(from_settings(settings))
        try:
            # When a successor request is posted, then the task got the inner request, outer hash, device
            data, _ = successor_request(holder, ca.certificate("ra"), generation_time=now)
            assert post(module, data).status_code == 202
            assert [sorted(e) for e in invoked] == [["deviceId", "request", "requestHash"]]
            assert invoked[0]["requestHash"] == request_hash(data).hex()
            assert invoked[0]["deviceId"] == holder.ee.device_id
            # Twin: with the function gone, the POST is a 500 and the RA's claim is left for a retry
            boto3.client("lambda").delete_function(FunctionName=ECA_TASK)
            other = _enroll(aws_settings, ca, now, "obu-succ-2")
            second, _ = successor_request(
                Holder(other.ee, other.certificate), ca.certificate("ra"), generation_time=now
            )
            before = capture(aws_settings)
            answer = post(module, second)
            assert answer.status_code == 500 and len(invoked) == 1
            record = DynamoDbSuccessorStore.from_settings(aws_settings).get(request_hash(second))
            assert record is not None and record.status is SuccessorStatus.PENDING
            assert DynamoDbEcaRequestStore.from_settings(aws_settings).get(request_hash(second)) is None
            assert capture(aws_settings) != before
        finally:
            module.configure(None)


def test_an_eca_claim_held_by_another_attempt_is_409_through_lambda_and_the_retry_succeeds(
    ra: ModuleType, aws_settings: Settings, ca: Hierarchy, holder: Holder, now: int
) -> None:
    # Given another attempt holding the ECA's claim on this outer request (within its lease)
    data, _ = successor_request(holder, ca.certificate("ra"), generation_time=now)
    rh = request_hash(data)
    eca_store = DynamoDbEcaRequestStore.from_settings(aws_settings)
    held = EcaRequestRecord(rh, RequestStatus.PENDING, "other-attempt", time32.now(), holder.ee.canonical_id, now,
                            time32.to_unix(now) + 3600)  # fmt: skip
    eca_store.claim(held)
    # When the device posts it, the task raises RequestInProgress and the RA answers 409, keeping its claim
    answer = post(ra, data)
    assert answer.status_code == 409, answer.body
    record = DynamoDbSuccessorStore.from_settings(aws_settings).get(rh)
    assert record is not None and record.status is SuccessorStatus.PENDING
    # Twin: once that attempt let go, the device's retry of the same bytes is issued and linked.
    eca_store.release(held)
    assert post(ra, data).status_code == 202
    done = DynamoDbSuccessorStore.from_settings(aws_settings).get(rh)
    assert done is not None and done.status is SuccessorStatus.DONE
