"""The RA's batch tasks (functions/ra/tasks.handler) run in the state machine's order on moto, for two devices at once.

plan → LA1/LA2 PLVs (the LA use case) → expand → draw → ACA ``issue_task`` → deliver → finish →
assemble → done, with the real hierarchy, LA tables, ACA response table and artifacts bucket, so
DynamoDB's conditions really run. Shows: every (i, j) of both requests delivered once (and the
ACA issued each once), the period zips in S3, and an ACA-side order that mixes the devices.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import io
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from scms_la.plv import PlvRequest, pre_linkage_values
from scms_ra.authorize import authorize
from scms_ra.batch_files import BatchName, batch_key, read_period_zip
from scms_ra.shuffle import draw
from scms_service.config import Settings
from scms_service.errors import Conflict
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.iperiod import IPeriods
from scms_service.linkage_keys import LA_IDS, ensure_la_aca_keys, la_aca_key
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.auth_requests import DynamoDbAuthRequestStore, RequestNotFound, RequestStatus
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore
from scms_service.stores.issued_certs import DynamoDbIssuedCertStore
from scms_service.stores.linkage_seeds import DynamoDbSeedStore
from scms_service.stores.shuffle_pool import DynamoDbShufflePool

from scms_cli.local.template import load_template
from scms_codec import time32
from scms_codec.spdu import request_hash
from scms_codec.spdu.ra_aca import parse_aca_ra_cert_response
from tests.functional.aca_deployment import load_aca_handlers
from tests.functional.test_iam import CallRecorder, _table_arn, allowed, granted
from tests.unit.ra.ee_auth import EnrolledEe
from tests.unit.ra.test_batch_status import record as status_record
from tests.unit.service.test_issued_certs import CONTRACT as CERTS_CONTRACT
from tests.unit.service.test_issued_certs import RH as RH_CERTS
from tests.unit.service.test_issued_certs import cert
from tests.unit.service.test_shuffle_pool import CONTRACT as POOL_CONTRACT
from tests.unit.service.test_shuffle_pool import item as pool_item

_TASKS = Path(__file__).resolve().parents[2] / "functions" / "ra" / "tasks.py"
STAGE = "dev"


def load_ra_tasks() -> ModuleType:
    """``functions/ra/tasks.py`` imported once as ``scms_ra_tasks`` (its folder's package is installed)."""
    if "scms_ra_tasks" in sys.modules:
        return sys.modules["scms_ra_tasks"]
    spec = importlib.util.spec_from_file_location("scms_ra_tasks", _TASKS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scms_ra_tasks"] = module
    spec.loader.exec_module(module)
    return module


class _Recorder(CallRecorder):
    """test_iam's recorder, on only while an RA task runs; batch calls name their tables in RequestItems."""

    active = False

    def _record(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if not self.active:
            return
        if model.name in ("BatchGetItem", "BatchWriteItem"):
            self.calls |= {(f"dynamodb:{model.name}", _table_arn(table)) for table in params["RequestItems"]}
            return
        super()._record(params, model, **kwargs)


@dataclass
class Stack:
    settings: Settings
    ca: Hierarchy
    tasks: ModuleType
    aca: ModuleType
    now: int
    recorder: _Recorder | None = None


@pytest.fixture
def stack(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """`scms init` on moto, small batches (3 certificates per period, 1 period per chunk, one pool shard)."""
    settings = replace(
        aws_settings, secret_prefix=f"scms/{STAGE}/", certs_per_period=3, provision_chunk_certs=3,
        pool_shards=1, aca_batch_size=6, provision_lanes=1,
    )  # fmt: skip
    now = time32.now()
    vault = SecretsManagerKeyVault.from_settings(settings)
    # Two weeks old: the current i-period began before now, and the ACA refuses (400-35) a validity
    # that starts before its own certificate's.
    ca, _ = init_hierarchy(settings, DynamoDbCaStore.from_settings(settings), vault,
                           S3Artifacts.from_settings(settings), now=now - 14 * 86400)  # fmt: skip
    ensure_la_aca_keys(settings, vault)
    tasks = load_ra_tasks()
    monkeypatch.setattr(tasks, "settings", lambda: settings)
    monkeypatch.setattr(tasks, "_ra", tasks._Ra())
    aca = load_aca_handlers()
    monkeypatch.setattr(aca, "settings", lambda: settings)
    monkeypatch.setattr(aca, "_aca", aca._Aca())
    yield Stack(settings, ca, tasks, aca, now)


@pytest.fixture
def bare(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The tasks on empty tables, without a hierarchy: for events refused before any use case runs."""
    tasks = load_ra_tasks()
    monkeypatch.setattr(tasks, "settings", lambda: aws_settings)
    monkeypatch.setattr(tasks, "_ra", tasks._Ra())
    return Stack(aws_settings, None, tasks, None, time32.now())  # type: ignore[arg-type]


def _accepted(stack: Stack, device_id: str) -> bytes:
    """An enrolled device's unified butterfly request, accepted by the RA; its request hash."""
    s = stack.settings
    devices = DynamoDeviceStore(s.ra_table)
    ee = EnrolledEe.enroll(hierarchy=stack.ca, devices=devices, eca_requests=DynamoDbEcaRequestStore.from_settings(s),
                           settings=s, now=stack.now - 600, device_id=device_id)  # fmt: skip
    data = ee.request(stack.ca.certificate("ra"), generation_time=stack.now, duration=("hours", 300))
    authorize(data, now=stack.now, settings=s, periods=IPeriods.from_settings(s), devices=devices,
              requests=DynamoDbAuthRequestStore.from_settings(s), ra=stack.ca)  # fmt: skip
    return request_hash(data)


def _plvs(stack: Stack, planned: dict[str, Any], chunk: dict[str, int]) -> list[dict[str, Any]]:
    """The two LA task results for a chunk, through the LA use case (LA2 first: order must not matter)."""
    s = stack.settings
    vault = SecretsManagerKeyVault.from_settings(s)
    request = PlvRequest(bytes.fromhex(planned["chainId"]), chunk["iFirst"], chunk["iLast"], planned["jMax"])
    results = []
    for la in ("la2", "la1"):
        response = pre_linkage_values(request, la_id=LA_IDS[la], seeds=DynamoDbSeedStore.from_settings(s, la),
                                      aca_key=la_aca_key(s, vault, la), now=stack.now)  # fmt: skip
        plvs = [base64.b64encode(p.enc_plv).decode("ascii") for p in response.plvs]
        results.append({"laId": response.la_id.hex(), "iFirst": request.i_first, "iLast": request.i_last,
                        "jMax": request.j_max, "plvs": plvs})  # fmt: skip
    return results


def _run(stack: Stack, task: str, **fields: Any) -> dict[str, Any]:
    if stack.recorder is not None:
        stack.recorder.active = True
    try:
        result: dict[str, Any] = stack.tasks.handler({"task": task, **fields}, None)
    finally:
        if stack.recorder is not None:
            stack.recorder.active = False
    return result


def _single_device_batches(order: list[bytes], sizes: list[int]) -> int:
    """How many of the consecutive batches of ``sizes`` cut from ``order`` (owners) hold one owner only."""
    count, start = 0, 0
    for size in sizes:
        count += len(set(order[start : start + size])) == 1
        start += size
    return count


def _changes(order: list[bytes]) -> int:
    """How often the owner changes along an order (1 for two devices sent one after the other)."""
    return sum(1 for a, b in itertools.pairwise(order) if a != b)


@pytest.fixture
def task_logs(stack: Stack) -> Iterator[io.StringIO]:
    """What the tasks' Powertools logger writes (its JSON lines), while the test runs."""
    handler = stack.tasks.logger.registered_handler
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    yield buffer
    handler.setStream(old)


def test_two_devices_are_provisioned_through_the_tasks_with_a_mixed_aca_order(
    stack: Stack, task_logs: io.StringIO
) -> None:
    # Given two devices whose authorization requests were accepted,
    s = stack.settings
    stack.recorder = _Recorder()
    hashes = [_accepted(stack, "obu-1"), _accepted(stack, "obu-2")]
    plans = {rh: _run(stack, "plan", requestHash=rh.hex()) for rh in hashes}
    assert all(p["done"] is False and p["linkage"] is True and p["lanes"] == [0] for p in plans.values())
    records = {rh: DynamoDbAuthRequestStore.from_settings(s).get(rh) for rh in hashes}
    assert all(r is not None and r.status is RequestStatus.GENERATING for r in records.values())
    # When every chunk of both is expanded into the pool,
    for rh, planned in plans.items():
        for chunk in planned["chunks"]:
            out = _run(stack, "expand", requestHash=rh.hex(), plvs=_plvs(stack, planned, chunk), **chunk)
            assert out["pooled"] == s.certs_per_period * (chunk["iLast"] - chunk["iFirst"] + 1)
    # and the lane drains it through the ACA,
    aca_batches: list[list[bytes]] = []
    last_delivery: dict[str, Any] = {}
    while not (drawn := _run(stack, "draw", lane=0))["empty"]:
        requests = [base64.b64decode(r) for r in drawn["requests"]]
        aca_batches.append(requests)
        answer = stack.aca.issue_task({"requests": drawn["requests"]}, None)
        last_delivery = {"lease": drawn["lease"], "keys": drawn["keys"], **answer}
        assert answer["refused"] == []
        out = _run(stack, "deliver", lane=0, **last_delivery)
        assert out == {"lane": 0, "delivered": len(requests), "refused": 0}
    # Then both requests are complete and assembled, and DONE.
    for rh, planned in plans.items():
        assert _run(stack, "finish", requestHash=rh.hex(), round=0) == {"complete": True, "round": 1}
        for chunk in planned["chunks"]:
            assert _run(stack, "assemble", requestHash=rh.hex(), **chunk) == {"files": 1}
        assert _run(stack, "done", requestHash=rh.hex()) == {"status": "DONE"}
        assert DynamoDbAuthRequestStore.from_settings(s).get(rh).status is RequestStatus.DONE  # type: ignore[union-attr]

    # Every (i, j) of both requests has exactly one certificate, and the ACA issued each once.
    issued = DynamoDbIssuedCertStore.from_settings(s)
    owner_of: dict[bytes, bytes] = {}
    total = 0
    for rh in hashes:
        record = records[rh]
        assert record is not None
        expected = {(i, j) for i in range(record.first_i, record.last_i + 1) for j in range(s.certs_per_period)}
        certs = issued.list(rh, record.first_i, record.last_i)
        assert {(c.i, c.j) for c in certs} == expected and len(certs) == len(expected)
        assert all(c.spdu is not None and c.refusal is None for c in certs)
        owner_of.update({bytes.fromhex(c.aca_request_id): rh for c in certs})
        total += len(certs)
        # The period zips are in S3, readable, with the right .info and every j.
        for i in range(record.first_i, record.last_i + 1):
            obj = boto3.client("s3").get_object(Bucket=s.artifacts_bucket, Key=batch_key(rh, i))
            assert obj["ContentType"] == "application/zip"
            period = read_period_zip(obj["Body"].read(), expected=BatchName(rh, i))
            assert sorted(period.responses) == list(range(s.certs_per_period))
            assert period.info.next_dl_time == IPeriods.from_settings(s).next_download_time(i + 1)
            assert {c.spdu for c in certs if c.i == i} == set(period.responses.values())
    aca_items = boto3.client("dynamodb").scan(TableName=s.aca_table)["Items"]
    assert len(aca_items) == total == sum(len(b) for b in aca_batches)
    assert (
        boto3.client("dynamodb").query(
            TableName=s.ra_table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "POOL#00"}}
        )["Count"]
        == 0
    )

    # The ACA-side order carries no grouping: each batch mixes both devices, and the whole order
    # changes owner far more often than a device-by-device order would (once).
    order = [owner_of[request_hash(r)] for batch in aca_batches for r in batch]
    assert len(aca_batches) >= 3
    sizes = [len(batch) for batch in aca_batches]
    # A batch is a random subset of the pool, so one holding a single device's requests can happen by
    # chance (about 1 % per batch of 6 from 9 + 9 here); grouped device by device, two of the three would.
    assert _single_device_batches(order, sizes) <= 1
    assert _single_device_batches(sorted(order), sizes) >= 2  # twin: the same requests grouped by device
    assert _changes(order) > 2
    assert _changes(sorted(order)) == 1  # twin: the same requests grouped by device are detected

    # A deliver repeated after a crash (before the lease was released) changes nothing.
    before = issued.list(hashes[0], 0, 0xFFFF) + issued.list(hashes[1], 0, 0xFFFF)
    out = _run(stack, "deliver", lane=0, **last_delivery)
    assert out["delivered"] == 0 and out["refused"] == 0  # its pool items were gone: nothing re-stored
    assert issued.list(hashes[0], 0, 0xFFFF) + issued.list(hashes[1], 0, 0xFFFF) == before
    # A repeated plan of a DONE request does nothing.
    assert _run(stack, "plan", requestHash=hashes[0].hex())["done"] is True

    # The logs name no chain id or device, and the pool's tasks (which see every device) carry no
    # request's correlation id.
    logs = [json.loads(line) for line in task_logs.getvalue().splitlines() if line.startswith("{")]
    pool_logs = [e for e in logs if e.get("message") in ("batch drawn", "batch delivered")]
    assert pool_logs and all(e.get("correlation_id") is None for e in pool_logs)
    assert {e.get("correlation_id") for e in logs if e.get("message") == "chunk pooled"} == {h.hex() for h in hashes}
    text = "\n".join(json.dumps(e) for e in logs).lower()
    for planned in plans.values():
        assert planned["chainId"] not in text
    assert "obu-1" not in text and "obu-2" not in text

    # RaBatchFunction's role in the template allows every call the tasks made.
    calls = stack.recorder.calls
    grants = granted("RaBatchFunction")
    missing = sorted(c for c in calls if not allowed(c, grants))
    assert {c[0] for c in calls} >= {"dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "s3:PutObject"}
    assert not missing, f"RaBatchFunction's role lacks: {missing}"
    # Twin: without DeleteItem (the lease release) the check reports it.
    template = copy.deepcopy(load_template())
    statements = template["Resources"]["RaBatchFunction"]["Properties"]["Policies"][0]["Statement"]
    for statement in statements:
        if isinstance(statement["Action"], list) and "dynamodb:DeleteItem" in statement["Action"]:
            statement["Action"].remove("dynamodb:DeleteItem")
    assert any(c[0] == "dynamodb:DeleteItem" for c in calls if not allowed(c, granted("RaBatchFunction", template)))


def test_deliver_stores_a_response_signed_by_another_key_as_a_refusal(stack: Stack) -> None:
    # Given one device's requests drawn from the pool and answered by the ACA,
    s = stack.settings
    rh = _accepted(stack, "obu-1")
    planned = _run(stack, "plan", requestHash=rh.hex())
    chunk = planned["chunks"][0]
    _run(stack, "expand", requestHash=rh.hex(), plvs=_plvs(stack, planned, chunk), **chunk)
    drawn = _run(stack, "draw", lane=0)
    answer = stack.aca.issue_task({"requests": drawn["requests"]}, None)
    # When one response's signature is broken (its last octet flipped),
    bad = bytearray(base64.b64decode(answer["responses"][0]))
    bad[-1] ^= 1
    answer["responses"][0] = base64.b64encode(bytes(bad)).decode("ascii")
    out = _run(stack, "deliver", lane=0, lease=drawn["lease"], keys=drawn["keys"], **answer)
    # Then that item is stored as a 400-43 refusal and the others as certificates.
    assert out == {"lane": 0, "delivered": len(drawn["keys"]) - 1, "refused": 1}
    certs = DynamoDbIssuedCertStore.from_settings(s).list(rh, chunk["iFirst"], chunk["iLast"])
    assert sorted(c.refusal or "" for c in certs)[-1] == "400-43"
    good = [c for c in certs if c.spdu is not None]
    # Twin: the untouched responses are stored as the ACA's inner SPDUs.
    inner = {parse_aca_ra_cert_response(base64.b64decode(r)).content.response_spdu for r in answer["responses"][1:]}
    assert {c.spdu for c in good} == inner


def test_fail_marks_the_request_failed_with_a_short_reason(stack: Stack) -> None:
    rh = _accepted(stack, "obu-1")
    cause = '{"errorMessage": "chunk [3, 2] is empty\\nmore", "errorType": "ChunkInvalid", "stackTrace": ["x"]}'
    assert _run(stack, "fail", requestHash=rh.hex(), error={"Error": "ChunkInvalid", "Cause": cause}) == {
        "status": "FAILED"
    }
    record = DynamoDbAuthRequestStore.from_settings(stack.settings).get(rh)
    assert record is not None and record.status is RequestStatus.FAILED
    assert record.status_reason == "ChunkInvalid: chunk [3, 2] is empty"
    # Twin: a failed request is not planned again.
    with pytest.raises(Exception) as info:
        _run(stack, "plan", requestHash=rh.hex())
    assert type(info.value).__name__ == "RequestNotProvisionable"


def test_an_unknown_task_is_invalid_input(bare: Stack) -> None:
    with pytest.raises(bare.tasks.InvalidTaskInput):
        _run(bare, "shred")
    # Twin: a known task with the same event shape runs.
    assert _run(bare, "draw", lane=0) == {"lane": 0, "empty": True}


# --------------------------------------------------------------------------------------------
# The stores' DynamoDB adapters on moto's RaTable: the contracts of the fakes, conditions real


@pytest.mark.parametrize("check", POOL_CONTRACT, ids=lambda c: c.__name__)
def test_dynamodb_pool_keeps_the_contract(aws_settings: Settings, check: Callable[[Any], None]) -> None:
    check(DynamoDbShufflePool(aws_settings.ra_table, 4))


@pytest.mark.parametrize("check", CERTS_CONTRACT, ids=lambda c: c.__name__)
def test_dynamodb_certificate_store_keeps_the_contract(aws_settings: Settings, check: Callable[[Any], None]) -> None:
    check(DynamoDbIssuedCertStore.from_settings(aws_settings))


def test_delivered_certificates_are_found_by_aca_request(aws_settings: Settings) -> None:
    # The byAcaRequest index (keys only) leads from an ACA request id to the request and its (i, j).
    store = DynamoDbIssuedCertStore.from_settings(aws_settings)
    store.put_many([cert(7, 3)])
    aca_request_id = cert(7, 3).aca_request_id
    out = boto3.client("dynamodb").query(
        TableName=aws_settings.ra_table, IndexName="byAcaRequest",
        KeyConditionExpression="acaRequestId = :id", ExpressionAttributeValues={":id": {"S": aca_request_id}},
    )  # fmt: skip
    assert [(i["pk"]["S"], i["sk"]["S"]) for i in out["Items"]] == [(f"REQ#{RH_CERTS.hex()}", "CERT#00007#003")]
    # Twin: another id finds nothing.
    out = boto3.client("dynamodb").query(
        TableName=aws_settings.ra_table, IndexName="byAcaRequest",
        KeyConditionExpression="acaRequestId = :id", ExpressionAttributeValues={":id": {"S": "ff" * 8}},
    )  # fmt: skip
    assert out["Items"] == []


def test_lanes_drawing_side_by_side_lease_each_shard_once(aws_settings: Settings) -> None:
    # Given a pool of 4 shards with items in each, drawn by 8 lanes that do not deliver yet
    # (one after the other: moto's condition checks are not atomic across threads, DynamoDB's are),
    pool = DynamoDbShufflePool(aws_settings.ra_table, 4)
    pool.put_many([pool_item(n) for n in range(16)], expires_at=9_999_999_999)
    now = time32.now()
    drawn = [draw(pool, batch_size=100, lease_seconds=60, now=now) for _ in range(8)]
    # Then four lanes each got one shard and the others nothing: no item went to two lanes.
    got = [d for d in drawn if d is not None]
    assert sorted(d.lease.shard for d in got) == [0, 1, 2, 3]
    keys = [i.key for d in got for i in d.items]
    assert len(keys) == len(set(keys)) == 16
    # Twin: once the leases lapse, a lane draws again.
    assert draw(pool, batch_size=100, lease_seconds=60, now=now + 61) is not None


def test_set_status_is_conditional_on_the_current_status(aws_settings: Settings) -> None:
    s = aws_settings
    store = DynamoDbAuthRequestStore.from_settings(s)
    rh = bytes.fromhex("0123456789abcdef")
    store.put(status_record(request_hash=rh))
    moved = store.set_status(rh, RequestStatus.GENERATING, allowed_from=(RequestStatus.ACCEPTED,), now=5)
    assert moved.status is RequestStatus.GENERATING and moved.updated_at == 5 and store.get(rh) == moved
    # Twin: the same move again is refused (GENERATING is not ACCEPTED) and changes nothing.
    with pytest.raises(Conflict):
        store.set_status(rh, RequestStatus.GENERATING, allowed_from=(RequestStatus.ACCEPTED,), now=6)
    assert store.get(rh) == moved
    failed = store.set_status(rh, RequestStatus.FAILED, allowed_from=(RequestStatus.GENERATING,), reason="E: m", now=7)
    assert failed.status_reason == "E: m" and store.get(rh) == failed
    cleared = store.set_status(rh, RequestStatus.FAILED, allowed_from=(RequestStatus.FAILED,), now=8)
    assert cleared.status_reason is None
    with pytest.raises(RequestNotFound):
        store.set_status(b"\x00" * 8, RequestStatus.DONE, allowed_from=(RequestStatus.GENERATING,), now=9)
    assert store.get(b"\x00" * 8) is None


def test_a_retried_expand_pools_nothing_twice(stack: Stack) -> None:
    # Given a chunk expanded into the pool,
    rh = _accepted(stack, "obu-1")
    planned = _run(stack, "plan", requestHash=rh.hex())
    chunk = planned["chunks"][0]
    plvs = _plvs(stack, planned, chunk)
    first = _run(stack, "expand", requestHash=rh.hex(), plvs=plvs, **chunk)
    assert first["pooled"] == stack.settings.certs_per_period
    pool = DynamoDbShufflePool.from_settings(stack.settings)
    pooled = {i.key: i.spdu for i in pool.read(0, 100)}
    # When the task is retried (a crash after its writes), nothing is pooled again or replaced,
    assert _run(stack, "expand", requestHash=rh.hex(), plvs=plvs, **chunk) == {"pooled": 0}
    assert {i.key: i.spdu for i in pool.read(0, 100)} == pooled
    # and after the chunk was delivered, a late retry pools nothing either.
    drawn = _run(stack, "draw", lane=0)
    answer = stack.aca.issue_task({"requests": drawn["requests"]}, None)
    _run(stack, "deliver", lane=0, lease=drawn["lease"], keys=drawn["keys"], **answer)
    assert _run(stack, "expand", requestHash=rh.hex(), plvs=plvs, **chunk) == {"pooled": 0}
    assert pool.read(0, 100) == []
    # Twin: the chunk's other period was never expanded, so it is pooled in full.
    other = planned["chunks"][1]
    assert _run(stack, "expand", requestHash=rh.hex(), plvs=_plvs(stack, planned, other), **other)["pooled"] == 3


@pytest.mark.parametrize(
    "event",
    [
        {"task": "plan", "requestHash": "00"},
        {"task": "plan", "requestHash": "zz" * 8},
        {"task": "expand", "requestHash": "00" * 8, "iFirst": 3, "iLast": 2},
        {"task": "draw", "lane": "0"},
        {"task": "deliver", "lease": {"shard": 0, "holder": "h"}, "keys": ["00" * 16], "responses": [], "refused": []},
        {"task": "deliver", "lease": {"shard": 0}, "keys": [], "responses": [], "refused": []},
        {"task": "deliver", "lease": {"shard": 0, "holder": "h"}, "keys": ["00" * 16 + ".0101010101010101.1.2"],
         "responses": [None], "refused": [{"index": 0, "code": "400-35"}]},
        {"task": "deliver", "lease": {"shard": 0, "holder": "h"}, "keys": ["00" * 16], "responses": ["!"],
         "refused": []},
        {"task": "deliver", "lease": {"shard": 0, "holder": "h"}, "keys": ["00" * 16], "responses": [None],
         "refused": [{"index": 0, "code": "400-99"}]},
        {"task": "deliver", "lease": {"shard": 0, "holder": "h"}, "keys": ["00" * 16], "responses": [None],
         "refused": [{"index": 1, "code": "400-35"}]},
        {"task": "finish", "requestHash": "00" * 8, "round": True},
        "not an object",
    ],
)  # fmt: skip
def test_a_malformed_event_is_invalid_task_input_and_changes_nothing(bare: Stack, event: Any) -> None:
    with pytest.raises(bare.tasks.InvalidTaskInput):
        bare.tasks.handler(event, None)
    assert boto3.client("dynamodb").scan(TableName=bare.settings.ra_table, Select="COUNT")["Count"] == 0


def test_a_well_formed_deliver_of_a_vanished_batch_stores_nothing(stack: Stack) -> None:
    # Twin of the malformed deliveries: the same shape with a valid refusal runs (its pool item is gone).
    event = {"lease": {"shard": 0, "holder": "h"}, "keys": ["00" * 16], "responses": [None],
             "refused": [{"index": 0, "code": "400-35"}]}  # fmt: skip
    assert _run(stack, "deliver", **event) == {"delivered": 0, "refused": 0}
    # A whole draw ticket under a lease that is not ours reads the pool too: gone, nothing stored.
    ticket = "00" * 16 + ".0101010101010101.1.2." + "02" * 8
    assert _run(stack, "deliver", **{**event, "keys": [ticket]}) == {"delivered": 0, "refused": 0}
    assert boto3.client("dynamodb").scan(TableName=stack.settings.ra_table, Select="COUNT",
                                         FilterExpression="begins_with(sk, :c)",
                                         ExpressionAttributeValues={":c": {"S": "CERT#"}})["Count"] == 0  # fmt: skip
