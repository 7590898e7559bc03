"""Which recorded CRLs the RA advertises follows the CTL: ``trust.current_crls`` (info status, composite CRL).

A CRL whose CRACA is a root the newest CTL of the home series approves, or a CA that chains to one, is
listed; after ``scms ctl remove-root`` a CRL of that root is not (twin: while the root is approved, it
is), though ``GET /v3/crl`` still serves it. The composite CRL's version keeps rising across the removal.
"""

from __future__ import annotations

import pytest
from scms_ra import composite_crl, crl_download, info_status
from scms_ra.trust import CorruptTrustData, current_crls
from scms_service.ctl_issue import AddRoot, RemoveRoot, SetQuorum, issue_next_ctl
from scms_service.stores.ca import CtlRecord

from scms_codec.spdu.cert_management import parse_composite_crl_spdu
from scms_codec.spdu.crl import CrlContents, build_secured_crl
from tests.unit.ra.trust_world import NOW, FakeCrlRecord, TrustWorld, other_root, trust_world, world_fixture  # noqa: F401 (the "world" fixture)


def _record(world: TrustWorld, craca: bytes, series: int, serial: int = 1) -> bytes:
    """A CRL of ``craca`` recorded as the CRL generator records one (the RA does not verify what it serves)."""
    contents = CrlContents(series, craca, NOW, NOW + 86_400, ("fullHashCrl", {"crlSerial": serial, "entries": []}))
    data = build_secured_crl(contents, world.hierarchy.signer("crlg"))
    key = f"crl/{craca.hex()}_{series}_{serial}.oer"
    world.artifacts.put(key, data)
    world.crls.records[(craca, series)] = FakeCrlRecord(craca, series, serial, NOW, NOW + 86_400, key)
    return data


def _listed(world: TrustWorld) -> list[tuple[bytes, int]]:
    return [(r.craca, r.series) for r in current_crls(world.crls, world.store, world.series)]


def _info_crls(world: TrustWorld) -> list[tuple[bytes, int]]:
    return [(c.craca_id, c.series) for c in info_status.info_status(world.store, world.crls, now=NOW + 60).crl]


def _composite(world: TrustWorld) -> tuple[str, tuple[bytes, ...]]:
    found = composite_crl.composite_crl_file(world.store, world.crls, world.artifacts, world.series.hex())
    return found.filename, parse_composite_crl_spdu(found.body).content.crls


def _issue(world: TrustWorld, change: AddRoot | RemoveRoot | SetQuorum, now: int) -> None:
    issue_next_ctl(change, world.store, world.vault, world.artifacts, now=now)


def test_crls_of_an_approved_root_or_a_ca_below_it_are_current(world: TrustWorld) -> None:
    ica = world.hierarchy.certificate("ica").hashed_id8
    _record(world, world.series, 1)
    _record(world, ica, 2)
    assert _listed(world) == sorted([(world.series, 1), (ica, 2)])


def test_crls_of_a_craca_no_certificate_names_are_not_current(world: TrustWorld) -> None:
    # Twin of the above: a CRACA the RA knows no certificate of cannot chain to an approved root.
    _record(world, world.series, 1)
    _record(world, b"\x5a" * 8, 1)
    assert _listed(world) == [(world.series, 1)]


def test_a_removed_roots_crls_leave_the_info_status_and_the_composite_but_stay_downloadable(
    world: TrustWorld,
) -> None:
    # Given the home root's CRLs, advertised,
    linked = _record(world, world.series, 1)
    _record(world, world.series, 2)
    assert _info_crls(world) == [(world.series, 1), (world.series, 2)]
    before, crls = _composite(world)
    assert len(crls) == 2
    # when the operator approves another root (the home root's CRLs stay: twin) and then removes the home root,
    _issue(world, AddRoot(other_root().encoded), NOW + 10)
    assert _info_crls(world) == [(world.series, 1), (world.series, 2)]
    approved, crls = _composite(world)
    assert len(crls) == 2
    _issue(world, RemoveRoot(world.series), NOW + 20)
    # then neither the info status nor the composite CRL lists them,
    assert _info_crls(world) == []
    removed, crls = _composite(world)
    assert crls == ()
    # the composite's version still rose at every step (never a name used before),
    versions = [
        int(name.removeprefix("composite-crl_").removesuffix(".oer"), 16) for name in (before, approved, removed)
    ]
    assert versions == sorted(versions) and len(set(versions)) == 3
    # and GET /v3/crl still serves the latest CRL of the removed root to a device that asks for it.
    assert crl_download.crl_file(world.crls, world.artifacts, world.series.hex(), "1").body == linked


def test_a_crl_of_a_root_approved_only_by_a_later_ctl_becomes_current(world: TrustWorld) -> None:
    other = other_root()
    _record(world, other.hashed_id8, 1)
    assert _listed(world) == []  # not approved (and not even known) yet
    _issue(world, AddRoot(other.encoded), NOW + 10)
    assert _listed(world) == [(other.hashed_id8, 1)]  # known from the CTL's unsigned certificates


def test_the_composite_version_rises_when_a_crl_the_ctl_no_longer_lists_is_reissued(world: TrustWorld) -> None:
    _record(world, world.series, 1)
    _issue(world, AddRoot(other_root().encoded), NOW + 10)
    _issue(world, RemoveRoot(world.series), NOW + 20)
    first, _ = _composite(world)
    # The CRL generator keeps publishing for the removed root: the content stays, the version moves on.
    _record(world, world.series, 1, serial=2)
    second, crls = _composite(world)
    assert crls == () and second != first


def test_a_newest_ctl_that_does_not_decode_is_corrupt_data(world: TrustWorld) -> None:
    _record(world, world.series, 1)
    world.store.put_ctl(CtlRecord(world.series, 2, b"\x00junk", NOW + 10))
    with pytest.raises(CorruptTrustData):
        current_crls(world.crls, world.store, world.series)


def test_an_unknown_series_has_no_current_crl(world: TrustWorld) -> None:
    _record(world, world.series, 1)
    assert current_crls(world.crls, world.store, b"\xff" * 8) == []
