"""Load the RA Chalice app by path (as the local gateway does) and wire it to the moto resources."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from scms_ra.wiring import from_settings
from scms_service.auth import key_digest
from scms_service.config import Settings

API_KEY = "test-management-key"
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
