"""Opening downloaded authorization certificates: decrypt, verify, rebuild and check each key (protocol.md §3.3, §4.5).

For every ``<i>_<j>`` response of a batch the device:

1. opens the response in the form its variant asked for: plain (obk none: ``plain``), private
   (``obk``, ``ubk``, ``private``: ACA-signed, then ECIES to the response key) or cubk (``cubk``:
   ECIES to the cocoon key B, unsigned), and checks that a private response is signed by the very
   ACA certificate that issued the inner one and that a cubk one comes from an ACA with ``usesCubk``;
2. checks the certificate: issued by a trusted ACA (the caller hands over ACAs it has chained to
   its root), of the requested type, signed by that ACA (explicit), ``linkageData`` with iCert = i
   (butterfly), the validity of period i (butterfly) or of the request, the requested
   appPermissions and nothing else, inside the ACA's validity and certIssuePermissions;
3. rebuilds its private key: b = a + f_ck(i, j) (butterfly, 1609.2.1 §9.3) or the device's own key;
   explicit u = b + c, implicit (ECQV) d = e·b + r; explicit without butterfly: the key itself. It
   must match the certificate: d·G = U (explicit) or d·G = e·P_U + Q_ACA (implicit, 1609.2 §5.3.2).

Responses of the ACA's usual shape are read with ``scms_ee.wire`` and verified with pyca directly
(about 1.6x the time of their elliptic-curve operations alone, measured; the strict parser costs
about 2 ms per response); any other shape goes through the codec's strict parser with the same
checks after it. ``VerificationFailed`` names the file and the first broken rule.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature as _PycaInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from scms_service.iperiod import IPeriods

from scms_codec.cert.certificate import Certificate, verify_signature
from scms_codec.cert.permissions import check_end_entity_permissions
from scms_codec.crypto import aesccm, butterfly, ecies, ecqv, keys, points
from scms_codec.crypto.hashing import EMPTY_SHA256
from scms_codec.crypto.points import P256_N
from scms_codec.errors import ChainError, CodecError
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu.aca_ee import parse_aca_ee_cert_response
from scms_codec.spdu.ee_ra_cert_request import (
    AdditionalParams,
    ButterflyCompactUnified,
    ButterflyOriginal,
    ButterflyUnified,
    ResponseEncryptionKey,
)
from scms_codec.spdu.ra_aca import AcaResponseKind
from scms_codec.time32 import duration_seconds

from . import wire
from .enroll import VerificationFailed

__all__ = [
    "BUTTERFLY_VARIANTS",
    "RESPONSE_FORMS",
    "VARIANTS",
    "CertType",
    "DeviceKeys",
    "Expected",
    "Opener",
    "Permission",
    "Pseudonym",
    "TrustedAca",
    "Variant",
    "implicit_key_matches",
    "uses_cubk",
]

Variant = Literal["obk", "ubk", "cubk", "plain", "private"]
CertType = Literal["explicit", "implicit"]
VARIANTS: tuple[Variant, ...] = ("obk", "ubk", "cubk", "plain", "private")
BUTTERFLY_VARIANTS: dict[str, butterfly.Variant] = {"obk": "original", "ubk": "unified", "cubk": "compact-unified"}
RESPONSE_FORMS: dict[str, AcaResponseKind] = {
    "obk": "private", "ubk": "private", "cubk": "cubk", "plain": "plain", "private": "private",
}  # fmt: skip
"""The response form each variant gets (protocol.md §3.3 certEncKey/cubk table, §4.5)."""

Permission = tuple[int, bytes | None]
"""One requested appPermissions entry: PSID and opaque SSP (or None)."""

_P256 = ec.SECP256R1()
_ECDSA_SHA256 = ec.ECDSA(Prehashed(hashes.SHA256()))
_USES_CUBK = 0x80  # ToBeSignedCertificate.flags bit 0 (protocol.md §1.1)
_SEC1 = {"compressed-y-0": b"\x02", "compressed-y-1": b"\x03"}
_TBS_MEMBERS = frozenset({"id", "cracaId", "crlSeries", "validityPeriod", "appPermissions", "verifyKeyIndicator"})


def _new_scalar() -> int:
    return keys.private_key_to_int(ec.generate_private_key(_P256))


@dataclass(frozen=True)
class DeviceKeys:
    """The secrets of one authorization request; never in a repr, a log or an exception.

    ``signing``: the caterpillar signing key a (butterfly) or the device's own key (plain, private).
    ``encryption``: the caterpillar encryption key h (obk) or the response encryption key (private).
    ``signing_expansion`` ck (every butterfly variant) and ``encryption_expansion`` ek (obk).
    """

    variant: Variant
    signing: int = field(repr=False)
    encryption: int | None = field(default=None, repr=False)
    signing_expansion: bytes | None = field(default=None, repr=False)
    encryption_expansion: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant: expected one of {', '.join(VARIANTS)}")
        needs_h = self.variant in ("obk", "private")
        if (self.encryption is not None) != needs_h:
            raise ValueError(f"encryption: {'required' if needs_h else 'not used'} for {self.variant}")
        if (self.signing_expansion is not None) != self.butterfly:
            raise ValueError(f"signing_expansion: {'required' if self.butterfly else 'not used'} for {self.variant}")
        if (self.encryption_expansion is not None) != (self.variant == "obk"):
            raise ValueError("encryption_expansion: used by obk only")
        for name, scalar in (("signing", self.signing), ("encryption", self.encryption)):
            if scalar is not None and not 0 < scalar < P256_N:
                raise ValueError(f"{name}: not a P-256 private scalar")

    @classmethod
    def generate(cls, variant: Variant) -> DeviceKeys:
        """Fresh keys for ``variant`` (protocol.md §4.5 table): a, and h, ck, ek as the variant needs."""
        return cls(
            variant,
            _new_scalar(),
            _new_scalar() if variant in ("obk", "private") else None,
            secrets.token_bytes(16) if variant in BUTTERFLY_VARIANTS else None,
            secrets.token_bytes(16) if variant == "obk" else None,
        )

    @property
    def butterfly(self) -> bool:
        return self.variant in BUTTERFLY_VARIANTS

    def signing_public(self) -> ec.EllipticCurvePublicKey:
        """A (the caterpillar key) or the device's own key: the request's verifyKeyIndicator."""
        return ec.derive_private_key(self.signing, _P256).public_key()

    def additional_params(self) -> AdditionalParams | None:
        """The request's ``AdditionalParams`` (protocol.md §3.3); None for ``plain``."""
        if self.variant == "obk":
            assert self.encryption is not None and self.signing_expansion and self.encryption_expansion
            h = ec.derive_private_key(self.encryption, _P256).public_key()
            return ButterflyOriginal(self.signing_expansion, h, self.encryption_expansion)
        if self.variant == "ubk":
            assert self.signing_expansion is not None
            return ButterflyUnified(self.signing_expansion)
        if self.variant == "cubk":
            assert self.signing_expansion is not None
            return ButterflyCompactUnified(self.signing_expansion)
        if self.variant == "private":
            assert self.encryption is not None
            return ResponseEncryptionKey(ec.derive_private_key(self.encryption, _P256).public_key())
        return None

    def to_json(self) -> dict[str, Any]:
        """For the 0600 key file of the state directory only."""
        out: dict[str, Any] = {"variant": self.variant, "signing": f"{self.signing:064x}"}
        if self.encryption is not None:
            out["encryption"] = f"{self.encryption:064x}"
        if self.signing_expansion is not None:
            out["signing_expansion"] = self.signing_expansion.hex()
        if self.encryption_expansion is not None:
            out["encryption_expansion"] = self.encryption_expansion.hex()
        return out

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DeviceKeys:
        def scalar(name: str) -> int | None:
            text = value.get(name)
            return None if text is None else int(text, 16)

        def octets(name: str) -> bytes | None:
            text = value.get(name)
            return None if text is None else bytes.fromhex(text)

        signing = scalar("signing")
        if signing is None:
            raise ValueError("signing: missing")
        return cls(
            value["variant"], signing, scalar("encryption"), octets("signing_expansion"), octets("encryption_expansion")
        )


@dataclass(frozen=True)
class Expected:
    """What every certificate of one request must say, besides what its (i, j) fixes."""

    variant: Variant
    cert_type: CertType
    permissions: tuple[Permission, ...]
    request_start: int  # the requested validity (Time32, end exclusive)
    request_end: int
    schedule: IPeriods


@dataclass(frozen=True)
class Pseudonym:
    """One verified authorization certificate with its private key (never in a repr)."""

    i: int
    j: int
    certificate: bytes = field(repr=False)  # COER as received
    private_key: int = field(repr=False)
    linkage_value: bytes | None = field(repr=False)
    hashed_id8: bytes


def uses_cubk(certificate: Certificate) -> bool:
    """True when an ACA certificate's ``flags`` carries ``usesCubk`` (protocol.md §1.1)."""
    flags = certificate.tbs.get("flags")
    return bool(flags and bytes(flags[0])[:1] and bytes(flags[0])[0] & _USES_CUBK)


@dataclass(frozen=True)
class TrustedAca:
    """An ACA certificate the caller has chained to its trusted root, with what the checks need of it."""

    certificate: Certificate
    key: ec.EllipticCurvePublicKey = field(repr=False)
    point: points.Point = field(repr=False)
    cert_hash: bytes = field(repr=False)  # SHA-256 of the COER certificate: signer input and ECQV e
    uses_cubk: bool
    start: int
    end: int
    g_minus_q: points.Point = field(repr=False)  # G - Q_ACA, for ``implicit_key_matches``

    @classmethod
    def of(cls, certificate: Certificate) -> TrustedAca:
        if certificate.is_implicit or not isinstance(certificate.public_key().curve, ec.SECP256R1):
            raise ValueError("certificate: an ACA issuing P-256 certificates has an explicit P-256 key")
        key = certificate.public_key()
        start, end = certificate.validity
        point = points.from_public_key(key)
        return cls(
            certificate, key, point, hashlib.sha256(certificate.encoded).digest(), uses_cubk(certificate), start, end,
            points.add(points.P256_G, points.neg(point)),
        )  # fmt: skip


class _Fallback(Exception):
    """The response is not of the fixed shape: open it with the codec's strict parser."""


@dataclass
class _Inner:
    """The AcaEeCertResponse's certificate and key info, however it was read."""

    certificate: wire.FastCertificate
    private_key_info: bytes | None
    signature_verified: bool = False
    signer: TrustedAca | None = None


class Opener:
    """Opens and checks the responses of one request (module docstring); one per process, not thread-safe."""

    def __init__(self, device: DeviceKeys, expected: Expected, acas: Iterable[Certificate]) -> None:
        if device.variant != expected.variant:
            raise ValueError("expected: describes another variant than the keys")
        self.device = device
        self.expected = expected
        self.form: AcaResponseKind = RESPONSE_FORMS[device.variant]
        self._acas = {cert.hashed_id8: TrustedAca.of(cert) for cert in acas}
        self._by_octets = {aca.certificate.encoded: aca for aca in self._acas.values()}
        self._ck = None if device.signing_expansion is None else butterfly.Expander(device.signing_expansion)
        self._ek = None if device.encryption_expansion is None else butterfly.Expander(device.encryption_expansion)
        self._response_key: ec.EllipticCurvePrivateKey | None = None
        if device.variant == "private":
            assert device.encryption is not None
            self._response_key = ec.derive_private_key(device.encryption, _P256)
        self._covered: dict[tuple[bytes, tuple[Permission, ...]], bool] = {}

    # --- one response ----------------------------------------------------------------------------

    def open(self, i: int, j: int, data: bytes) -> Pseudonym:
        """The checked certificate and private key of response ``<i>_<j>``; ``VerificationFailed`` otherwise."""
        try:
            return self._open(i, j, data)
        except VerificationFailed as exc:
            raise VerificationFailed(f"{i:x}_{j:x}: {exc}") from None

    def _open(self, i: int, j: int, data: bytes) -> Pseudonym:
        b = self._signing_private(i, j)
        response_key = self._response_private(i, j, b)
        try:
            inner = self._read_fast(data, response_key)
        except _Fallback:
            inner = self._read_strict(data, response_key)
        return self._check(i, j, inner, b)

    def _signing_private(self, i: int, j: int) -> int:
        if self._ck is None:
            return self.device.signing
        return butterfly.cocoon_private_key(self.device.signing, self._ck, i, j, "signing")

    def _response_private(self, i: int, j: int, b: int) -> ec.EllipticCurvePrivateKey | None:
        variant = self.device.variant
        if variant == "plain":
            return None
        if variant == "private":
            return self._response_key
        if variant == "obk":
            assert self.device.encryption is not None and self._ek is not None
            scalar = butterfly.cocoon_private_key(self.device.encryption, self._ek, i, j, "encryption")
        else:
            # Q = B for unified and compact unified (protocol.md §4.5, Uncertain 6).
            scalar = butterfly.response_encryption_private_key(
                BUTTERFLY_VARIANTS[variant], cocoon_signing_private=b, i=i, j=j
            )
        return ec.derive_private_key(scalar, _P256)

    def _read_fast(self, data: bytes, response_key: ec.EllipticCurvePrivateKey | None) -> _Inner:
        signer = None
        if self.form == "plain":
            inner = data
        elif self.form == "cubk":
            assert response_key is not None
            inner = self._decrypt(data, response_key)
        else:
            assert response_key is not None
            signed = wire.read_signed(data)
            if signed is None:
                raise _Fallback
            signer = self._by_octets.get(signed.signer_certificate)
            if signer is None:
                raise _Fallback  # another signer certificate: the strict path names or rejects it
            self._verify(signer, signed.tbs_data, signed.r, signed.s, "response signature")
            inner = self._decrypt(signed.payload, response_key)
        response = wire.read_response(inner)
        if response is None:
            raise _Fallback
        return _Inner(response.certificate, response.private_key_info, signer=signer)

    def _decrypt(self, data: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
        encrypted = wire.read_encrypted(data)
        if encrypted is None:
            raise _Fallback
        try:
            v = ec.EllipticCurvePublicKey.from_encoded_point(_P256, encrypted.v)
        except ValueError:
            raise VerificationFailed("ephemeral key V is not a point of P-256") from None
        try:
            data_key = ecies.unwrap(key, ecies.EciesCiphertext(v, encrypted.c, encrypted.t), EMPTY_SHA256)
            return aesccm.decrypt(data_key, encrypted.nonce, encrypted.ciphertext)
        except CodecError:
            raise VerificationFailed("response does not decrypt with this (i, j)'s response key") from None

    def _read_strict(self, data: bytes, response_key: ec.EllipticCurvePrivateKey | None) -> _Inner:
        keyring = None
        if response_key is not None:
            keyring = Keyring()
            keyring.add_response_key(response_key)
        try:
            opened = parse_aca_ee_cert_response(data, self.form, keyring=keyring)
        except CodecError as exc:
            raise VerificationFailed(f"not a valid {self.form} response: {type(exc).__name__}") from None
        signer = None
        if opened.signer is not None:
            signer = self._acas.get(opened.signer.hashed_id8)
            if signer is None or signer.certificate.encoded != opened.signer.encoded:
                raise VerificationFailed(f"response signed by {opened.signer.hashed_id8.hex()}, not a trusted ACA")
        cert = opened.content.certificate
        fast = wire.FastCertificate(cert.encoded, cert.value, cert.tbs_encoded, cert.issuer_id or b"", cert.is_implicit)
        verified = False
        if not cert.is_implicit:
            aca = self._issuer(fast)
            try:
                verify_signature(cert, aca.certificate)
            except (CodecError, ValueError):
                raise VerificationFailed("certificate signature does not verify under its ACA") from None
            verified = True
        return _Inner(fast, opened.content.private_key_info, verified, signer)

    # --- the checks of one certificate ---------------------------------------------------------

    def _issuer(self, cert: wire.FastCertificate) -> TrustedAca:
        aca = self._acas.get(cert.issuer_id)
        if aca is None:
            raise VerificationFailed(f"certificate issued by {cert.issuer_id.hex()}, not a trusted ACA")
        return aca

    def _verify(self, aca: TrustedAca, data_input: bytes, r: int, s: int, what: str) -> None:
        # H(H(data input) ‖ H(ACA certificate)), 1609.2 §5.3.1 (protocol.md §4.2); x-only rSig is r.
        if not (0 < r < P256_N and 0 < s < P256_N):
            raise VerificationFailed(f"{what}: r or s out of range")
        digest = hashlib.sha256(hashlib.sha256(data_input).digest() + aca.cert_hash).digest()
        try:
            aca.key.verify(encode_dss_signature(r, s), digest, _ECDSA_SHA256)
        except _PycaInvalidSignature:
            raise VerificationFailed(f"{what} does not verify under ACA {aca.certificate.hashed_id8.hex()}") from None

    def _check(self, i: int, j: int, inner: _Inner, b: int) -> Pseudonym:
        cert = inner.certificate
        aca = self._issuer(cert)
        if inner.signer is not None and inner.signer is not aca:
            raise VerificationFailed("response signed by another ACA than the certificate's issuer")
        if self.form == "cubk" and not aca.uses_cubk:
            raise VerificationFailed(f"cubk response, but ACA {aca.certificate.hashed_id8.hex()} lacks usesCubk")
        if cert.implicit != (self.expected.cert_type == "implicit"):
            raise VerificationFailed(f"asked for an {self.expected.cert_type} certificate")
        if not cert.implicit and not inner.signature_verified:
            assert cert.r is not None and cert.s is not None
            self._verify(aca, cert.tbs_coer, cert.r, cert.s, "certificate signature")
        linkage_value = self._check_tbs(i, cert.tbs, aca)
        private_key = self._private_key(cert, inner.private_key_info, aca, b)
        return Pseudonym(i, j, cert.encoded, private_key, linkage_value, hashlib.sha256(cert.encoded).digest()[-8:])

    def _check_tbs(self, i: int, tbs: dict[str, Any], aca: TrustedAca) -> bytes | None:
        extra = tbs.keys() - _TBS_MEMBERS
        if extra:
            raise VerificationFailed(f"certificate carries {', '.join(sorted(extra))}, which was not requested")
        kind, ident = tbs["id"]
        linkage_value = None
        if self.device.butterfly:
            if kind != "linkageData" or "group-linkage-value" in ident:
                raise VerificationFailed("a butterfly certificate needs individual linkageData")
            if ident["iCert"] != i:
                raise VerificationFailed(f"iCert is {ident['iCert']:x}, not the batch's i")
            linkage_value = bytes(ident["linkage-value"])
        elif kind != "none":
            raise VerificationFailed(f"id is {kind}, the request asked for none")
        period = tbs["validityPeriod"]
        start = int(period["start"])
        end = start + duration_seconds(period["duration"])
        if self.device.butterfly:
            expected = self.expected.schedule.period(i)
            if start != expected.start or not start < end <= expected.end:
                raise VerificationFailed("validity is not period i's (start, length + overlap)")
        elif not (self.expected.request_start <= start < end <= self.expected.request_end):
            raise VerificationFailed("validity lies outside the requested validity")
        if not (aca.start <= start and end <= aca.end):
            raise VerificationFailed("validity lies outside the ACA certificate's")
        shape = tuple(
            (int(p["psid"]), None if p.get("ssp") is None else bytes(p["ssp"][1])) for p in tbs["appPermissions"]
        )
        if any(p.get("ssp") is not None and p["ssp"][0] != "opaque" for p in tbs["appPermissions"]):
            raise VerificationFailed("appPermissions carry a non-opaque SSP that was not requested")
        if sorted(shape, key=_order) != sorted(self.expected.permissions, key=_order):
            raise VerificationFailed("appPermissions differ from the requested ones")
        self._check_covered(aca, shape, tbs["appPermissions"])
        return linkage_value

    def _check_covered(self, aca: TrustedAca, shape: tuple[Permission, ...], permissions: list[dict[str, Any]]) -> None:
        cache_key = (aca.certificate.hashed_id8, shape)
        if cache_key not in self._covered:
            try:
                groups = aca.certificate.tbs.get("certIssuePermissions", [])
                check_end_entity_permissions(groups, permissions, "app", 1, "ACA")
                self._covered[cache_key] = True
            except ChainError:
                self._covered[cache_key] = False
        if not self._covered[cache_key]:
            raise VerificationFailed("appPermissions exceed the ACA's certIssuePermissions")

    def _private_key(self, cert: wire.FastCertificate, info: bytes | None, aca: TrustedAca, b: int) -> int:
        _, key = cert.tbs["verifyKeyIndicator"]
        if cert.implicit:
            if info is None or len(info) != 32:
                raise VerificationFailed("implicit certificate without a 32-octet privateKeyInfo (r)")
            e = ecqv.e_from_digests(hashlib.sha256(cert.tbs_coer).digest(), aca.cert_hash)
            try:
                d = butterfly.implicit_private_key(b, e, int.from_bytes(info, "big"))
                matches = implicit_key_matches(d, keys.point_from_asn1(key, "nistP256"), e, aca.g_minus_q)
            except (CodecError, ValueError):
                matches = False
            if not matches:
                raise VerificationFailed("reconstructed private key does not match the implicit certificate")
            return d
        point = key[1]
        if self.device.butterfly:
            if info is None or len(info) != 32:
                raise VerificationFailed("butterfly explicit certificate without a 32-octet privateKeyInfo (c)")
            try:
                d = butterfly.explicit_private_key(b, int.from_bytes(info, "big"))
            except ValueError:
                raise VerificationFailed("u = b + c is zero") from None
        else:
            if info is not None:
                raise VerificationFailed("explicit certificate of our own key came with privateKeyInfo")
            d = b
        derived = ec.derive_private_key(d, _P256).public_key()
        compressed = derived.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        if compressed != _SEC1.get(point[0], b"") + bytes(point[1]):
            raise VerificationFailed("private key does not match the certificate's verification key")
        return d


def implicit_key_matches(d: int, p_u: ec.EllipticCurvePublicKey, e: int, g_minus_q: points.Point) -> bool:
    """d·G = e·P_U + Q_CA (1609.2 §5.3.2, protocol.md §4.3), with one ECDSA verification as the multiplier.

    ``g_minus_q`` is G - Q_CA. The textbook check computes Q_U = e·P_U by the ECDH trick (two ECDH and
    two fixed-base multiplications, ``ecqv.reconstruct_public``). Instead: with Y = G + d·G - Q_CA,
    r = x(Y) mod n and s = r·e⁻¹, the ECDSA verification of (r, s) on digest z = s under P_U computes
    u1 = z/s = 1, u2 = r/s = e and accepts exactly when x(G + e·P_U) ≡ r, i.e. G + e·P_U = ±Y. The
    + case is the check. The - case means d·G = Q_CA - 2G - e·P_U; since d = e·b + r_CA, reaching it
    needs the discrete logarithm of Q_CA, and a certificate whose P_U has the wrong y (-P_U) fails
    both cases (it would need 2G = 0 or e·P_U = 0). tests/unit/ee/test_pseudonyms.py holds it to
    ``ecqv.check_key_pair``.
    """
    if not 0 < d < P256_N or e % P256_N == 0:
        return False
    own = ec.derive_private_key(d, _P256).public_key().public_numbers()
    try:
        y = points.add((own.x, own.y), g_minus_q)
    except ValueError:
        return False  # d·G = Q_CA - G: the point at infinity, never a match
    r = y[0] % P256_N
    if r == 0:
        return False
    s = r * pow(e, -1, P256_N) % P256_N
    try:
        p_u.verify(encode_dss_signature(r, s), s.to_bytes(32, "big"), _ECDSA_SHA256)
    except _PycaInvalidSignature:
        return False
    return True


def _order(permission: Permission) -> tuple[int, bytes]:
    return permission[0], permission[1] or b""
