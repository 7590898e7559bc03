"""Least privilege in infra/template.yaml against the AWS calls the functions really make.

Each function's flows run under moto with every boto3 call recorded (TransactWriteItems split into
its per-item IAM actions) and turned into (IAM action, resource ARN). A call its role does not allow
would be an outage on AWS; an allowed action the code never uses is a needless permission.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from dataclasses import replace
from types import ModuleType
from typing import Any

import boto3
import pytest
from chalice.test import Client
from scms_eca.enroll import enroll
from scms_service import aws
from scms_service.auth import key_digest
from scms_service.config import Settings
from scms_service.errors import Conflict
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore

from scms_cli.local.cloud import LOCAL_ACCOUNT, LOCAL_REGION, _physical_names
from scms_cli.local.template import load_template, resolve
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


def granted(function: str, template: dict[str, Any] | None = None) -> set[Grant]:
    """(action, resource) pairs of the function's inline policy statements, resolved to local ARNs."""
    names = _physical_names("test-key", STAGE)
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
        for service in ("dynamodb", "secretsmanager", "s3", "kms"):
            aws.client(service).meta.events.register(f"before-parameter-build.{service}", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.endpoint_prefix
        name = model.name
        if name == "TransactWriteItems":
            for item in params["TransactItems"]:
                (kind, body), = item.items()
                self.calls.add((f"dynamodb:{_TRANSACT_ACTIONS[kind]}", _table_arn(body["TableName"])))
        elif service == "dynamodb":
            arn = _table_arn(params["TableName"])
            index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
            self.calls.add((f"dynamodb:{name}", arn + index))
        elif service == "secretsmanager":
            secret = params.get("SecretId") or params["Name"]
            # A secret's ARN is its name plus a random 6-character suffix.
            arn = f"arn:aws:secretsmanager:{LOCAL_REGION}:{LOCAL_ACCOUNT}:secret:{secret}-AbCdEf"
            self.calls.add((f"secretsmanager:{name}", arn))
        elif service == "s3":
            self.calls.add((f"s3:{name}", f"arn:aws:s3:::{params['Bucket']}/{params.get('Key', '')}"))
        else:
            self.calls.add((f"{service}:{name}", "*"))


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
