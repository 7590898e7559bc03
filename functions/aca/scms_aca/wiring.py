"""How the ACA's use case gets its inputs from a deployment: the RA certificates it accepts and its policy.

The LA-ACA keys come from ``scms_service.linkage_keys.la_aca_keyring`` (one secret per LA).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .issue import HierarchyRaCertificates, IssuePolicy

if TYPE_CHECKING:
    from scms_service.config import Settings
    from scms_service.hierarchy import Hierarchy

__all__ = ["policy_for", "ra_certificates"]


def policy_for(settings: Settings, hierarchy: Hierarchy) -> IssuePolicy:
    """cracaId = HashedId3 of the root (as the ECA sets it), both crlSeries and the clock skew from ``settings``.

    Certificates with linkage data name ``crl_series`` (the linked CRL), the others ``crl_hash_series``.
    """
    return IssuePolicy(
        craca_id=hierarchy.certificate("root").hashed_id3,
        crl_series=settings.crl_series,
        crl_hash_series=settings.crl_hash_series,
        clock_skew=settings.clock_skew,
        response_ttl=settings.aca_response_ttl,
    )


def ra_certificates(hierarchy: Hierarchy, *, now: int) -> HierarchyRaCertificates:
    """RA certificates accepted when they chain, at ``now``, to the hierarchy's roots through its certificates."""
    certificates = [c for r in hierarchy.records() if (c := hierarchy.by_hashed_id8(r.hashed_id8)) is not None]
    return HierarchyRaCertificates(certificates, hierarchy.anchors(), now=now)
