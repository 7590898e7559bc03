"""Encode and decode the open-type fields that PATCHES.md E1-E6 turned into OCTET STRINGs.

The wire bytes are the OER of the type that the neighbouring id selects, so callers work
with decoded values only and never handle the raw container.
"""

from __future__ import annotations

from typing import Any

from ..errors import DecodeError

__all__ = [
    "MSCTL_FULL_IEEE",
    "decode_multi_signed_ctl",
    "encode_multi_signed_ctl",
    "decode_header_extension",
    "encode_header_extension",
    "decode_app_extension",
    "encode_app_extension",
]

# Ieee1609dot2dot1Ctls (CertManagement): fullIeeeCtl = 1 -> (FullIeeeTbsCtl, SequenceOfCertificate).
MSCTL_FULL_IEEE = 1
_MSCTL = {MSCTL_FULL_IEEE: ("FullIeeeTbsCtl", "SequenceOfCertificate")}

# Ieee1609Dot2HeaderInfoContributedExtensions: contributor 1 = IEEE, 2 = ETSI; then Extension ids.
_HEADER_EXTENSIONS = {
    1: {1: "HashedId8"},  # p2pcd8ByteLearningRequestId
    2: {1: "EtsiTs102941CrlRequest", 2: "EtsiTs102941DeltaCtlRequest"},
}

# SetCertExtensions: certExtId-OperatingOrganization = 1 (APP OperatingOrganizationId).
_APP_EXTENSIONS = {1: "OperatingOrganizationId"}


def _lookup(table: dict[int, Any], key: int, what: str) -> Any:
    try:
        return table[key]
    except KeyError:
        raise DecodeError(f"{what} {key} is not one this SCMS knows") from None


def decode_multi_signed_ctl(value: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """The (tbsCtl, unsigned) contents of a decoded ``MultiSignedCtl`` (E6)."""
    from . import decode

    tbs_type, unsigned_type = _lookup(_MSCTL, value["type"], "MultiSignedCtl type")
    return decode(tbs_type, value["tbsCtl"]), decode(unsigned_type, value["unsigned"])


def encode_multi_signed_ctl(
    tbs_ctl: dict[str, Any], unsigned: list[Any], signatures: list[Any], ctl_type: int = MSCTL_FULL_IEEE
) -> dict[str, Any]:
    """A ``MultiSignedCtl`` value whose open types hold the COER of ``tbs_ctl`` and ``unsigned``."""
    from . import encode

    tbs_type, unsigned_type = _MSCTL[ctl_type]
    return {
        "type": ctl_type,
        "tbsCtl": encode(tbs_type, tbs_ctl),
        "unsigned": encode(unsigned_type, unsigned),
        "signatures": signatures,
    }


def decode_header_extension(contributor_id: int, extension: dict[str, Any]) -> tuple[int, Any]:
    """(id, value) of one ``Extension`` inside a ``ContributedExtensionBlock`` (E1, E2)."""
    from . import decode

    table = _lookup(_HEADER_EXTENSIONS, contributor_id, "header contributor")
    return extension["id"], decode(_lookup(table, extension["id"], "header extension id"), extension["content"])


def encode_header_extension(contributor_id: int, ext_id: int, value: Any) -> dict[str, Any]:
    """An ``Extension`` value for a ``ContributedExtensionBlock`` whose content is COER(value)."""
    from . import encode

    type_name = _HEADER_EXTENSIONS[contributor_id][ext_id]
    return {"id": ext_id, "content": encode(type_name, value)}


def decode_app_extension(extension: dict[str, Any]) -> tuple[int, Any]:
    """(id, value) of an ``AppExtension`` (E3)."""
    from . import decode

    return extension["id"], decode(_lookup(_APP_EXTENSIONS, extension["id"], "certificate extension id"), extension["content"])


def encode_app_extension(ext_id: int, value: Any) -> dict[str, Any]:
    """An ``AppExtension`` value whose content is COER(value) (E3)."""
    from . import encode

    return {"id": ext_id, "content": encode(_APP_EXTENSIONS[ext_id], value)}
