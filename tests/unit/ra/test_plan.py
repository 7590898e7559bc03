"""scms_ra.plan: chunks of whole i-periods under the certificate cap, covering the request exactly once."""

from __future__ import annotations

from dataclasses import replace

import pytest
from scms_ra.plan import Plan, plan_chunks
from scms_service.config import load_settings
from scms_service.stores.auth_requests import RequestRecord, RequestStatus


def _record(first_i: int, last_i: int, certs_per_period: int = 20, variant: str = "unified") -> RequestRecord:
    return RequestRecord(
        request_hash=b"\x01" * 8, device_id="obu-1", enrollment_cert_id="00" * 8, variant=variant,
        cert_type="implicit", tbs_template=b"", caterpillar_key=None, encryption_key=None, signing_expansion=None,
        encryption_expansion=None, first_i=first_i, last_i=last_i, certs_per_period=certs_per_period,
        chain_id=b"\x02" * 16, psid_set="0" * 16, generation_time=0, status=RequestStatus.ACCEPTED, ack=b"",
        created_at=0, rate_expires_at=0,
    )  # fmt: skip


def _covered(plan: Plan) -> list[int]:
    return [i for first, last in plan.chunks for i in range(first, last + 1)]


@pytest.mark.parametrize(
    ("first_i", "last_i", "jmax", "cap"),
    [(100, 255, 20, 240), (0, 0, 20, 240), (7, 19, 20, 240), (3, 160, 7, 100), (10, 12, 20, 1), (1, 156, 255, 240),
     (5, 30, 1, 3), (0, 11, 20, 240), (0, 12, 20, 240)],
)  # fmt: skip
def test_chunks_cover_every_period_once_in_order_under_the_cap(first_i: int, last_i: int, jmax: int, cap: int) -> None:
    plan = plan_chunks(_record(first_i, last_i, jmax), load_settings({}, provision_chunk_certs=cap))
    # Every period of the request, in order, exactly once,
    assert _covered(plan) == list(range(first_i, last_i + 1))
    assert all(first <= last for first, last in plan.chunks)
    # each chunk at most `cap` certificates, except a single period that alone exceeds it,
    for first, last in plan.chunks:
        assert (last - first + 1) * jmax <= cap or first == last
    # and no more chunks than the cap requires, balanced to within one period.
    per_chunk = max(1, cap // jmax)
    assert len(plan.chunks) == -(-(last_i - first_i + 1) // per_chunk)
    sizes = [last - first + 1 for first, last in plan.chunks]
    assert max(sizes) - min(sizes) <= 1
    assert plan.j_max == jmax


def test_three_years_of_weekly_periods_make_chunks_of_twelve_periods() -> None:
    plan = plan_chunks(_record(0, 155), load_settings({}))  # 156 x 20 = 3,120 certificates, cap 240
    assert len(plan.chunks) == 13 and plan.chunks[0] == (0, 11) and plan.chunks[-1] == (144, 155)
    # Twin: a cap one certificate smaller needs 11 periods per chunk, so more chunks.
    assert len(plan_chunks(_record(0, 155), load_settings({}, provision_chunk_certs=239)).chunks) == 15


def test_a_one_period_request_is_one_chunk() -> None:
    plan = plan_chunks(_record(42, 42, 1, "plain"), load_settings({}))
    assert plan == Plan(chunks=((42, 42),), j_max=1, linkage=False, lanes=2)


def test_a_cap_below_jmax_still_gives_one_whole_period_per_chunk() -> None:
    plan = plan_chunks(_record(3, 6, 20), load_settings({}, provision_chunk_certs=5))
    assert plan.chunks == ((3, 3), (4, 4), (5, 5), (6, 6))


@pytest.mark.parametrize(
    ("variant", "linkage"),
    [("original", True), ("unified", True), ("compactUnified", True), ("encryptionKey", False), ("plain", False)],
)
def test_linkage_is_planned_for_butterfly_variants_only(variant: str, linkage: bool) -> None:
    assert plan_chunks(_record(1, 2, variant=variant), load_settings({})).linkage is linkage


@pytest.mark.parametrize(("lanes", "expected"), [(2, 2), (5, 5), (1, 1), (0, 1), (-3, 1)])
def test_lanes_come_from_the_settings_and_are_at_least_one(lanes: int, expected: int) -> None:
    assert plan_chunks(_record(1, 2), load_settings({}, provision_lanes=lanes)).lanes == expected


def test_a_record_whose_periods_are_reversed_or_empty_is_refused() -> None:
    settings = load_settings({})
    assert plan_chunks(_record(5, 5), settings).chunks == ((5, 5),)
    with pytest.raises(ValueError):
        plan_chunks(_record(5, 4), settings)
    with pytest.raises(ValueError):
        plan_chunks(replace(_record(5, 5), certs_per_period=0), settings)
