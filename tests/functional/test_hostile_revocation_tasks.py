"""Hostile events for the revocation tasks (issue #7 §3): ACA ``lookup_task``, LA ``seed_task``, RA ``revoke``.

Property-based, on moto with real data behind each task (an issued certificate, a known chain, a
device with an accepted request): whatever JSON arrives, each task either answers inside its
contract or raises one of the contract's error names (``InvalidTaskInput``, ``RevocationTargetNotFound``,
``UnknownChain``); never another exception, and no table changes. Twins: the real handles are
answered (and the RA's changes the device), so the checks can fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scms_service.config import Settings
from scms_service.hierarchy import init_hierarchy
from scms_service.linkage_keys import ensure_la_aca_keys, la_aca_key
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault

from scms_codec import time32
from tests.functional.aca_deployment import event as _event
from tests.functional.aca_deployment import load_aca_handlers
from tests.functional.test_la import CHAIN, EVENT, load_la, run
from tests.functional.test_la_seed import load_seed_task
from tests.functional.test_ra_batch_tasks import Stack, _accepted, load_ra_tasks
from tests.unit.aca.simulator import Linkage, Ra

FAST = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_HEX16 = st.binary(min_size=8, max_size=8).map(bytes.hex)
_HEX32 = st.binary(min_size=16, max_size=16).map(bytes.hex)
_ALMOST_HEX = st.text(alphabet="0123456789abcdefABCDEFxyz", min_size=0, max_size=40)


@dataclass
class World:
    settings: Settings
    aca: ModuleType
    seed_task: Any
    ra: ModuleType
    cert_id: str
    device_id: str

    def tables(self) -> str:
        client = boto3.client("dynamodb")
        names = (self.settings.ra_table, self.settings.aca_table, self.settings.la1_table)
        items = {n: sorted(json.dumps(i, sort_keys=True, default=str) for i in client.scan(TableName=n)["Items"])
                 for n in names}  # fmt: skip
        return json.dumps(items)


@pytest.fixture
def world(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    s = replace(aws_settings, secret_prefix="scms/dev/", certs_per_period=3)
    vault = SecretsManagerKeyVault.from_settings(s)
    now = time32.now()
    ca, _ = init_hierarchy(s, DynamoDbCaStore.from_settings(s), vault, S3Artifacts.from_settings(s),
                           now=now - 14 * 86400)  # fmt: skip
    ensure_la_aca_keys(s, vault)
    aca = load_aca_handlers()
    monkeypatch.setattr(aca, "settings", lambda: s)
    monkeypatch.setattr(aca, "_aca", aca._Aca())
    lines = Linkage(la1_key=la_aca_key(s, vault, "la1"), la2_key=la_aca_key(s, vault, "la2"))
    ra_side = Ra(ca.signer("ra"), lines=lines, epoch=now - 600)
    sent = ra_side.request("explicit", "plain", 2, 0, generation_time=now)
    aca.issue_task(_event([sent]), None)
    cert_id = boto3.client("dynamodb").scan(TableName=s.aca_table)["Items"][0]["certId"]["S"]
    run(load_la("la1", s), EVENT)
    tasks = load_ra_tasks()
    monkeypatch.setattr(tasks, "settings", lambda: s)
    monkeypatch.setattr(tasks, "_ra", tasks._Ra())
    _accepted(Stack(s, ca, tasks, aca, now), "obu-1")
    yield World(s, aca, load_seed_task("la1", s), tasks, cert_id, "obu-1")


def _lookup_events(world_cert: str) -> st.SearchStrategy[Any]:
    ids = st.lists(_HEX16 | _ALMOST_HEX | _JSON, max_size=6).filter(lambda v: world_cert not in v)
    return (_JSON | st.fixed_dictionaries({"certIds": ids}) | st.fixed_dictionaries({"certIds": _JSON})
            | st.fixed_dictionaries({"acaRequests": ids}) | st.fixed_dictionaries({"acaRequests": _JSON}))  # fmt: skip


@given(data=st.data())
@FAST
def test_hostile_lookups_answer_inside_the_contract_or_invalid_task_input(world: World, data: st.DataObject) -> None:
    before = world.tables()
    event = data.draw(_lookup_events(world.cert_id))
    try:
        out = world.aca.lookup_task(event, None)
    except world.aca.InvalidTaskInput:
        pass
    else:
        # Nothing known is asked (the world's certificate id is filtered out; no request hash is asked).
        asked = event["certIds"] if "certIds" in event else event["acaRequests"]
        assert out["found"] == [] and out["missing"] == list(dict.fromkeys(asked))
    assert world.tables() == before


def test_the_real_certificate_is_found(world: World) -> None:
    # Twin: the issued certificate's id is answered with its request.
    out = world.aca.lookup_task({"certIds": [world.cert_id]}, None)
    assert [f["certId"] for f in out["found"]] == [world.cert_id] and out["missing"] == []


_SEED_EVENTS = (
    _JSON | st.fixed_dictionaries({"chainId": _HEX32 | _ALMOST_HEX | _JSON, "i": _JSON | st.integers(-5, 70_000)})
).filter(lambda e: not (isinstance(e, dict) and e.get("chainId") == CHAIN.hex()))


@given(event=_SEED_EVENTS)
@FAST
def test_hostile_seed_events_are_invalid_or_unknown_and_leak_nothing(world: World, event: Any) -> None:
    before = world.tables()
    with pytest.raises(Exception) as caught:
        run(world.seed_task, event)
    assert type(caught.value).__name__ in {"InvalidTaskInput", "UnknownChain"}
    assert CHAIN.hex() not in str(caught.value)
    assert world.tables() == before


def test_the_real_chain_gets_its_seed(world: World) -> None:
    # Twin: the chain LA1 knows is answered.
    assert run(world.seed_task, {"chainId": CHAIN.hex(), "i": EVENT["iFirst"]})["laId"] == "0001"


_REVOKE_EVENTS = st.fixed_dictionaries(
    {"task": st.just("revoke")},
    optional={
        "by": st.sampled_from(["acaRequest", "enrollmentCert", "device"]) | _JSON,
        "value": _HEX16 | _ALMOST_HEX | st.text(max_size=70) | _JSON,
        "cause": st.text(max_size=210) | _JSON,
    },
).filter(lambda e: e.get("value") != "obu-1")


@given(event=_REVOKE_EVENTS)
@FAST
def test_hostile_revocations_are_refused_by_name_and_change_nothing(world: World, event: dict[str, Any]) -> None:
    before = world.tables()
    with pytest.raises(Exception) as caught:
        world.ra.handler(event, None)
    assert type(caught.value).__name__ in {"InvalidTaskInput", "RevocationTargetNotFound"}
    assert world.tables() == before


def test_the_real_device_is_revoked(world: World) -> None:
    # Twin: the registered device's id revokes it, and the tables change.
    before = world.tables()
    out = world.ra.handler({"task": "revoke", "by": "device", "value": world.device_id, "cause": "c"}, None)
    assert out["alreadyRevoked"] is False and world.tables() != before
