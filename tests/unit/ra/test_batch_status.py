"""The request's statuses through its batch (scms_ra.batch_status) on the fake stores."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

import pytest
from scms_ra.batch_status import (
    MAX_REASON,
    ProvisioningStalled,
    RequestNotProvisionable,
    done,
    fail,
    failure_reason,
    finish,
    plan,
)
from scms_ra.plan import plan_chunks
from scms_service.config import Settings, load_settings
from scms_service.errors import Conflict
from scms_service.stores.auth_requests import FakeAuthRequestStore, RequestNotFound, RequestRecord, RequestStatus
from scms_service.stores.issued_certs import FakeIssuedCertStore, IssuedCert

RH = bytes.fromhex("0123456789abcdef")
NOW = 700_000_000


def record(**changes: object) -> RequestRecord:
    values: dict[str, object] = {
        "request_hash": RH, "device_id": "obu-1", "enrollment_cert_id": "00" * 8, "variant": "unified",
        "cert_type": "explicit", "tbs_template": b"", "caterpillar_key": b"\x02" * 33, "encryption_key": None,
        "signing_expansion": b"\x01" * 16, "encryption_expansion": None, "first_i": 10, "last_i": 12,
        "certs_per_period": 4, "chain_id": b"\x07" * 16, "psid_set": "x", "generation_time": NOW - 5,
        "status": RequestStatus.ACCEPTED, "ack": b"ack", "created_at": NOW - 5, "rate_expires_at": 0,
    }  # fmt: skip
    values.update(changes)
    return RequestRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings() -> Settings:
    return replace(load_settings({}), provision_chunk_certs=8, provision_lanes=2, provision_max_rounds=3)


@pytest.fixture
def requests() -> FakeAuthRequestStore:
    store = FakeAuthRequestStore()
    store.put(record())
    return store


def test_plan_moves_accepted_to_generating_and_returns_the_chunks(requests: FakeAuthRequestStore,
                                                                 settings: Settings) -> None:  # fmt: skip
    planned = plan(requests, RH, settings=settings, now=NOW, planner=plan_chunks)
    assert not planned.done and planned.plan is not None
    assert planned.plan.chunks == ((10, 11), (12, 12)) and planned.plan.lanes == 2 and planned.plan.linkage
    stored = requests.get(RH)
    assert stored is not None and stored.status is RequestStatus.GENERATING and stored.updated_at == NOW
    # A retried plan (GENERATING) plans again.
    assert plan(requests, RH, settings=settings, now=NOW + 1, planner=plan_chunks).plan == planned.plan


def test_plan_of_a_done_request_does_nothing(requests: FakeAuthRequestStore, settings: Settings) -> None:
    requests.requests[RH] = record(status=RequestStatus.DONE)
    planned = plan(requests, RH, settings=settings, now=NOW, planner=plan_chunks)
    assert planned.done and requests.get(RH) == record(status=RequestStatus.DONE)


def test_plan_of_a_failed_request_is_refused(requests: FakeAuthRequestStore, settings: Settings) -> None:
    requests.requests[RH] = record(status=RequestStatus.FAILED, status_reason="X: y")
    with pytest.raises(RequestNotProvisionable):
        plan(requests, RH, settings=settings, now=NOW, planner=plan_chunks)
    assert requests.get(RH) == record(status=RequestStatus.FAILED, status_reason="X: y")


def test_plan_of_an_unknown_request_is_not_found(settings: Settings) -> None:
    with pytest.raises(RequestNotFound):
        plan(FakeAuthRequestStore(), RH, settings=settings, now=NOW, planner=plan_chunks)


def _deliver_all(issued: FakeIssuedCertStore, *, but: Collection[tuple[int, int]] = ()) -> None:
    """Every (i, j) of the record but ``but``: a third of them refusals, which count as delivered."""
    certs = []
    for i in range(10, 13):
        for j in range(4):
            if (i, j) in but:
                continue
            if (i + j) % 3:
                certs.append(IssuedCert(RH, i, j, "00" * 8, 0, spdu=b"s"))
            else:
                certs.append(IssuedCert(RH, i, j, "00" * 8, 0, refusal="400-35"))
    issued.put_many(certs)


def test_finish_is_complete_when_every_i_j_has_a_certificate_or_refusal(requests: FakeAuthRequestStore,
                                                                        settings: Settings) -> None:  # fmt: skip
    issued = FakeIssuedCertStore()
    _deliver_all(issued)
    progress = finish(requests, issued, RH, round=0, settings=settings)
    assert progress.complete and progress.round == 1 and progress.missing == 0


def test_finish_is_incomplete_while_one_is_missing(requests: FakeAuthRequestStore, settings: Settings) -> None:
    issued = FakeIssuedCertStore()
    _deliver_all(issued, but={(12, 3)})
    # Another request's certificate does not count.
    issued.put_many([IssuedCert(b"\xff" * 8, 12, 3, "00" * 8, 0, spdu=b"s")])
    progress = finish(requests, issued, RH, round=1, settings=settings)
    assert not progress.complete and progress.round == 2 and progress.missing == 1


def test_finish_stalls_after_the_last_round(requests: FakeAuthRequestStore, settings: Settings) -> None:
    issued = FakeIssuedCertStore()
    _deliver_all(issued, but={(11, 0)})
    with pytest.raises(ProvisioningStalled, match="1 of 12"):
        finish(requests, issued, RH, round=2, settings=settings)
    # Twin: complete in the last round is no stall.
    _deliver_all(issued)
    assert finish(requests, issued, RH, round=2, settings=settings).complete


def test_done_moves_generating_to_done_only(requests: FakeAuthRequestStore) -> None:
    with pytest.raises(Conflict):
        done(requests, RH, now=NOW)  # ACCEPTED: never planned
    assert requests.get(RH) == record()
    requests.set_status(RH, RequestStatus.GENERATING, allowed_from=(RequestStatus.ACCEPTED,), now=NOW)
    assert done(requests, RH, now=NOW + 1).status is RequestStatus.DONE
    assert done(requests, RH, now=NOW + 2).status is RequestStatus.DONE  # a retried task


def test_fail_stores_the_short_reason(requests: FakeAuthRequestStore) -> None:
    out = fail(requests, RH, {"Error": "States.Timeout", "Cause": "the task timed out\nat line 3"}, now=NOW)
    assert out.status is RequestStatus.FAILED and out.status_reason == "States.Timeout: the task timed out"
    # Twin: a DONE request cannot be failed afterwards.
    requests.requests[RH] = record(status=RequestStatus.DONE)
    with pytest.raises(Conflict):
        fail(requests, RH, {"Error": "X", "Cause": ""}, now=NOW)
    assert requests.get(RH) == record(status=RequestStatus.DONE)


def test_failure_reason_reads_a_lambda_cause_and_stays_short() -> None:
    cause = '{"errorType": "PlvResultInvalid", "errorMessage": "LA 0002 missing\\ntrace", "stackTrace": ["f"]}'
    assert failure_reason({"Error": "PlvResultInvalid", "Cause": cause}) == "PlvResultInvalid: LA 0002 missing"
    long = failure_reason({"Error": "E", "Cause": "x" * 1000})
    assert len(long) == MAX_REASON and long.startswith("E: xxx")
    # Twin: no cause, or no error at all, still gives a name.
    assert failure_reason({"Error": "States.ALL"}) == "States.ALL"
    assert failure_reason(None) == "Error"
    assert failure_reason({"Error": "E", "Cause": "{not json"}) == "E: {not json"


def test_plan_of_an_accepted_request_of_a_revoked_device_is_refused(
    requests: FakeAuthRequestStore, settings: Settings
) -> None:
    # Issue #6 §1: a revoked device is blocked from further provisioning, even a request accepted before.
    device = requests.get(RH).device_id  # type: ignore[union-attr]
    with pytest.raises(RequestNotProvisionable):
        plan(requests, RH, settings=settings, now=NOW, planner=plan_chunks, revoked=lambda d: d == device)
    assert requests.get(RH).status is RequestStatus.ACCEPTED  # type: ignore[union-attr]
    # Twin: another device's revocation changes nothing for this request.
    planned = plan(requests, RH, settings=settings, now=NOW, planner=plan_chunks, revoked=lambda d: d != device)
    assert planned.plan is not None and requests.get(RH).status is RequestStatus.GENERATING  # type: ignore[union-attr]


def test_plan_retry_of_a_generating_request_goes_on_after_a_revocation(
    requests: FakeAuthRequestStore, settings: Settings
) -> None:
    # Its chain is on the CRL already (the RA lists GENERATING requests' chains), so finishing is harmless.
    first = plan(requests, RH, settings=settings, now=NOW, planner=plan_chunks)
    again = plan(requests, RH, settings=settings, now=NOW + 1, planner=plan_chunks, revoked=lambda _d: True)
    assert again.plan == first.plan
