"""The trust download use cases with in-memory stores: CRL, composite CRL, CTL zip, RA/MA certificate, info status."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import pytest
from scms_ra import ccf, composite_crl, crl_download, ctl_download, info_status, role_certificate
from scms_ra.trust import CorruptTrustData
from scms_service.config import load_settings
from scms_service.ctl_issue import SetQuorum, issue_next_ctl
from scms_service.errors import BadRequest, NotFound
from scms_service.stores.signed_files import InMemorySignedFileStore

from scms_codec import time32
from scms_codec.cert.chain import verify_chain
from scms_codec.errors import ErrorCode, InvalidSignature
from scms_codec.secured.signer import Signer
from scms_codec.spdu.cert_management import parse_composite_crl_spdu, parse_info_status_spdu
from scms_codec.spdu.crl import parse_secured_crl
from scms_codec.spdu.ctl import parse_multi_signed_ctl_spdu
from tests.unit.ra.trust_world import NOW, TrustWorld, trust_world

OCTETS = {"Accept": "application/octet-stream"}


@pytest.fixture
def world() -> TrustWorld:
    return trust_world()


def _refused_42(call: object) -> None:
    assert callable(call)
    with pytest.raises(BadRequest) as caught:
        call()
    assert caught.value.code is ErrorCode.FAILED_PARSING


# --- GET /v3/crl ----------------------------------------------------------------------------------


def test_crl_is_the_latest_of_the_series_as_stored_and_verifies_under_the_crlg(world: TrustWorld) -> None:
    world.publish_crl(2, 1)
    newest = world.publish_crl(2, 2, issue_date=NOW + 100, hashed=(b"\x01" * 10,))

    found = crl_download.crl_file(world.crls, world.artifacts, world.series.hex(), "2")

    assert found.body == newest
    assert found.filename == f"crl_{world.series.hex()}_2_2.oer"
    assert found.last_modified == time32.to_unix(NOW + 100)
    contents = parse_secured_crl(found.body, issuer=world.hierarchy.certificate("ica")).content
    assert (contents.crl_series, contents.crl_craca) == (2, world.series)


def test_crl_signed_by_another_key_does_not_verify(world: TrustWorld) -> None:
    # Twin: the served CRL verifies because the CRL generator signed it; the RA's signature would not be it.
    world.publish_crl(2, 1)
    body = crl_download.crl_file(world.crls, world.artifacts, world.series.hex(), "2").body
    tampered = body[:-1] + bytes([body[-1] ^ 1])
    with pytest.raises(InvalidSignature):
        parse_secured_crl(tampered, issuer=world.hierarchy.certificate("ica"))


def test_crl_serial_is_hex_in_the_name(world: TrustWorld) -> None:
    world.publish_crl(1, 26)
    assert crl_download.crl_file(world.crls, world.artifacts, world.series.hex().upper(), "1").filename.endswith(
        "_1_1a.oer"
    )


def test_crl_of_an_unknown_series_or_craca_is_404(world: TrustWorld) -> None:
    world.publish_crl(2, 1)
    with pytest.raises(NotFound):
        crl_download.crl_file(world.crls, world.artifacts, world.series.hex(), "3")
    with pytest.raises(NotFound):
        crl_download.crl_file(world.crls, world.artifacts, "00" * 8, "2")


@pytest.mark.parametrize(
    ("craca", "series"),
    [(None, "2"), ("", "2"), ("0" * 15, "2"), ("g" * 16, "2"), ("0" * 16, None), ("0" * 16, ""), ("0" * 16, "-1"),
     ("0" * 16, "65536"), ("0" * 16, "1.0"), ("0" * 16, " 1"), ("0" * 16, "0x1"), ("0" * 16, "9" * 30)],
)  # fmt: skip
def test_malformed_crl_parameters_are_400_42(world: TrustWorld, craca: str | None, series: str | None) -> None:
    _refused_42(lambda: crl_download.crl_file(world.crls, world.artifacts, craca, series))


def test_a_recorded_crl_whose_object_is_missing_is_corrupt_data(world: TrustWorld) -> None:
    world.publish_crl(2, 1)
    world.artifacts.objects.pop(f"crl/{world.series.hex()}_2_1.oer")
    with pytest.raises(CorruptTrustData):
        crl_download.crl_file(world.crls, world.artifacts, world.series.hex(), "2")


# --- GET /v3/composite-crl-ctl ----------------------------------------------------------------------


def test_composite_crl_holds_every_latest_crl_and_the_newest_ctl(world: TrustWorld) -> None:
    world.publish_crl(1, 1)
    hash_crl = world.publish_crl(2, 1)
    linked = world.publish_crl(1, 2, issue_date=NOW + 50)

    found = composite_crl.composite_crl_file(world.store, world.crls, world.artifacts, world.series.hex())

    content = parse_composite_crl_spdu(found.body).content
    assert content.crls == (linked, hash_crl)  # by series
    assert content.home_ctl == world.store.ctls(world.series)[-1].spdu
    assert found.filename == "composite-crl_6.oer"  # CTL #1 + (2 + 1) + (1 + 1)
    assert found.last_modified == time32.to_unix(NOW + 50)


def test_composite_crl_version_rises_with_a_new_crl_and_a_new_ctl(world: TrustWorld) -> None:
    def version() -> str:
        return composite_crl.composite_crl_file(world.store, world.crls, world.artifacts, world.series.hex()).filename

    names = [version()]
    world.publish_crl(2, 0)  # a first CRL of serial 0 still counts
    names.append(version())
    world.publish_crl(2, 1)
    names.append(version())
    issue_next_ctl(SetQuorum(1), world.store, world.vault, world.artifacts, now=NOW + 10)
    names.append(version())
    assert names == ["composite-crl_1.oer", "composite-crl_2.oer", "composite-crl_3.oer", "composite-crl_4.oer"]
    # Twin: nothing changed, the same version.
    assert version() == names[-1]


def test_composite_crl_without_crls_carries_the_ctl_only(world: TrustWorld) -> None:
    found = composite_crl.composite_crl_file(world.store, world.crls, world.artifacts, world.series.hex())
    assert parse_composite_crl_spdu(found.body).content.crls == ()


def test_composite_crl_of_an_unknown_series_is_404_and_a_malformed_one_400_42(world: TrustWorld) -> None:
    with pytest.raises(NotFound):
        composite_crl.composite_crl_file(world.store, world.crls, world.artifacts, "ff" * 8)
    _refused_42(lambda: composite_crl.composite_crl_file(world.store, world.crls, world.artifacts, "ff"))


# --- GET /v3/ctl --------------------------------------------------------------------------------------


def _entries(data: bytes) -> list[zipfile.ZipInfo]:
    return zipfile.ZipFile(io.BytesIO(data)).infolist()


def test_ctl_zip_holds_every_ctl_stored_and_deterministic(world: TrustWorld) -> None:
    issue_next_ctl(SetQuorum(1), world.store, world.vault, world.artifacts, now=NOW + 10)

    found = ctl_download.ctl_zip_file(world.store, world.series.hex(), None)

    series = world.series.hex()
    assert found.filename == f"ctl_{series}_1.zip"
    assert found.etag == f"ctl_{series}_1-2.zip"
    assert found.last_modified == time32.to_unix(NOW + 10)
    entries = _entries(found.body)
    assert [e.filename for e in entries] == [f"ctl_{series}_1.oer", f"ctl_{series}_2.oer"]
    assert all(e.compress_type == zipfile.ZIP_STORED for e in entries)
    archive = zipfile.ZipFile(io.BytesIO(found.body))
    assert [archive.read(e) for e in entries] == [c.spdu for c in world.store.ctls(world.series)]
    assert parse_multi_signed_ctl_spdu(archive.read(entries[1])).content.tbs_ctl.quorum == 1
    # The same CTLs give the same octets.
    assert ctl_download.ctl_zip_file(world.store, series, None).body == found.body


def test_ctl_zip_from_a_sequence_number_holds_that_and_the_newer_ones(world: TrustWorld) -> None:
    issue_next_ctl(SetQuorum(1), world.store, world.vault, world.artifacts, now=NOW + 10)
    found = ctl_download.ctl_zip_file(world.store, world.series.hex(), "2")
    assert found.filename == f"ctl_{world.series.hex()}_2.zip"
    assert [e.filename for e in _entries(found.body)] == [f"ctl_{world.series.hex()}_2.oer"]
    # Twin: from 1 on, both.
    assert len(_entries(ctl_download.ctl_zip_file(world.store, world.series.hex(), "1").body)) == 2


def test_the_ctl_zip_etag_changes_when_a_newer_ctl_joins_though_the_name_does_not(world: TrustWorld) -> None:
    before = ctl_download.ctl_zip_file(world.store, world.series.hex(), "1")
    issue_next_ctl(SetQuorum(1), world.store, world.vault, world.artifacts, now=NOW + 10)
    after = ctl_download.ctl_zip_file(world.store, world.series.hex(), "1")
    assert before.filename == after.filename
    assert before.etag != after.etag and before.body != after.body


def test_ctl_zip_past_the_newest_or_of_an_unknown_series_is_404(world: TrustWorld) -> None:
    with pytest.raises(NotFound):
        ctl_download.ctl_zip_file(world.store, world.series.hex(), "2")
    with pytest.raises(NotFound):
        ctl_download.ctl_zip_file(world.store, "00" * 8, None)


@pytest.mark.parametrize(("series", "seq"), [(None, None), ("x", None), ("0" * 16, "65536"), ("0" * 16, "-1"),
                                            ("0" * 16, ""), ("0" * 16, "1e3")])  # fmt: skip
def test_malformed_ctl_parameters_are_400_42(world: TrustWorld, series: str | None, seq: str | None) -> None:
    _refused_42(lambda: ctl_download.ctl_zip_file(world.store, series, seq))


# --- GET /v3/ra-certificate, /v3/ma-certificate --------------------------------------------------------


def test_ra_and_ma_certificates_are_the_active_ones(world: TrustWorld) -> None:
    ra = role_certificate.ra_certificate(world.store)
    ma = role_certificate.ma_certificate(world.store, None)
    assert ra.body == world.hierarchy.certificate("ra").encoded
    assert ra.filename == f"ra_{world.hierarchy.certificate('ra').hashed_id8.hex()}.oer"
    assert ma.body == world.hierarchy.certificate("ma").encoded
    assert ma.last_modified == time32.to_unix(NOW)


def test_ma_certificate_for_a_psid_it_covers_and_404_for_one_it_does_not(world: TrustWorld) -> None:
    assert role_certificate.ma_certificate(world.store, "32").body == world.hierarchy.certificate("ma").encoded
    with pytest.raises(NotFound):
        role_certificate.ma_certificate(world.store, "33")


@pytest.mark.parametrize("psid", ["", "x", "-1", "4294967296", "3.2"])
def test_malformed_psid_is_400_42(world: TrustWorld, psid: str) -> None:
    _refused_42(lambda: role_certificate.ma_certificate(world.store, psid))


def test_before_init_the_role_certificates_are_404() -> None:
    from scms_service.stores.ca import InMemoryCaStore

    with pytest.raises(NotFound):
        role_certificate.ra_certificate(InMemoryCaStore())
    with pytest.raises(NotFound):
        role_certificate.ma_certificate(InMemoryCaStore(), None)


# --- GET /v3/certificate-management-info-status -------------------------------------------------------


def test_info_status_names_every_current_artefact_in_time32_signed_by_the_ra(world: TrustWorld) -> None:
    world.publish_crl(2, 1, issue_date=NOW + 30)
    world.publish_crl(1, 4, issue_date=NOW + 20)

    found = info_status.info_status_file(
        world.store, world.crls, lambda: world.hierarchy.signer("ra"), InMemorySignedFileStore(),
        host="ra.example.org:443", now=NOW + 60,
    )  # fmt: skip

    opened = parse_info_status_spdu(found.body)
    assert opened.signer is not None
    assert opened.signer.hashed_id8 == world.hierarchy.certificate("ra").hashed_id8
    verify_chain(opened.signer, world.hierarchy.chain("ra"), world.hierarchy.anchors(), at=NOW + 60)
    status = opened.content
    assert [(c.craca_id, c.series, c.issue_date) for c in status.crl] == [
        (world.series, 1, NOW + 20),
        (world.series, 2, NOW + 30),
    ]
    assert [(c.ctl_series_id, c.sequence_number, c.last_update) for c in status.ctl] == [(world.series, 1, NOW)]
    ccf_file = ccf.certificate_chain_file(world.store, world.series.hex(), now=NOW + 60)
    assert status.ca_ccf == time32.from_unix(ccf_file.last_modified) == NOW
    assert [(m.psids, m.updated) for m in status.ma] == [((32,), NOW)]
    assert status.ra == NOW
    stamp = time32.to_datetime(NOW + 30).strftime("%Y%m%dT%H%M%SZ")
    assert found.filename == f"scms-management-infostatus_ra.example.org_{stamp}.oer"
    assert found.last_modified == time32.to_unix(NOW + 30)


def test_a_changed_info_status_does_not_verify(world: TrustWorld) -> None:
    found = info_status.info_status_file(world.store, world.crls, lambda: world.hierarchy.signer("ra"),
                                         InMemorySignedFileStore(), host=None, now=NOW + 60)  # fmt: skip
    assert found.filename.startswith("scms-management-infostatus_ra_")
    with pytest.raises(InvalidSignature):
        parse_info_status_spdu(found.body[:-1] + bytes([found.body[-1] ^ 1]))


def test_the_same_content_is_served_with_the_same_octets_signed_once(world: TrustWorld) -> None:
    signed = InMemorySignedFileStore()
    signatures = []

    def signer() -> Signer:
        signatures.append(1)
        return world.hierarchy.signer("ra")

    def get(now: int) -> bytes:
        return info_status.info_status_file(world.store, world.crls, signer, signed, host=None, now=now).body

    first = get(NOW + 60)
    assert get(NOW + 120) == first and len(signatures) == 1
    # Twin: a new CRL is a new content, signed anew.
    world.publish_crl(2, 1, issue_date=NOW + 100)
    assert get(NOW + 180) != first and len(signatures) == 2


def test_a_concurrent_signer_gets_the_first_signature(world: TrustWorld) -> None:
    class Racing(InMemorySignedFileStore):
        def get(self, key: str) -> bytes | None:
            return None  # both requests missed the cache

    signed = Racing()
    first = info_status.info_status_file(world.store, world.crls, lambda: world.hierarchy.signer("ra"), signed,
                                         host=None, now=NOW + 60)  # fmt: skip
    second = info_status.info_status_file(world.store, world.crls, lambda: world.hierarchy.signer("ra"), signed,
                                          host=None, now=NOW + 60)  # fmt: skip
    assert second.body == first.body
    assert InMemorySignedFileStore().put_once("k", b"a", now_unix=0, ttl=1) == b"a"


def test_info_status_follows_a_new_ctl_and_a_rotated_ra(world: TrustWorld) -> None:
    from scms_service.hierarchy import rotate

    issue_next_ctl(SetQuorum(1), world.store, world.vault, world.artifacts, now=NOW + 100)
    rotate("ra", world.settings, world.store, world.vault, world.artifacts, now=NOW + 200)
    status = info_status.info_status(world.store, world.crls, now=NOW + 300)
    assert [(c.sequence_number, c.last_update) for c in status.ctl] == [(2, NOW + 100)]
    assert status.ra == NOW + 200
    assert status.ca_ccf == NOW + 200  # the rotated RA certificate joined the CCF


@pytest.mark.parametrize(
    ("host", "label"),
    [(None, "ra"), ("", "ra"), ("RA.Example.org", "ra.example.org"), ("ra.example.org:8443", "ra.example.org"),
     ("../../etc", "ra"), ('a"b', "ra"), ("a" * 64 + ".org", "ra"), ("[::1]:80", "ra"),
     ("127.0.0.1:3000", "127.0.0.1")],
)  # fmt: skip
def test_host_label_is_a_plain_dns_name_or_ra(host: str | None, label: str) -> None:
    assert info_status.host_label(host) == label


def test_info_status_before_init_is_404() -> None:
    from scms_service.stores.ca import InMemoryCaStore

    from tests.unit.ra.trust_world import FakeCrlIndex

    with pytest.raises(NotFound):
        info_status.info_status(InMemoryCaStore(), FakeCrlIndex(), now=NOW)


def test_ma_psids_come_from_the_ma_certificate() -> None:
    w = trust_world(replace(load_settings({}), ma_relevant_psids="32,38"))
    assert info_status.info_status(w.store, w.crls, now=NOW).ma[0].psids == (32, 38)


# --- download_response(..., etag=): the CTL zip's validator is not its name -----------------------------


def test_download_response_with_an_etag_validates_with_it_not_with_the_name() -> None:
    from chalice.app import Chalice, Response
    from chalice.test import Client
    from scms_service.http import download_response

    app = Chalice(app_name="etag-test")

    @app.route("/f", methods=["GET"])
    def f() -> Response:
        request = app.current_request
        assert request is not None
        return download_response(request, b"0123456789", "ctl_x_1.zip", 1_700_000_000, etag="ctl_x_1-2.zip")

    with Client(app) as client:
        whole = client.http.get("/f", headers=OCTETS)
        assert whole.headers["ETag"] == '"ctl_x_1-2.zip"'
        assert whole.headers["Content-Disposition"] == 'attachment; filename="ctl_x_1.zip"'
        assert client.http.get("/f", headers={**OCTETS, "If-None-Match": '"ctl_x_1-2.zip"'}).status_code == 304
        # Twin: the name alone (an older zip's validator) is not a match.
        assert client.http.get("/f", headers={**OCTETS, "If-None-Match": '"ctl_x_1.zip"'}).status_code == 200
        ranged = client.http.get("/f", headers={**OCTETS, "Range": "bytes=2-3", "If-Range": '"ctl_x_1-2.zip"'})
        assert ranged.status_code == 206 and ranged.body == b"23"
        assert (
            client.http.get("/f", headers={**OCTETS, "Range": "bytes=2-3", "If-Range": '"ctl_x_1.zip"'}).status_code
            == 200
        )
