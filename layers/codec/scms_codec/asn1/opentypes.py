"""Encode and decode the open-type fields that PATCHES.md E1-E6 turned into OCTET STRINGs.

The wire bytes are the OER of the type that the neighbouring id selects, so callers work
with decoded values only and never handle the raw container.
"""

from __future__ import annotations

from typing import Any

from ..errors import DecodeError

__all__ = [
    "APP_EXTENSION_TYPES",
    "CONTRIBUTED_EXTENSION_TYPES",
    "HEADER_EXTENSION_TYPES",
    "MSCTL_FULL_IEEE",
    "MSCTL_TYPES",
    "NULL_CERT_EXTENSION_IDS",
    "decode_app_extension",
    "decode_header_extension",
    "decode_multi_signed_ctl",
    "encode_app_extension",
    "encode_header_extension",
    "encode_multi_signed_ctl",
]

# Ieee1609dot2dot1Ctls (CertManagement): fullIeeeCtl = 1 -> (FullIeeeTbsCtl, SequenceOfCertificate).
MSCTL_FULL_IEEE = 1
MSCTL_TYPES = {MSCTL_FULL_IEEE: ("FullIeeeTbsCtl", "SequenceOfCertificate")}

# Ieee1609Dot2HeaderInfoContributedExtensions: contributorId -> the Extension{} type of each
# element of ContributedExtensionBlock.extns (E2), 1 = IEEE, 2 = ETSI (1609.2 §6.3.9).
CONTRIBUTED_EXTENSION_TYPES = {1: "Ieee1609ContributedHeaderInfoExtension", 2: "EtsiOriginatingHeaderInfoExtension"}
# (contributorId, Extension id) -> the type of Extension.content (E1).
HEADER_EXTENSION_TYPES = {
    (1, 1): "HashedId8",  # p2pcd8ByteLearningRequestId
    (2, 1): "EtsiTs102941CrlRequest",
    (2, 2): "EtsiTs102941DeltaCtlRequest",
}

# SetCertExtensions: certExtId-OperatingOrganization = 1 (APP OperatingOrganizationId, E3); its
# ISSUE and REQUEST classes are NULL (E4, E5).
APP_EXTENSION_TYPES = {1: "OperatingOrganizationId"}
NULL_CERT_EXTENSION_IDS = frozenset({1})



def _lookup(table: Any, key: Any, what: str) -> Any:
    try:
        return table[key]
    except KeyError:
        raise DecodeError(f"{what} {key} is not one this SCMS knows") from None


def decode_multi_signed_ctl(value: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """The (tbsCtl, unsigned) contents of a decoded ``MultiSignedCtl`` (E6)."""
    from . import decode

    tbs_type, unsigned_type = _lookup(MSCTL_TYPES, value["type"], "MultiSignedCtl type")
    return decode(tbs_type, value["tbsCtl"]), decode(unsigned_type, value["unsigned"])


def encode_multi_signed_ctl(
    tbs_ctl: dict[str, Any], unsigned: list[Any], signatures: list[Any], ctl_type: int = MSCTL_FULL_IEEE
) -> dict[str, Any]:
    """A ``MultiSignedCtl`` value whose open types hold the COER of ``tbs_ctl`` and ``unsigned``."""
    from . import encode

    tbs_type, unsigned_type = MSCTL_TYPES[ctl_type]
    return {
        "type": ctl_type,
        "tbsCtl": encode(tbs_type, tbs_ctl),
        "unsigned": encode(unsigned_type, unsigned),
        "signatures": signatures,
    }


def decode_header_extension(contributor_id: int, extension: dict[str, Any]) -> tuple[int, Any]:
    """(id, value) of one ``Extension`` inside a ``ContributedExtensionBlock`` (E1, E2)."""
    from . import decode

    _lookup(CONTRIBUTED_EXTENSION_TYPES, contributor_id, "header contributor")
    type_name = _lookup(HEADER_EXTENSION_TYPES, (contributor_id, extension["id"]), "header extension id")
    return extension["id"], decode(type_name, extension["content"])


def encode_header_extension(contributor_id: int, ext_id: int, value: Any) -> dict[str, Any]:
    """An ``Extension`` value for a ``ContributedExtensionBlock`` whose content is COER(value)."""
    from . import encode

    type_name = HEADER_EXTENSION_TYPES[(contributor_id, ext_id)]
    return {"id": ext_id, "content": encode(type_name, value)}


def decode_app_extension(extension: dict[str, Any]) -> tuple[int, Any]:
    """(id, value) of an ``AppExtension`` (E3)."""
    from . import decode

    type_name = _lookup(APP_EXTENSION_TYPES, extension["id"], "certificate extension id")
    return extension["id"], decode(type_name, extension["content"])


def encode_app_extension(ext_id: int, value: Any) -> dict[str, Any]:
    """An ``AppExtension`` value whose content is COER(value) (E3)."""
    from . import encode

    return {"id": ext_id, "content": encode(APP_EXTENSION_TYPES[ext_id], value)}
