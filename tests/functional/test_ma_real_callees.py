"""A revocation through the real callees on moto (issue #6 §1): ACA ``lookup_task``, LA1/LA2 ``seed_task``
and CRLG ``publish_task`` run in this process as the MA's in-process twins (``wiring.InProcessTask``),
CRL entries go to the real ``CrlTable`` store. The pseudonym test fakes only the RA (a chain of a
provisioned device would need the whole pipeline; the e2e suite has it); the enrollment test runs
the real RA ``revoke`` task too. The published CRLs, read back from S3 and checked as a receiver
would, revoke exactly the device's pseudonyms of the current and later periods and its enrollment
certificate, and nothing else.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from scms_ma.authorities import RaRevoker
from scms_ma.revoke import RevocationRequest, revoke
from scms_ma.wiring import authorities_from_settings
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.iperiod import IPeriods
from scms_service.stores.aca_responses import AcaAnswer, DynamoDbAcaResponseStore
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault
from scms_service.stores.linkage_seeds import ChainSeed, DynamoDbSeedStore
from scms_service.stores.ma_records import DynamoDbMaRecordStore

from scms_codec import time32
from scms_codec.crl_check import hash_crl_revokes, linked_crl_revokes
from scms_codec.crypto import linkage
from scms_codec.spdu.crl import parse_secured_crl
from tests.unit.ma.conftest import pseudonym
from tests.unit.ma.fakes import FakeAuthorities

LA1, LA2 = b"\x00\x01", b"\x00\x02"
CHAIN = bytes(range(16))
ENROLLMENT_HASH = bytes(range(32, 64))


@pytest.fixture
def world(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, Hierarchy, int]]:
    for name in [k for k in os.environ if k.startswith("SCMS_")]:
        monkeypatch.delenv(name)  # the callees read their Settings from the environment: the defaults here
    now = time32.now()
    hierarchy, _ = init_hierarchy(
        aws_settings, DynamoDbCaStore.from_settings(aws_settings), SecretsManagerKeyVault.from_settings(aws_settings),
        S3Artifacts.from_settings(aws_settings), now=now - 3600,
    )  # fmt: skip
    yield aws_settings, hierarchy, now


def _seed(settings: Settings, la: str, la_id: bytes, origin: int) -> bytes:
    seed = bytes([la_id[1]]) * 16
    DynamoDbSeedStore.from_settings(settings, la).put_if_absent(ChainSeed(CHAIN, origin, seed, la_id, 1))
    return seed


def test_a_pseudonym_revocation_through_the_real_aca_las_and_crlg_publishes_crls_that_revoke_it(
    world: tuple[Settings, Hierarchy, int],
) -> None:
    settings, hierarchy, now = world
    periods = IPeriods.from_settings(settings)
    i_now = periods.i_at(now)
    # Given a pseudonym the ACA answered (its request id stored by certificate id), a chain whose
    # seeds the LAs drew two periods ago, and an RA that names that chain and one enrollment
    suspect = pseudonym(hierarchy.signer("aca"), start=now - 3600)
    assert suspect.certificate is not None
    aca_request = bytes(range(8))
    DynamoDbAcaResponseStore.from_settings(settings).put_many(
        {aca_request: AcaAnswer(b"\x00response", suspect.certificate.hashed_id8, int(time.time()) + 3600)}
    )
    seed1, seed2 = _seed(settings, "la1", LA1, i_now - 2), _seed(settings, "la2", LA2, i_now - 2)
    fake = FakeAuthorities()
    fake.devices["acaRequest:" + aca_request.hex()] = {
        "chains": [{"chainId": CHAIN.hex(), "iFirst": i_now - 2, "iLast": i_now + 3, "jMax": 4}],
        "enrollments": [{"certHash": ENROLLMENT_HASH.hex(), "expiry": now + 86_400}],
    }
    authorities = replace(authorities_from_settings(settings), ra_revoke=RaRevoker(fake.ra))
    records = DynamoDbMaRecordStore.from_settings(settings)
    request = RevocationRequest("certificate", suspect.certificate.encoded.hex(), "false positions")
    # When the operator revokes the certificate
    record, created = revoke(request, now=now, periods=periods, records=records, authorities=authorities)
    # Then one linked and one hash entry were written and both CRLs issued
    assert created and record.linked_entries == 1 and record.hash_entries == 1
    assert {c["series"] for c in record.crls} == {settings.crl_series, settings.crl_hash_series}
    craca = hierarchy.certificate("root").hashed_id8
    artifacts = S3Artifacts.from_settings(settings)
    linked_octets = artifacts.get(f"crl/{craca.hex()}_{settings.crl_series}.oer")
    hashed_octets = artifacts.get(f"crl/{craca.hex()}_{settings.crl_hash_series}.oer")
    assert linked_octets is not None and hashed_octets is not None
    linked = parse_secured_crl(linked_octets, resolve_signer=hierarchy.by_hashed_id8).content
    hashed = parse_secured_crl(hashed_octets, resolve_signer=hierarchy.by_hashed_id8).content
    # And a receiver finds every pseudonym of the chain from this period on revoked, and none of another chain

    def lv(s1: bytes, s2: bytes, i: int, j: int) -> bytes:
        a = linkage.seed_at(LA1, s1, i_now - 2, i)
        b = linkage.seed_at(LA2, s2, i_now - 2, i)
        return linkage.linkage_value(linkage.pre_linkage_value(LA1, a, j), linkage.pre_linkage_value(LA2, b, j))

    for i in range(i_now, i_now + 4):
        assert all(linked_crl_revokes(linked, lv(seed1, seed2, i, j), i) for j in range(4))
        assert not linked_crl_revokes(linked, lv(seed2, seed1, i, 0), i)
    assert hash_crl_revokes(hashed, ENROLLMENT_HASH[-10:])
    assert not hash_crl_revokes(hashed, bytes(10))
    # And the same revocation again calls nobody and publishes nothing new
    calls = len(fake.calls)
    again, created_again = revoke(request, now=now, periods=periods, records=records, authorities=authorities)
    assert not created_again and again == record and len(fake.calls) == calls


def test_a_certificate_the_aca_never_issued_is_404_from_the_real_lookup(world: tuple[Settings, Hierarchy, int]) -> None:
    from scms_ma.authorities import TargetNotFound

    settings, hierarchy, now = world
    suspect = pseudonym(hierarchy.signer("aca"), start=now - 3600)
    assert suspect.certificate is not None
    authorities = replace(authorities_from_settings(settings), ra_revoke=RaRevoker(FakeAuthorities().ra))
    with pytest.raises(TargetNotFound):
        revoke(
            RevocationRequest("certificate", suspect.certificate.encoded.hex(), "x"),
            now=now, periods=IPeriods.from_settings(settings),
            records=DynamoDbMaRecordStore.from_settings(settings), authorities=authorities,
        )  # fmt: skip


def test_a_chain_the_real_las_never_saw_is_skipped_and_the_crls_still_published(
    world: tuple[Settings, Hierarchy, int],
) -> None:
    # UnknownChain (revoked between the RA's plan and the LAs' first call): no certificate carries
    # the chain, so the revocation completes without a linked entry for it.
    settings, hierarchy, now = world
    fake = FakeAuthorities()
    fake.devices["device:dev-1"] = {
        "chains": [{"chainId": "ee" * 16, "iFirst": 1, "iLast": 9, "jMax": 4}],
        "enrollments": [],
    }
    authorities = replace(authorities_from_settings(settings), ra_revoke=RaRevoker(fake.ra))
    record, created = revoke(
        RevocationRequest("device", "dev-1", "x"), now=now, periods=IPeriods.from_settings(settings),
        records=DynamoDbMaRecordStore.from_settings(settings), authorities=authorities,
    )  # fmt: skip
    assert created and record.linked_entries == 0
    craca = hierarchy.certificate("root").hashed_id8
    linked_crl = S3Artifacts.from_settings(settings).get(f"crl/{craca.hex()}_{settings.crl_series}.oer")
    assert linked_crl is not None
    # Twin: a malformed chain id is the RA answering outside its contract, still a 500.
    from scms_ma.authorities import AuthorityFailed

    fake.devices["device:dev-2"] = {
        "chains": [{"chainId": "zz", "iFirst": 1, "iLast": 9, "jMax": 4}],
        "enrollments": [],
    }
    with pytest.raises(AuthorityFailed):
        revoke(
            RevocationRequest("device", "dev-2", "x"), now=now, periods=IPeriods.from_settings(settings),
            records=DynamoDbMaRecordStore.from_settings(settings), authorities=authorities,
        )  # fmt: skip


def test_an_enrollment_revocation_through_the_real_ra_and_crlg_revokes_the_device_and_hashes_its_certificate(
    world: tuple[Settings, Hierarchy, int],
) -> None:
    from scms_service.lifecycle import DeviceState
    from scms_service.stores.devices import DynamoDeviceStore
    from scms_service.stores.eca_requests import DynamoDbEcaRequestStore

    from scms_codec.crypto.hashing import hashed_id10
    from tests.unit.ra.ee_auth import EnrolledEe

    settings, hierarchy, now = world
    devices = DynamoDeviceStore(settings.ra_table)
    # Given a device enrolled through the real ECA use case (its enrollment record holds the certificate hash)
    enrolled = EnrolledEe.enroll(
        hierarchy=hierarchy, devices=devices, eca_requests=DynamoDbEcaRequestStore.from_settings(settings),
        settings=settings, now=now - 600, device_id="obu-real-ra",
    )  # fmt: skip
    authorities = authorities_from_settings(settings)  # every callee real (in-process twins)
    request = RevocationRequest("enrollmentCert", enrolled.certificate.hashed_id8.hex(), "stolen keys")
    # When the operator revokes its enrollment certificate
    record, created = revoke(
        request, now=now, periods=IPeriods.from_settings(settings),
        records=DynamoDbMaRecordStore.from_settings(settings), authorities=authorities,
    )  # fmt: skip
    # Then the RA revoked the device and the hash CRL lists its certificate
    assert created and not record.already_revoked and record.hash_entries == 1 and record.linked_entries == 0
    device = devices.get("obu-real-ra")
    assert device is not None and device.state is DeviceState.REVOKED
    craca = hierarchy.certificate("root").hashed_id8
    octets = S3Artifacts.from_settings(settings).get(f"crl/{craca.hex()}_{settings.crl_hash_series}.oer")
    assert octets is not None
    hashed = parse_secured_crl(octets, resolve_signer=hierarchy.by_hashed_id8).content
    assert hash_crl_revokes(hashed, hashed_id10(enrolled.certificate.encoded))
    # Twin: revoking the same device by its id is another decision, answered alreadyRevoked, nothing new on the CRL
    again, created_again = revoke(
        RevocationRequest("device", "obu-real-ra", "x"), now=now, periods=IPeriods.from_settings(settings),
        records=DynamoDbMaRecordStore.from_settings(settings), authorities=authorities,
    )  # fmt: skip
    assert created_again and again.already_revoked and again.hash_entries == 1
    assert all(not c["changed"] for c in again.crls if c["series"] == settings.crl_hash_series)


def test_a_device_revocation_puts_its_non_butterfly_certificates_on_the_hash_crl_through_the_real_aca(
    world: tuple[Settings, Hierarchy, int],
) -> None:
    from scms_service.stores.aca_responses import HashCrlEntry

    settings, hierarchy, now = world
    # Given two answers in the real AcaTable: a non-butterfly certificate's (with its hash CRL entry)
    # and a butterfly one's (without), and an RA that names both requests for the device,
    plain_hid10, butterfly_hid10 = bytes(range(10)), bytes(range(10, 20))
    ttl = int(time.time()) + 3600
    DynamoDbAcaResponseStore.from_settings(settings).put_many({
        b"\x01" * 8: AcaAnswer(b"\x00plain", plain_hid10[-8:], ttl, HashCrlEntry(plain_hid10, now + 86_400)),
        b"\x02" * 8: AcaAnswer(b"\x00butterfly", butterfly_hid10[-8:], ttl),
    })  # fmt: skip
    fake = FakeAuthorities()
    fake.devices["device:dev-3"] = {"chains": [], "enrollments": [], "acaRequests": ["01" * 8, "02" * 8, "03" * 8]}
    authorities = replace(authorities_from_settings(settings), ra_revoke=RaRevoker(fake.ra))
    # When the operator revokes the device by its id (the real ACA lookup_task, in process),
    record, created = revoke(
        RevocationRequest("device", "dev-3", "stolen"), now=now, periods=IPeriods.from_settings(settings),
        records=DynamoDbMaRecordStore.from_settings(settings), authorities=authorities,
    )  # fmt: skip
    # Then the published hash CRL revokes the non-butterfly certificate,
    assert created and record.hash_entries == 1 and record.linked_entries == 0
    craca = hierarchy.certificate("root").hashed_id8
    octets = S3Artifacts.from_settings(settings).get(f"crl/{craca.hex()}_{settings.crl_hash_series}.oer")
    assert octets is not None
    hashed = parse_secured_crl(octets, resolve_signer=hierarchy.by_hashed_id8).content
    assert hash_crl_revokes(hashed, plain_hid10)
    # and (twin) neither the butterfly certificate (the linked CRL's) nor anything for the unknown request.
    assert not hash_crl_revokes(hashed, butterfly_hid10)
