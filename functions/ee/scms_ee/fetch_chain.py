"""``scms-ee fetch-chain``: download and verify the certificate chain file (CCF; 6.3.5.7 / 8.4, protocol.md §3.5).

``GET /v3/ccf-ctl?ctlSeriesId=<16 hex>`` answers a ``CertificateChainSpdu`` {homeCtl, others}. It is
accepted only when the home CTL belongs to the requested series; every elector signature on it
verifies (``spdu.ctl.verify_ctl_signatures``), comes from an approved elector, and there are at least
``quorum`` of them; the trusted root is approved by the CTL (``rootCaApprove`` holds its HashedId32);
and every certificate of ``others`` chains to that root now. When an earlier CTL of the series is
stored, the new one must not be older, and its electors and quorum are the ones the earlier CTL
approved (the quorum is "the number of electors that must sign the next CTL", protocol.md §3.5); for
the first CTL the device sees, its own approvals and quorum are all there is to check.

The trusted root is, in order: ``--root FILE``, the stored ``root.oer``, or (trust on first use, with
``--series``) the approved self-signed root the CTL carries in ``unsigned``. The series defaults to
the trusted root's HashedId8 (this SCMS names its CTL series so). A conditional GET with the stored
file name as ``If-None-Match`` makes an unchanged CCF a 304 that changes nothing.

Stored under ``--state DIR``: ``ccf/ccf.oer`` (the file as received), ``ccf/ctl.oer`` (its home CTL),
``ccf/<HashedId8 hex>.oer`` per certificate, ``root.oer`` and ``state.json`` ``"ccf"``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from scms_codec.cert.certificate import Certificate, verify_signature
from scms_codec.cert.chain import verify_chain
from scms_codec.cert.ssp import security_mgmt_ssp
from scms_codec.errors import ChainError, CodecError, InvalidSignature
from scms_codec.spdu.cert_management import (
    CertificateChain,
    FullIeeeTbsCtl,
    MultiSignedCtl,
    parse_certificate_chain_spdu,
)
from scms_codec.spdu.ctl import elector_entry, parse_multi_signed_ctl_spdu, verify_ctl_signatures

from .client import ERROR_HEADER, OCTET_STREAM, Client, HttpError, Response
from .enroll import RootSource, VerificationFailed
from .state import DeviceState, _write_atomic
from .trace import Trace, certificate_file

__all__ = [
    "CCF_PATH",
    "FetchedChain",
    "attachment_name",
    "certificate_role",
    "check_electors",
    "fetch_chain",
    "verify_ccf",
]

CCF_PATH = "/v3/ccf-ctl"
_CCF_DIR = "ccf"
_CCF_FILE = "ccf.oer"
_CTL_FILE = "ctl.oer"
_FILENAME = re.compile(r'filename="?([A-Za-z0-9._-]{1,128})"?')
_BODY_PREVIEW = 300


@dataclass(frozen=True)
class FetchedChain:
    """A verified CCF: its name, home CTL, the electors that signed it, the root and the CA certificates."""

    filename: str | None
    ctl: MultiSignedCtl = field(repr=False)
    electors: tuple[Certificate, ...]
    root: Certificate
    root_source: RootSource
    certificates: tuple[Certificate, ...]
    unchanged: bool = False


def certificate_role(cert: Certificate) -> str:
    """The role a CA certificate's ``SecurityMgmtSsp`` (PSID 35) names: root, ica, eca, …, la1/la2; else ``ca``."""
    ssp = security_mgmt_ssp(cert)
    if ssp is None:
        return "ca"
    kind, value = ssp
    if kind == "la":
        return f"la{value['laId']}"
    return "crlg" if kind == "crl" else kind


def check_electors(ctl: MultiSignedCtl, previous: FullIeeeTbsCtl | None) -> tuple[Certificate, ...]:
    tbs = ctl.tbs_ctl
    try:
        electors = verify_ctl_signatures(ctl)
    except InvalidSignature as exc:
        raise VerificationFailed(f"CTL #{tbs.sequence_number}: an elector signature does not verify") from exc
    except CodecError as exc:
        raise VerificationFailed(f"CTL #{tbs.sequence_number}: {type(exc).__name__}: {exc}") from exc
    authority = tbs
    if previous is not None:
        if tbs.sequence_number < previous.sequence_number:
            raise VerificationFailed(
                f"CTL #{tbs.sequence_number} is older than the stored CTL #{previous.sequence_number} (rollback)"
            )
        if tbs.sequence_number == previous.sequence_number and tbs != previous:
            raise VerificationFailed(f"CTL #{tbs.sequence_number} differs from the stored CTL with the same number")
        if tbs.sequence_number > previous.sequence_number:
            authority = previous
    approved = set(authority.elector_approve)
    for elector in electors:
        if elector_entry(elector) not in approved:
            raise VerificationFailed(
                f"CTL #{tbs.sequence_number}: signed by elector {elector.hashed_id8.hex()}, which is not approved"
            )
    # A CTL without quorum (older than 1609.2.1-2022) needs every approved elector.
    quorum = authority.quorum if authority.quorum is not None else len(approved)
    if len(electors) < max(quorum, 1):
        raise VerificationFailed(
            f"CTL #{tbs.sequence_number}: {len(electors)} elector signature(s), the quorum is {quorum}"
        )
    return electors


def _root(
    ctl: MultiSignedCtl, series: bytes, trusted: Certificate | None, source: RootSource
) -> tuple[Certificate, RootSource]:
    approved = set(ctl.tbs_ctl.root_ca_approve)
    if trusted is not None:
        if trusted.hashed_id32 not in approved:
            raise VerificationFailed(f"the {source} root {trusted.hashed_id8.hex()} is not approved by the CTL")
        return trusted, source
    candidates = []
    for octets in ctl.unsigned:
        try:
            cert = Certificate.from_bytes(octets)
        except CodecError:
            continue
        if cert.is_self_signed and cert.hashed_id32 in approved:
            candidates.append(cert)
    candidates.sort(key=lambda c: c.hashed_id8 != series)  # the series' namesake first
    if not candidates:
        raise VerificationFailed("no root is trusted yet and the CTL carries no approved self-signed root")
    root = candidates[0]
    try:
        verify_signature(root, None)
    except (InvalidSignature, CodecError) as exc:
        raise VerificationFailed(f"root {root.hashed_id8.hex()}: self-signature does not verify") from exc
    return root, "trust-on-first-use"


def verify_ccf(
    data: bytes,
    *,
    series: bytes,
    trusted_root: Certificate | None,
    root_source: RootSource = "stored",
    previous_ctl: FullIeeeTbsCtl | None = None,
    now: int,
    filename: str | None = None,
) -> FetchedChain:
    """Check everything in a ``CertificateChainSpdu`` (module docstring); ``VerificationFailed`` names the failure."""
    try:
        content: CertificateChain = parse_certificate_chain_spdu(data).content
        ctl = parse_multi_signed_ctl_spdu(content.home_ctl).content
    except CodecError as exc:
        raise VerificationFailed(f"not a valid CertificateChainSpdu: {type(exc).__name__}: {exc}") from exc
    if ctl.tbs_ctl.ctl_series_id != series:
        raise VerificationFailed(
            f"home CTL is of series {ctl.tbs_ctl.ctl_series_id.hex()}, not the requested {series.hex()}"
        )
    electors = check_electors(ctl, previous_ctl)
    root, source = _root(ctl, series, trusted_root, root_source)
    others = content.others
    for cert in others:
        try:
            verify_chain(cert, list(others), [root], at=now)
        except ChainError as exc:
            raise VerificationFailed(
                f"certificate {cert.hashed_id8.hex()} does not chain to root {root.hashed_id8.hex()}: {exc}"
            ) from exc
    return FetchedChain(filename, ctl, electors, root, source, others)


def _download(client: Client, series: bytes, etag: str | None) -> Response:
    """GET the CCF; 200 or 304 (``If-None-Match``) come back, any other status is an ``HttpError``."""
    query = urllib.parse.urlencode({"ctlSeriesId": series.hex()})
    headers = {"Accept": OCTET_STREAM}
    if etag is not None:
        headers["If-None-Match"] = etag
    answer = client.transport("GET", f"{client.base_url.rstrip('/')}{CCF_PATH}?{query}", headers, None, client.timeout)
    if answer.status not in (200, 304):
        text = answer.body[:_BODY_PREVIEW].decode("utf-8", "replace").strip()
        raise HttpError("GET", CCF_PATH, answer.status, answer.headers.get(ERROR_HEADER.lower()), text)
    return answer


def attachment_name(answer: Response) -> str | None:
    match = _FILENAME.search(answer.headers.get("content-disposition", ""))
    return match.group(1) if match else None


def _trace(trace: Trace, data: bytes) -> None:
    """Trace the file and every certificate in it before verifying, so that a failure can be inspected."""
    if not trace.enabled:
        return
    trace.message("received", "CertificateChainSpdu", data, signed_by=None)
    try:
        content = parse_certificate_chain_spdu(data).content
        ctl = parse_multi_signed_ctl_spdu(content.home_ctl).content
        anchors = [Certificate.from_bytes(c) for c in ctl.unsigned]
    except CodecError:
        return
    files: dict[bytes, str | None] = {}
    for cert in anchors:
        role = certificate_role(cert)
        files[cert.hashed_id8] = trace.certificate(role, cert, issued_by=certificate_file(role, cert))
    for cert in content.others:
        files[cert.hashed_id8] = trace.certificate(
            certificate_role(cert), cert, issued_by=files.get(cert.issuer_id or b"")
        )


def _store(state: DeviceState, data: bytes, result: FetchedChain) -> None:
    state.ensure()
    directory = state.root / _CCF_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    for cert in result.certificates:
        _write_atomic(directory / f"{cert.hashed_id8.hex()}.oer", cert.received, 0o644)
    _write_atomic(directory / _CTL_FILE, parse_certificate_chain_spdu(data).content.home_ctl, 0o644)
    _write_atomic(directory / _CCF_FILE, data, 0o644)
    state.save_root(result.root)
    tbs = result.ctl.tbs_ctl
    state.update_json(
        ccf={
            "filename": result.filename,
            "ctl_series_id": tbs.ctl_series_id.hex(),
            "ctl_sequence_number": tbs.sequence_number,
            "electors": [e.hashed_id8.hex() for e in result.electors],
            "certificates": [
                {"hashed_id8": c.hashed_id8.hex(), "role": certificate_role(c)} for c in result.certificates
            ],
        },
        root={"hashed_id8": result.root.hashed_id8.hex(), "source": result.root_source},
    )


def _stored_ctl(state: DeviceState, series: bytes) -> MultiSignedCtl | None:
    path = state.root / _CCF_DIR / _CTL_FILE
    if not path.exists():
        return None
    try:
        ctl = parse_multi_signed_ctl_spdu(path.read_bytes()).content
    except CodecError:
        return None  # An unreadable stored CTL is replaced by the next verified one.
    return ctl if ctl.tbs_ctl.ctl_series_id == series else None


def _stored_chain(state: DeviceState, series: bytes, trusted: Certificate, source: RootSource) -> FetchedChain | None:
    """The CCF verified and stored earlier for ``series`` (None when there is none to revalidate)."""
    document = state.load_json()
    saved = document.get("ccf")
    ctl = _stored_ctl(state, series)
    if ctl is None or not isinstance(saved, dict) or not saved.get("filename"):
        return None
    root = document.get("root")
    if not isinstance(root, dict) or root.get("hashed_id8") != trusted.hashed_id8.hex():
        return None  # Verified under another root: verify again under this one.
    try:
        certs = tuple(
            Certificate.from_bytes((state.root / _CCF_DIR / f"{c['hashed_id8']}.oer").read_bytes())
            for c in saved.get("certificates", [])
        )
    except (OSError, CodecError, KeyError, TypeError):
        return None  # Something is missing: download the whole file again.
    return FetchedChain(str(saved["filename"]), ctl, (), trusted, source, certs, unchanged=True)


def fetch_chain(
    state: DeviceState,
    client: Client,
    trace: Trace,
    *,
    pinned_root: Certificate | None,
    series: bytes | None,
    now: int,
    say: Callable[[str], None],
) -> FetchedChain:
    """The whole ``fetch-chain`` command: download, trace, verify, store. A failure leaves the state as it was."""
    trusted = pinned_root if pinned_root is not None else state.trusted_root()
    source: RootSource = "pinned" if pinned_root is not None else "stored"
    if series is None:
        if trusted is None:
            raise VerificationFailed("no root is trusted yet: pass --root FILE or --series HEX")
        series = trusted.hashed_id8
    stored = None if trusted is None else _stored_chain(state, series, trusted, source)
    answer = _download(client, series, None if stored is None else f'"{stored.filename}"')
    if answer.status == 304:
        if stored is None:
            raise VerificationFailed("answered 304 Not Modified to a request that was not conditional")
        say(f"{stored.filename}: unchanged (304 Not Modified)")
        return stored
    _trace(trace, answer.body)
    previous = _stored_ctl(state, series)
    result = verify_ccf(
        answer.body,
        series=series,
        trusted_root=trusted,
        root_source=source,
        previous_ctl=None if previous is None else previous.tbs_ctl,
        now=now,
        filename=attachment_name(answer),
    )
    _store(state, answer.body, result)
    return result
