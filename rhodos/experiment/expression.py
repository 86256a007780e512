"""Claim expressions: a small arithmetic language over an experiment's runs, with bounded work.

A claim's ``value`` (``"ff.latency_s * 1e3"``) is read by :func:`evaluate`. It may use

* numbers and strings, and the names of the experiment's runs;
* attributes and ``[index]`` of what the runs hold (records, lists, dicts);
* ``+ - * / **`` and unary ``-`` between numbers;
* ``min``, ``max``, ``abs``, ``len`` and ``values(series, "attribute")`` (the attribute
  of every item of a series).

Nothing else: no other call, no comprehension, no slice, no keyword. An expression
reads the runs' data, never the objects behind it: a name that starts with an
underscore is refused wherever it appears (an attribute, the attribute named to
``values``, a string subscript), and so is an attribute that is a method.

The work is bounded before anything is computed: an expression has at most
:data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` levels of nesting, and arithmetic
is done in floats, so that ``9**9**9`` overflows at once instead of building an integer
of 370 million digits; arithmetic takes numbers only, so no string or list can be
multiplied into gigabytes. Every refusal is an :class:`ExperimentError` that quotes the
expression and says what is wrong. :func:`check` makes the same checks without the
runs (when an experiment is loaded, before anything runs).
"""

from __future__ import annotations

import ast
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rhodos.experiment.claims import ExperimentError

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "attributes_in", "check", "evaluate", "names_in"]

#: The longest expression read (the longest claim of the experiments is under 200).
MAX_LENGTH = 1000
#: The deepest nesting of an expression's tree (the deepest claim has under 10 levels).
MAX_DEPTH = 32


def _fail(expression: str, why: str) -> ExperimentError:
    shown = (
        expression if len(expression) <= 80 else expression[:60] + f"... ({len(expression)} chars)"
    )
    return ExperimentError(f"claim expression {shown!r}: {why}")


# -- arithmetic on numbers only, in floats -------------------------------------------
def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _power(base: float, exponent: float) -> float:
    try:
        result = math.pow(base, exponent)
    except OverflowError:
        raise ArithmeticError(f"{base:g} ** {exponent:g} is too large for a float") from None
    except ValueError:
        raise ArithmeticError(f"{base:g} ** {exponent:g} is not a real number") from None
    return result


def _divide(left: float, right: float) -> float:
    if right == 0:
        raise ArithmeticError(f"division of {left:g} by zero")
    return left / right


_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: _divide,
    ast.Pow: _power,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: lambda a: -a,
    ast.UAdd: lambda a: +a,
}


# -- the functions ----------------------------------------------------------------------
def _data(owner: Any, attribute: str) -> Any:
    """``owner.attribute`` if it is data: a public attribute that is not a method."""
    if not isinstance(attribute, str) or attribute.startswith("_"):
        raise LookupError(f"attribute {attribute!r} may not be read (names starting with _ never)")
    try:
        value = getattr(owner, attribute)
    except AttributeError:
        raise LookupError(f"{type(owner).__name__} has no attribute {attribute!r}") from None
    if callable(value):
        raise LookupError(f"{type(owner).__name__}.{attribute} is a method, not a value")
    return value


def _values(series: Any, attribute: Any) -> list[Any]:
    if not isinstance(series, list | tuple):
        raise LookupError(f"values() takes a series of runs, not {type(series).__name__}")
    return [_data(item, attribute) for item in series]


def _numbers(args: tuple[Any, ...], what: str) -> list[float]:
    items = list(args[0]) if len(args) == 1 and isinstance(args[0], list | tuple) else list(args)
    if not items or not all(_number(item) for item in items):
        raise LookupError(f"{what}() takes numbers or one non-empty series of numbers")
    return items


def _length(value: Any) -> int:
    if not isinstance(value, list | tuple | dict | str):
        raise LookupError(f"len() takes a series, not {type(value).__name__}")
    return len(value)


def _absolute(value: Any) -> float:
    if not _number(value):
        raise LookupError(f"abs() takes a number, not {type(value).__name__}")
    return abs(value)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": lambda *args: min(_numbers(args, "min")),
    "max": lambda *args: max(_numbers(args, "max")),
    "abs": _absolute,
    "len": _length,
    "values": _values,
}


# -- the static checks --------------------------------------------------------------------
def _parse(expression: str) -> ast.Expression:
    if not isinstance(expression, str):
        raise ExperimentError(f"a claim expression is a string, not {type(expression).__name__}")
    if len(expression) > MAX_LENGTH:
        raise _fail(expression, f"longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
        reason = error.msg if isinstance(error, SyntaxError) else type(error).__name__
        raise _fail(expression, f"cannot be read ({reason})") from None
    _check_depth(expression, tree)
    return tree


def _check_depth(expression: str, tree: ast.AST) -> None:
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _fail(expression, f"nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check_node(expression: str, node: ast.AST, runs: Iterable[str] | None) -> None:
    """Refuse what the language does not have, and every private name, before evaluating."""
    if isinstance(node, ast.Expression | ast.Load):
        return
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str) and value.startswith("_"):
            raise _fail(expression, f"the name {value!r} may not be read (names starting with _)")
        if not isinstance(value, int | float | str) or isinstance(value, bool):
            raise _fail(expression, f"the constant {value!r} is not a number or a string")
        return
    if isinstance(node, ast.Name):
        if runs is not None and node.id not in runs:
            known = ", ".join(runs) or "none"
            raise _fail(expression, f"no run called {node.id!r}; runs: {known}")
        return
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            raise _fail(expression, f"the attribute {node.attr!r} may not be read (starts with _)")
        return
    if isinstance(node, ast.Subscript | ast.BinOp | ast.UnaryOp):
        if isinstance(node, ast.BinOp) and type(node.op) not in _BINARY:
            raise _fail(expression, "only + - * / ** are allowed between numbers")
        if isinstance(node, ast.UnaryOp) and type(node.op) not in _UNARY:
            raise _fail(expression, "only unary - and + are allowed")
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            raise _fail(expression, "slices are not allowed; index one item")
        return
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in _FUNCTIONS or node.keywords:
            raise _fail(
                expression,
                f"calls are to {', '.join(_FUNCTIONS)} only, with positional arguments",
            )
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise _fail(expression, "starred arguments are not allowed")
        return
    if isinstance(node, ast.operator | ast.unaryop):
        return
    raise _fail(expression, f"{type(node).__name__} is not part of the claim language")


def _checked(expression: str, runs: Iterable[str] | None) -> ast.Expression:
    tree = _parse(expression)
    run_names = list(runs) if runs is not None else None
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if id(node) not in called:  # a function's name is checked with its call
            _check_node(expression, node, run_names)
    return tree


def check(expression: str, runs: Iterable[str]) -> None:
    """Refuse ``expression`` now if it could never be evaluated over ``runs``: what the
    language lacks, private names, too long or too deep, a run that does not exist, or
    arithmetic on constants that fails (``9**9**9``)."""
    tree = _checked(expression, runs)
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp | ast.UnaryOp) and not any(
            isinstance(n, ast.Name) for n in ast.walk(node)
        ):
            _walk(expression, node, {})


def names_in(expression: str) -> set[str]:
    """The run names an expression reads (the runs a claim needs)."""
    tree = _parse(expression)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


def attributes_in(expression: str) -> set[str]:
    """Every attribute an expression reads, directly or through ``values()``."""
    tree = _parse(expression)
    found = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "values"
            and len(node.args) == 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            found.add(node.args[1].value)
    return found


# -- evaluation -----------------------------------------------------------------------------
def _index(owner: Any, key: Any) -> Any:
    if isinstance(key, float) and key.is_integer():
        key = int(key)  # arithmetic is in floats: 1 - 1 is 0.0
    if isinstance(owner, list | tuple) and isinstance(key, int) and not isinstance(key, bool):
        if not -len(owner) <= key < len(owner):
            raise LookupError(f"index {key} is outside a series of {len(owner)}")
        return owner[key]
    if isinstance(owner, Mapping) and isinstance(key, str):
        if key.startswith("_"):
            raise LookupError(f"the key {key!r} may not be read (starts with _)")
        if key not in owner:
            raise LookupError(f"no {key!r} among {', '.join(map(str, owner)) or 'nothing'}")
        return owner[key]
    raise LookupError(f"cannot index a {type(owner).__name__} with {key!r}")


def _walk(expression: str, node: ast.AST, names: Mapping[str, Any]) -> Any:
    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return names[node.id]
        if isinstance(node, ast.Attribute):
            return _data(walk(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            return _index(walk(node.value), walk(node.slice))
        if isinstance(node, ast.UnaryOp):
            operand = walk(node.operand)
            if not _number(operand):
                raise LookupError(f"unary minus takes a number, not {type(operand).__name__}")
            return _UNARY[type(node.op)](operand)  # a sign cannot make a number grow
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if not (_number(left) and _number(right)):
                kinds = f"{type(left).__name__} and {type(right).__name__}"
                raise LookupError(f"arithmetic takes numbers, not {kinds}")
            return _BINARY[type(node.op)](float(left), float(right))
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*[walk(arg) for arg in node.args])

    try:
        return walk(node)
    except (LookupError, ArithmeticError, TypeError, ValueError) as error:
        raise _fail(expression, str(error)) from None


def evaluate(expression: str, names: Mapping[str, Any]) -> Any:
    """The value of a claim's expression over the runs ``names`` (run name -> its result:
    a record, a load-sharing result, or a list of them for a series)."""
    tree = _checked(expression, list(names))
    return _walk(expression, tree, names)
