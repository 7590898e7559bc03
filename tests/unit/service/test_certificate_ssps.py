"""The SSP readers of ``scms_codec.cert.ssp`` on the certificates ``scms init`` issues (protocol.md §1.1)."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import cast

import pytest
from scms_service.config import load_settings
from scms_service.hierarchy import ROLES, Hierarchy, init_hierarchy
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault

from scms_codec.cert.certificate import Certificate
from scms_codec.cert.ssp import CRL_PSID, crl_ssp, ma_relevant_psids, opaque_ssp, security_mgmt_ssp

NOW = 700_000_000


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    settings = load_settings({}, ma_relevant_psids="32,38")
    made, _ = init_hierarchy(settings, InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(), now=NOW)
    return made


def test_each_ca_names_its_role_in_its_security_mgmt_ssp(hierarchy: Hierarchy) -> None:
    expected = {"la1": "la", "la2": "la", "crlg": "crl"}
    for role in ROLES:
        if role.startswith("elector"):
            continue
        ssp = security_mgmt_ssp(hierarchy.certificate(role))
        assert ssp is not None and ssp[0] == expected.get(role, role), role


def test_only_the_ma_certificate_has_relevant_psids(hierarchy: Hierarchy) -> None:
    assert ma_relevant_psids(hierarchy.certificate("ma")) == frozenset({32, 38})
    assert ma_relevant_psids(hierarchy.certificate("ra")) is None  # twin: an RA certificate has none


def test_only_the_crl_generator_has_a_crl_ssp(hierarchy: Hierarchy) -> None:
    ssp = crl_ssp(hierarchy.certificate("crlg"))
    assert ssp is not None and ssp["associatedCraca"] == "issuerIsCraca" and set(ssp["crls"]) == {1, 2}
    assert crl_ssp(hierarchy.certificate("ma")) is None
    assert opaque_ssp(hierarchy.certificate("crlg"), CRL_PSID) is not None
    assert opaque_ssp(hierarchy.certificate("ra"), CRL_PSID) is None


def test_an_ssp_that_does_not_decode_reads_as_none(hierarchy: Hierarchy) -> None:
    ma = hierarchy.certificate("ma")
    tbs = copy.deepcopy(ma.tbs)
    for entry in tbs["appPermissions"]:
        if entry.get("ssp") is not None:
            entry["ssp"] = ("opaque", b"\xff\xff")
    broken = cast(Certificate, SimpleNamespace(tbs=tbs))  # the readers look at ``tbs`` only
    assert security_mgmt_ssp(broken) is None and ma_relevant_psids(broken) is None
    assert security_mgmt_ssp(ma) is not None  # twin: the real one decodes
