"""``GET /v3/crl?craca=<16 hex>&crlSeries=<decimal>``: the latest ``SecuredCrl`` of a (CRACA, series).

1609.2.1 6.3.5.10, Table 19 (protocol.md §2.2, §3.5). The CRL generator signs each CRL, writes it to
the artifacts and then records it (docs/architecture.md "CRL generator"); this serves the recorded
latest one as stored. Its name ``crl_<craca hex>_<series>_<serial hex>.oer`` changes with every new
CRL of the series, so it is the ETag; ``Last-Modified`` is the CRL's issueDate.
"""

from __future__ import annotations

from scms_service.errors import BadRequest, NotFound
from scms_service.stores.artifacts import Artifacts

from scms_codec import time32
from scms_codec.errors import ErrorCode

from .served_file import ServedFile
from .trust import UINT16_MAX, CrlIndex, CrlRecordView, hashed_id8_param, read_artifact, uint_param

__all__ = ["crl_file", "crl_filename"]


def crl_filename(record: CrlRecordView) -> str:
    """``crl_<craca hex>_<series>_<serial hex>.oer`` (series decimal as in the query, serial lower-case hex)."""
    return f"crl_{record.craca.hex()}_{record.series}_{record.crl_serial:x}.oer"


def crl_file(crls: CrlIndex, artifacts: Artifacts, craca: str | None, crl_series: str | None) -> ServedFile:
    """The latest CRL of (``craca``, ``crl_series``); 400-42 for a malformed parameter, 404 when there is none."""
    craca_id = hashed_id8_param("craca", craca)
    if crl_series is None:
        raise BadRequest("crlSeries: expected a decimal integer from 0 to 65535", code=ErrorCode.FAILED_PARSING)
    series = uint_param("crlSeries", crl_series, UINT16_MAX)
    record = crls.latest(craca_id, series)
    if record is None:
        raise NotFound(f"no CRL of CRACA {craca_id.hex()} series {series}")
    body = read_artifact(artifacts, record.s3_key, f"CRL {craca_id.hex()} series {series} #{record.crl_serial}")
    return ServedFile(body, crl_filename(record), time32.to_unix(record.issue_date))
