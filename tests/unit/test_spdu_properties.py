"""Property tests: generated SPDU contents survive build → strict decode → parse unchanged (issue #3 §6)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scms_codec import asn1
from scms_codec.errors import CodecError
from scms_codec.secured.recipients import CertRecipient
from scms_codec.spdu.download import (
    EeRaDownloadRequest,
    build_ee_ra_download_request,
    build_ee_ra_download_request_plain,
    parse_ee_ra_download_request,
    parse_ee_ra_download_request_plain,
)
from scms_codec.spdu.ra_ee_ack import (
    RaEeCertAck,
    RaEeCertInfo,
    build_ra_ee_cert_ack,
    build_ra_ee_cert_info,
    parse_ra_ee_cert_ack,
    parse_ra_ee_cert_info,
)
from scms_codec.spdu.scms_pdu import request_hash
from tests.support.pki import Pki, build_pki, cert, issue

TIME32 = st.integers(0, 2**32 - 1)
HASHED_ID8 = st.binary(min_size=8, max_size=8)
I_VALUE = st.integers(0, 2**16 - 1)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def pki() -> Pki:
    return build_pki()


def _canonical(spdu: bytes) -> None:
    assert asn1.encode("Ieee1609Dot2Data", asn1.decode("Ieee1609Dot2Data", spdu)) == spdu


@SETTINGS
@given(TIME32, HASHED_ID8, TIME32, st.none() | I_VALUE)
def test_ra_ee_cert_ack_round_trips(pki: Pki, gen: int, rhash: bytes, next_dl: int, first_i: int | None) -> None:
    content = RaEeCertAck(gen, rhash, next_dl, first_i)
    spdu = build_ra_ee_cert_ack(content, pki.ra)
    _canonical(spdu)
    opened = parse_ra_ee_cert_ack(spdu, issuer=cert(pki.ica))
    assert opened.content == content
    assert opened.spdu_hash == request_hash(spdu)


@SETTINGS
@given(TIME32, I_VALUE, HASHED_ID8, TIME32)
def test_ra_ee_cert_info_round_trips(gen: int, current_i: int, rhash: bytes, next_dl: int) -> None:
    content = RaEeCertInfo(gen, current_i, rhash, next_dl)
    spdu = build_ra_ee_cert_info(content)
    _canonical(spdu)
    assert parse_ra_ee_cert_info(spdu).content == content


@SETTINGS
@given(TIME32, st.text(max_size=80))
def test_download_request_round_trips_plain_and_encrypted(pki: Pki, gen: int, filename: str) -> None:
    content = EeRaDownloadRequest(gen, filename)
    plain = build_ee_ra_download_request_plain(content)
    _canonical(plain)
    assert parse_ee_ra_download_request_plain(plain).content == content
    ee = issue("ee", pki.ica)
    secret = build_ee_ra_download_request(content, ee, CertRecipient(cert(pki.ra)))
    _canonical(secret)
    assert parse_ee_ra_download_request(secret, pki.ra_keyring, issuer=cert(pki.ica)).content == content


@SETTINGS
@given(TIME32, HASHED_ID8, TIME32, st.data())
def test_mutated_ack_raises_only_codec_errors(
    pki: Pki, gen: int, rhash: bytes, next_dl: int, data: st.DataObject
) -> None:
    spdu = build_ra_ee_cert_ack(RaEeCertAck(gen, rhash, next_dl, 1), pki.ra)
    index = data.draw(st.integers(0, len(spdu) - 1))
    mutated = spdu[:index] + bytes([spdu[index] ^ data.draw(st.integers(1, 255))]) + spdu[index + 1 :]
    try:
        opened = parse_ra_ee_cert_ack(mutated, issuer=cert(pki.ica))
    except CodecError:
        return
    # Only a change of non-canonical form (the rSig alternative) can still verify, and then nothing changed.
    assert opened.content == RaEeCertAck(gen, rhash, next_dl, 1)


def test_ack_signed_by_an_unrelated_key_is_refused(pki: Pki) -> None:
    # Failing twin of the round trip: the same content signed by a key the chain does not name.
    from scms_codec.secured.signer import Signer

    forged = Signer(ec.generate_private_key(ec.SECP256R1()), cert(pki.ra))
    spdu = build_ra_ee_cert_ack(RaEeCertAck(1, b"\x00" * 8, 2, 3), forged)
    with pytest.raises(CodecError):
        parse_ra_ee_cert_ack(spdu, issuer=cert(pki.ica))
