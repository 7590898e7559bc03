"""An in-memory SCMS for the trust downloads: ``scms init``'s hierarchy, CRLs signed by its CRL generator."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import pytest
from scms_service.config import Settings, load_settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault

from scms_codec.cert.certificate import Certificate
from scms_codec.spdu.crl import CrlContents, build_secured_crl

NOW = 700_000_000


@dataclass(frozen=True)
class FakeCrlRecord:
    """``CrlRecord`` as docs/architecture.md "CRL generator" defines it."""

    craca: bytes
    series: int
    crl_serial: int
    issue_date: int
    next_crl: int
    s3_key: str
    entries_digest: bytes = b""


class FakeCrlIndex:
    """The read side of ``CrlEntryStore``: the latest record per (CRACA, series)."""

    def __init__(self) -> None:
        self.records: dict[tuple[bytes, int], FakeCrlRecord] = {}

    def latest(self, craca: bytes, series: int) -> FakeCrlRecord | None:
        return self.records.get((craca, series))

    def latest_all(self) -> list[FakeCrlRecord]:
        return list(self.records.values())


@dataclass
class TrustWorld:
    settings: Settings
    store: InMemoryCaStore
    vault: InMemoryKeyVault
    artifacts: InMemoryArtifacts
    hierarchy: Hierarchy
    crls: FakeCrlIndex = field(default_factory=FakeCrlIndex)

    @property
    def series(self) -> bytes:
        return self.hierarchy.certificate("root").hashed_id8

    def publish_crl(self, series: int, serial: int, issue_date: int = NOW, hashed: tuple[bytes, ...] = ()) -> bytes:
        """A hash CRL of ``series`` signed by the CRL generator, stored and recorded as the CRLG does."""
        craca = self.series
        entries = [{"id": h, "expiry": issue_date + 86_400} for h in hashed]
        contents = CrlContents(
            series,
            craca,
            issue_date,
            issue_date + 7 * 86_400,
            ("fullHashCrl", {"crlSerial": serial, "entries": entries}),
        )
        data = build_secured_crl(contents, self.hierarchy.signer("crlg"))
        key = f"crl/{craca.hex()}_{series}_{serial}.oer"
        self.artifacts.put(key, data)
        self.artifacts.put(f"crl/{craca.hex()}_{series}.oer", data)
        self.crls.records[(craca, series)] = FakeCrlRecord(
            craca, series, serial, issue_date, issue_date + 7 * 86_400, key
        )
        return data


def trust_world(settings: Settings | None = None, now: int = NOW) -> TrustWorld:
    settings = settings or load_settings({})
    store, vault, artifacts = InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts()
    hierarchy, _ = init_hierarchy(settings, store, vault, artifacts, now=now)
    return TrustWorld(settings, store, vault, artifacts, hierarchy)


@pytest.fixture(name="world")
def world_fixture() -> TrustWorld:
    """A fresh trust world per test (import by name: ``from tests.unit.ra.trust_world import world_fixture``)."""
    return trust_world()


@functools.cache
def other_root() -> Certificate:
    """Another SCMS's root (a root CA: self-signed, with certIssuePermissions), to approve beside the home root."""
    return trust_world(now=NOW - 100).hierarchy.certificate("root")
