"""CRLs of a root that ``scms ctl remove-root`` took out of the CTL, on moto: CrlTable, CaTable, S3, the RA app.

The CRL generator publishes on CrlTable (its ``LATEST`` index is what ``latest_all`` queries), ``scms ctl``
issues the CTLs on CaTable; the RA app wired from Settings answers. While the home root is approved its
CRLs are in the info status and the composite CRL (twin); once removed they are not, ``GET /v3/crl`` still
serves them, and the composite CRL's name never goes back.
"""

from __future__ import annotations

from types import ModuleType

from chalice.test import Client, HTTPResponse
from scms_crlg.publish import publish
from scms_crlg.wiring import CrlgServices
from scms_service.config import Settings
from scms_service.ctl_issue import AddRoot, RemoveRoot
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.crl_entries import DynamoDbCrlEntryStore

from scms_codec import time32
from scms_codec.spdu.cert_management import parse_composite_crl_spdu, parse_info_status_spdu
from tests.functional.ra_app import apply_ctl_change, hierarchy_fixture, ra_fixture  # noqa: F401 (the "hierarchy", "ra" fixtures)

OCTETS = {"Accept": "application/octet-stream"}


def _publish(settings: Settings) -> None:
    services = CrlgServices.from_settings(settings)
    publish(settings, store=services.store, artifacts=services.artifacts, crlg=services.crlg, now=time32.now(),
            force=True)  # fmt: skip


def _get(ra: ModuleType, path: str) -> HTTPResponse:
    with Client(ra.app) as client:
        response: HTTPResponse = client.http.get(path, headers=OCTETS)
    return response


def _advertised(ra: ModuleType) -> list[tuple[str, int]]:
    answer = _get(ra, "/v3/certificate-management-info-status")
    assert answer.status_code == 200
    return [(c.craca_id.hex(), c.series) for c in parse_info_status_spdu(answer.body).content.crl]


def _composite(ra: ModuleType, series: str) -> tuple[int, int]:
    """(version in the composite CRL's name, number of CRLs in it)."""
    answer = _get(ra, f"/v3/composite-crl-ctl?ctlSeriesId={series}")
    assert answer.status_code == 200
    version = int(answer.headers["ETag"].strip('"').removeprefix("composite-crl_").removesuffix(".oer"), 16)
    return version, len(parse_composite_crl_spdu(answer.body).content.crls)


def test_the_crls_of_a_removed_root_are_no_longer_advertised_but_still_served(
    ra: ModuleType, hierarchy: Hierarchy, aws_settings: Settings
) -> None:
    # Given the CRL generator's two CRLs of the home root on CrlTable, advertised by the RA,
    root = hierarchy.certificate("root").hashed_id8.hex()
    _publish(aws_settings)
    both = [(root, aws_settings.crl_series), (root, aws_settings.crl_hash_series)]
    assert sorted(_advertised(ra)) == sorted(both)
    first = _composite(ra, root)
    assert first[1] == 2
    crl_path = f"/v3/crl?craca={root}&crlSeries={aws_settings.crl_hash_series}"
    served = _get(ra, crl_path).body
    # and the operator approves another SCMS's root (CTL #2): the home root's CRLs stay advertised (twin),
    other = init_hierarchy(aws_settings, InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(),
                           now=time32.now() - 60)[0].certificate("root")  # fmt: skip
    apply_ctl_change(aws_settings, AddRoot(other.encoded))
    assert sorted(_advertised(ra)) == sorted(both)
    second = _composite(ra, root)
    assert second[1] == 2 and second[0] > first[0]
    # When the operator removes the home root (CTL #3),
    apply_ctl_change(aws_settings, RemoveRoot(hierarchy.certificate("root").hashed_id8))
    # then the info status and the composite CRL no longer list its CRLs, the composite's version still rose,
    assert _advertised(ra) == []
    third = _composite(ra, root)
    assert third[1] == 0 and third[0] > second[0]
    # a CRL the generator issues for it later is not advertised either, though the version moves on,
    _publish(aws_settings)
    assert _advertised(ra) == []
    fourth = _composite(ra, root)
    assert fourth[1] == 0 and fourth[0] > third[0]
    # and GET /v3/crl still serves the latest one (recorded on CrlTable) to a device that asks for it.
    answer = _get(ra, crl_path)
    assert answer.status_code == 200 and answer.body != served
    latest = DynamoDbCrlEntryStore.from_settings(aws_settings).latest(bytes.fromhex(root), aws_settings.crl_hash_series)
    assert (
        latest is not None
        and answer.headers["ETag"] == f'"crl_{root}_{aws_settings.crl_hash_series}_{latest.crl_serial:x}.oer"'
    )
