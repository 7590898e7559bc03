"""How one accepted authorization request is cut into chunks for the provisioning state machine.

docs/architecture.md "Provisioning pipeline": a chunk is a range of whole i-periods, the unit of one
LA call per LA and one ``expand`` task. Its size is capped by ``Settings.provision_chunk_certs``
certificates so that the chunk's PLVs (about 170 octets each) stay far below the 256 KB Step
Functions passes between states; a period is never split, so a chunk holds at least one period
even when jmax exceeds the cap. Chunks are balanced (sizes differ by at most one period) so the
Map's parallel branches finish together.
"""

from __future__ import annotations

from dataclasses import dataclass

from scms_service.config import Settings
from scms_service.stores.auth_requests import RequestRecord

from .expand import BUTTERFLY_VARIANTS

__all__ = ["Plan", "plan_chunks"]


@dataclass(frozen=True)
class Plan:
    """The chunks of one request and what every chunk's tasks need to know."""

    chunks: tuple[tuple[int, int], ...]  # (i_first, i_last) ranges covering record.first_i..last_i in order
    j_max: int  # record.certs_per_period
    linkage: bool  # butterfly variants (original, unified, compactUnified)
    lanes: int  # settings.provision_lanes (at least 1)


def plan_chunks(record: RequestRecord, settings: Settings) -> Plan:
    """Chunks of whole periods with at most settings.provision_chunk_certs certificates (at least one period each)."""
    if record.last_i < record.first_i:
        raise ValueError("record: last_i is before first_i")
    if record.certs_per_period < 1:
        raise ValueError("record: certs_per_period must be at least 1")
    periods = record.last_i - record.first_i + 1
    per_chunk = max(1, settings.provision_chunk_certs // record.certs_per_period)
    count = -(-periods // per_chunk)  # ceil: the fewest chunks that respect the cap
    base, longer = divmod(periods, count)
    chunks: list[tuple[int, int]] = []
    first = record.first_i
    for index in range(count):
        size = base + (index < longer)
        chunks.append((first, first + size - 1))
        first += size
    return Plan(
        chunks=tuple(chunks),
        j_max=record.certs_per_period,
        linkage=record.variant in BUTTERFLY_VARIANTS,
        lanes=max(1, settings.provision_lanes),
    )
