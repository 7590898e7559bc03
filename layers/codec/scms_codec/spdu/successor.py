"""EeRaSuccessorEnrollmentCertRequestSpdu, 1609.2.1 §6.3.5.4 (protocol.md §1.2 row 12, §3.4)."""

from __future__ import annotations

from dataclasses import dataclass

from ..cert.certificate import Certificate
from ..secured.cert_request import sign_cert_request
from ..secured.encrypted_data import encrypt
from ..secured.keyring import Keyring
from ..secured.recipients import Recipient
from ..secured.signed_data import Resolver
from ..secured.signer import Signer
from ._values import data_bytes, data_value
from ._wrap import decrypt_spdu, open_request
from .eca_ee import EeEcaCertRequest, parse_ee_eca_cert_request
from .opened import Opened
from .scms_pdu import ContentPath, encode_scms_pdu, request_hash

__all__ = ["SUCCESSOR_PATH", "SuccessorRequest", "build_successor_request", "parse_successor_request"]

SUCCESSOR_PATH: ContentPath = ("ee-ra", "eeRaSuccessorEnrollmentCertRequest")


@dataclass(frozen=True)
class SuccessorRequest:
    """The inner self-signed ``EeEcaCertRequestSpdu`` (as carried, for the ECA) and its opened content."""

    inner_spdu: bytes
    inner: Opened[EeEcaCertRequest]


def build_successor_request(inner_spdu: bytes, signer: Signer, recipient: Recipient) -> bytes:
    """Encrypted{SignedCertRequest{ScmsPdu{ee-ra: inner EeEcaCertRequestSpdu}, current enrollment cert}}.

    ``inner_spdu`` comes from ``build_ee_eca_cert_request`` signed with the new key
    (protocol.md §3.4 step 1); ``signer`` is the current enrollment certificate and key.
    """
    if signer.certificate is None:
        raise ValueError("signer: a successor request is signed by the current enrollment certificate")
    tbs_request = encode_scms_pdu(SUCCESSOR_PATH, data_value(inner_spdu))
    return encrypt(sign_cert_request(tbs_request, signer), recipient)


def parse_successor_request(
    data: bytes,
    keyring: Keyring,
    *,
    issuer: Certificate | None = None,
    resolve_signer: Resolver | None = None,
) -> Opened[SuccessorRequest]:
    """Open a successor request at the RA: decrypt, outer signature, inner self-signature (protocol.md §3.4).

    ``spdu_hash`` is the requestHash of the RA ack and of the ECA's response (protocol.md §3.4 step 3).
    """
    opened = decrypt_spdu(data, keyring, "EeRaSuccessorEnrollmentCertRequestSpdu")
    content, verified = open_request(
        opened.plaintext, SUCCESSOR_PATH, self_signed=False, issuer=issuer, resolve_signer=resolve_signer
    )
    inner_spdu = data_bytes(content)
    inner = parse_ee_eca_cert_request(inner_spdu)
    return Opened(SuccessorRequest(inner_spdu, inner), request_hash(data), verified.signer, opened.recipient_id)
