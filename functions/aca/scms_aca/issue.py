"""ACA batch issuance: RaAcaCertRequestSpdus in, signed AcaRaCertResponseSpdus (or per-request refusals) out.

1609.2.1 §6.3.5 and §9.3 (protocol.md §3.3 "ACA (per request)", §4.3-§4.6). Per request, in the
fixed order of protocol.md §2.4: parse (400-42); the RA's signature (400-43) and its certificate
under the hierarchy (400-40); the request's constraints and response form (400-32, cubk only if
the ACA certificate has ``usesCubk``); the RA's ``certRequestPermissions`` cover the requested
``appPermissions`` (400-30); generationTime (400-50); validity (400-35, the policy may cut it);
both PLVs (400-41); the key (400-64). Then the certificate: linkage-value = plv1 ⊕ plv2 with
iCert, the real cracaId and crlSeries (the linked CRL series when it carries linkage data, the hash
CRL series otherwise: protocol.md §3.5), explicit (butterflyExplicit: U = B + c·G, privateKeyInfo = c)
or implicit (ECQV with R = B, privateKeyInfo = r), wrapped plain / private (encrypted to
certEncKey, then ACA-signed) / cubk (encrypted to B, unsigned), inside an ACA-signed
``AcaRaCertResponseSpdu`` whose requestHash is the HashedId8 of the request as received.

Speed (issue #5 §7, performance.md §5-§7): the point additions of the whole batch share one
inversion; requests of the usual shape are read and answered through fixed-shape COER
(``wire``, ``cert.template``, ``secured.template``), so no asn1tools call is made per
certificate once the RA certificate is known; every secret-scalar operation is pyca's.

Idempotency: responses are stored by request hash before they are returned; a request answered
before gets its stored response again, never a second certificate. A refusal stores nothing.
Each stored answer also names the HashedId8 of its certificate and lives until the certificate's
validity end + 7 days (at least ``response_ttl``), so the MA can ask which request a certificate
answered for the certificate's whole life (protocol.md §3.6 step 1; ``scms_aca.lookup``); an answer
whose certificate has no linkage data also keeps that certificate's HashedId10 and validity end, so
the MA can put it on the hash CRL when its device is revoked (``scms_aca.lookup.hash_entries``).
The ACA needs and keeps nothing but the requests: no device identity reaches it (issue #5 §4).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature as _PycaInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from scms_service.stores.aca_responses import AcaAnswer, AcaResponseStore, HashCrlEntry

from scms_codec.cert import template as cert_template
from scms_codec.cert.certificate import Certificate
from scms_codec.cert.chain import verify_chain
from scms_codec.cert.permissions import check_end_entity_permissions
from scms_codec.crypto import aesccm, butterfly, ecies, ecqv, keys
from scms_codec.crypto.hashing import EMPTY_SHA256
from scms_codec.crypto.points import P256_N, Point
from scms_codec.errors import ChainError, CodecError, ErrorCode, InvalidKey, InvalidSignature, SpduShapeError
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.signer import Signer
from scms_codec.spdu.plv import linkage_value_of
from scms_codec.spdu.ra_aca import AcaResponseKind, LinkageInfo, RaAcaCertRequest, parse_ra_aca_cert_request
from scms_codec.spdu.scms_pdu import request_hash
from scms_codec.time32 import DURATION_UNITS, duration_from_seconds, duration_seconds, to_unix

from . import wire

__all__ = [
    "HierarchyRaCertificates",
    "IssuePolicy",
    "IssueResult",
    "RaCertificate",
    "RaCertificateResolver",
    "issue_batch",
]

_log = logging.getLogger(__name__)

SECURITY_MGMT_PSID = 35
_RA_SSP_TAG = 0x8B  # SecurityMgmtSsp alternative ``ra`` (protocol.md §1.1 table: RaSsp 8b0002)
_USES_CUBK = 0x80  # ToBeSignedCertificate.flags bit 0 (protocol.md §1.1)
_UINT16_MAX = 0xFFFF
_ECDSA_SHA256 = ec.ECDSA(Prehashed(hashes.SHA256()))
# Duration units from the finest to the coarsest that a cut validity may be written in (whole seconds).
_CUT_UNITS = ("seconds", "minutes", "hours", "sixtyHours", "years")
REVOCABLE_AFTER_EXPIRY = 7 * 24 * 3600
"""Seconds a stored answer outlives its certificate (its ``expiresAt`` is at least the validity end + this)."""


class _Refused(Exception):
    """One request is refused with its Table 8 code; the batch goes on."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code


# --------------------------------------------------------------------------------------------
# Inputs and outputs


@dataclass(frozen=True)
class IssuePolicy:
    """What the ACA puts in every certificate regardless of the request, and how far it lets a request reach."""

    craca_id: bytes  # HashedId3 of the CRACA certificate (the root, as for enrollment certificates)
    crl_series: int  # the linked CRL series: certificates with linkage data (butterfly) name it
    crl_hash_series: int | None = None  # the hash CRL series of the others (None: crl_series)
    max_validity_seconds: int | None = None  # longer requested validity is cut to this (None: no cut)
    clock_skew: int = 5  # seconds a generationTime may lie in the future (protocol.md §5.3)
    response_ttl: int = 30 * 24 * 3600  # seconds a stored response serves retries

    def __post_init__(self) -> None:
        if len(self.craca_id) != 3:
            raise ValueError("craca_id: a HashedId3 is 3 octets")
        if not 0 <= self.crl_series <= _UINT16_MAX:
            raise ValueError("crl_series: must be a Uint16")
        if self.crl_hash_series is not None and not 0 <= self.crl_hash_series <= _UINT16_MAX:
            raise ValueError("crl_hash_series: must be a Uint16")

    def series_for(self, linked: bool) -> int:
        """The crlSeries a certificate names: linked (it carries linkage data) or hash (protocol.md §3.5)."""
        if linked or self.crl_hash_series is None:
            return self.crl_series
        return self.crl_hash_series


@dataclass(frozen=True)
class IssueResult:
    """The outcome of one request: its hash (as received) and either the response SPDU or a refusal code."""

    request_hash: bytes
    response: bytes | None = field(default=None, repr=False)  # COER AcaRaCertResponseSpdu
    refusal: ErrorCode | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None


@dataclass(frozen=True)
class RaCertificate:
    """An RA certificate as the ACA judged it: its key, its signer-input hash and why it may not request, if so."""

    certificate: Certificate
    key: ec.EllipticCurvePublicKey = field(repr=False)
    signer_hash: bytes = field(repr=False)  # SHA-256(COER certificate): H(signer input), protocol.md §4.2
    refusal: ErrorCode | None = None
    reason: str = ""


class RaCertificateResolver(Protocol):
    """The RA certificate that signed a request, by its COER octets (CodecError if they do not decode)."""

    def __call__(self, encoded: bytes) -> RaCertificate: ...


class HierarchyRaCertificates:
    """Accepts RA certificates that chain to the hierarchy's roots at ``now`` and name the RA role; cached by octets."""

    def __init__(self, certificates: Sequence[Certificate], anchors: Sequence[Certificate], *, now: int) -> None:
        self._certificates = list(certificates)
        self._anchors = list(anchors)
        self._now = now
        self._cache: dict[bytes, RaCertificate] = {}

    def __call__(self, encoded: bytes) -> RaCertificate:
        known = self._cache.get(encoded)
        if known is None:
            known = self._cache[encoded] = self._judge(Certificate.from_bytes(encoded))
        return known

    def _judge(self, cert: Certificate) -> RaCertificate:
        if cert.is_implicit:
            # An implicit signer's key needs its issuer; the RA's certificate is explicit (protocol.md §1.1).
            raise SpduShapeError("RaAcaCertRequestSpdu: the RA certificate is implicit")
        key = cert.public_key()
        signer_hash = hashlib.sha256(cert.encoded).digest()
        try:
            verify_chain(cert, self._certificates, self._anchors, at=self._now)
        except ChainError as exc:
            return RaCertificate(cert, key, signer_hash, ErrorCode.CHAIN_VERIFICATION_FAILED, str(exc))
        if not _is_ra(cert):
            return RaCertificate(cert, key, signer_hash, ErrorCode.CHAIN_VERIFICATION_FAILED,
                                 "the signer is not an RA certificate with certRequestPermissions")  # fmt: skip
        return RaCertificate(cert, key, signer_hash)


def _is_ra(cert: Certificate) -> bool:
    if "certRequestPermissions" not in cert.tbs:
        return False
    for entry in cert.tbs.get("appPermissions", ()):
        ssp = entry.get("ssp")
        if entry["psid"] == SECURITY_MGMT_PSID and ssp and ssp[0] == "opaque" and ssp[1][:1] == bytes([_RA_SSP_TAG]):
            return True
    return False


# --------------------------------------------------------------------------------------------
# One batch


@dataclass(slots=True)
class _Request:
    """A request that passed every check, waiting for its key randomisation and certificate."""

    index: int
    request_hash: bytes
    type: str
    randomise: bool
    kind: AcaResponseKind
    key: Point  # B (cocoon key), the EE's key or ECQV request point
    encryption_key: ec.EllipticCurvePublicKey | None = field(repr=False)
    encryption_sec1: bytes | None = field(repr=False)  # the same key, SEC 1 compressed
    # The certificate's tbs without its verifyKeyIndicator: COER octets (fixed-shape requests,
    # wire.TbsParts) or, for a request read by the strict parser, the value for the templates.
    tbs_head: bytes | None = field(repr=False)
    tbs: dict[str, Any] | None = field(repr=False)
    valid_until: int = 0  # Time32: the issued certificate's validity end (how long it stays revocable)
    linked: bool = False  # the certificate carries linkage data (else it goes on the hash CRL)


class _Batch:
    """The per-batch state: the ACA's keys and derived constants, and the caches the requests share."""

    def __init__(
        self, aca: Signer, resolve_ra: RaCertificateResolver, plv_keys: Keyring, now: int, policy: IssuePolicy
    ) -> None:
        if aca.certificate is None:
            raise ValueError("aca: the ACA signs with its certificate")
        cert = aca.certificate
        if not isinstance(aca.key.curve, ec.SECP256R1) or cert.is_implicit:
            raise ValueError("aca: an ACA issuing ECQV certificates needs an explicit P-256 certificate")
        self.aca = aca
        self.cert = cert
        self.cert_hash = hashlib.sha256(cert.encoded).digest()
        self.issuer = cert_template.octets(cert.hashed_id8, 8)
        self.private = keys.private_key_to_int(aca.key)
        flags = cert.tbs.get("flags")
        self.uses_cubk = bool(flags and bytes(flags[0])[:1] and bytes(flags[0])[0] & _USES_CUBK)
        self.start, self.end = cert.validity
        self.issue_groups = cert.tbs.get("certIssuePermissions", [])
        self.resolve_ra = resolve_ra
        self.plv_keyring = plv_keys
        self.plv_keys = wire.LinkageKeys(plv_keys)
        self.now = now
        self.policy = policy
        # The issued cracaId ‖ crlSeries: of certificates with linkage data, and of the others.
        self.craca_crl_linked = policy.craca_id + policy.series_for(True).to_bytes(2, "big")
        self.craca_crl_hash = policy.craca_id + policy.series_for(False).to_bytes(2, "big")
        self._covered: dict[tuple[bytes, Any], ErrorCode | None] = {}
        self._validities: dict[bytes, tuple[bytes, int] | tuple[ErrorCode, str]] = {}
        self.p256_signers: set[bytes] = set()  # signer_hash of RA certificates whose key is P-256

    # --- checks ------------------------------------------------------------------------------

    def covered(self, ra: RaCertificate, permissions: list[dict[str, Any]]) -> ErrorCode | None:
        """400-30 unless the RA may request ``permissions`` and the ACA may issue them (cached per shape)."""
        shape = tuple((p["psid"], p.get("ssp")) for p in permissions)
        cache_key = (ra.signer_hash, shape)
        if cache_key not in self._covered:
            verdict = None
            try:
                check_end_entity_permissions(ra.certificate.tbs["certRequestPermissions"], permissions, "app", 1, "RA")
                check_end_entity_permissions(self.issue_groups, permissions, "app", 1, "ACA")
            except ChainError:
                verdict = ErrorCode.APP_PERMISSIONS_NOT_ALLOWED
            self._covered[cache_key] = verdict
        return self._covered[cache_key]

    def covered_octets(self, ra: RaCertificate, fast: wire.FastRequest) -> ErrorCode | None:
        """``covered`` for a fixed-shape request, cached by its canonical appPermissions octets."""
        cache_key = (ra.signer_hash, fast.tbs.app_permissions)
        if cache_key not in self._covered:
            self._covered[cache_key] = self.covered(ra, fast.tbs_cert["appPermissions"])
        return self._covered[cache_key]

    def validity_octets(self, requested: bytes) -> tuple[bytes, int]:
        """``validity`` on COER ValidityPeriod octets (wire.TbsParts.validity) and the issued end (Time32).

        Cached: requests share i-periods.
        """
        known = self._validities.get(requested)
        if known is None:
            period = wire.validity_value(requested)
            try:
                issued = self.validity(period)
            except _Refused as exc:
                known = (exc.code, str(exc))
            else:
                octets = requested if issued is period else wire.validity_octets(issued)
                known = (octets, validity_end(issued))
            self._validities[requested] = known
        if isinstance(known[0], ErrorCode):
            raise _Refused(known[0], str(known[1]))
        return known

    def validity(self, period: dict[str, Any]) -> dict[str, Any]:
        """The requested validity, cut to the policy and the ACA certificate's end; 400-35 outside the ACA's."""
        start = int(period["start"])
        end = start + duration_seconds(period["duration"])
        if not self.start <= start < self.end:
            raise _Refused(ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED, "validity starts outside the ACA certificate's")
        limit = self.end
        if self.policy.max_validity_seconds is not None:
            limit = min(limit, start + self.policy.max_validity_seconds)
        if end <= limit:
            return period
        return {"start": start, "duration": _duration_at_most(limit - start)}


def validity_end(period: dict[str, Any]) -> int:
    """The Time32 end of a ValidityPeriod value (start + duration)."""
    return int(period["start"]) + duration_seconds(period["duration"])


def _duration_at_most(seconds: int) -> tuple[str, int]:
    """``seconds`` in the largest exact Duration unit, else the longest Duration below it (finest unit that fits)."""
    try:
        return duration_from_seconds(seconds)
    except ValueError:
        pass  # Not exactly expressible: round down, so the certificate never outlives the limit.
    for unit in _CUT_UNITS:
        count = seconds // int(DURATION_UNITS[unit])
        if count <= _UINT16_MAX:
            return unit, count
    return "years", _UINT16_MAX  # pragma: no cover - a Time32 span never needs more


def _compressed(p: Point) -> tuple[str, bytes]:
    """``EccP256CurvePoint`` in canonical compressed form (protocol.md §4.1)."""
    return ("compressed-y-1" if p[1] & 1 else "compressed-y-0"), p[0].to_bytes(32, "big")


_SEC1_PREFIX = {"compressed-y-0": b"\x02", "compressed-y-1": b"\x03"}
_P256 = ec.SECP256R1()


def _decompress(point: tuple[str, Any]) -> tuple[ec.EllipticCurvePublicKey, Point]:
    """A compressed request point as a pyca key and (x, y); InvalidKey (400-64) if it is not on P-256."""
    prefix = _SEC1_PREFIX.get(point[0])
    if prefix is None or type(point[1]) is not bytes or len(point[1]) != 32:
        key = keys.point_from_asn1(point, "nistP256")  # other forms: the codec's checks and errors
    else:
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(_P256, prefix + point[1])
        except ValueError:
            raise InvalidKey("verifyKeyIndicator is not a point of P-256") from None
    numbers = key.public_numbers()
    return key, (numbers.x, numbers.y)


def _public_key(sec1: bytes, name: str) -> ec.EllipticCurvePublicKey:
    """A SEC 1 compressed point as a pyca key (decompressed and checked); InvalidKey (400-64) if not on P-256."""
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_P256, sec1)
    except ValueError:
        raise InvalidKey(f"{name} is not a point of P-256") from None


def _decompress_sec1(sec1: bytes, name: str) -> tuple[ec.EllipticCurvePublicKey, Point]:
    """``_public_key`` and its (x, y), for the point additions."""
    key = _public_key(sec1, name)
    numbers = key.public_numbers()
    return key, (numbers.x, numbers.y)


def _indicator_point(tbs: dict[str, Any]) -> tuple[str, Any]:
    """The EccP256CurvePoint of verifyKeyIndicator (verificationKey ecdsaNistP256 or reconstructionValue)."""
    kind, body = tbs["verifyKeyIndicator"]
    if kind == "verificationKey":
        algorithm, point = body
        if algorithm != "ecdsaNistP256":
            raise InvalidKey(f"verificationKey: {algorithm} is not a P-256 key")
        return tuple(point)
    return tuple(body)


def _prepare(batch: _Batch, index: int, data: bytes, h: bytes) -> _Request:
    """Every check of one request in protocol.md §2.4 order; the certificate's tbs without its key."""
    fast = wire.read_ra_aca_cert_request(data)
    if fast is not None:
        return _prepare_fast(batch, index, fast, h)
    opened = parse_ra_aca_cert_request(data)
    assert opened.signer is not None  # SignerSingleCert: parse_ra_aca_cert_request refuses self
    ra = batch.resolve_ra(opened.signer.encoded)
    content = opened.content
    encryption_key = content.cert_enc_key
    encryption_sec1: bytes | None = None
    if encryption_key is not None:
        encryption_sec1 = encryption_key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    key_point = _indicator_point(content.tbs_cert)
    key_object, point = _decompress(key_point)
    if ra.refusal is not None:
        raise _Refused(ra.refusal, ra.reason)
    problems = content.violations()
    if problems:
        raise _Refused(ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, "; ".join(problems))
    kind = content.response_kind
    if kind == "cubk" and not batch.uses_cubk:
        raise _Refused(ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, "cubk requested but the ACA certificate lacks usesCubk")
    tbs = content.tbs_cert
    refusal = batch.covered(ra, tbs["appPermissions"])
    if refusal is not None:
        raise _Refused(refusal, "appPermissions not covered by the RA's certRequestPermissions")
    if content.generation_time > batch.now + batch.policy.clock_skew:
        raise _Refused(ErrorCode.GENERATION_TIME_IN_FUTURE, "generationTime is in the future")
    issued: dict[str, Any] = {
        "id": _identifier(batch, tbs["id"], content.linkage_info),
        "cracaId": batch.policy.craca_id,
        "crlSeries": batch.policy.series_for(content.linkage_info is not None),
        "validityPeriod": batch.validity(tbs["validityPeriod"]),
        "appPermissions": tbs["appPermissions"],
    }
    for name in tbs.keys() - issued.keys() - {"verifyKeyIndicator"}:
        issued[name] = tbs[name]  # region, encryptionKey, ...: as requested
    if kind == "cubk":
        # Q = B (protocol.md §4.5, Uncertain 6; crypto.butterfly.response_encryption_public_key).
        encryption_key = key_object
        encryption_sec1 = bytes((3 if key_point[0] == "compressed-y-1" else 2,)) + key_point[1]
    randomise = content.type == "implicit" or content.butterfly_explicit
    valid_until = validity_end(issued["validityPeriod"])
    return _Request(
        index, h, content.type, randomise, kind, point, encryption_key, encryption_sec1, None, issued, valid_until,
        linked=content.linkage_info is not None,
    )  # fmt: skip


def _prepare_fast(batch: _Batch, index: int, fast: wire.FastRequest, h: bytes) -> _Request:
    """``_prepare`` for a fixed-shape request: the same checks in the same order, on its octets.

    The certificate's tbs is written from the request's octets (``wire.TbsParts``): the same
    octets the templates write from the value ``_prepare`` builds for other requests.
    """
    ra = batch.resolve_ra(fast.signer_certificate)
    if ra.signer_hash in batch.p256_signers:
        _verify_p256(ra, fast)
    else:
        _verify(ra, fast)
        batch.p256_signers.add(ra.signer_hash)  # its certificate holds a P-256 key: checked once per batch
    parts = fast.tbs
    key_object, point = _decompress_sec1(parts.key, "verifyKeyIndicator")
    encryption_key: ec.EllipticCurvePublicKey | None = None
    encryption_sec1 = fast.cert_enc_key
    if encryption_sec1 is not None:
        # The unified variant's certEncKey = B reuses B's key (one decompression).
        encryption_key = key_object if encryption_sec1 == parts.key else _public_key(encryption_sec1, "certEncKey")
    if ra.refusal is not None:
        raise _Refused(ra.refusal, ra.reason)
    if not _plainly_valid(fast):
        # Some RaAcaCertRequest constraint may be broken: the codec's own check decides and names it.
        content = RaAcaCertRequest(
            fast.generation_time, fast.type, fast.tbs_cert,  # type: ignore[arg-type]
            butterfly_explicit=fast.butterfly_explicit, cubk=fast.cubk, linkage_info=fast.linkage_info,
            cert_enc_key=encryption_key,
        )  # fmt: skip
        problems = content.violations()
        if problems:
            raise _Refused(ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, "; ".join(problems))
    kind: AcaResponseKind = "cubk" if fast.cubk else "plain" if encryption_sec1 is None else "private"
    if kind == "cubk" and not batch.uses_cubk:
        raise _Refused(ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, "cubk requested but the ACA certificate lacks usesCubk")
    refusal = batch.covered_octets(ra, fast)
    if refusal is not None:
        raise _Refused(refusal, "appPermissions not covered by the RA's certRequestPermissions")
    if fast.generation_time > batch.now + batch.policy.clock_skew:
        raise _Refused(ErrorCode.GENERATION_TIME_IN_FUTURE, "generationTime is in the future")
    if fast.linkage_info is None:
        identifier = parts.id  # as requested
        craca_crl = batch.craca_crl_hash
    else:
        assert parts.i_cert is not None  # _plainly_valid or violations(): linkageInfo comes with linkageData
        # linkageData {iCert, linkage-value}, no group-linkage-value (protocol.md §4.6).
        identifier = b"\x80\x00" + parts.i_cert + _linkage_value(batch, fast.linkage_info)
        craca_crl = batch.craca_crl_linked
    validity, valid_until = batch.validity_octets(parts.validity)
    head = parts.preamble + identifier + craca_crl + validity + parts.middle
    if kind == "cubk":
        # Q = B (protocol.md §4.5, Uncertain 6; crypto.butterfly.response_encryption_public_key).
        encryption_key, encryption_sec1 = key_object, parts.key
    randomise = fast.type == "implicit" or fast.butterfly_explicit
    return _Request(
        index, h, fast.type, randomise, kind, point, encryption_key, encryption_sec1, head, None, valid_until,
        linked=fast.linkage_info is not None,
    )  # fmt: skip


def _plainly_valid(fast: wire.FastRequest) -> bool:
    """True when ``RaAcaCertRequest.violations()`` is surely empty for ``fast`` (a cheap sufficient test).

    The reader admits only tbsCerts with appPermissions and without certIssuePermissions or
    certRequestPermissions; what remains of the constraints is read off the octets here.
    """
    parts = fast.tbs
    return (
        parts.craca_id == b"\x00\x00\x00"
        and parts.crl_series == b"\x00\x00"
        and parts.reconstruction == (fast.type == "implicit")
        and not (fast.cubk and fast.cert_enc_key is not None)
        and not (fast.butterfly_explicit and fast.type != "explicit")
        and (fast.linkage_info is None or parts.i_cert is not None)
    )


def _identifier(batch: _Batch, requested: tuple[str, Any], info: LinkageInfo | None) -> tuple[str, Any]:
    """The certificate's id: linkageData {iCert, plv1 ⊕ plv2} when PLVs came, else the requested id."""
    if info is None:
        return requested
    return "linkageData", {"iCert": requested[1]["iCert"], "linkage-value": _linkage_value(batch, info)}


def _linkage_value(batch: _Batch, info: LinkageInfo) -> bytes:
    """plv1 ⊕ plv2 (protocol.md §4.6); DecryptionError (400-41) if either does not open."""
    plv1 = batch.plv_keys.plv(info.enc_plv1)
    plv2 = batch.plv_keys.plv(info.enc_plv2)
    if plv1 is None or plv2 is None or info.enc_plv1.la_id == info.enc_plv2.la_id:
        # Another shape (or a bad pair): the codec's strict reading decides, with its own errors.
        return linkage_value_of(info, batch.plv_keyring)
    return (int.from_bytes(plv1, "big") ^ int.from_bytes(plv2, "big")).to_bytes(9, "big")


def _verify(ra: RaCertificate, fast: wire.FastRequest) -> None:
    """The RA's signature over H(H(tbsRequest) ‖ H(RA certificate)), protocol.md §4.2 (InvalidSignature 400-43)."""
    if not isinstance(ra.key.curve, ec.SECP256R1):
        raise InvalidSignature("cert request SPDU: hashAlgorithmId sha256 does not match the signer's curve")
    _verify_p256(ra, fast)


def _verify_p256(ra: RaCertificate, fast: wire.FastRequest) -> None:
    """``_verify`` once the RA key is known to be P-256."""
    if not (0 < fast.r < P256_N and 0 < fast.s < P256_N):
        raise InvalidSignature("signature: r or s is out of range")
    digest = hashlib.sha256(hashlib.sha256(fast.tbs_request).digest() + ra.signer_hash).digest()
    try:
        ra.key.verify(encode_dss_signature(fast.r, fast.s), digest, _ECDSA_SHA256)
    except _PycaInvalidSignature:
        raise InvalidSignature("signature does not verify") from None


def _sign(batch: _Batch, data_input: bytes) -> tuple[int, int]:
    """ECDSA by the ACA over H(H(data_input) ‖ H(ACA certificate)) (protocol.md §4.2), as (r, s)."""
    digest = hashlib.sha256(hashlib.sha256(data_input).digest() + batch.cert_hash).digest()
    r, s = decode_dss_signature(batch.aca.key.sign(digest, _ECDSA_SHA256))
    return r, s


def _signed(batch: _Batch, payload: bytes) -> bytes:
    """``Ieee1609Dot2Data-Signed{payload, 35}`` by the ACA certificate (protocol.md §1.3)."""
    tbs_data = wire.signed_data_tbs(payload, SECURITY_MGMT_PSID)
    r, s = _sign(batch, tbs_data)
    return wire.signed_data(tbs_data, batch.cert.encoded, r, s)


def _encrypted(plaintext: bytes, key: ec.EllipticCurvePublicKey, key_sec1: bytes) -> bytes:
    """``Ieee1609Dot2Data-Encrypted`` to a key from the request: rekRecipInfo, P1 = SHA-256("") (protocol.md §4.4)."""
    fresh = os.urandom(28)  # one call for both: the AES key and the CCM nonce
    data_key, nonce = fresh[:16], fresh[16:]
    wrapped = ecies.wrap(key, data_key, EMPTY_SHA256)  # fresh v, ECDH, KDF2, XOR, HMAC (1609.2 §5.3.5)
    v = wrapped.v.public_numbers()  # 4 µs, where public_bytes(CompressedPoint) costs 5
    v_sec1 = (b"\x03" if v.y & 1 else b"\x02") + v.x.to_bytes(32, "big")
    ciphertext = aesccm.encrypt(data_key, nonce, plaintext)
    return wire.encrypted_data_rek(wire.rek_recipient_id(key_sec1), v_sec1, wrapped.c, wrapped.t, nonce, ciphertext)


def _respond(batch: _Batch, request: _Request, scalar: int | None, key: Point) -> tuple[bytes, bytes]:
    """The certificate for ``key`` (U or P_U), its response SPDU and the ACA-signed AcaRaCertResponseSpdu.

    Returns that AcaRaCertResponseSpdu and the certificate's HashedId10 (the low 10 octets of the
    SHA-256 of its COER: the ACA's key is P-256, 1609.2 §6.4.3; its HashedId8 is the low 8 of those).
    """
    tbs = request.tbs
    private_key_info = None
    point = (b"\x83" if key[1] & 1 else b"\x82") + key[0].to_bytes(32, "big")  # EccP256CurvePoint, compressed
    if request.type == "explicit":
        if tbs is None:
            tbs_coer = request.tbs_head + b"\x80\x80" + point  # type: ignore[operator]
        else:
            tbs["verifyKeyIndicator"] = ("verificationKey", ("ecdsaNistP256", _compressed(key)))
            tbs_coer = cert_template.encode("ToBeSignedCertificate", tbs)
        r, s = _sign(batch, tbs_coer)
        signature = b"\x80\x80" + r.to_bytes(32, "big") + s.to_bytes(32, "big")  # ecdsaNistP256Signature, x-only
        certificate = wire.certificate_coer("explicit", batch.issuer, tbs_coer, signature)
        if scalar is not None:
            private_key_info = keys.scalar_to_bytes(scalar)
    else:
        assert scalar is not None
        if tbs is None:
            tbs_coer = request.tbs_head + b"\x81" + point  # type: ignore[operator]
        else:
            tbs["verifyKeyIndicator"] = ("reconstructionValue", _compressed(key))
            tbs_coer = cert_template.encode("ToBeSignedCertificate", tbs)
        e = ecqv.e_from_digests(hashlib.sha256(tbs_coer).digest(), batch.cert_hash)
        private_key_info = keys.scalar_to_bytes(ecqv.private_reconstruction(e, scalar, batch.private))
        certificate = wire.certificate_coer("implicit", batch.issuer, tbs_coer, None)
    hashed_id10 = hashlib.sha256(certificate).digest()[-10:]
    inner = wire.unsecured(wire.aca_ee_cert_response_pdu(batch.now, certificate, private_key_info))
    if request.kind == "plain":
        spdu = inner
    else:
        assert request.encryption_key is not None and request.encryption_sec1 is not None
        spdu = _encrypted(inner, request.encryption_key, request.encryption_sec1)
        if request.kind == "private":
            # EncryptedSigned: signed by the very ACA certificate that issued the inner one (protocol.md §3.3).
            spdu = _signed(batch, spdu)
    response = _signed(batch, wire.aca_ra_cert_response_pdu(batch.now, request.request_hash, request.kind, spdu))
    return response, hashed_id10


def issue_batch(
    requests: Sequence[bytes],
    *,
    aca: Signer,
    ra_certificate_resolver: RaCertificateResolver,
    plv_keys: Keyring,
    now: int,
    policy: IssuePolicy,
    responses: AcaResponseStore,
    on_issued: Callable[[str, str], None] | None = None,
) -> list[IssueResult]:
    """One IssueResult per request, in order: the stored or new AcaRaCertResponseSpdu, or a Table 8 refusal.

    ``aca`` is the ACA's signer (key and certificate); ``plv_keys`` holds the LA-ACA keys; ``now``
    is Time32; ``responses`` keeps every answer by request hash. ``on_issued(kind, type)`` is called
    once per certificate issued by this call (not for answers served again from the store, nor for
    the loser of a concurrent first answer): the metrics hook. See the module docstring.
    """
    batch = _Batch(aca, ra_certificate_resolver, plv_keys, now, policy)
    hashes = [request_hash(data) for data in requests]
    stored = responses.get_many(hashes)
    refusals: dict[bytes, ErrorCode] = {}
    prepared: list[_Request] = []
    seen: set[bytes] = set(stored)
    for index, (data, h) in enumerate(zip(requests, hashes, strict=True)):
        if h in seen:
            continue  # answered before, or the same request twice in this batch
        seen.add(h)
        try:
            prepared.append(_prepare(batch, index, data, h))
        except _Refused as exc:
            refusals[h] = exc.code
            _log.info("request refused", extra={"index": index, "code": exc.code.value, "reason": str(exc)})
        except CodecError as exc:
            refusals[h] = exc.error_code
            _log.info("request refused", extra={"index": index, "code": exc.error_code.value,
                                                "reason": type(exc).__name__})  # fmt: skip
    fresh = _issue_all(batch, prepared)
    if fresh:
        written = responses.put_many(fresh)
        stored.update(written)
        if on_issued is not None:
            for request in prepared:
                if written.get(request.request_hash) == fresh[request.request_hash].response:
                    on_issued(request.kind, request.type)
    return [IssueResult(h, stored.get(h), None if h in stored else refusals.get(h)) for h in hashes]


def _issue_all(batch: _Batch, prepared: list[_Request]) -> dict[bytes, AcaAnswer]:
    """Randomise every key that needs it with one inversion for the batch, then certify and answer each."""
    randomised = [r for r in prepared if r.randomise]
    # Explicit U = B + c·G and implicit P_U = B + k·G are the same operation on a fresh scalar
    # (protocol.md §4.5): the sums share one modular inversion (performance.md §7).
    drawn = iter(butterfly.randomize_explicit_many([r.key for r in randomised]))
    out: dict[bytes, AcaAnswer] = {}
    kept_at_least = to_unix(batch.now) + batch.policy.response_ttl
    for request in prepared:
        scalar, key = next(drawn) if request.randomise else (None, request.key)
        response, hashed_id10 = _respond(batch, request, scalar, key)
        # Revocable for the certificate's whole life (the MA's lookup), and retries served meanwhile.
        expires_at = max(kept_at_least, to_unix(request.valid_until) + REVOCABLE_AFTER_EXPIRY)
        # A certificate without linkage data is revoked by its hash (protocol.md §3.5): keep its entry.
        hash_crl = None if request.linked else HashCrlEntry(hashed_id10, request.valid_until)
        out[request.request_hash] = AcaAnswer(response, hashed_id10[-8:], expires_at, hash_crl)
    return out
