"""Which request a certificate answered: the ACA's part of a revocation (protocol.md §3.6 step 1).

The MA holds a certificate (from a misbehaviour report or an operator) and asks the ACA which
``RaAcaCertRequestSpdu`` it answered with it, by the certificate's HashedId8; the answer is that
request's HashedId8, which only the RA can turn into a device (its ``byAcaRequest`` index). The ACA
learns no device and answers nothing else: no certificate, no response, no linkage value.

The other question (``hash_entries``): for the requests the RA made for a revoked device's
non-butterfly certificates (their HashedId8s, which the RA keeps), the HashedId10 and validity end
of each certificate the ACA issued for them, so the MA can put them on the hash CRL (protocol.md
§3.5) without the RA ever learning a certificate. Requests answered with a certificate that carries
linkage data get nothing (the linked CRL revokes those); unknown ones are skipped. The ACA learns
that these requests belong to one revoked device; their certificates are published together on
the hash CRL anyway, so this links nothing the CRL does not link publicly.
docs/architecture.md "Revocation and trust distribution", table "Calls between authorities".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from scms_service.errors import BadRequest
from scms_service.stores.aca_responses import AcaResponseStore, HashCrlEntry

__all__ = [
    "MAX_ACA_REQUESTS",
    "MAX_CERT_IDS",
    "HashEntriesResult",
    "InvalidLookup",
    "LookupResult",
    "hash_entries",
    "lookup",
    "parse_aca_requests",
    "parse_cert_ids",
]

MAX_CERT_IDS = 100
MAX_ACA_REQUESTS = 100
_HASHED_ID8_HEX = re.compile(r"[0-9a-f]{16}")


class InvalidLookup(BadRequest):
    """The certificate ids or request hashes are not 1..100 HashedId8s in lower-case hex."""


@dataclass(frozen=True)
class LookupResult:
    """Per certificate id asked for: the request it answered (``found``) or nothing known (``missing``)."""

    found: tuple[tuple[bytes, bytes], ...]  # (certId, acaRequestId), in the order asked
    missing: tuple[bytes, ...]


@dataclass(frozen=True)
class HashEntriesResult:
    """Per request asked for: its certificate's hash CRL entry (``found``) or nothing to add (``missing``)."""

    found: tuple[tuple[bytes, HashCrlEntry], ...]  # (acaRequest, entry), in the order asked
    missing: tuple[bytes, ...]


def _hashed_id8s(value: object, name: str, limit: int) -> list[bytes]:
    if not isinstance(value, list) or not 1 <= len(value) <= limit:
        raise InvalidLookup(f"{name}: expected a list of 1..{limit} HashedId8s (16 lower-case hex)")
    ids: list[bytes] = []
    for entry in value:
        if not isinstance(entry, str) or not _HASHED_ID8_HEX.fullmatch(entry):
            raise InvalidLookup(f"{name}: every entry is a HashedId8 in 16 lower-case hex digits")
        ids.append(bytes.fromhex(entry))
    return ids


def parse_cert_ids(value: object) -> list[bytes]:
    """1..100 certificate ids (16 lower-case hex digits each) as octets; ``InvalidLookup`` otherwise."""
    return _hashed_id8s(value, "certIds", MAX_CERT_IDS)


def parse_aca_requests(value: object) -> list[bytes]:
    """1..100 request hashes (HashedId8 of RaAcaCertRequestSpdus, 16 lower-case hex) as octets."""
    return _hashed_id8s(value, "acaRequests", MAX_ACA_REQUESTS)


def lookup(cert_ids: Sequence[bytes], *, responses: AcaResponseStore) -> LookupResult:
    """The request (HashedId8 of the RaAcaCertRequestSpdu) that each certificate answered, if the ACA issued it.

    A certificate the ACA never issued, or whose answer has expired (validity end + 7 days), is
    ``missing``. Duplicates are answered once, in the order first asked.
    """
    unique = list(dict.fromkeys(cert_ids))
    known = responses.lookup(unique)
    return LookupResult(
        found=tuple((c, known[c]) for c in unique if c in known),
        missing=tuple(c for c in unique if c not in known),
    )


def hash_entries(aca_requests: Sequence[bytes], *, responses: AcaResponseStore) -> HashEntriesResult:
    """HashedId10 and expiry of the non-butterfly certificate each request was answered with (protocol.md §3.5).

    A request never answered, expired, or answered with a certificate that carries linkage data is
    ``missing``. Duplicates are answered once, in the order first asked.
    """
    unique = list(dict.fromkeys(aca_requests))
    known = responses.hash_entries(unique)
    return HashEntriesResult(
        found=tuple((r, known[r]) for r in unique if r in known),
        missing=tuple(r for r in unique if r not in known),
    )
