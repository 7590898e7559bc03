"""``scms-ee``: a command-line end entity that talks to the SCMS only through its public HTTP API and the codec.

``scms-ee --url URL --state DIR [--trace DIR] init|register|enroll|fetch-chain|show`` (issue #4 §6).
Exit codes: 0 ok; 1 refused by the SCMS or verification failed; 2 usage or local error.
"""

from __future__ import annotations

import argparse
import string
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import time32
from scms_codec.cert.certificate import Certificate

from . import enroll as enroll_use_case
from . import fetch_chain as fetch_chain_use_case
from . import register as register_use_case
from .client import Client, HttpError, Transport, TransportError, urllib_transport
from .enroll import VerificationFailed
from .state import DeviceState, StateError, canonical_id_of, load_certificate
from .trace import Trace

__all__ = ["EXIT_LOCAL", "EXIT_OK", "EXIT_REFUSED", "build_parser", "main"]

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_LOCAL = 2


class _Usage(Exception):
    """A usage error found after parsing (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scms-ee", description="IEEE 1609.2.1 end-entity simulator")
    parser.add_argument("--url", help="SCMS base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--state", required=True, type=Path, help="the device's state directory")
    parser.add_argument("--trace", type=Path, help="write every SPDU and certificate exchanged into this directory")
    parser.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds (default 30)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="make the canonical key pair; print the canonical id and public key")
    register = sub.add_parser("register", help="register this device through the management API")
    register.add_argument("--api-key", required=True, help="management API key (X-Api-Key)")
    register.add_argument("--device-id", help="device id (default ee-<first 16 hex of the canonical id>)")
    register.add_argument("--psid", type=int, action="append", default=[], help="application PSID (repeat); 32")
    enroll = sub.add_parser("enroll", help="obtain and verify an enrollment certificate from the ECA")
    enroll.add_argument("--type", choices=["explicit", "implicit"], default="explicit", dest="cert_type")
    enroll.add_argument("--root", type=Path, help="pin this COER root certificate instead of trusting on first use")
    enroll.add_argument("--validity-years", type=int, default=6, help="requested validity (the ECA may shorten it)")
    fetch = sub.add_parser("fetch-chain", help="download and verify the certificate chain file (CCF) and its CTL")
    fetch.add_argument("--root", type=Path, help="pin this COER root certificate (default: the stored root)")
    fetch.add_argument("--series", type=_series_id, help="ctlSeriesId, 16 hex (default: the root's HashedId8)")
    sub.add_parser("show", help="summarise the state directory")
    return parser


def main(
    argv: Sequence[str] | None = None, *, transport: Transport = urllib_transport, out: TextIO | None = None
) -> int:
    """Run one command; returns the exit code (``transport`` and ``out`` are for tests)."""
    stdout = out if out is not None else sys.stdout
    args = build_parser().parse_args(argv)
    state = DeviceState(args.state)

    def say(line: str) -> None:
        print(line, file=stdout)

    try:
        if args.command == "init":
            return _init(state, say)
        if args.command == "show":
            return _show(state, say)
        if not args.url:
            raise _Usage(f"{args.command} needs --url")
        client = Client(args.url, timeout=args.timeout, transport=transport)
        if args.command == "register":
            answer = register_use_case.register(
                state, client, args.api_key, device_id=args.device_id, psids=args.psid or [32]
            )
            say(f"registered device {answer.get('device_id', '?')} (state {answer.get('state', '?')})")
            return EXIT_OK
        pinned = None if args.root is None else load_certificate(args.root)
        if args.command == "fetch-chain":
            return _fetch_chain(state, client, Trace(args.trace), pinned, args.series, say)
        result = enroll_use_case.enroll(
            state,
            client,
            Trace(args.trace),
            cert_type=args.cert_type,
            pinned_root=pinned,
            now=time32.now(),
            validity_years=args.validity_years,
            say=say,
        )
        say(f"enrolled: {args.cert_type} certificate {result.certificate.hashed_id8.hex()}")
        return EXIT_OK
    except HttpError as exc:
        print(f"scms-ee {args.command}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except VerificationFailed as exc:
        print(f"scms-ee {args.command}: verification failed: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (_Usage, StateError, TransportError, OSError) as exc:
        print(f"scms-ee {args.command}: {exc}", file=sys.stderr)
        return EXIT_LOCAL


def _series_id(text: str) -> bytes:
    if len(text) != 16 or any(c not in string.hexdigits for c in text):
        raise argparse.ArgumentTypeError("expected 16 hex digits")
    return bytes.fromhex(text)


def _fetch_chain(
    state: DeviceState,
    client: Client,
    trace: Trace,
    pinned: Certificate | None,
    series: bytes | None,
    say: Callable[[str], None],
) -> int:
    if pinned is None and series is None and state.trusted_root() is None:
        raise _Usage("fetch-chain needs --root FILE or --series HEX until a root is stored")
    result = fetch_chain_use_case.fetch_chain(
        state, client, trace, pinned_root=pinned, series=series, now=time32.now(), say=say
    )
    if not result.unchanged:
        tbs = result.ctl.tbs_ctl
        signed = len(result.electors)
        say(f"CTL {tbs.ctl_series_id.hex()} #{tbs.sequence_number}: {signed} elector signature(s) verified")
        say(f"root {result.root.hashed_id8.hex()}: approved by the CTL ({result.root_source})")
        say(f"{result.filename or 'ccf'}: {len(result.certificates)} CA certificate(s) verified and stored")
    return EXIT_OK


def _init(state: DeviceState, say: Callable[[str], None]) -> int:
    state.ensure()
    if state.has_canonical_key():
        key = state.canonical_key()
        say("canonical key exists already (kept)")
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        state.save_canonical_key(key)
    public = key.public_key()
    canonical_id = canonical_id_of(public)
    state.update_json(canonical_id=canonical_id)
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    say(f"canonical id: {canonical_id}")
    say(f"public key: {point.hex()}")
    return EXIT_OK


def _show(state: DeviceState, say: Callable[[str], None]) -> int:
    saved = state.load_json()
    say(f"canonical id: {canonical_id_of(state.canonical_key().public_key())}")
    say(f"device id: {saved.get('device_id', '(not registered with scms-ee)')}")
    cert = state.enrollment_certificate()
    enrollment = saved.get("enrollment")
    if cert is None or not isinstance(enrollment, dict):
        say("enrollment: none")
        return EXIT_OK
    start, end = cert.validity
    say(f"enrollment certificate: {cert.hashed_id8.hex()} ({'implicit' if cert.is_implicit else 'explicit'})")
    say(f"validity: {_utc(start)} .. {_utc(end)}")
    say(f"issuer: {(cert.issuer_id or b'').hex()}")
    root = saved.get("root", {})
    say(f"root: {root.get('hashed_id8', '?')} ({root.get('source', '?')})")
    return EXIT_OK


def _utc(t: int) -> str:
    return time32.to_datetime(t).strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    sys.exit(main())
