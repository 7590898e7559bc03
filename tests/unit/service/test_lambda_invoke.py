"""scms_service.lambda_invoke: one authority's synchronous call of another's task (stub Lambda client)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from scms_service.lambda_invoke import TaskAnswer, invoke_task


class Unavailable(Exception):
    pass


class Failed(Exception):
    pass


class StubLambda:
    def __init__(self, answer: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.answer, self.error = answer or {}, error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return self.answer


def _call(client: StubLambda) -> TaskAnswer:
    return invoke_task("callee-fn", {"a": 1}, client=client, callee="the X", retried="request",
                       unavailable=Unavailable, failed=Failed)  # fmt: skip


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Invoke")


def test_the_event_goes_as_json_and_the_json_answer_comes_back() -> None:
    stub = StubLambda({"Payload": io.BytesIO(b'{"ok": true}'), "StatusCode": 200})
    assert _call(stub) == TaskAnswer({"ok": True}, None)
    assert stub.calls == [{"FunctionName": "callee-fn", "InvocationType": "RequestResponse", "Payload": b'{"a": 1}'}]


def test_a_function_error_is_its_error_type_only() -> None:
    body = {"errorType": "RequestInProgress", "errorMessage": "secret"}
    answer = _call(StubLambda({"Payload": io.BytesIO(json.dumps(body).encode()), "FunctionError": "Unhandled"}))
    assert answer.error_type == "RequestInProgress"
    unnamed = _call(StubLambda({"Payload": io.BytesIO(b"[1]"), "FunctionError": "Unhandled"}))
    assert unnamed.error_type == ""


@pytest.mark.parametrize("code", ["TooManyRequestsException", "ThrottlingException", "ENILimitReachedException"])
def test_a_throttled_or_busy_function_is_unavailable(code: str) -> None:
    with pytest.raises(Unavailable, match="the X is busy; send the same request again"):
        _call(StubLambda(error=_client_error(code)))


def test_a_refused_invoke_is_failed() -> None:
    with pytest.raises(Failed, match="the X could not be invoked"):
        _call(StubLambda(error=_client_error("AccessDeniedException")))


def test_an_unreachable_function_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="unreachable"):
        _call(StubLambda(error=EndpointConnectionError(endpoint_url="http://lambda")))


def test_an_answer_that_is_not_json_is_failed() -> None:
    with pytest.raises(Failed, match="answer is not JSON"):
        _call(StubLambda({"Payload": io.BytesIO(b"not json")}))
