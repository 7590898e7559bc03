"""The wrappers every SPDU family shares: ScmsPdu in Unsecured, Signed{T, 35} and SignedCertRequest."""

from __future__ import annotations

from typing import Any, Protocol

from ..cert.certificate import Certificate
from ..errors import SpduShapeError
from ..secured.cert_request import SelfKey, VerifiedRequest, open_cert_request, requested_verification_key
from ..secured.encrypted_data import Decrypted, decrypt
from ..secured.keyring import Keyring
from ..secured.signed_data import Resolver, parse_signed_data, sign_data, verify_signed_data
from ..secured.signer import Signer
from ..secured.unsecured import unwrap_unsecured, wrap_unsecured
from .scms_pdu import ContentPath, decode_scms_pdu, encode_scms_pdu
from .shape import require_content

SECURITY_MGMT_PSID = 35
"""``SecurityMgmtPsid``: every 1609.2.1 Signed{T, psid} SPDU uses it (protocol.md §1.1)."""


class Content(Protocol):
    """A PDU dataclass: it knows its ScmsPdu path and its asn1tools value."""

    @property
    def PATH(self) -> ContentPath: ...

    def to_asn1(self) -> dict[str, Any]: ...


def scms_pdu_bytes(content: Content) -> bytes:
    """COER ``ScmsPdu`` carrying ``content`` at its path."""
    return encode_scms_pdu(content.PATH, content.to_asn1())


def build_unsecured(content: Content) -> bytes:
    """``Ieee1609Dot2Data-Unsecured{ScmsPdu}`` (protocol.md §1.3)."""
    return wrap_unsecured(scms_pdu_bytes(content))


def open_unsecured(data: bytes, path: ContentPath) -> Any:
    """The content value of an ``Unsecured{ScmsPdu}`` at ``path`` (SpduShapeError otherwise)."""
    return decode_scms_pdu(unwrap_unsecured(data), path)


def build_signed(content: Content, signer: Signer) -> bytes:
    """``Ieee1609Dot2Data-Signed{ScmsPdu, 35}``, signer = one certificate (protocol.md §1.3)."""
    return sign_data(scms_pdu_bytes(content), SECURITY_MGMT_PSID, signer, signer_form="certificate")


def open_signed(
    data: bytes,
    path: ContentPath,
    *,
    issuer: Certificate | None = None,
    resolve_signer: Resolver | None = None,
) -> tuple[Any, Certificate]:
    """Shape-check ``Signed{ScmsPdu, 35}``, decode the ScmsPdu at ``path``, verify; (content, signer).

    Parse errors come before signature errors (protocol.md §2.4 order). ``SignerSingleCert``
    means a ``digest`` or ``self`` signer is a shape error here (protocol.md §1.3).
    """
    parts = parse_signed_data(data, expected_psid=SECURITY_MGMT_PSID)
    if parts.signer[0] != "certificate" or parts.certificate is None:
        raise SpduShapeError(f"signed SPDU: signer must be one certificate, got {parts.signer[0]}")
    content = decode_scms_pdu(parts.payload, path)
    verified = verify_signed_data(parts, issuer=issuer, resolve_signer=resolve_signer)
    assert verified.signer is not None  # A certificate signer always yields its certificate.
    return content, verified.signer


def open_request(
    data: bytes,
    path: ContentPath,
    *,
    self_signed: bool,
    self_key: SelfKey = requested_verification_key,
    issuer: Certificate | None = None,
    resolve_signer: Resolver | None = None,
) -> tuple[Any, VerifiedRequest]:
    """Verify a SignedCertificateRequest whose ScmsPdu sits at ``path`` and whose signer form is fixed.

    ``self_signed`` selects ``SignerSelf`` (True) or ``SignerSingleCert`` (False), protocol.md §1.3.
    """
    verified = open_cert_request(data, self_key=self_key, issuer=issuer, resolve_signer=resolve_signer)
    if self_signed != (verified.signer is None):
        wanted = "self" if self_signed else "one certificate"
        raise SpduShapeError(f"cert request SPDU: signer must be {wanted}")
    return decode_scms_pdu(verified.tbs_request, path), verified


def decrypt_spdu(data: bytes, keyring: Keyring, spdu_name: str) -> Decrypted:
    """Decrypt an SPDU that must be ``encryptedData``: NotEncrypted (400-10) if it is not (protocol.md §2.4)."""
    require_content(data, "encryptedData", spdu_name)
    return decrypt(data, keyring)
