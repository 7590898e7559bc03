"""``GET /v3/ra-certificate`` and ``GET /v3/ma-certificate[?psid=]``: the RA's and the MA's active certificate.

1609.2.1 6.3.5.12 (Table 21) and 6.3.5.13 (Table 22), protocol.md §2.2. Devices encrypt their
requests to the RA certificate and their misbehaviour reports to the MA certificate whose ``MaSsp``
``relevantPsids`` covers the PSID concerned (protocol.md §3.6), so ``psid`` (decimal) selects: an
MA certificate that does not cover it is 404. Bodies are the COER ``Certificate`` as stored; the
names ``ra_<HashedId8 hex>.oer`` / ``ma_<HashedId8 hex>.oer`` change when the role is rotated, so
they are the ETag; ``Last-Modified`` is when that certificate was stored (its activation).
"""

from __future__ import annotations

from typing import Final, Protocol

from scms_service.errors import NotFound
from scms_service.stores.ca import CaRecord

from scms_codec import time32
from scms_codec.cert.certificate import Certificate
from scms_codec.cert.ssp import ma_relevant_psids
from scms_codec.errors import CodecError

from .served_file import ServedFile
from .trust import CorruptTrustData, uint_param

__all__ = ["ActiveCertificates", "ma_certificate", "ra_certificate"]

_PSID_MAX: Final = 0xFFFFFFFF  # a Psid is at most four octets on the wire (1609.2 §6.3.29 p-encoding)


class ActiveCertificates(Protocol):
    """The active certificate of a CA role (``stores.ca.CaStore`` fits)."""

    def active(self, role: str) -> CaRecord | None: ...


def _active(source: ActiveCertificates, role: str) -> CaRecord:
    record = source.active(role)
    if record is None:
        raise NotFound(f"no {role.upper()} certificate")
    return record


def _file(record: CaRecord) -> ServedFile:
    return ServedFile(
        body=record.certificate,
        filename=f"{record.role}_{record.hashed_id8.hex()}.oer",
        last_modified=time32.to_unix(record.created_at),
    )


def ra_certificate(source: ActiveCertificates) -> ServedFile:
    """The RA's active certificate (404 before ``scms init``)."""
    return _file(_active(source, "ra"))


def ma_certificate(source: ActiveCertificates, psid: str | None) -> ServedFile:
    """The MA's active certificate; with ``psid`` only if its ``MaSsp`` covers it (400-42 malformed, 404 not)."""
    wanted = None if psid is None else uint_param("psid", psid, _PSID_MAX)
    record = _active(source, "ma")
    if wanted is not None:
        try:
            covered = ma_relevant_psids(Certificate.from_bytes(record.certificate))
        except CodecError as exc:
            raise CorruptTrustData(f"stored MA certificate {record.hashed_id8.hex()} does not decode") from exc
        if covered is None or wanted not in covered:
            raise NotFound(f"no MA certificate for PSID {wanted}")
    return _file(record)
