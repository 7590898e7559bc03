"""``scms device register|show|list|block|unblock|delete``: the RA management API over HTTP."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from typing import Any

from .management_client import Transport, api_key, send_json, urllib_transport

__all__ = ["Transport", "add_parser", "run", "urllib_transport"]


def add_parser(sub: Any) -> None:
    """Add ``device`` and its sub-commands to the ``scms`` parser."""
    device = sub.add_parser("device", help="register and manage devices through the RA management API")
    device.add_argument(
        "--url", default=os.environ.get("SCMS_URL", "http://127.0.0.1:8080"), help="base URL of the API (env SCMS_URL)"
    )
    device.add_argument("--api-key", default=None, help="management API key (default: env SCMS_API_KEY)")
    device.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ops = device.add_subparsers(dest="op", required=True)
    reg = ops.add_parser("register", help="register a device")
    reg.add_argument("device_id")
    reg.add_argument("--public-key", required=True, help="canonical public key, hex SEC 1 (02/03/04 …)")
    reg.add_argument("--canonical-id", help="default: SHA-256 of the uncompressed x‖y")
    reg.add_argument("--psid", action="append", default=[], metavar="PSID[:SSP_HEX]", help="permitted PSID (repeat)")
    reg.add_argument("--country", action="append", type=int, default=[], help="region country code (repeat)")
    reg.add_argument("--policy", help='policy as a JSON object, e.g. \'{"cert_type": "explicit"}\'')
    show = ops.add_parser("show", help="show a device and its audit trail")
    show.add_argument("device_id")
    lst = ops.add_parser("list", help="list devices")
    lst.add_argument("--limit", type=int, default=100)
    lst.add_argument("--next", dest="next_token")
    lst.add_argument("--all", action="store_true", help="follow every page")
    for name in ("block", "unblock", "delete"):
        op = ops.add_parser(name, help=f"{name} a device")
        op.add_argument("device_id")
        op.add_argument("--cause", required=name != "delete", help="why (stored in the audit trail)")
        op.add_argument("--version", type=int, help="refuse if the device is no longer at this version")
    device.set_defaults(func=run)


def _permission(text: str) -> dict[str, Any]:
    psid, _, ssp = text.partition(":")
    out: dict[str, Any] = {"psid": int(psid, 0)}
    if ssp:
        out["ssp"] = ssp
    return out


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    quote = urllib.parse.quote
    base = "/manage/v1/devices"
    if args.op == "register":
        body: dict[str, Any] = {
            "device_id": args.device_id,
            "canonical_public_key": args.public_key,
            "permissions": [_permission(p) for p in args.psid],
        }
        if args.canonical_id:
            body["canonical_id"] = args.canonical_id
        if args.country:
            body["region"] = {"countries": args.country}
        if args.policy:
            body["policy"] = json.loads(args.policy)
        return "POST", base, body
    if args.op == "show":
        return "GET", f"{base}/{quote(args.device_id, safe='')}", None
    if args.op == "list":
        query = {"limit": str(args.limit), **({"next": args.next_token} if args.next_token else {})}
        return "GET", f"{base}?{urllib.parse.urlencode(query)}", None
    change: dict[str, Any] = {}
    if args.cause:
        change["cause"] = args.cause
    if args.version is not None:
        change["version"] = args.version
    path = f"{base}/{quote(args.device_id, safe='')}"
    if args.op == "delete":
        return "DELETE", path, change or None
    return "POST", f"{path}/{args.op}", change


def _table(devices: list[dict[str, Any]]) -> str:
    rows = [("DEVICE", "STATE", "VERSION", "CANONICAL ID", "PSIDS")]
    rows += [
        (
            d["device_id"],
            d["state"],
            str(d["version"]),
            d["canonical_id"][:16] + "…",
            ",".join(str(p["psid"]) for p in d["permissions"]),
        )
        for d in devices
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _show(device: dict[str, Any]) -> str:
    lines = [
        f"{k}: {json.dumps(v) if isinstance(v, (dict, list)) or v is None else v}"
        for k, v in device.items()
        if k != "audit"
    ]
    for entry in device.get("audit", []):
        lines.append(
            f"  {entry['at']}  {entry['previous'] or '-'} → {entry['state']}  ({entry['cause']}; {entry['actor']})"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace, transport: Transport = urllib_transport) -> int:
    """Send the request; print the answer; 0 on success, 1 with the server's message on refusal."""
    key = api_key(args, "device")
    if key is None:
        return 2
    try:
        method, path, body = _request(args)
    except ValueError as exc:
        print(f"scms device: {exc}", file=sys.stderr)
        return 2
    pages: list[dict[str, Any]] = []
    while True:
        sent = send_json(args.url, key, transport, method, path, body, command=f"device {args.op}")
        if sent is None or sent[0] >= 400:
            return 1
        answer = sent[1]
        pages.append(answer)
        if args.op == "list" and args.all and answer.get("next"):
            query = {"limit": str(args.limit), "next": answer["next"]}
            path = f"/manage/v1/devices?{urllib.parse.urlencode(query)}"
            continue
        break
    if args.op == "list":
        devices = [d for page in pages for d in page["devices"]]
        if args.json:
            print(json.dumps({"devices": devices, "next": pages[-1].get("next")}, indent=2, sort_keys=True))
        else:
            print(_table(devices))
            if pages[-1].get("next"):
                print(f"(more: --next {pages[-1]['next']})")
    else:
        print(json.dumps(pages[-1], indent=2, sort_keys=True) if args.json else _show(pages[-1]))
    return 0
