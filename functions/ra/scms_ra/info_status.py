"""``GET /v3/certificate-management-info-status``: what devices should fetch, signed by the RA.

1609.2.1 6.3.5.14, Table 23 and clause 8.7 (protocol.md §2.2, §3.5). The body is a
``CertificateManagementInformationStatusSpdu`` (Signed{ScmsPdu, 35} by the RA's active certificate)
whose ``CertificateManagementInfoStatus`` holds, all in Time32 (never Unix seconds, protocol.md §3.5):

- ``crl``: per latest CRL (``CrlIndex.latest_all``) that the newest CTL of the home series still
  vouches for (``trust.current_crls``: its CRACA is, or chains to, an approved root) its CRACA,
  series and issueDate, ordered by CRACA then series;
- ``ctl``: per CTL series (one per stored root, named by its HashedId8) the newest CTL's sequence
  number and when it was stored;
- ``caCcf``: when the home series' certificate chain file last changed (``ccf.certificate_chain_file``);
- ``ma``: one entry, the active MA certificate's ``relevantPsids`` (``Settings.ma_relevant_psids``
  when it was issued) and when it was stored;
- ``ra``: when the active RA certificate was stored.

Name ``scms-management-infostatus_<host>_<lastUpdate>.oer`` (8.7): ``host`` the RA host name the
request was sent to (``ra`` when it is not a plain DNS name), ``lastUpdate`` the newest of the times
above in ISO 8601 basic UTC form ``YYYYMMDDTHHMMSSZ`` (protocol.md §2.2 leaves colons open; a file
name is better without them). The name changes whenever the content does, so it is the ETag, and
the octets are signed once per content (``stores.signed_files``) so that they stay the same under it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Final, Protocol

from scms_service.errors import NotFound
from scms_service.stores.ca import CaRecord, CtlRecord
from scms_service.stores.signed_files import SignedFileStore

from scms_codec import time32
from scms_codec.cert.certificate import Certificate
from scms_codec.cert.ssp import ma_relevant_psids
from scms_codec.errors import CodecError
from scms_codec.secured.signer import Signer
from scms_codec.spdu.cert_management import (
    CertificateManagementInfoStatus,
    CrlInfoStatus,
    CtlInfoStatus,
    MaInfoStatus,
    build_info_status_spdu,
)
from scms_codec.spdu.scms_pdu import encode_scms_pdu

from . import ccf
from .served_file import ServedFile
from .trust import CorruptTrustData, CrlIndex, current_crls

__all__ = ["SIGNED_TTL", "InfoSource", "host_label", "info_status", "info_status_file", "last_update", "signed_key"]

_DEFAULT_HOST: Final = "ra"
SIGNED_TTL: Final = 400 * 86_400
"""Seconds a signed content is kept: far longer than any CRL interval, so a content still served keeps its octets."""
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


class InfoSource(Protocol):
    """CA certificates and CTLs (``stores.ca.CaStore`` fits)."""

    def active(self, role: str) -> CaRecord | None: ...

    def records(self, role: str) -> list[CaRecord]: ...

    def ctls(self, series_id: bytes) -> list[CtlRecord]: ...


def host_label(host: str | None) -> str:
    """The request's host name for the file name: lower case, port dropped; ``ra`` unless a plain DNS name."""
    if not host:
        return _DEFAULT_HOST
    name = host.strip().lower()
    name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    return name if len(name) <= 253 and _HOST.fullmatch(name) else _DEFAULT_HOST


def _active(source: InfoSource, role: str) -> CaRecord:
    record = source.active(role)
    if record is None:
        raise NotFound(f"no {role.upper()} certificate yet")
    return record


def info_status(source: InfoSource, crls: CrlIndex, *, now: int) -> CertificateManagementInfoStatus:
    """The current ``CertificateManagementInfoStatus`` at Time32 ``now`` (404 before ``scms init``)."""
    root = _active(source, "root")
    ra = _active(source, "ra")
    ma = _active(source, "ma")
    crl = tuple(CrlInfoStatus(r.craca, r.series, r.issue_date) for r in current_crls(crls, source, root.hashed_id8))
    ctl: list[CtlInfoStatus] = []
    for series in sorted({r.hashed_id8 for r in source.records("root")}):
        stored = source.ctls(series)
        if stored:
            newest = max(stored, key=lambda c: c.sequence_number)
            ctl.append(CtlInfoStatus(series, newest.sequence_number, newest.created_at))
    try:
        home = ccf.certificate_chain_file(source, root.hashed_id8.hex(), now=now)
    except NotFound as exc:
        raise NotFound("no CTL of the home series yet") from exc
    try:
        psids = ma_relevant_psids(Certificate.from_bytes(ma.certificate)) or frozenset()
    except CodecError as exc:
        raise CorruptTrustData(f"stored MA certificate {ma.hashed_id8.hex()} does not decode") from exc
    return CertificateManagementInfoStatus(
        crl=crl,
        ctl=tuple(ctl),
        ca_ccf=time32.from_unix(home.last_modified),
        ma=(MaInfoStatus(tuple(sorted(psids)), ma.created_at),),
        ra=ra.created_at,
    )


def last_update(status: CertificateManagementInfoStatus) -> int:
    """The newest Time32 in ``status``: when it last changed."""
    times = [status.ca_ccf, *(c.issue_date for c in status.crl), *(c.last_update for c in status.ctl)]
    times += [m.updated for m in status.ma]
    if status.ra is not None:
        times.append(status.ra)
    return max(times)


def signed_key(status: CertificateManagementInfoStatus, ra_certificate: bytes) -> str:
    """The ``SignedFileStore`` key of ``status`` signed by that RA certificate: SHA-256 of both, hex."""
    content = encode_scms_pdu(CertificateManagementInfoStatus.PATH, status.to_asn1())
    return "infostatus-" + hashlib.sha256(content + hashlib.sha256(ra_certificate).digest()).hexdigest()


def info_status_file(
    source: InfoSource,
    crls: CrlIndex,
    signer: Callable[[], Signer],
    signed: SignedFileStore,
    *,
    host: str | None,
    now: int,
) -> ServedFile:
    """The signed info status, its 8.7 name and Last-Modified (Unix s); ``signer`` gives the RA's.

    The SPDU is signed once per content and RA certificate and kept in ``signed`` (a signature
    differs each time it is made; the name, the ETag, promises the same octets, and a ``Range``
    resume must splice the same file). The RA key is read only when a new content is signed.
    """
    status = info_status(source, crls, now=now)
    updated = last_update(status)
    stamp = time32.to_datetime(updated).strftime("%Y%m%dT%H%M%SZ")
    key = signed_key(status, _active(source, "ra").certificate)
    body = signed.get(key)
    if body is None:
        body = signed.put_once(key, build_info_status_spdu(status, signer()), now_unix=time32.to_unix(now),
                               ttl=SIGNED_TTL)  # fmt: skip
    return ServedFile(
        body=body,
        filename=f"scms-management-infostatus_{host_label(host)}_{stamp}.oer",
        last_modified=time32.to_unix(updated),
    )
