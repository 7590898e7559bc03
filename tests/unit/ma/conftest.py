"""Fixtures for the MA tests: a real hierarchy (in memory), pseudonym certificates and reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from scms_service.config import Settings, load_settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault

from scms_codec.cert.certificate import Certificate, issue_explicit
from scms_codec.crypto.keys import verification_key_to_asn1
from scms_codec.secured.signed_data import sign_tbs_data
from scms_codec.secured.signer import Signer
from scms_codec.spdu.misbehavior import MISBEHAVIOR_REPORT_PSID, build_misbehavior_report

NOW = 700_000_000  # Time32
HIERARCHY_AT = NOW - 10_000
BSM_PSID = 32


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pseudonym(
    issuer: Signer,
    *,
    psids: tuple[int, ...] = (BSM_PSID, MISBEHAVIOR_REPORT_PSID),
    linkage: bool = True,
    start: int = NOW - 3600,
    i_cert: int = 5,
    linkage_value: bytes = bytes(range(9)),
) -> Signer:
    """An authorization (pseudonym) certificate under ``issuer``: linkage data unless ``linkage`` is False."""
    key = new_key()
    identifier: tuple[str, Any] = (
        ("linkageData", {"iCert": i_cert, "linkage-value": linkage_value}) if linkage else ("none", None)
    )
    tbs: dict[str, Any] = {
        "id": identifier,
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 1,
        "validityPeriod": {"start": start, "duration": ("hours", 169)},
        "appPermissions": [{"psid": p} for p in psids],
        "verifyKeyIndicator": ("verificationKey", verification_key_to_asn1(key.public_key())),
    }
    assert issuer.certificate is not None
    return Signer(key, issue_explicit(tbs, key.public_key(), issuer.certificate, issuer.key))


def evidence(suspect: Signer, *, at: int = NOW - 20) -> bytes:
    """A BSM-like signed message of ``suspect`` observed at Time32 ``at``."""
    tbs = {
        "payload": {"data": {"protocolVersion": 3, "content": ("unsecuredData", b"position and speed")}},
        "headerInfo": {"psid": BSM_PSID, "generationTime": at * 1_000_000},
    }
    return sign_tbs_data(tbs, suspect, signer_form="certificate")


@pytest.fixture(scope="session")
def hierarchy() -> Hierarchy:
    ca, _ = init_hierarchy(load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(),
                           now=HIERARCHY_AT)  # fmt: skip
    return ca


@pytest.fixture
def settings() -> Settings:
    return load_settings({})


@dataclass
class Parties:
    hierarchy: Hierarchy
    reporter: Signer
    suspect: Signer

    @property
    def ma_cert(self) -> Certificate:
        return self.hierarchy.certificate("ma")

    def report(
        self, *, reporter: Signer | None = None, evidence_bytes: bytes | None = None, at: int = NOW - 10
    ) -> bytes:
        return build_misbehavior_report(
            evidence(self.suspect) if evidence_bytes is None else evidence_bytes,
            reporter or self.reporter,
            self.ma_cert,
            generation_time=at,
        )


@pytest.fixture(scope="session")
def parties(hierarchy: Hierarchy) -> Parties:
    aca = hierarchy.signer("aca")
    return Parties(hierarchy, pseudonym(aca), pseudonym(aca))
