"""``wiring.LambdaEca`` (the RA's port to the ECA task function) against a stub Lambda client."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from scms_ra.successor import EcaRefusedUnexpectedly, artifact_key
from scms_ra.wiring import EcaBusy, EcaInvocationFailed, EcaUnavailable, LambdaEca
from scms_service.errors import BadRequest, ScmsError
from scms_service.hierarchy import Hierarchy

from scms_codec.errors import ErrorCode
from scms_codec.spdu import parse_eca_ee_cert_response, request_hash
from tests.unit.eca.test_tasks import load_eca_tasks
from tests.unit.ra.test_successor import NOW, World, hierarchy, make_world, successor_request  # noqa: F401

RH = bytes.fromhex("00112233445566ff")


class StubLambda:
    """``invoke`` as boto3's Lambda client answers it; records each call's arguments."""

    def __init__(self, answer: Any = None, *, error: Exception | None = None, function_error: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self._answer = answer
        self._error = error
        self._function_error = function_error

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self._error is not None:
            raise self._error
        answer = self._answer(json.loads(kwargs["Payload"])) if callable(self._answer) else self._answer
        out: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}
        if self._function_error:
            out["FunctionError"] = "Unhandled"
        return out


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Invoke")


@pytest.fixture
def world(hierarchy: Hierarchy) -> World:  # noqa: F811
    return make_world(hierarchy)


def call(eca: LambdaEca, world: World, inner: bytes = b"inner") -> bytes:
    return eca(inner, request_hash=RH, device=world.device(), now=NOW)


def test_the_payload_names_the_inner_request_the_outer_hash_and_the_device_only(world: World) -> None:
    stub = StubLambda({"response": base64.b64encode(b"issued").decode()})
    assert call(LambdaEca("EcaTaskFunction", client=stub), world, b"\x01\x02") == b"issued"
    (sent,) = stub.calls
    assert sent["FunctionName"] == "EcaTaskFunction" and sent["InvocationType"] == "RequestResponse"
    assert json.loads(sent["Payload"]) == {
        "request": base64.b64encode(b"\x01\x02").decode(),
        "requestHash": RH.hex(),
        "deviceId": world.holder.ee.device_id,
    }
    # Twin: nothing configured, nothing invoked, a 500.
    stub.calls.clear()
    with pytest.raises(EcaInvocationFailed):
        call(LambdaEca("", client=stub), world)
    assert stub.calls == []


def test_a_refusal_is_a_bad_request_with_the_ecas_code(world: World) -> None:
    stub = StubLambda({"refusal": ErrorCode.ECA_MAX_WAIT.value})
    with pytest.raises(BadRequest) as info:
        call(LambdaEca("f", client=stub), world)
    assert info.value.code is ErrorCode.ECA_MAX_WAIT and info.value.status == 400
    # Twin: a code that is no Table 8 code is the SCMS's fault (500), not a refusal.
    with pytest.raises(EcaInvocationFailed) as failed:
        call(LambdaEca("f", client=StubLambda({"refusal": "400-99999"})), world)
    assert failed.value.status == 500


@pytest.mark.parametrize(
    "error",
    [client_error("TooManyRequestsException"), client_error("ServiceException"),
     client_error("ResourceConflictException"), EndpointConnectionError(endpoint_url="http://lambda")],
    ids=["throttled", "service", "updating", "unreachable"],
)  # fmt: skip
def test_throttling_and_an_unreachable_eca_are_the_retryable_503(world: World, error: Exception) -> None:
    with pytest.raises(EcaUnavailable) as info:
        call(LambdaEca("f", client=StubLambda(error=error)), world)
    assert info.value.status == 503


@pytest.mark.parametrize(
    "code", ["ResourceNotFoundException", "AccessDeniedException", "InvalidRequestContentException"]
)
def test_other_invoke_errors_are_500(world: World, code: str) -> None:
    # Twin of the test above: a missing function or a missing permission is no reason to retry.
    with pytest.raises(EcaInvocationFailed) as info:
        call(LambdaEca("f", client=StubLambda(error=client_error(code))), world)
    assert info.value.status == 500 and not isinstance(info.value, EcaUnavailable)


@pytest.mark.parametrize(
    ("error_type", "expected", "status"),
    [
        ("TransientStoreError", EcaUnavailable, 503),
        ("Lambda.ServiceException", EcaUnavailable, 503),
        ("Sandbox.Timedout", EcaUnavailable, 503),
        ("RequestInProgress", EcaBusy, 409),
        ("InvalidTaskInput", EcaInvocationFailed, 500),
        ("KeyError", EcaInvocationFailed, 500),
        ("", EcaInvocationFailed, 500),
    ],
)
def test_a_function_error_maps_by_its_error_name(
    world: World, error_type: str, expected: type[ScmsError], status: int
) -> None:
    body = {"errorType": error_type, "errorMessage": "secret-looking detail"} if error_type else {}
    with pytest.raises(expected) as info:
        call(LambdaEca("f", client=StubLambda(body, function_error=True)), world)
    assert info.value.status == status
    assert "secret-looking" not in info.value.message  # the task's message never reaches the client


@pytest.mark.parametrize("body", [{}, {"response": 3}, {"response": "not base64!"}, [1], "text"])
def test_an_answer_outside_the_contract_is_500(world: World, body: Any) -> None:
    with pytest.raises(EcaInvocationFailed):
        call(LambdaEca("f", client=StubLambda(body)), world)


def test_successor_enrollment_through_lambda_eca_and_the_task_handler_works_twice(world: World) -> None:
    # Given the RA's use case wired to LambdaEca, whose stub client runs the ECA task on the JSON payload
    tasks = load_eca_tasks()

    def run_task(event: Any) -> Any:
        return tasks.answer_successor(event, now=NOW, settings=world.settings, devices=world.devices,
                                      requests=world.eca_requests, ca=world.hierarchy)  # fmt: skip

    stub = StubLambda(run_task)
    world.eca = LambdaEca("EcaTaskFunction", client=stub)  # type: ignore[method-assign]
    # When the device successor-enrolls twice in a row
    for round_ in range(2):
        data, key = successor_request(world.holder, world.ra, generation_time=NOW + round_)
        ack = world.enroll(data, now=NOW + round_)
        new = world.advance(data, key, ack)
        assert new.public_key() == key.public_key()
    # Then each went through one invocation, and the stored file names the outer request
    assert len(stub.calls) == 2
    current = world.device().enrollment
    assert current is not None and current.cert_id == new.hashed_id8.hex()
    rh = request_hash(data)
    stored = world.artifacts.get(artifact_key(rh))
    assert stored is not None and parse_eca_ee_cert_response(stored).content.request_hash == rh
    # Twin: an ECA refusal through the same path is the POST's refusal and leaves nothing.
    world.refused(world.request(generation_time=NOW + 1, start=NOW + 501), ErrorCode.ECA_MAX_WAIT, now=NOW + 1)


def test_an_eca_finding_the_device_blocked_is_the_posts_400_20(world: World) -> None:
    # The ECA found the device blocked (a race with the RA's own check): the standard refusal, the claim goes.
    world.eca = LambdaEca("f", client=StubLambda({"refusal": ErrorCode.ENROLLMENT_CERT_BLOCKED.value}))  # type: ignore[method-assign]
    data, _ = successor_request(world.holder, world.ra)
    world.refused(data, ErrorCode.ENROLLMENT_CERT_BLOCKED)
    assert world.requests.get(request_hash(data)) is None


def test_an_eca_refusal_outside_the_route_codes_is_500_at_the_ra(world: World) -> None:
    # Twin: a code the ECA never gives for this route is the SCMS's own fault.
    world.eca = LambdaEca("f", client=StubLambda({"refusal": ErrorCode.RA_MAX_REQS.value}))  # type: ignore[method-assign]
    data, _ = successor_request(world.holder, world.ra)
    with pytest.raises(EcaRefusedUnexpectedly):
        world.enroll(data)
    assert world.requests.get(request_hash(data)) is None


def test_production_wiring_invokes_the_eca_task_named_by_settings(world: World) -> None:
    from scms_ra.wiring import InProcessEca, LazyRaKeys, from_settings, successor_issuer

    settings = replace(world.settings, eca_task_function="EcaTaskFunction")
    assert isinstance(successor_issuer(settings, LazyRaKeys(settings)), LambdaEca)
    assert isinstance(from_settings(settings).successor_issuer, LambdaEca)
    # Twin: without a function name (tests of the RA alone), the ECA's use case runs in process.
    assert isinstance(successor_issuer(world.settings, LazyRaKeys(world.settings)), InProcessEca)
