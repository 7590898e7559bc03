"""Fixtures for the ACA tests: a real hierarchy (in memory), an RA side and the use case's inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from scms_aca.issue import HierarchyRaCertificates, IssuePolicy, IssueResult, issue_batch
from scms_service.config import load_settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.stores.aca_responses import FakeAcaResponseStore
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault

from scms_codec.secured.keyring import Keyring
from scms_codec.secured.signer import Signer
from tests.unit.aca.simulator import Ra

NOW = 700_000_000  # Time32
HIERARCHY_AT = NOW - 10_000


@pytest.fixture(scope="session")
def hierarchy() -> Hierarchy:
    ca, _ = init_hierarchy(load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(),
                           now=HIERARCHY_AT)  # fmt: skip
    return ca


@dataclass
class Aca:
    """The use case wired to the hierarchy, with a fake response store; ``issue`` runs one batch."""

    hierarchy: Hierarchy
    keyring: Keyring
    store: FakeAcaResponseStore
    signer: Signer
    resolver: HierarchyRaCertificates
    policy: IssuePolicy

    def issue(self, spdus: list[bytes], **changes: Any) -> list[IssueResult]:
        kwargs: dict[str, Any] = {
            "aca": self.signer, "ra_certificate_resolver": self.resolver, "plv_keys": self.keyring,
            "now": NOW, "policy": self.policy, "responses": self.store,
        }  # fmt: skip
        kwargs.update(changes)
        return issue_batch(spdus, **kwargs)


def resolver_for(ca: Hierarchy, now: int = NOW) -> HierarchyRaCertificates:
    certificates = [c for r in ca.records() if (c := ca.by_hashed_id8(r.hashed_id8)) is not None]
    return HierarchyRaCertificates(certificates, ca.anchors(), now=now)


@pytest.fixture
def ra(hierarchy: Hierarchy) -> Ra:
    return Ra(hierarchy.signer("ra"), epoch=NOW - 1000)


@pytest.fixture
def make_aca(hierarchy: Hierarchy, ra: Ra) -> Callable[..., Aca]:
    def make(**changes: Any) -> Aca:
        values: dict[str, Any] = {
            "hierarchy": hierarchy, "keyring": ra.lines.aca_keyring(), "store": FakeAcaResponseStore(),
            "signer": hierarchy.signer("aca"), "resolver": resolver_for(hierarchy),
            "policy": IssuePolicy(hierarchy.certificate("root").hashed_id3, 1),
        }  # fmt: skip
        values.update(changes)
        return Aca(**values)

    return make


@pytest.fixture
def aca(make_aca: Callable[..., Aca]) -> Aca:
    return make_aca()
