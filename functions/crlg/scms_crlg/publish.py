"""Publish the CRLs: one linked CRL and one hash CRL per CRACA (docs/architecture.md "CRL generator").

protocol.md §3.5 (``CrlContents``), §3.6 step 2 (the CRLG publishes what the MA hands it), §4.6
(seed evolution). For the (root, ``crl_series``) a ``fullLinkedCrl``: iRev = the current i-period;
each stored linked entry's seeds evolved from its iSeed to iRev with seedEvoFn1 and its own LaId;
entries whose iMax < iRev dropped (their certificates have all expired), entries whose iSeed > iRev
left for a later CRL (a seed does not evolve backwards); grouped by jmax, (la1Id, la2Id), iMax. For
the (root, ``crl_hash_series``) a ``fullHashCrl`` of the hash entries not yet expired. Both signed by
the ``crlg`` certificate, crlCraca = HashedId8 of the root.

Times: issueDate = now, but always at least one second after the (CRACA, series)'s previous CRL
(the info status tells devices a new CRL by its issueDate, 1609.2.1 6.3.5.14, so two CRLs of one
series never share one); nextCrl = issueDate + ``crl_interval``, cut to the end of the ``crlg``
certificate (a CRL must not outlive its signer: a verifier could not check it then; logged, rotate
the certificate). A ``crlg`` certificate not valid now is a ``PublishError``.

A new CRL (serial + 1) is issued when what it would list changed, when forced, or when less than
half of ``crl_interval`` is left before the current one's nextCrl and a new one would last longer;
otherwise the current one stands. Its octets go to S3 under
``crl/<craca hex>_<series>_<serial>_<first 16 hex of their SHA-256>.oer`` (so a publisher that loses
the serial to a concurrent one never overwrites the winner's octets), then the record
(``CrlEntryStore.put_crl``, which refuses a serial that is not new), then the convenience copy
``crl/<craca hex>_<series>.oer`` (only a recorded CRL reaches it). A lost serial is tried again with
the next one when the winner lists other entries (it read the store before a revocation this call
publishes), at most ``_ATTEMPTS`` times.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from scms_service.config import Settings
from scms_service.errors import ScmsError
from scms_service.iperiod import I_MAX, IPeriods
from scms_service.stores.crl_entries import CrlEntryStore, CrlRecord, CrlSerialTaken, HashedEntry, LinkedEntry

from scms_codec.cert.certificate import Certificate
from scms_codec.crypto.linkage import seed_at
from scms_codec.secured.signer import Signer
from scms_codec.spdu.crl import CrlContents, build_secured_crl
from scms_codec.time32 import TIME32_MAX

__all__ = [
    "CrlArtifacts",
    "CrlSigner",
    "PublishError",
    "PublishedCrl",
    "crl_key",
    "hash_crl_body",
    "latest_crl_key",
    "linked_crl_body",
    "publish",
]

log = logging.getLogger(__name__)

_ATTEMPTS = 3
"""Publishes of one (CRACA, series) per call when concurrent publishers keep taking the serial."""
JMAX_LIMIT = 0xFF
"""``JMaxGroup.jmax`` is a Uint8 (1609.2 §7.3.3); the LAs issue at most 255 PLVs per period too."""
UINT32_MAX = 0xFFFFFFFF


class PublishError(ScmsError):
    """The CRLs cannot be issued (no root or crlg certificate, a Time32 overflow): an operator's problem."""


class CrlArtifacts(Protocol):
    """Where the CRL octets go (``stores.artifacts.Artifacts`` fits)."""

    def put(self, key: str, data: bytes) -> None: ...


@dataclass(frozen=True)
class CrlSigner:
    """The CRACA (HashedId8 of the root) and the ``crlg`` signer, loaded on first use (its key is a secret)."""

    craca: bytes
    signer: Callable[[], Signer]
    certificate: Certificate | None = None
    """The ``crlg`` certificate: nextCrl never outlives it (None: not checked)."""


@dataclass(frozen=True)
class PublishedCrl:
    """One (CRACA, series) after a publish: its current CRL and whether this call issued it."""

    craca: bytes
    series: int
    crl_serial: int
    issue_date: int
    next_crl: int
    changed: bool

    def to_json(self) -> dict[str, Any]:
        """The task answer's entry (docs/architecture.md "Calls between authorities")."""
        return {
            "craca": self.craca.hex(),
            "series": self.series,
            "crlSerial": self.crl_serial,
            "issueDate": self.issue_date,
            "nextCrl": self.next_crl,
            "changed": self.changed,
        }


def crl_key(craca: bytes, series: int, serial: int, data: bytes) -> str:
    """The S3 key of one issued CRL's octets ``data`` (immutable: named by their digest too)."""
    return f"crl/{craca.hex()}_{series}_{serial}_{hashlib.sha256(data).hexdigest()[:16]}.oer"


def latest_crl_key(craca: bytes, series: int) -> str:
    """The S3 key of the (CRACA, series)'s latest CRL (replaced by each new one)."""
    return f"crl/{craca.hex()}_{series}.oer"


@dataclass(frozen=True)
class _Body:
    """A CRL's typeSpecific value before its serial is known, and the digest of what it lists."""

    kind: str
    value: dict[str, Any]
    digest: str
    i_rev: int | None = None


def linked_crl_body(entries: Sequence[LinkedEntry], i_rev: int) -> _Body:
    """The ``fullLinkedCrl`` listing ``entries`` at ``i_rev`` (indexWithinI filled in by ``publish``).

    1609.2 §5.1.3.4, §7.3.3: seeds evolved iSeed → iRev with each entry's own LaId; groups and
    their contents in a canonical order, so the same entries give the same octets.
    """
    groups: dict[int, dict[tuple[bytes, bytes], dict[int, set[tuple[bytes, bytes]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(set))
    )
    for e in entries:
        if e.i_max < i_rev or e.i_seed > i_rev:
            continue
        seed1 = seed_at(e.la1_id, e.seed1, e.i_seed, i_rev)
        seed2 = seed_at(e.la2_id, e.seed2, e.i_seed, i_rev)
        # jmax and iMax as the CRL can say them (Uint8, Uint16); an entry beyond is a caller's bug.
        jmax = min(max(e.j_max, 0), JMAX_LIMIT)
        groups[jmax][(e.la1_id, e.la2_id)][min(e.i_max, I_MAX)].add((seed1, seed2))
    individual = [
        {"jmax": jmax, "contents": [
            {"la1Id": la1, "la2Id": la2, "contents": [
                {"iMax": i_max, "contents": [{"linkageSeed1": s1, "linkageSeed2": s2}
                                             for s1, s2 in sorted(groups[jmax][(la1, la2)][i_max])]}
                for i_max in sorted(groups[jmax][(la1, la2)])]}
            for la1, la2 in sorted(groups[jmax])]}
        for jmax in sorted(groups)
    ]  # fmt: skip
    digest = hashlib.sha256(b"linked" + i_rev.to_bytes(4, "big"))
    for jmax in sorted(groups):
        for la1, la2 in sorted(groups[jmax]):
            for i_max in sorted(groups[jmax][(la1, la2)]):
                for s1, s2 in sorted(groups[jmax][(la1, la2)][i_max]):
                    digest.update(bytes([jmax]) + la1 + la2 + i_max.to_bytes(2, "big") + s1 + s2)
    # individual is always present (possibly empty): the WITH COMPONENTS constraint wants one of three.
    value = {"iRev": i_rev, "indexWithinI": 0, "individual": individual}
    return _Body("fullLinkedCrl", value, digest.hexdigest(), i_rev)


def hash_crl_body(entries: Sequence[HashedEntry], now: int) -> _Body:
    """The ``fullHashCrl`` of the entries with expiry >= now, by HashedId10 (crlSerial filled in by ``publish``)."""
    listed = sorted((bytes(e.hashed_id10), e.expiry) for e in entries if e.expiry >= now)
    digest = hashlib.sha256(b"hash")
    for hid, expiry in listed:
        digest.update(hid + expiry.to_bytes(4, "big"))
    value = {"crlSerial": 0, "entries": [{"id": hid, "expiry": expiry} for hid, expiry in listed]}
    return _Body("fullHashCrl", value, digest.hexdigest())


@dataclass(frozen=True)
class _Times:
    """When CRLs issued now are dated: ``now``, the interval and the ``crlg`` certificate's end (None: unchecked)."""

    now: int
    interval: int
    signer_end: int | None

    def issue_date(self, latest: CrlRecord | None) -> int:
        """now, or one second after the previous CRL of the series (issueDates strictly rise)."""
        return self.now if latest is None else max(self.now, latest.issue_date + 1)

    def next_crl(self, issue_date: int) -> int:
        """issueDate + interval, cut to the signer's end."""
        wanted = issue_date + self.interval
        return wanted if self.signer_end is None else min(wanted, self.signer_end)


def _due(latest: CrlRecord | None, digest: str, *, times: _Times, force: bool) -> bool:
    if latest is None or force or latest.entries_digest != digest:
        return True
    # Less than half of the interval left: issue the next one before devices see this one lapse,
    # unless the next one could not last longer (nextCrl held at the crlg certificate's end).
    renewed = times.next_crl(times.issue_date(latest))
    return latest.next_crl - times.now < times.interval / 2 and renewed > latest.next_crl


def _index_within_i(latest: CrlRecord | None, i_rev: int) -> int:
    """1609.2 §7.3.3: 0 for the first CRL of an iRev, + 1 for each next CRL of the same iRev (Uint8, held at 255)."""
    if latest is None or latest.i_rev != i_rev or latest.index_within_i is None:
        return 0
    return min(latest.index_within_i + 1, 0xFF)


def _issue(
    body: _Body,
    series: int,
    latest: CrlRecord | None,
    *,
    crlg: CrlSigner,
    store: CrlEntryStore,
    artifacts: CrlArtifacts,
    times: _Times,
) -> PublishedCrl:
    serial = 1 if latest is None else latest.crl_serial + 1
    if serial > UINT32_MAX:
        raise PublishError(f"CRL series {series}: crlSerial would exceed Uint32")
    issue_date = times.issue_date(latest)
    next_crl = times.next_crl(issue_date)
    if next_crl <= issue_date or next_crl > TIME32_MAX:
        raise PublishError(f"CRL series {series}: nextCrl {next_crl} is not a Time32 after issueDate {issue_date}")
    if next_crl < issue_date + times.interval:
        log.warning("nextCrl cut to the end of the crlg certificate: rotate it",
                    extra={"series": series, "nextCrl": next_crl})  # fmt: skip
    value = dict(body.value)
    index_within_i = None
    if body.kind == "fullHashCrl":
        value["crlSerial"] = serial
    else:
        index_within_i = _index_within_i(latest, body.i_rev or 0)
        value["indexWithinI"] = index_within_i
    contents = CrlContents(series, crlg.craca, issue_date, next_crl, (body.kind, value))
    spdu = build_secured_crl(contents, crlg.signer())
    key = crl_key(crlg.craca, series, serial, spdu)
    artifacts.put(key, spdu)
    record = CrlRecord(
        crlg.craca, series, serial, issue_date, next_crl, key, body.digest, i_rev=body.i_rev,
        index_within_i=index_within_i,
    )  # fmt: skip
    store.put_crl(record)  # CrlSerialTaken when a concurrent publish recorded this serial first
    artifacts.put(latest_crl_key(crlg.craca, series), spdu)
    log.info("CRL issued", extra={"craca": crlg.craca.hex(), "series": series, "crlSerial": serial})
    return PublishedCrl(crlg.craca, series, serial, issue_date, next_crl, True)


def _current(record: CrlRecord) -> PublishedCrl:
    return PublishedCrl(record.craca, record.series, record.crl_serial, record.issue_date, record.next_crl, False)


def _one(
    body: _Body,
    series: int,
    *,
    crlg: CrlSigner,
    store: CrlEntryStore,
    artifacts: CrlArtifacts,
    times: _Times,
    force: bool,
) -> PublishedCrl:
    latest = store.latest(crlg.craca, series)
    for _attempt in range(_ATTEMPTS):
        if not _due(latest, body.digest, times=times, force=force):
            assert latest is not None  # _due is True without one
            return _current(latest)
        try:
            return _issue(body, series, latest, crlg=crlg, store=store, artifacts=artifacts, times=times)
        except CrlSerialTaken:
            log.warning("CRL serial taken by a concurrent publish", extra={"series": series})
            latest = store.latest(crlg.craca, series)
            if latest is None:
                raise
            # The winner is as fresh as this one; it stands unless it lists other entries than
            # this call read (it read the store before a revocation this call is to publish).
            if latest.entries_digest == body.digest:
                return _current(latest)
            force = False
    raise PublishError(f"CRL series {series}: {_ATTEMPTS} concurrent publishes took the serial; run again")


def publish(
    settings: Settings,
    *,
    store: CrlEntryStore,
    artifacts: CrlArtifacts,
    crlg: CrlSigner,
    now: int,
    force: bool = False,
) -> list[PublishedCrl]:
    """Issue the linked and the hash CRL where due (see the module docstring); both (CRACA, series) answered."""
    interval = settings.crl_interval
    if interval <= 0 or now + interval > TIME32_MAX:
        raise PublishError("crl_interval: nextCrl must be a Time32 after issueDate")
    i_rev = IPeriods.from_settings(settings).i_at(now)
    if not 0 <= i_rev <= I_MAX:
        raise PublishError("the current i-period is not an IValue (Uint16): check the i-period settings")
    if settings.crl_series == settings.crl_hash_series:
        raise PublishError("crl_series and crl_hash_series must differ: one series holds one kind of CRL")
    signer_end = None
    if crlg.certificate is not None:
        start, signer_end = crlg.certificate.validity
        if not start <= now < signer_end:
            raise PublishError(
                f"the crlg certificate {crlg.certificate.hashed_id8.hex()} is not valid now ({start}..{signer_end}):"
                " rotate it"
            )
    times = _Times(now, interval, signer_end)
    bodies = [
        (linked_crl_body(store.linked(), i_rev), settings.crl_series),
        (hash_crl_body(store.hashed(), now), settings.crl_hash_series),
    ]
    return [
        _one(body, series, crlg=crlg, store=store, artifacts=artifacts, times=times, force=force)
        for body, series in bodies
    ]
