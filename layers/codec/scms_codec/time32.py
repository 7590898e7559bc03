"""Time32 and Duration: TAI seconds since 2004-01-01T00:00:00Z (1609.2 §6.4.13; protocol.md §5.1).

Time32 counts TAI seconds from an epoch that is a UTC instant, so a Time32 value is the
Unix time minus 1 072 915 200 plus the leap seconds inserted since 2004 (protocol.md §5.1).
The leap-second table lives in ``leap_seconds_at`` and nowhere else.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime
from typing import Any, Final, Literal

__all__ = [
    "DURATION_UNITS",
    "EPOCH_UNIX",
    "TIME32_MAX",
    "DurationUnit",
    "Time32",
    "duration_from_seconds",
    "duration_seconds",
    "from_datetime",
    "from_unix",
    "leap_seconds_at",
    "now",
    "to_datetime",
    "to_unix",
    "validity_end",
]

Time32 = int
TIME32_MAX: Final = 2**32 - 1
UINT16_MAX: Final = 0xFFFF

# 2004-01-01T00:00:00Z as Unix seconds.
EPOCH_UNIX: Final = 1_072_915_200

# Unix times of the first UTC second after each leap second inserted since the epoch:
# 2005-12-31, 2008-12-31, 2012-06-30, 2015-06-30 and 2016-12-31 (IERS Bulletin C).
# A new leap second is one more entry here; nothing else in the codebase knows the table.
_LEAP_UNIX: Final = (
    1_136_073_600,  # 2006-01-01
    1_230_768_000,  # 2009-01-01
    1_341_100_800,  # 2012-07-01
    1_435_708_800,  # 2015-07-01
    1_483_228_800,  # 2017-01-01
)
# The same instants as Time32 values: the i-th entry counts i + 1 leap seconds.
_LEAP_TIME32: Final = tuple(u - EPOCH_UNIX + i + 1 for i, u in enumerate(_LEAP_UNIX))

DurationUnit = Literal["microseconds", "milliseconds", "seconds", "minutes", "hours", "sixtyHours", "years"]

# Seconds per Duration unit; one year is 31 556 952 s (365.2425 days), 1609.2 §6.4.14.
DURATION_UNITS: Final[dict[str, float]] = {
    "microseconds": 1e-6,
    "milliseconds": 1e-3,
    "seconds": 1,
    "minutes": 60,
    "hours": 3600,
    "sixtyHours": 216_000,
    "years": 31_556_952,
}
_WHOLE_UNITS_LARGEST_FIRST: Final[tuple[tuple[DurationUnit, int], ...]] = (
    ("years", 31_556_952),
    ("sixtyHours", 216_000),
    ("hours", 3600),
    ("minutes", 60),
    ("seconds", 1),
)


def _check_aware(dt: datetime, name: str) -> None:
    if not isinstance(dt, datetime):
        raise TypeError(f"{name}: expected datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name}: naive datetime; give a timezone-aware one (UTC)")


def leap_seconds_at(dt: datetime) -> int:
    """Leap seconds inserted between 2004-01-01 and the UTC instant ``dt`` (protocol.md §5.1)."""
    _check_aware(dt, "dt")
    return bisect_right(_LEAP_UNIX, int(dt.timestamp() // 1))


def _check_time32(t: int, name: str) -> None:
    if not isinstance(t, int) or isinstance(t, bool):
        raise TypeError(f"{name}: expected int, got {type(t).__name__}")
    if not 0 <= t <= TIME32_MAX:
        raise ValueError(f"{name}: {t} is outside Time32 (0..2^32-1)")


def from_unix(unix_seconds: int) -> Time32:
    """Time32 of a whole Unix second (protocol.md §5.1)."""
    if not isinstance(unix_seconds, int) or isinstance(unix_seconds, bool):
        raise TypeError(f"unix_seconds: expected int, got {type(unix_seconds).__name__}")
    t = unix_seconds - EPOCH_UNIX + bisect_right(_LEAP_UNIX, unix_seconds)
    _check_time32(t, "unix_seconds")
    return t


def to_unix(t: Time32) -> int:
    """Unix seconds of a Time32 value; an inserted leap second maps onto the second after it."""
    _check_time32(t, "t")
    return t + EPOCH_UNIX - bisect_right(_LEAP_TIME32, t)


def from_datetime(dt: datetime) -> Time32:
    """Time32 of an aware datetime, truncated to the whole second (protocol.md §5.1)."""
    _check_aware(dt, "dt")
    return from_unix(int(dt.timestamp() // 1))


def to_datetime(t: Time32) -> datetime:
    """The UTC datetime of a Time32 value (protocol.md §5.1)."""
    return datetime.fromtimestamp(to_unix(t), tz=UTC)


def now() -> Time32:
    """The current Time32 from the system clock."""
    return from_datetime(datetime.now(UTC))


def duration_seconds(duration: tuple[str, int]) -> int:
    """Whole seconds of a ``Duration`` CHOICE value, rounded down (1609.2 §6.4.14).

    Sub-second units round down so that a validity period never ends later than it says.
    """
    if not isinstance(duration, tuple) or len(duration) != 2:
        raise TypeError("duration: expected a (unit, count) Duration CHOICE tuple")
    unit, count = duration
    if unit not in DURATION_UNITS:
        raise ValueError(f"duration: unknown Duration unit {unit!r}")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= UINT16_MAX:
        raise ValueError(f"duration: count {count!r} is not a Uint16")
    if unit == "microseconds":
        return count // 1_000_000
    if unit == "milliseconds":
        return count // 1000
    return count * int(DURATION_UNITS[unit])


def duration_from_seconds(seconds: int) -> tuple[DurationUnit, int]:
    """The ``Duration`` of exactly ``seconds``, in the largest unit whose count fits a Uint16."""
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise TypeError(f"seconds: expected int, got {type(seconds).__name__}")
    if seconds < 0:
        raise ValueError(f"seconds: {seconds} is negative")
    if seconds == 0:
        return ("seconds", 0)
    for unit, size in _WHOLE_UNITS_LARGEST_FIRST:
        count, rest = divmod(seconds, size)
        if rest == 0 and count <= UINT16_MAX:
            return (unit, count)
    raise ValueError(f"seconds: {seconds} is not exactly expressible as a Duration")


def validity_end(validity_period: dict[str, Any]) -> Time32:
    """Last instant of a ``ValidityPeriod`` value: start + duration (1609.2 §6.4.12; protocol.md §5.1)."""
    try:
        start = validity_period["start"]
        duration = validity_period["duration"]
    except (TypeError, KeyError):
        raise TypeError("validity_period: expected a ValidityPeriod dict with start and duration") from None
    _check_time32(start, "validity_period.start")
    return int(start) + duration_seconds(duration)
