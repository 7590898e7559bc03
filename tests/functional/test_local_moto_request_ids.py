"""``scms_cli.local.moto_request_ids``: moto's responses are what they were, request ids included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from scms_service.config import Settings

from scms_cli.local.moto_request_ids import request_ids_rewritten_only_where_present


@pytest.fixture(autouse=True)
def _moto_as_shipped() -> Iterator[None]:
    """moto without this patch during each test (the local cloud's tests may have applied it in this process)."""
    from moto.core.responses import BaseResponse

    def active() -> Any:
        return getattr(BaseResponse.__dict__["_enrich_response"].__func__, "_scms_undo", None)

    was = active()
    if was is not None:
        was()
    yield
    if (left := active()) is not None:
        left()
    if was is not None:
        request_ids_rewritten_only_where_present()


_BODIES: list[Any] = [
    '{"Items":[{"pk":{"S":"<RequestId"}}],"Count":1}',
    "<Response><RequestId>old</RequestId><Value>1</Value></Response>",
    "<RequestId>a</RequestId><RequestId>b</RequestId>",
    "",
    b"\x00binary<RequestId>x</RequestId>",
    "x" * 300_000,
]


def _enriched(body: Any) -> tuple[dict[str, str], Any]:
    from moto.core.responses import BaseResponse

    headers, out = BaseResponse._enrich_response({"status": "200", "content-type": "x"}, body)
    request_id = headers.pop("x-amzn-requestid")
    assert len(request_id) == 52
    if isinstance(out, str):
        out = out.replace(request_id, "<ID>")
    return headers, out


def test_enriched_responses_are_moto_s_own() -> None:
    plain = [_enriched(body) for body in _BODIES]
    undo = request_ids_rewritten_only_where_present()
    try:
        assert request_ids_rewritten_only_where_present() is undo  # applying it twice patches once
        patched = [_enriched(body) for body in _BODIES]
    finally:
        undo()
    assert patched == plain
    # Twin: the substitution really happens where the element is (the comparison can fail).
    assert plain[1][1] == "<Response><RequestId><ID></RequestId><Value>1</Value></Response>"
    assert plain[0][1] == _BODIES[0] and plain[0][0]["status"] == "200"


def test_responses_through_moto_still_carry_a_request_id(aws_settings: Settings) -> None:
    undo = request_ids_rewritten_only_where_present()
    try:
        answer = boto3.client("dynamodb").list_tables()
        s3_answer = boto3.client("s3").list_buckets()
    finally:
        undo()
    assert len(answer["ResponseMetadata"]["RequestId"]) == 52
    assert aws_settings.artifacts_bucket in [b["Name"] for b in s3_answer["Buckets"]]
    assert "scms-ra" in answer["TableNames"]


def test_undo_restores_moto_s_method() -> None:
    from moto.core.responses import BaseResponse

    before = BaseResponse.__dict__["_enrich_response"].__func__
    undo = request_ids_rewritten_only_where_present()
    assert BaseResponse.__dict__["_enrich_response"].__func__ is not before
    undo()
    assert BaseResponse.__dict__["_enrich_response"].__func__ is before
