"""Certificate chain validation up to a trusted anchor (1609.2 §5.1.2, §5.1.2.4; protocol.md §1.1, §4.2-§4.3).

The chain is found by issuer HashedId8 from the leaf to an anchor (trusted by its HashedId8,
its own signature is not re-checked). Then, from the anchor down, each certificate is checked:
signature or ECQV reconstruction under its issuer, validity at ``at`` and nested in the
issuer's, region inside the issuer's, and permissions. For permissions every certificate's
``appPermissions`` (kind app) and ``certRequestPermissions`` (kind enrol) must be covered by
the ``certIssuePermissions`` of each certificate above it, at the distance between them as the
chain length; a CA subject's ``certIssuePermissions`` must be within its direct issuer's.
An issuer without ``certIssuePermissions`` cannot issue, so it breaks the chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric import ec

from .. import time32
from ..crypto.hashing import digest
from ..errors import ChainError, InvalidKey, InvalidSignature, UnsupportedAlgorithm
from .certificate import Certificate, implicit_public_key, verify_signature
from .permissions import check_end_entity_permissions, check_issue_permissions
from .region import check_region_within

__all__ = ["verify_chain"]


def _anchor_map(anchors: Mapping[bytes, Certificate] | Sequence[Certificate]) -> dict[bytes, Certificate]:
    if isinstance(anchors, Mapping):
        out: dict[bytes, Certificate] = {}
        for key, cert in anchors.items():
            if not isinstance(cert, Certificate):
                raise TypeError(f"anchors: expected Certificate values, got {type(cert).__name__}")
            if bytes(key) != cert.hashed_id8:
                raise ValueError(f"anchors: key {bytes(key).hex()} is not the HashedId8 of its certificate")
            out[cert.hashed_id8] = cert
        return out
    if isinstance(anchors, (str, bytes)) or not isinstance(anchors, Sequence):
        raise TypeError("anchors: expected a mapping HashedId8 → Certificate or a sequence of certificates")
    for cert in anchors:
        if not isinstance(cert, Certificate):
            raise TypeError(f"anchors: expected Certificate items, got {type(cert).__name__}")
    return {cert.hashed_id8: cert for cert in anchors}


def _name(cert: Certificate) -> str:
    return f"certificate {cert.hashed_id8.hex()}"


def _build_path(
    leaf: Certificate, intermediates: Sequence[Certificate], anchors: dict[bytes, Certificate]
) -> list[Certificate]:
    pool = {c.hashed_id8: c for c in intermediates}
    path = [leaf]
    current = leaf
    while current.hashed_id8 not in anchors:
        issuer_id = current.issuer_id
        if issuer_id is None:
            raise ChainError(f"{_name(current)} is self-signed but not a trusted anchor")
        issuer = anchors.get(issuer_id) or pool.get(issuer_id)
        if issuer is None:
            raise ChainError(f"issuer {issuer_id.hex()} of {_name(current)} is neither given nor trusted")
        if any(issuer.hashed_id8 == c.hashed_id8 for c in path):
            raise ChainError(f"issuer loop at {_name(issuer)}")
        path.append(issuer)
        current = issuer
    return path


def _subject_key(
    subject: Certificate, issuer: Certificate, issuer_key: ec.EllipticCurvePublicKey
) -> ec.EllipticCurvePublicKey:
    where = _name(subject)
    try:
        if subject.is_implicit:
            return implicit_public_key(subject, digest(issuer.encoded, "sha256"), issuer_key)
        verify_signature(subject, issuer, issuer_key=issuer_key)
        return subject.public_key()
    except InvalidSignature as exc:
        raise ChainError(f"{where}: signature does not verify under issuer {issuer.hashed_id8.hex()}") from exc
    except (InvalidKey, UnsupportedAlgorithm) as exc:
        raise ChainError(f"{where}: key cannot be used: {exc}") from exc


def _check_validity(subject: Certificate, issuer: Certificate | None, at: int) -> None:
    start, end = subject.validity
    if not start <= at <= end:
        raise ChainError(f"{_name(subject)} is not valid at Time32 {at} (valid {start}..{end})")
    if issuer is not None:
        i_start, i_end = issuer.validity
        if start < i_start or end > i_end:
            raise ChainError(f"{_name(subject)} validity {start}..{end} is not inside its issuer's {i_start}..{i_end}")


def _check_permissions(path: list[Certificate]) -> None:
    # path[0] is the leaf, path[-1] the anchor; distance j - i is the chain length seen from path[j].
    for i, subject in enumerate(path[:-1]):
        where = _name(subject)
        app = subject.tbs.get("appPermissions")
        enrol = subject.tbs.get("certRequestPermissions")
        for j in range(i + 1, len(path)):
            groups = path[j].tbs.get("certIssuePermissions")
            if groups is None:
                raise ChainError(f"{where}: issuer {_name(path[j])} has no certIssuePermissions")
            if app is not None:
                check_end_entity_permissions(groups, app, "app", j - i, where)
            if enrol is not None:
                check_end_entity_permissions(groups, enrol, "enrol", j - i, where)
        own_groups = subject.tbs.get("certIssuePermissions")
        if own_groups is not None:
            check_issue_permissions(path[i + 1].tbs["certIssuePermissions"], own_groups, where)


def verify_chain(
    leaf: Certificate,
    intermediates: Sequence[Certificate],
    anchors: Mapping[bytes, Certificate] | Sequence[Certificate],
    *,
    at: int | None = None,
) -> list[Certificate]:
    """Validate ``leaf`` up to a trusted anchor; the chain leaf first, anchor last (1609.2 §5.1.2.4).

    ``at`` is the Time32 at which every certificate must be valid (default: now). Raises
    ``ChainError`` naming the certificate and the broken rule.
    """
    if not isinstance(leaf, Certificate):
        raise TypeError(f"leaf: expected Certificate, got {type(leaf).__name__}")
    for cert in intermediates:
        if not isinstance(cert, Certificate):
            raise TypeError(f"intermediates: expected Certificate items, got {type(cert).__name__}")
    trusted = _anchor_map(anchors)
    when = time32.now() if at is None else at
    path = _build_path(leaf, intermediates, trusted)

    anchor = path[-1]
    if anchor.is_implicit:
        raise ChainError(f"anchor {_name(anchor)} is implicit: its key cannot be known")
    _check_validity(anchor, None, when)
    key = anchor.public_key()
    for index in range(len(path) - 2, -1, -1):
        subject, issuer = path[index], path[index + 1]
        key = _subject_key(subject, issuer, key)
        _check_validity(subject, issuer, when)
        check_region_within(subject.tbs.get("region"), _effective_region(path, index + 1), _name(subject))
    _check_permissions(path)
    return path


def _effective_region(path: list[Certificate], index: int) -> object:
    # A certificate without a region inherits the nearest one above it (1609.2 §6.4.8).
    for cert in path[index:]:
        region = cert.tbs.get("region")
        if region is not None:
            return region
    return None
