"""RA public download GET /v3/ccf-ctl over chalice.test.Client, the hierarchy made by init_hierarchy in moto."""

from __future__ import annotations

from email.utils import formatdate
from types import ModuleType

import pytest
from chalice.test import Client, HTTPResponse
from scms_service.hierarchy import Hierarchy
from scms_service.http import ERROR_HEADER

from scms_codec import time32
from scms_codec.cert.chain import verify_chain
from scms_codec.errors import ErrorCode
from scms_codec.spdu.cert_management import parse_certificate_chain_spdu
from scms_codec.spdu.ctl import parse_multi_signed_ctl_spdu, verify_ctl_signatures
from tests.functional.ra_app import hierarchy_fixture, ra_fixture  # noqa: F401 (the "hierarchy", "ra" fixtures)

OCTETS = {"Accept": "application/octet-stream"}


def _series(h: Hierarchy) -> str:
    return h.certificate("root").hashed_id8.hex()


def _get(ra: ModuleType, query: str, **headers: str) -> HTTPResponse:
    with Client(ra.app) as client:
        response: HTTPResponse = client.http.get(f"/v3/ccf-ctl{query}", headers={**OCTETS, **headers})
    return response


def test_ccf_parses_and_every_certificate_verifies_to_the_root(ra: ModuleType, hierarchy: Hierarchy) -> None:
    # When a device downloads the CCF of the root's series
    response = _get(ra, f"?ctlSeriesId={_series(hierarchy)}")

    # Then it is the CertificateChainSpdu: CTL #1 signed by both electors, the CAs chaining to the root
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == 'attachment; filename="ccf_1_8.oer"'
    assert response.headers["ETag"] == '"ccf_1_8.oer"'
    content = parse_certificate_chain_spdu(response.body).content
    ctl = parse_multi_signed_ctl_spdu(content.home_ctl).content
    assert ctl.tbs_ctl.ctl_series_id.hex() == _series(hierarchy)
    assert len(verify_ctl_signatures(ctl)) == 2
    root = hierarchy.certificate("root")
    assert len(content.others) == 8
    for cert in content.others:
        verify_chain(cert, list(content.others), [root])


def test_request_without_accept_header_gets_the_ccf(ra: ModuleType, hierarchy: Hierarchy) -> None:
    with Client(ra.app) as client:
        response = client.http.get(f"/v3/ccf-ctl?ctlSeriesId={_series(hierarchy)}")
    assert response.status_code == 200
    assert parse_certificate_chain_spdu(response.body).content.others


# --- conditional GET ----------------------------------------------------------------------------


def test_if_none_match_with_the_file_name_is_304(ra: ModuleType, hierarchy: Hierarchy) -> None:
    response = _get(ra, f"?ctlSeriesId={_series(hierarchy)}", **{"If-None-Match": '"ccf_1_8.oer"'})
    assert response.status_code == 304 and response.body == b""


def test_if_none_match_with_an_older_name_is_200(ra: ModuleType, hierarchy: Hierarchy) -> None:
    response = _get(ra, f"?ctlSeriesId={_series(hierarchy)}", **{"If-None-Match": '"ccf_1_7.oer"'})
    assert response.status_code == 200 and parse_certificate_chain_spdu(response.body)


def test_if_modified_since_the_last_modified_is_304(ra: ModuleType, hierarchy: Hierarchy) -> None:
    first = _get(ra, f"?ctlSeriesId={_series(hierarchy)}")
    response = _get(ra, f"?ctlSeriesId={_series(hierarchy)}", **{"If-Modified-Since": first.headers["Last-Modified"]})
    assert response.status_code == 304


def test_if_modified_since_before_the_last_modified_is_200(ra: ModuleType, hierarchy: Hierarchy) -> None:
    before = formatdate(time32.to_unix(hierarchy.record("root").created_at) - 1, usegmt=True)
    response = _get(ra, f"?ctlSeriesId={_series(hierarchy)}", **{"If-Modified-Since": before})
    assert response.status_code == 200


# --- ranges -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "part"), [("0-9", slice(0, 10)), ("100-", slice(100, None)), ("-16", slice(-16, None))]
)
def test_range_is_206_with_the_slice(ra: ModuleType, hierarchy: Hierarchy, spec: str, part: slice) -> None:
    whole = _get(ra, f"?ctlSeriesId={_series(hierarchy)}").body
    response = _get(ra, f"?ctlSeriesId={_series(hierarchy)}", Range=f"bytes={spec}")
    assert response.status_code == 206
    assert response.body == whole[part]
    indices = range(len(whole))[part]
    assert response.headers["Content-Range"] == f"bytes {indices[0]}-{indices[-1]}/{len(whole)}"


def test_range_past_the_end_is_416(ra: ModuleType, hierarchy: Hierarchy) -> None:
    size = len(_get(ra, f"?ctlSeriesId={_series(hierarchy)}").body)
    response = _get(ra, f"?ctlSeriesId={_series(hierarchy)}", Range=f"bytes={size}-")
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{size}"


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("hierarchy")
def test_unknown_series_is_404(ra: ModuleType) -> None:
    response = _get(ra, "?ctlSeriesId=ffffffffffffffff")
    assert response.status_code == 404
    assert ERROR_HEADER not in response.headers


@pytest.mark.usefixtures("hierarchy")
@pytest.mark.parametrize("query", ["", "?ctlSeriesId=", "?ctlSeriesId=0123", "?ctlSeriesId=0123456789abcdeZ"])
def test_malformed_series_is_400_42(ra: ModuleType, query: str) -> None:
    response = _get(ra, query)
    assert response.status_code == 400
    assert response.headers[ERROR_HEADER] == ErrorCode.FAILED_PARSING.value


# --- the CA certificate download shares the conditional logic -------------------------------------


def test_ca_certificate_download_answers_304_to_its_etag(ra: ModuleType, hierarchy: Hierarchy) -> None:
    cert_id = hierarchy.certificate("eca").hashed_id8.hex()
    with Client(ra.app) as client:
        first = client.http.get(f"/v3/ca-certificate?certId={cert_id}", headers=OCTETS)
        again = client.http.get(
            f"/v3/ca-certificate?certId={cert_id}", headers={**OCTETS, "If-None-Match": first.headers["ETag"]}
        )
        other = client.http.get(
            f"/v3/ca-certificate?certId={cert_id}", headers={**OCTETS, "If-None-Match": '"0000000000000000.oer"'}
        )
    assert first.status_code == 200 and first.headers["ETag"] == f'"{cert_id}.oer"'
    assert again.status_code == 304 and again.body == b""
    assert other.status_code == 200 and other.body == hierarchy.certificate("eca").encoded
