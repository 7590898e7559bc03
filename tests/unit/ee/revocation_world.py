"""A world for the revocation commands of scms-ee: a real hierarchy, an enrolled device with downloaded pseudonyms,
and a fake SCMS over a ``Transport`` serving the trust downloads, the MA certificate and the report route.

The device's pseudonyms come from the real RA/ACA use cases (``tests.unit.ee.test_pseudonyms.World``'s way:
authorize, expand with two simulated LAs, issue, zip), opened and saved exactly as ``scms-ee download``
saves them. Its linkage seeds (``lines``) are known, so tests can put them on a linked CRL.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import urllib.parse
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from scms_aca.issue import IssuePolicy, issue_batch
from scms_ee.client import ERROR_HEADER, Client, Response
from scms_ee.download import _save, open_period
from scms_ee.fetch_chain import fetch_chain
from scms_ee.provision import ProvisionedRequest, ProvisioningStore, build_request, default_schedule, verify_ack
from scms_ee.pseudonyms import DeviceKeys, Opener
from scms_ee.state import DeviceState
from scms_ee.trace import Trace
from scms_ma.report import receive_report
from scms_ra.authorize import authorize
from scms_ra.batch_files import period_zip
from scms_ra.ccf import certificate_chain_file
from scms_ra.expand import expand_chunk
from scms_service.config import Settings, load_settings
from scms_service.errors import ScmsError
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.iperiod import IPeriods
from scms_service.stores.aca_responses import FakeAcaResponseStore
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.auth_requests import FakeAuthRequestStore
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.devices import InMemoryDeviceStore, Permission
from scms_service.stores.eca_requests import FakeEcaRequestStore

from scms_codec.cert.certificate import Certificate
from scms_codec.crypto import linkage
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.signer import Signer
from scms_codec.spdu.cert_management import (
    CertificateManagementInfoStatus,
    CompositeCrl,
    CrlInfoStatus,
    CtlInfoStatus,
    MaInfoStatus,
    build_composite_crl_spdu,
    build_info_status_spdu,
)
from scms_codec.spdu.crl import CrlContents, build_secured_crl, parse_secured_crl
from scms_codec.spdu.misbehavior import open_misbehavior_report
from scms_codec.spdu.ra_aca import parse_aca_ra_cert_response
from scms_codec.spdu.ra_ee_ack import RaEeCertInfo
from scms_codec.spdu.scms_pdu import request_hash
from tests.unit.aca.conftest import resolver_for
from tests.unit.aca.simulator import LA1_ID, LA2_ID, Linkage
from tests.unit.ra.ee_auth import EnrolledEe

NOW = 700_000_000
PERIODS = 2
CERTS_PER_PERIOD = 4
LINKED_SERIES = 1
HASH_SERIES = 2


@dataclass
class Served:
    """What the fake SCMS serves; tests change it between runs."""

    crls: dict[tuple[bytes, int], bytes] = field(default_factory=dict)
    info: bytes | None = None
    ctls: dict[int, bytes] = field(default_factory=dict)  # sequence number → MultiSignedCtlSpdu
    ma: bytes | None = None
    report_refusal: str | None = None
    ma_records: Any = None  # a FakeMaRecordStore: the real MA use case answers the report route
    reports: list[Any] = field(default_factory=list)
    calls: list[tuple[str, str, Mapping[str, str]]] = field(default_factory=list)


@dataclass
class RevocationWorld:
    """The hierarchy, the stores behind it, and one enrolled device's provisioned request."""

    settings: Settings
    hierarchy: Hierarchy
    ca_store: InMemoryCaStore
    ee: EnrolledEe
    lines: Linkage
    record: ProvisionedRequest
    keys: DeviceKeys
    spdu: bytes
    ack: bytes
    zips: dict[int, bytes]
    served: Served = field(default_factory=Served)

    @classmethod
    def build(cls) -> RevocationWorld:
        settings = load_settings({}, certs_per_period=CERTS_PER_PERIOD, crl_series=LINKED_SERIES)
        ca_store = InMemoryCaStore()
        hierarchy, _ = init_hierarchy(settings, ca_store, InMemoryKeyVault(), InMemoryArtifacts(), now=NOW - 8 * 86_400)
        devices = InMemoryDeviceStore()
        ee = EnrolledEe.enroll(hierarchy=hierarchy, devices=devices, eca_requests=FakeEcaRequestStore(),
                               settings=settings, now=NOW - 5000,
                               registered=(Permission(32), Permission(38)))  # fmt: skip
        keys = DeviceKeys.generate("ubk")
        prepared = build_request(
            keys, "explicit", ((32, None), (38, None)), enrollment=Signer(ee.ee.enrollment, ee.certificate),
            ra_certificate=hierarchy.certificate("ra"), now=NOW, schedule=default_schedule(), periods=PERIODS,
        )  # fmt: skip
        periods = IPeriods.from_settings(settings)
        requests = FakeAuthRequestStore()
        ack = authorize(prepared.spdu, now=NOW, settings=settings, periods=periods, devices=devices,
                        requests=requests, ra=hierarchy)  # fmt: skip
        verify_ack(prepared, ack, hierarchy.certificate("ra"))
        rh = request_hash(prepared.spdu)
        stored = requests.get(rh)
        assert stored is not None
        lines = Linkage()
        pairs = [(i, j) for i in range(stored.first_i, stored.last_i + 1) for j in range(stored.certs_per_period)]
        pooled = expand_chunk(stored, stored.first_i, stored.last_i, {(i, j): lines.info(i, j) for i, j in pairs},
                              ra=hierarchy.signer("ra"), periods=periods, now=NOW)  # fmt: skip
        results = issue_batch(
            [p.spdu for p in pooled], aca=hierarchy.signer("aca"), ra_certificate_resolver=resolver_for(hierarchy, NOW),
            plv_keys=lines.aca_keyring(), now=NOW, policy=IssuePolicy(hierarchy.certificate("root").hashed_id3, 1),
            responses=FakeAcaResponseStore(),
        )  # fmt: skip
        responses = {}
        for p, result in zip(pooled, results, strict=True):
            assert result.response is not None, result.refusal
            responses[p.i, p.j] = parse_aca_ra_cert_response(result.response).content.response_spdu
        zips = {}
        for i in range(stored.first_i, stored.last_i + 1):
            info = RaEeCertInfo(NOW, i, rh, periods.next_download_time(i + 1))
            zips[i] = period_zip(rh, i, {j: d for (k, j), d in responses.items() if k == i}, info)
        record = ProvisionedRequest(rh, "ubk", "explicit", stored.first_i, stored.last_i, NOW, prepared.expected,
                                    hierarchy.certificate("ra").hashed_id8.hex())  # fmt: skip
        return cls(settings, hierarchy, ca_store, ee, lines, record, keys, prepared.spdu, ack, zips)

    # --- the SCMS's side ---------------------------------------------------------------------

    @property
    def root(self) -> Certificate:
        return self.hierarchy.certificate("root")

    @property
    def series(self) -> bytes:
        return self.root.hashed_id8

    def seeds_at(self, i: int) -> tuple[bytes, bytes]:
        """The device's chain's linkage seeds of period ``i`` (what LA1 and LA2 hand the MA)."""
        return linkage.seed_at(LA1_ID, self.lines.seed1, 0, i), linkage.seed_at(LA2_ID, self.lines.seed2, 0, i)

    def linked_crl(
        self, i_rev: int, *, seeds: tuple[bytes, bytes] | None = None, i_max: int = 0xFFFF,
        signer: Signer | None = None, issue_date: int = NOW, series: int = LINKED_SERIES,
        craca: bytes | None = None,
    ) -> bytes:  # fmt: skip
        seed1, seed2 = seeds if seeds is not None else self.seeds_at(i_rev)
        individual = [{"jmax": CERTS_PER_PERIOD, "contents": [{"la1Id": LA1_ID, "la2Id": LA2_ID, "contents": [
            {"iMax": i_max, "contents": [{"linkageSeed1": seed1, "linkageSeed2": seed2}]}]}]}]  # fmt: skip
        contents = CrlContents(
            series,
            self.series if craca is None else craca,
            issue_date,
            issue_date + 7 * 86_400,
            ("fullLinkedCrl", {"iRev": i_rev, "indexWithinI": 0, "individual": individual}),
        )
        return build_secured_crl(contents, signer or self.hierarchy.signer("crlg"))

    def hash_crl(self, ids: list[bytes], *, signer: Signer | None = None, series: int = HASH_SERIES) -> bytes:
        entries = [{"id": h, "expiry": NOW + 86_400 * 365} for h in ids]
        contents = CrlContents(series, self.series, NOW, NOW + 7 * 86_400,
                               ("fullHashCrl", {"crlSerial": 1, "entries": entries}))  # fmt: skip
        return build_secured_crl(contents, signer or self.hierarchy.signer("crlg"))

    def info_status(self, *, signer: Signer | None = None, ca_ccf: int = NOW - 86_400, ctl_seq: int = 1) -> bytes:
        crls = tuple(
            CrlInfoStatus(craca, series, parse_secured_crl(self.served.crls[craca, series]).content.issue_date)
            for craca, series in sorted(self.served.crls)
        )
        content = CertificateManagementInfoStatus(
            crls, (CtlInfoStatus(self.series, ctl_seq, NOW - 86_400),), ca_ccf, (MaInfoStatus((32,), NOW),), NOW
        )
        return build_info_status_spdu(content, signer or self.hierarchy.signer("ra"))

    def ctl_spdu(self, sequence_number: int) -> bytes:
        for record in self.ca_store.ctls(self.series):
            if record.sequence_number == sequence_number:
                return record.spdu
        return self.served.ctls[sequence_number]

    def transport(self) -> Callable[..., Response]:
        served = self.served

        def answer(method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float) -> Response:
            parts = urllib.parse.urlsplit(url)
            query = dict(urllib.parse.parse_qsl(parts.query))
            served.calls.append((method, parts.path, dict(headers)))
            if method == "POST" and parts.path == "/v3/misbehavior-report":
                return self._report(body or b"")
            name, data = self._download(parts.path, query)
            if data is None:
                return Response(404, {}, b"not found")
            if headers.get("If-None-Match") == f'"{name}"':
                return Response(304, {"etag": f'"{name}"'}, b"")
            return Response(200, {"content-disposition": f'attachment; filename="{name}"', "etag": f'"{name}"'}, data)

        return answer

    def _download(self, path: str, query: dict[str, str]) -> tuple[str, bytes | None]:
        served = self.served
        if path == "/v3/ccf-ctl":
            ccf = certificate_chain_file(self.ca_store, query["ctlSeriesId"], now=NOW)
            return ccf.filename, ccf.body
        if path == "/v3/certificate-management-info-status":
            version = hashlib.sha256(served.info or b"").hexdigest()[:8]  # a new name for every new status
            return f"scms-management-infostatus_test_{version}.oer", served.info
        if path == "/v3/ctl":
            lowest = int(query.get("ctlSequenceNumber", "1"))
            seqs = [1, *sorted(served.ctls)]
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
                for seq in seqs:
                    if seq >= lowest:
                        archive.writestr(f"ctl_{self.series.hex()}_{seq}.oer", self.ctl_spdu(seq))
            return f"ctl_{self.series.hex()}_{lowest}_{max(seqs)}.zip", buffer.getvalue()
        if path == "/v3/crl":
            key = (bytes.fromhex(query["craca"]), int(query["crlSeries"]))
            data = served.crls.get(key)
            return f"crl_{key[0].hex()}_{key[1]}_{hashlib.sha256(data or b'').hexdigest()[:8]}.oer", data
        if path == "/v3/composite-crl-ctl":
            newest = max([1, *served.ctls])
            body = build_composite_crl_spdu(CompositeCrl(tuple(served.crls.values()), self.ctl_spdu(newest)))
            return f"composite-crl_{hashlib.sha256(body).hexdigest()[:8].upper()}.oer", body
        if path == "/v3/ma-certificate":
            return "ma.oer", served.ma if served.ma is not None else self.hierarchy.certificate("ma").encoded
        return "", None

    def _report(self, body: bytes) -> Response:
        if self.served.report_refusal is not None:
            code = self.served.report_refusal
            return Response(int(code.split("-")[0]), {ERROR_HEADER.lower(): code}, b"refused")
        if self.served.ma_records is not None:
            try:
                report_id = receive_report(body, now=NOW, settings=self.settings, keys=self.hierarchy,
                                           records=self.served.ma_records)  # fmt: skip
            except ScmsError as exc:
                headers = {} if exc.code is None else {ERROR_HEADER.lower(): exc.code.value}
                return Response(exc.status, headers, b"refused")
            return Response(202, {"scms-report-id": report_id}, b"")
        keyring = Keyring()
        keyring.add_certificate(self.hierarchy.certificate("ma"), self.hierarchy.encryption_private_key("ma"))
        resolver = {self.hierarchy.certificate("aca").hashed_id8: self.hierarchy.certificate("aca")}.get
        report = open_misbehavior_report(body, keyring, resolve_signer=resolver)
        self.served.reports.append(report)
        return Response(202, {"scms-report-id": report.report_id.hex()}, b"")

    # --- the device's side -------------------------------------------------------------------

    def device(self, path: Path) -> DeviceState:
        """A device state directory: enrolled, CCF fetched, the request's pseudonyms downloaded and saved."""
        state = DeviceState(path)
        state.ensure()
        state.save_enrollment_key(self.ee.ee.enrollment)
        state.save_enrollment(self.ee.certificate, ())
        state.save_root(self.root)
        client = Client("http://scms.test", transport=self.transport())
        fetch_chain(state, client, Trace(None), pinned_root=None, series=None, now=NOW, say=lambda _line: None)
        ProvisioningStore(state).save(self.record, self.keys, self.spdu, self.ack)
        opener = Opener(self.keys, self.record.expected, [self.hierarchy.certificate("aca")])
        results = {i: open_period(opener, self.record.request_hash, i, data) for i, data in self.zips.items()}
        _save(state, self.record, self.zips, results)
        return state

    def client(self) -> Client:
        return Client("http://scms.test", transport=self.transport())


# Fixtures for the test modules that drive a device against this world (import them by name, as
# ``from tests.unit.ee.revocation_world import device_fixture, fresh_fixture, world_fixture``).


@pytest.fixture(scope="module", name="world")
def world_fixture() -> RevocationWorld:
    return RevocationWorld.build()


@pytest.fixture(name="fresh")
def fresh_fixture(world: RevocationWorld) -> RevocationWorld:
    """The world with nothing served yet (each test sets what it needs)."""
    world.served = dataclasses.replace(world.served.__class__())
    return world


@pytest.fixture(name="device")
def device_fixture(fresh: RevocationWorld, tmp_path: Path) -> DeviceState:
    return fresh.device(tmp_path / "obu")
