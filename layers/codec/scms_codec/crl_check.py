"""Receiver-side CRL checks: is this certificate on this CRL? (1609.2 §5.1.3.4, §7.3; protocol.md §3.5, §4.6).

Pure functions on an opened ``CrlContents`` (``spdu.crl.parse_secured_crl``): a device checks its
own pseudonyms against a linked CRL and its enrollment certificates against a hash CRL. Seeds are
read from the CRL only to derive linkage values; nothing here logs or reports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .crypto.linkage import LINKAGE_VALUE_SIZE, linkage_values_for_crl
from .spdu.crl import CrlContents

__all__ = ["HASH_CRL_KINDS", "LINKED_CRL_KINDS", "hash_crl_revokes", "linked_crl_revokes", "linked_revocations"]

LINKED_CRL_KINDS = ("fullLinkedCrl", "deltaLinkedCrl", "fullLinkedCrlWithAlg", "deltaLinkedCrlWithAlg")
HASH_CRL_KINDS = ("fullHashCrl", "deltaHashCrl")


def linked_revocations(contents: CrlContents) -> Iterator[tuple[bytes, bytes, bytes, bytes, int, int]]:
    """Every individual entry of a linked CRL: (la1Id, linkageSeed1, la2Id, linkageSeed2, jmax, iMax).

    Empty for a hash CRL. Group entries (``groups``, ``groupsSingleSeed``) are not listed: group
    linkage values are not derived by this SCMS (protocol.md §4.6 "implement individual linkage first").
    """
    kind, value = contents.type_specific
    if kind not in LINKED_CRL_KINDS:
        return
    body: dict[str, Any] = value
    for jmax_group in body.get("individual") or ():
        for la_group in jmax_group["contents"]:
            for imax_group in la_group["contents"]:
                for rev in imax_group["contents"]:
                    yield (
                        bytes(la_group["la1Id"]),
                        bytes(rev["linkageSeed1"]),
                        bytes(la_group["la2Id"]),
                        bytes(rev["linkageSeed2"]),
                        int(jmax_group["jmax"]),
                        int(imax_group["iMax"]),
                    )


def linked_crl_revokes(contents: CrlContents, linkage_value: bytes, i_cert: int) -> bool:
    """Whether a linked CRL revokes the certificate with this ``linkage-value`` of period ``i_cert`` (§5.1.3.4).

    For each individual entry with iMax >= i_cert: evolve both seeds from iRev to i_cert, derive
    lv(i_cert, j) for j = 0..jmax-1 and compare (protocol.md §4.6 "CRL check"). A certificate of a
    period before iRev is not on the CRL (seeds evolve forwards only); a hash CRL revokes no
    linkage value.
    """
    if len(linkage_value) != LINKAGE_VALUE_SIZE:
        raise ValueError(f"linkage_value must be {LINKAGE_VALUE_SIZE} octets")
    kind, value = contents.type_specific
    if kind not in LINKED_CRL_KINDS:
        return False
    i_rev = int(value["iRev"])
    if i_cert < i_rev:
        return False
    target = bytes(linkage_value)
    for la1_id, seed1, la2_id, seed2, jmax, i_max in linked_revocations(contents):
        if i_max < i_cert:
            continue
        if target in linkage_values_for_crl(la1_id, seed1, la2_id, seed2, i_rev, i_cert, jmax):
            return True
    return False


def hash_crl_revokes(contents: CrlContents, hashed_id10: bytes) -> bool:
    """Whether a hash CRL lists the certificate with this HashedId10 (1609.2 §7.3, ``HashBasedRevocationInfo``).

    A linked CRL revokes no certificate by hash.
    """
    if len(hashed_id10) != 10:
        raise ValueError("hashed_id10 must be 10 octets")
    kind, value = contents.type_specific
    if kind not in HASH_CRL_KINDS:
        return False
    return any(bytes(entry["id"]) == bytes(hashed_id10) for entry in value["entries"])
