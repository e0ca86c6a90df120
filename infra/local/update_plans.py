"""An update expression applied by a plan compiled once (``moto_patches`` 35).

moto applies an update expression by copying its syntax tree and walking the copy seven
times (values, names and paths resolved against the item, functions evaluated, operations
done, types checked) and then once more to execute it: most of a transaction's CPU in the
emulator. A plan is compiled from moto's own parse of the expression, once per
expression, names and table, and reads the item and the values directly.

A plan only ever applies an update moto would apply, the same way:

- it is compiled only after moto's own path has applied that expression with those names
  to that table once, so every check that reads only the expression and its names (one
  clause of each kind, no overlapping paths, no key attribute set, names defined, no
  reserved word unquoted) has passed;
- it computes every new value against the item before changing anything, with moto's
  own operations (``DynamoType`` addition, subtraction, item and map access), and where
  moto would refuse the update or where it is not sure (a value or an attribute missing,
  an operand of another type, a key attribute given an empty string or a type its
  definition does not have, an item that may outgrow moto's size limit), it gives way to
  moto's path, which refuses it with moto's own error;
- it writes in the order moto's executor does (``normalize``), the same objects (an
  attribute set from another holds that same value, as in moto), and the stream sees
  the same records.

Shapes it does not cover (list indexes, functions other than ``if_not_exists`` and
``list_append``) have no plan: moto applies them.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.comparisons import create_condition_expression_parser
from moto.dynamodb.exceptions import ConditionalCheckFailed
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.parsing import ast_nodes as moto_ast_nodes
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

ast_nodes: Any = moto_ast_nodes  # untyped in moto
ITEM_SIZE_LIMIT = 405_000  # moto's (LimitedSizeDict): between DynamoDB's 400 KB and what it accepts
_SET_TYPES = ("SS", "NS", "BS")


class _GiveWay(Exception):
    """moto's path decides this update (it refuses it, or the plan does not cover it)."""


_MISSING: Any = object()
Operand = Callable[[Any, dict[str, Any]], Any]  # (the item's attributes, the values) -> DynamoType or _MISSING


class _Unsupported(Exception):
    """The expression has a shape no plan covers."""


def _resolve(attrs: Any, names: tuple[str, ...]) -> Any:
    """A path's value as moto's path resolver finds it, or _MISSING."""
    target = attrs
    for name in names:
        try:
            target = target[name]
        except (KeyError, TypeError):
            return _MISSING
    return target


def _path_names(path: Any, names: dict[str, str]) -> tuple[str, ...]:
    resolved: list[str] = []
    for element in path.children:
        if isinstance(element, ast_nodes.ExpressionPathDescender):
            continue
        if isinstance(element, ast_nodes.ExpressionAttributeName):
            placeholder = element.get_attribute_name_placeholder()
            if placeholder not in names:
                raise _Unsupported(placeholder)
            resolved.append(names[placeholder])
        elif isinstance(element, ast_nodes.ExpressionAttribute):
            resolved.append(element.get_attribute_name())
        else:  # a list index
            raise _Unsupported(type(element).__name__)
    return tuple(resolved)


def _operand(node: Any, names: dict[str, str], used_values: set[str]) -> Operand:
    if isinstance(node, ast_nodes.ExpressionAttributeValue):
        value_name = node.get_value_name()
        used_values.add(value_name)
        return lambda attrs, values: DynamoType(values[value_name])
    if isinstance(node, ast_nodes.UpdateExpressionPath):
        path = _path_names(node, names)
        return lambda attrs, values: _resolve(attrs, path)
    if isinstance(node, ast_nodes.UpdateExpressionFunction):
        function = node.get_function_name()
        first = _operand(node.get_nth_argument(1), names, used_values)
        second = _operand(node.get_nth_argument(2), names, used_values)
        if function == "if_not_exists":

            def if_not_exists(attrs: Any, values: dict[str, Any]) -> Any:
                found = first(attrs, values)
                return second(attrs, values) if found is _MISSING else found

            return if_not_exists
        if function == "list_append":

            def list_append(attrs: Any, values: dict[str, Any]) -> Any:
                head, tail = first(attrs, values), second(attrs, values)
                if head is _MISSING or tail is _MISSING or not head.is_list() or not tail.is_list():
                    raise _GiveWay
                joined = copy.deepcopy(head)
                joined.value.extend(tail.value)
                return joined

            return list_append
        raise _Unsupported(function)
    if isinstance(node, ast_nodes.UpdateExpressionValue):
        if len(node.children) == 1:
            return _operand(node.children[0], names, used_values)
        left = _operand(node.children[0], names, used_values)
        right = _operand(node.children[2], names, used_values)
        operator = node.children[1].get_operator()
        if operator not in ("+", "-"):
            raise _Unsupported(operator)
        subtract = operator == "-"

        def arithmetic(attrs: Any, values: dict[str, Any]) -> Any:
            a, b = left(attrs, values), right(attrs, values)
            if a is _MISSING or b is _MISSING:
                raise _GiveWay
            try:
                return a - b if subtract else a + b
            except Exception as refused:  # moto's operand type errors
                raise _GiveWay from refused

        return arithmetic
    raise _Unsupported(type(node).__name__)


class _Action:
    """One action of the expression: its kind, its target path and how its value is made."""

    def __init__(self, kind: str, path: tuple[str, ...], raw_first: str, operand: Operand | None):
        self.kind, self.path, self.raw_first, self.operand = kind, path, raw_first, operand
        self.name = path[-1]
        self.parent = path[:-1]


class Plan:
    def __init__(self, actions: list[_Action], used_values: frozenset[str]):
        self.actions = actions
        self.used_values = used_values

    def prepare(self, attrs: Any, values: dict[str, Any], table: Any, size: int) -> list[Any]:
        """What each action writes, computed against the item as it is (``size``: its size
        as moto counts it); raises _GiveWay where moto would refuse the update or the plan
        is not sure."""
        if not self.used_values.issubset(values):
            raise _GiveWay
        key_attributes = table.attribute_keys
        defined_types = {d["AttributeName"]: d["AttributeType"] for d in table.attr}
        prepared: list[Any] = []
        for action in self.actions:
            if action.parent and _resolve(attrs, action.parent) is _MISSING:
                raise _GiveWay  # moto: the document path is invalid
            if action.kind == "SET":
                assert action.operand is not None
                value = action.operand(attrs, values)
                if value is _MISSING:
                    raise _GiveWay  # moto: the expression refers to an attribute that does not exist
                if not value.value and value.type in ("S", "B") and action.raw_first in key_attributes:
                    raise _GiveWay
                expected_type = defined_types.get(action.raw_first)
                if expected_type is not None and expected_type != value.type:
                    raise _GiveWay
                if not action.parent:
                    size += bytesize(action.name) + value.size()
                prepared.append(value)
            elif action.kind == "ADD":
                assert action.operand is not None
                value = action.operand(attrs, values)
                existing = _resolve(attrs, action.path)
                if value.type in _SET_TYPES:
                    if not value.value or (existing is not _MISSING and existing.type != value.type):
                        raise _GiveWay
                    size += value.size()
                    prepared.append(value)
                elif value.type == "N":
                    if existing is _MISSING:
                        existing = DynamoType({"N": "0"})
                    elif existing.type != "N":
                        raise _GiveWay
                    total = existing + value
                    if not action.parent:
                        size += bytesize(action.name) + total.size()
                    prepared.append(total)
                else:
                    raise _GiveWay
            elif action.kind == "DELETE":
                assert action.operand is not None
                value = action.operand(attrs, values)
                existing = _resolve(attrs, action.path)
                if value.type not in _SET_TYPES or (existing is not _MISSING and existing.type != value.type):
                    raise _GiveWay
                prepared.append(value)
            else:  # REMOVE
                if action.parent and _resolve(attrs, action.parent).type != "M":
                    raise _GiveWay
                prepared.append(None)
        if size > ITEM_SIZE_LIMIT:
            raise _GiveWay  # moto checks at each attribute it sets; this bounds every check
        return prepared

    def apply(self, item: Item, prepared: list[Any]) -> None:
        attrs = item.attrs
        for action, value in zip(self.actions, prepared, strict=True):
            container: Any = _resolve(attrs, action.parent) if action.parent else attrs
            if action.kind == "SET":
                if container is attrs:
                    dict.__setitem__(attrs, action.name, value)  # sized in prepare
                else:
                    container[action.name] = value
            elif action.kind == "REMOVE":
                container.pop(action.name, None)
            elif action.kind == "ADD" and value.type in _SET_TYPES:
                existing = _resolve(attrs, action.path)
                if existing is _MISSING:
                    existing = DynamoType({value.type: []})
                    if container is attrs:
                        dict.__setitem__(attrs, action.name, existing)
                    else:
                        container[action.name] = existing
                for member in value.value:
                    if member not in existing.value:
                        existing.value.append(member)
            elif action.kind == "ADD":
                if container is attrs:
                    dict.__setitem__(attrs, action.name, value)
                else:
                    container[action.name] = value
            else:  # DELETE
                existing = _resolve(attrs, action.path)
                if existing is _MISSING:
                    continue
                for member in value.value:
                    if member in existing.value:
                        existing.value.remove(member)
                if not existing.value:
                    del container[action.name]


_KINDS = {
    ast_nodes.UpdateExpressionSetAction: "SET",
    ast_nodes.UpdateExpressionRemoveAction: "REMOVE",
    ast_nodes.UpdateExpressionAddAction: "ADD",
    ast_nodes.UpdateExpressionDeleteAction: "DELETE",
}


def compile_plan(expression: str, names: dict[str, str]) -> Plan | None:
    """A plan of the expression, or None where it has a shape no plan covers."""
    tree = copy.deepcopy(UpdateExpressionParser.make(expression))
    tree.normalize()  # the actions in the order moto's executor runs them
    actions: list[_Action] = []
    used_values: set[str] = set()
    try:
        for node in tree.children:
            kind = _KINDS.get(type(node))
            if kind is None:
                return None
            path_node = node.children[0]
            path = _path_names(path_node, names)
            raw_first = path_node.children[0].children[0]  # what moto's key checks compare, unresolved
            operand = None if kind == "REMOVE" else _operand(node.children[1], names, used_values)
            actions.append(_Action(kind, path, raw_first, operand))
    except _Unsupported:
        return None
    return Plan(actions, frozenset(used_values))


# (expression, names, table name, table key attributes) -> its plan, or None for a shape
# no plan covers. An entry is made only once moto has applied the expression so.
_plans: dict[tuple[Any, ...], Plan | None] = {}
_plans_lock = threading.Lock()


def _plan_key(table_name: str, table: Any, expression: str, names: dict[str, str] | None) -> tuple[Any, ...]:
    return (expression, frozenset((names or {}).items()), table_name, tuple(table.table_key_attrs))


def remember(table_name: str, table: Any, expression: str, names: dict[str, str] | None) -> None:
    """Plan the expression for the table: moto has applied it with these names."""
    plan = compile_plan(expression, names or {})
    with _plans_lock:
        if len(_plans) > 4096:
            _plans.clear()
        _plans[_plan_key(table_name, table, expression, names)] = plan


def planned(table_name: str, table: Any, expression: str, names: dict[str, str] | None) -> bool:
    """A plan applies this expression with these names to this table."""
    return _plans.get(_plan_key(table_name, table, expression, names)) is not None


def update_item(
    original: Callable[..., Item],
    backend: Any,
    table_name: str,
    key: dict[str, Any],
    update_expression: str,
    expression_attribute_names: dict[str, Any],
    expression_attribute_values: dict[str, Any],
    attribute_updates: dict[str, Any] | None = None,
    expected: dict[str, Any] | None = None,
    condition_expression: str | None = None,
    return_values_on_condition_check_failure: str | None = None,
) -> Item:
    """moto's ``DynamoDBBackend.update_item`` (``original``), by a plan where there is one."""

    def by_moto() -> Item:
        return original(
            backend,
            table_name,
            key,
            update_expression=update_expression,
            expression_attribute_names=expression_attribute_names,
            expression_attribute_values=expression_attribute_values,
            attribute_updates=attribute_updates,
            expected=expected,
            condition_expression=condition_expression,
            return_values_on_condition_check_failure=return_values_on_condition_check_failure,
        )

    table = backend.get_table(table_name)
    if not update_expression or attribute_updates or expected:
        return by_moto()
    plan_key = _plan_key(table_name, table, update_expression, expression_attribute_names)
    if plan_key not in _plans:
        item = by_moto()
        remember(table_name, table, update_expression, expression_attribute_names)
        return item
    plan = _plans[plan_key]
    if plan is None:
        return by_moto()
    values = expression_attribute_values or {}
    hash_value, range_value = _keys(table, key)
    item = table.get_item(hash_value, range_value)
    condition = create_condition_expression_parser(
        condition_expression, expression_attribute_names, expression_attribute_values
    ).parse()
    if not condition.expr(item):
        if return_values_on_condition_check_failure == "ALL_OLD" and item is not None:
            raise ConditionalCheckFailed(item=item.to_json()["Attributes"])
        raise ConditionalCheckFailed
    keys_only = {table.hash_key_attr: {hash_value.type: hash_value.value}}
    if range_value:
        keys_only[table.range_key_attr] = {range_value.type: range_value.value}
    try:
        # An expression names no key attribute (moto refuses it), so an item not there yet
        # reads as the item moto writes first, with only its key.
        if item is None:
            prepared = plan.prepare({}, values, table, Item(hash_value, range_value, keys_only).size())
        else:
            prepared = plan.prepare(item.attrs, values, table, item.size())
    except Exception:  # what moto refuses, it refuses with its own error
        return by_moto()
    old = copy.deepcopy(item)
    if item is None:
        table.put_item(keys_only)
        item = table.get_item(hash_value, range_value)
    plan.apply(item, prepared)
    if table.stream_shard is not None:
        table.stream_shard.add(old, item)
    return item


def _keys(table: Any, key: dict[str, Any]) -> tuple[DynamoType, DynamoType | None]:
    """The item's key values as moto's update_item reads them."""
    if table.hash_key_attr in key and table.range_key_attr in key:
        return DynamoType(key[table.hash_key_attr]), DynamoType(key[table.range_key_attr])
    if table.hash_key_attr in key:
        return DynamoType(key[table.hash_key_attr]), None
    return DynamoType(key), None
