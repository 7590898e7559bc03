"""``scms inspect FILE [--type T] [--issuer CERT] [--json]``: decode and explain a COER certificate or SPDU.

Exit status: 0 decoded (and verified, with ``--issuer``), 1 verification failed, 2 not decodable.
Errors go to stderr with their 1609.2.1 error code (protocol.md §2.4).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from scms_codec.cert.certificate import Certificate
from scms_codec.errors import CodecError, DecodeError, ErrorCode
from scms_codec.inspect import DETECTION_ORDER, inspect, render_json, render_text, verify_with_issuer

EXIT_OK = 0
EXIT_VERIFICATION_FAILED = 1
EXIT_UNDECODABLE = 2


def add_parser(sub: Any) -> None:
    p = sub.add_parser("inspect", help="decode a COER certificate or SPDU, every nested layer included")
    p.add_argument("file", type=Path, help="COER octets (a certificate, Ieee1609Dot2Data, ScmsPdu, ...)")
    order = ", ".join(DETECTION_ORDER)
    p.add_argument("--type", dest="type_name", metavar="T",
                   help=f"ASN.1 type; default: the first of {order} to decode")
    p.add_argument("--issuer", type=Path, metavar="CERT", help="verify under this COER certificate")
    p.add_argument("--json", action="store_true", help="print the tree as JSON (octets as hex)")
    p.set_defaults(func=run)


def _fail(what: str, exc: Exception, status: int) -> int:
    # A bad --type is a parsing failure too, so it reports FAILED_PARSING.
    code = (exc.error_code if isinstance(exc, CodecError) else ErrorCode.FAILED_PARSING).value
    print(f"scms inspect: {what}: {exc} (Ieee-1609.2.1-Error {code})", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
        issuer_data = None if args.issuer is None else args.issuer.read_bytes()
    except OSError as exc:
        print(f"scms inspect: {exc}", file=sys.stderr)
        return EXIT_UNDECODABLE
    try:
        result = inspect(data, args.type_name)
    except (DecodeError, ValueError) as exc:  # ValueError: --type names no ASN.1 type
        return _fail(str(args.file), exc, EXIT_UNDECODABLE)
    try:
        issuer = None if issuer_data is None else Certificate.from_bytes(issuer_data)
    except DecodeError as exc:
        return _fail(f"--issuer {args.issuer}", exc, EXIT_UNDECODABLE)
    if args.json:
        sys.stdout.write(render_json(result.tree))
    else:
        how = "as --type" if args.type_name else "detected"
        print(f"{args.file}: {result.type_name} ({how}), {result.size} octets")
        sys.stdout.write(render_text(result.tree))
    if issuer is None:
        return EXIT_OK
    try:
        checked = verify_with_issuer(result, data, issuer)
    except DecodeError as exc:
        return _fail("verification", exc, EXIT_UNDECODABLE)
    except CodecError as exc:
        return _fail("verification failed", exc, EXIT_VERIFICATION_FAILED)
    for line in checked:
        print(f"verify: {line}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK
