"""``scms ctl show | add-root --cert FILE | remove-root HASHEDID8 | quorum N`` (issue #6 §2).

``show`` prints the newest CTL of the home series (the one ``scms init`` started): sequence number,
effective date, quorum, approved roots and electors (and whether this SCMS holds the elector's key)
and every stored CTL. The other actions issue the next CTL of the series through
``scms_service.ctl_issue.issue_next_ctl``, signed by the electors the current CTL approves; a change
that makes no sense is refused with a message and exit status 1, and nothing is stored.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError
from scms_service.config import load_settings
from scms_service.ctl_issue import AddRoot, CtlChange, CtlView, RemoveRoot, SetQuorum, current_ctl, issue_next_ctl
from scms_service.errors import ScmsError
from scms_service.hierarchy import ELECTORS, Hierarchy
from scms_service.stores.artifacts import Artifacts, S3Artifacts
from scms_service.stores.ca import CaStore, DynamoDbCaStore, KeyVault, SecretsManagerKeyVault

from scms_codec import time32
from scms_codec.spdu.ctl import elector_entry

__all__ = ["add_parser", "execute", "run"]

_HEX16 = re.compile(r"[0-9a-fA-F]{16}")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("ctl", help="show the certificate trust list, or issue the next one (add/remove a root, quorum)")
    actions = p.add_subparsers(dest="ctl_action", required=True)
    actions.add_parser("show", help="the newest CTL of the home series and the stored ones")
    add = actions.add_parser("add-root", help="approve one more root certificate")
    add.add_argument("--cert", required=True, metavar="FILE", help="the root's COER certificate")
    remove = actions.add_parser("remove-root", help="stop approving a root")
    remove.add_argument("hashed_id8", metavar="HASHEDID8", help="the root's HashedId8 (16 hex digits)")
    quorum = actions.add_parser("quorum", help="the number of electors that must sign the next CTL")
    quorum.add_argument("quorum", metavar="N", type=int)
    p.set_defaults(func=run)


def _utc(t: int) -> str:
    return time32.to_datetime(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def show(hierarchy: Hierarchy, view: CtlView, ca_store: CaStore, out: TextIO) -> None:
    """Print the CTL (never a key: only identifiers and dates)."""
    tbs = view.tbs
    held = {elector_entry(hierarchy.certificate(e)): e for e in ELECTORS if e in hierarchy.roles}
    print(f"CTL series {tbs.ctl_series_id.hex()} #{tbs.sequence_number}", file=out)
    print(f"  effective  {_utc(tbs.effective_date)}", file=out)
    print(f"  quorum     {tbs.quorum if tbs.quorum is not None else 'all electors'}", file=out)
    for root in view.roots:
        print(f"  root       {root.hashed_id8.hex()}  valid to {_utc(root.validity[1])}", file=out)
    for elector in view.electors:
        holder = held.get(elector_entry(elector))
        note = f"key held ({holder})" if holder else "key not held here"
        print(f"  elector    {elector.hashed_id8.hex()}  {note}", file=out)
    listed = ", ".join(f"#{c.sequence_number} ({_utc(c.created_at)})" for c in ca_store.ctls(tbs.ctl_series_id))
    print(f"  stored     {listed}", file=out)


def change_from(args: argparse.Namespace) -> CtlChange | str | None:
    """The requested change, None for ``show``, or a usage message."""
    action = args.ctl_action
    if action == "show":
        return None
    if action == "add-root":
        try:
            return AddRoot(Path(args.cert).read_bytes())
        except OSError as exc:
            return f"cannot read {args.cert}: {exc.strerror or exc}"
    if action == "remove-root":
        if not _HEX16.fullmatch(args.hashed_id8):
            return "HASHEDID8: expected 16 hex digits"
        return RemoveRoot(bytes.fromhex(args.hashed_id8))
    return SetQuorum(int(args.quorum))


def execute(
    change: CtlChange | None,
    ca_store: CaStore,
    vault: KeyVault,
    artifacts: Artifacts,
    *,
    now: int,
    out: TextIO,
    err: TextIO,
) -> int:
    """``scms ctl`` against the given stores: 0 on success, 1 with a message on ``err`` otherwise."""
    try:
        if change is not None:
            record = issue_next_ctl(change, ca_store, vault, artifacts, now=now)
            print(f"Published CTL #{record.sequence_number} of series {record.series_id.hex()}.", file=out)
        hierarchy = Hierarchy.load(ca_store, vault)
        show(hierarchy, current_ctl(hierarchy, ca_store), ca_store, out)
    except ScmsError as exc:
        print(f"scms ctl: {exc.message}", file=err)
        return 1
    except BotoCoreError as exc:
        # No credentials, no endpoint, ...: botocore's own text names the cause and holds no secret.
        print(f"scms ctl: AWS is not reachable: {exc}", file=err)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    change = change_from(args)
    if isinstance(change, str):
        print(f"scms ctl: {change}", file=sys.stderr)
        return 1
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"scms ctl: {exc}", file=sys.stderr)
        return 1
    return execute(
        change,
        DynamoDbCaStore.from_settings(settings),
        SecretsManagerKeyVault.from_settings(settings),
        S3Artifacts.from_settings(settings),
        now=time32.now(),
        out=sys.stdout,
        err=sys.stderr,
    )
