"""The MA app on moto: report intake, the management API and idempotency (issue #6 §1, issue #7 §3).

The callees are the fakes of tests/unit/ma/fakes.py (the contract's JSON); MaTable, the API key
secret and the hierarchy are real (moto), so the store's conditions really run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import pytest
from chalice.test import Client
from scms_service.stores.ma_records import DynamoDbMaRecordStore

from scms_codec import time32
from scms_codec.errors import ErrorCode
from tests.functional.ma_support import load_ma_app, ma_services, misbehavior_report
from tests.support.stack import Cloud, open_cloud
from tests.unit.ma.conftest import pseudonym
from tests.unit.ma.fakes import FakeAuthorities, device

REPORT = "/v3/misbehavior-report"
OCTETS = {"Content-Type": "application/octet-stream"}
HEADER = "Ieee-1609.2.1-Error"


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    with open_cloud() as c:
        yield c


@pytest.fixture
def ma(cloud: Cloud) -> Iterator[tuple[ModuleType, FakeAuthorities]]:
    fake = FakeAuthorities()
    module = load_ma_app()
    module.configure(ma_services(cloud.settings, cloud.hierarchy, fake.authorities()))
    yield module, fake
    module.configure(None)


def _key(cloud: Cloud) -> dict[str, str]:
    return {"X-Api-Key": cloud.api_key, "Content-Type": "application/json"}


def test_report_is_202_with_its_id_and_stored(cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities]) -> None:
    app, _ = ma
    data = misbehavior_report(cloud.hierarchy, now=time32.now())
    with Client(app.app) as client:
        answer = client.http.post(REPORT, headers=OCTETS, body=data)  # no Accept, as devices send
        assert answer.status_code == 202 and answer.body == b""
        report_id = answer.headers["Scms-Report-Id"]
        shown = client.http.get(f"/manage/v1/reports/{report_id}", headers=_key(cloud))
    assert shown.status_code == 200
    body = json.loads(shown.body)
    assert body["status"] == "NEW" and body["evidence_psid"] == 32 and body["evidence"]
    assert DynamoDbMaRecordStore.from_settings(cloud.settings).get_report(report_id) is not None


def test_same_report_twice_and_concurrently_is_stored_once(
    cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities]
) -> None:
    app, _ = ma
    data = misbehavior_report(cloud.hierarchy, now=time32.now())
    store = DynamoDbMaRecordStore.from_settings(cloud.settings)
    before = len(store.list_reports(None, 1000, None)[0])

    def post() -> Any:
        with Client(app.app) as client:
            return client.http.post(REPORT, headers=OCTETS, body=data)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(), range(4)))
    answers.append(post())
    assert {a.status_code for a in answers} == {202}
    assert len({a.headers["Scms-Report-Id"] for a in answers}) == 1
    assert len(store.list_reports(None, 1000, None)[0]) == before + 1


def test_refused_report_has_the_code_header_and_stores_nothing(
    cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities]
) -> None:
    app, _ = ma
    old = misbehavior_report(cloud.hierarchy, now=time32.now() - cloud.settings.ra_max_age - 60)
    cloud.watch.take()
    with Client(app.app) as client:
        answer = client.http.post(REPORT, headers=OCTETS, body=old)
    assert answer.status_code == 400 and answer.headers[HEADER] == ErrorCode.RA_MAX_AGE.value
    assert cloud.watch.take() == []


def test_management_routes_need_the_api_key(cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities]) -> None:
    app, fake = ma
    with Client(app.app) as client:
        assert client.http.get("/manage/v1/reports").status_code == 401
        assert client.http.get("/manage/v1/reports", headers={"X-Api-Key": "wrong"}).status_code == 403
        body = json.dumps({"device": "dev-x", "cause": "c"})
        assert client.http.post("/manage/v1/revocations", headers={"Content-Type": "application/json"},
                                body=body).status_code == 401  # fmt: skip
        assert client.http.get("/manage/v1/reports", headers=_key(cloud)).status_code == 200
    assert fake.calls == []


def test_revocation_by_report_is_201_then_200_and_marks_the_report(
    cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities]
) -> None:
    app, fake = ma
    data = misbehavior_report(cloud.hierarchy, now=time32.now())
    with Client(app.app) as client:
        report_id = client.http.post(REPORT, headers=OCTETS, body=data).headers["Scms-Report-Id"]
        suspect = json.loads(client.http.get(f"/manage/v1/reports/{report_id}", headers=_key(cloud)).body)
        fake.issued[suspect["suspect_cert_id"]] = "44" * 8
        fake.devices["acaRequest:" + "44" * 8] = device(chains=2)
        body = json.dumps({"report": report_id, "cause": "false positions"})
        first = client.http.post("/manage/v1/revocations", headers=_key(cloud), body=body)
        again = client.http.post("/manage/v1/revocations", headers=_key(cloud), body=body)
        shown = json.loads(client.http.get(f"/manage/v1/reports/{report_id}", headers=_key(cloud)).body)
        revoked = json.loads(client.http.get("/manage/v1/reports?status=REVOKED", headers=_key(cloud)).body)
        listed = json.loads(client.http.get("/manage/v1/revocations", headers=_key(cloud)).body)
    assert first.status_code == 201 and again.status_code == 200
    assert json.loads(first.body) == json.loads(again.body)
    revocation = json.loads(first.body)
    assert revocation["linked_entries"] == 2 and revocation["hash_entries"] == 1
    assert revocation["target"] == {"report": report_id}
    assert shown["status"] == "REVOKED" and shown["revocation_id"] == revocation["revocation_id"]
    assert report_id in {r["report_id"] for r in revoked["reports"]}
    assert revocation["revocation_id"] in {r["revocation_id"] for r in listed["revocations"]}
    # The callees were asked once: the second request was answered from MaTable
    assert fake.names().count("ra") == 1 and len(fake.linked) == 2


def test_revocation_of_an_unknown_device_is_404_and_stores_nothing(
    cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities]
) -> None:
    app, _ = ma
    with Client(app.app) as client:
        answer = client.http.post("/manage/v1/revocations", headers=_key(cloud),
                                  body=json.dumps({"device": "nobody", "cause": "c"}))  # fmt: skip
        listed = json.loads(client.http.get("/manage/v1/revocations", headers=_key(cloud)).body)
    assert answer.status_code == 404 and json.loads(answer.body)["status"] == 404
    assert all(r["target"] != {"device": "nobody"} for r in listed["revocations"])


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"{", json.dumps({"cause": "c"}).encode(), json.dumps({"device": "d", "report": "ab" * 8,
     "cause": "c"}).encode(), json.dumps({"certificate": "00", "cause": "c"}).encode(), b"[" * 5000],
)  # fmt: skip
def test_malformed_revocation_is_400_json(cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities], body: bytes) -> None:
    app, fake = ma
    with Client(app.app) as client:
        answer = client.http.post("/manage/v1/revocations", headers=_key(cloud), body=body)
    assert answer.status_code == 400 and "error" in json.loads(answer.body)
    assert fake.calls == []


def test_revocation_of_a_pseudonym_certificate_by_hex(cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities]) -> None:
    app, fake = ma
    suspect = pseudonym(cloud.hierarchy.signer("aca"))
    assert suspect.certificate is not None
    fake.issued[suspect.certificate.hashed_id8.hex()] = "55" * 8
    fake.devices["acaRequest:" + "55" * 8] = device()
    body = json.dumps({"certificate": suspect.certificate.encoded.hex(), "cause": "c"})
    with Client(app.app) as client:
        answer = client.http.post("/manage/v1/revocations", headers=_key(cloud), body=body)
    assert answer.status_code == 201, answer.body
    assert fake.names() == ["aca", "ra", "la1", "la2", "crlg"]


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "status=OPEN", "next=%21%21"])
def test_bad_listing_parameters_are_400(cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities], query: str) -> None:
    app, _ = ma
    with Client(app.app) as client:
        assert client.http.get(f"/manage/v1/reports?{query}", headers=_key(cloud)).status_code == 400
        assert client.http.get("/manage/v1/reports?limit=5", headers=_key(cloud)).status_code == 200


def test_reports_page_through_with_next(cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities]) -> None:
    app, _ = ma
    with Client(app.app) as client:
        for _ in range(3):
            data = misbehavior_report(cloud.hierarchy, now=time32.now())
            assert client.http.post(REPORT, headers=OCTETS, body=data).status_code == 202
        seen: list[str] = []
        token = None
        while True:
            query = "limit=2" + (f"&next={token}" if token else "")
            page = json.loads(client.http.get(f"/manage/v1/reports?{query}", headers=_key(cloud)).body)
            seen += [r["report_id"] for r in page["reports"]]
            token = page["next"]
            if token is None:
                break
    assert len(seen) == len(set(seen)) >= 3
    assert len(seen) == len(DynamoDbMaRecordStore.from_settings(cloud.settings).list_reports(None, 1000, None)[0])


def test_health_is_200_with_table_and_certificate(cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities]) -> None:
    app, _ = ma
    with Client(app.app) as client:
        answer = client.http.get("/ma/health")
    body = json.loads(answer.body)
    assert answer.status_code == 200 and body["authority"] == "ma" and body["checks"] == {"table": "ok", "ca": "ok"}


def test_the_same_revocation_sent_concurrently_is_made_once(
    cloud: Cloud, ma: tuple[ModuleType, FakeAuthorities]
) -> None:
    app, fake = ma
    fake.devices["device:obu-concurrent"] = device()
    body = json.dumps({"device": "obu-concurrent", "cause": "c"})

    def post() -> Any:
        with Client(app.app) as client:
            return client.http.post("/manage/v1/revocations", headers=_key(cloud), body=body)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(), range(4)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201}
    assert len({json.dumps(json.loads(a.body), sort_keys=True) for a in answers}) == 1
