"""The LA's Lambda task (``La1Function`` / ``La2Function``, handler ``handlers.plv_task``): one use-case call.

Event (from the RA's state machine): ``{"chainId": hex (16 octets), "iFirst": int, "iLast": int,
"jMax": int}``. Result: ``{"laId": hex, "iFirst": int, "iLast": int, "jMax": int, "plvs": [base64 COER
EncryptedIndividualPLV, ...]}``: the request's bounds, then one PLV per (i, j) in (i, j) order, entry k for
i = iFirst + k // jMax and j = k % jMax (positional: a state machine copies every state's data several
times, and 240 small objects per chunk cost it more than 240 strings). Refusals raise
``PlvRequestRefused`` subclasses (their class names are the ASL error names; never retry them); store throttling raises
``TransientStoreError`` (retry). The use case is ``scms_la.plv``.

``seed_task`` (``La1SeedFunction`` / ``La2SeedFunction``, invoked by the MA; protocol.md §3.6 step 2):
``{"chainId": hex (16 octets), "i": n, "correlationId"?: the MA's revocation id}`` → ``{"laId": hex,
"i": max(n, the chain's origin), "seed": <32 hex ls(i)>}``. The answer is the only place a seed
leaves an LA; it is never logged. Errors: ``InvalidTaskInput`` (malformed; a ``PlvRequestInvalid``),
``UnknownChain`` (this LA never saw the chain, so no certificate carries a linkage value of it),
``TransientStoreError``.
It reads the seed table only (no LA-ACA key).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from scms_la.plv import PlvRequest, PlvRequestInvalid, PlvResponse, pre_linkage_values, revocation_seed
from scms_service import aws, observability
from scms_service.config import Settings, load_settings
from scms_service.health import answers_health, table_check
from scms_service.linkage_keys import la_aca_key, la_id_of, la_role
from scms_service.stores.ca import KeyVault, SecretsManagerKeyVault
from scms_service.stores.linkage_seeds import DynamoDbSeedStore, SeedStore

from scms_codec import time32

__all__ = [
    "InvalidTaskInput",
    "LaServices",
    "handle",
    "plv_task",
    "request_from_event",
    "response_to_result",
    "seed",
    "seed_task",
]

# Read at import, i.e. at cold start (style.md 14). Locally both LA functions run in one process
# and each one's SCMS_LA_ID is in the environment only while its module is imported.
_SETTINGS = load_settings()
logger = Logger(service="la")
tracer = observability.task_tracer("la")


@dataclass
class LaServices:
    """What one LA needs: its id, seed store, the key it shares with the ACA and the request limit."""

    la_id: bytes
    seeds: SeedStore
    aca_key: bytes
    max_plvs: int

    def __repr__(self) -> str:
        return f"LaServices(la_id={self.la_id.hex()}, seeds={self.seeds!r})"

    @classmethod
    def from_settings(cls, settings: Settings, vault: KeyVault | None = None) -> LaServices:
        """Production wiring: the LA's own table and its LA-ACA secret (read once per process)."""
        la_id = la_id_of(settings)
        la = la_role(la_id)
        vault = SecretsManagerKeyVault.from_settings(settings) if vault is None else vault
        return cls(
            la_id, DynamoDbSeedStore.from_settings(settings, la), la_aca_key(settings, vault, la), settings.la_max_plvs
        )


@functools.cache
def _services() -> LaServices:
    return LaServices.from_settings(_SETTINGS)


def _seed_table_check() -> Any:
    # Both LA roles may GetItem their own table (and nothing of CaTable): the health event's one read.
    la = la_role(la_id_of(_SETTINGS))
    return table_check(aws.client("dynamodb"), {"la1": _SETTINGS.la1_table, "la2": _SETTINGS.la2_table}[la])


def request_from_event(event: Mapping[str, Any]) -> PlvRequest:
    """The ``PlvRequest`` of a task event (``PlvRequestInvalid`` if a field is missing or mistyped)."""
    if not isinstance(event, Mapping):
        raise PlvRequestInvalid("event must be a JSON object")
    try:
        chain_id = bytes.fromhex(str(event["chainId"]))
        return PlvRequest(chain_id, event["iFirst"], event["iLast"], event["jMax"])
    except KeyError as exc:
        raise PlvRequestInvalid(f"missing field {exc.args[0]}") from None
    except ValueError:
        raise PlvRequestInvalid("chainId must be hex") from None


def response_to_result(request: PlvRequest, response: PlvResponse) -> dict[str, Any]:
    """The task result: laId in hex, the request's bounds, each encrypted PLV in base64 in (i, j) order."""
    expected = [(i, j) for i in range(request.i_first, request.i_last + 1) for j in range(request.j_max)]
    if [(p.i, p.j) for p in response.plvs] != expected:  # the positional format's one assumption, checked
        raise RuntimeError("the PLV answer is not in (i, j) order of its request")
    return {
        "laId": response.la_id.hex(),
        "iFirst": request.i_first,
        "iLast": request.i_last,
        "jMax": request.j_max,
        "plvs": [base64.b64encode(p.enc_plv).decode("ascii") for p in response.plvs],
    }


@observability.trace_use_case(tracer)  # never the answer: it holds the encrypted PLVs
def handle(event: Mapping[str, Any], services: LaServices, *, now: int) -> dict[str, Any]:
    """One task: parse, one use-case call, the JSON result."""
    request = request_from_event(event)
    response = pre_linkage_values(
        request,
        la_id=services.la_id,
        seeds=services.seeds,
        aca_key=services.aca_key,
        now=now,
        max_plvs=services.max_plvs,
    )
    return response_to_result(request, response)


@answers_health(lambda: la_role(la_id_of(_SETTINGS)), lambda: {"table": _seed_table_check()})
@observability.trace_handler(tracer)
@logger.inject_lambda_context(clear_state=True)
def plv_task(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point of La1Function and La2Function."""
    # Only the LA's id: the chain id names a device's linkage chain and stays out of every log.
    logger.append_keys(laId=_SETTINGS.la_id)
    try:
        result = handle(event, _services(), now=time32.now())
    except Exception as exc:
        # The exception's class is the ASL error name; its message holds no seed or PLV.
        logger.warning("PLV request failed", extra={"error": type(exc).__name__, "reason": str(exc)})
        raise
    logger.info(
        "PLVs answered",
        extra={"iFirst": event.get("iFirst"), "iLast": event.get("iLast"), "jMax": event.get("jMax"),
               "plvs": len(result["plvs"])},
    )  # fmt: skip
    return result


class InvalidTaskInput(PlvRequestInvalid):
    """A seed event that is not ``{"chainId": <32 hex>, "i": <Uint16>}`` (the contract's error name for it)."""


@functools.cache
def _seed_store() -> SeedStore:
    # The seed task's own wiring: its table only, never the LA-ACA secret (its role cannot read it).
    return DynamoDbSeedStore.from_settings(_SETTINGS, la_role(la_id_of(_SETTINGS)))


def seed(event: Mapping[str, Any], *, la_id: bytes, seeds: SeedStore) -> dict[str, Any]:
    """One seed task: parse ``{"chainId", "i"}``, one use-case call, the JSON answer (which holds the seed)."""
    if not isinstance(event, Mapping):
        raise InvalidTaskInput("event must be a JSON object")
    chain_hex, i = event.get("chainId"), event.get("i")
    if not isinstance(chain_hex, str) or len(chain_hex) != 32:
        raise InvalidTaskInput("chainId must be 32 hex digits")
    try:
        chain_id = bytes.fromhex(chain_hex)
    except ValueError:
        raise InvalidTaskInput("chainId must be 32 hex digits") from None
    if not isinstance(i, int) or isinstance(i, bool):
        raise InvalidTaskInput("i must be an integer")
    try:
        at, value = revocation_seed(chain_id, i, la_id=la_id, seeds=seeds)
    except PlvRequestInvalid as exc:  # i outside Uint16
        raise InvalidTaskInput(str(exc)) from None
    return {"laId": la_id.hex(), "i": at, "seed": value.hex()}


@answers_health(lambda: la_role(la_id_of(_SETTINGS)) + "-seed", lambda: {"table": _seed_table_check()})
@observability.trace_handler(tracer)
@logger.inject_lambda_context(clear_state=True)
def seed_task(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point of La1SeedFunction and La2SeedFunction (the MA's revocation, protocol.md §3.6)."""
    logger.append_keys(laId=_SETTINGS.la_id)
    # The MA's revocation id, if it sent one: never the chain id, which names a device's chain.
    logger.set_correlation_id(observability.task_correlation_id(event))
    try:
        result = seed(event, la_id=la_id_of(_SETTINGS), seeds=_seed_store())
    except Exception as exc:
        # The class name is the caller's error name; messages name a chain at most, never a seed.
        logger.warning("seed request failed", extra={"error": type(exc).__name__, "reason": str(exc)[:200]})
        raise
    # Nothing of the answer: the seed (and the chain it belongs to) stays out of every log.
    logger.info("seed answered", extra={"i": result["i"]})
    return result
