"""EeRaCertRequest(Spdu) and its AdditionalParams, 1609.2.1 §6.3.5.2 (protocol.md §1.2 row 4, §3.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from ..cert.certificate import Certificate
from ..crypto.keys import encryption_key_from_asn1, encryption_key_to_asn1
from ..errors import DecodeError
from ..secured.cert_request import sign_cert_request
from ..secured.encrypted_data import encrypt
from ..secured.keyring import Keyring
from ..secured.recipients import Recipient
from ..secured.signed_data import Resolver
from ..secured.signer import Signer
from ._wrap import decrypt_spdu, open_request, scms_pdu_bytes
from .eca_ee import CertificateType, tbs_cert_violations
from .opened import Opened
from .scms_pdu import SCMS_PDU_VERSION, ContentPath, request_hash

__all__ = [
    "AdditionalParams",
    "ButterflyCompactUnified",
    "ButterflyOriginal",
    "ButterflyUnified",
    "EeRaCertRequest",
    "ResponseEncryptionKey",
    "additional_params_from_asn1",
    "additional_params_to_asn1",
    "build_ee_ra_cert_request",
    "parse_ee_ra_cert_request",
]


def _expansion(key: bytes, name: str) -> tuple[str, bytes]:
    if not isinstance(key, bytes) or len(key) != 16:
        raise ValueError(f"{name}: a ButterflyExpansion aes128 key is 16 octets")
    return ("aes128", key)


def _expansion_key(value: tuple[str, bytes]) -> bytes:
    kind, key = value
    if kind != "aes128":  # Only reachable if a later ASN.1 revision adds an alternative.
        raise DecodeError(f"ButterflyExpansion {kind} is not supported")
    return key


@dataclass(frozen=True)
class ButterflyOriginal:
    """``original``: separate signing and encryption caterpillar keys (1609.2.1 §9.3, protocol.md §4.5)."""

    signing_expansion: bytes
    encryption_key: EllipticCurvePublicKey
    encryption_expansion: bytes


@dataclass(frozen=True)
class ButterflyUnified:
    """``unified``: one caterpillar key and expansion for signing and encryption (protocol.md §4.5)."""

    expansion: bytes


@dataclass(frozen=True)
class ButterflyCompactUnified:
    """``compactUnified``: unified, answered with unsigned Cubk responses (protocol.md §4.5)."""

    expansion: bytes


@dataclass(frozen=True)
class ResponseEncryptionKey:
    """``encryptionKey``: no butterfly, but encrypt the response to this key (protocol.md §3.3)."""

    key: EllipticCurvePublicKey


AdditionalParams = ButterflyOriginal | ButterflyUnified | ButterflyCompactUnified | ResponseEncryptionKey


def additional_params_to_asn1(params: AdditionalParams) -> tuple[str, Any]:
    """The ``AdditionalParams`` CHOICE value of ``params`` (protocol.md §3.3)."""
    if isinstance(params, ButterflyOriginal):
        return (
            "original",
            {
                "signingExpansion": _expansion(params.signing_expansion, "signing_expansion"),
                "encryptionKey": encryption_key_to_asn1(params.encryption_key),
                "encryptionExpansion": _expansion(params.encryption_expansion, "encryption_expansion"),
            },
        )
    if isinstance(params, ButterflyUnified):
        return ("unified", _expansion(params.expansion, "expansion"))
    if isinstance(params, ButterflyCompactUnified):
        return ("compactUnified", _expansion(params.expansion, "expansion"))
    if isinstance(params, ResponseEncryptionKey):
        return ("encryptionKey", encryption_key_to_asn1(params.key))
    raise TypeError(f"params: expected an AdditionalParams variant, got {type(params).__name__}")


def additional_params_from_asn1(value: tuple[str, Any]) -> AdditionalParams:
    """The typed variant of a decoded ``AdditionalParams`` (InvalidKey for a bad point)."""
    kind, inner = value
    if kind == "original":
        return ButterflyOriginal(
            _expansion_key(inner["signingExpansion"]),
            encryption_key_from_asn1(inner["encryptionKey"]),
            _expansion_key(inner["encryptionExpansion"]),
        )
    if kind == "unified":
        return ButterflyUnified(_expansion_key(inner))
    if kind == "compactUnified":
        return ButterflyCompactUnified(_expansion_key(inner))
    return ResponseEncryptionKey(encryption_key_from_asn1(inner))


@dataclass(frozen=True)
class EeRaCertRequest:
    """``EeRaCertRequest``: an EE asks the RA for authorization certificates (protocol.md §3.3)."""

    PATH: ClassVar[ContentPath] = ("ee-ra", "eeRaCertRequest")

    generation_time: int
    type: CertificateType
    tbs_cert: dict[str, Any]
    additional_params: AdditionalParams | None = None

    def to_asn1(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "version": SCMS_PDU_VERSION,
            "generationTime": self.generation_time,
            "type": self.type,
            "tbsCert": self.tbs_cert,
        }
        if self.additional_params is not None:
            value["additionalParams"] = additional_params_to_asn1(self.additional_params)
        return value

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> EeRaCertRequest:
        params = value.get("additionalParams")
        return cls(
            value["generationTime"],
            value["type"],
            value["tbsCert"],
            None if params is None else additional_params_from_asn1(params),
        )

    def violations(self) -> tuple[str, ...]:
        """Broken ``tbsCert`` constraints of ``EeRaCertRequest`` (1609.2.1 §6.3.5.2, protocol.md §3.3)."""
        return tbs_cert_violations(
            self.tbs_cert,
            present=("appPermissions",),
            absent=("certIssuePermissions", "certRequestPermissions"),
        )


def build_ee_ra_cert_request(content: EeRaCertRequest, signer: Signer, recipient: Recipient) -> bytes:
    """``EeRa1609Dot2AuthenticatedCertRequestSpdu``: Encrypted{SignedCertRequest{ScmsPdu, one cert}}.

    ``signer`` holds the enrollment certificate and key; ``recipient`` is usually
    ``CertRecipient(ra_certificate)`` (protocol.md §3.3, EE side).
    """
    if not isinstance(content, EeRaCertRequest):
        raise TypeError(f"content: expected EeRaCertRequest, got {type(content).__name__}")
    if signer.certificate is None:
        raise ValueError("signer: an EeRaCertRequestSpdu is signed by the enrollment certificate, not self")
    problems = content.violations()
    if problems:
        raise ValueError(f"content: tbs_cert breaks EeRaCertRequest constraints: {'; '.join(problems)}")
    return encrypt(sign_cert_request(scms_pdu_bytes(content), signer), recipient)


def parse_ee_ra_cert_request(
    data: bytes,
    keyring: Keyring,
    *,
    issuer: Certificate | None = None,
    resolve_signer: Resolver | None = None,
) -> Opened[EeRaCertRequest]:
    """Open an ``EeRaCertRequestSpdu`` at the RA (protocol.md §3.3, RA on receipt, step 1).

    NotEncrypted (400-10) if not encrypted, DecryptionError (400-41), DecodeError/SpduShapeError
    (400-42), InvalidSignature (400-43); ``issuer`` or ``resolve_signer`` supply the issuer of
    an implicit enrollment certificate. ``spdu_hash`` is the ack's requestHash (over ``data``).
    The X.509-authenticated form is refused as a shape error.
    """
    opened = decrypt_spdu(data, keyring, "EeRaCertRequestSpdu")
    content, verified = open_request(
        opened.plaintext, EeRaCertRequest.PATH, self_signed=False, issuer=issuer, resolve_signer=resolve_signer
    )
    return Opened(EeRaCertRequest.from_asn1(content), request_hash(data), verified.signer, opened.recipient_id)
