"""The wrappers every SPDU family shares: ScmsPdu in Unsecured, Signed{T, 35} and SignedCertRequest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol, Self, TypeVar

from ..asn1 import decode
from ..cert.certificate import Certificate
from ..errors import InvalidSignature, SpduShapeError
from ..secured.cert_request import SelfKey, VerifiedRequest, open_cert_request, requested_verification_key
from ..secured.encrypted_data import Decrypted, decrypt
from ..secured.keyring import Keyring
from ..secured.signed_data import Resolver, parse_signed_data, sign_data, verify_signed_data
from ..secured.signer import Signer
from ..secured.unsecured import unwrap_unsecured, wrap_unsecured
from .opened import Opened
from .scms_pdu import ContentPath, decode_scms_pdu, encode_scms_pdu, request_hash, require_path
from .shape import require_content

SECURITY_MGMT_PSID = 35
"""``SecurityMgmtPsid``: every 1609.2.1 Signed{T, psid} SPDU uses it (protocol.md §1.1)."""


class Content(Protocol):
    """A PDU dataclass: it knows its ScmsPdu path and its asn1tools value."""

    @property
    def PATH(self) -> ContentPath: ...

    def to_asn1(self) -> dict[str, Any]: ...


class Parsable(Protocol):
    """A PDU dataclass that can be made from its decoded asn1tools value."""

    PATH: ClassVar[ContentPath]

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> Self: ...


P = TypeVar("P", bound=Parsable)


def scms_pdu_bytes(content: Content) -> bytes:
    """COER ``ScmsPdu`` carrying ``content`` at its path."""
    return encode_scms_pdu(content.PATH, content.to_asn1())


def build_unsecured(content: Content) -> bytes:
    """``Ieee1609Dot2Data-Unsecured{ScmsPdu}`` (protocol.md §1.3)."""
    return wrap_unsecured(scms_pdu_bytes(content))


def open_unsecured(data: bytes, path: ContentPath) -> Any:
    """The content value of an ``Unsecured{ScmsPdu}`` at ``path`` (SpduShapeError otherwise)."""
    return decode_scms_pdu(unwrap_unsecured(data), path)


def parse_unsecured(data: bytes, cls: type[P]) -> Opened[P]:
    """``Unsecured{ScmsPdu}`` opened as ``cls`` (protocol.md §1.3), hashed as received (§4.1)."""
    return Opened(cls.from_asn1(open_unsecured(data, cls.PATH)), request_hash(data))


def build_signed(content: Content, signer: Signer) -> bytes:
    """``Ieee1609Dot2Data-Signed{ScmsPdu, 35}``, signer = one certificate (protocol.md §1.3)."""
    return sign_data(scms_pdu_bytes(content), SECURITY_MGMT_PSID, signer, signer_form="certificate")


def open_signed(
    data: bytes,
    path: ContentPath,
    *,
    issuer: Certificate | None = None,
    resolve_signer: Resolver | None = None,
    check: Callable[[Any], None] | None = None,
) -> tuple[Any, Certificate]:
    """Shape-check ``Signed{ScmsPdu, 35}``, decode the ScmsPdu at ``path``, verify; (content, signer).

    Parse errors come before signature errors (protocol.md §2.4 order), so ``check`` (a content
    rule that raises SpduShapeError) runs before verification. ``SignerSingleCert`` means a
    ``digest`` or ``self`` signer is a shape error here (protocol.md §1.3).
    """
    parts = parse_signed_data(data, expected_psid=SECURITY_MGMT_PSID)
    if parts.signer[0] != "certificate" or parts.certificate is None:
        raise SpduShapeError(f"signed SPDU: signer must be one certificate, got {parts.signer[0]}")
    content = decode_scms_pdu(parts.payload, path)
    if check is not None:
        check(content)
    verified = verify_signed_data(parts, issuer=issuer, resolve_signer=resolve_signer)
    assert verified.signer is not None  # A certificate signer always yields its certificate.
    return content, verified.signer


def parse_signed(
    data: bytes,
    cls: type[P],
    *,
    issuer: Certificate | None = None,
    resolve_signer: Resolver | None = None,
    check: Callable[[Any], None] | None = None,
) -> Opened[P]:
    """``Signed{ScmsPdu, 35}`` opened as ``cls`` by ``open_signed``, with its signer and hash as received."""
    content, signer = open_signed(data, cls.PATH, issuer=issuer, resolve_signer=resolve_signer, check=check)
    return Opened(cls.from_asn1(content), request_hash(data), signer)


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
    A wrong signer form or path is a shape error (400-42) even when the signature fails too,
    because parse errors come before signature errors (protocol.md §2.4).
    """
    try:
        verified = open_cert_request(data, self_key=self_key, issuer=issuer, resolve_signer=resolve_signer)
    except InvalidSignature:
        # Checked only on failure so that an accepted request is decoded once (performance.md).
        _check_request_shape(data, path, self_signed)
        raise
    _check_signer_form(verified.signer is None, self_signed)
    return decode_scms_pdu(verified.tbs_request, path), verified


def _check_signer_form(is_self: bool, self_signed: bool) -> None:
    if self_signed != is_self:
        wanted = "self" if self_signed else "one certificate"
        raise SpduShapeError(f"cert request SPDU: signer must be {wanted}")


def _check_request_shape(data: bytes, path: ContentPath, self_signed: bool) -> None:
    """SpduShapeError if a request that failed verification also has the wrong signer form or path."""
    request = decode("SignedCertificateRequest", require_content(data, "signedCertificateRequest", "cert request"))
    _check_signer_form(request["signer"][0] == "self", self_signed)
    require_path(request["tbsRequest"], path)


def decrypt_spdu(data: bytes, keyring: Keyring, spdu_name: str) -> Decrypted:
    """Decrypt an SPDU that must be ``encryptedData``: NotEncrypted (400-10) if it is not (protocol.md §2.4)."""
    require_content(data, "encryptedData", spdu_name)
    return decrypt(data, keyring)
