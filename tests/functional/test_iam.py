"""Least privilege in infra/template.yaml against the AWS calls the functions really make.

Each function's flows run under moto with every boto3 call recorded (TransactWriteItems split into
its per-item IAM actions) and turned into (IAM action, resource ARN). A call its role does not allow
would be an outage on AWS; an allowed action the code never uses is a needless permission.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import pytest
from chalice.test import Client
from scms_eca.enroll import enroll
from scms_ra.batch_files import batch_key
from scms_service import aws
from scms_service.auth import key_digest
from scms_service.config import Settings
from scms_service.errors import Conflict
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.lifecycle import DeviceState
from scms_service.linkage_keys import ensure_la_aca_keys
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore

from scms_cli.local.cloud import LOCAL_ACCOUNT, LOCAL_REGION, _physical_names
from scms_cli.local.stepfunctions import (
    create_functions,
    create_state_machines,
    install_lambda_patch,
    uninstall_lambda_patch,
)
from scms_cli.local.template import load_template, resolve, state_machines
from scms_codec import time32
from tests.functional.ra_app import load_ra_app
from tests.functional.test_eca_enroll import OCTETS, PATH, load_eca_app
from tests.unit.eca.ee import Ee

STAGE = "dev"
Grant = tuple[str, str]  # (IAM action, resource ARN or pattern)
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def granted(function: str, template: dict[str, Any] | None = None, **refs: str) -> set[Grant]:
    """(action, resource) pairs of the function's inline policy statements, resolved to local ARNs.

    ``refs``: physical ids of further resources (e.g. ``ProvisionStateMachine=<its ARN>``).
    """
    names = _physical_names("test-key", STAGE)
    # The state machine as the local stack names it, unless the test created its own.
    names["ProvisionStateMachine"] = f"arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:ProvisionStateMachine"
    # Functions as the local stack names them (create_functions: the logical id).
    for logical_id, resource in (template or load_template())["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            names[logical_id + ".Arn"] = _function_arn(logical_id)
    names.update(refs)
    names["AWS::Partition"] = "aws"
    statements = (template or load_template())["Resources"][function]["Properties"]["Policies"][0]["Statement"]
    out: set[Grant] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        out |= {(a, str(resolve(r, names))) for a in actions for r in resources}
    return out


def allowed(call: Grant, grants: set[Grant]) -> bool:
    return any(call[0] == action and fnmatch.fnmatchcase(call[1], pattern) for action, pattern in grants)


class CallRecorder:
    """Records (action, ARN) for every call made through the process's ``aws.client`` clients."""

    def __init__(self) -> None:
        self.calls: set[Grant] = set()
        for service in ("dynamodb", "secretsmanager", "s3", "kms", "stepfunctions", "lambda"):
            aws.client(service).meta.events.register(f"before-parameter-build.{service}", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.endpoint_prefix
        name = model.name
        if name == "TransactWriteItems":
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                self.calls.add((f"dynamodb:{_TRANSACT_ACTIONS[kind]}", _table_arn(body["TableName"])))
        elif name in ("BatchGetItem", "BatchWriteItem"):
            for table in params["RequestItems"]:
                self.calls.add((f"dynamodb:{name}", _table_arn(table)))
        elif service == "dynamodb":
            arn = _table_arn(params["TableName"])
            index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
            self.calls.add((f"dynamodb:{name}", arn + index))
        elif service == "secretsmanager":
            secret = params.get("SecretId") or params["Name"]
            # A secret's ARN is its name plus a random 6-character suffix.
            arn = f"arn:aws:secretsmanager:{LOCAL_REGION}:{LOCAL_ACCOUNT}:secret:{secret}-AbCdEf"
            self.calls.add((f"secretsmanager:{name}", arn))
        elif service == "states":
            self.calls.add((f"states:{name}", params.get("stateMachineArn", "*")))
        elif service == "lambda" and name == "Invoke":
            self.calls.add(("lambda:InvokeFunction", _function_arn(params["FunctionName"])))
        elif service == "s3":
            self.calls.add((f"s3:{name}", f"arn:aws:s3:::{params['Bucket']}/{params.get('Key', '')}"))
        else:
            self.calls.add((f"{service}:{name}", "*"))


def _function_arn(name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{name_or_arn}"


def _table_arn(table: str) -> str:
    return f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{table}"


@pytest.fixture
def deployed(aws_settings: Settings) -> Iterator[tuple[Settings, Hierarchy]]:
    """The settings a deployment of stage ``dev`` gives the functions, with the hierarchy and API key made."""
    settings = replace(
        aws_settings, secret_prefix=f"scms/{STAGE}/", management_api_key_secret=f"scms/{STAGE}/management-api-key"
    )
    now = time32.now()
    ca, _ = init_hierarchy(
        settings,
        DynamoDbCaStore.from_settings(settings),
        SecretsManagerKeyVault.from_settings(settings),
        S3Artifacts.from_settings(settings),
        now=now - 3600,
    )
    boto3.client("secretsmanager").create_secret(Name=settings.management_api_key_secret, SecretString=key_digest("k"))
    yield settings, ca


def _eca_calls(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> set[Grant]:
    """Every call of the ECA: enrollment, replay, and a refusal after the claim that releases it."""
    eca: ModuleType = load_eca_app()
    monkeypatch.setattr(eca, "settings", lambda: settings)
    monkeypatch.setattr(eca, "_ca", eca._LazyHierarchy())
    now = time32.now()
    devices = DynamoDeviceStore(settings.ra_table, client=boto3.client("dynamodb"))  # the RA's writes: not recorded
    first, second = Ee(), Ee(device_id="obu-2")
    for ee in (first, second):
        devices.create(ee.device(), actor="test", now_unix=time32.to_unix(now) - 60)
    recorder = CallRecorder()
    with Client(eca.app) as client:
        request = first.request(generation_time=now)
        assert client.http.post(PATH, headers=OCTETS, body=request).status_code == 200
        assert client.http.post(PATH, headers=OCTETS, body=request).status_code == 200  # replay

    class BlockedMeanwhile(DynamoDeviceStore):
        def transition(self, device_id: str, target: DeviceState, **kwargs: Any) -> Any:
            devices.transition(device_id, DeviceState.BLOCKED, expected=DeviceState.REGISTERED, cause="op",
                               actor="op", now_unix=time32.to_unix(now))  # fmt: skip
            return super().transition(device_id, target, **kwargs)

    with pytest.raises(Conflict):
        enroll(
            second.request(generation_time=now),
            now=now,
            settings=settings,
            devices=BlockedMeanwhile(settings.ra_table),
            requests=DynamoDbEcaRequestStore.from_settings(settings),
            ca=eca._ca,
        )
    # The refusal removed the claim: its DeleteItem calls really ran.
    assert DynamoDbEcaRequestStore.from_settings(settings).rate_entries(second.device().canonical_id, since=0) == []
    return recorder.calls


def test_the_eca_role_allows_every_call_the_eca_makes_and_nothing_more(
    deployed: tuple[Settings, Hierarchy], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = deployed
    calls = _eca_calls(settings, monkeypatch)
    grants = granted("EcaFunction")
    missing = sorted(c for c in calls if not allowed(c, grants))
    unused = sorted(g for g in grants if not any(allowed(c, {g}) for c in calls) and not g[0].startswith("kms:"))
    assert not missing, f"EcaFunction's role lacks: {missing}"
    assert not unused, f"EcaFunction's role grants what the ECA never calls: {unused}"


def test_a_permission_missing_from_the_eca_role_is_detected(
    deployed: tuple[Settings, Hierarchy], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Twin: with PutItem on EcaTable removed, the claim's Put is reported missing.
    settings, _ = deployed
    calls = _eca_calls(settings, monkeypatch)
    template = json.loads(json.dumps(load_template()))
    statements = template["Resources"]["EcaFunction"]["Properties"]["Policies"][0]["Statement"]
    eca_table = next(s for s in statements if s["Sid"] == "EcaTableReadWrite")
    eca_table["Action"].remove("dynamodb:PutItem")
    grants = granted("EcaFunction", template)
    assert ("dynamodb:PutItem", _table_arn(settings.eca_table)) in {c for c in calls if not allowed(c, grants)}


def test_the_ra_role_allows_every_call_of_the_management_api_and_download(
    deployed: tuple[Settings, Hierarchy],
) -> None:
    settings, ca = deployed
    from scms_ra.wiring import from_settings

    ra = load_ra_app()
    ra.configure(from_settings(settings))
    recorder = CallRecorder()
    headers = {"Content-Type": "application/json", "X-Api-Key": "k"}
    key = "036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    try:
        with Client(ra.app) as client:
            body = json.dumps({"device_id": "d1", "canonical_public_key": key, "permissions": [{"psid": 32}]})
            assert client.http.post("/manage/v1/devices", headers=headers, body=body).status_code == 201
            assert client.http.get("/manage/v1/devices", headers=headers).status_code == 200
            assert client.http.get("/manage/v1/devices/d1", headers=headers).status_code == 200
            for op in ("block", "unblock"):
                path = f"/manage/v1/devices/d1/{op}"
                assert client.http.post(path, headers=headers, body='{"cause": "c"}').status_code == 200
            assert client.http.delete("/manage/v1/devices/d1", headers=headers).status_code == 200
            cert_id = ca.certificate("eca").hashed_id8.hex()
            got = client.http.get(f"/v3/ca-certificate?certId={cert_id}", headers={"Accept": OCTETS["Accept"]})
            assert got.status_code == 200
    finally:
        ra.configure(None)
    grants = granted("RaFunction")
    missing = sorted(c for c in recorder.calls if not allowed(c, grants))
    assert recorder.calls and not missing, f"RaFunction's role lacks: {missing}"


def _trust_download_calls(settings: Settings, ca: Hierarchy) -> set[Grant]:
    """Every AWS call of the trust downloads (the CRL generator's publication is not recorded)."""
    from scms_crlg.publish import publish
    from scms_crlg.wiring import CrlgServices
    from scms_ra.wiring import from_settings

    crlg = CrlgServices.from_settings(settings)
    publish(settings, store=crlg.store, artifacts=crlg.artifacts, crlg=crlg.crlg, now=time32.now())
    ra = load_ra_app()
    ra.configure(from_settings(settings))
    series = ca.certificate("root").hashed_id8.hex()
    paths = [
        f"/v3/crl?craca={series}&crlSeries={settings.crl_hash_series}",
        f"/v3/composite-crl-ctl?ctlSeriesId={series}",
        f"/v3/ctl?ctlSeriesId={series}",
        "/v3/ra-certificate",
        "/v3/ma-certificate?psid=32",
        "/v3/certificate-management-info-status",
    ]
    recorder = CallRecorder()
    try:
        with Client(ra.app) as client:
            for path in paths:
                assert client.http.get(path, headers={"Accept": OCTETS["Accept"]}).status_code == 200, path
    finally:
        ra.configure(None)
    return recorder.calls


def test_the_ra_role_allows_every_call_of_the_trust_downloads(deployed: tuple[Settings, Hierarchy]) -> None:
    settings, ca = deployed
    calls = _trust_download_calls(settings, ca)
    grants = granted("RaFunction")
    missing = sorted(c for c in calls if not allowed(c, grants))
    assert not missing, f"RaFunction's role lacks: {missing}"
    # CrlTable is only read (GetItem, Query), never written.
    crl_table = _table_arn(settings.crl_table)
    assert {a for a, r in calls if r == crl_table} == {"dynamodb:GetItem", "dynamodb:Query"}
    # Twin: without CrlTableRead the CRL reads are reported missing.
    template = json.loads(json.dumps(load_template()))
    statements = template["Resources"]["RaFunction"]["Properties"]["Policies"][0]["Statement"]
    statements[:] = [s for s in statements if s["Sid"] != "CrlTableRead"]
    lacking = {c for c in calls if not allowed(c, granted("RaFunction", template))}
    assert ("dynamodb:GetItem", crl_table) in lacking and ("dynamodb:Query", crl_table) in lacking


def test_the_ra_role_allows_every_call_of_authorization_requests_and_their_downloads(
    deployed: tuple[Settings, Hierarchy],
) -> None:
    # Imported here: these modules import others that import this one.
    from scms_ra.wiring import from_settings

    from tests.functional.ra_app import create_state_machine
    from tests.functional.test_ra_authorization_routes import Batch, _enroll, get

    settings, ca = deployed
    machine = create_state_machine()
    settings = replace(settings, provision_state_machine=machine)
    now = time32.now()
    ee = _enroll(settings, ca, now, "obu-iam")  # the ECA's writes: before recording
    ra = load_ra_app()
    ra.configure(from_settings(settings))
    recorder = CallRecorder()
    try:
        # Given a device's request (accepted, execution started), its replay, and downloads:
        batch = Batch(ra, settings, ca, ee, now)
        data = batch.store()  # the RaBatchFunction's write, not the RA's
        recorder.calls.discard(
            ("s3:PutObject", f"arn:aws:s3:::{settings.artifacts_bucket}/{batch_key(batch.rh, batch.first_i)}")
        )
        assert get(ra, batch.header()).body == data
        assert get(ra, batch.header(batch.name(batch.last_i))).status_code == 404  # not generated yet
    finally:
        ra.configure(None)
    # Then RaFunction's role allows each call, StartExecution on the provisioning state machine included.
    grants = granted("RaFunction", ProvisionStateMachine=machine)
    missing = sorted(c for c in recorder.calls if not allowed(c, grants))
    assert ("states:StartExecution", machine) in recorder.calls
    assert not missing, f"RaFunction's role lacks: {missing}"
    # Twin: another state machine's ARN is not covered.
    assert not allowed(("states:StartExecution", machine + "-other"), grants)


# --- RaBatchFunction: the provisioning state machine's RA tasks ---


class FunctionRecorder(CallRecorder):
    """``CallRecorder`` per function: a handler wrapped by ``wrap`` tags the calls its thread makes."""

    def __init__(self) -> None:
        super().__init__()
        self.by_function: dict[str, set[Grant]] = {}
        self._current = threading.local()

    def wrap(self, function: str, handler: Any) -> Any:
        def tagged(event: Any, context: Any) -> Any:
            self._current.function = function
            try:
                return handler(event, context)
            finally:
                self._current.function = None

        return tagged

    def _record(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        before = set(self.calls)
        self.calls.clear()
        super()._record(params, model, **kwargs)
        new, self.calls = self.calls, before | self.calls
        function = getattr(self._current, "function", None) or "test"
        self.by_function.setdefault(function, set()).update(new)


@pytest.fixture
def batch_stack(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """test_ra_batch_tasks' ``stack`` (stage dev, small batches, tasks and ACA handlers on these settings)."""
    # Imported here: test_ra_batch_tasks imports this module (CallRecorder), so not at the top.
    from tests.functional import test_ra_batch_tasks as batch_tasks
    from tests.functional.aca_deployment import load_aca_handlers

    settings = replace(aws_settings, secret_prefix=f"scms/{STAGE}/", certs_per_period=3, provision_chunk_certs=3,
                       pool_shards=1, aca_batch_size=6, provision_lanes=1)  # fmt: skip
    now = time32.now()
    vault = SecretsManagerKeyVault.from_settings(settings)
    ca, _ = init_hierarchy(settings, DynamoDbCaStore.from_settings(settings), vault,
                           S3Artifacts.from_settings(settings), now=now - 14 * 86400)  # fmt: skip
    ensure_la_aca_keys(settings, vault)
    tasks = batch_tasks.load_ra_tasks()
    monkeypatch.setattr(tasks, "settings", lambda: settings)
    monkeypatch.setattr(tasks, "_ra", tasks._Ra())
    aca = load_aca_handlers()
    monkeypatch.setattr(aca, "settings", lambda: settings)
    monkeypatch.setattr(aca, "_aca", aca._Aca())
    yield batch_tasks.Stack(settings, ca, tasks, aca, now)


def _provisioning_calls(stack: Any) -> dict[str, set[Grant]]:
    """Every call of the four task functions while the template's state machine provisions two devices."""
    from moto.core.config import default_user_config

    from tests.functional.test_la import load_la  # imported here: test_la imports this module
    from tests.functional.test_ra_batch_tasks import _accepted

    hashes = [_accepted(stack, "obu-a"), _accepted(stack, "obu-b")]
    recorder = FunctionRecorder()
    handlers = {
        "RaBatchFunction": stack.tasks.handler,
        "AcaFunction": stack.aca.issue_task,
        "La1Function": load_la("la1", stack.settings),
        "La2Function": load_la("la2", stack.settings),
    }
    install_lambda_patch({name: recorder.wrap(name, handler) for name, handler in handlers.items()})
    try:
        with mock.patch.dict(default_user_config, {"stepfunctions": {"execute_state_machine": True}}):
            arns = create_functions(boto3.client("lambda"), boto3.client("iam"), dict.fromkeys(handlers, "x.handler"))
            role = boto3.client("iam").get_role(RoleName="scms-local-lambda")["Role"]["Arn"]
            sfn = boto3.client("stepfunctions")
            machine = [m for m in state_machines() if m.logical_id == "ProvisionStateMachine"]
            names = {f"{logical_id}.Arn": arn for logical_id, arn in arns.items()}
            arn = create_state_machines(sfn, machine, names, role)["ProvisionStateMachine"]
            runs = [(rh.hex(), rh.hex()) for rh in hashes] + [("unknown", "00" * 8)]  # the last one fails
            for name, rh_hex in runs:
                started = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"requestHash": rh_hex}))
                status = _wait_for(sfn, started["executionArn"])
                assert status == ("FAILED" if name == "unknown" else "SUCCEEDED")
    finally:
        uninstall_lambda_patch()
    return recorder.by_function


def _wait_for(sfn: Any, execution_arn: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status: str = sfn.describe_execution(executionArn=execution_arn)["status"]
        if status != "RUNNING":
            return status
        time.sleep(0.05)  # polling moto's execution thread, not timing anything
    raise AssertionError("execution still running")


def _revoke_calls(stack: Any) -> set[Grant]:
    """The MA's revoke task on the provisioned devices: by an ACA request, an enrollment certificate, a device id."""
    client = boto3.client("dynamodb")  # not the recorded process client: finding the handles is not the task's
    items = client.scan(TableName=stack.settings.ra_table, FilterExpression="attribute_exists(acaRequestId)")["Items"]
    device = DynamoDeviceStore(stack.settings.ra_table, client=client).get("obu-b")
    assert items and device is not None and device.enrollment is not None
    recorder = CallRecorder()
    for by, value in (("acaRequest", items[0]["acaRequestId"]["S"]), ("enrollmentCert", device.enrollment.cert_id),
                      ("device", "obu-a")):  # fmt: skip
        stack.tasks.handler({"task": "revoke", "by": by, "value": value, "cause": "iam"}, None)
    return recorder.calls


def test_the_ra_batch_role_allows_every_call_of_the_provisioning_tasks_and_nothing_more(batch_stack: Any) -> None:
    # Given two devices provisioned and one request failed through the real state machine,
    calls = _provisioning_calls(batch_stack)["RaBatchFunction"]
    # and the MA's revoke task (the same function) run on them,
    calls |= _revoke_calls(batch_stack)
    # Then RaBatchFunction's role allows each call its tasks made, and grants nothing they never use.
    grants = granted("RaBatchFunction")
    missing = sorted(c for c in calls if not allowed(c, grants))
    unused = sorted(g for g in grants if not any(allowed(c, {g}) for c in calls) and not g[0].startswith("kms:"))
    assert calls and not missing, f"RaBatchFunction's role lacks: {missing}"
    assert not unused, f"RaBatchFunction's role grants what its tasks never call: {unused}"
    # Twin: without the S3 statement, the period zips' PutObject calls are reported missing.
    template = json.loads(json.dumps(load_template()))
    statements = template["Resources"]["RaBatchFunction"]["Properties"]["Policies"][0]["Statement"]
    statements[:] = [s for s in statements if s["Sid"] != "BatchFilesWrite"]
    lacking = {c[0] for c in calls if not allowed(c, granted("RaBatchFunction", template))}
    assert lacking == {"s3:PutObject"}


# --- Successor enrollment: RaFunction invokes EcaTaskFunction ---


def _successor_calls(settings: Settings, ca: Hierarchy, monkeypatch: pytest.MonkeyPatch) -> dict[str, set[Grant]]:
    """Every call of a successor enrollment through the RA route and the ECA task (moto Lambda), by function.

    Flows: a request, its download and its replay; and a second device's request whose issuance
    fails once (the ECA releases its claim: DeleteItem), then succeeds on the device's retry.
    """
    # Imported here: test_ra_successor_routes imports this module.
    import scms_eca.enroll as eca_enroll
    from scms_ra.wiring import from_settings

    from tests.functional.ra_app import load_ra_app
    from tests.functional.test_ra_authorization_routes import _enroll
    from tests.functional.test_ra_successor_routes import eca_task_lambda, post, successor_round
    from tests.unit.ra.test_successor import Holder, successor_request

    now = time32.now()
    first, second = (_enroll(settings, ca, now, d) for d in ("obu-iam-s1", "obu-iam-s2"))  # before recording
    recorder = FunctionRecorder()
    with eca_task_lambda(settings, monkeypatch, recorder.wrap) as wired:
        ra = load_ra_app()
        ra.configure(from_settings(wired))
        try:
            _, data = successor_round(ra, ca, Holder(first.ee, first.certificate), now)
            assert post(ra, data).status_code == 202  # replay
            with monkeypatch.context() as patch:
                patch.setattr(eca_enroll, "_issue", mock.Mock(side_effect=RuntimeError("issuance failed")))
                retried, _ = successor_request(Holder(second.ee, second.certificate), ca.certificate("ra"),
                                               generation_time=now)  # fmt: skip
                assert post(ra, retried).status_code == 500
            assert post(ra, retried).status_code == 202  # the device's retry of the same bytes
        finally:
            ra.configure(None)
    return recorder.by_function


def test_successor_enrollment_the_ra_only_invokes_the_eca_task_whose_role_covers_its_calls(
    deployed: tuple[Settings, Hierarchy], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, ca = deployed
    calls = _successor_calls(settings, ca, monkeypatch)
    ra_calls, eca_calls = calls["test"], calls["EcaTaskFunction"]
    # RaFunction: every call allowed, the ECA invoked, and neither the ECA's key nor its table touched.
    ra_grants = granted("RaFunction")
    missing = sorted(c for c in ra_calls if not allowed(c, ra_grants))
    assert not missing, f"RaFunction's role lacks: {missing}"
    assert ("lambda:InvokeFunction", _function_arn("EcaTaskFunction")) in ra_calls
    assert not [c for c in ra_calls if "/ca/eca/" in c[1] or c[1] == _table_arn(settings.eca_table)]
    eca_key = ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{LOCAL_REGION}:{LOCAL_ACCOUNT}:secret:"
               f"scms/{STAGE}/ca/eca/x-AbCdEf")  # fmt: skip
    assert not allowed(eca_key, ra_grants) and not allowed(("dynamodb:PutItem", _table_arn(settings.eca_table)),
                                                           ra_grants)  # fmt: skip
    assert not allowed(("lambda:InvokeFunction", _function_arn("EcaFunction")), ra_grants)  # only the task
    # EcaTaskFunction: every call allowed (the ECA's key, its table, the device read), nothing unused.
    eca_grants = granted("EcaTaskFunction")
    missing = sorted(c for c in eca_calls if not allowed(c, eca_grants))
    unused = sorted(
        g for g in eca_grants if not any(allowed(c, {g}) for c in eca_calls) and not g[0].startswith("kms:")
    )
    assert not missing, f"EcaTaskFunction's role lacks: {missing}"
    assert not unused, f"EcaTaskFunction's role grants what the task never calls: {unused}"
    assert allowed(eca_key, eca_grants) and ("dynamodb:DeleteItem", _table_arn(settings.eca_table)) in eca_calls
    # Twins: without the invoke statement the RA lacks its one call to the ECA; without RaTableDeviceRead
    # the task lacks its device read.
    template = json.loads(json.dumps(load_template()))
    resources = template["Resources"]
    for function, sid, call in (
        ("RaFunction", "SuccessorEcaInvoke", ("lambda:InvokeFunction", _function_arn("EcaTaskFunction"))),
        ("EcaTaskFunction", "RaTableDeviceRead", ("dynamodb:GetItem", _table_arn(settings.ra_table))),
    ):
        statements = resources[function]["Properties"]["Policies"][0]["Statement"]
        statements[:] = [s for s in statements if s["Sid"] != sid]
        assert not allowed(call, granted(function, template))


# --- MaFunction: reports, the management API and a revocation's fan-out ---


def _ma_calls(settings: Settings, ca: Hierarchy) -> set[Grant]:
    """Every call of the MA: health, a report (and its replay), listings, a revocation by report and again.

    The callees are the contract's fakes behind a ``Task`` that records the invoke of the function the
    template wires (their own roles are their tests'); MaTable, CrlTable, CaTable and secrets are moto's.
    """
    from scms_ma.authorities import AcaLookup, CrlPublisher, LaSeeds, RaRevoker, Task
    from scms_ma.revoke import Authorities
    from scms_service.stores.crl_entries import DynamoDbCrlEntryStore

    from tests.functional.ma_support import load_ma_app, ma_services, misbehavior_report
    from tests.unit.ma.fakes import FakeAuthorities, device

    data = misbehavior_report(ca, now=time32.now())  # the device's work (the ACA's key): not recorded
    recorder = CallRecorder()
    fake = FakeAuthorities()

    def invoked(function: str, task: Task) -> Task:
        def call(event: dict[str, Any]) -> Any:
            recorder.calls.add(("lambda:InvokeFunction", _function_arn(function)))
            return task(event)

        return call

    authorities = Authorities(
        aca_lookup=AcaLookup(invoked("AcaLookupFunction", fake.aca)),
        ra_revoke=RaRevoker(invoked("RaBatchFunction", fake.ra)),
        la1_seed=LaSeeds(invoked("La1SeedFunction", fake.la("1")), "LA1"),
        la2_seed=LaSeeds(invoked("La2SeedFunction", fake.la("2")), "LA2"),
        publish=CrlPublisher(invoked("CrlgFunction", fake.crlg)),
        crl_entries=DynamoDbCrlEntryStore.from_settings(settings),
    )
    ma = load_ma_app()
    ma.configure(ma_services(settings, ca, authorities, keys=ma.from_settings(settings).keys))
    key = {"X-Api-Key": "k", "Content-Type": "application/json"}
    try:
        with Client(ma.app) as client:
            assert client.http.get("/ma/health").status_code == 200
            answer = client.http.post("/v3/misbehavior-report", headers=OCTETS, body=data)
            assert answer.status_code == 202, answer.body
            assert client.http.post("/v3/misbehavior-report", headers=OCTETS, body=data).status_code == 202
            report_id = answer.headers["Scms-Report-Id"]
            shown = json.loads(client.http.get(f"/manage/v1/reports/{report_id}", headers=key).body)
            assert client.http.get("/manage/v1/reports", headers=key).status_code == 200
            fake.issued[shown["suspect_cert_id"]] = "66" * 8
            fake.devices["acaRequest:" + "66" * 8] = device()
            body = json.dumps({"report": report_id, "cause": "iam"})
            assert client.http.post("/manage/v1/revocations", headers=key, body=body).status_code == 201
            assert client.http.post("/manage/v1/revocations", headers=key, body=body).status_code == 200
            assert client.http.get("/manage/v1/revocations", headers=key).status_code == 200
    finally:
        ma.configure(None)
    return recorder.calls


def test_the_ma_role_allows_every_call_the_ma_makes_and_nothing_more(deployed: tuple[Settings, Hierarchy]) -> None:
    settings, ca = deployed
    calls = _ma_calls(settings, ca)
    grants = granted("MaFunction")
    missing = sorted(c for c in calls if not allowed(c, grants))
    unused = sorted(g for g in grants if not any(allowed(c, {g}) for c in calls) and not g[0].startswith("kms:"))
    assert calls and not missing, f"MaFunction's role lacks: {missing}"
    assert not unused, f"MaFunction's role grants what the MA never calls: {unused}"
    # It never touches another authority's key, table or the device table.
    assert not [c for c in calls if "/ca/aca/" in c[1] or "/ca/ra/" in c[1] or c[1] == _table_arn(settings.ra_table)]
    # Twin: without its CRL store statement the revocation's entry writes are not allowed.
    template = json.loads(json.dumps(load_template()))
    statements = template["Resources"]["MaFunction"]["Properties"]["Policies"][0]["Statement"]
    statements[:] = [s for s in statements if s["Sid"] != "CrlTableEntriesWrite"]
    lacking = {c for c in calls if not allowed(c, granted("MaFunction", template))}
    assert ("dynamodb:PutItem", _table_arn(settings.crl_table)) in lacking


# --- The health task event of the internal functions (docs/architecture.md "Observability") ---


def test_the_health_event_of_every_internal_function_stays_within_its_role(
    deployed: tuple[Settings, Hierarchy], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.functional.test_health_tasks import INTERNAL, health_handlers  # imports this module's peers

    settings, _ = deployed
    recorder = FunctionRecorder()
    for logical_id, handler in health_handlers(settings, monkeypatch).items():
        assert recorder.wrap(logical_id, handler)({"health": True}, None)["status"] == "ok", logical_id
    for logical_id in INTERNAL:
        calls = recorder.by_function.get(logical_id, set())
        missing = sorted(c for c in calls if not allowed(c, granted(logical_id)))
        assert calls and not missing, f"{logical_id}'s role lacks for its health: {missing}"
        assert not [c for c in calls if not c[0].startswith("dynamodb:")], "health reads no secret, key or file"
    # Twins: the reads health had to avoid are not granted (GetItem on AcaTable, GetItem on CaTable).
    assert not allowed(("dynamodb:GetItem", _table_arn(settings.aca_table)), granted("AcaFunction"))
    assert not allowed(("dynamodb:GetItem", _table_arn(settings.aca_table)), granted("AcaLookupFunction"))
    assert not allowed(("dynamodb:GetItem", _table_arn(settings.ca_table)), granted("CrlgFunction"))
