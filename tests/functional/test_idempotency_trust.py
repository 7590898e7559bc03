"""Idempotency of the trust downloads and of ``scms ctl`` (issue #7 §3) on one moto cloud.

- The info status, the one download that writes (its first signature of a content, kept in RaTable):
  several RA containers asked at once all answer the same octets and one item is stored.
- Two operators issuing the next CTL at once: one CTL #2 is stored, the other run is refused and
  stores nothing; run again, it makes CTL #3 on top.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client
from scms_ra.wiring import from_settings
from scms_service.ctl_issue import CtlRefused, SetQuorum, current_ctl, issue_next_ctl
from scms_service.hierarchy import Hierarchy
from scms_service.stores.artifacts import S3Artifacts
from scms_service.stores.ca import CtlRecord, DynamoDbCaStore, SecretsManagerKeyVault

from scms_codec import time32
from tests.support.stack import Cloud, load_app, open_cloud

INFO = "/v3/certificate-management-info-status"


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with open_cloud() as made:
        yield made


def _signed_items(cloud: Cloud) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=cloud.settings.ra_table)["Items"]
    return [i for i in items if i["pk"]["S"].startswith("SIGNED#")]


def test_info_status_asked_at_once_by_several_containers_is_one_file(cloud: Cloud) -> None:
    containers = []
    for n in range(4):
        app = load_app("ra", f"scms_ra_trust_container_{n}")
        app.configure(from_settings(cloud.settings))
        containers.append(app)
    barrier = threading.Barrier(len(containers))
    bodies: list[bytes] = []

    def ask(app: Any) -> None:
        with Client(app.app) as client:
            barrier.wait()
            answer = client.http.get(INFO, headers={"Accept": "application/octet-stream"})
        assert answer.status_code == 200
        bodies.append(answer.body)

    try:
        threads = [threading.Thread(target=ask, args=(app,)) for app in containers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for app in containers:
            app.configure(None)
    assert len(bodies) == 4 and len(set(bodies)) == 1
    assert len(_signed_items(cloud)) == 1


def test_two_operators_issuing_at_once_make_one_ctl_and_the_loser_stores_nothing(cloud: Cloud) -> None:
    settings = cloud.settings
    barrier = threading.Barrier(2)

    class BothRead(DynamoDbCaStore):
        """Both runs have read CTL #1 before either writes (the race the conditional put settles)."""

        def put_ctl(self, ctl: CtlRecord) -> None:
            barrier.wait()
            super().put_ctl(ctl)

    outcomes: list[str] = []

    def run(quorum: int) -> None:
        try:
            issue_next_ctl(SetQuorum(quorum), BothRead.from_settings(settings),
                           SecretsManagerKeyVault.from_settings(settings), S3Artifacts.from_settings(settings),
                           now=time32.now())  # fmt: skip
            outcomes.append("issued")
        except CtlRefused as exc:
            assert "concurrently" in exc.message
            outcomes.append("refused")

    threads = [threading.Thread(target=run, args=(1,)), threading.Thread(target=run, args=(1,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    store = DynamoDbCaStore.from_settings(settings)
    series = cloud.hierarchy.certificate("root").hashed_id8
    assert sorted(outcomes) == ["issued", "refused"]
    assert [c.sequence_number for c in store.ctls(series)] == [1, 2]
    hierarchy = Hierarchy.load(store, SecretsManagerKeyVault.from_settings(settings))
    assert current_ctl(hierarchy, store).tbs.quorum == 1
    # Twin: run again (no race), it builds on CTL #2.
    issue_next_ctl(SetQuorum(2), store, SecretsManagerKeyVault.from_settings(settings),
                   S3Artifacts.from_settings(settings), now=time32.now())  # fmt: skip
    assert [c.sequence_number for c in store.ctls(series)] == [1, 2, 3]
