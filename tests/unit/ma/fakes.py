"""Fakes of the MA's callees speaking the contract's JSON (docs/architecture.md "Calls between authorities")."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scms_ma.authorities import AcaLookup, CrlPublisher, LaSeeds, RaRevoker, TaskFailed
from scms_ma.revoke import Authorities
from scms_service.stores.crl_entries import HashedEntry, LinkedEntry

CHAIN = "ab" * 16
ENROLLMENT_HASH = "cd" * 32


@dataclass
class FakeAuthorities:
    """Every callee's state: the ACA's issued certificates, the RA's devices, the LAs' seed origins."""

    issued: dict[str, str] = field(default_factory=dict)  # certId → acaRequestId
    # acaRequest → (hashedId10 hex, expiry) of the non-butterfly certificate the ACA answered it with
    hash_crl: dict[str, tuple[str, int]] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # "by:value" → device
    origin: int = 0
    calls: list[tuple[str, Any]] = field(default_factory=list)
    linked: dict[bytes, LinkedEntry] = field(default_factory=dict)
    hashed: dict[bytes, HashedEntry] = field(default_factory=dict)
    fail: dict[str, str] = field(default_factory=dict)  # callee → error name it raises

    def _maybe_fail(self, who: str) -> None:
        if who in self.fail:
            raise TaskFailed(self.fail[who])

    def aca(self, event: dict[str, Any]) -> Any:
        self.calls.append(("aca", event))
        self._maybe_fail("aca")
        if "acaRequests" in event:
            asked = event["acaRequests"]
            assert 1 <= len(asked) <= 100  # the task's limit
            return {
                "found": [{"acaRequest": r, "hashedId10": self.hash_crl[r][0], "expiry": self.hash_crl[r][1]}
                          for r in asked if r in self.hash_crl],
                "missing": [r for r in asked if r not in self.hash_crl],
            }  # fmt: skip
        ids = event["certIds"]
        return {
            "found": [{"certId": c, "acaRequestId": self.issued[c]} for c in ids if c in self.issued],
            "missing": [c for c in ids if c not in self.issued],
        }

    def ra(self, event: dict[str, Any]) -> Any:
        self.calls.append(("ra", event))
        self._maybe_fail("ra")
        device = self.devices.get(f"{event['by']}:{event['value']}")
        if device is None:
            raise TaskFailed("RevocationTargetNotFound")
        already = device.get("revoked", False)
        device["revoked"] = True
        return {"alreadyRevoked": already, "chains": device["chains"], "enrollments": device["enrollments"],
                "acaRequests": device.get("acaRequests", [])}  # fmt: skip

    def la(self, la_id: str) -> Any:
        def seed(event: dict[str, Any]) -> Any:
            self.calls.append((f"la{la_id}", event))
            self._maybe_fail(f"la{la_id}")
            i = max(event["i"], self.origin)
            digest = hashlib.sha256(f"{la_id}{event['chainId']}{i}".encode()).hexdigest()[:32]
            return {"laId": f"000{la_id}", "i": i, "seed": digest}

        return seed

    def crlg(self, event: dict[str, Any]) -> Any:
        self.calls.append(("crlg", event))
        self._maybe_fail("crlg")
        return {
            "crls": [{"craca": "00" * 8, "series": 1, "crlSerial": 1, "issueDate": 1, "nextCrl": 2, "changed": True}]
        }

    def add_linked(self, entries: Sequence[LinkedEntry]) -> int:
        new = [e for e in entries if _linked_key(e) not in self.linked]
        self.linked.update({_linked_key(e): e for e in entries if _linked_key(e) not in self.linked})
        return len(new)

    def add_hashed(self, entries: Sequence[HashedEntry]) -> int:
        new = [e for e in entries if e.hashed_id10 not in self.hashed]
        self.hashed.update({e.hashed_id10: e for e in new})
        return len(new)

    def authorities(self) -> Authorities:
        return Authorities(
            aca_lookup=AcaLookup(self.aca),
            ra_revoke=RaRevoker(self.ra),
            la1_seed=LaSeeds(self.la("1"), "LA1"),
            la2_seed=LaSeeds(self.la("2"), "LA2"),
            publish=CrlPublisher(self.crlg),
            crl_entries=self,
        )

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def _linked_key(e: LinkedEntry) -> bytes:
    return e.la1_id + e.la2_id + e.seed1 + e.seed2 + e.i_seed.to_bytes(2, "big")


def device(*, chains: int = 1, aca_requests: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "chains": [{"chainId": f"{n:02x}" * 16, "iFirst": 10, "iLast": 20, "jMax": 20} for n in range(chains)],
        "enrollments": [{"certHash": ENROLLMENT_HASH, "expiry": 900_000_000}],
        "acaRequests": list(aca_requests),
    }
