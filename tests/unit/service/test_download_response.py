"""``scms_service.http.download_response``: validators, conditional GET and byte ranges on a bare Chalice app."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import formatdate

import pytest
from chalice.app import Chalice, Response
from chalice.test import Client, HTTPResponse
from scms_service.http import download_response

BODY = bytes(range(100))
NAME = "ccf_1_8.oer"
ETAG = f'"{NAME}"'
MODIFIED = 1_700_000_000
app = Chalice(app_name="download-test")


@app.route("/file")
def _file() -> Response:
    request = app.current_request
    assert request is not None
    return download_response(request, BODY, NAME, MODIFIED)


@app.route("/undated")
def _undated() -> Response:
    request = app.current_request
    assert request is not None
    return download_response(request, BODY, NAME)


@pytest.fixture
def client() -> Iterator[Client]:
    with Client(app) as c:
        yield c


def get(client: Client, path: str = "/file", **headers: str) -> HTTPResponse:
    merged = {"Accept": "application/octet-stream", **{k.replace("_", "-"): v for k, v in headers.items()}}
    return client.http.get(path, headers=merged)


def test_plain_get_is_200_with_validators_and_the_whole_file(client: Client) -> None:
    response = get(client)
    assert response.status_code == 200 and response.body == BODY
    assert response.headers["ETag"] == ETAG
    assert response.headers["Last-Modified"] == formatdate(MODIFIED, usegmt=True)
    assert response.headers["Content-Disposition"] == f'attachment; filename="{NAME}"'
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_without_last_modified_no_header_is_sent(client: Client) -> None:
    assert "Last-Modified" not in get(client, "/undated").headers


# --- If-None-Match ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [ETAG, f'"other", {ETAG}', f"W/{ETAG}", "*"])
def test_if_none_match_with_the_etag_is_304_without_body(client: Client, value: str) -> None:
    response = get(client, If_None_Match=value)
    assert response.status_code == 304 and response.body == b""
    assert response.headers["ETag"] == ETAG


@pytest.mark.parametrize("value", ['"ccf_1_7.oer"', NAME, '"CCF_1_8.OER"'])
def test_if_none_match_with_another_tag_is_200(client: Client, value: str) -> None:
    response = get(client, If_None_Match=value)
    assert response.status_code == 200 and response.body == BODY


def test_if_none_match_wins_over_a_matching_if_modified_since(client: Client) -> None:
    response = get(client, If_None_Match='"old.oer"', If_Modified_Since=formatdate(MODIFIED, usegmt=True))
    assert response.status_code == 200


# --- If-Modified-Since --------------------------------------------------------------------------


@pytest.mark.parametrize("since", [MODIFIED, MODIFIED + 3600])
def test_if_modified_since_at_or_after_last_modified_is_304(client: Client, since: int) -> None:
    response = get(client, If_Modified_Since=formatdate(since, usegmt=True))
    assert response.status_code == 304 and response.body == b""


@pytest.mark.parametrize("since", [formatdate(MODIFIED - 1, usegmt=True), "not a date", "Mon, 01 Jan 2001 00:00:00"])
def test_if_modified_since_before_last_modified_or_invalid_is_200(client: Client, since: str) -> None:
    assert get(client, If_Modified_Since=since).status_code == 200


def test_if_modified_since_without_last_modified_is_200(client: Client) -> None:
    assert get(client, "/undated", If_Modified_Since=formatdate(MODIFIED, usegmt=True)).status_code == 200


# --- Range --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-19", 10, 19),
        ("bytes=90-", 90, 99),
        ("bytes=-5", 95, 99),
        ("bytes=-500", 0, 99),
        ("bytes=95-1000", 95, 99),
        ("BYTES = 3 - 4", 3, 4),
    ],
)
def test_satisfiable_range_is_206_with_content_range(client: Client, value: str, first: int, last: int) -> None:
    response = get(client, Range=value)
    assert response.status_code == 206
    assert response.body == BODY[first : last + 1]
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(BODY)}"
    assert response.headers["ETag"] == ETAG


@pytest.mark.parametrize("value", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_range_is_416_with_the_length(client: Client, value: str) -> None:
    response = get(client, Range=value)
    assert response.status_code == 416 and response.body == b""
    assert response.headers["Content-Range"] == f"bytes */{len(BODY)}"


@pytest.mark.parametrize("value", ["bytes=5-3", "items=0-1", "bytes=0-1,3-4", "bytes=-", "bytes=x-2"])
def test_invalid_or_multiple_ranges_are_ignored_with_the_whole_file(client: Client, value: str) -> None:
    response = get(client, Range=value)
    assert response.status_code == 200 and response.body == BODY
    assert "Content-Range" not in response.headers


def test_not_modified_comes_before_range(client: Client) -> None:
    assert get(client, If_None_Match=ETAG, Range="bytes=0-1").status_code == 304


@pytest.mark.parametrize("value", [ETAG, formatdate(MODIFIED, usegmt=True)])
def test_if_range_with_the_current_validator_serves_the_range(client: Client, value: str) -> None:
    assert get(client, Range="bytes=0-1", If_Range=value).status_code == 206


@pytest.mark.parametrize("value", ['"ccf_1_7.oer"', f"W/{ETAG}", formatdate(MODIFIED - 1, usegmt=True)])
def test_if_range_with_a_stale_validator_serves_the_whole_file(client: Client, value: str) -> None:
    response = get(client, Range="bytes=0-1", If_Range=value)
    assert response.status_code == 200 and response.body == BODY
