"""Where the trust downloads read from: CaTable (certificates, CTLs), the CRL index (CrlTable) and S3.

Built per request from Settings (the adapters are cheap: ``scms_service.aws`` keeps one boto3 client
per process); tests pass in-memory stores instead (``app.configure_trust``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scms_service.config import Settings
from scms_service.stores.artifacts import Artifacts, S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore

from .info_status import InfoSource
from .trust import CrlIndex, CrlRecordView

__all__ = ["TrustSources", "from_settings"]


@dataclass(frozen=True)
class TrustSources:
    """CaTable (``ca``: active certificates, records, CTLs), the CRL index and the artifacts bucket."""

    ca: InfoSource
    crls: CrlIndex
    artifacts: Artifacts


class _NoCrls:
    """A CRL index with nothing published (until the CRL generator's store is wired)."""

    def latest(self, craca: bytes, series: int) -> CrlRecordView | None:
        return None

    def latest_all(self) -> Sequence[CrlRecordView]:
        return []


def from_settings(settings: Settings) -> TrustSources:
    """The deployed sources: CaTable, CrlTable and the artifacts bucket named by ``settings``."""
    return TrustSources(
        ca=DynamoDbCaStore.from_settings(settings),
        crls=_NoCrls(),
        artifacts=S3Artifacts.from_settings(settings),
    )
