"""``scms-ee``: a command-line end entity that talks to the SCMS only through its public HTTP API and the codec.

``scms-ee --url URL --state DIR [--trace DIR] init|register|enroll|fetch-chain|show|provision|download|``
``successor-enroll|sign-message|report|fetch-trust|check-revoked`` (issue #4 §6, issue #5 §6, issue #6 §4).
Exit codes: 0 ok; 1 refused by the SCMS or verification failed; 2 usage or local error.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import time32
from scms_codec.cert.certificate import Certificate

from . import check_revoked as check_revoked_use_case
from . import download as download_use_case
from . import enroll as enroll_use_case
from . import fetch_chain as fetch_chain_use_case
from . import fetch_trust as fetch_trust_use_case
from . import provision as provision_use_case
from . import register as register_use_case
from . import report as report_use_case
from . import sign_message as sign_message_use_case
from . import successor as successor_use_case
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
    provision = sub.add_parser("provision", help="request authorization certificates from the RA, then download them")
    provision.add_argument("--variant", required=True, choices=["obk", "ubk", "cubk", "plain", "private"])
    provision.add_argument("--cert", required=True, choices=["explicit", "implicit"], dest="cert_type")
    provision.add_argument("--periods", type=_positive, default=1, help="i-periods to ask for (butterfly; default 1)")
    provision.add_argument("--start", type=_time32, help="validity start: Time32 or ISO 8601 UTC (default now)")
    provision.add_argument("--psid", type=int, action="append", default=[], help="PSID (repeat; default registered)")
    provision.add_argument("--no-download", action="store_true", help="stop after the ack")
    _schedule_arguments(provision)
    _download_arguments(provision)
    successor = sub.add_parser("successor-enroll", help="replace the enrollment certificate through the RA")
    successor.add_argument("--validity-years", type=int, default=6, help="requested validity (the ECA may shorten it)")
    successor.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the certificate (default 30)")
    sign = sub.add_parser("sign-message", help="sign a message with pseudonym (i, j): evidence for a report")
    sign.add_argument("--period", required=True, type=_hex, dest="i", help="i-period, hex (as provision prints)")
    sign.add_argument("--j", required=True, type=_hex, help="j, hex")
    sign.add_argument("--psid", type=int, default=sign_message_use_case.DEFAULT_PSID, help="PSID (default 32)")
    sign.add_argument("--payload", type=_octets, default=b"scms-ee message", help="payload octets, hex")
    sign.add_argument("--out", required=True, type=Path, help="write the Ieee1609Dot2Data here")
    report = sub.add_parser("report", help="send a misbehaviour report about an observed message to the MA")
    report.add_argument("--evidence", required=True, type=Path, help="the observed Ieee1609Dot2Data signedData")
    sub.add_parser("fetch-trust", help="download and verify the info status, CTLs, CCF, CRLs and composite CRL")
    check = sub.add_parser("check-revoked", help="check own certificates against the stored CRLs")
    check.add_argument("--json", action="store_true", help="print one JSON document")
    download = sub.add_parser("download", help="download, decrypt and verify a request's certificate batches")
    download.add_argument("--request", type=_request_hash, help="request hash, 16 hex (default: the latest)")
    _download_arguments(download)
    return parser


def _schedule_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = provision_use_case.default_schedule()
    group = parser.add_argument_group("i-period schedule (the RA's; defaults of docs/params.md)")
    group.add_argument("--i-period-length", type=_positive, default=defaults.length, help="seconds")
    group.add_argument("--i-period-epoch", type=int, default=defaults.epoch, help="Time32 of period init")
    group.add_argument("--i-period-init", type=int, default=defaults.init, help="i of the epoch")
    group.add_argument("--time-overlap", type=int, default=defaults.overlap, help="seconds")


def _download_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for batches (default 60)")
    parser.add_argument("--workers", type=int, help="processes opening batches (default: up to 2)")
    parser.add_argument("--fetchers", type=_positive, default=2, help="concurrent downloads after the first (2)")


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
        if args.command == "sign-message":
            return _sign_message(state, Trace(args.trace), args, say)
        if args.command == "check-revoked":
            return _check_revoked(state, args.json, say)
        if not args.url:
            raise _Usage(f"{args.command} needs --url")
        client = Client(args.url, timeout=args.timeout, transport=transport)
        if args.command == "register":
            answer = register_use_case.register(
                state, client, args.api_key, device_id=args.device_id, psids=args.psid or [32]
            )
            say(f"registered device {answer.get('device_id', '?')} (state {answer.get('state', '?')})")
            return EXIT_OK
        pinned = None if getattr(args, "root", None) is None else load_certificate(args.root)
        if args.command == "fetch-chain":
            return _fetch_chain(state, client, Trace(args.trace), pinned, args.series, say)
        if args.command == "provision":
            return _provision(state, client, Trace(args.trace), args, say)
        if args.command == "download":
            return _download(state, client, Trace(args.trace), args, args.request, say)
        if args.command == "successor-enroll":
            return _successor(state, client, Trace(args.trace), args, say)
        if args.command == "report":
            return _report(state, client, Trace(args.trace), args.evidence, say)
        if args.command == "fetch-trust":
            return _fetch_trust(state, client, Trace(args.trace), say)
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
    except download_use_case.NotReady as exc:
        print(f"scms-ee {args.command}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (_Usage, StateError, TransportError, OSError) as exc:
        print(f"scms-ee {args.command}: {exc}", file=sys.stderr)
        return EXIT_LOCAL


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer")
    return value


def _time32(text: str) -> int:
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected a Time32 or an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return time32.from_datetime(moment)


def _request_hash(text: str) -> bytes:
    if len(text) != 16 or any(c not in string.hexdigits for c in text):
        raise argparse.ArgumentTypeError("expected 16 hex digits")
    return bytes.fromhex(text)


def _provision(
    state: DeviceState, client: Client, trace: Trace, args: argparse.Namespace, say: Callable[[str], None]
) -> int:
    schedule = provision_use_case.default_schedule(
        length=args.i_period_length, epoch=args.i_period_epoch, init=args.i_period_init, overlap=args.time_overlap
    )
    record = provision_use_case.provision(
        state, client, trace, variant=args.variant, cert_type=args.cert_type, now=time32.now(), schedule=schedule,
        periods=args.periods, start=args.start, psids=args.psid or None, say=say,
    )  # fmt: skip
    first = "" if record.expected.variant not in ("obk", "ubk", "cubk") else f", firstI {record.first_i:x}"
    say(f"request {record.request_hash.hex().upper()} acked{first}, next download {_utc(record.next_dl_time)}")
    say(f"periods {record.first_i:x}..{record.last_i:x} ({record.variant}, {record.cert_type})")
    if args.no_download:
        return EXIT_OK
    return _download(state, client, trace, args, record.request_hash, say)


def _download(
    state: DeviceState,
    client: Client,
    trace: Trace,
    args: argparse.Namespace,
    request_hash: bytes | None,
    say: Callable[[str], None],
) -> int:
    result = download_use_case.download(
        state, client, trace, request_hash=request_hash, wait=args.wait, workers=args.workers,
        fetchers=args.fetchers, say=say,
    )  # fmt: skip
    counts = sorted(set(result.periods.values()))
    per_period = "/".join(str(c) for c in counts)
    say(
        f"downloaded {len(result.periods)} period(s), {per_period} certificate(s) per period: "
        f"{result.verified} verified (keys match, linkage values distinct)"
    )
    say(
        f"time {result.total_seconds:.3f} s (RA {result.download_seconds:.3f} s over {result.downloads} GET(s), "
        f"opening {result.open_seconds:.3f} s in {result.workers} process(es))"
    )
    if result.empty_periods:
        empty = ", ".join(f"{i:x}" for i in result.empty_periods)
        print(f"scms-ee {args.command}: no certificate in the batch of period(s) {empty}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK


def _successor(
    state: DeviceState, client: Client, trace: Trace, args: argparse.Namespace, say: Callable[[str], None]
) -> int:
    result = successor_use_case.successor_enroll(
        state, client, trace, now=time32.now(), validity_years=args.validity_years, wait=args.wait, say=say,
        current_time=time32.now,
    )  # fmt: skip
    new = result.enrollment.certificate
    kind = "implicit" if new.is_implicit else "explicit"
    say(f"successor enrolled: {kind} certificate {new.hashed_id8.hex()} replaces {result.previous.hashed_id8.hex()}")
    return EXIT_OK


def _hex(text: str) -> int:
    try:
        value = int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a hex number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("expected a non-negative number")
    return value


def _octets(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected hex octets") from None


def _sign_message(state: DeviceState, trace: Trace, args: argparse.Namespace, say: Callable[[str], None]) -> int:
    signed = sign_message_use_case.sign_message(
        state, trace, i=args.i, j=args.j, psid=args.psid, payload=args.payload, now=time32.now(), out=args.out
    )
    cert = signed.signer.certificate
    say(f"signed {len(signed.data)} octets with pseudonym {args.i:x}_{args.j:x} ({cert.hashed_id8.hex()}): {args.out}")
    return EXIT_OK


def _report(state: DeviceState, client: Client, trace: Trace, evidence: Path, say: Callable[[str], None]) -> int:
    sent = report_use_case.report(state, client, trace, evidence=evidence.read_bytes(), now=time32.now(), say=say)
    say(f"report accepted by MA {sent.ma.hashed_id8.hex()} (evidence PSID {sent.evidence_psid})")
    say(f"Scms-Report-Id: {sent.report_id}")
    return EXIT_OK


def _fetch_trust(state: DeviceState, client: Client, trace: Trace, say: Callable[[str], None]) -> int:
    result = fetch_trust_use_case.fetch_trust(state, client, trace, now=time32.now(), say=say)
    for note in result.notes:
        say(note)
    for name in result.fetched:
        say(f"{name}: verified and stored")
    for name in result.unchanged:
        say(f"{name}: unchanged (304 Not Modified)")
    for crl in result.crls:
        c = crl.contents
        say(f"CRL {c.crl_craca.hex()}/{c.crl_series}: {crl.kind}, issued {_utc(c.issue_date)}, next {_utc(c.next_crl)}")
    if result.ctls:
        say(f"CTL sequence number(s) verified: {', '.join(str(n) for n in result.ctls)}")
    return EXIT_OK


def _check_revoked(state: DeviceState, as_json: bool, say: Callable[[str], None]) -> int:
    result = check_revoked_use_case.check_revoked(state, fetch_trust_use_case.stored_crls(state))
    if as_json:
        say(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return EXIT_OK
    for crl in result.crls:
        say(f"CRL {crl['crl']} ({crl['type']}), issued {_utc(crl['issue_date'])}")
    for period in result.periods:
        unchecked = f", {period.unchecked} not checkable" if period.unchecked else ""
        say(f"period {period.i:x}: {period.revoked}/{period.total} revoked{unchecked}")
    for enrollment in result.enrollments:
        which = "current" if enrollment.current else "previous"
        say(f"enrollment {enrollment.hashed_id8} ({which}): {'REVOKED' if enrollment.revoked else 'not revoked'}")
    return EXIT_OK


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
    else:
        start, end = cert.validity
        say(f"enrollment certificate: {cert.hashed_id8.hex()} ({'implicit' if cert.is_implicit else 'explicit'})")
        say(f"validity: {_utc(start)} .. {_utc(end)}")
        say(f"issuer: {(cert.issuer_id or b'').hex()}")
        root = saved.get("root", {})
        say(f"root: {root.get('hashed_id8', '?')} ({root.get('source', '?')})")
    provisioning = saved.get("provisioning")
    store = provision_use_case.ProvisioningStore(state)
    for name in provisioning.get("requests", []) if isinstance(provisioning, dict) else []:
        record, _ = store.load(bytes.fromhex(name))
        summary = state.root / "pseudonyms" / name / "summary.json"
        got = "not downloaded"
        if summary.exists():
            counts = json.loads(summary.read_text(encoding="utf-8")).get("periods", {})
            got = f"{sum(counts.values())} certificate(s) in {len(counts)} period(s)"
        span = f"{record.first_i:x}..{record.last_i:x}"
        say(f"request {name}: {record.variant} {record.cert_type}, periods {span}, {got}")
    return EXIT_OK


def _utc(t: int) -> str:
    return time32.to_datetime(t).strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    sys.exit(main())
