"""`scms init` against moto (DynamoDB with the template's CaTable, Secrets Manager under KMS, S3).

The DynamoDB conditions and transactions of the CaStore adapter really run here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from scms_service.config import Settings
from scms_service.errors import Conflict
from scms_service.hierarchy import ROLES, Hierarchy, HierarchyError, cert_key, chain_key, ctl_key
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import CaRecord, CtlRecord, DynamoDbCaStore, SecretsManagerKeyVault

from scms_cli.main import main
from scms_codec.cert.certificate import Certificate
from scms_codec.cert.chain import verify_chain
from scms_codec.time32 import now as time32_now


@pytest.fixture
def env(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The fixture's settings, also in the environment that `scms init` reads."""
    monkeypatch.setenv("SCMS_KMS_KEY_ID", aws_settings.kms_key_id)
    yield aws_settings


def _stores(settings: Settings) -> tuple[DynamoDbCaStore, SecretsManagerKeyVault, S3Artifacts]:
    return (
        DynamoDbCaStore.from_settings(settings),
        SecretsManagerKeyVault.from_settings(settings),
        S3Artifacts.from_settings(settings),
    )


def _everything(settings: Settings) -> dict[str, Any]:
    """Every item, secret (with value, version and KMS key) and S3 object (with its ETag and time)."""
    ddb, sm, s3 = boto3.client("dynamodb"), boto3.client("secretsmanager"), boto3.client("s3")
    items = ddb.scan(TableName=settings.ca_table, ConsistentRead=True)["Items"]
    secrets = {}
    for entry in sm.list_secrets()["SecretList"]:
        value = sm.get_secret_value(SecretId=entry["Name"])
        secrets[entry["Name"]] = (value["SecretString"], value["VersionId"], entry.get("KmsKeyId"))
    objects = {}
    for obj in s3.list_objects_v2(Bucket=settings.artifacts_bucket).get("Contents", []):
        body = s3.get_object(Bucket=settings.artifacts_bucket, Key=obj["Key"])["Body"].read()
        objects[obj["Key"]] = (body, obj["ETag"], obj["LastModified"])
    return {"items": sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"])), "secrets": secrets, "objects": objects}


def test_init_creates_the_hierarchy_in_aws_and_prints_no_key(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    # When
    assert main(["init"]) == 0
    # Then every role is stored, keyed, published, and chains to the root now
    out = capsys.readouterr().out
    state = _everything(env)
    ca_store, vault, artifacts = _stores(env)
    h = Hierarchy.load(ca_store, vault)
    assert h.roles == ROLES
    for role in ROLES:
        record = h.record(role)
        assert record.hashed_id8.hex() in out and record.key_secret in out
        assert state["secrets"][record.key_secret][2] == env.kms_key_id
        assert state["secrets"][record.key_secret][0] not in out
        assert artifacts.get(cert_key(record.hashed_id8)) == record.certificate
        assert artifacts.get(chain_key(role)) is not None
        chain = h.chain(role)
        verify_chain(chain[0], chain[1:], [chain[-1]], at=time32_now())
    assert h.signer("ra").certificate == h.certificate("ra")
    root = h.certificate("root")
    assert artifacts.get(ctl_key(root.hashed_id8, 1)) is not None
    # Only the digest of the printed management key is stored.
    digest = state["secrets"][env.management_api_key_secret][0]
    assert "Management API key" in out and digest not in out


def test_init_again_changes_no_item_secret_or_object(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 0
    before = _everything(env)
    capsys.readouterr()
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    assert _everything(env) == before
    assert "nothing changed" in out and "Management API key" not in out


def test_rotate_keeps_the_old_certificate_findable_by_hashed_id8(env: Settings) -> None:
    assert main(["init"]) == 0
    ca_store, vault, artifacts = _stores(env)
    old = Hierarchy.load(ca_store, vault).certificate("eca")
    # When
    assert main(["init", "--rotate", "eca"]) == 0
    # Then
    h = Hierarchy.load(ca_store, vault)
    new = h.certificate("eca")
    assert new != old
    old_record = ca_store.by_hashed_id8(old.hashed_id8)  # the byHashedId8 GSI
    assert old_record is not None and not old_record.active and old_record.role == "eca"
    assert {r.hashed_id8: r.active for r in ca_store.records("eca")} == {old.hashed_id8: False, new.hashed_id8: True}
    assert artifacts.get(cert_key(old.hashed_id8)) == old.encoded
    assert Certificate.from_bytes(artifacts.get(cert_key(new.hashed_id8)) or b"") == new
    assert vault.get(old_record.key_secret) is not None


def test_rotate_root_exits_1_and_changes_nothing(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 0
    before = _everything(env)
    capsys.readouterr()
    assert main(["init", "--rotate", "root"]) == 1
    assert "root cannot be rotated" in capsys.readouterr().err
    assert _everything(env) == before


def test_create_for_an_existing_role_is_refused_by_the_table(env: Settings) -> None:
    assert main(["init"]) == 0
    ca_store, vault, _ = _stores(env)
    record = Hierarchy.load(ca_store, vault).record("ma")
    before = _everything(env)["items"]
    with pytest.raises(Conflict):
        ca_store.create(replace(record, hashed_id8=b"\x02" * 8))
    assert _everything(env)["items"] == before


def test_rotate_from_a_stale_active_certificate_is_refused_by_the_table(env: Settings) -> None:
    assert main(["init"]) == 0
    ca_store, vault, _ = _stores(env)
    record = Hierarchy.load(ca_store, vault).record("la1")
    before = _everything(env)["items"]
    with pytest.raises(Conflict):
        ca_store.rotate(replace(record, hashed_id8=b"\x03" * 8), previous=b"\x04" * 8)
    assert _everything(env)["items"] == before
    # Its twin: from the active certificate, the same rotation goes through.
    ca_store.rotate(replace(record, hashed_id8=b"\x03" * 8, active=True), previous=record.hashed_id8)
    assert [r.hashed_id8 for r in ca_store.records("la1") if r.active] == [b"\x03" * 8]


def test_a_ctl_sequence_number_is_stored_once(env: Settings) -> None:
    ca_store, _, _ = _stores(env)
    ctl = CtlRecord(b"\x05" * 8, 1, b"spdu", 1)
    ca_store.put_ctl(ctl)
    with pytest.raises(Conflict):
        ca_store.put_ctl(replace(ctl, spdu=b"other"))
    assert ca_store.ctls(b"\x05" * 8) == [ctl]


def test_a_secret_is_never_overwritten(env: Settings) -> None:
    _, vault, _ = _stores(env)
    vault.create("scms/ca/test/00", "first")
    with pytest.raises(Conflict):
        vault.create("scms/ca/test/00", "second")
    assert vault.get("scms/ca/test/00") == "first" and vault.get("scms/ca/test/01") is None


def test_a_tampered_certificate_item_is_detected_on_load(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 0
    ca_store, vault, _ = _stores(env)
    record: CaRecord = Hierarchy.load(ca_store, vault).record("aca")
    # Given one signature octet of the stored ACA certificate flipped
    tampered = bytearray(record.certificate)
    tampered[-1] ^= 0x01
    boto3.client("dynamodb").update_item(
        TableName=env.ca_table,
        Key={"pk": {"S": "ROLE#aca"}, "sk": {"S": f"CERT#{record.hashed_id8.hex()}"}},
        UpdateExpression="SET certificate = :c",
        ExpressionAttributeValues={":c": {"B": bytes(tampered)}},
    )
    # Then loading fails, and so does `scms init`, with a message naming the certificate
    with pytest.raises(HierarchyError):
        Hierarchy.load(ca_store, vault)
    capsys.readouterr()
    assert main(["init"]) == 1
    assert "aca" in capsys.readouterr().err


def test_missing_table_exits_1_with_a_clear_message(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("dynamodb").delete_table(TableName=env.ca_table)
    assert main(["init"]) == 1
    assert capsys.readouterr().err.startswith("scms init: CA table")
