"""``scms-ee fetch-trust``: download and verify every trust artefact (1609.2.1 §6.3.5.7-14, §8; protocol.md §3.5).

In this order, each verified to the stored root (``root.oer``) before anything is stored:

1. the **info status** (``GET /v3/certificate-management-info-status``,
   ``CertificateManagementInformationStatusSpdu``): signed by an RA certificate (PSID 35 ``RaSsp``)
   that chains to the root now through the CCF's certificates (the CCF is fetched first when none is
   stored, and again when the signer does not chain through the stored one);
2. the **CTL zip** (``GET /v3/ctl?ctlSeriesId=&ctlSequenceNumber=<stored>``, 8.6): every
   ``MultiSignedCtlSpdu`` of the root's series in sequence order, each signed by a quorum of the
   electors the previous one approved (``fetch_chain.check_electors``; the first CTL ever seen by
   its own), none older than the stored one, and the newest still approving the root;
3. the **CCF** (``fetch-chain``'s own use case, conditional on its stored name) when the info status's
   ``caCcf`` changed;
4. the **CRLs** (``GET /v3/crl?craca=&crlSeries=``) of the root CRACA: the series the info status
   lists for it (without an info status: those the device's own certificates name). A ``SecuredCrl``
   (psid 256) must be signed by a certificate that chains to the root now, whose PSID 256 ``CrlSsp``
   lists the series, for the (CRACA, series) asked for, and not issued before the stored one (rollback);
5. the **composite CRL** (``GET /v3/composite-crl-ctl?ctlSeriesId=``, 8.5): its home CTL as in step 2
   and each of its CRLs as in step 4.

With a stored info status, only what it says changed is fetched (a CRL whose ``issueDate`` moved, the
CCF when ``caCcf`` did; the composite CRL when a CRL or CTL did); an unchanged info status (304 to
``If-None-Match: "<stored name>"``) fetches nothing else. The CTL zip is fetched only when the
verified info status lists, for the root's series, a sequence number above the newest CTL the
device holds (from an earlier ``fetch-trust`` or the CCF's home CTL), or when there is no info
status to go by or no CTL held; the decision is reported (``TrustResult.notes``). Every GET but the
CTL zip's is conditional on the stored file's name (the SCMS's ETag; a CTL zip is named by its
lowest sequence number, so its name does not change when a newer CTL joins it, and a 304 would hide
that CTL). A CTL zip that ends below the sequence number the info status lists is refused
(``VerificationFailed``: the info status is not stored, so the next run asks again). Stored under ``trust/``:
``info-status.oer``, ``ctl/ctl_<series hex>_<seq>.oer``, ``crl/<craca hex>_<series>.oer``,
``composite-crl.oer``, and ``state.json`` ``"trust"``. A failed check raises ``VerificationFailed``
and stores nothing of that artefact (nor the info status, so the next run tries again).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from scms_codec.cert.certificate import Certificate
from scms_codec.cert.chain import verify_chain
from scms_codec.cert.ssp import crl_ssp as signer_crl_ssp
from scms_codec.errors import ChainError, CodecError, InvalidSignature
from scms_codec.spdu.cert_management import (
    CertificateManagementInfoStatus,
    FullIeeeTbsCtl,
    MultiSignedCtl,
    parse_composite_crl_spdu,
    parse_info_status_spdu,
)
from scms_codec.spdu.crl import CrlContents, parse_secured_crl
from scms_codec.spdu.ctl import parse_multi_signed_ctl_spdu

from . import fetch_chain as fetch_chain_use_case
from .client import Client, HttpError, Response
from .enroll import VerificationFailed
from .fetch_chain import attachment_name, certificate_role, check_electors
from .provision import ca_certificates
from .pseudonym_files import own_pseudonyms
from .state import DeviceState, StateError, _write_atomic
from .trace import Trace

__all__ = [
    "COMPOSITE_CRL_PATH",
    "CRL_PATH",
    "CTL_PATH",
    "INFO_STATUS_PATH",
    "TrustResult",
    "VerifiedCrl",
    "crl_kind",
    "fetch_trust",
    "stored_crls",
    "verify_crl",
    "verify_ctl_sequence",
    "verify_info_status",
]

INFO_STATUS_PATH = "/v3/certificate-management-info-status"
CTL_PATH = "/v3/ctl"
CRL_PATH = "/v3/crl"
COMPOSITE_CRL_PATH = "/v3/composite-crl-ctl"
_TRUST = "trust"
_CTL_NAME = re.compile(r"^ctl_([0-9a-fA-F]{16})_([0-9a-fA-F]{1,4}|[0-9]{1,5})\.oer$")
_MAX_CTLS = 1024


@dataclass(frozen=True)
class VerifiedCrl:
    """A ``SecuredCrl`` whose signature, signer chain and ``CrlSsp`` checked out."""

    data: bytes = field(repr=False)
    contents: CrlContents = field(repr=False)
    signer: Certificate
    kind: str  # fullLinkedCrl, deltaLinkedCrl, fullHashCrl, deltaHashCrl, ...

    @property
    def key(self) -> str:
        """``<craca hex>_<series>``: its file name under ``trust/crl/`` without ``.oer``."""
        return f"{self.contents.crl_craca.hex()}_{self.contents.crl_series}"

    @property
    def serial(self) -> int | None:
        """``crlSerial`` of a hash CRL (None for a linked one)."""
        value = self.contents.type_specific[1]
        return int(value["crlSerial"]) if isinstance(value, dict) and "crlSerial" in value else None


@dataclass
class TrustResult:
    """What ``fetch-trust`` did: the files it verified and stored, and those unchanged since the last run."""

    fetched: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    info_status: CertificateManagementInfoStatus | None = None
    crls: list[VerifiedCrl] = field(default_factory=list)
    ctls: list[int] = field(default_factory=list)  # sequence numbers verified
    notes: list[str] = field(default_factory=list)  # why something was or was not fetched


# --- verification (pure) -------------------------------------------------------------------------


def _chain(cert: Certificate, root: Certificate, ca: Iterable[Certificate], now: int, what: str) -> None:
    try:
        verify_chain(cert, list(ca), [root], at=now)
    except ChainError as exc:
        raise VerificationFailed(
            f"{what}: signer {cert.hashed_id8.hex()} does not chain to root {root.hashed_id8.hex()}: {exc}"
        ) from exc


def _resolver(ca: Iterable[Certificate]) -> Callable[[bytes], Certificate | None]:
    by_id = {c.hashed_id8: c for c in ca}
    return by_id.get


def verify_info_status(
    data: bytes, *, root: Certificate, ca: tuple[Certificate, ...], now: int
) -> tuple[CertificateManagementInfoStatus, Certificate]:
    """The info status and its RA signer: signature, RA role, chain to ``root`` now (module docstring, step 1)."""
    try:
        opened = parse_info_status_spdu(data, resolve_signer=_resolver(ca))
    except InvalidSignature as exc:
        raise VerificationFailed("info status: the signature does not verify") from exc
    except CodecError as exc:
        raise VerificationFailed(f"info status: not a valid SPDU ({type(exc).__name__}: {exc})") from exc
    signer = opened.signer
    if signer is None or certificate_role(signer) != "ra":
        raise VerificationFailed("info status: not signed by an RA certificate")
    _chain(signer, root, ca, now, "info status")
    return opened.content, signer


def crl_kind(contents: CrlContents) -> str:
    """The ``typeSpecific`` choice: fullHashCrl, deltaHashCrl, fullLinkedCrl, deltaLinkedCrl, ..."""
    return str(contents.type_specific[0])


def _craca_allowed(signer: Certificate, associated: str) -> bytes | None:
    """The HashedId8 ``crlCraca`` must name (1609.2 CracaType): the signer itself, or its issuer."""
    if associated == "isCraca":
        return signer.hashed_id8
    if associated == "issuerIsCraca":
        return signer.issuer_id
    return None


def verify_crl(
    data: bytes,
    *,
    root: Certificate,
    ca: tuple[Certificate, ...],
    now: int,
    craca: bytes | None = None,
    series: int | None = None,
    previous_issue_date: int | None = None,
) -> VerifiedCrl:
    """A ``SecuredCrl`` checked as in the module docstring, step 4; ``craca``/``series`` None accept any."""
    try:
        opened = parse_secured_crl(data, resolve_signer=_resolver(ca))
    except InvalidSignature as exc:
        raise VerificationFailed("CRL: the signature does not verify") from exc
    except CodecError as exc:
        raise VerificationFailed(f"CRL: not a valid SecuredCrl ({type(exc).__name__}: {exc})") from exc
    contents, signer = opened.content, opened.signer
    name = f"CRL {contents.crl_craca.hex()}/{contents.crl_series}"
    if signer is None:
        raise VerificationFailed(f"{name}: no signer certificate")
    if craca is not None and contents.crl_craca != craca:
        raise VerificationFailed(f"{name}: asked for the CRL of CRACA {craca.hex()}")
    if series is not None and contents.crl_series != series:
        raise VerificationFailed(f"{name}: asked for series {series}")
    _chain(signer, root, ca, now, name)
    crl_ssp = signer_crl_ssp(signer)
    if crl_ssp is None or contents.crl_series not in {int(s) for s in crl_ssp["crls"]}:
        raise VerificationFailed(
            f"{name}: signer {signer.hashed_id8.hex()} may not sign series {contents.crl_series} (CrlSsp)"
        )
    if contents.crl_craca != _craca_allowed(signer, str(crl_ssp["associatedCraca"])):
        raise VerificationFailed(
            f"{name}: signer {signer.hashed_id8.hex()} may not sign for CRACA {contents.crl_craca.hex()}"
            f" (CrlSsp {crl_ssp['associatedCraca']})"
        )
    if previous_issue_date is not None and contents.issue_date < previous_issue_date:
        raise VerificationFailed(f"{name}: issued before the stored CRL (rollback)")
    return VerifiedCrl(data, contents, signer, crl_kind(contents))


def verify_ctl_sequence(
    ctls: Iterable[MultiSignedCtl], *, series: bytes, root: Certificate, previous: FullIeeeTbsCtl | None
) -> list[MultiSignedCtl]:
    """CTLs of ``series`` in order, each authorised by the one before (module docstring, step 3); the new ones."""
    ordered = sorted(ctls, key=lambda c: c.tbs_ctl.sequence_number)
    authority = previous
    newer: list[MultiSignedCtl] = []
    for ctl in ordered:
        tbs = ctl.tbs_ctl
        if tbs.ctl_series_id != series:
            raise VerificationFailed(f"CTL #{tbs.sequence_number} is of series {tbs.ctl_series_id.hex()}")
        if authority is not None and tbs.sequence_number < authority.sequence_number:
            continue  # history the device has already moved past
        check_electors(ctl, authority)
        if authority is None or tbs.sequence_number > authority.sequence_number:
            newer.append(ctl)
        authority = tbs
    newest = authority
    if newest is not None and root.hashed_id32 not in newest.root_ca_approve:
        raise VerificationFailed(f"CTL #{newest.sequence_number} no longer approves root {root.hashed_id8.hex()}")
    return newer


def read_ctl_zip(data: bytes) -> list[MultiSignedCtl]:
    """The ``MultiSignedCtlSpdu`` files of a CTL zip (8.6), by their ``ctl_<series>_<seq>.oer`` names."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
        if not members or len(members) > _MAX_CTLS:
            raise VerificationFailed(f"CTL zip: {len(members)} files")
        out = []
        for member in members:
            if not _CTL_NAME.match(PurePosixPath(member.filename).name):
                raise VerificationFailed(f"CTL zip: unexpected file {member.filename!r}")
            out.append(parse_multi_signed_ctl_spdu(archive.read(member)).content)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise VerificationFailed(f"CTL zip: unreadable ({type(exc).__name__})") from exc
    except CodecError as exc:
        raise VerificationFailed(f"CTL zip: a CTL does not decode ({type(exc).__name__})") from exc
    return out


# --- the state directory ---------------------------------------------------------------------------


def _trust(state: DeviceState) -> dict[str, Any]:
    saved = state.load_json().get("trust")
    return dict(saved) if isinstance(saved, dict) else {}


def _save_trust(state: DeviceState, **values: Any) -> None:
    state.update_json(trust=_trust(state) | values)


def _write(state: DeviceState, relative: str, data: bytes) -> None:
    path = state.root / _TRUST / relative
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_atomic(path, data, 0o644)


def _newest_stored_ctl(state: DeviceState, series: bytes) -> FullIeeeTbsCtl | None:
    """The newest CTL of ``series`` the device verified: from ``fetch-trust`` or the CCF's home CTL."""
    candidates = []
    saved = _trust(state).get("ctl")
    if isinstance(saved, dict) and saved.get("series") == series.hex():
        path = state.root / _TRUST / "ctl" / f"ctl_{series.hex()}_{int(saved['sequence_number'])}.oer"
        candidates.append(path)
    candidates.append(state.root / "ccf" / "ctl.oer")
    newest: FullIeeeTbsCtl | None = None
    for path in candidates:
        if not path.exists():
            continue
        try:
            tbs = parse_multi_signed_ctl_spdu(path.read_bytes()).content.tbs_ctl
        except CodecError:
            continue
        if tbs.ctl_series_id == series and (newest is None or tbs.sequence_number > newest.sequence_number):
            newest = tbs
    return newest


def stored_crls(state: DeviceState) -> list[tuple[str, bytes]]:
    """The stored CRL files as (``<craca hex>_<series>``, octets); verified when they were stored."""
    directory = state.root / _TRUST / "crl"
    if not directory.is_dir():
        return []
    return [(p.stem, p.read_bytes()) for p in sorted(directory.glob("*.oer"))]


def _own_series(state: DeviceState) -> set[int]:
    """The CRL series the device's own certificates name (enrollment, then one pseudonym per request)."""
    series: set[int] = set()
    enrollment = state.enrollment_certificate()
    if enrollment is not None:
        series.add(int(enrollment.tbs["crlSeries"]))
    seen: set[str] = set()
    for pseudonym in own_pseudonyms(state):
        if pseudonym.request not in seen:
            seen.add(pseudonym.request)
            series.add(int(pseudonym.certificate.tbs["crlSeries"]))
    return series


# --- the command -----------------------------------------------------------------------------------


def _get(client: Client, path: str, query: dict[str, str], etag: str | None) -> Response | None:
    """A conditional GET; None for a 404 (nothing published yet)."""
    try:
        return client.get(path, query, etag=None if etag is None else f'"{etag}"')
    except HttpError as exc:
        if exc.status == 404:
            return None
        raise


def _info_status(
    state: DeviceState, client: Client, trace: Trace, root: Certificate, now: int, say: Callable[[str], None],
    result: TrustResult,
) -> tuple[Response | None, CertificateManagementInfoStatus | None, bool]:  # fmt: skip
    """(answer, verified info status, CCF fetched meanwhile); answer None: none published, 304 → unchanged."""
    saved = _trust(state).get("info_status")
    etag = saved.get("filename") if isinstance(saved, dict) else None
    answer = _get(client, INFO_STATUS_PATH, {}, etag)
    if answer is None or answer.status == 304:
        return answer, None, False
    trace.message("received", "CertificateManagementInformationStatusSpdu", answer.body, signed_by=None)
    ca = ca_certificates(state)
    try:
        info, signer = verify_info_status(answer.body, root=root, ca=ca, now=now)
        return answer, info, False
    except VerificationFailed:
        # The RA may have moved to a certificate the stored CCF does not hold yet: fetch it and retry once.
        _fetch_ccf(state, client, trace, now, say, result)
        info, signer = verify_info_status(answer.body, root=root, ca=ca_certificates(state), now=now)
        if trace.enabled:
            trace.certificate("ra", signer, issued_by=None)
        return answer, info, True


def _fetch_ccf(
    state: DeviceState, client: Client, trace: Trace, now: int, say: Callable[[str], None], result: TrustResult
) -> None:
    """Step 3: ``fetch-chain``'s use case (conditional on the stored CCF's name; it says when unchanged)."""
    chain = fetch_chain_use_case.fetch_chain(state, client, trace, pinned_root=None, series=None, now=now, say=say)
    if not chain.unchanged:
        result.fetched.append(chain.filename or "ccf")


def _fetch_ctls(
    state: DeviceState, client: Client, trace: Trace, root: Certificate, series: bytes, result: TrustResult
) -> bool:
    """Step 2; True when a CTL newer than the stored one arrived."""
    previous = _newest_stored_ctl(state, series)
    query = {"ctlSeriesId": series.hex()}
    if previous is not None:
        query["ctlSequenceNumber"] = str(previous.sequence_number)
    # Not conditional: the zip is named by its LOWEST sequence number (8.6), so its name (the ETag)
    # stays the same when a newer CTL joins it, and a 304 would hide that CTL.
    answer = _get(client, CTL_PATH, query, None)
    if answer is None or answer.status == 304:
        raise HttpError("GET", CTL_PATH, 404, None, f"no CTL of series {series.hex()}")
    ctls = read_ctl_zip(answer.body)
    for ctl in ctls:
        if trace.enabled:
            trace.message("received", "MultiSignedCtlSpdu", _ctl_octets(answer.body, ctl), signed_by=None)
    newer = verify_ctl_sequence(ctls, series=series, root=root, previous=previous)
    archive = zipfile.ZipFile(io.BytesIO(answer.body))
    for member in archive.infolist():
        if not member.is_dir():
            _write(state, f"ctl/{PurePosixPath(member.filename).name}", archive.read(member))
    newest = max((c.tbs_ctl.sequence_number for c in ctls), default=0)
    for ctl in ctls:  # also under the name fetch-trust reads back, whatever the zip's number format
        if ctl.tbs_ctl.sequence_number == newest:
            _write(state, f"ctl/ctl_{series.hex()}_{newest}.oer", _ctl_octets(answer.body, ctl))
    name = attachment_name(answer) or f"ctl_{series.hex()}.zip"
    _save_trust(state, ctl={"series": series.hex(), "sequence_number": newest, "filename": name})
    result.fetched.append(name)
    result.ctls.extend(c.tbs_ctl.sequence_number for c in newer)
    return bool(newer)


def _ctls_if_changed(
    state: DeviceState, client: Client, trace: Trace, root: Certificate, series: bytes, listed: list[int] | None,
    result: TrustResult,
) -> bool:  # fmt: skip
    """Step 2 when the info status (``listed``: its sequence numbers of ``series``) says a CTL newer than the held one
    exists; True when a newer CTL was verified and stored."""
    held = _newest_stored_ctl(state, series)
    what = f"CTL {series.hex()}"
    if listed is None or held is None:
        reason = "no info status to go by" if listed is None else "no CTL of the series held"
        result.notes.append(f"{what}: fetched ({reason})")
        return _fetch_ctls(state, client, trace, root, series, result)
    if not listed:
        result.notes.append(
            f"{what}: not fetched (the info status lists no CTL of the series; #{held.sequence_number} held)"
        )
        _record_held(state, series, held)
        return False
    newest = max(listed)
    if newest <= held.sequence_number:
        result.notes.append(f"{what}: not fetched (#{held.sequence_number} held, the info status lists #{newest})")
        _record_held(state, series, held)
        return False
    result.notes.append(f"{what}: fetched (#{held.sequence_number} held, the info status lists #{newest})")
    new = _fetch_ctls(state, client, trace, root, series, result)
    reached = _newest_stored_ctl(state, series)
    if reached is None or reached.sequence_number < newest:
        got = "none" if reached is None else f"#{reached.sequence_number}"
        raise VerificationFailed(f"{what}: the info status lists #{newest}, the CTL download ends at {got}")
    return new


def _record_held(state: DeviceState, series: bytes, held: FullIeeeTbsCtl) -> None:
    """``state.json`` ``trust.ctl`` names the CTL the device holds, also when it came with the CCF."""
    saved = _trust(state).get("ctl")
    if isinstance(saved, dict) and saved.get("series") == series.hex():
        if int(saved.get("sequence_number", -1)) >= held.sequence_number:
            return
    _save_trust(state, ctl={"series": series.hex(), "sequence_number": held.sequence_number, "filename": None})


def _ctl_octets(data: bytes, ctl: MultiSignedCtl) -> bytes:
    archive = zipfile.ZipFile(io.BytesIO(data))
    for member in archive.infolist():
        if member.is_dir():
            continue
        octets = archive.read(member)
        if parse_multi_signed_ctl_spdu(octets).content == ctl:
            return octets
    raise VerificationFailed("CTL zip: a CTL vanished while reading")  # cannot happen: same archive


def _fetch_crl(
    state: DeviceState, client: Client, trace: Trace, root: Certificate, target: tuple[bytes, int], now: int,
    listed: bool, result: TrustResult,
) -> bool:  # fmt: skip
    """Step 4 for one (CRACA, series); True when a new CRL was stored."""
    craca, series = target
    key = f"{craca.hex()}_{series}"
    crls = _trust(state).get("crls")
    saved = crls.get(key) if isinstance(crls, dict) else None
    stored = state.root / _TRUST / "crl" / f"{key}.oer"
    etag = saved.get("filename") if isinstance(saved, dict) and stored.exists() else None
    answer = _get(client, CRL_PATH, {"craca": craca.hex(), "crlSeries": str(series)}, etag)
    if answer is None:
        if listed:
            raise HttpError("GET", CRL_PATH, 404, None, f"the info status lists CRL {key}, which is absent")
        return False  # a series no CRL was published for yet
    if answer.status == 304:
        result.unchanged.append(str(etag))
        return False
    ca = ca_certificates(state)
    signer_file = None
    crl = verify_crl(
        answer.body, root=root, ca=ca, now=now, craca=craca, series=series,
        previous_issue_date=int(saved["issue_date"]) if isinstance(saved, dict) and stored.exists() else None,
    )  # fmt: skip
    if trace.enabled:
        signer_file = trace.certificate("crlg", crl.signer, issued_by=None)
        trace.message("received", "SecuredCrl", answer.body, signed_by=signer_file)
    _write(state, f"crl/{key}.oer", answer.body)
    name = attachment_name(answer) or f"crl_{key}.oer"
    entry = {"filename": name, "issue_date": crl.contents.issue_date, "next_crl": crl.contents.next_crl,
             "kind": crl.kind, "crl_serial": crl.serial}  # fmt: skip
    _save_trust(state, crls=(crls if isinstance(crls, dict) else {}) | {key: entry})
    result.fetched.append(name)
    result.crls.append(crl)
    return True


def _fetch_composite(
    state: DeviceState, client: Client, trace: Trace, root: Certificate, series: bytes, now: int, result: TrustResult
) -> None:
    """Step 5."""
    saved = _trust(state).get("composite")
    stored = state.root / _TRUST / "composite-crl.oer"
    etag = saved.get("filename") if isinstance(saved, dict) and stored.exists() else None
    answer = _get(client, COMPOSITE_CRL_PATH, {"ctlSeriesId": series.hex()}, etag)
    if answer is None:
        return
    if answer.status == 304:
        result.unchanged.append(str(etag))
        return
    trace.message("received", "CompositeCrlSpdu", answer.body, signed_by=None)
    try:
        composite = parse_composite_crl_spdu(answer.body).content
        home = parse_multi_signed_ctl_spdu(composite.home_ctl).content
    except CodecError as exc:
        raise VerificationFailed(f"composite CRL: not a valid CompositeCrlSpdu ({type(exc).__name__})") from exc
    verify_ctl_sequence([home], series=series, root=root, previous=_newest_stored_ctl(state, series))
    ca = ca_certificates(state)
    for data in composite.crls:
        verify_crl(data, root=root, ca=ca, now=now)
    _write(state, "composite-crl.oer", answer.body)
    name = attachment_name(answer) or "composite-crl.oer"
    _save_trust(state, composite={"filename": name, "crls": len(composite.crls)})
    result.fetched.append(name)


def fetch_trust(
    state: DeviceState, client: Client, trace: Trace, *, now: int, say: Callable[[str], None] = lambda _line: None
) -> TrustResult:
    """The whole ``fetch-trust`` command (module docstring)."""
    root = state.trusted_root()
    if root is None:
        raise StateError("no trusted root: run `scms-ee enroll` (or fetch-chain --root) first")
    series = root.hashed_id8
    result = TrustResult()
    ccf_done = False
    if not ca_certificates(state):
        _fetch_ccf(state, client, trace, now, say, result)
        ccf_done = True
    saved = _trust(state).get("info_status")
    previous = saved if isinstance(saved, dict) else None
    answer, info, fetched_ccf = _info_status(state, client, trace, root, now, say, result)
    ccf_done = ccf_done or fetched_ccf
    if answer is not None and answer.status == 304:
        result.unchanged.append(str(previous["filename"]) if previous else "info status")
        return result
    result.info_status = info

    def changed(name: str, value: Any) -> bool:
        return previous is None or previous.get(name) != value

    ctl_now = None if info is None else [c.sequence_number for c in info.ctl if c.ctl_series_id == series]
    # The CTLs first: a new one is verified against the CTL the device trusted so far, before the CCF
    # (whose home CTL it is) arrives. A changed CTL also changes the composite CRL's home CTL.
    any_new = _ctls_if_changed(state, client, trace, root, series, ctl_now, result)
    if (info is None or changed("ca_ccf", info.ca_ccf)) and not ccf_done:
        _fetch_ccf(state, client, trace, now, say, result)
    listed = {} if info is None else {(c.craca_id, c.series): c.issue_date for c in info.crl if c.craca_id == series}
    old = {} if previous is None else {(bytes.fromhex(k), s): d for k, s, d in previous.get("crl", [])}
    targets = sorted(set(listed) | {(series, s) for s in _own_series(state)})
    for target in targets:
        stored = (state.root / _TRUST / "crl" / f"{target[0].hex()}_{target[1]}.oer").exists()
        if info is not None and stored and target in listed and old.get(target) == listed[target]:
            continue  # the info status says this CRL has not changed
        if info is not None and target not in listed:
            continue  # no CRL of this series yet: the info status lists every current CRL
        any_new = _fetch_crl(state, client, trace, root, target, now, target in listed, result) or any_new
    if any_new or not (state.root / _TRUST / "composite-crl.oer").exists():
        _fetch_composite(state, client, trace, root, series, now, result)
    if answer is not None and info is not None:
        name = attachment_name(answer) or "info-status.oer"
        _write(state, "info-status.oer", answer.body)
        _save_trust(
            state,
            info_status={
                "filename": name, "ca_ccf": info.ca_ccf, "ctl": ctl_now, "ra": info.ra,
                "crl": [[c.craca_id.hex(), c.series, c.issue_date] for c in info.crl],
            },
        )  # fmt: skip
        result.fetched.append(name)
    return result
