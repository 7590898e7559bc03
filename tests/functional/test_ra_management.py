"""RA management: the DynamoDB DeviceStore under moto (conditions really run) and the management API."""

from __future__ import annotations

import hashlib
import json
from types import ModuleType
from typing import Any

import boto3
import pytest
from chalice.test import Client
from scms_service.config import Settings
from scms_service.lifecycle import DeviceState as S
from scms_service.stores.devices import DeviceStore, DynamoDeviceStore, StaleDevice

from tests.events import load_event
from tests.functional.ra_app import API_KEY, ra_fixture  # noqa: F401 (the "ra" fixture)
from tests.unit.ra.device_store_contract import DeviceStoreContract, make_device

G_COMPRESSED = "036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
OTHER_KEY = "02" + "7cf27b188d034f7e8a52380304b51ac3c08969e277f21b35a60b48fc47669978"  # 2·G
G_Y = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
JSON_HEADERS = {"Content-Type": "application/json", "X-Api-Key": API_KEY}


class TestDynamoDeviceStore(DeviceStoreContract):
    @pytest.fixture
    def store(self, aws_settings: Settings) -> DeviceStore:
        return DynamoDeviceStore(aws_settings.ra_table)


def _items(settings: Settings) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=settings.ra_table)["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def _register(client: Client, device_id: str = "obu-1", key: str = G_COMPRESSED, **extra: Any) -> Any:
    body = {"device_id": device_id, "canonical_public_key": key, "permissions": [{"psid": 32}], **extra}
    return client.http.post("/manage/v1/devices", headers=JSON_HEADERS, body=json.dumps(body))


def _post(client: Client, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.http.post(path, headers=headers or JSON_HEADERS, body=json.dumps(body))


def test_register_returns_201_with_default_canonical_id_and_audit(ra: ModuleType) -> None:
    with Client(ra.app) as client:
        response = _register(client)
    assert response.status_code == 201
    device = response.json_body
    assert device["state"] == "Registered" and device["version"] == 1
    # protocol.md §3.1: the SHA-256 of x‖y (here of the generator G), computed independently.
    assert device["canonical_id"] == hashlib.sha256(bytes.fromhex(G_COMPRESSED[2:] + G_Y)).hexdigest()
    assert device["canonical_public_key"] == G_COMPRESSED
    assert [a["state"] for a in device["audit"]] == ["Registered"]


def test_register_accepts_uncompressed_key_and_stores_it_compressed(ra: ModuleType) -> None:
    uncompressed = "04" + G_COMPRESSED[2:] + G_Y
    with Client(ra.app) as client:
        response = _register(client, key=uncompressed)
        shown = client.http.get("/manage/v1/devices/obu-1", headers=JSON_HEADERS)
    assert response.status_code == 201
    assert shown.json_body["canonical_public_key"] == G_COMPRESSED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"device_id": "bad id!", "canonical_public_key": G_COMPRESSED}, "device_id"),
        ({"device_id": "x"}, "canonical_public_key"),
        ({"device_id": "x", "canonical_public_key": "02" + "ff" * 32}, "canonical_public_key"),
        (
            {"device_id": "x", "canonical_public_key": G_COMPRESSED, "permissions": [{"psid": -1}]},
            "permissions[0].psid",
        ),
        (
            {"device_id": "x", "canonical_public_key": G_COMPRESSED, "permissions": [{"psid": 1, "ssp": "zz"}]},
            "permissions[0].ssp",
        ),
        ({"device_id": "x", "canonical_public_key": G_COMPRESSED, "region": {"countries": []}}, "region.countries"),
        ({"device_id": "x", "canonical_public_key": G_COMPRESSED, "policy": {"cert_type": "both"}}, "policy.cert_type"),
        ({"device_id": "x", "canonical_public_key": G_COMPRESSED, "colour": "red"}, "colour"),
    ],
)
def test_register_rejects_bad_field_with_400_naming_it_and_stores_nothing(
    ra: ModuleType, aws_settings: Settings, body: dict[str, Any], field: str
) -> None:
    with Client(ra.app) as client:
        response = client.http.post("/manage/v1/devices", headers=JSON_HEADERS, body=json.dumps(body))
    assert response.status_code == 400
    assert response.json_body["error"].startswith(field + ":")
    assert _items(aws_settings) == []


def test_register_rejects_non_json_body(ra: ModuleType) -> None:
    with Client(ra.app) as client:
        response = client.http.post("/manage/v1/devices", headers=JSON_HEADERS, body=b"\xff not json")
    assert response.status_code == 400
    assert response.json_body["error"].startswith("body:")


def test_register_duplicate_device_id_or_canonical_key_is_409_and_changes_nothing(
    ra: ModuleType, aws_settings: Settings
) -> None:
    with Client(ra.app) as client:
        assert _register(client).status_code == 201
        before = _items(aws_settings)
        same_id = _register(client, key=OTHER_KEY)
        same_key = _register(client, device_id="obu-2")
    assert (same_id.status_code, same_key.status_code) == (409, 409)
    assert "canonical_id" in same_key.json_body["error"]
    assert _items(aws_settings) == before


def test_missing_api_key_is_401_and_wrong_key_403_and_nothing_changes(ra: ModuleType, aws_settings: Settings) -> None:
    body = json.dumps({"device_id": "obu-1", "canonical_public_key": G_COMPRESSED})
    with Client(ra.app) as client:
        missing = client.http.post("/manage/v1/devices", headers={"Content-Type": "application/json"}, body=body)
        wrong = client.http.post(
            "/manage/v1/devices", headers={"Content-Type": "application/json", "X-Api-Key": "guess"}, body=body
        )
        listing = client.http.get("/manage/v1/devices", headers={"X-Api-Key": "guess"})
    assert (missing.status_code, wrong.status_code, listing.status_code) == (401, 403, 403)
    assert _items(aws_settings) == []


def test_right_key_is_accepted_for_the_same_request(ra: ModuleType) -> None:
    with Client(ra.app) as client:
        assert _register(client).status_code == 201


def test_read_unknown_device_is_404(ra: ModuleType) -> None:
    with Client(ra.app) as client:
        response = client.http.get("/manage/v1/devices/nobody", headers=JSON_HEADERS)
    assert response.status_code == 404


def test_list_pages_devices(ra: ModuleType) -> None:
    keys = [G_COMPRESSED, OTHER_KEY, "025ecbe4d1a6330a44c8f7ef951d4bf165e6c6b721efada985fb41661bc6e7fd6c"]  # 3·G
    with Client(ra.app) as client:
        for n, key in enumerate(keys):
            assert _register(client, device_id=f"d{n}", key=key).status_code == 201
        first = client.http.get("/manage/v1/devices?limit=2", headers=JSON_HEADERS).json_body
        second = client.http.get(f"/manage/v1/devices?limit=2&next={first['next']}", headers=JSON_HEADERS).json_body
        bad = client.http.get("/manage/v1/devices?limit=0", headers=JSON_HEADERS)
    ids = [d["device_id"] for d in first["devices"] + second["devices"]]
    assert sorted(ids) == ["d0", "d1", "d2"] and second["next"] is None
    assert bad.status_code == 400


def test_block_unblock_delete_walk_the_lifecycle_with_audit(ra: ModuleType) -> None:
    with Client(ra.app) as client:
        _register(client)
        blocked = _post(client, "/manage/v1/devices/obu-1/block", {"cause": "MA instruction"})
        unblocked = _post(client, "/manage/v1/devices/obu-1/unblock", {"cause": "cleared"})
        deleted = client.http.delete("/manage/v1/devices/obu-1", headers={"X-Api-Key": API_KEY})
        shown = client.http.get("/manage/v1/devices/obu-1", headers=JSON_HEADERS)
    assert blocked.json_body["state"] == "Blocked" and blocked.json_body["previous_state"] == "Registered"
    assert unblocked.json_body["state"] == "Registered"
    assert deleted.status_code == 200 and deleted.json_body["state"] == "Deleted"
    audit = shown.json_body["audit"]
    assert [(a["previous"], a["state"], a["cause"]) for a in audit] == [
        (None, "Registered", "registered"),
        ("Registered", "Blocked", "MA instruction"),
        ("Blocked", "Registered", "cleared"),
        ("Registered", "Deleted", "deleted by operator"),
    ]


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        ([], "/unblock"),  # Registered is not Blocked
        (["/block"], "/block"),  # Blocked → Blocked
        (["/delete"], "/block"),  # Deleted is terminal
    ],
)
def test_illegal_transition_is_409_and_nothing_changes(
    ra: ModuleType, aws_settings: Settings, steps: list[str], refused: str
) -> None:
    with Client(ra.app) as client:
        _register(client)
        for step in steps:
            if step == "/delete":
                assert client.http.delete("/manage/v1/devices/obu-1", headers=JSON_HEADERS).status_code == 200
            else:
                assert _post(client, f"/manage/v1/devices/obu-1{step}", {"cause": "c"}).status_code == 200
        before = _items(aws_settings)
        response = _post(client, f"/manage/v1/devices/obu-1{refused}", {"cause": "c"})
    assert response.status_code == 409
    assert _items(aws_settings) == before


def test_transition_with_stale_version_is_409_and_nothing_changes(ra: ModuleType, aws_settings: Settings) -> None:
    with Client(ra.app) as client:
        seen = _register(client).json_body["version"]
        assert _post(client, "/manage/v1/devices/obu-1/block", {"cause": "first", "version": seen}).status_code == 200
        before = _items(aws_settings)
        stale = _post(client, "/manage/v1/devices/obu-1/unblock", {"cause": "second", "version": seen})
        fresh = _post(client, "/manage/v1/devices/obu-1/unblock", {"cause": "second", "version": seen + 1})
    assert stale.status_code == 409
    assert fresh.status_code == 200
    assert before != _items(aws_settings)


def test_concurrent_change_between_read_and_write_is_refused(aws_settings: Settings) -> None:
    # Given a store whose first transaction is preceded by another writer's transition,
    store = DynamoDeviceStore(aws_settings.ra_table)
    store.create(make_device(), actor="op", now_unix=1)
    real = boto3.client("dynamodb")

    class Racing:
        raced = False

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def transact_write_items(self, **kwargs: Any) -> Any:
            if not Racing.raced:
                Racing.raced = True
                other.transition("dev-1", S.BLOCKED, expected=S.REGISTERED, cause="other", actor="op", now_unix=2)
            return real.transact_write_items(**kwargs)

    other = DynamoDeviceStore(aws_settings.ra_table, client=real)
    racing = DynamoDeviceStore(aws_settings.ra_table, client=Racing())
    # When this store transitions from the state it read,
    with pytest.raises(StaleDevice):
        racing.transition("dev-1", S.REVOKED, expected=S.REGISTERED, cause="mine", actor="op", now_unix=3)
    # Then the other writer's change stands alone.
    device = store.get("dev-1")
    assert device is not None and device.state is S.BLOCKED and device.version == 2
    assert [a.cause for a in store.audit("dev-1")] == ["registered", "other"]


def test_real_register_event_through_the_lambda_entry_point(ra: ModuleType) -> None:
    event = load_event("ra_register_device")
    event["headers"]["X-Api-Key"] = API_KEY
    event["multiValueHeaders"]["X-Api-Key"] = [API_KEY]
    result = ra.app(event, None)
    assert result["statusCode"] == 201
    assert json.loads(result["body"])["device_id"] == "obu-0001"


def test_real_register_event_without_key_is_401(ra: ModuleType) -> None:
    event = load_event("ra_register_device")
    del event["headers"]["X-Api-Key"]
    del event["multiValueHeaders"]["X-Api-Key"]
    assert ra.app(event, None)["statusCode"] == 401
