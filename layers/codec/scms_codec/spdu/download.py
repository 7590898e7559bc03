"""EeRaDownloadRequest(Plain)Spdu, 1609.2.1 §6.3.5.3 (protocol.md §1.2 row 11, §3.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..cert.certificate import Certificate
from ..secured.encrypted_data import encrypt
from ..secured.keyring import Keyring
from ..secured.recipients import Recipient
from ..secured.signed_data import Resolver
from ..secured.signer import Signer
from ._wrap import (
    build_signed,
    build_unsecured,
    decrypt_spdu,
    open_signed,
    parse_unsecured,
)
from .opened import Opened
from .scms_pdu import ContentPath, request_hash

__all__ = [
    "EeRaDownloadRequest",
    "build_ee_ra_download_request",
    "build_ee_ra_download_request_plain",
    "parse_ee_ra_download_request",
    "parse_ee_ra_download_request_plain",
]


@dataclass(frozen=True)
class EeRaDownloadRequest:
    """``EeRaDownloadRequest``: which file the EE wants (it has no version field) (protocol.md §3.3)."""

    PATH: ClassVar[ContentPath] = ("ee-ra", "eeRaDownloadRequest")

    generation_time: int
    filename: str

    def to_asn1(self) -> dict[str, Any]:
        return {"generationTime": self.generation_time, "filename": self.filename}

    @classmethod
    def from_asn1(cls, value: dict[str, Any]) -> EeRaDownloadRequest:
        return cls(value["generationTime"], value["filename"])


def build_ee_ra_download_request(content: EeRaDownloadRequest, signer: Signer, recipient: Recipient) -> bytes:
    """``EeRaDownloadRequestSpdu``: Encrypted{Signed{ScmsPdu, 35}} by the enrollment cert (protocol.md §3.3)."""
    if not isinstance(content, EeRaDownloadRequest):
        raise TypeError(f"content: expected EeRaDownloadRequest, got {type(content).__name__}")
    return encrypt(build_signed(content, signer), recipient)


def parse_ee_ra_download_request(
    data: bytes,
    keyring: Keyring,
    *,
    issuer: Certificate | None = None,
    resolve_signer: Resolver | None = None,
) -> Opened[EeRaDownloadRequest]:
    """Open an ``EeRaDownloadRequestSpdu`` at the RA: decrypt (400-10/41), shape, signature (protocol.md §3.3).

    The RA then checks that ``signer`` is the enrollment certificate of the original request.
    """
    opened = decrypt_spdu(data, keyring, "EeRaDownloadRequestSpdu")
    content, signer = open_signed(
        opened.plaintext, EeRaDownloadRequest.PATH, issuer=issuer, resolve_signer=resolve_signer
    )
    return Opened(EeRaDownloadRequest.from_asn1(content), request_hash(data), signer, opened.recipient_id)


def build_ee_ra_download_request_plain(content: EeRaDownloadRequest) -> bytes:
    """``EeRaDownloadRequestPlainSpdu``: Unsecured{ScmsPdu} (protocol.md §1.2 row 11)."""
    if not isinstance(content, EeRaDownloadRequest):
        raise TypeError(f"content: expected EeRaDownloadRequest, got {type(content).__name__}")
    return build_unsecured(content)


def parse_ee_ra_download_request_plain(data: bytes) -> Opened[EeRaDownloadRequest]:
    """Open an ``EeRaDownloadRequestPlainSpdu`` (protocol.md §1.2 row 11)."""
    return parse_unsecured(data, EeRaDownloadRequest)


