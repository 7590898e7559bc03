"""Download counters per enrollment certificate on ``RaTable``: download-maxReqs and download-minWait
(protocol.md §2.4 400-75/400-76, docs/params.md).

Item ``pk=RADL#<enrollment cert HashedId8 hex>, sk=COUNTER``: ``days`` (map: day number = Time32 //
86 400 → authorization-certificate download requests counted that day, only the last seven days
kept), ``last`` (Time32 of the last counted request), ``version`` (optimistic concurrency) and
``expiresAt`` (Unix seconds, the table's TTL: a week after ``last``, when nothing in it counts any more),
and since the one-write count: ``day`` (the newest day in ``days``) and ``inWindow`` (the sum of
``days``: every request counted in the seven days that end with ``day``).

Every write is conditional, so two concurrent requests never both count as one: ``replace`` on the
version read; ``count`` (one ``UpdateItem``, no read first) on the stored counter being of the same
day, under the limit and past the minimum wait, all judged by DynamoDB against the item as it is at
the write. ``count`` does not decide refusals: when its condition fails (another day, the limit, the
wait, or a counter written before these attributes) the caller reads and judges (``get``/``replace``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ..errors import Conflict, ScmsError
from .aws_errors import is_condition_failure
from .dynamo import DynamoTable

__all__ = [
    "CounterChanged",
    "DownloadCounter",
    "DownloadCounterStore",
    "DynamoDbDownloadCounterStore",
    "FakeDownloadCounterStore",
    "StoreError",
]

_KEEP = 8 * 24 * 3600  # TTL margin: a week of buckets plus a day


class CounterChanged(Conflict):
    """The counter changed since it was read (a concurrent download request): 409, read again."""


class StoreError(ScmsError):
    """The RA table failed for a reason that retrying will not fix (500)."""


@dataclass(frozen=True)
class DownloadCounter:
    """Counted download requests of one enrollment certificate."""

    enrollment_cert_id: str
    days: dict[int, int] = field(default_factory=dict)
    last: int = 0  # Time32 of the last counted request
    version: int = 0  # 0: never stored


class DownloadCounterStore(Protocol):
    """Read and conditionally replace one counter per enrollment certificate."""

    def get(self, enrollment_cert_id: str) -> DownloadCounter | None:
        """The stored counter, or None."""
        ...

    def replace(self, counter: DownloadCounter, *, expected_version: int, expires_at: int) -> None:
        """Store ``counter`` if the stored version is ``expected_version`` (0: none stored); else ``CounterChanged``."""
        ...

    def count(
        self, enrollment_cert_id: str, *, day: int, max_reqs: int, last_at_most: int, now: int, expires_at: int
    ) -> bool:
        """Count one request at ``now`` on ``day`` in one conditional write; False, writing nothing, unless the
        stored counter's newest day is ``day``, fewer than ``max_reqs`` are counted in its window and its
        ``last`` is at most ``last_at_most``."""
        ...


def _key(enrollment_cert_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"RADL#{enrollment_cert_id}"}, "sk": {"S": "COUNTER"}}


class DynamoDbDownloadCounterStore(DynamoTable):
    """``DownloadCounterStore`` on the ``RaTable`` (boto3 client injectable)."""

    settings_field = "ra_table"
    store_error = StoreError
    table_label = "RA table"
    error_topic = "download counter"

    def get(self, enrollment_cert_id: str) -> DownloadCounter | None:
        try:
            out = self.client.get_item(TableName=self._table, Key=_key(enrollment_cert_id), ConsistentRead=True)
        except ClientError as exc:
            raise self.error(exc, "get") from exc
        item = out.get("Item")
        if item is None:
            return None
        days = {int(d): int(n["N"]) for d, n in item.get("days", {}).get("M", {}).items()}
        return DownloadCounter(enrollment_cert_id, days, int(item["last"]["N"]), int(item["version"]["N"]))

    def replace(self, counter: DownloadCounter, *, expected_version: int, expires_at: int) -> None:
        item = {
            **_key(counter.enrollment_cert_id),
            "days": {"M": {str(d): {"N": str(n)} for d, n in sorted(counter.days.items())}},
            "last": {"N": str(counter.last)},
            "version": {"N": str(counter.version)},
            "expiresAt": {"N": str(expires_at)},
        }
        if counter.days:
            # What count's condition reads: the window is the seven days ending with the newest one.
            item["day"] = {"N": str(max(counter.days))}
            item["inWindow"] = {"N": str(sum(counter.days.values()))}
        if expected_version == 0:
            # The first count of this certificate: nobody else may have created it meanwhile.
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            # Only over the version we read: a concurrent request that counted first makes us read again.
            condition = {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
            }
        try:
            self.client.put_item(TableName=self._table, Item=item, **condition)
        except ClientError as exc:
            if is_condition_failure(exc):
                raise CounterChanged("download counter changed") from exc
            raise self.error(exc, "replace") from exc

    def count(
        self, enrollment_cert_id: str, *, day: int, max_reqs: int, last_at_most: int, now: int, expires_at: int
    ) -> bool:
        try:
            self.client.update_item(
                TableName=self._table,
                Key=_key(enrollment_cert_id),
                UpdateExpression=(
                    "SET #days.#today = #days.#today + :one, inWindow = inWindow + :one, #last = :now,"
                    " #v = #v + :one, expiresAt = :expires"
                ),
                # The same day (so the stored window is today's and days[today] exists), under
                # download-maxReqs and past download-minWait, judged on the item as it is at this
                # write: a concurrent count either came first and is seen, or fails this one.
                ConditionExpression="#day = :day AND inWindow < :max AND #last <= :latest",
                ExpressionAttributeNames={
                    "#days": "days",
                    "#today": str(day),
                    "#day": "day",
                    "#last": "last",
                    "#v": "version",
                },
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":now": {"N": str(now)},
                    ":expires": {"N": str(expires_at)},
                    ":day": {"N": str(day)},
                    ":max": {"N": str(max_reqs)},
                    ":latest": {"N": str(last_at_most)},
                },
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise self.error(exc, "count") from exc
        return True


class FakeDownloadCounterStore:
    """In-memory ``DownloadCounterStore`` with the adapter's conditions."""

    def __init__(self) -> None:
        self.counters: dict[str, DownloadCounter] = {}
        self.expires: dict[str, int] = {}

    def get(self, enrollment_cert_id: str) -> DownloadCounter | None:
        return self.counters.get(enrollment_cert_id)

    def replace(self, counter: DownloadCounter, *, expected_version: int, expires_at: int) -> None:
        current = self.counters.get(counter.enrollment_cert_id)
        if (current.version if current is not None else 0) != expected_version:
            raise CounterChanged("download counter changed")
        self.counters[counter.enrollment_cert_id] = counter
        self.expires[counter.enrollment_cert_id] = expires_at

    def count(
        self, enrollment_cert_id: str, *, day: int, max_reqs: int, last_at_most: int, now: int, expires_at: int
    ) -> bool:
        current = self.counters.get(enrollment_cert_id)
        if current is None or not current.days or max(current.days) != day:
            return False
        if sum(current.days.values()) >= max_reqs or current.last > last_at_most:
            return False
        days = {**current.days, day: current.days[day] + 1}
        self.counters[enrollment_cert_id] = DownloadCounter(enrollment_cert_id, days, now, current.version + 1)
        self.expires[enrollment_cert_id] = expires_at
        return True
