"""What-if for ``python -m bench --what-if-moto-transactions`` only: never part of ``scms serve``.

Put on ``PYTHONPATH`` of the benchmark's ``scms serve`` subprocess, this makes moto's DynamoDB
``transact_write_items`` back up each table it touches once per transaction, as a shallow copy of
the item mapping, instead of one ``copy.deepcopy`` of the whole table per item of the transaction
(moto 5.2.5, ``moto/dynamodb/models/__init__.py``: a 100-item transaction on a 2,000-item table
deep-copies 200,000 items). A rollback of a failed Update would keep the in-place change: fine for a
measurement of what the pipeline would cost without moto's copies, not for correctness.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any


def _install() -> None:
    try:
        from moto.dynamodb import models
        from moto.dynamodb.models.table import Table
    except ImportError:  # not the stack's interpreter: nothing to patch
        return
    if getattr(models.DynamoDBBackend.transact_write_items, "_bench_whatif", False):
        return
    original = models.DynamoDBBackend.transact_write_items

    class _TableBackup:
        """Stands in for the ``copy`` module inside ``transact_write_items`` (its only use of it)."""

        def __init__(self) -> None:
            self.done: dict[int, Any] = {}

        def deepcopy(self, value: Any, memo: Any = None) -> Any:
            if not isinstance(value, Table):
                return copy.deepcopy(value, memo)
            if id(value) not in self.done:
                clone = copy.copy(value)
                items = {h: dict(v) if isinstance(v, dict) else v for h, v in value.items.items()}
                clone.items = defaultdict(dict, items)
                self.done[id(value)] = clone
            return self.done[id(value)]

    def transact_write_items(self: Any, transact_items: Any) -> Any:
        saved = models.__dict__["copy"]  # the module-level ``import copy`` of moto's backend
        models.__dict__["copy"] = _TableBackup()
        try:
            return original(self, transact_items)
        finally:
            models.__dict__["copy"] = saved

    transact_write_items._bench_whatif = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


_install()
