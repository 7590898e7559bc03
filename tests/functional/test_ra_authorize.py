"""The RA's authorization-request use case on moto's RaTable (DynamoDB conditions really run); no route yet."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from scms_ra.authorize import authorize
from scms_service.config import Settings
from scms_service.errors import BadRequest
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.iperiod import IPeriods
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.auth_requests import DynamoDbAuthRequestStore
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore

from scms_codec import time32
from scms_codec.errors import ErrorCode
from scms_codec.spdu import parse_ra_ee_cert_ack, request_hash
from tests.support.state import assert_unchanged, capture
from tests.unit.ra.ee_auth import EnrolledEe


@pytest.fixture
def now() -> int:
    return time32.now()


@pytest.fixture
def ca(aws_settings: Settings, now: int) -> Hierarchy:
    built, _ = init_hierarchy(
        aws_settings,
        DynamoDbCaStore.from_settings(aws_settings),
        SecretsManagerKeyVault.from_settings(aws_settings),
        S3Artifacts.from_settings(aws_settings),
        now=now - 3600,
    )
    return built


@pytest.fixture
def ee(aws_settings: Settings, ca: Hierarchy, now: int) -> EnrolledEe:
    return EnrolledEe.enroll(
        hierarchy=ca, devices=DynamoDeviceStore(aws_settings.ra_table),
        eca_requests=DynamoDbEcaRequestStore.from_settings(aws_settings), settings=aws_settings, now=now - 600,
    )  # fmt: skip


def _authorize(data: bytes, settings: Settings, ca: Hierarchy, now: int) -> bytes:
    return authorize(
        data, now=now, settings=settings, periods=IPeriods.from_settings(settings),
        devices=DynamoDeviceStore(settings.ra_table), requests=DynamoDbAuthRequestStore.from_settings(settings), ra=ca,
    )  # fmt: skip


@pytest.mark.parametrize("variant", ["original", "unified", "compactUnified", "encryptionKey", "plain"])
def test_each_variant_is_stored_and_read_back_from_ra_table(
    aws_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int, variant: str
) -> None:
    data = ee.request(ca.certificate("ra"), generation_time=now, params=variant)
    ack = _authorize(data, aws_settings, ca, now)
    assert parse_ra_ee_cert_ack(ack).content.request_hash == request_hash(data)
    record = DynamoDbAuthRequestStore.from_settings(aws_settings).get(request_hash(data))
    assert record is not None and record.variant == variant and record.ack == ack
    device = DynamoDeviceStore(aws_settings.ra_table).get(ee.ee.device_id)
    assert device is not None and device.state is DeviceState.PROVISIONING
    # The request item does not pollute the device index of enrollment certificates.
    assert DynamoDeviceStore(aws_settings.ra_table).get_by_enrollment_cert(record.enrollment_cert_id) == device


def test_concurrent_identical_requests_store_one_record_and_answer_one_ack(
    aws_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int
) -> None:
    data = ee.request(ca.certificate("ra"), generation_time=now)
    with ThreadPoolExecutor(4) as pool:
        acks = list(pool.map(lambda _: _authorize(data, aws_settings, ca, now), range(4)))
    assert len(set(acks)) == 1
    before = capture(aws_settings)
    items = before.items[aws_settings.ra_table]
    assert len([k for k in items if k[0].startswith("REQ#")]) == 1
    assert len([k for k in items if k[0].startswith("RARATE#")]) == 1
    # A later replay returns the same octets and writes nothing.
    assert _authorize(data, aws_settings, ca, now + 10) == acks[0]
    assert_unchanged(before, capture(aws_settings))


def test_a_refusal_changes_nothing_stored(aws_settings: Settings, ca: Hierarchy, ee: EnrolledEe, now: int) -> None:
    before = capture(aws_settings)
    with pytest.raises(BadRequest) as info:
        _authorize(ee.request(ca.certificate("ra"), generation_time=now + 60), aws_settings, ca, now)
    assert info.value.code is ErrorCode.GENERATION_TIME_IN_FUTURE
    assert_unchanged(before, capture(aws_settings))
    # Twin: the same device's request at now is accepted and stored.
    _authorize(ee.request(ca.certificate("ra"), generation_time=now), aws_settings, ca, now)
    assert capture(aws_settings) != before
