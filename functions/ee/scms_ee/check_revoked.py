"""``scms-ee check-revoked``: are the device's own certificates on the stored CRLs? (protocol.md §3.5, §4.6)

Uses only what ``fetch-trust`` verified and stored under ``trust/crl/`` (re-opened and re-checked for
their signature here, not re-chained), never the SCMS:

- every own **pseudonym** certificate (``pseudonyms/<REQHASH>/<i>/<j>.oer``) with ``linkageData``
  against each linked CRL of its CRACA and series (``scms_codec.crl_check.linked_crl_revokes``): for every
  (la1Id, la2Id, linkageSeed1, linkageSeed2) entry with iMax ≥ iCert, the seeds are evolved from iRev
  to iCert (seedEvoFn1) and lv(iCert, j) computed for j < jmax (lvGenFn1); the certificate is revoked
  when its ``linkage-value`` is one of them (1609.2 §5.1.3.4). A certificate of a period before
  iRev cannot be checked from this CRL (seeds only evolve forwards) and is reported as such;
- the current and every previous **enrollment** certificate against each hash CRL of its CRACA
  (``crl_check.hash_crl_revokes``): revoked when its HashedId10 (SHA-256 of the COER
  certificate, low-order 10 octets) is an entry's ``id``.

A CRL's CRACA is matched by HashedId3 (a certificate's ``cracaId`` is the low-order 3 octets of the
CRACA's HashedId8, 1609.2 §6.4.3). The verdict is printed per period (``--json`` for machines); the
exit status is 0 whether or not anything is revoked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scms_codec.cert.certificate import Certificate
from scms_codec.crl_check import HASH_CRL_KINDS, LINKED_CRL_KINDS, hash_crl_revokes, linked_crl_revokes
from scms_codec.crypto.hashing import hashed_id10
from scms_codec.errors import CodecError
from scms_codec.spdu.crl import CrlContents, parse_secured_crl

from .enroll import VerificationFailed
from .pseudonym_files import own_pseudonyms
from .state import DeviceState, StateError, load_certificate

__all__ = ["CheckResult", "EnrollmentVerdict", "PeriodVerdict", "check_revoked"]


@dataclass
class PeriodVerdict:
    """One i-period of own pseudonyms: how many, how many revoked, how many the CRL cannot judge (i < iRev)."""

    i: int
    total: int = 0
    revoked: int = 0
    unchecked: int = 0
    revoked_certs: list[str] = field(default_factory=list)  # HashedId8 hex

    def to_json(self) -> dict[str, Any]:
        return {"i": self.i, "total": self.total, "revoked": self.revoked, "unchecked": self.unchecked,
                "revoked_certificates": self.revoked_certs}  # fmt: skip


@dataclass(frozen=True)
class EnrollmentVerdict:
    """One own enrollment certificate and whether a hash CRL lists it."""

    hashed_id8: str
    current: bool
    revoked: bool

    def to_json(self) -> dict[str, Any]:
        return {"hashed_id8": self.hashed_id8, "current": self.current, "revoked": self.revoked}


@dataclass
class CheckResult:
    """The verdicts and the CRLs they came from (``<craca hex>_<series>`` with issueDate)."""

    periods: list[PeriodVerdict]
    enrollments: list[EnrollmentVerdict]
    crls: list[dict[str, Any]]

    @property
    def pseudonyms_revoked(self) -> int:
        return sum(p.revoked for p in self.periods)

    def to_json(self) -> dict[str, Any]:
        return {
            "crls": self.crls,
            "periods": [p.to_json() for p in self.periods],
            "enrollments": [e.to_json() for e in self.enrollments],
            "pseudonyms": sum(p.total for p in self.periods),
            "pseudonyms_revoked": self.pseudonyms_revoked,
            "enrollments_revoked": sum(e.revoked for e in self.enrollments),
        }


def _open(stored: Sequence[tuple[str, bytes]]) -> list[CrlContents]:
    out = []
    for key, data in stored:
        try:
            out.append(parse_secured_crl(data).content)
        except CodecError as exc:
            raise VerificationFailed(f"stored CRL {key}: no longer verifies ({type(exc).__name__})") from exc
    return out


def _linkage(cert: Certificate) -> tuple[int, bytes] | None:
    kind, ident = cert.tbs["id"]
    if kind != "linkageData":
        return None
    return int(ident["iCert"]), bytes(ident["linkage-value"])


def _enrollments(state: DeviceState) -> list[tuple[Certificate, bool]]:
    out = []
    current = state.enrollment_certificate()
    if current is not None:
        out.append((current, True))
    directory = state.root / "previous"
    if directory.is_dir():
        out.extend((load_certificate(p), False) for p in sorted(directory.glob("*.oer")))
    return out


def check_revoked(state: DeviceState, stored: Sequence[tuple[str, bytes]]) -> CheckResult:
    """The whole ``check-revoked`` command over ``stored`` CRLs (``fetch_trust.stored_crls``), module docstring."""
    crls = _open(stored)
    linked = [c for c in crls if c.type_specific[0] in LINKED_CRL_KINDS]
    hashed = [c for c in crls if c.type_specific[0] in HASH_CRL_KINDS]
    if not linked and not hashed:
        raise StateError("no CRL stored: run `scms-ee fetch-trust` first")
    periods: dict[int, PeriodVerdict] = {}
    for own in own_pseudonyms(state):
        verdict = periods.setdefault(own.i, PeriodVerdict(own.i))
        verdict.total += 1
        linkage = _linkage(own.certificate)
        tbs = own.certificate.tbs
        applicable = [
            c for c in linked if c.crl_series == tbs["crlSeries"] and c.crl_craca[-3:] == bytes(tbs["cracaId"])
        ]
        if linkage is None or not applicable:
            verdict.unchecked += 1
            continue
        i_cert, value = linkage
        if all(i_cert < int(c.type_specific[1]["iRev"]) for c in applicable):
            verdict.unchecked += 1  # seeds evolve forwards only: this CRL cannot judge the period
        elif any(linked_crl_revokes(c, value, i_cert) for c in applicable):
            verdict.revoked += 1
            verdict.revoked_certs.append(own.certificate.hashed_id8.hex())
    enrollments = []
    for cert, current in _enrollments(state):
        h10 = hashed_id10(cert.encoded)
        craca = bytes(cert.tbs["cracaId"])
        revoked = any(c.crl_craca[-3:] == craca and hash_crl_revokes(c, h10) for c in hashed)
        enrollments.append(EnrollmentVerdict(cert.hashed_id8.hex(), current, revoked))
    used = [{"crl": f"{c.crl_craca.hex()}_{c.crl_series}", "type": c.type_specific[0], "issue_date": c.issue_date,
             "next_crl": c.next_crl} for c in crls]  # fmt: skip
    return CheckResult([periods[i] for i in sorted(periods)], enrollments, used)
