"""``GET /<authority>/health``: cheap real checks of an authority's dependencies (docs/architecture.md).

Each check reads something the authority needs to answer devices: its table (one ``GetItem`` on
a key no item uses, so it costs one read unit and proves the table exists and is reachable with
the function's role) and its CA certificate (the active certificate of the role in ``CaTable``
decodes and its HashedId8 matches). No check reads a secret, and a failure is reported by its
AWS error code or exception class only, never by its message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from scms_codec.cert.certificate import Certificate

from .stores.ca import CaStore

__all__ = ["Health", "ca_check", "run_checks", "table_check"]

log = logging.getLogger(__name__)

OK = "ok"
# A key no item of any table uses (every pk has a TYPE# prefix): the read finds nothing, cheaply.
_SENTINEL = {"pk": {"S": "HEALTH"}, "sk": {"S": "HEALTH"}}

Check = Callable[[], None]


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


def ca_check(ca_store: CaStore, role: str) -> Check:
    """The active certificate of ``role`` exists, decodes and has the HashedId8 it is stored under."""

    def check() -> None:
        record = ca_store.active(role)
        if record is None:
            raise LookupError(f"no active {role} certificate")
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
