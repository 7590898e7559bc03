"""Issuing-permission checks between a CA certificate and a certificate below it (1609.2 §5.1.2.4, §6.4.28).

``certIssuePermissions`` is a list of ``PsidGroupPermissions`` groups. A subject's PSID is
covered when one group lists it (or is ``all``), allows the end-entity type (``app`` for
``appPermissions``, ``enrol`` for ``certRequestPermissions``) and allows the chain length, i.e.
the number of certificates from the issuer down to and including the subject.
SSP ranges: ``all`` and absent ranges allow any SSP, an ``opaque`` range lists the allowed SSP
octet strings, and ``bitmapSspRange`` is not checked (it allows the PSID).
"""

from __future__ import annotations

from collections.abc import Iterable
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


def _ssp_allowed(ssp_range: Any, ssp: Any) -> bool:
    if ssp_range is None or ssp_range[0] in ("all", "bitmapSspRange"):
        return True
    if ssp_range[0] == "opaque":
        return ssp is not None and ssp[0] == "opaque" and bytes(ssp[1]) in {bytes(s) for s in ssp_range[1]}
    return False


def _covers_psid(group: dict[str, Any], psid: int, ssp: Any) -> bool:
    kind, body = group["subjectPermissions"]
    if kind == "all":
        return True
    if kind != "explicit":
        return False
    return any(int(entry["psid"]) == psid and _ssp_allowed(entry.get("sspRange"), ssp) for entry in body)


def check_end_entity_permissions(
    issuer_groups: Iterable[dict[str, Any]],
    permissions: Iterable[dict[str, Any]],
    kind: EeKind,
    length: int,
    where: str,
) -> None:
    """Raise ``ChainError`` unless every PSID (and SSP) in ``permissions`` is covered at ``length`` for ``kind``.

    ``permissions`` are ``PsidSsp`` (appPermissions) or ``PsidGroupPermissions`` entries
    (certRequestPermissions, whose explicit PSIDs are checked; ``all`` needs an ``all`` group).
    """
    groups = list(issuer_groups)
    for group in groups:
        _check_group(group, where)
    usable = [g for g in groups if ee_type_bits(g) & _EE_BIT[kind] and length_allowed(g, length)]
    for required in _required_psids(permissions):
        psid, ssp = required
        if psid is None:
            if not any(g["subjectPermissions"][0] == "all" for g in usable):
                raise ChainError(f"{where}: 'all' {kind} permissions are not covered by the issuer at length {length}")
            continue
        if not any(_covers_psid(g, psid, ssp) for g in usable):
            raise ChainError(f"{where}: PSID {psid} ({kind}) is not covered by the issuer at chain length {length}")


def _required_psids(permissions: Iterable[dict[str, Any]]) -> list[tuple[int | None, Any]]:
    out: list[tuple[int | None, Any]] = []
    for entry in permissions:
        if "subjectPermissions" in entry:  # a PsidGroupPermissions
            kind, body = entry["subjectPermissions"]
            if kind == "all":
                out.append((None, None))
            else:
                out.extend((int(e["psid"]), None) for e in body)
        else:  # a PsidSsp
            out.append((int(entry["psid"]), entry.get("ssp")))
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
    for sub in subject_groups:
        _check_group(sub, where)
        if not any(_group_within(sub, iss) for iss in issuers):
            raise ChainError(f"{where}: a certIssuePermissions group is wider than the issuer's permissions")


def _group_within(sub: dict[str, Any], iss: dict[str, Any]) -> bool:
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
    iss_kind, iss_body = iss["subjectPermissions"]
    if iss_kind == "all":
        return True
    if sub_kind == "all" or iss_kind != "explicit" or sub_kind != "explicit":
        return False
    allowed = {int(e["psid"]): e.get("sspRange") for e in iss_body}
    for entry in sub_body:
        psid = int(entry["psid"])
        if psid not in allowed:
            return False
        outer, inner = allowed[psid], entry.get("sspRange")
        if outer is not None and outer[0] == "opaque":
            inner_ssps = {bytes(s) for s in inner[1]} if inner is not None and inner[0] == "opaque" else None
            if inner_ssps is None or not inner_ssps <= {bytes(s) for s in outer[1]}:
                return False
    return True
