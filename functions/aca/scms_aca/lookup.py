"""Which request a certificate answered: the ACA's part of a revocation (protocol.md §3.6 step 1).

The MA holds a certificate (from a misbehaviour report or an operator) and asks the ACA which
``RaAcaCertRequestSpdu`` it answered with it, by the certificate's HashedId8; the answer is that
request's HashedId8, which only the RA can turn into a device (its ``byAcaRequest`` index). The ACA
learns no device and answers nothing else: no certificate, no response, no linkage value.
docs/architecture.md "Revocation and trust distribution", table "Calls between authorities".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from scms_service.errors import BadRequest
from scms_service.stores.aca_responses import AcaResponseStore

__all__ = ["MAX_CERT_IDS", "InvalidLookup", "LookupResult", "lookup", "parse_cert_ids"]

MAX_CERT_IDS = 100
_HASHED_ID8_HEX = re.compile(r"[0-9a-f]{16}")


class InvalidLookup(BadRequest):
    """The certificate ids are not 1..100 HashedId8s in lower-case hex."""


@dataclass(frozen=True)
class LookupResult:
    """Per certificate id asked for: the request it answered (``found``) or nothing known (``missing``)."""

    found: tuple[tuple[bytes, bytes], ...]  # (certId, acaRequestId), in the order asked
    missing: tuple[bytes, ...]


def parse_cert_ids(value: object) -> list[bytes]:
    """1..100 certificate ids (16 lower-case hex digits each) as octets; ``InvalidLookup`` otherwise."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CERT_IDS:
        raise InvalidLookup(f"certIds: expected a list of 1..{MAX_CERT_IDS} HashedId8s (16 lower-case hex)")
    ids: list[bytes] = []
    for entry in value:
        if not isinstance(entry, str) or not _HASHED_ID8_HEX.fullmatch(entry):
            raise InvalidLookup("certIds: every entry is a HashedId8 in 16 lower-case hex digits")
        ids.append(bytes.fromhex(entry))
    return ids


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
