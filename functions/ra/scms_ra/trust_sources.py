"""Where the trust downloads read from: CaTable (certificates, CTLs), the CRL generator's
records (``stores.crl_entries`` on CrlTable), S3 and the signed info status (RaTable).

Built per request from Settings (the adapters are cheap: ``scms_service.aws`` keeps one boto3 client
per process); tests pass in-memory stores instead (``app.configure_trust``).
"""

from __future__ import annotations

from dataclasses import dataclass

from scms_service.config import Settings
from scms_service.stores.artifacts import Artifacts, S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore
from scms_service.stores.crl_entries import DynamoDbCrlEntryStore
from scms_service.stores.signed_files import DynamoDbSignedFileStore, SignedFileStore

from .info_status import InfoSource
from .trust import CrlIndex

__all__ = ["TrustSources", "from_settings"]


@dataclass(frozen=True)
class TrustSources:
    """CaTable (``ca``: active certificates, records, CTLs), the CRL index, the artifacts bucket and the
    RA's signed files (RaTable)."""

    ca: InfoSource
    crls: CrlIndex
    artifacts: Artifacts
    signed: SignedFileStore


def from_settings(settings: Settings) -> TrustSources:
    """The deployed sources: CaTable, CrlTable and the artifacts bucket named by ``settings``."""
    return TrustSources(
        ca=DynamoDbCaStore.from_settings(settings),
        crls=DynamoDbCrlEntryStore.from_settings(settings),
        artifacts=S3Artifacts.from_settings(settings),
        signed=DynamoDbSignedFileStore.from_settings(settings),
    )
