"""The RA's ``revoke`` task (functions/ra/tasks.handler, invoked by the MA) on moto, and RaBatchFunction's role.

Two devices are provisioned through the RA's batch tasks and the ACA task (test_ra_batch_tasks'
order), the first with two requests and a successor enrollment; then the MA's three handles reach
the first device through the real indexes (``byAcaRequest`` over the delivered certificates,
``byEnrollmentCert``, the device's ``REQUEST#`` items), and the DynamoDB conditions of the move to
Revoked really run. The role test adds these calls to the provisioning tasks' (test_iam).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from scms_ra.authorize import authorize
from scms_service.iperiod import IPeriods
from scms_service.lifecycle import DeviceState
from scms_service.stores.auth_requests import DynamoDbAuthRequestStore
from scms_service.stores.devices import DynamoDeviceStore, EnrollmentRecord
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore
from scms_service.stores.issued_certs import DynamoDbIssuedCertStore

from scms_codec import time32
from scms_codec.crypto.hashing import hashed_id10
from scms_codec.spdu import parse_aca_ee_cert_response, request_hash
from tests.functional.test_iam import CallRecorder, _table_arn, allowed, granted
from tests.functional.test_ra_batch_tasks import Stack, _plvs, _run, stack  # noqa: F401 (fixture)
from tests.support.task_logs import captured
from tests.unit.ra.ee_auth import EnrolledEe


@dataclass
class Provisioned:
    requests: dict[str, list[bytes]]  # device id → its request hashes
    ees: dict[str, EnrolledEe]
    successor: EnrollmentRecord


def _provision(stack: Stack, rh: bytes) -> None:  # noqa: F811
    """plan → PLVs → expand → draw/ACA/deliver → finish → assemble → done, as the state machine runs them."""
    planned = _run(stack, "plan", requestHash=rh.hex())
    for chunk in planned["chunks"]:
        _run(stack, "expand", requestHash=rh.hex(), plvs=_plvs(stack, planned, chunk), **chunk)
    while not (drawn := _run(stack, "draw", lane=0))["empty"]:
        answer = stack.aca.issue_task({"requests": drawn["requests"]}, None)
        _run(stack, "deliver", lane=0, lease=drawn["lease"], keys=drawn["keys"], **answer)
    assert _run(stack, "finish", requestHash=rh.hex(), round=0)["complete"]
    for chunk in planned["chunks"]:
        _run(stack, "assemble", requestHash=rh.hex(), **chunk)
    _run(stack, "done", requestHash=rh.hex())


def _world(stack: Stack) -> Provisioned:  # noqa: F811
    s = stack.settings
    devices = DynamoDeviceStore(s.ra_table)
    requests = DynamoDbAuthRequestStore.from_settings(s)
    out: dict[str, list[bytes]] = {}
    ees = {}
    for device_id, count in (("obu-1", 2), ("obu-2", 1)):
        ee = EnrolledEe.enroll(hierarchy=stack.ca, devices=devices, settings=s, now=stack.now - 600,
                               eca_requests=DynamoDbEcaRequestStore.from_settings(s), device_id=device_id)  # fmt: skip
        ees[device_id] = ee
        out[device_id] = []
        for n in range(count):
            data = ee.request(stack.ca.certificate("ra"), generation_time=stack.now - n, duration=("hours", 300))
            authorize(data, now=stack.now, settings=s, periods=IPeriods.from_settings(s), devices=devices,
                      requests=requests, ra=stack.ca)  # fmt: skip
            out[device_id].append(request_hash(data))
    for hashes in out.values():
        for rh in hashes:
            _provision(stack, rh)
    # A successor enrollment certificate of obu-1 (as scms_ra.successor records it).
    digest = hashlib.sha256(b"obu-1 successor").hexdigest()
    successor = EnrollmentRecord(digest[-16:], stack.now, stack.now + 10**7, "fe" * 8, digest)
    device = devices.get("obu-1")
    assert device is not None
    devices.transition("obu-1", DeviceState.SUCCESSOR_ENROLLED, expected=device.state, cause="s", actor="ra",
                       now_unix=time32.to_unix(stack.now), enrollment=successor)  # fmt: skip
    return Provisioned(out, ees, successor)


def _aca_request_of(stack: Stack, rh: bytes) -> str:  # noqa: F811
    record = DynamoDbAuthRequestStore.from_settings(stack.settings).get(rh)
    assert record is not None
    certs = DynamoDbIssuedCertStore.from_settings(stack.settings).list(rh, record.first_i, record.last_i)
    return certs[-1].aca_request_id


def _expected_chains(stack: Stack, hashes: list[bytes]) -> list[dict[str, Any]]:  # noqa: F811
    store = DynamoDbAuthRequestStore.from_settings(stack.settings)
    records = [r for r in (store.get(rh) for rh in hashes) if r is not None]
    chains = [{"chainId": r.chain_id.hex(), "iFirst": r.first_i, "iLast": r.last_i, "jMax": r.certs_per_period}
              for r in records]  # fmt: skip
    return sorted(chains, key=lambda c: (c["iFirst"], c["chainId"]))


def test_the_ma_revokes_a_device_by_a_pseudonyms_aca_request_and_gets_both_chains_and_enrollments(
    stack: Stack,  # noqa: F811
) -> None:
    world = _world(stack)
    first_cert = world.ees["obu-1"].certificate
    # When the MA revokes by the ACA request of one of the second request's certificates,
    value = _aca_request_of(stack, world.requests["obu-1"][1])
    out = _run(stack, "revoke", by="acaRequest", value=value, cause="report 1")
    # Then the answer names both chains of obu-1 and both its enrollment certificates' hashes, no device,
    assert out == {
        "alreadyRevoked": False,
        "chains": _expected_chains(stack, world.requests["obu-1"]),
        "enrollments": [
            {"certHash": hashlib.sha256(first_cert.encoded).hexdigest(), "expiry": first_cert.validity[1]},
            {"certHash": world.successor.cert_hash, "expiry": world.successor.valid_until},
        ],
        "acaRequests": [],  # butterfly requests only: their chains revoke their certificates
    }
    assert len(out["chains"]) == 2 and "obu-1" not in str(out)
    # and obu-1 is Revoked by the MA (its audit trail says so), obu-2 untouched.
    devices = DynamoDeviceStore(stack.settings.ra_table)
    assert devices.get("obu-1").state is DeviceState.REVOKED  # type: ignore[union-attr]
    assert devices.audit("obu-1")[-1].actor == "ma" and devices.audit("obu-1")[-1].cause == "report 1"
    assert devices.get("obu-2").state is DeviceState.PROVISIONING  # type: ignore[union-attr]
    # The other handles reach the same device: now already revoked, the same chains and hashes.
    for by, handle in (("enrollmentCert", first_cert.hashed_id8.hex()), ("enrollmentCert", world.successor.cert_id),
                       ("device", "obu-1")):  # fmt: skip
        again = _run(stack, "revoke", by=by, value=handle, cause="report 2")
        assert again == {**out, "alreadyRevoked": True}
    assert [a.state for a in devices.audit("obu-1")].count(DeviceState.REVOKED) == 1
    # Twin: obu-2's own request's ACA request names obu-2's single chain.
    other = _run(stack, "revoke", by="acaRequest", value=_aca_request_of(stack, world.requests["obu-2"][0]), cause="c")
    assert other["chains"] == _expected_chains(stack, world.requests["obu-2"]) != out["chains"]


def test_a_devices_non_butterfly_certificates_reach_the_hash_crl_through_the_aca_without_the_ra_seeing_them(
    stack: Stack,  # noqa: F811
) -> None:
    # Given a device with a plain (non-butterfly) request and a butterfly one, both provisioned,
    s = stack.settings
    devices, requests = DynamoDeviceStore(s.ra_table), DynamoDbAuthRequestStore.from_settings(s)
    ee = EnrolledEe.enroll(hierarchy=stack.ca, devices=devices, settings=s, now=stack.now - 600,
                           eca_requests=DynamoDbEcaRequestStore.from_settings(s), device_id="obu-3")  # fmt: skip
    hashes = []
    for n, params in enumerate((None, "unified")):
        data = ee.request(stack.ca.certificate("ra"), generation_time=stack.now - n, duration=("hours", 300),
                          params=params)  # fmt: skip
        authorize(data, now=stack.now, settings=s, periods=IPeriods.from_settings(s), devices=devices,
                  requests=requests, ra=stack.ca)  # fmt: skip
        hashes.append(request_hash(data))
        _provision(stack, hashes[-1])
    plain = requests.get(hashes[0])
    assert plain is not None and plain.variant == "plain"
    delivered = DynamoDbIssuedCertStore.from_settings(s).list(hashes[0], plain.first_i, plain.last_i)
    certificates = [parse_aca_ee_cert_response(c.spdu or b"", "plain").content.certificate for c in delivered]
    # When the MA revokes the device by its id, the RA names the plain request's ACA requests only,
    with captured(stack.tasks.logger) as logs:
        out = _run(stack, "revoke", by="device", value="obu-3", cause="c", correlationId="0123456789abcdef")
    # (its log line carries the MA's revocation id as correlation id, and neither the device nor a handle)
    [line] = logs.lines("device revoked")
    assert line["correlation_id"] == "0123456789abcdef" and line["acaRequests"] == len(out["acaRequests"])
    assert "obu-3" not in json.dumps(logs.lines()) and out["acaRequests"][0] not in json.dumps(logs.lines())
    assert out["acaRequests"] == sorted(c.aca_request_id for c in delivered) and len(delivered) >= 1
    assert len(out["chains"]) == 1  # the butterfly request's chain
    butterfly = _aca_request_of(stack, hashes[1])
    assert butterfly not in out["acaRequests"]
    # and the ACA turns them into their certificates' HashedId10 and validity end.
    found = stack.aca.lookup_task({"acaRequests": out["acaRequests"] + [butterfly]}, None)
    by_request = {c.aca_request_id: cert for c, cert in zip(delivered, certificates, strict=True)}
    assert found["found"] == [
        {"acaRequest": r, "hashedId10": hashed_id10(by_request[r].encoded).hex(), "expiry": by_request[r].validity[1]}
        for r in out["acaRequests"]
    ]
    # Twin: the butterfly request's ACA request gives no hash entry (its certificate carries linkage data).
    assert found["missing"] == [butterfly]


def test_a_revoke_without_a_correlation_id_logs_none(stack: Stack) -> None:  # noqa: F811
    # Twin of the correlation id above: a provisioning task's request hash does not leak into it either.
    _world(stack)
    with captured(stack.tasks.logger) as logs:
        _run(stack, "revoke", by="device", value="obu-2", cause="c")
    assert [line.get("correlation_id") for line in logs.lines("device revoked")] == [None]


@pytest.mark.parametrize(("by", "value"), [("acaRequest", "00" * 8), ("enrollmentCert", "00" * 8), ("device", "obu-9")])
def test_an_unknown_target_raises_its_error_name_and_changes_nothing(stack: Stack, by: str, value: str) -> None:  # noqa: F811
    s = stack.settings
    before = boto3.client("dynamodb").scan(TableName=s.ra_table)["Items"]
    with pytest.raises(Exception) as caught:
        _run(stack, "revoke", by=by, value=value, cause="c")
    assert type(caught.value).__name__ == "RevocationTargetNotFound"
    assert boto3.client("dynamodb").scan(TableName=s.ra_table)["Items"] == before


@pytest.mark.parametrize(
    "fields",
    [{}, {"by": "device", "value": "obu-1"}, {"by": "device", "value": "obu-1", "cause": 3},
     {"by": "pseudonym", "value": "00" * 8, "cause": "c"}, {"by": "acaRequest", "value": "XX" * 8, "cause": "c"},
     {"by": "device", "value": "obu-1", "cause": "c" * 201}],
    ids=["empty", "no-cause", "cause-int", "kind", "not-hex", "long-cause"],
)  # fmt: skip
def test_a_malformed_revoke_is_invalid_task_input(stack: Stack, fields: dict[str, Any]) -> None:  # noqa: F811
    with pytest.raises(stack.tasks.InvalidTaskInput):
        _run(stack, "revoke", **fields)


def test_the_ra_batch_role_covers_the_revoke_task_and_only_the_indexes_it_reads(stack: Stack) -> None:  # noqa: F811
    world = _world(stack)
    recorder = CallRecorder()
    _run(stack, "revoke", by="acaRequest", value=_aca_request_of(stack, world.requests["obu-1"][0]), cause="c")
    _run(stack, "revoke", by="enrollmentCert", value=world.successor.cert_id, cause="c")
    _run(stack, "revoke", by="device", value="obu-2", cause="c")
    calls = recorder.calls
    grants = granted("RaBatchFunction")
    missing = sorted(c for c in calls if not allowed(c, grants))
    assert not missing, f"RaBatchFunction's role lacks: {missing}"
    table = _table_arn(stack.settings.ra_table)
    indexes = {("dynamodb:Query", f"{table}/index/byAcaRequest"), ("dynamodb:Query", f"{table}/index/byEnrollmentCert")}
    assert indexes <= calls
    assert ("dynamodb:UpdateItem", table) in calls and ("dynamodb:PutItem", table) in calls  # the transition
    # Twins: the canonical-id index is not readable, and without the revocation statement the index reads are lacking.
    assert not allowed(("dynamodb:Query", f"{table}/index/byCanonicalId"), grants)
    from scms_cli.local.template import load_template

    template = load_template()
    statements = template["Resources"]["RaBatchFunction"]["Properties"]["Policies"][0]["Statement"]
    without = [s for s in statements if s["Sid"] != "RaTableRevocationIndexes"]
    patched = {**template, "Resources": {**template["Resources"], "RaBatchFunction": {
        **template["Resources"]["RaBatchFunction"], "Properties": {
            **template["Resources"]["RaBatchFunction"]["Properties"],
            "Policies": [{**template["Resources"]["RaBatchFunction"]["Properties"]["Policies"][0],
                          "Statement": without}]}}}}  # fmt: skip
    assert {c for c in calls if not allowed(c, granted("RaBatchFunction", patched))} == indexes


@pytest.mark.parametrize("store_kind", ["dynamodb", "fake"])
def test_a_devices_requests_are_listed_until_their_record_is_deleted(aws_settings: Any, store_kind: str) -> None:
    from scms_service.stores.auth_requests import FakeAuthRequestStore

    from tests.unit.ra.test_batch_status import record

    store = DynamoDbAuthRequestStore.from_settings(aws_settings) if store_kind == "dynamodb" else FakeAuthRequestStore()
    mine = [record(request_hash=bytes([n]) * 8, chain_id=bytes([n]) * 16) for n in (2, 1)]
    theirs = record(request_hash=b"\x03" * 8, device_id="obu-2")
    for r in (*mine, theirs):
        store.put(r)
    assert store.of_device("obu-1") == [b"\x01" * 8, b"\x02" * 8]
    assert store.of_device("obu-2") == [b"\x03" * 8] and store.of_device("obu-9") == []
    # The compensation that deletes a record takes it off the device's list too (twin: the other stays).
    store.delete(mine[0])
    assert store.of_device("obu-1") == [b"\x01" * 8]
