"""moto's DynamoDB condition expressions parsed once per shape, and its item validation's common cases short-cut.

Both patches are for the local stack's moto server (``scms serve``), whose CPU bounds a burst
(issue #5 §7); tests/functional/test_local_moto_conditions.py proves that the patched moto accepts
and refuses exactly the writes, and leaves exactly the tables, that moto 5.2.5 does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from .lru import Lru

__all__ = ["condition_parses_reused", "item_validation_short_cut"]

# How many (expression, ExpressionAttributeNames) shapes are kept: the stack writes with a few dozen.
CACHE_SIZE = 256


_NO_NAMES: frozenset[tuple[str, str]] = frozenset()


def _shape_key(expression: Any, names: Any) -> Hashable | None:
    """What a parse depends on besides the values, or None when the request is unusual (moto parses it itself)."""
    if type(expression) is not str or not expression:
        return None
    if names is None:
        # The same as no names: a tree is kept only from a parse that looked every #name up, so a text
        # kept under no names has none, and moto's parse with None (the backend's) builds the same tree
        # as with {} (the handler's default).
        return (expression, _NO_NAMES)
    if type(names) is not dict:
        return None
    try:
        return (expression, frozenset(names.items()))
    except TypeError:  # an unhashable name: malformed, moto's own parse answers it
        return None


def _unbound(node: Any, value_kind: str) -> Any:
    """A parsed node tree kept for reuse: children as tuples, every expression attribute value left out."""
    if node.kind == value_kind:
        return node._replace(value=None, children=())
    if not node.children:
        return node._replace(children=())
    return node._replace(children=tuple(_unbound(child, value_kind) for child in node.children))


def _bound(node: Any, values: Any, value_kind: str) -> Any:
    """The tree moto's parse builds for ``values``: each value node holds ``values[placeholder]``, as moto looks
    it up while it reads the expression (left to right: the tree's child order is the text's order)."""
    if node.kind == value_kind:
        return node._replace(value=values[node.text], children=[])
    if not node.children:
        return node._replace(children=[])
    return node._replace(children=[_bound(child, values, value_kind) for child in node.children])


def condition_parses_reused(size: int = CACHE_SIZE) -> Callable[[], None]:
    """moto parses each condition expression once per (expression, names), then binds the values (idempotent);
    returns the undo.

    moto 5.2.5 parses a ConditionExpression (and a FilterExpression) with ``ConditionExpressionParser``
    up to three times per write: in the handler (to check the names used), in the backend's
    transaction and in ``Table.put_item``; each parse lexes the text with regular expressions and
    reduces the token list pass by pass. A burst's 3,120 certificates made about 20,000 such parses
    of a few strings such as ``attribute_not_exists(pk)`` (about 6 % of the server's CPU under
    cProfile). Reused, a parse costs 7-23 us instead of 37-156 us; 3,120 items in transactions of
    100 cost the moto server 0.39 s of CPU instead of 0.71 s, 3,120 conditional PutItems 4.2-5.1 s
    instead of 5.4-6.7 s.

    What a parse yields depends on the expression and the ExpressionAttributeNames only, except
    that moto substitutes each ``:value`` into its node while reading: the grammar checks look at
    node kinds, never at values. So the node tree of the first successful parse is kept without
    its values (an LRU of ``size`` shapes) and, when the same expression and names come again,
    each value node gets the request's own ``values[placeholder]`` (the same dict moto would hold)
    and moto's own ``_make_op_condition`` builds the operators from it: value-dependent checks
    (a NULL bound of BETWEEN, an empty value) run as they did. The parser's
    ``expr_attr_names_found`` and ``expr_attr_values_found`` grow by what the first parse found
    (placeholder texts, the same for the same expression and names). Anything unusual goes to
    moto's own parse: an empty or non-text expression, names that are not a dict of text, a
    placeholder missing from the values (moto's KeyError), a parse that fails (never kept).
    Nothing evaluates or changes the kept trees: each request gets fresh nodes and operators.
    """
    from moto.dynamodb.comparisons import ConditionExpressionParser

    current = ConditionExpressionParser.parse
    if getattr(current, "_scms_undo", None) is not None:
        return current._scms_undo  # type: ignore[attr-defined,no-any-return]
    original = current
    make_op = ConditionExpressionParser._make_op_condition
    value_kind = ConditionExpressionParser.Kind.EXPRESSION_ATTRIBUTE_VALUE
    shapes = Lru(size)

    def parse(self: Any) -> Any:
        key = _shape_key(self.condition_expression, self.expression_attribute_names)
        if key is None:
            return original(self)
        kept = shapes.get(key)
        if kept is not None:
            tree, names_found, values_found = kept
            try:
                root = _bound(tree, self.expression_attribute_values, value_kind)
            except Exception:  # a missing value, or no values: moto's own parse raises its own error
                return original(self)
            self.expr_attr_names_found.extend(names_found)
            self.expr_attr_values_found.extend(values_found)
            return make_op(self, root)
        # moto's own parse; its root node is the first one it turns into operators.
        roots: list[Any] = []

        def capture(node: Any) -> Any:
            if not roots:
                roots.append(node)
            return make_op(self, node)

        names_before = len(self.expr_attr_names_found)
        values_before = len(self.expr_attr_values_found)
        self._make_op_condition = capture
        try:
            op = original(self)
        finally:
            del self._make_op_condition
        if roots:
            names_found = tuple(self.expr_attr_names_found[names_before:])
            values_found = tuple(self.expr_attr_values_found[values_before:])
            shapes.put(key, (_unbound(roots[0], value_kind), names_found, values_found))
        return op

    def undo() -> None:
        ConditionExpressionParser.parse = original  # type: ignore[method-assign]

    parse._scms_undo = undo  # type: ignore[attr-defined]
    parse._scms_shapes = shapes  # type: ignore[attr-defined]
    ConditionExpressionParser.parse = parse  # type: ignore[method-assign]
    return undo


# An attribute's value moto's _validate_item_types has nothing to check in: a string (not a number
# posing as one), a binary, a boolean. Exactly these (type tag, Python type) pairs.
_PLAIN = {("S", str), ("B", str), ("B", bytes), ("BOOL", bool)}
# A key attribute whose size moto computes as the length of its UTF-8 bytes (str) or of its bytes.
_SIZED = {("S", str), ("B", str), ("B", bytes)}


def _plain_size(inner: str | bytes) -> int:
    """What ``DynamoType.size`` measures of a string or a binary: its bytes, UTF-8 for text (moto's ``bytesize``)."""
    return len(inner if type(inner) is bytes else inner.encode("utf-8"))  # type: ignore[union-attr]


def item_validation_short_cut() -> Callable[[], None]:
    """moto's put validation skips its generic walk for plain attributes (idempotent); returns the undo.

    moto 5.2.5's ``Table.put_item`` runs ``_validate_item_types`` (a recursive walk of every
    attribute's type dict) and ``_validate_key_sizes`` (a ``DynamoType`` built per key attribute
    of the table and its global indexes, to measure it) on every item: about 1.6 % of a burst's
    server CPU. The walk handles each top-level attribute on its own (with no parent name), so
    the patched walk goes attribute by attribute, in order: a ``{"S": str}``, ``{"B": str|bytes}``
    or ``{"BOOL": bool}`` holds nothing moto checks, ``{"N": str}`` gets moto's own number check,
    anything else moto's own walk. A key attribute ``{"S": str}`` or ``{"B": str|bytes}`` measures
    what ``DynamoType.size`` measures (the length of its bytes, UTF-8 for text); any other goes to
    ``DynamoType``. Same checks, same order, same exceptions (HashKeyTooLong before RangeKeyTooLong).
    An RaTable item of eight attributes: 4.6 us instead of 7.8 us (most of cProfile's 1.6 % was
    the profiler's own cost per call).
    """
    from moto.dynamodb.exceptions import HashKeyTooLong, RangeKeyTooLong
    from moto.dynamodb.limits import HASH_KEY_MAX_LENGTH, RANGE_KEY_MAX_LENGTH
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    current = Table._validate_item_types
    if getattr(current, "_scms_undo", None) is not None:
        return current._scms_undo  # type: ignore[attr-defined,no-any-return]
    original_types = current
    original_sizes = Table._validate_key_sizes

    def _validate_item_types(self: Any, item_attrs: dict[str, Any], attr: str | None = None) -> None:
        if attr is not None or type(item_attrs) is not dict:
            return original_types(self, item_attrs, attr)
        for key, value in item_attrs.items():
            if type(value) is dict and len(value) == 1:
                ((tag, inner),) = value.items()
                if (tag, type(inner)) in _PLAIN:
                    continue
                if tag == "N" and type(inner) is str:
                    self._validate_number_type(inner)
                    continue
            original_types(self, {key: value})
        return None

    def _size(value: dict[str, Any]) -> int:
        if type(value) is dict and len(value) == 1:
            ((tag, inner),) = value.items()
            if (tag, type(inner)) in _SIZED:
                return _plain_size(inner)
        return DynamoType(value).size()

    def _validate_key_sizes(self: Any, item_attrs: dict[str, Any]) -> None:
        for hash_name in self.hash_key_names:
            hash_value = item_attrs.get(hash_name)
            if hash_value and _size(hash_value) > HASH_KEY_MAX_LENGTH:
                raise HashKeyTooLong
        for range_name in self.range_key_names:
            range_value = item_attrs.get(range_name)
            if range_value and _size(range_value) > RANGE_KEY_MAX_LENGTH:
                raise RangeKeyTooLong

    def undo() -> None:
        Table._validate_item_types = original_types  # type: ignore[method-assign]
        Table._validate_key_sizes = original_sizes  # type: ignore[method-assign]

    _validate_item_types._scms_undo = undo  # type: ignore[attr-defined]
    Table._validate_item_types = _validate_item_types  # type: ignore[method-assign]
    Table._validate_key_sizes = _validate_key_sizes  # type: ignore[method-assign]
    return undo
