"""RA trust downloads over chalice.test.Client on moto: CRLs published by the CRL generator, CTLs by ``scms ctl``.

The hierarchy is ``scms init``'s (``init_hierarchy``), the CRLs come from ``scms_crlg.publish`` on
CrlTable and S3, a new CTL from ``scms ctl`` (``ctl_cmd.execute``) on CaTable and S3; the RA app is
wired from Settings as deployed. ``scms-ee fetch-chain`` then runs against the app.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import boto3
import pytest
from chalice.test import Client, HTTPResponse
from scms_crlg.publish import publish
from scms_crlg.wiring import CrlgServices
from scms_ee.client import Response, Transport
from scms_ee.main import EXIT_OK, main
from scms_service.config import Settings
from scms_service.ctl_issue import AddRoot, RemoveRoot, SetQuorum
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.http import ERROR_HEADER
from scms_service.stores.artifacts import InMemoryArtifacts, S3Artifacts
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.crl_entries import HashedEntry
from scms_service.stores.signed_files import DynamoDbSignedFileStore

from scms_codec import time32
from scms_codec.errors import ErrorCode
from scms_codec.spdu.cert_management import (
    parse_certificate_chain_spdu,
    parse_composite_crl_spdu,
    parse_info_status_spdu,
)
from scms_codec.spdu.crl import parse_secured_crl
from scms_codec.spdu.ctl import parse_multi_signed_ctl_spdu
from tests.functional.ra_app import apply_ctl_change, hierarchy_fixture, ra_fixture  # noqa: F401 (the "hierarchy", "ra" fixtures)

OCTETS = {"Accept": "application/octet-stream"}


def _publish(settings: Settings, *, hashed: bytes | None = None, force: bool = False) -> None:
    services = CrlgServices.from_settings(settings)
    if hashed is not None:
        services.store.add_hashed([HashedEntry(hashed, time32.now() + 86_400, "rev-1")])
    publish(settings, store=services.store, artifacts=services.artifacts, crlg=services.crlg, now=time32.now(),
            force=force)  # fmt: skip


def _get(ra: ModuleType, path: str, **headers: str) -> HTTPResponse:
    with Client(ra.app) as client:
        response: HTTPResponse = client.http.get(path, headers={**OCTETS, **headers})
    return response


# --- CRLs -----------------------------------------------------------------------------------------


def test_crl_download_is_the_crl_generators_latest_and_revalidates(
    ra: ModuleType, hierarchy: Hierarchy, aws_settings: Settings
) -> None:
    _publish(aws_settings)
    series = hierarchy.certificate("root").hashed_id8.hex()
    path = f"/v3/crl?craca={series}&crlSeries={aws_settings.crl_hash_series}"

    first = _get(ra, path)

    assert first.status_code == 200
    assert first.headers["ETag"] == f'"crl_{series}_{aws_settings.crl_hash_series}_1.oer"'
    crl = parse_secured_crl(first.body).content
    assert (crl.crl_series, crl.crl_craca.hex()) == (aws_settings.crl_hash_series, series)
    assert _get(ra, path, **{"If-None-Match": first.headers["ETag"]}).status_code == 304
    part = _get(ra, path, Range="bytes=0-9")
    assert part.status_code == 206 and part.body == first.body[:10]
    assert _get(ra, path, Range=f"bytes={len(first.body)}-").status_code == 416

    # When the CRL generator publishes a new CRL with an entry, the old ETag no longer matches.
    _publish(aws_settings, hashed=b"\x07" * 10)
    again = _get(ra, path, **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert again.headers["ETag"] == f'"crl_{series}_{aws_settings.crl_hash_series}_2.oer"'
    entries = parse_secured_crl(again.body).content.type_specific[1]["entries"]
    assert [e["id"] for e in entries] == [b"\x07" * 10]


@pytest.mark.usefixtures("hierarchy")
def test_crl_refusals(ra: ModuleType, aws_settings: Settings) -> None:
    _publish(aws_settings)
    assert _get(ra, "/v3/crl?craca=0000000000000000&crlSeries=2").status_code == 404
    for query in ("", "?craca=00&crlSeries=2", "?craca=0000000000000000", "?craca=0000000000000000&crlSeries=x"):
        answer = _get(ra, f"/v3/crl{query}")
        assert answer.status_code == 400 and answer.headers[ERROR_HEADER] == ErrorCode.FAILED_PARSING.value


def test_composite_crl_holds_both_crls_and_the_home_ctl(
    ra: ModuleType, hierarchy: Hierarchy, aws_settings: Settings
) -> None:
    _publish(aws_settings)
    series = hierarchy.certificate("root").hashed_id8.hex()
    answer = _get(ra, f"/v3/composite-crl-ctl?ctlSeriesId={series}")
    assert answer.status_code == 200
    content = parse_composite_crl_spdu(answer.body).content
    assert sorted(parse_secured_crl(c).content.crl_series for c in content.crls) == [1, 2]
    assert parse_multi_signed_ctl_spdu(content.home_ctl).content.tbs_ctl.sequence_number == 1
    assert answer.headers["ETag"] == '"composite-crl_5.oer"'  # CTL #1 + (1 + 1) + (1 + 1)
    assert _get(ra, "/v3/composite-crl-ctl?ctlSeriesId=ffffffffffffffff").status_code == 404


# --- RA / MA certificates and the info status ------------------------------------------------------


def test_ra_and_ma_certificates_and_the_signed_info_status(
    ra: ModuleType, hierarchy: Hierarchy, aws_settings: Settings
) -> None:
    _publish(aws_settings)
    assert _get(ra, "/v3/ra-certificate").body == hierarchy.certificate("ra").encoded
    assert _get(ra, "/v3/ma-certificate?psid=32").body == hierarchy.certificate("ma").encoded
    assert _get(ra, "/v3/ma-certificate?psid=33").status_code == 404
    assert _get(ra, "/v3/ma-certificate?psid=x").headers[ERROR_HEADER] == ErrorCode.FAILED_PARSING.value

    answer = _get(ra, "/v3/certificate-management-info-status", Host="ra.example.org")

    assert answer.status_code == 200
    assert answer.headers["ETag"].startswith('"scms-management-infostatus_ra.example.org_')
    opened = parse_info_status_spdu(answer.body)
    assert opened.signer is not None and opened.signer.hashed_id8 == hierarchy.certificate("ra").hashed_id8
    status = opened.content
    assert sorted(c.series for c in status.crl) == [1, 2]
    assert [c.sequence_number for c in status.ctl] == [1]
    assert status.ra == hierarchy.record("ra").created_at
    assert _get(ra, "/v3/certificate-management-info-status", Host="ra.example.org",
                **{"If-None-Match": answer.headers["ETag"]}).status_code == 304  # fmt: skip
    # The same content, the same octets (signed once, kept in RaTable), so a Range resumes the same file.
    again = _get(ra, "/v3/certificate-management-info-status", Host="ra.example.org")
    assert again.body == answer.body
    tail = _get(ra, "/v3/certificate-management-info-status", Host="ra.example.org", Range="bytes=10-")
    assert tail.status_code == 206 and tail.body == answer.body[10:]


def test_signed_file_store_keeps_the_first_octets(aws_settings: Settings) -> None:
    store = DynamoDbSignedFileStore.from_settings(aws_settings)
    assert store.get("k") is None
    assert store.put_once("k", b"first", now_unix=1000, ttl=60) == b"first"
    # A second writer (a concurrent request that missed the cache) gets the first one's octets.
    assert store.put_once("k", b"second", now_unix=1001, ttl=60) == b"first"
    assert store.get("k") == b"first"
    item = boto3.client("dynamodb").get_item(
        TableName=aws_settings.ra_table, Key={"pk": {"S": "SIGNED#k"}, "sk": {"S": "SIGNED"}}
    )["Item"]
    assert item["expiresAt"] == {"N": "1060"}
    # Twin: another key is another file.
    assert store.put_once("k2", b"second", now_unix=1001, ttl=60) == b"second"


# --- CTL: scms ctl, then /v3/ctl, /v3/ccf-ctl and scms-ee fetch-chain ------------------------------


def test_after_scms_ctl_the_ctl_zip_and_the_ccf_serve_the_new_ctl(
    ra: ModuleType, hierarchy: Hierarchy, aws_settings: Settings
) -> None:
    series = hierarchy.certificate("root").hashed_id8.hex()
    before = _get(ra, f"/v3/ctl?ctlSeriesId={series}")
    assert before.status_code == 200 and before.headers["Content-Type"] == "application/zip"

    apply_ctl_change(aws_settings, SetQuorum(1))

    after = _get(ra, f"/v3/ctl?ctlSeriesId={series}", **{"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200  # the name stayed, the ETag did not
    assert after.headers["Content-Disposition"] == before.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(after.body))
    assert archive.namelist() == [f"ctl_{series}_1.oer", f"ctl_{series}_2.oer"]
    newest = parse_multi_signed_ctl_spdu(archive.read(f"ctl_{series}_2.oer")).content.tbs_ctl
    assert (newest.sequence_number, newest.quorum) == (2, 1)
    only_new = _get(ra, f"/v3/ctl?ctlSeriesId={series}&ctlSequenceNumber=2")
    assert zipfile.ZipFile(io.BytesIO(only_new.body)).namelist() == [f"ctl_{series}_2.oer"]
    assert _get(ra, f"/v3/ctl?ctlSeriesId={series}&ctlSequenceNumber=3").status_code == 404
    ccf = _get(ra, f"/v3/ccf-ctl?ctlSeriesId={series}")
    home = parse_certificate_chain_spdu(ccf.body).content.home_ctl
    assert parse_multi_signed_ctl_spdu(home).content.tbs_ctl.sequence_number == 2
    assert S3Artifacts.from_settings(aws_settings).get(f"ctl/{series}_2.oer") == home


def _transport(ra: ModuleType) -> Transport:
    def transport(method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float) -> Response:
        parts = urlsplit(url)
        with Client(ra.app) as client:
            answer = client.http.request(method, f"{parts.path}?{parts.query}", headers=dict(headers), body=body or b"")
        return Response(answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, answer.body)

    return transport


def test_scms_ee_fetch_chain_accepts_each_new_ctl_of_scms_ctl(
    ra: ModuleType, hierarchy: Hierarchy, aws_settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "root.oer"
    root.write_bytes(hierarchy.certificate("root").encoded)
    state = tmp_path / "ee"

    def fetch() -> tuple[int, str]:
        out = io.StringIO()
        code = main(["--url", "http://ra.test", "--state", str(state), "fetch-chain", "--root", str(root)],
                    transport=_transport(ra), out=out)  # fmt: skip
        return code, out.getvalue()

    assert fetch()[0] == EXIT_OK
    # When the operator approves another SCMS's root (CTL #2, both electors as CTL #1's quorum asks)
    store, vault, artifacts = InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts()
    other = init_hierarchy(aws_settings, store, vault, artifacts, now=time32.now() - 60)[0].certificate("root")
    apply_ctl_change(aws_settings, AddRoot(other.encoded))
    code, out = fetch()
    assert code == EXIT_OK, out
    assert json.loads((state / "state.json").read_text())["ccf"]["ctl_sequence_number"] == 2

    # And lowers the quorum (CTL #3), the device accepts that too
    apply_ctl_change(aws_settings, SetQuorum(1))
    assert fetch()[0] == EXIT_OK
    assert json.loads((state / "state.json").read_text())["ccf"]["ctl_sequence_number"] == 3

    # Twin: a CTL that no longer approves the device's root is refused by the device (exit 1).
    apply_ctl_change(aws_settings, RemoveRoot(hierarchy.certificate("root").hashed_id8))
    code, out = fetch()
    assert code != EXIT_OK
    assert json.loads((state / "state.json").read_text())["ccf"]["ctl_sequence_number"] == 3
