"""``scms crl publish | show`` against moto stores (as against the local stack), and its Lambda path."""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

import boto3
import pytest
from scms_service.config import Settings
from scms_service.hierarchy import init_hierarchy
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.crl_entries import DynamoDbCrlEntryStore, HashedEntry

from scms_cli import crl_cmd
from scms_codec import time32
from tests.support.aws import aws_settings  # noqa: F401


@pytest.fixture
def settings(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:  # noqa: F811
    init_hierarchy(
        aws_settings, DynamoDbCaStore.from_settings(aws_settings), SecretsManagerKeyVault.from_settings(aws_settings),
        S3Artifacts.from_settings(aws_settings), now=time32.now() - 3600,
    )  # fmt: skip
    monkeypatch.setattr(crl_cmd, "load_settings", lambda: aws_settings)
    return aws_settings


def _cli(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    crl_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["crl", *argv])
    code: int = args.func(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_show_before_any_publish(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli("show", capsys=capsys)
    assert code == 0 and "no CRL published yet" in out and "0 linked, 0 hash" in out


def test_publish_then_show(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    DynamoDbCrlEntryStore.from_settings(settings).add_hashed([HashedEntry(b"\x01" * 10, time32.now() + 999, "r")])
    code, out, _ = _cli("publish", "--json", capsys=capsys)
    assert code == 0
    assert [(c["series"], c["crlSerial"], c["changed"]) for c in json.loads(out)["crls"]] == [
        (settings.crl_series, 1, True), (settings.crl_hash_series, 1, True)]  # fmt: skip
    code, out, _ = _cli("publish", capsys=capsys)
    assert code == 0 and out.count("(unchanged)") == 2
    code, out, _ = _cli("publish", "--force", capsys=capsys)
    assert code == 0 and out.count("(new)") == 2 and "#2" in out
    code, out, _ = _cli("show", "--json", capsys=capsys)
    shown = json.loads(out)
    kinds = {c["series"]: (c["kind"], c["entries"], c["crlSerial"]) for c in shown["crls"]}
    assert kinds == {settings.crl_series: ("fullLinkedCrl", 0, 2), settings.crl_hash_series: ("fullHashCrl", 1, 2)}
    assert shown["stored"] == {"linkedEntries": 0, "hashEntries": 1}


def test_show_reports_a_missing_object(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("publish", capsys=capsys)[0] == 0
    record = DynamoDbCrlEntryStore.from_settings(settings).latest_all()[0]
    boto3.client("s3").delete_object(Bucket=settings.artifacts_bucket, Key=record.s3_key)
    code, out, _ = _cli("show", capsys=capsys)
    assert code == 1 and "object missing" in out


class _Payload:
    def __init__(self, body: Any) -> None:
        self._body = json.dumps(body).encode()

    def read(self) -> bytes:
        return self._body


class _Lambda:
    def __init__(self, body: Any, error: bool = False) -> None:
        self.body, self.error = body, error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"Payload": _Payload(self.body), **({"FunctionError": "Unhandled"} if self.error else {})}


def test_publish_through_the_lambda() -> None:
    crl = {"craca": "00" * 8, "series": 1, "crlSerial": 3, "issueDate": 1, "nextCrl": 2, "changed": True}
    client = _Lambda({"crls": [crl]})
    assert crl_cmd.lambda_publisher("CrlgFunction", client)(True) == [crl]
    assert client.calls[0]["FunctionName"] == "CrlgFunction"
    assert json.loads(client.calls[0]["Payload"]) == {"force": True}


def test_publish_through_the_lambda_reports_its_error() -> None:
    failing = crl_cmd.lambda_publisher("CrlgFunction", _Lambda({"errorType": "PublishError"}, error=True))
    out, err = io.StringIO(), io.StringIO()
    code = crl_cmd.execute("publish", store=None, read_object=lambda key: None, publisher=failing,  # type: ignore[arg-type]
                           force=False, as_json=False, out=out, err=err)  # fmt: skip
    assert code == 1 and "PublishError" in err.getvalue() and out.getvalue() == ""
