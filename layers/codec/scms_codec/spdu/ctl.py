"""CtlSignatureSpdu and MultiSignedCtlSpdu: signing and checking a CTL, 1609.2.1 §8.6 (protocol.md §3.5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ..asn1 import encode, opentypes
from ..cert.certificate import Certificate
from ..crypto.hashing import digest
from ..errors import ChainError, SpduShapeError
from ..secured.signer import Signer
from ._wrap import build_signed, build_unsecured, open_signed, parse_unsecured
from .cert_management import FullIeeeTbsCtl, MultiSignedCtl, ToBeSignedCtlSignature
from .opened import Opened
from .shape import outer_content

__all__ = [
    "build_ctl_signature_spdu",
    "build_multi_signed_ctl_spdu",
    "elector_entry",
    "parse_multi_signed_ctl_spdu",
    "sign_ctl",
    "tbs_ctl_hash",
    "verify_ctl_signatures",
]

CTL_HASH: Final = "sha384"
"""The only hash whose output fills a HashedId48: electors sign CTLs with SHA-384 (protocol.md §3.5)."""


def tbs_ctl_hash(tbs_ctl: FullIeeeTbsCtl) -> bytes:
    """``tbsCtlHash``: SHA-384 of COER(tbsCtl); a HashedId48 is always 48 octets (protocol.md §3.5)."""
    return digest(encode("FullIeeeTbsCtl", tbs_ctl.to_asn1()), CTL_HASH)


def elector_entry(elector: Certificate) -> bytes:
    """``CtlElectorEntry``: HashedId48 (SHA-384) of the elector certificate (protocol.md §3.5)."""
    return digest(elector.encoded, CTL_HASH)


def build_ctl_signature_spdu(content: ToBeSignedCtlSignature, elector: Signer) -> bytes:
    """``CtlSignatureSpdu``: Signed{ScmsPdu, 35} by one elector certificate (protocol.md §3.5)."""
    if not isinstance(content, ToBeSignedCtlSignature):
        raise TypeError(f"content: expected ToBeSignedCtlSignature, got {type(content).__name__}")
    return build_signed(content, elector)


def sign_ctl(
    tbs_ctl: FullIeeeTbsCtl, electors: Sequence[Signer], unsigned: Sequence[Certificate] = ()
) -> MultiSignedCtl:
    """A ``MultiSignedCtl`` carrying one CtlSignatureSpdu per elector (protocol.md §3.5)."""
    if not electors:
        raise ValueError("electors: a MultiSignedCtl needs at least one signature")
    for elector in electors:
        if elector.hash_algorithm != CTL_HASH:
            # tbsCtlHash is a HashedId48 made with the signature's own hash, so only a SHA-384
            # signature (a P-384 elector key) can carry it (CertManagement ToBeSignedCtlSignature).
            raise ValueError(f"electors: an elector must sign with SHA-384, not {elector.hash_algorithm}")
    tbs = ToBeSignedCtlSignature(
        tbs_ctl.ctl_series_id, opentypes.MSCTL_FULL_IEEE, tbs_ctl.sequence_number, tbs_ctl_hash(tbs_ctl)
    )
    signatures = tuple(build_ctl_signature_spdu(tbs, elector) for elector in electors)
    return MultiSignedCtl(tbs_ctl, tuple(c.encoded for c in unsigned), signatures)


def build_multi_signed_ctl_spdu(ctl: MultiSignedCtl) -> bytes:
    """``MultiSignedCtlSpdu``: Unsecured{ScmsPdu} (protocol.md §1.2 row 15)."""
    if not isinstance(ctl, MultiSignedCtl):
        raise TypeError(f"ctl: expected MultiSignedCtl, got {type(ctl).__name__}")
    return build_unsecured(ctl)


def parse_multi_signed_ctl_spdu(data: bytes) -> Opened[MultiSignedCtl]:
    """Open a ``MultiSignedCtlSpdu`` (structure only: ``verify_ctl_signatures`` checks the electors)."""
    return parse_unsecured(data, MultiSignedCtl)


def verify_ctl_signatures(ctl: MultiSignedCtl) -> tuple[Certificate, ...]:
    """Verify every elector signature of ``ctl``; return the distinct electors (protocol.md §3.5).

    Each CtlSignatureSpdu must have the Signed{ScmsPdu, 35} shape with one certificate and
    hashId sha384 (SpduShapeError), sign this CTL's series, type, sequence number and tbsCtlHash
    (SpduShapeError), and verify (InvalidSignature). A repeated elector is a ChainError.
    Whether the electors are approved and reach the quorum is the caller's (it needs the
    previous CTL of the series).
    """
    expected = ToBeSignedCtlSignature(
        ctl.tbs_ctl.ctl_series_id, opentypes.MSCTL_FULL_IEEE, ctl.tbs_ctl.sequence_number, tbs_ctl_hash(ctl.tbs_ctl)
    )
    electors: dict[bytes, Certificate] = {}
    for index, spdu in enumerate(ctl.signatures):
        kind, signed = outer_content(spdu)
        hash_id = signed["hashId"] if kind == "signedData" else CTL_HASH  # other shapes fail in open_signed
        if hash_id != CTL_HASH:
            raise SpduShapeError(f"CtlSignatureSpdu {index}: hashId {hash_id} cannot make the HashedId48 tbsCtlHash")
        content, elector = open_signed(spdu, ToBeSignedCtlSignature.PATH)
        if ToBeSignedCtlSignature.from_asn1(content) != expected:
            raise SpduShapeError(f"CtlSignatureSpdu {index}: signs another CTL")
        if elector.hashed_id8 in electors:
            raise ChainError(f"CtlSignatureSpdu {index}: elector {elector.hashed_id8.hex()} signed twice")
        electors[elector.hashed_id8] = elector
    return tuple(electors.values())
