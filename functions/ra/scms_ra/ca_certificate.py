"""Public download of a CA certificate by HashedId8 (``GET /v3/ca-certificate?certId=``)."""

from __future__ import annotations

import re
from typing import Protocol

from scms_service.errors import BadRequest, NotFound

from scms_codec.errors import ErrorCode

__all__ = ["CaCertificate", "CertificateLookup", "ca_certificate"]

_CERT_ID = re.compile(r"[0-9a-fA-F]{16}")


class CaCertificate(Protocol):
    """What a lookup returns: the COER certificate (``stores.ca.CaRecord`` fits)."""

    @property
    def certificate(self) -> bytes: ...


class CertificateLookup(Protocol):
    """Finds a CA certificate by HashedId8 (``stores.ca.CaStore``; later ``hierarchy.Hierarchy``)."""

    def by_hashed_id8(self, hashed_id8: bytes) -> CaCertificate | None: ...


def ca_certificate(lookup: CertificateLookup, cert_id: str | None) -> tuple[bytes, str]:
    """The COER certificate named by ``cert_id`` (16 hex) and its file name; 400-42 if malformed, 404 if unknown."""
    if cert_id is None or not _CERT_ID.fullmatch(cert_id):
        raise BadRequest("certId: expected 16 hex digits (a HashedId8)", code=ErrorCode.FAILED_PARSING)
    hashed_id8 = bytes.fromhex(cert_id)
    found = lookup.by_hashed_id8(hashed_id8)
    if found is None:
        raise NotFound(f"no CA certificate {hashed_id8.hex()}")
    return found.certificate, f"{hashed_id8.hex()}.oer"
