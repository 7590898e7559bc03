"""What every DynamoDB adapter of ``stores`` shares: its table, its lazy client and its error mapping.

An adapter subclasses ``DynamoTable`` and names, as class attributes, the ``Settings`` field of its
table, its own ``ScmsError`` subclass and how its messages name the table. A throttled or busy call
(``aws_errors.is_transient``) becomes ``TransientStoreError`` (the exception name ASL ``Retry``
matches), every other ``ClientError`` the store's own error; the AWS text stays in the chained cause.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Self

from botocore.exceptions import ClientError

from .. import aws
from ..errors import ScmsError, TransientStoreError
from .aws_errors import error_code, is_transient

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["DynamoTable"]


class DynamoTable:
    """One DynamoDB table reached through a low-level client (injectable; default ``aws.client``)."""

    settings_field: ClassVar[str]
    """The ``Settings`` attribute holding the table's name ("ra_table")."""
    store_error: ClassVar[type[ScmsError]]
    """What a failure that retrying will not fix raises."""
    table_label: ClassVar[str]
    """How messages name the table ("RA table")."""
    error_topic: ClassVar[str] = ""
    """What of the table the adapter holds, in messages ("pool"); empty when it is the whole table."""
    busy_message: ClassVar[str] = "{table} busy during {topic}{action}"
    failed_message: ClassVar[str] = "{table} failed during {topic}{action}"
    """Message templates; fields ``table``, ``topic`` (with its space), ``action`` and ``code`` (the AWS code)."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings, client: Any | None = None) -> Self:
        return cls(getattr(settings, cls.settings_field), client)

    @property
    def table_name(self) -> str:
        return self._table

    @property
    def client(self) -> Any:
        # Resolved per call, so the process-wide client is created lazily (inside mock_aws in tests).
        return self._client if self._client is not None else aws.client("dynamodb")

    def error(self, exc: ClientError, action: str) -> ScmsError:
        """The domain error for ``exc`` raised during ``action``; raise it ``from exc``."""
        fields = {
            "table": self.table_label,
            "topic": f"{self.error_topic} " if self.error_topic else "",
            "action": action,
            "code": error_code(exc) or "failed",
        }
        if is_transient(exc):
            return TransientStoreError(self.busy_message.format(**fields))
        return self.store_error(self.failed_message.format(**fields))

    def query_all(self, action: str, **query: Any) -> Iterator[dict[str, Any]]:
        """Every item ``Query(TableName=<this table>, **query)`` finds, page after page; failures as ``error``."""
        kwargs: dict[str, Any] = {"TableName": self._table, **query}
        while True:
            try:
                out = self.client.query(**kwargs)
            except ClientError as exc:
                raise self.error(exc, action) from exc
            yield from out.get("Items", [])
            last = out.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last
