"""The download finds the device through the request it names (one read by id), not the enrollment index.

``_check_device`` reads the device by the id its request recorded when that request was made with the
signing enrollment certificate; otherwise it looks the certificate up (``byEnrollmentCert``). The state
is read on every request: a device revoked between two GETs is refused on the next one.
"""

from __future__ import annotations

import pytest
from scms_ra.batch_files import batch_filename
from scms_service.lifecycle import DeviceState
from scms_service.stores.devices import Device, InMemoryDeviceStore

from scms_codec.errors import ErrorCode
from tests.unit.ra.test_download import FIRST_I, NAME, World, enrollment_signer, refused
from tests.unit.ra.test_download import world as world  # the fixture, requested by name


class Lookups(InMemoryDeviceStore):
    """The in-memory device store, counting its reads by id and by enrollment certificate."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id = 0
        self.by_cert = 0

    def get(self, device_id: str) -> Device | None:
        self.by_id += 1
        return super().get(device_id)

    def get_by_enrollment_cert(self, hashed_id8_hex: str) -> Device | None:
        self.by_cert += 1
        return super().get_by_enrollment_cert(hashed_id8_hex)


@pytest.fixture
def counted(world: World) -> World:
    """The download world with its device store counting reads (same devices, states and enrollments)."""
    store = Lookups()
    store.__dict__.update({k: v for k, v in world.devices.__dict__.items() if k not in ("by_id", "by_cert")})
    world.devices = store
    return world


def _store(world: World) -> Lookups:
    assert isinstance(world.devices, Lookups)
    return world.devices


def test_the_own_request_reads_the_device_by_id_without_the_index(counted: World) -> None:
    data = counted.store_batch(counted.hash_a, FIRST_I)
    assert counted.download(counted.header(NAME)).body == data
    assert (_store(counted).by_id, _store(counted).by_cert) == (1, 0)


def test_a_device_revoked_after_its_request_is_refused_on_the_next_get(counted: World) -> None:
    # Given a device whose batch it has just downloaded,
    counted.store_batch(counted.hash_a, FIRST_I)
    assert counted.download(counted.header(NAME)).filename == NAME
    # When it is revoked, Then its very next GET is refused 400-20 (its state is read again, not kept),
    counted.devices.transition("obu-a", DeviceState.REVOKED, expected=DeviceState.ENROLLED, cause="ma",
                               actor="ma", now_unix=3)  # fmt: skip
    refused(ErrorCode.ENROLLMENT_CERT_BLOCKED, lambda: counted.download(counted.header(NAME)))
    # and, once deleted, 400-21, as a lookup by certificate answers.
    counted.devices.transition("obu-a", DeviceState.DELETED, expected=DeviceState.REVOKED, cause="op",
                               actor="op", now_unix=4)  # fmt: skip
    refused(ErrorCode.ENROLLMENT_CERT_UNREGISTERED, lambda: counted.download(counted.header(NAME)))
    assert _store(counted).by_cert == 0


def test_another_certificates_request_falls_back_to_the_index_with_the_same_answers(counted: World) -> None:
    counted.store_batch(counted.hash_a, FIRST_I)
    # Twin: B signs for A's request: not B's request, so B is looked up by certificate (served), then 400-43.
    refused(ErrorCode.SIGNATURE_VERIFICATION_FAILED, lambda: counted.download(counted.header(NAME, signer=counted.b)))
    assert _store(counted).by_cert == 1
    # An unknown certificate on A's request: the device check comes first, 400-21 (not 400-43).
    stranger = enrollment_signer()
    refused(ErrorCode.ENROLLMENT_CERT_UNREGISTERED, lambda: counted.download(counted.header(NAME, signer=stranger)))
    # A blocked device asking for an unknown request hash: 400-20 before the request check, as before.
    counted.devices.transition("obu-b", DeviceState.BLOCKED, expected=DeviceState.ENROLLED, cause="ma",
                               actor="ma", now_unix=2)  # fmt: skip
    unknown = batch_filename(bytes(8), FIRST_I)
    refused(ErrorCode.ENROLLMENT_CERT_BLOCKED, lambda: counted.download(counted.header(unknown, signer=counted.b)))
    assert _store(counted).by_cert == 3
