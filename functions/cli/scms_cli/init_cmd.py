"""``scms init [--rotate ROLE]``: create the CA hierarchy once, or rotate one role (issue #4 §3).

Prints a summary (role, HashedId8, validity in UTC, key secret name); never a private key. The
management API key is printed once, when it is created; only its digest is stored.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError
from scms_service.config import Settings, load_settings
from scms_service.errors import ScmsError
from scms_service.hierarchy import (
    ROLES,
    Hierarchy,
    ensure_management_api_key,
    init_hierarchy,
    rotate,
)
from scms_service.linkage_keys import ensure_la_aca_keys
from scms_service.stores.artifacts import Artifacts, S3Artifacts
from scms_service.stores.ca import CaStore, DynamoDbCaStore, KeyVault, SecretsManagerKeyVault

from scms_codec import time32

__all__ = ["add_parser", "execute", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("init", help="create the CA hierarchy (idempotent), or rotate one CA role")
    p.add_argument(
        "--rotate",
        metavar="ROLE",
        help=f"issue a new key and certificate for ROLE, keeping the old ones valid ({', '.join(ROLES)})",
    )
    p.set_defaults(func=run)


def _utc(t: int) -> str:
    return time32.to_datetime(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(hierarchy: Hierarchy, out: TextIO) -> None:
    """Print one row per CA role: HashedId8, validity in UTC and the secret holding its key (never the key)."""
    rows = [("ROLE", "HASHEDID8", "VALID FROM (UTC)", "VALID TO (UTC)", "KEY SECRET")]
    for role in hierarchy.roles:
        cert, record = hierarchy.certificate(role), hierarchy.record(role)
        start, end = cert.validity
        rows.append((role, cert.hashed_id8.hex(), _utc(start), _utc(end), record.key_secret))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)


def execute(
    rotate_role: str | None,
    settings: Settings,
    ca_store: CaStore,
    vault: KeyVault,
    artifacts: Artifacts,
    *,
    now: int,
    out: TextIO,
    err: TextIO,
) -> int:
    """Run ``scms init`` against the given stores; 0 on success, 1 with a message on ``err`` otherwise."""
    try:
        if rotate_role is not None:
            old = Hierarchy.load(ca_store, vault)
            previous = old.certificate(rotate_role).hashed_id8 if rotate_role in old.roles else None
            cert = rotate(rotate_role, settings, ca_store, vault, artifacts, now=now)
            hierarchy = Hierarchy.load(ca_store, vault)
            was = "" if previous is None else f" (was {previous.hex()}, still valid)"
            print(f"Rotated {rotate_role}: new certificate {cert.hashed_id8.hex()}{was}.", file=out)
        else:
            hierarchy, created = init_hierarchy(settings, ca_store, vault, artifacts, now=now)
            print("Created the missing CA roles." if created else "The hierarchy exists; nothing changed.", file=out)
            ensure_la_aca_keys(settings, vault)
            key = ensure_management_api_key(settings, vault)
            if key is not None:
                print(
                    f"Management API key (shown only now; only its digest is stored in "
                    f"{settings.management_api_key_secret}):\n  {key}",
                    file=out,
                )
    except ScmsError as exc:
        print(f"scms init: {exc.message}", file=err)
        return 1
    except BotoCoreError as exc:
        # No credentials, no endpoint, ...: botocore's own text names the cause and holds no secret.
        print(f"scms init: AWS is not reachable: {exc}", file=err)
        return 1
    summary(hierarchy, out)
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"scms init: {exc}", file=sys.stderr)
        return 1
    return execute(
        args.rotate,
        settings,
        DynamoDbCaStore.from_settings(settings),
        SecretsManagerKeyVault.from_settings(settings),
        S3Artifacts.from_settings(settings),
        now=time32.now(),
        out=sys.stdout,
        err=sys.stderr,
    )
