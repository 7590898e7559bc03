"""The local cloud's state snapshot read from moto's backends in-process: the same file as through the API.

``LocalCloud.snapshot`` reads items and objects from the moto server of its own process instead of a
Scan and a GET per object (bench/results/README.md: seconds of the busy server's CPU every 30 s). These
tests hold it to the API path (``state.snapshot`` with boto3 clients, as before) on every attribute
type, and take it round trip: snapshot → file → restore into an emptied moto → the same items (found
through their GSI too), objects and secrets.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scms_service.config import Settings

from scms_cli.local import state as local_state
from scms_cli.local.cloud import LocalCloud, moto_table_rows
from scms_cli.local.template import TABLE_SETTINGS

SETTINGS = Settings()
TABLES = [getattr(SETTINGS, f) for f in TABLE_SETTINGS.values()]

DEVICE_ENROLLMENT = {
    "pk": {"S": "DEVICE#d1"},
    "sk": {"S": "ENROLLMENT#0011223344556677"},
    "enrollmentCertId": {"S": "0011223344556677"},  # the byEnrollmentCert GSI's key
    "validFrom": {"N": "12345"},
}
EVERY_TYPE = {
    "pk": {"S": "REQ#00ff00ff00ff00ff"},
    "sk": {"S": "CERT#00001#000"},
    "spdu": {"B": b"\x00\xff\x80binary"},
    "empty": {"B": b""},
    "blobs": {"BS": [b"\x01", b"\x02\x00"]},
    "count": {"N": "-1.50"},
    "big": {"N": "123456789012345678901234567890"},
    "numbers": {"NS": ["1", "2.5"]},
    "names": {"SS": ["a", "b"]},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "days": {"M": {"20000": {"N": "3"}, "raw": {"B": b"\x03\x04"}, "deep": {"M": {"x": {"BS": [b"\x09"]}}}}},
    "list": {"L": [{"B": b"\x05"}, {"N": "7"}, {"S": "s"}, {"L": [{"B": b"\x06"}]}, {"NULL": True}]},
}


def _reset_moto(cloud: LocalCloud) -> None:
    request = urllib.request.Request(f"{cloud.endpoint}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    """A local cloud in this process: the template's tables and bucket, a KMS key; emptied afterwards."""
    local = LocalCloud()
    local.start()
    _reset_moto(local)  # nothing of another test's moto use in this process
    local.create_kms_key(None)
    local.create_resources(SETTINGS)
    try:
        yield local
    finally:
        _reset_moto(local)
        local.stop()


def _fill(cloud: LocalCloud) -> None:
    dynamodb = cloud.client("dynamodb")
    dynamodb.put_item(TableName=SETTINGS.ra_table, Item=DEVICE_ENROLLMENT)
    dynamodb.put_item(TableName=SETTINGS.ra_table, Item=EVERY_TYPE)
    for n in range(30):
        dynamodb.put_item(TableName=SETTINGS.aca_table, Item={"pk": {"S": f"REQ#{n:04d}"}, "sk": {"S": "REQ"},
                                                              "response": {"B": bytes([n]) * 40}})  # fmt: skip
    s3 = cloud.client("s3")
    s3.put_object(Bucket=SETTINGS.artifacts_bucket, Key="batches/a_1.zip", Body=b"PK\x03\x04zip",
                  ContentType="application/zip", Metadata={"Generated": "12", "owner": "ra"})  # fmt: skip
    s3.put_object(Bucket=SETTINGS.artifacts_bucket, Key="chain/root.oer", Body=b"\x80\x03")
    s3.put_object(Bucket=SETTINGS.artifacts_bucket, Key="gone", Body=b"x")
    s3.delete_object(Bucket=SETTINGS.artifacts_bucket, Key="gone")
    manager = cloud.client("secretsmanager")
    manager.create_secret(Name="scms/local/ca/root/00", SecretString="pem", Description="d",
                          Tags=[{"Key": "role", "Value": "root"}])  # fmt: skip
    manager.create_secret(Name="scms/local/bin", SecretBinary=b"\x00\x01")


def _api_snapshot(cloud: LocalCloud) -> dict[str, Any]:
    """The snapshot as it was made before: a Scan of every table and a GET per object through boto3."""
    return local_state.snapshot(
        dynamodb=cloud.client("dynamodb"),
        s3=cloud.client("s3"),
        secretsmanager=cloud.client("secretsmanager"),
        tables=TABLES,
        bucket=SETTINGS.artifacts_bucket,
        kms_key=cloud.snapshot(SETTINGS)["kms"],
    )


def _canonical(data: dict[str, Any]) -> dict[str, Any]:
    """Order-free form: rows by (pk, sk), objects by key, secrets by name."""
    out = dict(data)
    out["dynamodb"] = {
        t: sorted(rows, key=lambda r: (r["pk"]["S"], r["sk"]["S"])) for t, rows in data["dynamodb"].items()
    }
    out["s3"] = {**data["s3"], "objects": sorted(data["s3"]["objects"], key=lambda o: o["key"])}
    out["secrets"] = sorted(data["secrets"], key=lambda s: s["name"])
    return out


def _row(data: dict[str, Any], table: str, pk: str, sk: str) -> dict[str, Any]:
    (row,) = [r for r in data["dynamodb"][table] if r["pk"]["S"] == pk and r["sk"]["S"] == sk]
    found: dict[str, Any] = row
    return found


def test_in_process_snapshot_equals_the_api_snapshot_for_every_attribute_type(cloud: LocalCloud) -> None:
    # Given items of every DynamoDB type (binaries at the top, in maps, lists and sets), objects with a
    # content type and user metadata, a deleted object, and string and binary secrets,
    _fill(cloud)
    # When the snapshot is read from moto's backends in this process,
    fast = cloud.snapshot(SETTINGS)
    # Then it is what the Scan/GET path writes, item for item, object for object.
    assert _canonical(fast) == _canonical(_api_snapshot(cloud))
    assert set(fast["dynamodb"]) == set(TABLES)
    assert len(fast["dynamodb"][SETTINGS.aca_table]) == 30
    assert [o["key"] for o in fast["s3"]["objects"]] == ["batches/a_1.zip", "chain/root.oer"]
    # and it survives the JSON of the state file unchanged.
    assert json.loads(json.dumps(fast)) == fast


def test_in_process_snapshot_is_a_copy_taken_at_one_instant(cloud: LocalCloud) -> None:
    # Given a snapshot,
    _fill(cloud)
    before = cloud.snapshot(SETTINGS)
    kept = json.dumps(before, sort_keys=True)
    # When the item then changes in place in moto (a set grows, a map member is set) and an object is replaced,
    dynamodb = cloud.client("dynamodb")
    dynamodb.update_item(TableName=SETTINGS.ra_table, Key={"pk": EVERY_TYPE["pk"], "sk": EVERY_TYPE["sk"]},
                         UpdateExpression="ADD #names :c SET days.#d = :n",
                         ExpressionAttributeNames={"#names": "names", "#d": "20000"},
                         ExpressionAttributeValues={":c": {"SS": ["c"]}, ":n": {"N": "4"}})  # fmt: skip
    cloud.client("s3").put_object(Bucket=SETTINGS.artifacts_bucket, Key="chain/root.oer", Body=b"\x80\x04")
    # Then the snapshot taken before holds the old values (copied, not referenced),
    assert json.dumps(before, sort_keys=True) == kept
    old = _row(before, SETTINGS.ra_table, "REQ#00ff00ff00ff00ff", "CERT#00001#000")
    assert sorted(old["names"]["SS"]) == ["a", "b"]
    # and (twin) a new one has the changes, as the API path sees them.
    after = cloud.snapshot(SETTINGS)
    row = _row(after, SETTINGS.ra_table, "REQ#00ff00ff00ff00ff", "CERT#00001#000")
    assert sorted(row["names"]["SS"]) == ["a", "b", "c"] and row["days"]["M"]["20000"] == {"N": "4"}
    assert _canonical(after) == _canonical(_api_snapshot(cloud)) != _canonical(before)


def test_snapshot_restores_into_an_empty_cloud_with_the_same_items_objects_and_secrets(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    # Given a snapshot written to the state file,
    _fill(cloud)
    local_state.write_state(tmp_path, cloud.snapshot(SETTINGS))
    expected = _canonical(_api_snapshot(cloud))
    cloud.client("dynamodb").put_item(TableName=SETTINGS.ra_table,
                                      Item={"pk": {"S": "DEVICE#late"}, "sk": {"S": "STATE"}})  # fmt: skip
    # When moto is emptied and the file restored as `scms serve` starts (KMS key, resources, contents),
    saved = local_state.read_state(tmp_path)
    assert saved is not None
    _reset_moto(cloud)
    cloud.create_kms_key(saved["kms"])
    cloud.create_resources(SETTINGS)
    cloud.restore(saved)
    # Then the API sees the same items, objects and secrets (the KMS key too),
    assert _canonical(_api_snapshot(cloud)) == expected
    # the device is found through its GSI again,
    found = cloud.client("dynamodb").query(
        TableName=SETTINGS.ra_table, IndexName="byEnrollmentCert",
        KeyConditionExpression="enrollmentCertId = :c", ExpressionAttributeValues={":c": {"S": "0011223344556677"}},
    )["Items"]  # fmt: skip
    assert [item["pk"]["S"] for item in found] == ["DEVICE#d1"]
    value = cloud.client("secretsmanager").get_secret_value(SecretId="scms/local/bin")
    assert value["SecretBinary"] == b"\x00\x01"
    # and (twin) what was written after the snapshot is not there.
    assert "Item" not in cloud.client("dynamodb").get_item(
        TableName=SETTINGS.ra_table, Key={"pk": {"S": "DEVICE#late"}, "sk": {"S": "STATE"}}
    )


def test_a_missing_table_fails_the_snapshot_and_leaves_the_state_file(cloud: LocalCloud, tmp_path: Path) -> None:
    # Given a state file,
    path = local_state.write_state(tmp_path, cloud.snapshot(SETTINGS))
    before = path.read_bytes()
    # When a table the template names is gone from moto,
    cloud.client("dynamodb").delete_table(TableName=SETTINGS.eca_table)
    # Then the snapshot fails (as the Scan did) and the file is not replaced,
    with pytest.raises(LookupError, match=SETTINGS.eca_table):
        cloud.save(SETTINGS, tmp_path)
    assert path.read_bytes() == before
    # while (twin) the tables that exist are read.
    assert set(moto_table_rows([SETTINGS.ra_table])) == {SETTINGS.ra_table}


def test_a_periodic_save_of_an_unchanged_cloud_writes_nothing(cloud: LocalCloud, tmp_path: Path) -> None:
    # Given a state saved once,
    _fill(cloud)
    first = cloud.save(SETTINGS, tmp_path, unless_unchanged=True)
    assert first is not None
    inode = first.stat().st_ino
    # When only reads were answered since (items, a query, an object, a secret, a listing),
    dynamodb = cloud.client("dynamodb")
    dynamodb.get_item(TableName=SETTINGS.ra_table, Key={"pk": EVERY_TYPE["pk"], "sk": EVERY_TYPE["sk"]})
    dynamodb.query(TableName=SETTINGS.ra_table, KeyConditionExpression="pk = :p",
                   ExpressionAttributeValues={":p": {"S": "DEVICE#d1"}})  # fmt: skip
    cloud.client("s3").get_object(Bucket=SETTINGS.artifacts_bucket, Key="chain/root.oer")
    cloud.client("s3").list_objects_v2(Bucket=SETTINGS.artifacts_bucket)
    cloud.client("secretsmanager").get_secret_value(SecretId="scms/local/bin")
    # Then a periodic save skips (the file is the same file), while a plain save still writes.
    assert cloud.save(SETTINGS, tmp_path, unless_unchanged=True) is None
    assert first.stat().st_ino == inode
    forced = cloud.save(SETTINGS, tmp_path)
    assert forced is not None and forced.stat().st_ino != inode


@pytest.mark.parametrize("change", ["item", "object", "secret", "delete"])
def test_a_periodic_save_after_a_change_writes_it(cloud: LocalCloud, tmp_path: Path, change: str) -> None:
    # Twin: after any write the periodic save runs and the file holds the change.
    _fill(cloud)
    assert cloud.save(SETTINGS, tmp_path, unless_unchanged=True) is not None
    assert cloud.save(SETTINGS, tmp_path, unless_unchanged=True) is None
    if change == "item":
        cloud.client("dynamodb").put_item(TableName=SETTINGS.ra_table,
                                          Item={"pk": {"S": "DEVICE#new"}, "sk": {"S": "STATE"}})  # fmt: skip
    elif change == "object":
        cloud.client("s3").put_object(Bucket=SETTINGS.artifacts_bucket, Key="batches/new.zip", Body=b"z")
    elif change == "secret":
        cloud.client("secretsmanager").put_secret_value(SecretId="scms/local/bin", SecretBinary=b"\x07")
    else:
        cloud.client("dynamodb").delete_item(TableName=SETTINGS.ra_table,
                                             Key={"pk": EVERY_TYPE["pk"], "sk": EVERY_TYPE["sk"]})  # fmt: skip
    assert cloud.save(SETTINGS, tmp_path, unless_unchanged=True) is not None
    saved = local_state.read_state(tmp_path)
    assert saved is not None and _canonical(saved) == _canonical(_api_snapshot(cloud))
