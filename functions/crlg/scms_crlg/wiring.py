"""Production wiring of the CRL generator: CrlTable, the artifacts bucket, the hierarchy's ``crlg`` signer."""

from __future__ import annotations

from dataclasses import dataclass

from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import CaStore, DynamoDbCaStore, KeyVault, SecretsManagerKeyVault
from scms_service.stores.crl_entries import CrlEntryStore, DynamoDbCrlEntryStore

from .publish import CrlArtifacts, CrlSigner

__all__ = ["CrlgServices", "crl_signer"]


def crl_signer(ca_store: CaStore, vault: KeyVault) -> CrlSigner:
    """crlCraca = HashedId8 of the root; the ``crlg`` key read from the vault only when a CRL is signed."""
    hierarchy = Hierarchy.load(ca_store, vault)
    return CrlSigner(
        hierarchy.certificate("root").hashed_id8, lambda: hierarchy.signer("crlg"), hierarchy.certificate("crlg")
    )


@dataclass
class CrlgServices:
    """What ``publish`` needs besides Settings and the time."""

    store: CrlEntryStore
    artifacts: CrlArtifacts
    crlg: CrlSigner

    def __repr__(self) -> str:
        return f"CrlgServices(craca={self.crlg.craca.hex()})"

    @classmethod
    def from_settings(cls, settings: Settings) -> CrlgServices:
        """CrlTable, the artifacts bucket and the hierarchy (loaded and verified now; the key on first signature)."""
        return cls(
            DynamoDbCrlEntryStore.from_settings(settings),
            S3Artifacts.from_settings(settings),
            crl_signer(DynamoDbCaStore.from_settings(settings), SecretsManagerKeyVault.from_settings(settings)),
        )
