"""The i-period time model (protocol.md §5.2): i(t), start(i), validity with overlap, request periods."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scms_service.config import load_settings
from scms_service.iperiod import IPeriods

from scms_codec.time32 import from_datetime, validity_end

WEEK = 604_800
CAMP = IPeriods(length=WEEK, epoch=347_619_603, init=0, overlap=3600, certs_per_period=20)

# Lengths a Duration can state exactly: up to 65535 s, or whole hours.
lengths = st.one_of(st.integers(min_value=1, max_value=0xFFFF), st.integers(1, 2000).map(lambda h: h * 3600))
epochs = st.integers(min_value=0, max_value=2**31)
inits = st.integers(min_value=0, max_value=0xFFFF)
overlaps = st.integers(min_value=0, max_value=168).map(lambda h: h * 3600)


def test_default_epoch_is_the_camp_epoch_2015_01_06_0400_est_in_tai() -> None:
    est = timezone(timedelta(hours=-5))
    assert load_settings({}).i_period_epoch == from_datetime(datetime(2015, 1, 6, 4, 0, tzinfo=est)) == 347_619_603


def test_default_settings_make_weekly_periods_of_twenty_with_an_hour_overlap() -> None:
    assert IPeriods.from_settings(load_settings({})) == CAMP


def test_validity_of_a_weekly_period_is_169_hours() -> None:
    assert CAMP.validity(10) == {"start": 347_619_603 + 10 * WEEK, "duration": ("hours", 169)}


def test_validity_not_in_whole_hours_uses_the_exact_unit() -> None:
    periods = IPeriods(length=90, epoch=0, overlap=0)
    assert periods.validity(0)["duration"] == ("seconds", 90)
    assert validity_end(periods.validity(3)) == 4 * 90


@given(lengths, epochs, inits, st.integers(min_value=0, max_value=0xFFFF))
def test_i_at_start_of_i_is_i(length: int, epoch: int, init: int, i: int) -> None:
    periods = IPeriods(length=length, epoch=epoch, init=init)
    assert periods.i_at(periods.start(i)) == i


@given(lengths, epochs, inits, st.integers(min_value=0, max_value=0xFFFF))
def test_the_last_second_of_a_period_belongs_to_it_and_the_next_second_does_not(
    length: int, epoch: int, init: int, i: int
) -> None:
    periods = IPeriods(length=length, epoch=epoch, init=init)
    end = periods.start(i + 1)
    assert periods.i_at(end - 1) == i
    assert periods.i_at(end) == i + 1


@given(st.integers(min_value=1, max_value=1000).map(lambda h: h * 3600), overlaps, st.integers(0, 1000))
def test_consecutive_periods_overlap_by_time_overlap(length: int, overlap: int, i: int) -> None:
    periods = IPeriods(length=length, epoch=347_619_603, overlap=overlap)
    this, following = periods.period(i), periods.period(i + 1)
    assert validity_end(this.validity) == this.end
    assert this.end - following.start == overlap


def test_periods_lists_first_to_last_inclusive_and_refuses_a_reversed_range() -> None:
    assert [p.i for p in CAMP.periods(5, 8)] == [5, 6, 7, 8]
    with pytest.raises(ValueError, match="last_i"):
        CAMP.periods(8, 5)


def test_a_request_for_one_period_plus_overlap_asks_for_that_period_only() -> None:
    start = CAMP.start(40)
    assert CAMP.first_i_for(start) == 40
    assert CAMP.last_i_for(start + WEEK + 3600) == 40
    # Twin: one second more reaches into the next period.
    assert CAMP.last_i_for(start + WEEK + 3601) == 41


def test_a_request_starting_mid_period_starts_in_that_period() -> None:
    assert CAMP.first_i_for(CAMP.start(40) + 5) == 40
    assert CAMP.first_i_for(CAMP.start(40) - 1) == 39


def test_a_batch_is_due_one_period_before_it_starts() -> None:
    assert CAMP.next_download_time(40) == CAMP.start(39)


@pytest.mark.parametrize(
    ("field", "value"),
    [("length", 0), ("init", 0x10000), ("overlap", -1), ("certs_per_period", 0), ("certs_per_period", 256)],
)
def test_a_schedule_out_of_range_is_refused(field: str, value: int) -> None:
    kwargs = {"length": WEEK, "epoch": 0, "init": 0, "overlap": 0, "certs_per_period": 20, field: value}
    with pytest.raises(ValueError, match=field):
        IPeriods(**kwargs)
