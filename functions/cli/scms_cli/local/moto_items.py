"""moto's DynamoDB items without its quadratic size checks and its query copies (local stack only; issue #5 §7).

moto 5.2.5 builds an item attribute by attribute into a ``LimitedSizeDict`` that re-adds the sizes of
every attribute already in it before taking the next one (the 400 KB item limit), sizes values through
a chain of ``is_number``/``is_set``/... method calls, sizes each Query result twice (the 1 MB page
limit), and deep-copies every page of results before it serializes them. A 156-period burst puts,
reads and deletes tens of thousands of items through the one ``scms serve`` process. Measured in
one process (client and server, 3,120 items): the puts cost 4 % less CPU and their Query pages 13 %
less (bench/results/README.md; a cProfile share of 12 % overstated it).

The patches keep moto's results, errors and limits exactly (tests/functional/test_local_moto_items.py
compares them with unpatched moto): the same size of every value, the same running total checked
against the same limit after each attribute, the same query pages. The copy of a query's results is
left out because nothing mutates them before the response is written: DynamoDB requests run one at a
time in this process (``cloud.dynamodb_requests_one_at_a_time``) and the result is serialized inside
that request; index and expression projections build new items as before.
"""

from __future__ import annotations

import contextvars
import copy
import importlib
import types
from collections.abc import Callable
from typing import Any

# moto's own constant (dynamo_type.LimitedSizeDict): "Official limit is set to 400000 (400KB)", enforced
# a little above it as DynamoDB does.
_ITEM_SIZE_LIMIT = 405000
_SETS = ("SS", "NS", "BS")
_IN_QUERY: contextvars.ContextVar[bool] = contextvars.ContextVar("scms_moto_in_query", default=False)


def _bytesize(value: Any) -> int:
    return len(value if isinstance(value, bytes) else value.encode("utf-8"))


def value_size(value: Any) -> int:
    """``DynamoType.size()`` of moto 5.2.5, branch for branch, without its method-call chain."""
    kind, raw = value.type, value.value
    if kind == "N":
        return len(str(raw))
    if kind in _SETS:
        if kind == "NS":
            return sum(len(str(member)) for member in raw)
        return sum(1 if isinstance(member, bool) else _bytesize(member) for member in raw)
    if kind == "L":
        return sum(value_size(member) for member in raw)
    if kind == "M":
        return sum(_bytesize(key) + value_size(member) for key, member in raw.items())
    if isinstance(raw, bool):
        return 1
    return _bytesize(raw)


def items_sized_in_one_pass() -> Callable[[], None]:
    """Items built and sized in one pass; query results neither sized twice nor copied (idempotent); the undo."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    if getattr(Item.__init__, "_scms_undo", None) is not None:
        return Item.__init__._scms_undo  # type: ignore[attr-defined,no-any-return]
    originals = (Item.__init__, Item.size, DynamoType.size, LimitedSizeDict.__setitem__, DynamoDBBackend.query)
    table_module: Any = importlib.import_module("moto.dynamodb.models.table")
    module_copy = table_module.copy

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        built = LimitedSizeDict.__new__(LimitedSizeDict)
        total = 0
        for key, raw in attrs.items():
            value = DynamoType(raw)
            # moto checks the attributes already in the dict plus the new one before each insert:
            # the same running total, checked at the same points.
            total += _bytesize(key) + value_size(value)
            if total > _ITEM_SIZE_LIMIT:
                raise ItemSizeTooLarge
            dict.__setitem__(built, key, value)
        self.attrs = built

    def limited_setitem(self: Any, key: str, value: Any) -> None:
        current = sum(_bytesize(str(k)) for k in self) + sum(
            value_size(v) if type(v) is DynamoType else _bytesize(str(v)) for v in self.values()
        )
        new = _bytesize(key) + (value_size(value) if type(value) is DynamoType else _bytesize(str(value)))
        if current + new > _ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)

    def item_size(self: Any) -> int:
        return sum(_bytesize(key) + value_size(value) for key, value in self.attrs.items())

    def dynamo_type_size(self: Any) -> int:
        return value_size(self)

    def deepcopy(value: Any, memo: Any = None) -> Any:
        # Only Table.query's copy of its results runs inside the backend's query (table.py's one call).
        return value if _IN_QUERY.get() else copy.deepcopy(value, memo)

    original_query = originals[4]

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _IN_QUERY.set(True)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _IN_QUERY.reset(token)

    def undo() -> None:
        Item.__init__, Item.size, DynamoType.size, LimitedSizeDict.__setitem__, DynamoDBBackend.query = originals  # type: ignore[method-assign]
        table_module.copy = module_copy

    item_init._scms_undo = undo  # type: ignore[attr-defined]
    Item.__init__ = item_init  # type: ignore[method-assign]
    Item.size = item_size  # type: ignore[method-assign]
    DynamoType.size = dynamo_type_size  # type: ignore[method-assign]
    LimitedSizeDict.__setitem__ = limited_setitem  # type: ignore[method-assign]
    DynamoDBBackend.query = query  # type: ignore[method-assign]
    table_module.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)
    return undo
