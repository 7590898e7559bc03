"""Which CA certificates a CTL vouches for: the issuer walk the CCF and the CRL listing share (protocol.md §3.5)."""

from __future__ import annotations

from collections.abc import Mapping

from scms_codec.cert.certificate import Certificate

__all__ = ["chains_to_approved_root"]


def chains_to_approved_root(cert: Certificate, certs: Mapping[bytes, Certificate], approved: frozenset[bytes]) -> bool:
    """Whether following issuer HashedId8s from ``cert`` through ``certs`` reaches a self-signed root whose
    HashedId32 ``approved`` lists (a CTL's ``rootCaApprove``); an unknown issuer or a loop is False."""
    seen: set[bytes] = set()
    current = cert
    while (issuer_id := current.issuer_id) is not None:
        issuer = certs.get(issuer_id)
        if issuer is None or issuer_id in seen:
            return False
        seen.add(issuer_id)
        current = issuer
    return current.hashed_id32 in approved
