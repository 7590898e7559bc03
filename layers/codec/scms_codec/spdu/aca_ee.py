"""AcaEeCertResponse and its Plain/Private/Cubk SPDUs, 1609.2.1 §6.3.5 (protocol.md §1.2 row 9, §4.5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from cryptography.hazmat.primitives.asymmetric import ec

from ..cert.certificate import Certificate
from ..errors import InvalidSignature, SpduShapeError
from ..secured.encrypted_data import encrypt
from ..secured.keyring import Keyring
from ..secured.recipients import RekRecipient
from ..secured.signed_data import Resolver, parse_signed_data, sign_data, verify_signed_data
from ..secured.signer import Signer
from ..secured.unsecured import unwrap_unsecured, wrap_unsecured
from ._wrap import SECURITY_MGMT_PSID, build_unsecured, decrypt_spdu, open_unsecured, scms_pdu_bytes
from .eca_ee import private_key_info_problem
from .opened import Opened
from .ra_aca import AcaResponseKind
from .scms_pdu import SCMS_PDU_VERSION, ContentPath, decode_scms_pdu, request_hash
from .shape import outer_content

__all__ = ["AcaEeCertResponse", "build_aca_ee_cert_response", "parse_aca_ee_cert_response"]

# The outer content alternative of each response form (protocol.md §1.2 row 9).
_FORM: dict[str, AcaResponseKind] = {"unsecuredData": "plain", "signedData": "private", "encryptedData": "cubk"}


@dataclass(frozen=True)
class AcaEeCertResponse:
    """``AcaEeCertResponse``: one authorization certificate and its c or r (protocol.md §4.5)."""

    PATH: ClassVar[ContentPath] = ("aca-ee", "acaEeCertResponse")

    generation_time: int
    certificate: Certificate
    private_key_info: bytes | None = None

    def to_asn1(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "version": SCMS_PDU_VERSION,
            "generationTime": self.generation_time,
            "certificate": self.certificate.value,
        }
        if self.private_key_info is not None:
            value["privateKeyInfo"] = self.private_key_info
        return value

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> AcaEeCertResponse:
        return cls(value["generationTime"], Certificate.from_value(value["certificate"]), value.get("privateKeyInfo"))


def _encrypted(content: AcaEeCertResponse, key: ec.EllipticCurvePublicKey) -> bytes:
    # Encrypted{T} wraps a T that is not an Ieee1609Dot2Data in unsecuredData first (protocol.md §1.3);
    # the key came in the request, so rekRecipInfo with P1 = SHA-256("") (protocol.md §4.4, Uncertain 7).
    return encrypt(wrap_unsecured(scms_pdu_bytes(content)), RekRecipient(key))


def build_aca_ee_cert_response(
    content: AcaEeCertResponse,
    kind: AcaResponseKind,
    *,
    encryption_key: ec.EllipticCurvePublicKey | None = None,
    signer: Signer | None = None,
) -> bytes:
    """``AcaEeCertResponse{Plain,Private,Cubk}Spdu`` (protocol.md §3.3 table, §4.5).

    plain: Unsecured{ScmsPdu}. private: Signed{Unsecured(Encrypted{ScmsPdu}), 35}, encrypted to
    ``encryption_key`` (certEncKey) and signed by ``signer``, the ACA that issued the certificate.
    cubk: Encrypted{ScmsPdu} to ``encryption_key`` (the key derived from the cocoon key), unsigned.
    """
    if not isinstance(content, AcaEeCertResponse):
        raise TypeError(f"content: expected AcaEeCertResponse, got {type(content).__name__}")
    if kind not in ("plain", "private", "cubk"):
        raise ValueError(f"kind: expected 'plain', 'private' or 'cubk', got {kind!r}")
    problem = _private_key_info_problem(content)
    if problem is not None:
        raise ValueError(f"content: {problem}")
    if kind == "plain":
        return build_unsecured(content)
    if encryption_key is None:
        raise ValueError(f"encryption_key: a {kind} response is encrypted")
    if kind == "cubk":
        return _encrypted(content, encryption_key)
    if signer is None or signer.certificate is None:
        raise ValueError("signer: a private response is signed by the issuing ACA certificate")
    if content.certificate.issuer_id != signer.certificate.hashed_id8:
        raise ValueError("signer: must be the ACA certificate that issued content.certificate")
    return sign_data(_encrypted(content, encryption_key), SECURITY_MGMT_PSID, signer, signer_form="certificate")


def _private_key_info_problem(content: AcaEeCertResponse) -> str | None:
    # Explicit certificates carry privateKeyInfo exactly when butterfly keys were used, which
    # only the requester knows; an implicit one always needs it (AcaEeInterface comments).
    return private_key_info_problem(content.certificate, content.private_key_info, butterfly_allowed=True)


def _checked(content: AcaEeCertResponse) -> AcaEeCertResponse:
    problem = _private_key_info_problem(content)
    if problem is not None:
        raise SpduShapeError(f"AcaEeCertResponse: {problem}")
    return content


def _decrypt_response(encrypted: bytes, keyring: Keyring) -> tuple[AcaEeCertResponse, bytes]:
    opened = decrypt_spdu(encrypted, keyring, "AcaEeCertResponseSpdu")
    pdu = decode_scms_pdu(unwrap_unsecured(opened.plaintext), AcaEeCertResponse.PATH)
    return _checked(AcaEeCertResponse.from_asn1(pdu)), opened.recipient_id


def parse_aca_ee_cert_response(
    data: bytes,
    expected: AcaResponseKind,
    *,
    keyring: Keyring | None = None,
    issuer: Certificate | None = None,
    resolve_signer: Resolver | None = None,
) -> Opened[AcaEeCertResponse]:
    """Open one ``<i>_<j>`` file at the EE in the form it asked for (protocol.md §3.3 "EE after download").

    ``keyring`` holds the response decryption key (private, cubk). A private response must be
    signed (PSID 35, one certificate) by the ACA certificate that issued the inner certificate,
    else InvalidSignature; a cubk one is unsigned, and its trust comes from the key check and
    ``usesCubk`` on the ACA certificate (both the caller's).
    """
    kind, _ = outer_content(data)
    found = _FORM.get(kind)
    if found != expected:
        raise SpduShapeError(f"AcaEeCertResponse{expected.capitalize()}Spdu: got {kind}")
    if expected == "plain":
        content = _checked(AcaEeCertResponse.from_asn1(open_unsecured(data, AcaEeCertResponse.PATH)))
        return Opened(content, request_hash(data))
    if keyring is None:
        raise ValueError(f"keyring: a {expected} response is encrypted")
    if expected == "cubk":
        content, recipient_id = _decrypt_response(data, keyring)
        return Opened(content, request_hash(data), None, recipient_id)
    parts = parse_signed_data(data, expected_psid=SECURITY_MGMT_PSID)
    if parts.signer[0] != "certificate" or parts.certificate is None:
        raise SpduShapeError(f"AcaEeCertResponsePrivateSpdu: signer must be one certificate, got {parts.signer[0]}")
    content, recipient_id = _decrypt_response(parts.payload, keyring)
    verified = verify_signed_data(parts, issuer=issuer, resolve_signer=resolve_signer)
    if content.certificate.issuer_id != parts.certificate.hashed_id8:
        raise InvalidSignature("AcaEeCertResponsePrivateSpdu: signed by another ACA than the certificate's issuer")
    return Opened(content, request_hash(data), verified.signer, recipient_id)
