"""Issuing-permission consistency between an issuer's certIssuePermissions and a subject (1609.2 §5.1.2.4).

The rules are the "Consistency with issuing certificate" notes on PsidSsp, ServiceSpecificPermissions,
SspRange and SubjectPermissions in the 1609.2 ASN.1.
"""

from __future__ import annotations

from typing import Any

import pytest

from scms_codec.cert.permissions import (
    check_end_entity_permissions,
    check_issue_permissions,
    length_allowed,
)
from scms_codec.errors import ChainError

APP_AND_ENROL = (b"\xc0", 8)


def _group(subject: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    return {"subjectPermissions": subject, "minChainLength": 1, "chainLengthRange": 0, "eeType": APP_AND_ENROL} | extra


def _opaque(*ssps: bytes) -> tuple[str, list[bytes]]:
    return "opaque", list(ssps)


# PSID 35 restricted to the RA SSP by an explicit group; every other PSID through "all".
RESTRICTED_35_AND_ALL = [
    _group(("explicit", [{"psid": 35, "sspRange": _opaque(b"\x8b\x00\x02")}])),
    _group(("all", None)),
]


def test_all_group_covers_psids_no_other_group_lists() -> None:
    check_end_entity_permissions(RESTRICTED_35_AND_ALL, [{"psid": 36, "ssp": ("opaque", b"\x01")}], "app", 1, "t")


def test_explicit_group_covers_its_own_psid_with_an_allowed_ssp() -> None:
    subject = [{"psid": 35, "ssp": ("opaque", b"\x8b\x00\x02")}]
    check_end_entity_permissions(RESTRICTED_35_AND_ALL, subject, "app", 1, "t")


def test_all_group_does_not_cover_a_psid_another_group_lists() -> None:
    # "all ... grants permissions for all PSIDs not indicated by other PsidGroupPermissions in the same field".
    subject = [{"psid": 35, "ssp": ("opaque", b"\x8c\x00\x02")}]
    with pytest.raises(ChainError, match="PSID 35"):
        check_end_entity_permissions(RESTRICTED_35_AND_ALL, subject, "app", 1, "t")


def test_omitted_ssp_is_covered_by_an_opaque_range_holding_the_empty_string() -> None:
    issuer = [_group(("explicit", [{"psid": 32, "sspRange": _opaque(b"", b"\x01")}]))]
    check_end_entity_permissions(issuer, [{"psid": 32}], "app", 1, "t")


def test_omitted_ssp_is_not_covered_by_an_opaque_range_without_the_empty_string() -> None:
    issuer = [_group(("explicit", [{"psid": 32, "sspRange": _opaque(b"\x01")}]))]
    with pytest.raises(ChainError, match="PSID 32"):
        check_end_entity_permissions(issuer, [{"psid": 32}], "app", 1, "t")


def test_enrolment_request_range_inside_the_issuers_opaque_range_is_covered() -> None:
    issuer = [_group(("explicit", [{"psid": 35, "sspRange": _opaque(b"\x8c\x00\x02", b"\x01")}]))]
    request = [_group(("explicit", [{"psid": 35, "sspRange": _opaque(b"\x8c\x00\x02")}]))]
    check_end_entity_permissions(issuer, request, "enrol", 1, "t")


def test_enrolment_request_range_wider_than_the_issuers_is_refused() -> None:
    issuer = [_group(("explicit", [{"psid": 35, "sspRange": _opaque(b"\x8c\x00\x02")}]))]
    for wider in (_opaque(b"\x8c\x00\x02", b"\x02"), ("all", None), None):
        entry: dict[str, Any] = {"psid": 35} if wider is None else {"psid": 35, "sspRange": wider}
        with pytest.raises(ChainError, match="PSID 35"):
            check_end_entity_permissions(issuer, [_group(("explicit", [entry]))], "enrol", 1, "t")


def test_enrolment_request_for_all_psids_needs_every_restricted_psid_listed() -> None:
    request_all = [_group(("all", None))]
    with pytest.raises(ChainError, match="'all'"):
        check_end_entity_permissions(RESTRICTED_35_AND_ALL, request_all, "enrol", 1, "t")
    narrowed = [_group(("explicit", [{"psid": 35, "sspRange": _opaque(b"\x8b\x00\x02")}])), _group(("all", None))]
    check_end_entity_permissions(RESTRICTED_35_AND_ALL, narrowed, "enrol", 1, "t")


def test_ee_type_must_allow_the_kind_of_the_subject() -> None:
    app_only = [_group(("all", None), eeType=(b"\x80", 8))]
    check_end_entity_permissions(app_only, [{"psid": 32}], "app", 1, "t")
    with pytest.raises(ChainError, match="enrol"):
        check_end_entity_permissions(app_only, [_group(("explicit", [{"psid": 32}]))], "enrol", 1, "t")


@pytest.mark.parametrize(
    ("low", "spread", "length", "allowed"),
    [(1, 0, 1, True), (1, 0, 2, False), (2, 0, 1, False), (1, 1, 2, True), (1, -1, 9, True), (3, -1, 2, False)],
)
def test_chain_length_lies_in_min_to_min_plus_range(low: int, spread: int, length: int, allowed: bool) -> None:
    assert length_allowed({"minChainLength": low, "chainLengthRange": spread}, length) is allowed


def test_sub_ca_may_not_take_all_when_its_issuer_restricts_a_psid() -> None:
    issuer = [_group(g["subjectPermissions"], chainLengthRange=-1) for g in RESTRICTED_35_AND_ALL]
    with pytest.raises(ChainError, match="wider"):
        check_issue_permissions(issuer, [_group(("all", None))], "t")
    with pytest.raises(ChainError, match="wider"):
        check_issue_permissions(issuer, [_group(("explicit", [{"psid": 35}]))], "t")
    restricted = _group(("explicit", [{"psid": 35, "sspRange": _opaque(b"\x8b\x00\x02")}]))
    keeps_restriction = [restricted, _group(("all", None))]
    check_issue_permissions(issuer, keeps_restriction, "t")


def test_sub_ca_chain_length_must_fit_one_level_below_its_issuer() -> None:
    issuer = [_group(("all", None), minChainLength=2, chainLengthRange=1)]  # lengths 2..3 from the issuer
    check_issue_permissions(issuer, [_group(("all", None), minChainLength=1, chainLengthRange=1)], "t")
    with pytest.raises(ChainError, match="wider"):
        check_issue_permissions(issuer, [_group(("all", None), minChainLength=1, chainLengthRange=2)], "t")
    with pytest.raises(ChainError, match="wider"):
        check_issue_permissions(issuer, [_group(("all", None), minChainLength=1, chainLengthRange=-1)], "t")


def test_min_chain_length_zero_in_issue_permissions_is_invalid() -> None:
    with pytest.raises(ChainError, match="minChainLength"):
        check_end_entity_permissions([_group(("all", None), minChainLength=0)], [{"psid": 32}], "app", 1, "t")
