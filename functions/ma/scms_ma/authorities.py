"""Typed clients of the authorities the MA calls: ACA lookup, RA revoke, LA seed, CRLG publish.

Each speaks the JSON of docs/architecture.md "Calls between authorities" through a ``Task`` (a
Lambda invoke or its in-process twin, ``wiring``) and checks the answer's shape: an answer that
is not the contract is ``AuthorityFailed`` (500), an unreachable or busy callee
``AuthorityUnavailable`` (503, the operator repeats the revocation, every step being idempotent),
``RevocationTargetNotFound`` from the RA or ``missing`` from the ACA ``TargetNotFound`` (404).
Seeds are kept out of reprs and never logged (protocol.md §4.6). Every call may carry the
revocation id as ``correlationId``, which the callee logs as its correlation id (never a secret).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scms_service.errors import NotFound, ScmsError, TransientStoreError

__all__ = [
    "AcaLookup",
    "AuthorityFailed",
    "AuthorityUnavailable",
    "Chain",
    "CrlPublisher",
    "Enrollment",
    "HashEntry",
    "LaSeed",
    "LaSeeds",
    "RaRevocation",
    "RaRevoker",
    "TargetNotFound",
    "Task",
    "TaskFailed",
]

Task = Callable[[dict[str, Any]], Any]
"""One call of a callee's task handler: the event in, its JSON answer out; ``TaskFailed`` on its error."""

_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX20 = re.compile(r"[0-9a-f]{20}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX4 = re.compile(r"[0-9a-f]{4}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Error names worth repeating the call for: a busy store, Lambda's crashed or timed-out container.
_TRANSIENT = frozenset({"TransientStoreError", "Lambda.ServiceException", "Sandbox.Timedout", "Unavailable"})


class TaskFailed(Exception):
    """A callee's task raised ``error_type`` (the exception class name, as ASL sees it)."""

    def __init__(self, error_type: str) -> None:
        super().__init__(error_type)
        self.error_type = error_type


class AuthorityUnavailable(TransientStoreError):
    """A callee could not be reached or was busy (503): the same revocation may be sent again."""


class AuthorityFailed(ScmsError):
    """A callee failed or answered outside its contract (500: a bug or a misconfiguration)."""


class TargetNotFound(NotFound):
    """The ACA issued no such certificate, or the RA knows no such request, certificate or device (404)."""


class ChainNotIssued(AuthorityFailed):
    """An LA never gave values for this chain (``UnknownChain``): no certificate carries it, nothing to revoke."""


def _call(task: Task, event: dict[str, Any], who: str, correlation_id: str | None = None) -> Any:
    if correlation_id is not None:
        event = {**event, "correlationId": correlation_id}
    try:
        return task(event)
    except TaskFailed as exc:
        if exc.error_type in _TRANSIENT:
            raise AuthorityUnavailable(f"{who} is busy; send the same revocation again") from exc
        if exc.error_type == "RevocationTargetNotFound":
            raise TargetNotFound(f"{who} knows no such target") from exc
        if exc.error_type == "UnknownChain":
            raise ChainNotIssued(f"{who} never gave values for this chain") from exc
        raise AuthorityFailed(f"{who} task failed ({exc.error_type})") from exc


def _int(value: Any, who: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise AuthorityFailed(f"{who} answered outside its contract")
    return value


def _hex(value: Any, pattern: re.Pattern[str], who: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise AuthorityFailed(f"{who} answered outside its contract")
    return value


@dataclass(frozen=True)
class HashEntry:
    """A hash CRL entry the ACA gave for a non-butterfly certificate: its HashedId10 and validity end."""

    hashed_id10: bytes
    expiry: int


class AcaLookup:
    """ACA ``lookup_task``: which RaAcaCertRequest each issued certificate answered (never a device)."""

    BATCH = 100  # the task's list limit

    def __init__(self, task: Task) -> None:
        self._task = task

    def __call__(self, cert_ids: Sequence[str], *, correlation_id: str | None = None) -> dict[str, str]:
        """certId → acaRequestId (16 hex each) for the certificates the ACA issued; others left out."""
        found: dict[str, str] = {}
        for entry in self._found({"certIds": list(cert_ids)}, correlation_id):
            found[_hex(entry.get("certId"), _HEX16, "the ACA")] = _hex(entry.get("acaRequestId"), _HEX16, "the ACA")
        return found

    def hash_entries(self, aca_requests: Sequence[str], *, correlation_id: str | None = None) -> list[HashEntry]:
        """The hash CRL entries of the non-butterfly certificates the ACA issued for these requests (16 hex each).

        Asked ``BATCH`` at a time; requests the ACA answered with a butterfly certificate, or never
        answered, give nothing.
        """
        entries: list[HashEntry] = []
        for start in range(0, len(aca_requests), self.BATCH):
            chunk = list(aca_requests[start : start + self.BATCH])
            for entry in self._found({"acaRequests": chunk}, correlation_id):
                if _hex(entry.get("acaRequest"), _HEX16, "the ACA") not in chunk:
                    raise AuthorityFailed("the ACA answered outside its contract")
                hid10 = _hex(entry.get("hashedId10"), _HEX20, "the ACA")
                entries.append(HashEntry(bytes.fromhex(hid10), _int(entry.get("expiry"), "the ACA")))
        return entries

    def _found(self, event: dict[str, Any], correlation_id: str | None) -> list[Mapping[str, Any]]:
        answer = _call(self._task, event, "the ACA", correlation_id)
        if not isinstance(answer, Mapping) or not isinstance(answer.get("found"), list):
            raise AuthorityFailed("the ACA answered outside its contract")
        if not all(isinstance(entry, Mapping) for entry in answer["found"]):
            raise AuthorityFailed("the ACA answered outside its contract")
        return list(answer["found"])


@dataclass(frozen=True)
class Chain:
    """One linkage chain of the revoked device, named by its opaque chain id (32 hex)."""

    chain_id: str = field(repr=False)
    i_first: int
    i_last: int
    j_max: int


@dataclass(frozen=True)
class Enrollment:
    """One enrollment certificate the device had: SHA-256 of its COER (64 hex) and its validity end."""

    cert_hash: str
    expiry: int


@dataclass(frozen=True)
class RaRevocation:
    """The RA's answer to ``revoke``: no device id, only chains, enrollment hashes and ACA request handles."""

    already_revoked: bool
    chains: tuple[Chain, ...]
    enrollments: tuple[Enrollment, ...]
    aca_requests: tuple[str, ...] = ()  # of the device's non-butterfly certificates (the ACA's handles)


class RaRevoker:
    """RA task ``revoke``: the device behind a request, certificate or id goes to Revoked (protocol.md §6)."""

    def __init__(self, task: Task) -> None:
        self._task = task

    def __call__(self, by: str, value: str, cause: str, *, correlation_id: str | None = None) -> RaRevocation:
        event = {"task": "revoke", "by": by, "value": value, "cause": cause}
        answer = _call(self._task, event, "the RA", correlation_id)
        try:
            chains = tuple(
                Chain(_hex(c["chainId"], _HEX32, "the RA"), _int(c["iFirst"], "the RA"), _int(c["iLast"], "the RA"),
                      _int(c["jMax"], "the RA"))
                for c in answer["chains"]
            )  # fmt: skip
            enrollments = tuple(
                Enrollment(_hex(e["certHash"], _HEX64, "the RA"), _int(e["expiry"], "the RA"))
                for e in answer["enrollments"]
            )
            aca_requests = tuple(_hex(h, _HEX16, "the RA") for h in answer["acaRequests"])
            already = answer["alreadyRevoked"]
        except (KeyError, TypeError) as exc:
            raise AuthorityFailed("the RA answered outside its contract") from exc
        if not isinstance(already, bool):
            raise AuthorityFailed("the RA answered outside its contract")
        return RaRevocation(already, chains, enrollments, aca_requests)


@dataclass(frozen=True)
class LaSeed:
    """An LA's linkage seed of one chain at i-period ``i`` (a secret until it is on a CRL)."""

    la_id: bytes
    i: int
    seed: bytes = field(repr=False)


class LaSeeds:
    """LA ``seed_task``: ls(i) of a chain, i = max(asked, the chain's origin) (protocol.md §4.6)."""

    def __init__(self, task: Task, who: str) -> None:
        self._task = task
        self._who = who

    def __call__(self, chain_id: str, i: int, *, correlation_id: str | None = None) -> LaSeed:
        answer = _call(self._task, {"chainId": chain_id, "i": i}, self._who, correlation_id)
        if not isinstance(answer, Mapping):
            raise AuthorityFailed(f"{self._who} answered outside its contract")
        la_id = _hex(answer.get("laId"), _HEX4, self._who)
        seed = _hex(answer.get("seed"), _HEX32, self._who)
        return LaSeed(bytes.fromhex(la_id), _int(answer.get("i"), self._who), bytes.fromhex(seed))


class CrlPublisher:
    """CRLG ``publish_task``: issue the CRLs whose entries changed; their summaries (no entries)."""

    _KEYS = ("craca", "series", "crlSerial", "issueDate", "nextCrl", "changed")

    def __init__(self, task: Task) -> None:
        self._task = task

    def __call__(self, *, force: bool = False, correlation_id: str | None = None) -> list[dict[str, Any]]:
        answer = _call(self._task, {"force": force}, "the CRL generator", correlation_id)
        crls = answer.get("crls") if isinstance(answer, Mapping) else None
        if not isinstance(crls, list) or not all(isinstance(c, Mapping) for c in crls):
            raise AuthorityFailed("the CRL generator answered outside its contract")
        return [{k: c[k] for k in self._KEYS if k in c} for c in crls]
