"""The ACA's Lambda functions as deployed, for the functional tests of its tasks (issue and lookup).

``load_aca_handlers`` imports ``functions/aca/handlers.py`` as Lambda does; the fixtures ``deployed``
(stage ``dev``: the hierarchy and the LA-ACA keys as `scms init` makes them, in moto), ``handlers``
(the module wired to those settings) and ``ra`` (the simulated RA with the LAs' real keys) are
shared by assigning them in a test module (``deployed = aca_deployment.deployed``).
"""

from __future__ import annotations

import base64
import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.linkage_keys import ensure_la_aca_keys, la_aca_key
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault

from scms_codec import time32
from tests.unit.aca.simulator import Linkage, Ra, Sent

__all__ = ["STAGE", "deployed", "event", "handlers", "load_aca_handlers", "ra"]

_HANDLERS = Path(__file__).resolve().parents[2] / "functions" / "aca" / "handlers.py"
STAGE = "dev"


def load_aca_handlers() -> ModuleType:
    """``functions/aca/handlers.py`` imported once as ``scms_aca_handlers``, its folder on the path as in Lambda."""
    if "scms_aca_handlers" in sys.modules:
        return sys.modules["scms_aca_handlers"]
    if str(_HANDLERS.parent) not in sys.path:
        sys.path.insert(0, str(_HANDLERS.parent))
    spec = importlib.util.spec_from_file_location("scms_aca_handlers", _HANDLERS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scms_aca_handlers"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def deployed(aws_settings: Settings) -> Iterator[tuple[Settings, Hierarchy]]:
    """Stage ``dev`` as deployed: hierarchy and LA-ACA keys made by `scms init` (the fixture made the tables)."""
    settings = replace(aws_settings, secret_prefix=f"scms/{STAGE}/")
    vault = SecretsManagerKeyVault.from_settings(settings)
    ca, _ = init_hierarchy(settings, DynamoDbCaStore.from_settings(settings), vault,
                           S3Artifacts.from_settings(settings), now=time32.now() - 3600)  # fmt: skip
    ensure_la_aca_keys(settings, vault)
    yield settings, ca


@pytest.fixture
def handlers(deployed: tuple[Settings, Hierarchy], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    settings, _ = deployed
    module = load_aca_handlers()
    monkeypatch.setattr(module, "settings", lambda: settings)
    monkeypatch.setattr(module, "_aca", module._Aca())
    return module


@pytest.fixture
def ra(deployed: tuple[Settings, Hierarchy]) -> Ra:
    """The RA, with the LAs' real keys (from the vault) encrypting the PLVs."""
    settings, ca = deployed
    vault = SecretsManagerKeyVault.from_settings(settings)
    lines = Linkage(la1_key=la_aca_key(settings, vault, "la1"), la2_key=la_aca_key(settings, vault, "la2"))
    return Ra(ca.signer("ra"), lines=lines, epoch=time32.now() - 600)


def event(sent: list[Sent] | list[bytes]) -> dict[str, Any]:
    spdus = [s.spdu if isinstance(s, Sent) else s for s in sent]
    return {"requests": [base64.b64encode(s).decode("ascii") for s in spdus]}
