"""Issuing-permission checks between a CA certificate and a certificate below it (1609.2 §5.1.2.4, §6.4.28).

``certIssuePermissions`` is a list of ``PsidGroupPermissions`` groups. A subject's PSID is
covered when one group lists it (or is ``all``), allows the end-entity type (``app`` for
``appPermissions``, ``enrol`` for ``certRequestPermissions``) and allows the chain length, i.e.
the number of certificates from the issuer down to and including the subject.
An ``all`` group covers only the PSIDs that no explicit group of the same field lists. SSP
ranges: ``all`` and absent ranges allow any SSP, an ``opaque`` range lists the allowed SSP
octet strings (an omitted SSP needs the empty string among them), and ``bitmapSspRange`` is not
checked (it allows the PSID). These are the "consistency with issuing certificate" notes of
PsidSsp, ServiceSpecificPermissions, SspRange and SubjectPermissions in 1609.2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Literal

from ..errors import ChainError

__all__ = [
    "EeKind",
    "check_end_entity_permissions",
    "check_issue_permissions",
    "ee_type_bits",
    "length_allowed",
]

EeKind = Literal["app", "enrol"]

_EE_BIT: dict[str, int] = {"app": 0x80, "enrol": 0x40}


def ee_type_bits(group: dict[str, Any]) -> int:
    """The first octet of a group's ``eeType`` (DEFAULT {app} when absent)."""
    ee_type = group.get("eeType")
    if ee_type is None:
        return _EE_BIT["app"]
    octets = bytes(ee_type[0])
    return octets[0] if octets else 0


def length_allowed(group: dict[str, Any], length: int) -> bool:
    """True if ``length`` lies in [minChainLength, minChainLength + chainLengthRange] (-1: no upper bound)."""
    low = int(group.get("minChainLength", 1))
    spread = int(group.get("chainLengthRange", 0))
    return length >= low and (spread == -1 or length <= low + spread)


def _check_group(group: dict[str, Any], where: str) -> None:
    if int(group.get("minChainLength", 1)) < 1:
        raise ChainError(f"{where}: minChainLength below 1 makes the certificate invalid")
    if int(group.get("chainLengthRange", 0)) < -1:
        raise ChainError(f"{where}: chainLengthRange below -1 is not defined")


def _explicit_psids(groups: Iterable[dict[str, Any]]) -> frozenset[int]:
    """The PSIDs that the explicit groups of one permissions field list."""
    out: set[int] = set()
    for group in groups:
        kind, body = group["subjectPermissions"]
        if kind == "explicit":
            out.update(int(entry["psid"]) for entry in body)
    return frozenset(out)


def _ssp_consistent(ssp_range: Any, ssp: Any) -> bool:
    """A PsidSsp's ``ssp`` against an issuer range (the PsidSsp and ServiceSpecificPermissions notes)."""
    if ssp_range is None or ssp_range[0] in ("all", "bitmapSspRange"):
        return True
    if ssp_range[0] != "opaque":
        return False
    allowed = {bytes(s) for s in ssp_range[1]}
    if ssp is None:
        # An omitted SSP is covered only by an opaque range that lists the empty string.
        return b"" in allowed
    return bool(ssp[0] == "opaque" and bytes(ssp[1]) in allowed)


def _range_within(inner: Any, outer: Any) -> bool:
    """A PsidSspRange's ``sspRange`` (absent = all) against an issuer range (the SspRange note)."""
    if outer is None or outer[0] in ("all", "bitmapSspRange"):
        return True
    if outer[0] != "opaque" or inner is None or inner[0] != "opaque":
        return False
    return {bytes(s) for s in inner[1]} <= {bytes(s) for s in outer[1]}


def _covers(group: dict[str, Any], psid: int, range_ok: Callable[[Any], bool], listed: frozenset[int]) -> bool:
    # ``all`` grants only the PSIDs that no explicit group of the same field lists (SubjectPermissions note).
    kind, body = group["subjectPermissions"]
    if kind == "all":
        return psid not in listed
    if kind != "explicit":
        return False
    return any(int(entry["psid"]) == psid and range_ok(entry.get("sspRange")) for entry in body)


def check_end_entity_permissions(
    issuer_groups: Iterable[dict[str, Any]],
    permissions: Iterable[dict[str, Any]],
    kind: EeKind,
    length: int,
    where: str,
) -> None:
    """Raise ``ChainError`` unless every PSID (and SSP) in ``permissions`` is covered at ``length`` for ``kind``.

    ``permissions`` are ``PsidSsp`` (appPermissions) or ``PsidGroupPermissions`` entries
    (certRequestPermissions, whose explicit PSIDs and SSP ranges are checked; ``all`` needs an
    ``all`` group and every PSID the issuer restricts listed explicitly).
    """
    groups = list(issuer_groups)
    for group in groups:
        _check_group(group, where)
    listed = _explicit_psids(groups)
    usable = [g for g in groups if ee_type_bits(g) & _EE_BIT[kind] and length_allowed(g, length)]
    entries = list(permissions)
    for psid, range_ok in _required(entries):
        if psid is None:
            # The subject's ``all`` takes every PSID it does not list; the issuer's restricted ones must be listed.
            if not (any(g["subjectPermissions"][0] == "all" for g in usable) and listed <= _explicit_psids(entries)):
                raise ChainError(f"{where}: 'all' {kind} permissions are not covered by the issuer at length {length}")
            continue
        if not any(_covers(g, psid, range_ok, listed) for g in usable):
            raise ChainError(f"{where}: PSID {psid} ({kind}) is not covered by the issuer at chain length {length}")


def _required(permissions: list[dict[str, Any]]) -> list[tuple[int | None, Callable[[Any], bool]]]:
    """(PSID or None for ``all``, test of an issuer sspRange) for each PsidSsp or PsidSspRange entry."""
    out: list[tuple[int | None, Callable[[Any], bool]]] = []
    for entry in permissions:
        if "subjectPermissions" in entry:  # a PsidGroupPermissions (certRequestPermissions)
            kind, body = entry["subjectPermissions"]
            if kind == "all":
                out.append((None, partial(_range_within, None)))
            else:
                out.extend((int(e["psid"]), partial(_range_within, e.get("sspRange"))) for e in body)
        else:  # a PsidSsp (appPermissions)
            out.append((int(entry["psid"]), partial(_ssp_consistent, ssp=entry.get("ssp"))))
    return out


def check_issue_permissions(
    issuer_groups: Iterable[dict[str, Any]], subject_groups: Iterable[dict[str, Any]], where: str
) -> None:
    """Raise ``ChainError`` unless each group of a CA subject's certIssuePermissions is within one issuer group.

    Within means: the same or fewer PSIDs (``all`` only under ``all``), an eeType subset, and a
    chain-length range that, one level further up, lies inside the issuer's (1609.2 §5.1.2.4).
    """
    issuers = list(issuer_groups)
    for group in issuers:
        _check_group(group, where)
    subjects = list(subject_groups)
    listed, sub_listed = _explicit_psids(issuers), _explicit_psids(subjects)
    for sub in subjects:
        _check_group(sub, where)
        if not any(_group_within(sub, iss, listed, sub_listed) for iss in issuers):
            raise ChainError(f"{where}: a certIssuePermissions group is wider than the issuer's permissions")


def _group_within(sub: dict[str, Any], iss: dict[str, Any], listed: frozenset[int], sub_listed: frozenset[int]) -> bool:
    sub_bits, iss_bits = ee_type_bits(sub), ee_type_bits(iss)
    if sub_bits & ~iss_bits:
        return False
    sub_low = int(sub.get("minChainLength", 1)) + 1
    sub_spread = int(sub.get("chainLengthRange", 0))
    iss_low = int(iss.get("minChainLength", 1))
    iss_spread = int(iss.get("chainLengthRange", 0))
    if sub_low < iss_low:
        return False
    if iss_spread != -1 and (sub_spread == -1 or sub_low + sub_spread > iss_low + iss_spread):
        return False
    sub_kind, sub_body = sub["subjectPermissions"]
    if sub_kind == "all":
        # The sub-CA's ``all`` takes every PSID it does not list, so the issuer's restricted PSIDs must be listed.
        return bool(iss["subjectPermissions"][0] == "all" and listed <= sub_listed)
    if sub_kind != "explicit":
        return False
    return all(
        _covers(iss, int(entry["psid"]), partial(_range_within, entry.get("sspRange")), listed) for entry in sub_body
    )
