"""The RA's authorization-certificate routes on moto (RaTable conditions, S3, Step Functions really run):
``POST /v3/authorization-certificate`` (202 + ack, one execution per request hash) and
``GET /v3/authorization-certificate`` (the batch zip, not ready, failed, download-maxReqs/minWait)."""

from __future__ import annotations

import json
from dataclasses import replace
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from scms_ee.download import authorization_header, download_request
from scms_ra.batch_files import batch_filename, batch_key, period_zip, read_period_zip
from scms_ra.wiring import from_settings, step_functions_starter
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.auth_requests import DynamoDbAuthRequestStore, RequestStatus
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.download_counters import CounterChanged, DownloadCounter, DynamoDbDownloadCounterStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore

from scms_codec import time32
from scms_codec.errors import ErrorCode
from scms_codec.secured.signer import Signer
from scms_codec.spdu import parse_ra_ee_cert_ack, request_hash
from scms_codec.spdu.ra_ee_ack import RaEeCertInfo
from tests.functional.ra_app import executions, provisioning_settings_fixture, ra_provisioning_fixture  # noqa: F401
from tests.support.state import assert_unchanged, capture
from tests.unit.ra.ee_auth import EnrolledEe

PATH = "/v3/authorization-certificate"
OCTETS = {"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"}
ERROR = "Ieee-1609.2.1-Error"


@pytest.fixture
def now() -> int:
    return time32.now()


@pytest.fixture
def ca(aws_settings: Settings, now: int) -> Hierarchy:
    built, _ = init_hierarchy(
        aws_settings,
        DynamoDbCaStore.from_settings(aws_settings),
        SecretsManagerKeyVault.from_settings(aws_settings),
        S3Artifacts.from_settings(aws_settings),
        now=now - 3600,
    )
    return built


def _enroll(settings: Settings, ca: Hierarchy, now: int, device_id: str) -> EnrolledEe:
    return EnrolledEe.enroll(
        hierarchy=ca, devices=DynamoDeviceStore(settings.ra_table),
        eca_requests=DynamoDbEcaRequestStore.from_settings(settings), settings=settings, now=now - 600,
        device_id=device_id,
    )  # fmt: skip


@pytest.fixture
def ee(aws_settings: Settings, ca: Hierarchy, now: int) -> EnrolledEe:
    return _enroll(aws_settings, ca, now, "obu-1")


def post(ra: ModuleType, body: bytes, headers: dict[str, str] | None = None) -> Any:
    with Client(ra.app) as client:
        return client.http.post(PATH, headers=OCTETS if headers is None else headers, body=body)


def get(ra: ModuleType, headers: dict[str, str], query: str = "") -> Any:
    with Client(ra.app) as client:
        return client.http.get(PATH + query, headers=headers)


def record_status(settings: Settings, rh: bytes) -> RequestStatus | None:
    record = DynamoDbAuthRequestStore.from_settings(settings).get(rh)
    return None if record is None else record.status


# ------------------------------------------------------------------ POST


def test_request_is_acked_202_and_starts_one_execution_named_by_its_hash(
    ra_provisioning: ModuleType, provisioning_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int
) -> None:
    data = ee.request(ca.certificate("ra"), generation_time=now)
    answer = post(ra_provisioning, data)
    assert answer.status_code == 202, answer.body
    assert answer.headers["Content-Type"] == "application/octet-stream"
    ack = parse_ra_ee_cert_ack(answer.body, issuer=ca.certificate("ra")).content
    rh = request_hash(data)
    assert ack.request_hash == rh
    assert executions(provisioning_settings.provision_state_machine) == [
        {"name": rh.hex(), "input": {"requestHash": rh.hex()}}
    ]
    assert record_status(provisioning_settings, rh) is RequestStatus.ACCEPTED


def test_refused_request_starts_nothing_and_stores_nothing(
    ra_provisioning: ModuleType, provisioning_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int
) -> None:
    before = capture(provisioning_settings)
    answer = post(ra_provisioning, ee.request(ca.certificate("ra"), generation_time=now + 120))
    assert (answer.status_code, answer.headers.get(ERROR)) == (400, ErrorCode.GENERATION_TIME_IN_FUTURE.value)
    assert executions(provisioning_settings.provision_state_machine) == []
    assert_unchanged(before, capture(provisioning_settings))


def test_replay_answers_the_same_ack_and_starts_no_second_execution(
    ra_provisioning: ModuleType, provisioning_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int
) -> None:
    data = ee.request(ca.certificate("ra"), generation_time=now)
    first, second = post(ra_provisioning, data), post(ra_provisioning, data)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.body == first.body
    assert [e["name"] for e in executions(provisioning_settings.provision_state_machine)] == [request_hash(data).hex()]
    # Twin: another request of the same device starts its own execution.
    other = ee.request(ca.certificate("ra"), generation_time=now - 5)
    assert post(ra_provisioning, other).status_code == 202
    assert len(executions(provisioning_settings.provision_state_machine)) == 2


def test_request_without_accept_header_is_acked(
    ra_provisioning: ModuleType, ca: Hierarchy, ee: EnrolledEe, now: int
) -> None:
    answer = post(ra_provisioning, ee.request(ca.certificate("ra"), generation_time=now),
                  {"Content-Type": "application/octet-stream"})  # fmt: skip
    assert answer.status_code == 202


def test_request_accepting_only_json_is_refused_before_anything_is_stored(
    ra_provisioning: ModuleType, provisioning_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int
) -> None:
    before = capture(provisioning_settings)
    answer = post(ra_provisioning, ee.request(ca.certificate("ra"), generation_time=now),
                  {"Content-Type": "application/octet-stream", "Accept": "application/json"})  # fmt: skip
    assert answer.status_code == 400
    assert_unchanged(before, capture(provisioning_settings))


class _ThrottledSfn:
    """A Step Functions client that is throttled (the record is stored, the start is not)."""

    def __init__(self) -> None:
        self.calls = 0

    def start_execution(self, **_: Any) -> None:
        self.calls += 1
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "StartExecution")


def test_throttled_start_is_503_and_the_replay_starts_it(
    ra_provisioning: ModuleType, provisioning_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int
) -> None:
    data = ee.request(ca.certificate("ra"), generation_time=now)
    arn = provisioning_settings.provision_state_machine
    wired = from_settings(provisioning_settings)
    throttled = _ThrottledSfn()
    ra_provisioning.configure(replace(wired, start_provisioning=step_functions_starter(arn, throttled)))
    answer = post(ra_provisioning, data)
    assert answer.status_code == 503 and throttled.calls == 1
    assert record_status(provisioning_settings, request_hash(data)) is RequestStatus.ACCEPTED
    assert executions(arn) == []
    # The device retries the same bytes once Step Functions answers again: the batch starts then.
    ra_provisioning.configure(wired)
    retry = post(ra_provisioning, data)
    assert retry.status_code == 202
    assert [e["name"] for e in executions(arn)] == [request_hash(data).hex()]


def test_a_request_the_state_machine_took_up_is_not_started_again(
    ra_provisioning: ModuleType, provisioning_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int
) -> None:
    data = ee.request(ca.certificate("ra"), generation_time=now)
    rh = request_hash(data)
    starts: list[bytes] = []

    def start(h: bytes) -> bool:
        starts.append(h)
        return True

    wired = from_settings(provisioning_settings)
    ra_provisioning.configure(replace(wired, start_provisioning=start))
    assert post(ra_provisioning, data).status_code == 202
    assert starts == [rh]  # ACCEPTED: started
    DynamoDbAuthRequestStore.from_settings(provisioning_settings).set_status(
        rh, RequestStatus.GENERATING, allowed_from=[RequestStatus.ACCEPTED], now=now
    )
    replay = post(ra_provisioning, data)
    assert replay.status_code == 202
    assert starts == [rh]  # GENERATING: the plan task runs; no second start


def test_no_state_machine_configured_is_500_and_keeps_the_record_for_the_replay(
    ra_provisioning: ModuleType, provisioning_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int
) -> None:
    data = ee.request(ca.certificate("ra"), generation_time=now)
    ra_provisioning.configure(from_settings(replace(provisioning_settings, provision_state_machine="")))
    assert post(ra_provisioning, data).status_code == 500
    ra_provisioning.configure(from_settings(provisioning_settings))
    assert post(ra_provisioning, data).status_code == 202
    assert len(executions(provisioning_settings.provision_state_machine)) == 1


# ------------------------------------------------------------------ GET


class Batch:
    """An accepted request of ``ee`` (through the route) and helpers to store and ask for its zips."""

    def __init__(self, ra: ModuleType, settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int) -> None:
        self.ra, self.settings, self.ca, self.ee, self.now = ra, settings, ca, ee, now
        data = ee.request(ca.certificate("ra"), generation_time=now)
        assert post(ra, data).status_code == 202
        self.rh = request_hash(data)
        record = DynamoDbAuthRequestStore.from_settings(settings).get(self.rh)
        assert record is not None
        self.first_i, self.last_i = record.first_i, record.last_i

    def name(self, i: int | None = None) -> str:
        return batch_filename(self.rh, self.first_i if i is None else i)

    def store(self, i: int | None = None) -> bytes:
        i = self.first_i if i is None else i
        info = RaEeCertInfo(self.now - 10, i, self.rh, self.now + 3600)
        data = period_zip(self.rh, i, {0: b"response-0", 1: b"response-1"}, info)
        S3Artifacts.from_settings(self.settings).put(batch_key(self.rh, i), data)
        return data

    def header(
        self, name: str | None = None, *, generation_time: int | None = None, signer: Signer | None = None
    ) -> dict[str, str]:
        spdu = download_request(
            name or self.name(), enrollment=signer or Signer(self.ee.ee.enrollment, self.ee.certificate),
            ra_certificate=self.ca.certificate("ra"),
            generation_time=self.now if generation_time is None else generation_time,
        )  # fmt: skip
        return {**authorization_header(spdu), "Accept": "application/octet-stream"}


@pytest.fixture
def batch(
    ra_provisioning: ModuleType, provisioning_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int
) -> Batch:
    return Batch(ra_provisioning, provisioning_settings, ca, ee, now)


def test_the_device_downloads_its_batch_zip_under_the_name_it_asked_for(batch: Batch) -> None:
    data = batch.store()
    name = batch.name().lower()  # any case; Content-Disposition echoes the requested spelling
    answer = get(batch.ra, batch.header(name))
    assert answer.status_code == 200, answer.body
    assert answer.body == data
    assert answer.headers["Content-Type"] == "application/zip"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert answer.headers["ETag"] == f'"{name}"'
    assert read_period_zip(answer.body).info.request_hash == batch.rh
    # ?filename= naming the same file is accepted too.
    assert get(batch.ra, batch.header(), f"?filename={batch.name()}").status_code == 200


def test_conditional_and_range_downloads(batch: Batch) -> None:
    data = batch.store()
    etag = f'"{batch.name()}"'
    not_modified = get(batch.ra, {**batch.header(), "If-None-Match": etag})
    assert (not_modified.status_code, not_modified.body) == (304, b"")
    assert get(batch.ra, {**batch.header(), "If-None-Match": '"other.zip"'}).status_code == 200
    part = get(batch.ra, {**batch.header(), "Range": "bytes=0-9"})
    assert (part.status_code, part.body) == (206, data[:10])
    assert part.headers["Content-Range"] == f"bytes 0-9/{len(data)}"
    assert part.headers["Content-Type"] == "application/zip"
    past = get(batch.ra, {**batch.header(), "Range": f"bytes={len(data)}-"})
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{len(data)}"


def test_batch_not_generated_yet_is_404_with_the_next_download_time(batch: Batch) -> None:
    answer = get(batch.ra, batch.header())
    assert answer.status_code == 404
    assert ERROR not in answer.headers  # Table 8 has no code for "not yet"
    next_dl = int(answer.headers["Scms-Next-Dl-Time"])
    assert next_dl >= batch.now
    retry_after = parsedate_to_datetime(answer.headers["Retry-After"])
    assert int(retry_after.timestamp()) == time32.to_unix(next_dl)
    # Twin: once stored, the same request gets it.
    batch.store()
    assert get(batch.ra, batch.header()).status_code == 200


def test_failed_request_answers_410_naming_the_reason(batch: Batch) -> None:
    batch.store()
    DynamoDbAuthRequestStore.from_settings(batch.settings).set_status(
        batch.rh, RequestStatus.FAILED, allowed_from=[RequestStatus.ACCEPTED],
        reason="ProvisioningStalled: no progress", now=batch.now,
    )  # fmt: skip
    answer = get(batch.ra, batch.header())
    assert answer.status_code == 410
    assert "ProvisioningStalled: no progress" in answer.body.decode()
    assert "Retry-After" not in answer.headers


def test_generating_request_is_served_normally(batch: Batch) -> None:
    # The twin of FAILED: a request still in work serves the batches that exist.
    batch.store()
    DynamoDbAuthRequestStore.from_settings(batch.settings).set_status(
        batch.rh, RequestStatus.GENERATING, allowed_from=[RequestStatus.ACCEPTED], now=batch.now
    )
    assert get(batch.ra, batch.header()).status_code == 200


def test_another_devices_download_request_is_400_43(
    batch: Batch, provisioning_settings: Settings, ca: Hierarchy, now: int
) -> None:
    batch.store()
    other = _enroll(provisioning_settings, ca, now, "obu-2")
    before = capture(provisioning_settings)
    answer = get(batch.ra, batch.header(signer=Signer(other.ee.enrollment, other.certificate)))
    assert (answer.status_code, answer.headers.get(ERROR)) == (400, ErrorCode.SIGNATURE_VERIFICATION_FAILED.value)
    assert_unchanged(before, capture(provisioning_settings))


def test_filename_without_the_authorization_header_is_400_42(batch: Batch) -> None:
    batch.store()
    answer = get(batch.ra, {"Accept": "application/octet-stream"}, f"?filename={batch.name()}")
    assert (answer.status_code, answer.headers.get(ERROR)) == (400, ErrorCode.FAILED_PARSING.value)


def _counter_items(settings: Settings) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=settings.ra_table, ConsistentRead=True)["Items"]
    return [i for i in items if i["pk"]["S"].startswith("RADL#")]


def test_download_max_reqs_refuses_the_request_past_the_limit_and_counts_nothing(batch: Batch) -> None:
    batch.store()
    limited = replace(batch.settings, download_max_reqs=2)
    batch.ra.configure(from_settings(limited))
    assert [get(batch.ra, batch.header()).status_code for _ in range(2)] == [200, 200]
    before = capture(limited)
    refused = get(batch.ra, batch.header())
    assert (refused.status_code, refused.headers.get(ERROR)) == (400, ErrorCode.DOWNLOAD_MAX_REQS.value)
    assert_unchanged(before, capture(limited))
    (item,) = _counter_items(limited)
    assert sum(int(n["N"]) for n in item["days"]["M"].values()) == 2


def test_download_min_wait_refuses_a_quick_retry_and_allows_a_later_one(
    batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch.store()
    batch.ra.configure(from_settings(replace(batch.settings, download_min_wait=60)))
    clock = [batch.now]
    monkeypatch.setattr(time32, "now", lambda: clock[0])
    assert get(batch.ra, batch.header()).status_code == 200
    clock[0] = batch.now + 59
    too_soon = get(batch.ra, batch.header(generation_time=clock[0]))
    assert (too_soon.status_code, too_soon.headers.get(ERROR)) == (400, ErrorCode.DOWNLOAD_MIN_WAIT.value)
    clock[0] = batch.now + 60
    assert get(batch.ra, batch.header(generation_time=clock[0])).status_code == 200


def test_polls_for_a_batch_not_generated_yet_are_not_counted(batch: Batch) -> None:
    # A device polling as Retry-After says while the batch is late must not use up its downloads.
    limited = replace(batch.settings, download_max_reqs=1)
    batch.ra.configure(from_settings(limited))
    before = capture(limited)
    assert [get(batch.ra, batch.header()).status_code for _ in range(3)] == [404, 404, 404]
    assert_unchanged(before, capture(limited))
    # Twin: once generated, the download is served and counted, and the next one is over the limit.
    batch.store()
    assert get(batch.ra, batch.header()).status_code == 200
    assert get(batch.ra, batch.header()).headers.get(ERROR) == ErrorCode.DOWNLOAD_MAX_REQS.value


def test_execution_input_is_json_with_the_hash_only(
    ra_provisioning: ModuleType, provisioning_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int
) -> None:
    # Nothing about the device travels into the state machine: only the request hash.
    data = ee.request(ca.certificate("ra"), generation_time=now)
    post(ra_provisioning, data)
    client = boto3.client("stepfunctions")
    (listed,) = client.list_executions(stateMachineArn=provisioning_settings.provision_state_machine)["executions"]
    raw = client.describe_execution(executionArn=listed["executionArn"])["input"]
    assert json.loads(raw) == {"requestHash": request_hash(data).hex()}
    assert ee.ee.device_id not in raw


def test_download_counter_writes_are_conditional_on_the_version_read(aws_settings: Settings) -> None:
    store = DynamoDbDownloadCounterStore.from_settings(aws_settings)
    cert = "0123456789abcdef"
    store.replace(DownloadCounter(cert, {8000: 1}, 5, 1), expected_version=0, expires_at=10)
    # A second "first" count and a count over a version nobody stored both lose.
    with pytest.raises(CounterChanged):
        store.replace(DownloadCounter(cert, {8000: 2}, 6, 1), expected_version=0, expires_at=10)
    with pytest.raises(CounterChanged):
        store.replace(DownloadCounter(cert, {8000: 2}, 6, 3), expected_version=2, expires_at=10)
    assert store.get(cert) == DownloadCounter(cert, {8000: 1}, 5, 1)
    # Twin: over the version read, it is replaced.
    store.replace(DownloadCounter(cert, {8000: 2}, 6, 2), expected_version=1, expires_at=10)
    assert store.get(cert) == DownloadCounter(cert, {8000: 2}, 6, 2)
    assert store.get("fedcba9876543210") is None
