"""Time32 (TAI since 2004 with leap seconds) and Duration conversions (protocol.md §5.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scms_codec import time32


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        # The epoch itself, before any leap second.
        (datetime(2004, 1, 1, tzinfo=UTC), 0),
        # The last second before the 2005-12-31 leap second: still 0 leap seconds.
        (datetime(2005, 12, 31, 23, 59, 59, tzinfo=UTC), 1136073599 - 1072915200),
        # The first second after it: +1.
        (datetime(2006, 1, 1, tzinfo=UTC), 1136073600 - 1072915200 + 1),
        # Mid-2016: four leap seconds so far.
        (datetime(2016, 3, 22, tzinfo=UTC), 1458604800 - 1072915200 + 4),
        # From 2017-01-01 on: five (protocol.md §5.1).
        (datetime(2017, 1, 1, tzinfo=UTC), 1483228800 - 1072915200 + 5),
        (datetime(2024, 6, 1, 12, 30, tzinfo=UTC), 1717245000 - 1072915200 + 5),
    ],
)
def test_from_datetime_adds_leap_seconds_since_2004(instant: datetime, expected: int) -> None:
    assert time32.from_datetime(instant) == expected
    assert time32.to_datetime(expected) == instant


def test_from_datetime_differs_from_plain_unix_offset_after_2017() -> None:
    # The OpenSCMS mistake (protocol.md §5.1) gives 5 seconds less.
    instant = datetime(2020, 1, 1, tzinfo=UTC)
    assert time32.from_datetime(instant) != int(instant.timestamp()) - time32.EPOCH_UNIX
    assert time32.from_datetime(instant) - (int(instant.timestamp()) - time32.EPOCH_UNIX) == 5


def test_leap_seconds_at_counts_each_insertion() -> None:
    assert time32.leap_seconds_at(datetime(2004, 6, 1, tzinfo=UTC)) == 0
    assert time32.leap_seconds_at(datetime(2009, 1, 1, tzinfo=UTC)) == 2
    assert time32.leap_seconds_at(datetime(2012, 7, 1, tzinfo=UTC)) == 3
    assert time32.leap_seconds_at(datetime(2015, 7, 1, tzinfo=UTC)) == 4
    assert time32.leap_seconds_at(datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)) == 4
    assert time32.leap_seconds_at(datetime(2030, 1, 1, tzinfo=UTC)) == 5


def test_inserted_leap_second_maps_onto_the_following_second() -> None:
    # Time32 of 2016-12-31T23:59:60 is one less than that of 2017-01-01T00:00:00; a datetime
    # cannot hold second 60, so it reads back as the next second.
    after = time32.from_datetime(datetime(2017, 1, 1, tzinfo=UTC))
    assert time32.to_datetime(after - 1) == datetime(2017, 1, 1, tzinfo=UTC)
    assert time32.to_datetime(after - 2) == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_from_datetime_honours_the_timezone() -> None:
    cet = timezone(timedelta(hours=1))
    assert time32.from_datetime(datetime(2020, 1, 1, 1, tzinfo=cet)) == time32.from_datetime(
        datetime(2020, 1, 1, tzinfo=UTC)
    )


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="dt"):
        time32.from_datetime(datetime(2020, 1, 1))


def test_time_before_epoch_or_after_2140_is_refused() -> None:
    with pytest.raises(ValueError, match="Time32"):
        time32.from_datetime(datetime(2003, 12, 31, tzinfo=UTC))
    with pytest.raises(ValueError, match="Time32"):
        time32.to_datetime(2**32)
    with pytest.raises(TypeError, match="t"):
        time32.to_datetime("0")  # type: ignore[arg-type]


def test_now_is_after_2024() -> None:
    assert time32.now() > time32.from_datetime(datetime(2024, 1, 1, tzinfo=UTC))


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_time32_round_trips_through_datetime_except_leap_seconds(t: int) -> None:
    back = time32.from_datetime(time32.to_datetime(t))
    leap_second_instants = {lt - 1 for lt in time32._LEAP_TIME32}
    assert back == (t + 1 if t in leap_second_instants else t)


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        (("microseconds", 65535), 0),
        (("milliseconds", 65535), 65),
        (("seconds", 30), 30),
        (("minutes", 10), 600),
        (("hours", 169), 169 * 3600),
        (("sixtyHours", 2), 432000),
        (("years", 1), 31556952),
        (("years", 70), 70 * 31556952),
    ],
)
def test_duration_seconds_uses_1609_units(duration: tuple[str, int], seconds: int) -> None:
    assert time32.duration_seconds(duration) == seconds


def test_duration_seconds_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="duration"):
        time32.duration_seconds(("days", 1))
    with pytest.raises(ValueError, match="duration"):
        time32.duration_seconds(("hours", 65536))
    with pytest.raises(TypeError, match="duration"):
        time32.duration_seconds(3600)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "duration"),
    [
        (0, ("seconds", 0)),
        (59, ("seconds", 59)),
        (60, ("minutes", 1)),
        (61, ("seconds", 61)),
        (169 * 3600, ("hours", 169)),
        (7 * 24 * 3600, ("hours", 168)),
        (216_000 * 3, ("sixtyHours", 3)),
        (31556952 * 10, ("years", 10)),
        # Above the Uint16 of seconds but a whole number of minutes.
        (65580, ("minutes", 1093)),
    ],
)
def test_duration_from_seconds_picks_largest_exact_unit(seconds: int, duration: tuple[str, int]) -> None:
    assert time32.duration_from_seconds(seconds) == duration
    assert time32.duration_seconds(duration) == seconds


def test_duration_from_seconds_refuses_what_no_unit_holds() -> None:
    # 65537 s is prime-ish for every unit: not a multiple of 60 and above the Uint16 of seconds.
    with pytest.raises(ValueError, match="seconds"):
        time32.duration_from_seconds(65537)
    with pytest.raises(ValueError, match="seconds"):
        time32.duration_from_seconds(-1)


@given(st.sampled_from(["seconds", "minutes", "hours", "sixtyHours", "years"]), st.integers(0, 65535))
def test_duration_from_seconds_inverts_duration_seconds(unit: str, count: int) -> None:
    seconds = time32.duration_seconds((unit, count))
    assert time32.duration_seconds(time32.duration_from_seconds(seconds)) == seconds


def test_validity_end_is_start_plus_duration() -> None:
    assert time32.validity_end({"start": 1000, "duration": ("hours", 2)}) == 1000 + 7200
    with pytest.raises(TypeError, match="validity_period"):
        time32.validity_end({"start": 1000})
