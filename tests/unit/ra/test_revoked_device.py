"""A device the MA revoked (scms_ra.revoke) is refused everywhere with 400-20, and nothing changes (protocol.md §6).

Authorization requests (new, and the replay of one accepted before), successor enrollment (new, and
the replay of one done before), the batch download and the successor download: each world of the
use case's own tests, its device revoked through the revoke use case (actor ``ma``), then every
store compared before and after. Twins: the same calls succeed before the revocation.
"""

from __future__ import annotations

import copy
import hashlib

import pytest
from scms_ra.batch_files import batch_filename
from scms_ra.revoke import revoke
from scms_ra.successor import artifact_key, successor_filename
from scms_service.errors import BadRequest
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.lifecycle import DeviceState
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.auth_requests import FakeAuthRequestStore
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.devices import InMemoryDeviceStore
from scms_service.stores.issued_certs import FakeIssuedCertStore

from scms_codec.errors import ErrorCode
from scms_codec.spdu import parse_eca_ee_cert_response, parse_ra_ee_enrollment_cert_ack
from tests.unit.ra import test_authorize, test_download, test_successor

NOW = test_authorize.NOW
BLOCKED = ErrorCode.ENROLLMENT_CERT_BLOCKED


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    from scms_service.config import load_settings

    ca, _ = init_hierarchy(load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(),
                           now=NOW - 10_000)  # fmt: skip
    return ca


def _revoke(devices: InMemoryDeviceStore, device_id: str) -> None:
    revoke(
        "device",
        device_id,
        "misbehaviour",
        now=NOW,
        devices=devices,
        requests=FakeAuthRequestStore(),
        issued=FakeIssuedCertStore(),
    )
    device = devices.get(device_id)
    assert device is not None and device.state is DeviceState.REVOKED
    assert devices.audit(device_id)[-1].actor == "ma"


def test_authorization_requests_of_a_revoked_device_are_refused_and_change_nothing(hierarchy: Hierarchy) -> None:
    world = test_authorize.make_world(hierarchy)
    accepted = world.request(generation_time=NOW - 1)
    world.authorize(accepted)  # twin: before the revocation a request is accepted
    _revoke(world.devices, world.ee.ee.device_id)
    world.refused(world.request(), BLOCKED)  # a new request
    world.refused(accepted, BLOCKED)  # the replay of the accepted one: no ack any more


def test_successor_requests_of_a_revoked_device_are_refused_and_change_nothing(hierarchy: Hierarchy) -> None:
    world = test_successor.make_world(hierarchy)
    done = world.request()
    ack = world.enroll(done)  # twin: before the revocation a successor is issued
    # (recorded with the SHA-256 of its COER, which the revocation hands the MA for the hash CRL)
    response = world.artifacts.get(artifact_key(parse_ra_ee_enrollment_cert_ack(ack).content.request_hash))
    assert response is not None
    new = parse_eca_ee_cert_response(response).content.certificate
    assert world.device().enrollments[-1].cert_hash == hashlib.sha256(new.encoded).hexdigest()
    assert world.device().enrollments[0].cert_hash != world.device().enrollments[-1].cert_hash
    _revoke(world.devices, world.holder.ee.device_id)
    world.refused(done, BLOCKED)  # its replay
    world.refused(world.request(generation_time=NOW + 1), BLOCKED)  # another one


def test_the_successor_download_of_a_revoked_device_is_refused_and_changes_nothing(hierarchy: Hierarchy) -> None:
    world = test_successor.make_world(hierarchy)
    ack = world.enroll(world.request())
    name = successor_filename(parse_ra_ee_enrollment_cert_ack(ack).content.request_hash)
    assert world.download(world.download_header(name))  # twin: downloadable before the revocation
    _revoke(world.devices, world.holder.ee.device_id)
    before = world.snapshot()
    with pytest.raises(BadRequest) as info:
        world.download(world.download_header(name))
    assert info.value.code is BLOCKED and world.snapshot() == before


def test_the_batch_download_of_a_revoked_device_is_refused_and_changes_nothing() -> None:
    ra_cert, keyring = test_download._ra()
    world = test_download.World(ra_cert, keyring, InMemoryDeviceStore(), test_download.Requests(), InMemoryArtifacts(),
                                test_download.enrollment_signer(), test_download.enrollment_signer())  # fmt: skip
    for device_id, signer, request_hash in (("obu-a", world.a, world.hash_a), ("obu-b", world.b, world.hash_b)):
        assert signer.certificate is not None
        world.enroll(device_id, signer)
        world.requests.records[request_hash] = test_download.Record(request_hash, device_id,
                                                                    signer.certificate.hashed_id8.hex())  # fmt: skip
    world.store_batch(world.hash_a, test_download.FIRST_I)
    assert world.download(world.header(test_download.NAME))  # twin: downloadable before the revocation
    _revoke(world.devices, "obu-a")
    before = (dict(world.artifacts.objects), copy.deepcopy(world.requests.records), world.devices.get("obu-a"))
    test_download.refused(BLOCKED, lambda: world.download(world.header(test_download.NAME)))
    assert (dict(world.artifacts.objects), world.requests.records, world.devices.get("obu-a")) == before
    # The other device still downloads its own.
    world.store_batch(world.hash_b, test_download.FIRST_I)
    name_b = batch_filename(world.hash_b, test_download.FIRST_I)
    assert world.download(world.header(name_b, signer=world.b))
