"""``scms-ee enroll``: build an EeEcaCertRequestSpdu, send it, and verify everything in the answer (protocol.md §3.2).

The request is signed with the canonical key and carries ``canonicalId``; the requested key is a
new enrollment key (explicit) or the ECQV request point R = k·G (implicit, protocol.md §4.3).
The answer is accepted only when its signature verifies, the signer is the first certificate of
``ecaCertChain``, the chain leads to the trusted root, ``requestHash`` is our request's HashedId8,
the certificate chains to the ECA, is of the requested type, and names our key (explicit) or
reconstructs to a private key whose d·G equals the relying-party key Q = e·P_U + Q_CA (implicit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec.cert.certificate import Certificate, verify_signature
from scms_codec.cert.chain import verify_chain
from scms_codec.crypto import ecqv, points
from scms_codec.crypto.keys import private_key_to_int, verification_key_to_asn1
from scms_codec.errors import ChainError, CodecError, InvalidKey, InvalidSignature
from scms_codec.secured.signed_data import parse_signed_data
from scms_codec.spdu.eca_ee import (
    CertificateType,
    EcaEeCertResponse,
    EeEcaCertRequest,
    build_ee_eca_cert_request,
    parse_eca_ee_cert_response,
)
from scms_codec.spdu.opened import Opened
from scms_codec.spdu.scms_pdu import decode_scms_pdu, request_hash
from scms_codec.time32 import duration_from_seconds

from .client import Client
from .register import Permission, default_permissions
from .state import DeviceState, canonical_id_of
from .trace import Trace, certificate_file

__all__ = [
    "ENROLLMENT_PATH",
    "Enrollment",
    "PreparedRequest",
    "RootSource",
    "VerificationFailed",
    "build_request",
    "chain_roles",
    "decode_unverified_response",
    "enroll",
    "verify_response",
]

ENROLLMENT_PATH = "/v3/enrollment-certificate"
RootSource = Literal["pinned", "stored", "trust-on-first-use"]
_YEAR = 31_556_952


class VerificationFailed(Exception):
    """Something the ECA sent does not verify; the message says what (exit code 1)."""


@dataclass(frozen=True)
class PreparedRequest:
    """A signed request and the secret that goes with it: the enrollment key (explicit) or k (implicit)."""

    spdu: bytes = field(repr=False)
    cert_type: CertificateType
    request_hash: bytes
    # Explicit: the new enrollment private key. Implicit: k_U as a key object (R = k_U·G).
    secret: ec.EllipticCurvePrivateKey = field(repr=False)


@dataclass(frozen=True)
class Enrollment:
    """A verified enrollment: the certificate, its private key, the ECA chain and the root that anchors it."""

    certificate: Certificate
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    chain: tuple[Certificate, ...]
    root: Certificate
    root_source: RootSource
    response: Opened[EcaEeCertResponse] = field(repr=False)


def _cert_request_permissions(permissions: list[Permission]) -> list[dict[str, Any]]:
    ranges: list[dict[str, Any]] = []
    for p in permissions:
        entry: dict[str, Any] = {"psid": p.psid}
        if p.ssp is not None:
            entry["sspRange"] = ("opaque", [p.ssp])
        ranges.append(entry)
    # minChainLength, chainLengthRange and eeType {app} are the DEFAULTs: COER omits them, and
    # writing them out would make the request non-canonical (strictly decoded at the ECA).
    return [{"subjectPermissions": ("explicit", ranges)}]


def build_request(
    canonical_key: ec.EllipticCurvePrivateKey,
    cert_type: CertificateType,
    permissions: list[Permission],
    *,
    now: int,
    validity_years: int,
    name: str | None = None,
) -> PreparedRequest:
    """The ``EeEcaCertRequestSpdu`` per protocol.md §3.2, signed with the canonical key (``signer self``)."""
    if cert_type not in ("explicit", "implicit"):
        raise ValueError(f"cert_type: expected explicit or implicit, got {cert_type!r}")
    if not permissions:
        raise ValueError("permissions: at least one PSID is needed")
    secret = ec.generate_private_key(ec.SECP256R1())
    tbs_cert: dict[str, Any] = {
        "id": ("none", None) if name is None else ("name", name),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": now, "duration": duration_from_seconds(validity_years * _YEAR)},
        "certRequestPermissions": _cert_request_permissions(permissions),
        # verificationKey even for implicit: there it is the ECQV request point R = k·G (protocol.md §3.2).
        "verifyKeyIndicator": ("verificationKey", verification_key_to_asn1(secret.public_key())),
    }
    content = EeEcaCertRequest(now, cert_type, tbs_cert, canonical_id_of(canonical_key.public_key()))
    spdu = build_ee_eca_cert_request(content, canonical_key)
    return PreparedRequest(spdu, cert_type, request_hash(spdu), secret)


def chain_roles(chain: tuple[Certificate, ...]) -> list[str]:
    """Trace roles of ``ecaCertChain`` (ECA … root): eca, ica (ica2, …), root when self-signed."""
    roles = []
    for index, cert in enumerate(chain):
        if index == 0:
            roles.append("eca")
        elif cert.is_self_signed:
            roles.append("root")
        else:
            roles.append("ica" if index == 1 else f"ica{index}")
    return roles


def _root_for(chain: tuple[Certificate, ...], trusted: Certificate | None, source: RootSource) -> Certificate:
    if trusted is not None:
        last = chain[-1]
        if last.is_self_signed and last.hashed_id8 != trusted.hashed_id8:
            raise VerificationFailed(
                f"ECA chain ends at root {last.hashed_id8.hex()}, not the {source} root {trusted.hashed_id8.hex()}"
            )
        return trusted
    root = chain[-1]
    if not root.is_self_signed:
        raise VerificationFailed(
            f"ECA chain ends at {root.hashed_id8.hex()}, which is not a self-signed root, and no root is trusted yet"
        )
    try:
        verify_signature(root, None)
    except (InvalidSignature, CodecError) as exc:
        raise VerificationFailed(f"root {root.hashed_id8.hex()}: self-signature does not verify") from exc
    return root


def _enrollment_key(
    prepared: PreparedRequest, cert: Certificate, eca: Certificate, r: bytes | None
) -> ec.EllipticCurvePrivateKey:
    if not cert.is_implicit:
        if r is not None:
            raise VerificationFailed("explicit certificate came with privateKeyInfo; expected none")
        if cert.public_key() != prepared.secret.public_key():
            raise VerificationFailed("explicit certificate's verification key is not the key we requested")
        return prepared.secret
    if r is None or len(r) != 32:
        raise VerificationFailed("implicit certificate came without a 32-octet privateKeyInfo (r)")
    try:
        e = ecqv.certificate_hash_e(cert.tbs_encoded, eca.encoded)
        d = ecqv.reconstruct_private(e, private_key_to_int(prepared.secret), int.from_bytes(r, "big"))
        # The relying-party key Q = e·P_U + Q_CA, exactly as a verifier of our signatures computes it.
        ecqv.check_key_pair(d, points.from_public_key(cert.public_key(eca)))
    except InvalidKey as exc:
        raise VerificationFailed(f"implicit key reconstruction failed: {exc}") from exc
    return ec.derive_private_key(d, ec.SECP256R1())


def verify_response(
    prepared: PreparedRequest,
    response: bytes,
    *,
    trusted_root: Certificate | None,
    root_source: RootSource = "stored",
    now: int,
) -> Enrollment:
    """Check everything in an ``EcaEeCertResponseSpdu`` (module docstring); ``VerificationFailed`` names the failure."""
    try:
        opened = parse_eca_ee_cert_response(response)
    except InvalidSignature as exc:
        raise VerificationFailed("response signature does not verify under its signer certificate") from exc
    except CodecError as exc:
        raise VerificationFailed(f"response is not a valid EcaEeCertResponseSpdu: {type(exc).__name__}: {exc}") from exc
    content = opened.content
    if content.request_hash != prepared.request_hash:
        raise VerificationFailed(
            f"requestHash {content.request_hash.hex()} is not our request's HashedId8 {prepared.request_hash.hex()}"
        )
    chain = content.eca_cert_chain
    if not chain:
        raise VerificationFailed("ecaCertChain is empty")
    eca = chain[0]
    if opened.signer is None or opened.signer.hashed_id8 != eca.hashed_id8:
        raise VerificationFailed("response is not signed by the first certificate of ecaCertChain (the ECA)")
    source: RootSource = "trust-on-first-use" if trusted_root is None else root_source
    root = _root_for(chain, trusted_root, source)
    cert = content.certificate
    try:
        verify_chain(eca, chain[1:], [root], at=now)
    except ChainError as exc:
        raise VerificationFailed(f"ECA certificate does not chain to root {root.hashed_id8.hex()}: {exc}") from exc
    if cert.issuer_id != eca.hashed_id8:
        raise VerificationFailed(f"enrollment certificate is not issued by the ECA {eca.hashed_id8.hex()}")
    try:
        verify_chain(cert, chain, [root], at=now)
    except ChainError as exc:
        raise VerificationFailed(f"enrollment certificate does not verify up to the root: {exc}") from exc
    if cert.is_implicit != (prepared.cert_type == "implicit"):
        got = "implicit" if cert.is_implicit else "explicit"
        raise VerificationFailed(f"asked for an {prepared.cert_type} certificate, got an {got} one")
    key = _enrollment_key(prepared, cert, eca, content.private_key_info)
    return Enrollment(cert, key, chain, root, source, opened)


def enroll(
    state: DeviceState,
    client: Client,
    trace: Trace,
    *,
    cert_type: CertificateType,
    pinned_root: Certificate | None,
    now: int,
    validity_years: int,
    say: Callable[[str], None],
) -> Enrollment:
    """The whole ``enroll`` command: request, POST, trace, verify, store (protocol.md §3.2).

    ``HttpError`` (refusal) and ``VerificationFailed`` leave the stored state as it was.
    """
    saved = state.load_json()
    permissions = [Permission.from_json(p) for p in saved.get("permissions", [])] or default_permissions([32])
    trusted = pinned_root if pinned_root is not None else state.trusted_root()
    source: RootSource = "pinned" if pinned_root is not None else "stored"
    prepared = build_request(state.canonical_key(), cert_type, permissions, now=now, validity_years=validity_years)
    trace.message("sent", "EeEcaCertRequestSpdu", prepared.spdu, signed_by=None, signer="self (canonical key)")
    response = client.post_spdu(ENROLLMENT_PATH, prepared.spdu)
    _trace_response(trace, response)
    result = verify_response(prepared, response, trusted_root=trusted, root_source=source, now=now)
    say(f"root {result.root.hashed_id8.hex()}: {_ROOT_NOTE[result.root_source]}")
    state.save_enrollment_key(result.private_key)
    state.save_enrollment(result.certificate, result.chain)
    state.save_root(result.root)
    start, end = result.certificate.validity
    state.update_json(
        enrollment={
            "type": cert_type,
            "hashed_id8": result.certificate.hashed_id8.hex(),
            "issuer": result.chain[0].hashed_id8.hex(),
            "validity": [start, end],
            "request_hash": prepared.request_hash.hex(),
            "chain": [c.hashed_id8.hex() for c in result.chain],
        },
        root={"hashed_id8": result.root.hashed_id8.hex(), "source": result.root_source},
    )
    return result


_ROOT_NOTE: dict[RootSource, str] = {
    "pinned": "pinned with --root",
    "stored": "trusted since an earlier enrollment (state directory)",
    "trust-on-first-use": "trusted on first use (taken from the response's ecaCertChain)",
}


def _trace_response(trace: Trace, response: bytes) -> None:
    """Trace the response and its certificates before verifying, so that a failure can be inspected."""
    if not trace.enabled:
        return
    try:
        # Signature left unchecked here on purpose: verify_response does that and says why it fails.
        content = decode_unverified_response(response)
    except CodecError:
        trace.message("received", "EcaEeCertResponseSpdu", response, signed_by=None, signer="unparseable")
        return
    chain = content.eca_cert_chain
    files: dict[bytes, str | None] = {}
    roles = chain_roles(chain)
    for cert, role in reversed(list(zip(chain, roles, strict=True))):
        issuer = cert.issuer_id
        issued_by = certificate_file(role, cert) if issuer is None else files.get(issuer)
        files[cert.hashed_id8] = trace.certificate(role, cert, issued_by=issued_by)
    eca_file = files.get(chain[0].hashed_id8) if chain else None
    trace.message("received", "EcaEeCertResponseSpdu", response, signed_by=eca_file)
    cert = content.certificate
    trace.certificate("enrollment", cert, issued_by=files.get(cert.issuer_id or b""))


def decode_unverified_response(response: bytes) -> EcaEeCertResponse:
    """The content of an ``EcaEeCertResponseSpdu`` without checking its signature (for the trace only)."""
    parts = parse_signed_data(response, expected_psid=35)
    return EcaEeCertResponse.from_asn1(decode_scms_pdu(parts.payload, EcaEeCertResponse.PATH))
