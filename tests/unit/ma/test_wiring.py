"""The MA's callee clients: Lambda invoke errors and answers mapped to 503/500/404, in-process twins, the choice."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from scms_ma import wiring
from scms_ma.authorities import (
    AcaLookup,
    AuthorityFailed,
    AuthorityUnavailable,
    CrlPublisher,
    LaSeeds,
    RaRevoker,
    TargetNotFound,
    TaskFailed,
)
from scms_ma.wiring import InProcessTask, LambdaTask, authorities_from_settings
from scms_service.config import Settings


class StubLambda:
    def __init__(self, answer: dict[str, Any] | None = None, error: str | None = None) -> None:
        self.answer, self.error = answer or {}, error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise ClientError({"Error": {"Code": self.error, "Message": "m"}}, "Invoke")
        return self.answer


def answer(body: Any, function_error: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"Payload": io.BytesIO(json.dumps(body).encode()), "StatusCode": 200}
    if function_error:
        out["FunctionError"] = "Unhandled"
    return out


def test_lambda_task_sends_the_event_and_returns_the_json_answer() -> None:
    stub = StubLambda(answer({"found": [], "missing": ["00" * 8]}))
    assert AcaLookup(LambdaTask("aca-lookup", stub))(["00" * 8]) == {}
    assert stub.calls[0]["FunctionName"] == "aca-lookup"
    assert json.loads(stub.calls[0]["Payload"]) == {"certIds": ["00" * 8]}


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("TransientStoreError", AuthorityUnavailable),
        ("Sandbox.Timedout", AuthorityUnavailable),
        ("RevocationTargetNotFound", TargetNotFound),
        ("InvalidTaskInput", AuthorityFailed),
        ("", AuthorityFailed),
    ],
)
def test_a_callee_error_is_mapped_by_its_name_only(error_type: str, expected: type[Exception]) -> None:
    stub = StubLambda(answer({"errorType": error_type, "errorMessage": "chain 0011... secret"}, function_error=True))
    with pytest.raises(expected) as info:
        RaRevoker(LambdaTask("ra", stub))("device", "d", "c")
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(("code", "expected"), [("TooManyRequestsException", AuthorityUnavailable),
                                                 ("ThrottlingException", AuthorityUnavailable),
                                                 ("AccessDeniedException", AuthorityFailed)])  # fmt: skip
def test_an_invoke_refused_by_lambda_is_503_when_retrying_helps_else_500(code: str, expected: type[Exception]) -> None:
    with pytest.raises(expected):
        CrlPublisher(LambdaTask("crlg", StubLambda(error=code)))(force=False)


@pytest.mark.parametrize(
    "body",
    [b"not json", json.dumps({"laId": "01", "i": 3, "seed": "00" * 16}).encode(),
     json.dumps({"laId": "0001", "i": -1, "seed": "00" * 16}).encode(),
     json.dumps({"laId": "0001", "i": 3, "seed": "00" * 15}).encode(), json.dumps([1]).encode()],
)  # fmt: skip
def test_an_answer_outside_the_contract_is_500(body: bytes) -> None:
    stub = StubLambda({"Payload": io.BytesIO(body)})
    with pytest.raises(AuthorityFailed):
        LaSeeds(LambdaTask("la1", stub), "LA1")("00" * 16, 3)
    good = StubLambda(answer({"laId": "0001", "i": 3, "seed": "ab" * 16}))
    seed = LaSeeds(LambdaTask("la1", good), "LA1")("00" * 16, 3)
    assert seed.la_id == b"\x00\x01" and seed.i == 3 and "ab" * 16 not in repr(seed)


def test_in_process_task_runs_the_handler_file_with_its_environment(tmp_path: Path, monkeypatch: Any) -> None:
    folder = tmp_path / "twin"
    folder.mkdir()
    (folder / "handlers.py").write_text(
        "import os\nfrom dataclasses import dataclass\nLA = os.environ.get('SCMS_LA_ID')\n"
        "@dataclass\nclass Answer:\n    x: int\n"
        "class UnknownChain(Exception):\n    pass\n"
        "def seed_task(event, context):\n"
        "    if event['chainId'] == 'ff' * 16:\n        raise UnknownChain('secret chain id')\n"
        "    return {'laId': LA, 'i': event['i'], 'seed': '11' * 16, 'fn': context.function_name}\n"
    )
    monkeypatch.setattr(wiring, "_FUNCTIONS", tmp_path)
    task = InProcessTask("twin/handlers.py", "seed_task", {"SCMS_LA_ID": "0002"})
    assert task({"chainId": "00" * 16, "i": 4}) == {"laId": "0002", "i": 4, "seed": "11" * 16, "fn": "handlers"}
    with pytest.raises(TaskFailed) as info:
        task({"chainId": "ff" * 16, "i": 4})
    assert info.value.error_type == "UnknownChain" and "secret" not in str(info.value)


def test_lambda_clients_when_the_function_names_are_set_else_twins() -> None:
    named = authorities_from_settings(
        Settings(aca_function="a", ra_task_function="r", la1_function="l1", la2_function="l2", crlg_function="c"),
        crl_entries=object(),  # type: ignore[arg-type]
    )
    assert isinstance(named.aca_lookup._task, LambdaTask) and isinstance(named.publish._task, LambdaTask)
    twins = authorities_from_settings(Settings(), crl_entries=object())  # type: ignore[arg-type]
    assert isinstance(twins.la1_seed._task, InProcessTask) and isinstance(twins.ra_revoke._task, InProcessTask)
