"""scms_la.plv.revocation_seed and handlers.seed (the LA's revocation seed task) on the in-memory seed store.

The seed of i' = max(i, origin), evolved from the stored first seed with this LA's id (protocol.md
§3.6 step 2, §4.6); refusals for a chain never seen, another LA's seed, and malformed input. Twins
for each.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from scms_la.plv import PlvRequestInvalid, SeedMismatch, UnknownChain, revocation_seed, seed_at
from scms_service.stores.linkage_seeds import ChainSeed, InMemorySeedStore

from scms_codec.crypto import linkage

LA1, LA2 = b"\x00\x01", b"\x00\x02"
CHAIN = bytes(range(16))
FIRST = bytes(range(100, 116))
ORIGIN = 40
_HANDLERS = Path(__file__).resolve().parents[3] / "functions" / "la" / "handlers.py"


def _store(la_id: bytes = LA1) -> InMemorySeedStore:
    store = InMemorySeedStore()
    store.put_if_absent(ChainSeed(CHAIN, ORIGIN, FIRST, la_id, 1))
    return store


@pytest.mark.parametrize(
    ("asked", "at"), [(ORIGIN + 5, ORIGIN + 5), (ORIGIN, ORIGIN), (ORIGIN - 9, ORIGIN), (0, ORIGIN)]
)
def test_the_seed_of_max_i_and_origin_evolved_with_this_las_id(asked: int, at: int) -> None:
    got = revocation_seed(CHAIN, asked, la_id=LA1, seeds=_store())
    assert got == (at, linkage.seed_at(LA1, FIRST, ORIGIN, at)) == (at, seed_at(CHAIN, at, la_id=LA1, seeds=_store()))
    # Twin: another LA's evolution of the same first seed is another value (past the origin).
    if at > ORIGIN:
        assert got[1] != linkage.seed_at(LA2, FIRST, ORIGIN, at)


def test_a_chain_never_seen_is_unknown_and_the_message_names_no_chain() -> None:
    with pytest.raises(UnknownChain) as caught:
        revocation_seed(bytes(16), ORIGIN, la_id=LA1, seeds=_store())
    assert bytes(16).hex() not in str(caught.value) and CHAIN.hex() not in str(caught.value)


def test_another_las_seed_is_a_mismatch() -> None:
    with pytest.raises(SeedMismatch) as caught:
        revocation_seed(CHAIN, ORIGIN, la_id=LA1, seeds=_store(LA2))
    assert CHAIN.hex() not in str(caught.value)


@pytest.mark.parametrize(("chain", "i"), [(CHAIN[:15], 1), (CHAIN + b"\x00", 1), (CHAIN, -1), (CHAIN, 0x10000),
                                          (CHAIN, True), (CHAIN, "1")])  # fmt: skip
def test_malformed_input_is_refused(chain: bytes, i: Any) -> None:
    with pytest.raises(PlvRequestInvalid):
        revocation_seed(chain, i, la_id=LA1, seeds=_store())


def _handlers() -> ModuleType:
    name = "scms_la_handlers_unit"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _HANDLERS)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_the_task_answers_la_id_i_and_the_seed_in_lower_case_hex() -> None:
    out = _handlers().seed({"chainId": CHAIN.hex(), "i": ORIGIN + 2}, la_id=LA1, seeds=_store())
    assert out == {"laId": "0001", "i": ORIGIN + 2, "seed": linkage.seed_at(LA1, FIRST, ORIGIN, ORIGIN + 2).hex()}


@pytest.mark.parametrize(
    "event",
    [None, [], {}, {"chainId": CHAIN.hex().upper()[:-1], "i": 1}, {"chainId": CHAIN.hex(), "i": 1.0},
     {"chainId": CHAIN.hex(), "i": 70_000}, {"chainId": 5, "i": 1}],
    ids=["none", "list", "empty", "odd-hex", "float-i", "big-i", "int-chain"],
)  # fmt: skip
def test_the_task_refuses_malformed_events_as_invalid_task_input(event: Any) -> None:
    handlers = _handlers()
    with pytest.raises(handlers.InvalidTaskInput):
        handlers.seed(event, la_id=LA1, seeds=_store())
