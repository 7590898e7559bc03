"""The local cloud of ``make serve``: API-Gateway routing onto Chalice apps, state across restarts, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from scms_service.config import load_settings
from werkzeug.test import Client

from scms_cli.local.gateway import Gateway, load_handler
from scms_cli.local.state import read_state, write_state
from scms_cli.local.template import TABLE_SETTINGS, api_routes, functions
from tests.e2e.conftest import REPO, RunningStack, start_stack

FIXTURE_APP = '''
from chalice import Chalice, Response

app = Chalice(app_name="fixture")


@app.route("/v3/echo", methods=["POST"], content_types=["application/octet-stream"])
def echo():
    body = app.current_request.raw_body
    return Response(body=body[::-1], headers={"Content-Type": "application/octet-stream"})


@app.route("/items", methods=["GET"])
def items():
    request = app.current_request
    return {"query": dict(request.query_params or {}), "accept": request.headers.get("accept")}


@app.route("/items/{item_id}", methods=["GET", "DELETE"])
def item(item_id):
    return {"id": item_id, "resource": app.current_request.context["resourcePath"]}


@app.route("/items/special", methods=["GET"])
def special():
    return {"special": True}
'''

EVENTS = {
    "Echo": ("post", "/v3/echo"),
    "Items": ("get", "/items"),
    "Item": ("get", "/items/{item_id}"),
    "DeleteItem": ("delete", "/items/{item_id}"),
    "Special": ("get", "/items/special"),
}


@pytest.fixture
def gateway(tmp_path: Path) -> Client:
    """A gateway over a one-function template whose CodeUri holds FIXTURE_APP."""
    code = tmp_path / "fixture"
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent(FIXTURE_APP), encoding="utf-8")
    template: dict[str, Any] = {
        "Resources": {
            "FixtureFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "fixture/",
                    "Handler": "app.app",
                    "Events": {
                        name: {"Type": "Api", "Properties": {"Method": method, "Path": path}}
                        for name, (method, path) in EVENTS.items()
                    },
                },
            }
        }
    }
    (spec,) = functions(template, base=tmp_path)
    return Client(Gateway.from_template(api_routes(template), {spec.logical_id: load_handler(spec)}))


def test_gateway_routes_a_binary_post_and_returns_raw_bytes(gateway: Client) -> None:
    # Given non-UTF-8 bytes, When POSTed as octet-stream,
    body = bytes(range(256))
    octets = "application/octet-stream"
    response = gateway.post("/v3/echo", data=body, headers={"Content-Type": octets, "Accept": octets})
    # Then the app saw them decoded from base64 and its binary answer comes back as bytes.
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.data == body[::-1]


def test_gateway_binary_post_without_accept_reaches_the_app_without_one(gateway: Client) -> None:
    # Given a device that sends no Accept header, When it POSTs bytes,
    response = gateway.post("/v3/echo", data=b"\x01\x02", headers={"Content-Type": "application/octet-stream"})
    # Then the gateway adds none (as API Gateway): the bare Chalice app refuses a binary answer with 400.
    # (The SCMS apps accept it; see test_stack_serves_binary_download_without_accept_header.)
    assert response.status_code == 400
    assert b"Accept" in response.data


def test_gateway_passes_query_parameters_and_leaves_accept_absent(gateway: Client) -> None:
    response = gateway.get("/items?limit=5&next=abc")
    assert response.status_code == 200
    assert response.json == {"query": {"limit": "5", "next": "abc"}, "accept": None}


def test_gateway_sets_path_parameters_and_resource_path(gateway: Client) -> None:
    response = gateway.get("/items/42")
    assert response.json == {"id": "42", "resource": "/items/{item_id}"}


def test_gateway_prefers_a_literal_segment_over_a_path_parameter(gateway: Client) -> None:
    assert gateway.get("/items/special").json == {"special": True}
    assert (gateway.get("/items/specials").json or {})["id"] == "specials"


def test_gateway_answers_404_for_an_unknown_path(gateway: Client) -> None:
    assert gateway.get("/nowhere").status_code == 404
    assert gateway.get("/items/1/2").status_code == 404


def test_gateway_answers_405_for_a_known_path_with_another_method(gateway: Client) -> None:
    assert gateway.put("/items").status_code == 405
    assert gateway.post("/items/7").status_code == 405
    # Twin: the declared method on the same resource is routed.
    assert gateway.delete("/items/7").status_code == 200


def test_real_template_routes_reach_their_functions() -> None:
    # Given the real template, Then every (method, path) resolves to its own function, and others do not.
    routes = api_routes()
    handlers = {spec.logical_id: (lambda e, c, name=spec.logical_id: {"statusCode": 200, "body": name})
                for spec in functions()}  # fmt: skip
    client = Client(Gateway.from_template(routes, handlers))
    for route in routes:
        path = route.path.replace("{device_id}", "dev-1")
        response = client.open(path, method=route.method)
        assert (response.status_code, response.text) == (200, route.function), f"{route.method} {path}"
    assert client.open("/v3/enrollment-certificate", method="GET").status_code == 405
    assert client.open("/v3/authorization-certificate", method="PUT").status_code == 405
    assert client.open("/v3/pseudonym-certificate", method="POST").status_code == 404


# --- state file ---


def test_state_file_is_written_atomically_and_owner_only(tmp_path: Path) -> None:
    # Given a state, When written twice,
    write_state(tmp_path, {"format": 1, "secrets": [{"name": "a", "string": "x"}]})
    path = write_state(tmp_path, {"format": 1, "secrets": [{"name": "b", "string": "y"}]})
    # Then the last one is read back, mode 0600, and no temporary file remains.
    assert read_state(tmp_path) == {"format": 1, "secrets": [{"name": "b", "string": "y"}]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_state_of_an_unknown_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="format"):
        read_state(tmp_path)


def test_no_state_on_first_start(tmp_path: Path) -> None:
    assert read_state(tmp_path / "absent") is None


# --- the whole stack, as `make serve` runs it ---


def _aws(stack: RunningStack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _eca_cert_id(stack: RunningStack) -> str:
    table = _aws(stack, "dynamodb")
    items = table.query(
        TableName="scms-ca",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "ROLE#eca"}},
    )["Items"]
    certs = [item for item in items if "hashedId8" in item]
    assert certs, "the hierarchy has no ECA certificate"
    return str(certs[0]["hashedId8"]["S"])


def _stored_certificate(stack: RunningStack, cert_id: str) -> bytes:
    item = _aws(stack, "dynamodb").get_item(
        TableName="scms-ca", Key={"pk": {"S": "ROLE#eca"}, "sk": {"S": f"CERT#{cert_id}"}}
    )["Item"]
    return bytes(item["certificate"]["B"])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _children(pid: int) -> set[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_stack_serves_binary_download_without_accept_header(tmp_path: Path) -> None:
    stack = start_stack(tmp_path / "state", "--snapshot-seconds", "0")
    try:
        cert_id = _eca_cert_id(stack)
        # When a device GETs the ECA certificate sending no Accept header,
        status, headers, body = _get(f"{stack.url}/v3/ca-certificate?certId={cert_id}")
        # Then it gets the certificate's COER bytes, as stored.
        assert status == 200, body
        assert headers["Content-Type"] == "application/octet-stream"
        assert body == _stored_certificate(stack, cert_id)
        # Twin: a malformed certId is refused with the 1609.2.1 error header, through the same gateway.
        status, headers, _ = _get(f"{stack.url}/v3/ca-certificate?certId=zz")
        assert status == 400 and "Ieee-1609.2.1-Error" in headers
    finally:
        assert stack.stop() == 0


def test_restart_restores_items_secrets_and_the_hierarchy(tmp_path: Path) -> None:
    state = tmp_path / "state"
    # Given a running stack with a device item and a secret written into it,
    first = start_stack(state, "--snapshot-seconds", "0")
    try:
        _aws(first, "dynamodb").put_item(
            TableName="scms-ra", Item={"pk": {"S": "DEVICE#survivor"}, "sk": {"S": "STATE"}, "blob": {"B": b"\x00\xff"}}
        )
        _aws(first, "secretsmanager").create_secret(Name="scms/local/survivor", SecretString="kept")
        cert_id = _eca_cert_id(first)
        _, _, cert = _get(f"{first.url}/v3/ca-certificate?certId={cert_id}", {"Accept": "application/octet-stream"})
        api_key = first.api_key
    finally:
        assert first.stop(signal.SIGTERM) == 0
    assert "state: saved" in first.output
    # When it starts again on the same state directory,
    second = start_stack(state, "--snapshot-seconds", "0")
    try:
        # Then the item (with its binary attribute), the secret and the hierarchy are back, unchanged.
        item = _aws(second, "dynamodb").get_item(
            TableName="scms-ra", Key={"pk": {"S": "DEVICE#survivor"}, "sk": {"S": "STATE"}}
        )["Item"]
        assert item["blob"]["B"] == b"\x00\xff"
        secret = _aws(second, "secretsmanager").get_secret_value(SecretId="scms/local/survivor")
        assert secret["SecretString"] == "kept"
        assert "hierarchy: present" in second.output
        assert _eca_cert_id(second) == cert_id
        _, _, again = _get(f"{second.url}/v3/ca-certificate?certId={cert_id}", {"Accept": "application/octet-stream"})
        assert again == cert == _stored_certificate(second, cert_id)
        assert second.api_key == api_key
    finally:
        assert second.stop(signal.SIGINT) == 0
    # Twin: a stack on another (fresh) state directory has none of it.
    fresh = start_stack(tmp_path / "other", "--snapshot-seconds", "0")
    try:
        assert "Item" not in _aws(fresh, "dynamodb").get_item(
            TableName="scms-ra", Key={"pk": {"S": "DEVICE#survivor"}, "sk": {"S": "STATE"}}
        )
        assert _eca_cert_id(fresh) != cert_id
    finally:
        assert fresh.stop() == 0


def test_clean_shutdown_leaves_no_process_and_frees_the_port(tmp_path: Path) -> None:
    stack = start_stack(tmp_path / "state", "--snapshot-seconds", "1", "--no-init")
    pid = stack.process.pid
    port = int(stack.url.rsplit(":", 1)[1])
    children = _children(pid)
    # When it gets SIGTERM,
    assert stack.stop(signal.SIGTERM) == 0
    # Then it and any child it had are gone, and nothing listens on its port. multiprocessing's resource
    # tracker (a child of the spawn context) leaves when it reads the end of its pipe, i.e. a moment
    # after the server exited: children get a few seconds, the server none.
    assert not _alive(pid)
    deadline = time.monotonic() + 10
    while [c for c in children if _alive(c)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [c for c in children if _alive(c)]
    with socket.socket() as probe, pytest.raises(OSError):
        probe.settimeout(2)
        probe.connect(("127.0.0.1", port))
    state = read_state(stack.state_dir)
    assert state is not None
    # Every table of the template is in the saved state (derived, so a new table is covered too).
    defaults = load_settings({})
    assert set(state["dynamodb"]) == {getattr(defaults, field) for field in TABLE_SETTINGS.values()}


def test_a_failed_restore_leaves_the_state_file_untouched(tmp_path: Path) -> None:
    # Given a state file whose restore fails half-way (its bucket is not the configured one), after
    # its items were put back but before its secrets (the CA private keys) were,
    state_dir = tmp_path / "state"
    saved = {
        "format": 1,
        "dynamodb": {"scms-ra": [{"pk": {"S": "DEVICE#x"}, "sk": {"S": "STATE"}}]},
        "s3": {"bucket": "renamed-bucket", "objects": [{"key": "a", "contentType": "x", "metadata": {}, "body": ""}]},
        "secrets": [{"name": "scms/local/ca/root/0000000000000000", "string": "the only copy of a key"}],
        "kms": None,
    }
    path = write_state(state_dir, saved)
    before = path.read_bytes()
    # When `scms serve` starts on it (and gives up),
    result = subprocess.run(
        [sys.executable, "-m", "scms_cli.main", "serve", "--port", "0", "--state-dir", str(state_dir),
         "--snapshot-seconds", "0", "--no-init"],
        cwd=REPO, env={k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    # Then it fails, and the state file still holds everything it held (no partial snapshot over it).
    assert result.returncode != 0, result.stdout + result.stderr
    assert path.read_bytes() == before


def test_a_successful_restore_is_saved_again_on_shutdown(tmp_path: Path) -> None:
    # Twin: the same state with the configured bucket restores, and shutdown writes it back.
    state_dir = tmp_path / "state"
    saved = {
        "format": 1,
        "dynamodb": {"scms-ra": [{"pk": {"S": "DEVICE#x"}, "sk": {"S": "STATE"}}]},
        "s3": {"bucket": "scms-artifacts", "objects": [{"key": "a", "contentType": "x", "metadata": {}, "body": ""}]},
        "secrets": [{"name": "scms/local/ca/root/0000000000000000", "string": "the only copy of a key"}],
        "kms": None,
    }
    write_state(state_dir, saved)
    stack = start_stack(state_dir, "--snapshot-seconds", "0", "--no-init")
    assert stack.stop() == 0
    state = read_state(state_dir)
    assert state is not None
    assert [s["string"] for s in state["secrets"]] == ["the only copy of a key"]
    saved_items: Any = saved["dynamodb"]
    assert state["dynamodb"]["scms-ra"] == saved_items["scms-ra"]


def test_moto_transactions_keep_their_all_or_nothing_with_the_touched_items_backup(aws_settings: Any) -> None:
    # Given the local cloud's moto DynamoDB patches (one request at a time, rollback of touched items only),
    from botocore.exceptions import ClientError

    from scms_cli.local.cloud import _serialize_moto_dynamodb

    _serialize_moto_dynamodb()
    client = boto3.client("dynamodb")
    table = aws_settings.aca_table

    def key(name: str) -> dict[str, Any]:
        return {"pk": {"S": name}, "sk": {"S": "REQ"}}

    client.put_item(TableName=table, Item={**key("a"), "v": {"N": "1"}})
    # When a transaction puts a new item, updates one and then fails a condition,
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {**key("b"), "v": {"N": "1"}}}},
            {"Update": {"TableName": table, "Key": key("a"), "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Put": {"TableName": table, "Item": {**key("c"), "v": {"N": "3"}},
                     "ConditionExpression": "attribute_exists(pk)"}},
        ])  # fmt: skip
    # Then nothing of it stays: the new item is gone and the updated one is as before.
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in client.get_item(TableName=table, Key=key("b"))
    assert "Item" not in client.get_item(TableName=table, Key=key("c"))
    assert client.get_item(TableName=table, Key=key("a"))["Item"]["v"] == {"N": "1"}
    # Twin: the same transaction without the failing condition applies every write.
    client.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {**key("b"), "v": {"N": "1"}}}},
        {"Update": {"TableName": table, "Key": key("a"), "UpdateExpression": "SET v = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}}}},
    ])  # fmt: skip
    assert client.get_item(TableName=table, Key=key("b"))["Item"]["v"] == {"N": "1"}
    assert client.get_item(TableName=table, Key=key("a"))["Item"]["v"] == {"N": "2"}


def test_function_environments_resolve_and_agreed_scms_variables_become_process_wide() -> None:
    # Given the template's functions and the local physical names (the state machine's ARN included),
    from scms_cli.local.cloud import _physical_names
    from scms_cli.local.template import process_environment, resolve_function

    names = _physical_names("key-id", "local")
    names["ProvisionStateMachine"] = "arn:aws:states:us-east-1:123456789012:stateMachine:ProvisionStateMachine"
    # Ref of a function: its name (RaFunction invokes the ECA task, MaFunction the ACA lookup, the RA's
    # batch tasks, the LA seed tasks and the CRL generator).
    names.update({s.logical_id: s.logical_id for s in functions()})
    specs = {s.logical_id: resolve_function(s, names) for s in functions()}
    # Then RaFunction sees the ARN, and every value is a plain string.
    assert specs["RaFunction"].environment["SCMS_PROVISION_STATE_MACHINE"] == names["ProvisionStateMachine"]
    assert all(isinstance(v, str) and "{" not in v for s in specs.values() for v in s.environment.values())
    shared = process_environment(specs.values())
    assert shared["SCMS_PROVISION_STATE_MACHINE"] == names["ProvisionStateMachine"]
    # Twin: the LAs disagree on SCMS_LA_ID, so it stays each LA's own; an operator's variable is left out.
    assert "SCMS_LA_ID" not in shared
    kept = {s.logical_id: resolve_function(s, names, keep={"SCMS_PROVISION_LANES"}) for s in functions()}
    assert "SCMS_PROVISION_LANES" not in kept["RaBatchFunction"].environment
    assert "SCMS_PROVISION_LANES" not in process_environment(kept.values(), keep={"SCMS_PROVISION_LANES"})
