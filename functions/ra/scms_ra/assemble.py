"""Assemble a chunk's batch files: one zip per i-period to the artifacts bucket (1609.2.1 §8.2; protocol.md §2.3).

Each zip (``batch_files.period_zip``) holds ``<i>.info``, a ``RaEeCertInfoSpdu`` {generationTime
now, currentI i, requestHash, nextDlTime = the download time of period i+1}, and the delivered
``AcaEeCertResponse*Spdu`` of each j (a refused j is a gap). It goes to ``batch_files.batch_key``
as ``application/zip``. The zip is deterministic for the same certificates and ``now``, so a
retried task writes the same octets.
"""

from __future__ import annotations

from typing import Protocol

from scms_service.iperiod import IPeriods
from scms_service.stores.issued_certs import IssuedCertStore

from scms_codec.spdu.ra_ee_ack import RaEeCertInfo

from .batch_files import batch_key, period_zip

__all__ = ["ZIP_CONTENT_TYPE", "ZipStore", "assemble"]

ZIP_CONTENT_TYPE = "application/zip"


class ZipStore(Protocol):
    """Where the batch files go (``scms_service.stores.artifacts.S3Artifacts`` is one)."""

    def put(self, key: str, data: bytes, *, content_type: str = ...) -> None: ...


def assemble(
    issued: IssuedCertStore,
    files: ZipStore,
    request_hash: bytes,
    *,
    i_first: int,
    i_last: int,
    periods: IPeriods,
    now: int,
) -> int:
    """Write the zips of periods i_first..i_last of the request; returns how many were written."""
    if i_last < i_first:
        raise ValueError("i_first, i_last: an empty range")
    by_i: dict[int, dict[int, bytes]] = {i: {} for i in range(i_first, i_last + 1)}
    for cert in issued.list(request_hash, i_first, i_last):
        if cert.spdu is not None:
            by_i[cert.i][cert.j] = cert.spdu
    for i, responses in by_i.items():
        info = RaEeCertInfo(now, i, request_hash, periods.next_download_time(i + 1))
        files.put(
            batch_key(request_hash, i), period_zip(request_hash, i, responses, info), content_type=ZIP_CONTENT_TYPE
        )
    return len(by_i)
