"""RA use case ``ccf.certificate_chain_file`` with in-memory stores: contents, version name, rotation, refusals."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from scms_ra import ccf
from scms_service.config import Settings, load_settings
from scms_service.errors import BadRequest, NotFound
from scms_service.hierarchy import ELECTORS, Hierarchy, init_hierarchy, rotate
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import CaRecord, CtlRecord, InMemoryCaStore, InMemoryKeyVault

from scms_codec import time32
from scms_codec.cert.chain import verify_chain
from scms_codec.errors import ChainError, ErrorCode
from scms_codec.spdu.cert_management import FullIeeeTbsCtl, parse_certificate_chain_spdu
from scms_codec.spdu.ctl import build_multi_signed_ctl_spdu, elector_entry, sign_ctl
from tests.support.pki import build_pki, cert

NOW = 700_000_000
YEAR = 31_556_952


@dataclass
class World:
    settings: Settings
    store: InMemoryCaStore
    vault: InMemoryKeyVault
    artifacts: InMemoryArtifacts
    hierarchy: Hierarchy

    @property
    def series(self) -> str:
        return self.hierarchy.certificate("root").hashed_id8.hex()


def _world(settings: Settings | None = None) -> World:
    settings = settings or load_settings({})
    store, vault, artifacts = InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts()
    hierarchy, _ = init_hierarchy(settings, store, vault, artifacts, now=NOW)
    return World(settings, store, vault, artifacts, hierarchy)


@pytest.fixture(scope="module")
def world() -> World:
    """A hierarchy that tests only read."""
    return _world()


def _active_ids(w: World) -> list[bytes]:
    return [w.hierarchy.certificate(role).hashed_id8 for role in ccf.CA_ROLES]


def test_ccf_holds_the_newest_ctl_and_every_ca_below_the_root(world: World) -> None:
    # When the CCF of the root's series is built
    found = ccf.certificate_chain_file(world.store, world.series, now=NOW + 10)

    # Then it parses, carries CTL #1 as stored and the eight CAs in role order
    content = parse_certificate_chain_spdu(found.body).content
    assert content.home_ctl == world.store.ctls(bytes.fromhex(world.series))[-1].spdu
    assert [c.hashed_id8 for c in content.others] == _active_ids(world) == list(found.certificates)
    root = world.hierarchy.certificate("root")
    for c in content.others:
        verify_chain(c, list(content.others), [root], at=NOW + 10)


def test_ccf_certificates_do_not_verify_to_another_root(world: World) -> None:
    other_root = _world().hierarchy.certificate("root")
    content = parse_certificate_chain_spdu(ccf.certificate_chain_file(world.store, world.series, now=NOW).body).content
    with pytest.raises(ChainError):
        verify_chain(content.others[0], list(content.others), [other_root], at=NOW)


def test_name_is_ctl_sequence_and_ca_counter_in_hex_and_last_modified_is_the_newest_event(world: World) -> None:
    found = ccf.certificate_chain_file(world.store, world.series.upper(), now=NOW + 10)
    assert found.filename == "ccf_1_8.oer"
    assert (found.sequence_number, found.ca_counter) == (1, 8)
    assert found.last_modified == time32.to_unix(NOW)


def test_rotation_keeps_the_old_certificate_while_valid_and_bumps_the_counter() -> None:
    # Given a hierarchy whose CAs live one year, and the ECA rotated half a year later
    w = _world(load_settings({}, ca_validity_years=1))
    old = w.hierarchy.certificate("eca")
    rotated_at = NOW + YEAR // 2
    new = rotate("eca", w.settings, w.store, w.vault, w.artifacts, now=rotated_at)

    # When the CCF is built while the old ECA certificate is still valid
    found = ccf.certificate_chain_file(w.store, w.series, now=rotated_at + 10)

    # Then both ECA certificates are in it, and the name changed
    assert old.hashed_id8 in found.certificates and new.hashed_id8 in found.certificates
    assert found.filename == "ccf_1_9.oer"
    assert found.last_modified == time32.to_unix(rotated_at)


def test_an_expired_rotated_certificate_leaves_and_the_counter_still_grows() -> None:
    # Given the same rotation
    w = _world(load_settings({}, ca_validity_years=1))
    old = w.hierarchy.certificate("eca")
    rotated_at = NOW + YEAR // 2
    new = rotate("eca", w.settings, w.store, w.vault, w.artifacts, now=rotated_at)
    _, old_end = old.validity

    # When the CCF is built after the old ECA certificate expired (the active ones are kept regardless)
    found = ccf.certificate_chain_file(w.store, w.series, now=old_end + 1)

    # Then the old one is gone and the name is newer than while it was in (9)
    assert old.hashed_id8 not in found.certificates and new.hashed_id8 in found.certificates
    assert len(found.certificates) == 8
    assert found.filename == "ccf_1_A.oer"
    assert found.last_modified == time32.to_unix(old_end) + 1


def test_the_newest_ctl_of_the_series_is_served() -> None:
    # Given a second CTL of the series, signed by both electors
    w = _world()
    root = w.hierarchy.certificate("root")
    electors = [w.hierarchy.certificate(e) for e in ELECTORS]
    tbs = FullIeeeTbsCtl(
        ctl_series_id=root.hashed_id8,
        sequence_number=2,
        effective_date=NOW + 100,
        elector_approve=tuple(elector_entry(c) for c in electors),
        root_ca_approve=(root.hashed_id32,),
        quorum=2,
    )
    spdu = build_multi_signed_ctl_spdu(sign_ctl(tbs, [w.hierarchy.signer(e) for e in ELECTORS], [root, *electors]))
    w.store.put_ctl(CtlRecord(root.hashed_id8, 2, spdu, NOW + 100))

    # When the CCF is built
    found = ccf.certificate_chain_file(w.store, w.series, now=NOW + 200)

    # Then it carries CTL #2 and says so in its name
    assert parse_certificate_chain_spdu(found.body).content.home_ctl == spdu
    assert found.filename == "ccf_2_8.oer"
    assert found.last_modified == time32.to_unix(NOW + 100)


def test_a_ca_under_a_root_the_ctl_does_not_approve_is_left_out() -> None:
    # Given an ECA "rotated" to a certificate of a foreign hierarchy (its issuer is not stored)
    w = _world()
    foreign = cert(build_pki().eca)
    previous = w.hierarchy.certificate("eca").hashed_id8
    w.store.rotate(CaRecord("eca", foreign.hashed_id8, foreign.encoded, True, NOW + 5, "unused"), previous)

    # When the CCF is built
    found = ccf.certificate_chain_file(w.store, w.series, now=NOW + 10)

    # Then the foreign certificate is not served, the still-valid rotated ECA is
    assert foreign.hashed_id8 not in found.certificates
    assert previous in found.certificates


def test_unknown_series_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        ccf.certificate_chain_file(world.store, "00" * 8, now=NOW)


@pytest.mark.parametrize("series", [None, "", "0123", "0123456789abcdeg", "0123456789abcdef00", " 0123456789abcdef"])
def test_malformed_series_is_refused_as_failed_parsing(world: World, series: str | None) -> None:
    with pytest.raises(BadRequest) as info:
        ccf.certificate_chain_file(world.store, series, now=NOW)
    assert info.value.code is ErrorCode.FAILED_PARSING


def test_a_stored_ctl_that_does_not_decode_is_a_server_error() -> None:
    w = _world()
    series = bytes.fromhex(w.series)
    good = w.store.ctls(series)[0]
    w.store.put_ctl(replace(good, sequence_number=2, spdu=good.spdu[:-1]))
    with pytest.raises(ccf.CorruptCaData) as info:
        ccf.certificate_chain_file(w.store, w.series, now=NOW)
    assert info.value.status == 500
