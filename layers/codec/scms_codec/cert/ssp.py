"""Service-specific permissions a certificate carries for the SCMS's own PSIDs (protocol.md §1.1).

A CA certificate names its role in the ``SecurityMgmtSsp`` of PSID 35 (an MA's ``relevantPsids``, an
LA's ``laId``, ...); a CRL signer holds PSID 256 with a ``CrlSsp`` (1609.2 §7.3, protocol.md §3.5).
Each reader returns None when the certificate has no such SSP, or when it does not decode: whether
that is an error is the caller's decision.
"""

from __future__ import annotations

from typing import Any, Final

from .. import asn1
from ..errors import CodecError
from .certificate import Certificate

__all__ = ["CRL_PSID", "SECURITY_MGMT_PSID", "crl_ssp", "ma_relevant_psids", "opaque_ssp", "security_mgmt_ssp"]

SECURITY_MGMT_PSID: Final = 35
CRL_PSID: Final = 256


def opaque_ssp(cert: Certificate, psid: int) -> bytes | None:
    """The opaque SSP of ``psid`` in the certificate's ``appPermissions`` (the first one), else None."""
    for entry in cert.tbs.get("appPermissions", ()):
        ssp = entry.get("ssp")
        if entry.get("psid") == psid and ssp is not None and ssp[0] == "opaque":
            return bytes(ssp[1])
    return None


def _decoded(cert: Certificate, psid: int, type_name: str) -> Any | None:
    raw = opaque_ssp(cert, psid)
    if raw is None:
        return None
    try:
        return asn1.decode(type_name, raw)
    except CodecError:
        return None


def security_mgmt_ssp(cert: Certificate) -> tuple[str, Any] | None:
    """The PSID 35 ``SecurityMgmtSsp`` as ``(role choice, value)``, e.g. ``("ma", {"relevantPsids": [...]})``."""
    value = _decoded(cert, SECURITY_MGMT_PSID, "SecurityMgmtSsp")
    return None if value is None else (str(value[0]), value[1])


def ma_relevant_psids(cert: Certificate) -> frozenset[int] | None:
    """``relevantPsids`` of an MA certificate's ``MaSsp`` (protocol.md §3.6), None for any other certificate."""
    ssp = security_mgmt_ssp(cert)
    if ssp is None or ssp[0] != "ma":
        return None
    return frozenset(int(p) for p in ssp[1]["relevantPsids"])


def crl_ssp(cert: Certificate) -> dict[str, Any] | None:
    """The PSID 256 ``CrlSsp`` (``associatedCraca``, ``crls``) of a CRL signer certificate."""
    value = _decoded(cert, CRL_PSID, "CrlSsp")
    return value if isinstance(value, dict) else None
