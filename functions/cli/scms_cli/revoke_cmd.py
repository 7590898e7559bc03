"""``scms revoke`` and ``scms reports``: the MA's management API over HTTP (docs/architecture.md "MA").

``scms revoke (--report ID | --certificate FILE | --enrollment HEX | --device ID) --cause TEXT``
decides a revocation (the MA fans it out to the ACA, RA, LA1/LA2 and the CRL generator);
``scms reports [--status NEW|REVOKED] [--all]`` lists misbehaviour reports, ``scms reports show ID``
shows one with its evidence, ``scms reports revocations`` lists the revocations made.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from .management_client import Transport, api_key, send_json, urllib_transport

__all__ = ["add_parser", "run_reports", "run_revoke"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=os.environ.get("SCMS_URL", "http://127.0.0.1:8080"), help="base URL of the API (env SCMS_URL)"
    )
    parser.add_argument("--api-key", default=None, help="management API key (default: env SCMS_API_KEY)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def add_parser(sub: Any) -> None:
    """Add ``revoke`` and ``reports`` to the ``scms`` parser."""
    revoke = sub.add_parser("revoke", help="revoke a device through the MA (by report, certificate, enrollment, id)")
    _common(revoke)
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("--report", help="a misbehaviour report id (16 hex)")
    target.add_argument("--certificate", type=Path, help="a certificate file (COER, e.g. a pseudonym's .oer)")
    target.add_argument("--enrollment", help="HashedId8 of an enrollment certificate (16 hex)")
    target.add_argument("--device", help="a device id")
    revoke.add_argument("--cause", required=True, help="why (stored with the revocation, at most 200 characters)")
    revoke.set_defaults(func=run_revoke)
    reports = sub.add_parser("reports", help="list misbehaviour reports and revocations (MA management API)")
    _common(reports)
    reports.add_argument("--status", choices=("NEW", "REVOKED"), help="only reports in this status")
    reports.add_argument("--limit", type=int, default=100)
    reports.add_argument("--next", dest="next_token")
    reports.add_argument("--all", action="store_true", help="follow every page")
    reports.add_argument("what", nargs="?", choices=("list", "show", "revocations"), default="list")
    reports.add_argument("report_id", nargs="?", help="with show: the report id")
    reports.set_defaults(func=run_reports)


def _send(
    args: argparse.Namespace, command: str, transport: Transport, method: str, path: str, body: dict[str, Any] | None
) -> tuple[int, Any] | None:
    """(status, JSON answer), or None after printing why the MA could not be reached (or that no key is set)."""
    key = api_key(args, command)
    if key is None:
        return None
    return send_json(args.url, key, transport, method, path, body, command=command)


def revocation_body(args: argparse.Namespace) -> dict[str, Any]:
    """The ``POST /manage/v1/revocations`` body of the arguments (ValueError for an unreadable file)."""
    body: dict[str, Any] = {"cause": args.cause}
    if args.report:
        body["report"] = args.report
    elif args.certificate:
        try:
            body["certificate"] = args.certificate.read_bytes().hex()
        except OSError as exc:
            raise ValueError(f"--certificate: cannot read {args.certificate}: {exc.strerror}") from None
    elif args.enrollment:
        body["enrollmentCert"] = args.enrollment
    else:
        body["device"] = args.device
    return body


def _revocation_text(r: dict[str, Any]) -> str:
    ((kind, value),) = r["target"].items()
    lines = [
        f"revocation {r['revocation_id']}: {kind} {value[:40]}{'…' if len(value) > 40 else ''}",
        f"  cause: {r['cause']}",
        f"  linked entries: {r['linked_entries']}, hash entries: {r['hash_entries']}"
        + (" (device was already revoked)" if r.get("already_revoked") else ""),
    ]
    lines += [
        f"  CRL series {c.get('series')} serial {c.get('crlSerial')} next {c.get('nextCrl')}"
        + (" (new)" if c.get("changed") else "")
        for c in r.get("crls", [])
    ]
    return "\n".join(lines)


def run_revoke(args: argparse.Namespace, transport: Transport = urllib_transport) -> int:
    """Decide one revocation; 0 when made now or already made for the same target, 1 on refusal."""
    try:
        body = revocation_body(args)
    except ValueError as exc:
        print(f"scms revoke: {exc}", file=sys.stderr)
        return 2
    answer = _send(args, "revoke", transport, "POST", "/manage/v1/revocations", body)
    if answer is None:
        return 2 if not (args.api_key or os.environ.get("SCMS_API_KEY")) else 1
    status, revocation = answer
    if status >= 400:
        return 1
    if args.json:
        print(json.dumps(revocation, indent=2, sort_keys=True))
    else:
        print(("" if status == 201 else "(made before) ") + _revocation_text(revocation))
    return 0


def _reports_table(reports: list[dict[str, Any]]) -> str:
    rows = [("REPORT", "STATUS", "RECEIVED", "SUSPECT CERT", "PSID", "REVOCATION")]
    rows += [
        (r["report_id"], r["status"], str(r["received_at"]), r["suspect_cert_id"], str(r["evidence_psid"]),
         r.get("revocation_id") or "-")
        for r in reports
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def run_reports(args: argparse.Namespace, transport: Transport = urllib_transport) -> int:
    """List reports (or revocations), or show one report; 0 on success, 1 on refusal."""
    if args.what == "show":
        if not args.report_id:
            print("scms reports show: give the report id", file=sys.stderr)
            return 2
        answer = _send(args, "reports", transport, "GET",
                       f"/manage/v1/reports/{urllib.parse.quote(args.report_id, safe='')}", None)  # fmt: skip
        if answer is None or answer[0] >= 400:
            return 1 if answer is not None else 2
        report = answer[1]
        print(json.dumps(report, indent=2, sort_keys=True) if args.json else
              "\n".join(f"{k}: {v}" for k, v in sorted(report.items())))  # fmt: skip
        return 0
    base, key = ("/manage/v1/revocations", "revocations") if args.what == "revocations" else ("/manage/v1/reports",
                                                                                               "reports")  # fmt: skip
    query: dict[str, str] = {"limit": str(args.limit)}
    if args.status and args.what == "list":
        query["status"] = args.status
    if args.next_token:
        query["next"] = args.next_token
    items: list[dict[str, Any]] = []
    while True:
        answer = _send(args, "reports", transport, "GET", f"{base}?{urllib.parse.urlencode(query)}", None)
        if answer is None or answer[0] >= 400:
            return 1 if answer is not None else 2
        page = answer[1]
        items += page[key]
        if not (args.all and page.get("next")):
            break
        query["next"] = page["next"]
    if args.json:
        print(json.dumps({key: items, "next": page.get("next")}, indent=2, sort_keys=True))
    elif key == "reports":
        print(_reports_table(items))
    else:
        print("\n".join(_revocation_text(r) for r in items) or "(no revocations)")
    if not args.json and page.get("next"):
        print(f"(more: --next {page['next']})")
    return 0
