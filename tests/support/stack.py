"""One moto cloud with the ``scms init`` hierarchy and both apps, built once per test module.

Building the hierarchy (eleven CA keys, secrets, artifacts) costs about a second; property-based
modules send thousands of requests against one cloud, so it is made once (``open_cloud``) and
every test checks that bad input leaves it unchanged.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from scms_ra.wiring import from_settings
from scms_service import aws
from scms_service.auth import key_digest
from scms_service.config import Settings, load_settings
from scms_service.hierarchy import Hierarchy, ensure_management_api_key, init_hierarchy
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.devices import DynamoDeviceStore

from scms_cli.local.template import create_tables
from scms_codec import time32
from tests.support.state import WriteWatch
from tests.unit.eca.ee import Ee

__all__ = ["Cloud", "load_app", "open_cloud"]

_ROOT = Path(__file__).resolve().parents[2]
_APPS = {"eca": _ROOT / "functions" / "eca" / "app.py", "ra": _ROOT / "functions" / "ra" / "app.py"}


def load_app(authority: str, name: str) -> ModuleType:
    """``functions/<authority>/app.py`` loaded under module ``name``: one per simulated Lambda container."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _APPS[authority])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Cloud:
    """The moto resources, the hierarchy, the management API key and the wired apps."""

    settings: Settings
    hierarchy: Hierarchy
    now: int
    api_key: str
    monkeypatch: pytest.MonkeyPatch
    eca: ModuleType
    ra: ModuleType
    watch: WriteWatch
    _containers: dict[str, ModuleType] = field(default_factory=dict)

    def eca_container(self, n: int) -> ModuleType:
        """The ECA app as a separate container ``n`` (own Chalice app, own current_request, own key cache)."""
        name = f"scms_eca_container_{n}"
        if name not in self._containers:
            module = load_app("eca", name)
            self._wire_eca(module)
            self._containers[name] = module
        return self._containers[name]

    def _wire_eca(self, module: ModuleType) -> None:
        settings = self.settings
        self.monkeypatch.setattr(module, "settings", lambda: settings)
        self.monkeypatch.setattr(module, "_ca", module._LazyHierarchy())

    def register(self, device_id: str) -> Ee:
        """A new device, registered directly in RaTable (a minute before ``now``)."""
        ee = Ee(device_id=device_id)
        DynamoDeviceStore(self.settings.ra_table).create(
            ee.device(), actor="test", now_unix=time32.to_unix(self.now) - 60
        )
        return ee


class _AtomicCalls:
    """Serialise moto's handling of each AWS call, as each DynamoDB request is atomic on AWS.

    moto checks a condition and writes in separate Python steps; threads could interleave there,
    which real DynamoDB never does. Between calls threads still interleave freely.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._original = BotocoreStubber.__call__

    def __call__(self, stubber: BotocoreStubber, *args: object, **kwargs: object) -> object:
        with self._lock:
            return self._original(stubber, *args, **kwargs)


@contextmanager
def open_cloud(api_key: str = "0" * 63 + "1") -> Iterator[Cloud]:
    """Inside ``mock_aws``: the template's tables, the versioned bucket, a KMS key, ``scms init``, both apps."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            mp.setenv(name, value)
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        atomic = _AtomicCalls()
        mp.setattr(BotocoreStubber, "__call__", lambda self, *a, **k: atomic(self, *a, **k))
        with mock_aws():
            aws.reset_clients()
            settings = load_settings({})
            create_tables(boto3.client("dynamodb"), settings)
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket=settings.artifacts_bucket)
            # As the template: versioned, so an overwrite shows up as a new version.
            s3.put_bucket_versioning(Bucket=settings.artifacts_bucket, VersioningConfiguration={"Status": "Enabled"})
            key_id = boto3.client("kms").create_key(Description="test CA keys")["KeyMetadata"]["KeyId"]
            settings = replace(settings, kms_key_id=key_id)
            now = time32.now()
            vault = SecretsManagerKeyVault.from_settings(settings)
            hierarchy, _ = init_hierarchy(
                settings,
                DynamoDbCaStore.from_settings(settings),
                vault,
                S3Artifacts.from_settings(settings),
                now=now - 3600,
            )
            vault.create(settings.management_api_key_secret, key_digest(api_key))
            assert ensure_management_api_key(settings, vault) is None  # exists: nothing new
            ra = load_app("ra", "scms_ra_app")
            ra.configure(from_settings(settings))
            eca = load_app("eca", "scms_eca_app")
            cloud = Cloud(settings, hierarchy, now, api_key, mp, eca, ra, WriteWatch().install(mp))
            cloud._wire_eca(eca)
            try:
                yield cloud
            finally:
                ra.configure(None)
                aws.reset_clients()
