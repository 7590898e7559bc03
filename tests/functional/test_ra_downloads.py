"""RA public download: GET /v3/ca-certificate?certId= returns the COER CA certificate from CaTable."""

from __future__ import annotations

from types import ModuleType

import pytest
from chalice.test import Client
from scms_service.config import Settings
from scms_service.http import ERROR_HEADER
from scms_service.stores.ca import CaRecord, DynamoDbCaStore

from scms_codec.errors import ErrorCode
from tests.events import load_event
from tests.functional.ra_app import ra_fixture  # noqa: F401 (the "ra" fixture)

CERT = bytes.fromhex("80030080") + bytes(range(60))  # opaque to the route: served byte for byte
CERT_ID = "0123456789abcdef"


@pytest.fixture
def stored(aws_settings: Settings) -> None:
    DynamoDbCaStore.from_settings(aws_settings).create(
        CaRecord(
            role="eca",
            hashed_id8=bytes.fromhex(CERT_ID),
            certificate=CERT,
            active=True,
            created_at=1,
            key_secret="scms/ca/eca/" + CERT_ID,
        )
    )


@pytest.mark.usefixtures("stored")
def test_known_cert_id_returns_the_octets_with_content_disposition(ra: ModuleType) -> None:
    with Client(ra.app) as client:
        response = client.http.get(
            f"/v3/ca-certificate?certId={CERT_ID.upper()}", headers={"Accept": "application/octet-stream"}
        )
    assert response.status_code == 200
    assert response.body == CERT
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{CERT_ID}.oer"'


@pytest.mark.usefixtures("stored")
def test_request_without_accept_header_still_gets_the_certificate(ra: ModuleType) -> None:
    with Client(ra.app) as client:
        response = client.http.get(f"/v3/ca-certificate?certId={CERT_ID}")
    assert response.status_code == 200
    assert response.body == CERT


@pytest.mark.usefixtures("stored")
def test_request_accepting_only_json_is_refused(ra: ModuleType) -> None:
    with Client(ra.app) as client:
        response = client.http.get(f"/v3/ca-certificate?certId={CERT_ID}", headers={"Accept": "application/json"})
    assert response.status_code == 400


@pytest.mark.usefixtures("stored")
def test_unknown_cert_id_is_404(ra: ModuleType) -> None:
    with Client(ra.app) as client:
        response = client.http.get("/v3/ca-certificate?certId=ffffffffffffffff")
    assert response.status_code == 404


@pytest.mark.parametrize("query", ["", "?certId=0123", "?certId=0123456789abcdeg", "?certId=0123456789abcdef00"])
def test_malformed_cert_id_is_400_42(ra: ModuleType, query: str) -> None:
    with Client(ra.app) as client:
        response = client.http.get(f"/v3/ca-certificate{query}")
    assert response.status_code == 400
    assert response.headers[ERROR_HEADER] == ErrorCode.FAILED_PARSING.value


@pytest.mark.usefixtures("stored")
def test_real_event_without_accept_returns_base64_certificate(ra: ModuleType) -> None:
    import base64

    event = load_event("ra_ca_certificate_no_accept")
    event["queryStringParameters"]["certId"] = CERT_ID
    event["multiValueQueryStringParameters"]["certId"] = [CERT_ID]
    result = ra.app(event, None)
    assert result["statusCode"] == 200
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == CERT
