"""``GET /<authority>/health`` and the health task event: cheap real checks of an authority's dependencies.

docs/architecture.md "Observability". The HTTP authorities (RA, ECA, MA) answer ``GET /<authority>/health``;
the internal task functions (ACA, LAs, CRL generator, RA batch, ECA task) have no route and answer
the task event ``{"health": true}`` instead, through ``answers_health`` on their handler, with the
same JSON (``Health.as_json``). Each function checks only what its role may already read: a table
by ``GetItem`` (``table_check``), ``BatchGetItem`` (``batch_table_check``) or a ``Query`` on an
index (``index_check``), and its CA certificate by ``GetItem`` (``ca_check``) or ``Query``
(``ca_query_check``).

Each check reads something the authority needs to answer devices: its table (one ``GetItem`` on
a key no item uses, so it costs one read unit and proves the table exists and is reachable with
the function's role) and its CA certificate (the active certificate of the role in ``CaTable``
decodes and its HashedId8 matches). No check reads a secret, and a failure is reported by its
AWS error code or exception class only, never by its message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from scms_codec.cert.certificate import Certificate

from .observability import VERSION
from .stores.ca import CaStore

__all__ = [
    "HEALTH_EVENT",
    "Health",
    "answers_health",
    "batch_table_check",
    "ca_check",
    "ca_query_check",
    "index_check",
    "is_health_event",
    "run_checks",
    "table_check",
]

log = logging.getLogger(__name__)

OK = "ok"
# A key no item of any table uses (every pk has a TYPE# prefix): the read finds nothing, cheaply.
_SENTINEL = {"pk": {"S": "HEALTH"}, "sk": {"S": "HEALTH"}}

Check = Callable[[], None]
Handler = TypeVar("Handler", bound=Callable[..., Any])

HEALTH_EVENT: Mapping[str, bool] = {"health": True}
"""The task event every internal function answers with its ``Health.as_json()``."""


@dataclass(frozen=True)
class Health:
    """The outcome: ``checks`` maps each check to ``"ok"`` or ``"fail: <reason>"``."""

    authority: str
    version: str
    checks: Mapping[str, str]

    @property
    def healthy(self) -> bool:
        return all(value == OK for value in self.checks.values())

    @property
    def status(self) -> int:
        """200 when every check passed, else 503 (a dependency is down; retry later)."""
        return 200 if self.healthy else 503

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unavailable",
            "authority": self.authority,
            "version": self.version,
            "checks": dict(self.checks),
        }


def table_check(client: Any, table: str) -> Check:
    """``GetItem`` of a sentinel key on ``table`` (raises when the table is missing or unreachable)."""

    def check() -> None:
        client.get_item(TableName=table, Key=_SENTINEL)

    return check


def batch_table_check(client: Any, table: str) -> Check:
    """``BatchGetItem`` of the sentinel key on ``table``: for a role that may batch-read but not ``GetItem``."""

    def check() -> None:
        client.batch_get_item(RequestItems={table: {"Keys": [_SENTINEL]}})

    return check


def index_check(client: Any, table: str, index: str, attribute: str) -> Check:
    """A ``Query`` of ``index`` for the sentinel value of its (string) hash key ``attribute`` (finds nothing)."""

    def check() -> None:
        client.query(
            TableName=table,
            IndexName=index,
            KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": attribute},
            ExpressionAttributeValues={":v": {"S": "HEALTH"}},
            Limit=1,
        )

    return check


def ca_check(ca_store: CaStore, role: str) -> Check:
    """The active certificate of ``role`` exists, decodes and has the HashedId8 it is stored under."""

    def check() -> None:
        record = ca_store.active(role)
        if record is None:
            raise LookupError(f"no active {role} certificate")
        if Certificate.from_bytes(record.certificate).hashed_id8 != record.hashed_id8:
            raise ValueError(f"{role} certificate does not match its HashedId8")

    return check


def ca_query_check(ca_store: CaStore, role: str) -> Check:
    """As ``ca_check``, through ``CaStore.records`` (one ``Query``): for a role that may not ``GetItem`` CaTable."""

    def check() -> None:
        active = [r for r in ca_store.records(role) if r.active]
        if not active:
            raise LookupError(f"no active {role} certificate")
        record = active[-1]
        if Certificate.from_bytes(record.certificate).hashed_id8 != record.hashed_id8:
            raise ValueError(f"{role} certificate does not match its HashedId8")

    return check


def _reason(exc: BaseException) -> str:
    """The AWS error code of ``exc`` or of its cause (a store error wraps it), else its class name."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ClientError):
            return str(cause.response.get("Error", {}).get("Code") or type(cause).__name__)
        cause = cause.__cause__
    return type(exc).__name__


def run_checks(authority: str, version: str, checks: Mapping[str, Check]) -> Health:
    """Run every check (all of them, even after a failure) and collect the outcome."""
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:  # a health check reports any failure, botocore's included
            log.warning("health check failed", extra={"check": name, "reason": _reason(exc)})
            results[name] = f"fail: {_reason(exc)}"
        else:
            results[name] = OK
    return Health(authority, version, results)


def is_health_event(event: Any) -> bool:
    """True for exactly ``{"health": true}`` (a JSON boolean: ``{"health": 1}`` is not it)."""
    return isinstance(event, Mapping) and len(event) == 1 and event.get("health") is True


def answers_health(
    authority: str | Callable[[], str], checks: Callable[[], Mapping[str, Check]], version: str | None = None
) -> Callable[[Handler], Handler]:
    """Make a Lambda task handler answer ``{"health": true}`` with ``Health.as_json()`` (issue #7 §2).

    ``authority`` is the name the answer carries (or a function giving it, for a module serving two
    authorities such as the LAs); ``checks`` builds the checks when the event arrives (so no client or
    store is made at import). Every other event, a malformed one included, reaches the handler
    unchanged, so its own ``InvalidTaskInput`` checks still apply. An unhealthy answer is still a
    normal return (``"status": "unavailable"``): the caller reads it, Lambda does not retry it.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            if not is_health_event(event):
                return handler(event, context, *args, **kwargs)
            name = authority() if callable(authority) else authority
            try:
                built = checks()
            except Exception as exc:  # e.g. a setting the checks need is unusable: reported, not raised
                log.warning("health checks not built", extra={"reason": _reason(exc)})
                return Health(name, version or VERSION, {"setup": f"fail: {_reason(exc)}"}).as_json()
            return run_checks(name, version or VERSION, built).as_json()

        return wrapper  # type: ignore[return-value]

    return decorate
