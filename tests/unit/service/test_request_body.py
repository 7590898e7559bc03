"""``http.request_body``: what the gateway sends becomes bytes, or a 400-42 refusal, never a 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from chalice.app import Request
from scms_service.errors import BadRequest
from scms_service.http import request_body

from scms_codec.errors import ErrorCode


def _request(body: Any, *, is_base64: bool) -> Request:
    return Request(
        {
            "multiValueQueryStringParameters": None,
            "headers": {"content-type": "application/octet-stream"},
            "pathParameters": None,
            "requestContext": {"httpMethod": "POST", "resourcePath": "/v3/x"},
            "stageVariables": None,
            "body": body,
            "isBase64Encoded": is_base64,
        }
    )


@pytest.mark.parametrize(
    ("body", "is_base64"),
    [
        ("!!!a", True),  # incorrect padding: binascii.Error
        ("AAé=", True),  # not ASCII: UnicodeEncodeError in Chalice's decoder
        ("\ud800", False),  # a lone surrogate cannot be encoded as UTF-8
    ],
    ids=["bad padding", "non-ascii base64", "lone surrogate"],
)
def test_a_body_the_gateway_cannot_have_sent_is_a_parse_refusal(body: str, is_base64: bool) -> None:
    with pytest.raises(BadRequest) as info:
        request_body(_request(body, is_base64=is_base64))
    assert info.value.code is ErrorCode.FAILED_PARSING
    assert info.value.message.startswith("body:")


@pytest.mark.parametrize(
    ("body", "is_base64", "expected"),
    [
        (base64.b64encode(b"\x00\xff\x80").decode(), True, b"\x00\xff\x80"),
        ('{"cause": "é"}', False, '{"cause": "é"}'.encode()),
        (None, False, b""),
        ("", True, b""),
    ],
    ids=["base64", "text", "none", "empty"],
)
def test_a_body_the_gateway_sends_is_its_bytes(body: str | None, is_base64: bool, expected: bytes) -> None:
    assert request_body(_request(body, is_base64=is_base64)) == expected
