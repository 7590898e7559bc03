"""The LAs' revocation seed task (La1SeedFunction / La2SeedFunction: functions/la/handlers.seed_task) under moto.

A chain is first used by the PLV task (``plv_task``, as the provisioning state machine does), then
the MA asks each LA for its seed of an i-period: the answer is ls(max(i, origin)) of that LA, the
seed a linked CRL entry needs (protocol.md §3.6 step 2, §4.6). Refusals, the secret scan of the logs
and least privilege (GetItem on its own table only), each with a twin.
"""

from __future__ import annotations

import base64
import copy
import inspect
import json
from typing import Any

import pytest
from scms_la.plv import PlvRequestInvalid, UnknownChain
from scms_service.config import Settings
from scms_service.linkage_keys import LA_IDS

from scms_cli.local.gateway import load_handler
from scms_cli.local.template import functions, load_template
from scms_codec.crypto import linkage
from tests.functional.test_iam import CallRecorder, _table_arn, allowed, granted
from tests.functional.test_la import CHAIN, EVENT, deployed, load_la, run, seeds  # noqa: F401 (fixture)
from tests.support.task_logs import captured

SEED_FUNCTIONS = {"la1": "La1SeedFunction", "la2": "La2SeedFunction"}
ORIGIN = EVENT["iFirst"]


def load_seed_task(la: str, settings: Settings) -> Any:
    """``handlers.seed_task`` of the LA's seed function, imported under that function's environment."""
    spec = next(s for s in functions() if s.logical_id == SEED_FUNCTIONS[la])
    env = {k: str(v) for k, v in spec.environment.items()}
    env.update({"SCMS_SECRET_PREFIX": settings.secret_prefix, "SCMS_LA1_TABLE": settings.la1_table,
                "SCMS_LA2_TABLE": settings.la2_table})  # fmt: skip
    return load_handler(spec, env)


def _stored_seed(settings: Settings, la: str) -> bytes:
    stored = seeds(settings, la).get(CHAIN)
    assert stored is not None and stored.origin_i == ORIGIN
    return stored.seed


@pytest.mark.parametrize("la", ["la1", "la2"])
def test_each_la_answers_its_seed_of_the_period_asked(deployed: Settings, la: str) -> None:  # noqa: F811
    # Given the chain's first PLVs from this LA (its seed stored at i = origin),
    run(load_la(la, deployed), EVENT)
    task = load_seed_task(la, deployed)
    first = _stored_seed(deployed, la)
    # When the MA asks for periods at, after and before the origin,
    later = run(task, {"chainId": CHAIN.hex(), "i": ORIGIN + 3})
    at_origin = run(task, {"chainId": CHAIN.hex(), "i": ORIGIN})
    earlier = run(task, {"chainId": CHAIN.hex(), "i": ORIGIN - 5})
    # Then each answer is this LA's ls(i) evolved from the stored seed, from the origin when asked before it.
    la_id = LA_IDS[la]
    assert later == {"laId": la_id.hex(), "i": ORIGIN + 3,
                     "seed": linkage.seed_at(la_id, first, ORIGIN, ORIGIN + 3).hex()}  # fmt: skip
    assert at_origin == earlier == {"laId": la_id.hex(), "i": ORIGIN, "seed": first.hex()}
    # Twin: another period's seed is another value.
    assert later["seed"] != linkage.seed_at(la_id, first, ORIGIN, ORIGIN + 2).hex()


def test_a_chain_the_la_never_saw_is_unknown(deployed: Settings) -> None:  # noqa: F811
    task = load_seed_task("la1", deployed)
    with pytest.raises(UnknownChain):
        run(task, {"chainId": CHAIN.hex(), "i": ORIGIN})
    # Twin: once LA1 has served the chain, the same question is answered (and LA2 still does not know it).
    run(load_la("la1", deployed), EVENT)
    assert run(task, {"chainId": CHAIN.hex(), "i": ORIGIN})["laId"] == "0001"
    with pytest.raises(UnknownChain):
        run(load_seed_task("la2", deployed), {"chainId": CHAIN.hex(), "i": ORIGIN})


@pytest.mark.parametrize(
    "event",
    [None, {}, {"chainId": CHAIN.hex()}, {"i": 1}, {"chainId": CHAIN.hex()[:-2], "i": 1},
     {"chainId": "zz" * 16, "i": 1}, {"chainId": CHAIN.hex(), "i": "1"}, {"chainId": CHAIN.hex(), "i": True},
     {"chainId": CHAIN.hex(), "i": -1}, {"chainId": CHAIN.hex(), "i": 0x10000}],
    ids=["none", "empty", "no-i", "no-chain", "short-chain", "not-hex", "i-string", "i-bool", "i-negative", "i-big"],
)  # fmt: skip
def test_a_malformed_seed_event_is_refused(deployed: Settings, event: Any) -> None:  # noqa: F811
    run(load_la("la1", deployed), EVENT)
    with pytest.raises(PlvRequestInvalid) as caught:
        run(load_seed_task("la1", deployed), event)
    assert type(caught.value).__name__ == "InvalidTaskInput"  # the contract's error name


def test_no_seed_reaches_the_logs(
    deployed: Settings,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    for name in ("la", "scms_la", "scms_service", "scms_codec"):
        caplog.set_level("DEBUG", logger=name)
    run(load_la("la1", deployed), EVENT)
    task = load_seed_task("la1", deployed)
    answers = [run(task, {"chainId": CHAIN.hex(), "i": i}) for i in (ORIGIN, ORIGIN + 4)]
    with pytest.raises(UnknownChain):
        run(task, {"chainId": "11" * 16, "i": ORIGIN})
    logged = capsys.readouterr().out + caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    secrets = [bytes.fromhex(a["seed"]) for a in answers] + [CHAIN, bytes.fromhex("11" * 16)]
    forms = [[s.hex(), s.hex().upper(), base64.b64encode(s).decode(), repr(s)] for s in secrets]
    assert "seed answered" in logged and "UnknownChain" in logged
    assert not [s.hex() for s, f in zip(secrets, forms, strict=True) if any(x in logged for x in f)]
    # Twin: a seed spliced into the log is found.
    assert any(x in logged + secrets[1].hex() for x in forms[1])


def test_the_seed_role_allows_its_get_item_and_nothing_more(deployed: Settings) -> None:  # noqa: F811
    run(load_la("la1", deployed), EVENT)  # the PLV task's calls: before recording
    task = load_seed_task("la1", deployed)
    recorder = CallRecorder()
    run(task, {"chainId": CHAIN.hex(), "i": ORIGIN + 1})
    table = _table_arn(deployed.la1_table)
    assert recorder.calls == {("dynamodb:GetItem", table)}
    grants = granted("La1SeedFunction")
    assert grants == {("dynamodb:GetItem", table)}
    # Twins: neither a write, nor LA2's table, nor any secret; without the statement the read is lacking.
    assert not allowed(("dynamodb:PutItem", table), grants)
    assert not allowed(("dynamodb:GetItem", _table_arn(deployed.la2_table)), grants)
    assert granted("La2SeedFunction") == {("dynamodb:GetItem", _table_arn(deployed.la2_table))}
    template = copy.deepcopy(load_template())
    template["Resources"]["La1SeedFunction"]["Properties"]["Policies"][0]["Statement"][0]["Action"] = "dynamodb:Query"
    assert not allowed(("dynamodb:GetItem", table), granted("La1SeedFunction", template))


def test_the_seed_task_logs_the_mas_revocation_id_as_correlation_id(deployed: Settings) -> None:  # noqa: F811
    run(load_la("la1", deployed), EVENT)
    task = load_seed_task("la1", deployed)
    logger = inspect.unwrap(task).__globals__["logger"]
    # Given the MA's revocation id in the event, the answer's log line carries it as correlation id;
    with captured(logger) as logs:
        run(task, {"chainId": CHAIN.hex(), "i": ORIGIN, "correlationId": "7a" * 8})
    assert [line.get("correlation_id") for line in logs.lines("seed answered")] == ["7a" * 8]
    # twin: without one, none (not the previous call's, nor the chain id).
    with captured(logger) as logs:
        run(task, {"chainId": CHAIN.hex(), "i": ORIGIN})
    assert [line.get("correlation_id") for line in logs.lines("seed answered")] == [None]
    assert CHAIN.hex() not in json.dumps(logs.lines())
