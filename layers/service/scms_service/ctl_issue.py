"""The next CTL of the home series: add a root, remove a root, change the quorum (``scms ctl``, issue #6 §2).

protocol.md §3.5: a CTL of a series carries ``sequenceNumber`` (+1 per issue, at most 65535),
``effectiveDate`` (non-decreasing), the approved electors (HashedId48) and roots (HashedId32), and
``quorum``, the number of electors that must sign the **next** CTL. So the new CTL is signed by the
electors the previous CTL approves whose keys this SCMS holds (``elector1``, ``elector2``), and at
least the previous CTL's quorum of them must sign, or it is refused. The series is the one
``scms init`` started (named by the hierarchy root's HashedId8); the new CTL approves the same
electors, its ``unsigned`` carries every approved root and elector certificate (as CTL #1 does), and it
is stored as ``scms init`` stores CTL #1: the ``CaTable`` item (conditional on the sequence number being
new) and then the artifacts object ``ctl/<series hex>_<seq>.oer``.

Refused (``CtlRefused``, nothing stored): a root certificate that does not decode, is not self-signed,
does not verify under its own key, has expired, cannot issue certificates, or is already approved;
removing a root that is not approved or the last one; a quorum below 1, above the number of approved
electors, or equal to the current one; a series at sequence number 65535.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Final

from scms_codec.cert.certificate import Certificate, verify_signature
from scms_codec.errors import CodecError
from scms_codec.secured.signer import Signer
from scms_codec.spdu.cert_management import FullIeeeTbsCtl, MultiSignedCtl
from scms_codec.spdu.ctl import (
    build_multi_signed_ctl_spdu,
    elector_entry,
    parse_multi_signed_ctl_spdu,
    sign_ctl,
    verify_ctl_signatures,
)

from .errors import Conflict, ScmsError
from .hierarchy import ELECTORS, Hierarchy, HierarchyError, ctl_key
from .stores.artifacts import Artifacts
from .stores.ca import CaStore, CtlRecord, KeyVault

__all__ = [
    "AddRoot",
    "CtlChange",
    "CtlRefused",
    "CtlView",
    "RemoveRoot",
    "SetQuorum",
    "current_ctl",
    "issue_next_ctl",
]

_log = logging.getLogger(__name__)
_MAX_SEQUENCE: Final = 0xFFFF


class CtlRefused(ScmsError):
    """The requested CTL change makes no sense or cannot be signed; nothing was stored (409)."""

    HTTP_STATUS = 409


@dataclass(frozen=True)
class AddRoot:
    """Approve one more root (its COER certificate)."""

    certificate: bytes


@dataclass(frozen=True)
class RemoveRoot:
    """Stop approving the root with this HashedId8."""

    hashed_id8: bytes


@dataclass(frozen=True)
class SetQuorum:
    """The number of electors that must sign the CTL after the new one."""

    quorum: int


CtlChange = AddRoot | RemoveRoot | SetQuorum


@dataclass(frozen=True)
class CtlView:
    """The newest CTL of a series as stored, decoded: its record, content and the roots and electors it carries."""

    record: CtlRecord
    ctl: MultiSignedCtl
    roots: tuple[Certificate, ...]
    """The approved roots found in ``unsigned``."""
    electors: tuple[Certificate, ...]
    """The approved electors found in ``unsigned``."""

    @property
    def tbs(self) -> FullIeeeTbsCtl:
        return self.ctl.tbs_ctl

    @property
    def required_signatures(self) -> int:
        """How many approved electors must sign the next CTL (a CTL without quorum: all of them)."""
        tbs = self.tbs
        return tbs.quorum if tbs.quorum is not None else len(tbs.elector_approve)


def _decode_view(record: CtlRecord) -> CtlView:
    try:
        ctl = parse_multi_signed_ctl_spdu(record.spdu).content
        unsigned = ctl.unsigned_certificates()
    except CodecError as exc:
        raise HierarchyError(f"stored CTL {record.series_id.hex()} #{record.sequence_number} does not decode") from exc
    tbs = ctl.tbs_ctl
    roots = tuple(c for c in unsigned if c.hashed_id32 in tbs.root_ca_approve)
    electors = tuple(c for c in unsigned if elector_entry(c) in tbs.elector_approve)
    return CtlView(record, ctl, roots, electors)


def current_ctl(hierarchy: Hierarchy, ca_store: CaStore) -> CtlView:
    """The newest CTL of the home series (the series ``scms init`` started); ``HierarchyError`` if there is none."""
    series = hierarchy.certificate("root").hashed_id8
    stored = ca_store.ctls(series)
    if not stored:
        raise HierarchyError(f"no CTL of series {series.hex()}; run `scms init`")
    return _decode_view(max(stored, key=lambda c: c.sequence_number))


def _new_root(data: bytes, current: CtlView, now: int) -> Certificate:
    try:
        root = Certificate.from_bytes(data)
    except CodecError as exc:
        raise CtlRefused(f"the root certificate does not decode: {exc}") from exc
    if not root.is_self_signed:
        raise CtlRefused(f"certificate {root.hashed_id8.hex()} is not self-signed, so it is not a root")
    try:
        verify_signature(root, None)
    except (CodecError, ValueError) as exc:
        raise CtlRefused(f"root {root.hashed_id8.hex()} does not verify under its own key") from exc
    if root.validity[1] <= now:
        raise CtlRefused(f"root {root.hashed_id8.hex()} has expired")
    if not root.is_ca:
        raise CtlRefused(f"certificate {root.hashed_id8.hex()} has no certIssuePermissions, so it is not a root CA")
    if root.hashed_id32 in current.tbs.root_ca_approve:
        raise CtlRefused(f"root {root.hashed_id8.hex()} is already approved")
    return root


def _next_tbs(change: CtlChange, current: CtlView, now: int) -> tuple[FullIeeeTbsCtl, tuple[Certificate, ...]]:
    """The new CTL's content and its approved roots."""
    tbs = current.tbs
    if tbs.sequence_number >= _MAX_SEQUENCE:
        raise CtlRefused(f"series {tbs.ctl_series_id.hex()} is at sequence number {_MAX_SEQUENCE}, the last one")
    roots = current.roots
    approve, quorum = tbs.root_ca_approve, tbs.quorum
    remove: tuple[bytes, ...] = ()
    if isinstance(change, AddRoot):
        root = _new_root(change.certificate, current, now)
        roots = (*roots, root)
        approve = (*approve, root.hashed_id32)
    elif isinstance(change, RemoveRoot):
        found = next((r for r in roots if r.hashed_id8 == change.hashed_id8), None)
        if found is None:
            raise CtlRefused(f"root {change.hashed_id8.hex()} is not approved by CTL #{tbs.sequence_number}")
        if len(approve) <= 1:
            raise CtlRefused(f"root {change.hashed_id8.hex()} is the last approved root; add another one first")
        roots = tuple(r for r in roots if r is not found)
        approve = tuple(h for h in approve if h != found.hashed_id32)
        remove = (found.hashed_id32,)
    else:
        electors = len(tbs.elector_approve)
        if not 1 <= change.quorum <= electors:
            raise CtlRefused(f"quorum {change.quorum}: must be from 1 to the {electors} approved elector(s)")
        if change.quorum == tbs.quorum:
            raise CtlRefused(f"the quorum is already {change.quorum}")
        quorum = change.quorum
    new = replace(
        tbs,
        sequence_number=tbs.sequence_number + 1,
        effective_date=max(now, tbs.effective_date),
        root_ca_approve=approve,
        root_ca_remove=remove,
        elector_remove=(),
        quorum=quorum,
    )
    return new, roots


def _signers(hierarchy: Hierarchy, current: CtlView) -> list[Signer]:
    """The electors this SCMS holds that the current CTL approves; refused when fewer than its quorum."""
    approved = set(current.tbs.elector_approve)
    held = [e for e in ELECTORS if e in hierarchy.roles and elector_entry(hierarchy.certificate(e)) in approved]
    needed = current.required_signatures
    if len(held) < max(needed, 1):
        raise CtlRefused(
            f"CTL #{current.tbs.sequence_number} needs {needed} elector signature(s); this SCMS holds {len(held)}"
        )
    return [hierarchy.signer(e) for e in held]


def _check(ctl: MultiSignedCtl, current: CtlView) -> None:
    """The new CTL as a device checks it against the current one (scms_ee.fetch_chain): never store less."""
    signed = verify_ctl_signatures(ctl)
    approved = set(current.tbs.elector_approve)
    if any(elector_entry(e) not in approved for e in signed) or len(signed) < current.required_signatures:
        raise CtlRefused("the new CTL would not verify against the current one")


def issue_next_ctl(
    change: CtlChange, ca_store: CaStore, vault: KeyVault, artifacts: Artifacts, *, now: int
) -> CtlRecord:
    """Make, sign, check and store the next CTL of the home series with ``change`` (``CtlRefused`` otherwise)."""
    hierarchy = Hierarchy.load(ca_store, vault)
    current = current_ctl(hierarchy, ca_store)
    tbs, roots = _next_tbs(change, current, now)
    signers = _signers(hierarchy, current)
    ctl = sign_ctl(tbs, signers, [*roots, *current.electors])
    _check(ctl, current)
    record = CtlRecord(tbs.ctl_series_id, tbs.sequence_number, build_multi_signed_ctl_spdu(ctl), now)
    try:
        ca_store.put_ctl(record)  # conditional: the sequence number must be new
    except Conflict as exc:
        raise CtlRefused(f"CTL #{tbs.sequence_number} was issued concurrently; run again") from exc
    artifacts.put(ctl_key(record.series_id, record.sequence_number), record.spdu)
    _log.info("published CTL", extra={"ctlSeriesId": record.series_id.hex(), "sequenceNumber": record.sequence_number})
    return record
