"""scms-ee's download helpers: the signed, encrypted request, its header, and opening a batch (protocol.md §3.3)."""

from __future__ import annotations

import base64

import pytest
from scms_ee.download import authorization_header, download_request, open_period_zip
from scms_ee.enroll import VerificationFailed
from scms_ra.batch_files import batch_filename, period_zip

from scms_codec.errors import DecryptionError
from scms_codec.spdu.download import parse_ee_ra_download_request
from scms_codec.spdu.ra_ee_ack import RaEeCertInfo
from tests.unit.eca.ee import NOW
from tests.unit.ra.test_download import _ra, enrollment_signer

HASH = bytes.fromhex("ab09281c9867de53")


def test_request_is_signed_by_the_enrollment_certificate_and_opens_only_at_its_ra() -> None:
    ra_cert, keyring = _ra()
    other_cert, _ = _ra()
    signer = enrollment_signer()
    name = batch_filename(HASH, 3)
    spdu = download_request(name, enrollment=signer, ra_certificate=ra_cert, generation_time=NOW)
    opened = parse_ee_ra_download_request(spdu, keyring)
    assert opened.content.filename == name
    assert opened.content.generation_time == NOW
    assert opened.signer == signer.certificate
    other = download_request(name, enrollment=signer, ra_certificate=other_cert, generation_time=NOW)
    with pytest.raises(DecryptionError):
        parse_ee_ra_download_request(other, keyring)


def test_header_is_padded_standard_base64_of_the_spdu() -> None:
    header = authorization_header(b"\xfb\xff\x00")
    assert header == {"Ieee-1609.2.1-Authorization": "+/8A"}
    assert base64.b64decode(authorization_header(b"\x01")["Ieee-1609.2.1-Authorization"], validate=True) == b"\x01"
    assert authorization_header(b"\x01")["Ieee-1609.2.1-Authorization"].endswith("==")


def _batch(i: int = 3, request_hash: bytes = HASH, responses: dict[int, bytes] | None = None) -> bytes:
    info = RaEeCertInfo(NOW, i, request_hash, NOW + 600)
    return period_zip(request_hash, i, {0: b"a", 1: b"b"} if responses is None else responses, info)


def test_open_period_zip_returns_the_info_and_responses_by_j() -> None:
    batch = open_period_zip(_batch(), request_hash=HASH, i=3)
    assert batch.info.next_dl_time == NOW + 600
    assert dict(batch.responses) == {0: b"a", 1: b"b"}


def test_open_period_zip_refuses_a_batch_of_another_request_or_period() -> None:
    with pytest.raises(VerificationFailed, match="another batch"):
        open_period_zip(_batch(request_hash=bytes(8)), request_hash=HASH, i=3)
    with pytest.raises(VerificationFailed, match="another batch"):
        open_period_zip(_batch(i=4), request_hash=HASH, i=3)


def test_open_period_zip_refuses_a_batch_without_certificates_or_not_a_zip() -> None:
    with pytest.raises(VerificationFailed, match="no certificate"):
        open_period_zip(_batch(responses={}), request_hash=HASH, i=3)
    with pytest.raises(VerificationFailed, match="zip"):
        open_period_zip(b"not a zip", request_hash=HASH, i=3)
