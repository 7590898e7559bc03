"""The i-period time model: which period a Time32 lies in, and each period's certificate validity (protocol.md §5.2).

i(t) = iPeriodInit + ⌊(t - iPeriodEpoch) / iPeriodLength⌋, start(i) = iPeriodEpoch + (i - iPeriodInit)·length,
and the certificates of period i are valid from start(i) for length + time-overlap, so consecutive
periods' certificates overlap by time-overlap. All times are TAI ``Time32`` (protocol.md §5.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scms_codec.time32 import TIME32_MAX, duration_from_seconds

from .config import Settings

__all__ = ["I_MAX", "IPeriods", "Period"]

I_MAX = 0xFFFF
"""The largest ``IValue`` (Uint16): LinkageData.iCert, RaEeCertAck.firstI, RaEeCertInfo.currentI."""

_HOUR = 3600
_UINT16 = 0xFFFF


@dataclass(frozen=True)
class Period:
    """One i-period: its number and the validity of its certificates (end exclusive, overlap included)."""

    i: int
    start: int  # Time32
    end: int  # Time32, start + length + overlap
    validity: dict[str, Any]  # the ValidityPeriod value of the period's certificates


@dataclass(frozen=True)
class IPeriods:
    """The i-period schedule of Table 1 (time-iPeriodLength, -Epoch, -Init, time-overlap, baseCertNumber)."""

    length: int
    epoch: int
    init: int = 0
    overlap: int = 0
    certs_per_period: int = 20

    def __post_init__(self) -> None:
        if self.length <= 0:
            raise ValueError("length: an i-period lasts at least one second")
        if not 0 <= self.epoch <= TIME32_MAX:
            raise ValueError("epoch: not a Time32")
        if not 0 <= self.init <= I_MAX:
            raise ValueError("init: not an IValue (Uint16)")
        if self.overlap < 0:
            raise ValueError("overlap: negative")
        if not 1 <= self.certs_per_period <= 255:
            # j is a Uint8 in a linked CRL's jmax (1609.2 §6.4.x LinkageData, the LA's limit too).
            raise ValueError("certs_per_period: expected 1..255")
        duration_from_seconds(self.length + self.overlap)  # ValueError if no Duration can say it

    @classmethod
    def from_settings(cls, settings: Settings) -> IPeriods:
        """The schedule configured by ``Settings.i_period_*``, ``time_overlap`` and ``certs_per_period``."""
        return cls(
            length=settings.i_period_length,
            epoch=settings.i_period_epoch,
            init=settings.i_period_init,
            overlap=settings.time_overlap,
            certs_per_period=settings.certs_per_period,
        )

    def i_at(self, t: int) -> int:
        """The i-period that Time32 ``t`` lies in (may be below init or above I_MAX: callers check)."""
        return self.init + (t - self.epoch) // self.length

    def start(self, i: int) -> int:
        """The first second of period ``i`` (Time32)."""
        return self.epoch + (i - self.init) * self.length

    def validity(self, i: int) -> dict[str, Any]:
        """``ValidityPeriod`` of period ``i``'s certificates: start(i), length + overlap (in hours when exact)."""
        seconds = self.length + self.overlap
        if seconds % _HOUR == 0 and seconds // _HOUR <= _UINT16:
            duration: tuple[str, int] = ("hours", seconds // _HOUR)
        else:
            duration = duration_from_seconds(seconds)
        return {"start": self.start(i), "duration": duration}

    def period(self, i: int) -> Period:
        """Period ``i`` with its validity."""
        start = self.start(i)
        return Period(i, start, start + self.length + self.overlap, self.validity(i))

    def periods(self, first_i: int, last_i: int) -> tuple[Period, ...]:
        """Periods ``first_i`` … ``last_i`` (inclusive), in order."""
        if last_i < first_i:
            raise ValueError("last_i: before first_i")
        return tuple(self.period(i) for i in range(first_i, last_i + 1))

    def first_i_for(self, request_start: int) -> int:
        """The period of a request whose first batch starts at ``request_start`` (its validityPeriod.start)."""
        return self.i_at(request_start)

    def last_i_for(self, request_end: int) -> int:
        """The last period a request's validity (exclusive end ``request_end``) asks for.

        The overlap belongs to the previous period's certificates, so a validity of exactly one
        period plus the overlap asks for that one period only.
        """
        return self.i_at(request_end - self.overlap - 1)

    def next_download_time(self, i: int) -> int:
        """When period ``i``'s batch is due: one period before it starts, so the EE holds it in time."""
        return self.start(i) - self.length
