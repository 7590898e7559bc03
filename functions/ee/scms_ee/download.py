"""The device side of an authorization-certificate download (6.3.5.3, 8.2; protocol.md §2.3, §3.3).

``download_request`` builds the ``EeRaDownloadRequestSpdu`` (signed with the enrollment key and
certificate under PSID 35, encrypted to the RA certificate), ``authorization_header`` its
``Ieee-1609.2.1-Authorization`` value (RFC 4648 base64 with padding), and ``open_period_zip``
reads a downloaded batch with the RA's own layout rules and checks that its ``.info`` names the
request and the i-period asked for. Decrypting and verifying each certificate comes with
``scms-ee provision`` (next session).
"""

from __future__ import annotations

import base64

from scms_ra.batch_files import BadPeriodZip, BatchName, PeriodZip, batch_filename, read_period_zip

from scms_codec.cert.certificate import Certificate
from scms_codec.secured.recipients import CertRecipient
from scms_codec.secured.signer import Signer
from scms_codec.spdu.download import EeRaDownloadRequest, build_ee_ra_download_request

from .enroll import VerificationFailed

__all__ = ["AUTHORIZATION_PATH", "authorization_header", "download_request", "open_period_zip"]

AUTHORIZATION_PATH = "/v3/authorization-certificate"


def download_request(filename: str, *, enrollment: Signer, ra_certificate: Certificate, generation_time: int) -> bytes:
    """``EeRaDownloadRequestSpdu`` for ``filename``: Encrypted{Signed{…, 35} by the enrollment certificate}."""
    if enrollment.certificate is None:
        raise ValueError("enrollment: the download request is signed with the enrollment certificate")
    content = EeRaDownloadRequest(generation_time=generation_time, filename=filename)
    return build_ee_ra_download_request(content, enrollment, CertRecipient(ra_certificate))


def authorization_header(spdu: bytes) -> dict[str, str]:
    """The ``Ieee-1609.2.1-Authorization`` header carrying ``spdu`` (standard base64, padded)."""
    return {"Ieee-1609.2.1-Authorization": base64.b64encode(spdu).decode("ascii")}


def open_period_zip(data: bytes, *, request_hash: bytes, i: int) -> PeriodZip:
    """A downloaded batch i of ``request_hash``: layout checked, ``.info`` for this request and period.

    ``VerificationFailed`` names the first broken rule (the CLI's exit code 1).
    """
    expected = BatchName(request_hash, i)
    try:
        batch = read_period_zip(data, expected=expected)
    except BadPeriodZip as exc:
        raise VerificationFailed(f"{batch_filename(request_hash, i)}: {exc}") from None
    if not batch.responses:
        raise VerificationFailed(f"{expected.filename}: no certificate in the batch")
    return batch
