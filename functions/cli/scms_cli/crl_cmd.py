"""``scms crl publish [--force]`` and ``scms crl show`` (issue #6 §1; docs/architecture.md "CRL generator").

``publish`` issues the linked and hash CRLs where due (new entries, ``--force``, or less than half
of ``crl_interval`` left) and prints each (CRACA, series)'s current CRL. With ``--function`` (default
``SCMS_CRLG_FUNCTION``) it invokes that Lambda (``handlers.publish_task``, its own role and key);
without, it runs the same use case here, against the tables and bucket ``SCMS_*`` and
``AWS_ENDPOINT_URL`` name (the local stack ``scms serve`` prints, as ``scms ctl`` does).
``show`` prints the latest CRL of every (CRACA, series): serial, kind, dates, entry count, S3 key,
and how many entries the CRL store holds. Neither prints a seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError
from scms_service import aws
from scms_service.config import Settings, load_settings
from scms_service.errors import ScmsError
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.crl_entries import CrlEntryStore, CrlRecord, DynamoDbCrlEntryStore

from scms_codec import time32
from scms_codec.crl_check import linked_revocations
from scms_codec.errors import CodecError
from scms_codec.spdu.crl import parse_secured_crl

__all__ = ["Publisher", "add_parser", "describe", "execute", "run"]

Publisher = Callable[[bool], list[dict[str, Any]]]
"""``force`` → the task answer's ``crls`` list."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser("crl", help="publish the CRLs (linked and hash) or show the latest ones")
    actions = p.add_subparsers(dest="crl_action", required=True)
    publish = actions.add_parser("publish", help="issue the CRLs that are due (or all, with --force)")
    publish.add_argument("--force", action="store_true", help="issue a new CRL of every series even if unchanged")
    publish.add_argument(
        "--function",
        default=None,
        help="invoke this CRL generator Lambda (default SCMS_CRLG_FUNCTION; empty: run the publish here)",
    )
    show = actions.add_parser("show", help="the latest CRL of every (CRACA, series)")
    for action in (publish, show):
        action.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def _utc(t: int) -> str:
    return time32.to_datetime(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(record: CrlRecord, data: bytes | None) -> dict[str, Any]:
    """One latest CRL as ``show`` prints it: the record, and what its stored octets hold (no seed)."""
    out: dict[str, Any] = {
        "craca": record.craca.hex(),
        "series": record.series,
        "crlSerial": record.crl_serial,
        "issueDate": record.issue_date,
        "nextCrl": record.next_crl,
        "s3Key": record.s3_key,
    }
    if data is None:
        out["problem"] = "object missing"
        return out
    try:
        contents = parse_secured_crl(data).content
    except CodecError as exc:
        out["problem"] = f"does not verify: {exc}"
        return out
    kind, value = contents.type_specific
    out["kind"] = kind
    if kind in ("fullHashCrl", "deltaHashCrl"):
        out["entries"] = len(value["entries"])
    else:
        out["iRev"] = value["iRev"]
        out["indexWithinI"] = value["indexWithinI"]
        out["entries"] = sum(1 for _ in linked_revocations(contents))
    return out


def _print_crls(crls: Sequence[dict[str, Any]], out: TextIO) -> None:
    for c in crls:
        changed = "" if "changed" not in c else ("  (new)" if c["changed"] else "  (unchanged)")
        print(f"CRL craca {c['craca']} series {c['series']} #{c['crlSerial']}{changed}", file=out)
        print(f"  issued     {_utc(c['issueDate'])}", file=out)
        print(f"  next       {_utc(c['nextCrl'])}", file=out)
        if "kind" in c:
            extra = f", iRev {c['iRev']} index {c['indexWithinI']}" if "iRev" in c else ""
            print(
                f"  contents   {c['kind']}, {c['entries']} entr{'y' if c['entries'] == 1 else 'ies'}{extra}", file=out
            )
        if "s3Key" in c:
            print(f"  object     {c['s3Key']}", file=out)
        if "problem" in c:
            print(f"  PROBLEM    {c['problem']}", file=out)


def execute(
    action: str,
    *,
    store: CrlEntryStore,
    read_object: Callable[[str], bytes | None],
    publisher: Publisher | None,
    force: bool,
    as_json: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """``scms crl <action>``: 0 on success, 1 with a message on ``err`` otherwise."""
    try:
        if action == "publish":
            assert publisher is not None
            crls = publisher(force)
        else:
            crls = [describe(r, read_object(r.s3_key)) for r in store.latest_all()]
            stored = {"linkedEntries": len(store.linked()), "hashEntries": len(store.hashed())}
    except ScmsError as exc:
        print(f"scms crl: {exc.message}", file=err)
        return 1
    except (BotoCoreError, ClientError) as exc:
        # No credentials, no endpoint, no function: botocore's own text names it and holds no secret.
        print(f"scms crl: AWS call failed: {exc}", file=err)
        return 1
    if as_json:
        print(json.dumps({"crls": crls, **({} if action == "publish" else {"stored": stored})}, indent=2), file=out)
        return 0
    if not crls:
        print("no CRL published yet (scms crl publish)", file=out)
    _print_crls(crls, out)
    if action == "show":
        print(f"stored entries: {stored['linkedEntries']} linked, {stored['hashEntries']} hash", file=out)
    return 1 if any("problem" in c for c in crls) else 0


def lambda_publisher(function: str, client: Any | None = None) -> Publisher:
    """Invoke the CRL generator's ``publish_task`` (its role, its key)."""

    def publish(force: bool) -> list[dict[str, Any]]:
        lambda_client = client if client is not None else aws.client("lambda")
        answer = lambda_client.invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps({"force": force}).encode()
        )
        body = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError") or not isinstance(body, dict):
            name = body.get("errorType", "an error") if isinstance(body, dict) else "an error"
            raise ScmsError(f"the CRL generator {function} raised {name}")
        crls: list[dict[str, Any]] = body["crls"]
        return crls

    return publish


def in_process_publisher(settings: Settings) -> Publisher:
    """Run ``scms_crlg.publish`` here (needs the crlg key secret, as the function's role has)."""

    def publish(force: bool) -> list[dict[str, Any]]:
        from scms_crlg.publish import publish as publish_crls
        from scms_crlg.wiring import CrlgServices

        services = CrlgServices.from_settings(settings)
        crls = publish_crls(
            settings, store=services.store, artifacts=services.artifacts, crlg=services.crlg,
            now=time32.now(), force=force,
        )  # fmt: skip
        return [c.to_json() for c in crls]

    return publish


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"scms crl: {exc}", file=sys.stderr)
        return 1
    publisher = None
    if args.crl_action == "publish":
        function = settings.crlg_function if args.function is None else args.function
        publisher = lambda_publisher(function) if function else in_process_publisher(settings)
    artifacts = S3Artifacts.from_settings(settings)
    return execute(
        args.crl_action,
        store=DynamoDbCrlEntryStore.from_settings(settings),
        read_object=artifacts.get,
        publisher=publisher,
        force=bool(getattr(args, "force", False)),
        as_json=args.json,
        out=sys.stdout,
        err=sys.stderr,
    )
