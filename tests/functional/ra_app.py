"""Load the RA Chalice app by path (as the local gateway does) and wire it to the moto resources."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from scms_ra.wiring import from_settings
from scms_service.auth import key_digest
from scms_service.config import Settings
from scms_service.ctl_issue import CtlChange
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault

from scms_cli import ctl_cmd
from scms_codec import time32

API_KEY = "test-management-key"
# A stand-in for statemachines/provision.asl.json: the route only starts executions (one per request hash).
TRIVIAL_ASL = {"StartAt": "Plan", "States": {"Plan": {"Type": "Pass", "End": True}}}
_APP = Path(__file__).resolve().parents[2] / "functions" / "ra" / "app.py"


def load_ra_app() -> ModuleType:
    """``functions/ra/app.py`` imported once under the module name ``scms_ra_app``."""
    if "scms_ra_app" in sys.modules:
        return sys.modules["scms_ra_app"]
    spec = importlib.util.spec_from_file_location("scms_ra_app", _APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scms_ra_app"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name="ra")
def ra_fixture(aws_settings: Settings) -> Iterator[ModuleType]:
    """The RA app module, wired to moto: RaTable, CaTable and the API key digest secret."""
    boto3.client("secretsmanager").create_secret(
        Name=aws_settings.management_api_key_secret, SecretString=key_digest(API_KEY)
    )
    module = load_ra_app()
    module.configure(from_settings(aws_settings))
    yield module
    module.configure(None)


@pytest.fixture(name="hierarchy")
def hierarchy_fixture(aws_settings: Settings) -> Hierarchy:
    """A CA hierarchy made in moto (CaTable, Secrets Manager, S3), valid from an hour ago."""
    made, _ = init_hierarchy(
        aws_settings,
        DynamoDbCaStore.from_settings(aws_settings),
        SecretsManagerKeyVault.from_settings(aws_settings),
        S3Artifacts.from_settings(aws_settings),
        now=time32.now() - 3600,
    )
    return made


def apply_ctl_change(settings: Settings, change: CtlChange) -> None:
    """``scms ctl``'s change on the moto CaTable, key vault and bucket (a new CTL; fails the test if refused)."""
    out, err = io.StringIO(), io.StringIO()
    code = ctl_cmd.execute(
        change, DynamoDbCaStore.from_settings(settings), SecretsManagerKeyVault.from_settings(settings),
        S3Artifacts.from_settings(settings), now=time32.now(), out=out, err=err,
    )  # fmt: skip
    assert code == 0, err.getvalue()


def create_state_machine(name: str = "scms-provision") -> str:
    """A trivial STANDARD state machine in moto (executions are recorded, not run); its ARN."""
    role = "arn:aws:iam::123456789012:role/scms-provision"
    created = boto3.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(TRIVIAL_ASL), roleArn=role
    )
    return str(created["stateMachineArn"])


def executions(state_machine_arn: str) -> list[dict[str, object]]:
    """Every execution of the state machine (name, input), oldest first."""
    client = boto3.client("stepfunctions")
    listed = client.list_executions(stateMachineArn=state_machine_arn)["executions"]
    out = []
    for e in listed:
        described = client.describe_execution(executionArn=e["executionArn"])
        out.append({"name": e["name"], "input": json.loads(described["input"])})
    return sorted(out, key=lambda e: str(e["name"]))


@pytest.fixture(name="provisioning_settings")
def provisioning_settings_fixture(aws_settings: Settings) -> Settings:
    """``aws_settings`` naming a trivial provisioning state machine created in moto."""
    return replace(aws_settings, provision_state_machine=create_state_machine())


@pytest.fixture(name="ra_provisioning")
def ra_provisioning_fixture(provisioning_settings: Settings) -> Iterator[ModuleType]:
    """The RA app wired to moto with a provisioning state machine (the authorization-certificate routes)."""
    module = load_ra_app()
    module.configure(from_settings(provisioning_settings))
    yield module
    module.configure(None)
