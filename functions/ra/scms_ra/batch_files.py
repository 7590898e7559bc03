"""Authorization-certificate batch files: names and the zip layout of one i-period (1609.2.1 8.2; protocol.md §2.3).

Name: ``<requestHash>_<i>.zip``, the request hash as 16 hex digits of its HashedId8, i in hex. We
emit the hash upper-case and i lower-case minimal-length hex (OpenSCMS's choice; protocol.md §2.3
leaves the case open) and accept either case on input. i is always hex, even when it has only
decimal digits (OpenSCMS reads ``10`` as ten; it is sixteen).

Zip: stored entries (no compression), no folder, in this order: ``<i>.info`` (COER
``RaEeCertInfoSpdu``), then ``<i>_<j>`` for each j in ascending order (one
``AcaEeCertResponse{Plain,Private,Cubk}Spdu`` each), i and j lower-case minimal-length hex. Every
header field is fixed (timestamp 1980-01-01 00:00:00, Unix attributes 0644), so the same inputs
give the same octets and the file name stays a valid ETag. j values may have gaps (the ACA may
refuse a certificate by policy) but never repeat.

This module uses only the standard library and the codec, so the device side (``scms_ee``) reads
batches with the same rules the RA writes them.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from scms_codec.errors import CodecError
from scms_codec.spdu.ra_ee_ack import RaEeCertInfo, build_ra_ee_cert_info, parse_ra_ee_cert_info

__all__ = [
    "BadBatchName",
    "BadPeriodZip",
    "BatchName",
    "PeriodZip",
    "batch_filename",
    "batch_key",
    "parse_batch_filename",
    "period_zip",
    "read_period_zip",
]

_NAME = re.compile(r"([0-9A-Fa-f]{16})_([0-9A-Fa-f]{1,8})\.zip")
# Entry names: minimal-length hex (no leading zero) so that each (i, j) has exactly one name.
_HEX = r"(?:0|[1-9a-fA-F][0-9a-fA-F]{0,7})"
_INFO_ENTRY = re.compile(rf"({_HEX})\.info")
_CERT_ENTRY = re.compile(rf"({_HEX})_({_HEX})")
_MAX_I = 0xFFFF  # IValue ::= Uint16
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest DOS timestamp: fixed so that the bytes are deterministic
_UNIX_FILE_0644 = (0o100644 << 16) & 0xFFFFFFFF


class BadBatchName(ValueError):
    """A batch file name that does not follow ``<16 hex>_<hex i>.zip`` (the RA answers 400-42)."""


class BadPeriodZip(ValueError):
    """A batch zip that breaks the layout: names, order, extra entries, compression, a bad .info."""


@dataclass(frozen=True)
class BatchName:
    """A parsed batch file name: the request's HashedId8 and the i-period."""

    request_hash: bytes
    i: int

    @property
    def filename(self) -> str:
        """The canonical spelling (upper-case hash, lower-case i)."""
        return batch_filename(self.request_hash, self.i)


def _check_hash(request_hash: bytes) -> None:
    if not isinstance(request_hash, bytes) or len(request_hash) != 8:
        raise ValueError("request_hash: expected the 8 octets of a HashedId8")


def _check_i(i: int) -> None:
    if not 0 <= i <= _MAX_I:
        raise ValueError(f"i: expected an IValue 0..{_MAX_I}, got {i}")


def batch_filename(request_hash: bytes, i: int) -> str:
    """``<REQUESTHASH>_<i>.zip``: 16 upper-case hex digits, i in lower-case minimal-length hex."""
    _check_hash(request_hash)
    _check_i(i)
    return f"{request_hash.hex().upper()}_{i:x}.zip"


def batch_key(request_hash: bytes, i: int) -> str:
    """The artifacts-bucket key of batch i of a request: ``batches/<REQUESTHASH>/<file name>``."""
    return f"batches/{request_hash.hex().upper()}/{batch_filename(request_hash, i)}"


def parse_batch_filename(name: str) -> BatchName:
    """Parse ``<16 hex>_<1..8 hex>.zip`` in either case, i as hex; ``BadBatchName`` otherwise."""
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise BadBatchName("filename: expected <16 hex digits>_<i in hex>.zip")
    i = int(match.group(2), 16)
    if i > _MAX_I:
        raise BadBatchName(f"filename: i {i:x} exceeds the IValue range")
    return BatchName(bytes.fromhex(match.group(1)), i)


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3  # Unix, whatever the platform that builds it
    info.external_attr = _UNIX_FILE_0644
    return info


def period_zip(request_hash: bytes, i: int, responses: Mapping[int, bytes], info: RaEeCertInfo) -> bytes:
    """Batch i's zip: ``<i>.info`` then ``<i>_<j>`` in j order, stored, deterministic (protocol.md §2.3)."""
    _check_hash(request_hash)
    _check_i(i)
    if info.current_i != i or info.request_hash != request_hash:
        raise ValueError("info: currentI and requestHash must be this batch's")
    for j in responses:
        if not 0 <= j <= 0xFFFFFFFF:
            raise ValueError(f"responses: j {j} is not a 32-bit value")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_entry(f"{i:x}.info"), build_ra_ee_cert_info(info))
        for j in sorted(responses):
            archive.writestr(_entry(f"{i:x}_{j:x}"), bytes(responses[j]))
    return buffer.getvalue()


@dataclass(frozen=True)
class PeriodZip:
    """A batch zip as read: its ``.info`` (decoded), and the response SPDUs by j in ascending order."""

    info: RaEeCertInfo
    info_spdu: bytes = field(repr=False)
    responses: Mapping[int, bytes] = field(repr=False)


def _open(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            for entry in entries:
                if entry.compress_type != zipfile.ZIP_STORED:
                    raise BadPeriodZip(f"entry {entry.filename!r}: compressed (method {entry.compress_type})")
                if entry.flag_bits & 0x1:
                    raise BadPeriodZip(f"entry {entry.filename!r}: encrypted")
            return [(entry, archive.read(entry)) for entry in entries]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise BadPeriodZip(f"not a readable zip: {exc}") from None


def read_period_zip(data: bytes, *, expected: BatchName | None = None) -> PeriodZip:
    """Read a batch zip with every layout rule checked; ``BadPeriodZip`` names the first broken one.

    ``expected`` (the name it was downloaded under) must agree with the ``.info``'s requestHash
    and currentI and with the entry names.
    """
    entries = _open(bytes(data))
    if not entries:
        raise BadPeriodZip("empty zip: the .info entry is missing")
    first, info_spdu = entries[0]
    match = _INFO_ENTRY.fullmatch(first.filename)
    if match is None:
        raise BadPeriodZip(f"first entry {first.filename!r}: expected <i hex>.info")
    i = int(match.group(1), 16)
    try:
        info = parse_ra_ee_cert_info(info_spdu).content
    except CodecError as exc:
        raise BadPeriodZip(f"{first.filename}: not a RaEeCertInfoSpdu ({type(exc).__name__})") from None
    if info.current_i != i:
        raise BadPeriodZip(f"{first.filename}: currentI {info.current_i:x} differs from the entry name")
    if expected is not None and (expected.i != i or expected.request_hash != info.request_hash):
        raise BadPeriodZip(f"{first.filename}: belongs to another batch than {expected.filename}")
    responses: dict[int, bytes] = {}
    previous = -1
    for entry, body in entries[1:]:
        cert_match = _CERT_ENTRY.fullmatch(entry.filename)
        if cert_match is None:
            raise BadPeriodZip(f"entry {entry.filename!r}: expected <i hex>_<j hex>")
        if int(cert_match.group(1), 16) != i:
            raise BadPeriodZip(f"entry {entry.filename!r}: belongs to another i-period")
        j = int(cert_match.group(2), 16)
        if j <= previous:
            raise BadPeriodZip(f"entry {entry.filename!r}: j out of order or repeated")
        previous = j
        responses[j] = body
    return PeriodZip(info, info_spdu, responses)
