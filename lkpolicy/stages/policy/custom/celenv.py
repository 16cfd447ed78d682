"""CEL for custom rules: the variables of each scope, compiling a condition (syntax and type
errors with their line and column), and evaluating it within bounds.

The only module that imports `cel_expr_python` (the CEL project's C++ runtime and checker),
and only when a policy defines custom rules.

Bounds. CEL has no loops, but its comprehension macros (`all`, `exists`, `exists_one`, `map`,
`filter`) loop over lists and maps, and nested they multiply. So a condition may call at most
`MAX_MACROS` macros nested at most `MAX_DEPTH` deep, its text is at most `MAX_LENGTH`
characters, and before a condition is evaluated on a subject its worst case
(macros x largest collection ^ depth) must stay within `MAX_COST` steps; otherwise the rule
reports that it could not judge the subject, at its own severity (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from lkpolicy.stages.policy.custom.syntax import Shape, read_shape

__all__ = [
    "MAX_COST",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_MACROS",
    "SCOPE_VARIABLES",
    "Bound",
    "CelProblem",
    "Compiled",
    "compile_condition",
    "evaluate",
]

MAX_LENGTH = 4096
MAX_MACROS = 8
MAX_DEPTH = 2
MAX_COST = 1_000_000

_MAP = "map"
_LIST_OF_MAPS = "list(map)"
_STRINGS = "list(string)"
_STRING = "string"

SCOPE_VARIABLES: dict[str, dict[str, str]] = {
    "container": {
        "config": _MAP, "runtime": _MAP, "entry": _MAP, "label": _MAP, "grants": _MAP,
        "image": _MAP, "section": _STRING, "name": _STRING,
    },
    "config": {
        "kernel": _MAP, "init": _STRINGS, "onboot": _LIST_OF_MAPS, "onshutdown": _LIST_OF_MAPS,
        "services": _LIST_OF_MAPS, "files": _LIST_OF_MAPS, "volumes": _LIST_OF_MAPS,
    },
}
"""Scope -> variable -> its CEL type; what each variable holds is in docs/custom-rules.md."""

_INT64 = (-(2**63), 2**63 - 1)
_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)")


class CelProblem(Exception):
    """A condition that cannot be used: `line` and `column` are 1-based within its text (0 when
    the problem is the whole text)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class Compiled:
    scope: str
    text: str
    program: Any
    shape: Shape


@dataclass(frozen=True, slots=True)
class Bound:
    """A subject's variables, converted for CEL once and shared by every rule of its scope."""

    data: dict[str, Any]
    activation: Any
    largest: int
    """The size of the largest list or map in the data (the bound on one macro's loop)."""


def _new_environment(scope: str, loop_variable: str | None = None) -> Any:
    from cel_expr_python import cel
    from cel_expr_python.ext.ext_strings import ExtStrings

    dyn_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
    types = {_MAP: dyn_map, _LIST_OF_MAPS: cel.Type.List(dyn_map),
             _STRINGS: cel.Type.List(cel.Type.STRING), _STRING: cel.Type.STRING}
    variables = {name: types[kind] for name, kind in SCOPE_VARIABLES[scope].items()}
    if loop_variable is not None:
        variables[loop_variable] = cel.Type.DYN
    return cel.NewEnv(variables=variables, extensions=[ExtStrings()])


@cache
def _environment(scope: str) -> Any:
    return _new_environment(scope)


def _problem(error: Exception) -> CelProblem:
    text = str(error)
    found = _ERROR.search(text)
    if found is None:
        first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        return CelProblem(first.removeprefix("INVALID_ARGUMENT: "))
    return CelProblem(found.group(3).strip(), int(found.group(1)), int(found.group(2)))


def compile_condition(scope: str, text: str) -> Compiled:
    """The condition checked and compiled; raises `CelProblem` (syntax, types, result type,
    bounds, and the `cel` extra when it is not installed)."""
    from lkpolicy.extras import MissingExtra, require

    try:
        require("cel", "a custom rule's condition")
    except MissingExtra as error:
        raise CelProblem(str(error)) from None
    from cel_expr_python import cel

    if len(text) > MAX_LENGTH:
        raise CelProblem(f"the condition has {len(text)} characters; at most {MAX_LENGTH}")
    try:
        program = _environment(scope).compile(text)
    except Exception as error:  # the binding raises RuntimeError with the checker's report
        raise _problem(error) from None
    shape = read_shape(text, frozenset(SCOPE_VARIABLES[scope]))
    if shape.macros > MAX_MACROS:
        raise CelProblem(f"the condition calls {shape.macros} comprehension macros; at most "
                         f"{MAX_MACROS}")
    if shape.depth > MAX_DEPTH:
        raise CelProblem(f"comprehension macros are nested {shape.depth} deep; at most "
                         f"{MAX_DEPTH}")
    result = program.return_type()
    if result != cel.Type.BOOL and result != cel.Type.DYN:
        raise CelProblem(f"the condition must be a bool (true: the rule fires), not {result}")
    return Compiled(scope, text, program, shape)


DERIVED_SLACK = 64
"""What linuxkit adds to the lists of a container's YAML entry and label when it writes
config.json (default mounts, namespaces, the 41 capabilities of `all`...)."""


def bind(scope: str, data: dict[str, Any], sources: tuple[str, ...] | None = None) -> Bound:
    """A subject's variables for CEL, measured.

    `sources` names the variables that the others are derived from (a container's YAML entry
    and label: config.json, runtime.json and the grants are computed from them): only those
    are walked, and every derived list is at most their elements together plus
    `DERIVED_SLACK`. None walks every variable. Data that CEL cannot take as it is (integers
    beyond int64, keys that are no strings) is converted first (big integers to doubles)."""
    walked = data if sources is None else {name: data[name] for name in sources}
    largest, total, plain = _measure(walked)
    if sources is not None:
        largest = total + DERIVED_SLACK
    if not plain:
        data = {**data, **{name: _plain(value) for name, value in walked.items()}}
    try:
        activation = _environment(scope).Activation(data)
    except (TypeError, ValueError, RuntimeError):
        data = {name: _plain(value) for name, value in data.items()}
        activation = _environment(scope).Activation(data)
    return Bound(data, activation, largest)


_SCALARS = (str, bool, float, type(None))
_STRING_ONLY = frozenset({str})


def _measure(data: dict[str, Any]) -> tuple[int, int, bool]:
    """The size of the largest list or map, the elements of all of them, and whether every
    value is plain for CEL (one pass, no copy: this runs for every container checked)."""
    largest = total = 0
    plain = True
    stack: list[Any] = list(data.values())
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is dict or kind is list:
            size = len(value)
            total += size
            largest = max(largest, size)
            items = value.values() if kind is dict else value
            if not set(map(type, items)) <= _STRING_ONLY:  # lists of strings are the bulk
                stack.extend(items)
        elif kind is int:
            plain = plain and _INT64[0] <= value <= _INT64[1]
        elif kind not in _SCALARS:
            plain = False
            if isinstance(value, Mapping | list | tuple):
                total += len(value)
                largest = max(largest, len(value))
                stack.extend(value.values() if isinstance(value, Mapping) else value)
    return largest, total, plain


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else float(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value)


def cost(compiled: Compiled, bound: Bound) -> int:
    """The worst case of the condition's loops on these variables."""
    shape = compiled.shape
    if not shape.macros:
        return 1
    return int(shape.macros * max(bound.largest, 1) ** shape.depth)


def evaluate(compiled: Compiled, bound: Bound) -> bool:
    """Whether the rule fires; raises `CelProblem` when the condition cannot be evaluated
    (an error such as a missing key, a result that is no bool, a cost over `MAX_COST`)."""
    if compiled.shape.macros:
        worst = cost(compiled, bound)
        if worst > MAX_COST:
            raise CelProblem(f"not evaluated: its macros could take {worst} steps on this "
                             f"input (at most {MAX_COST})")
    return _result(compiled.program.eval(bound.activation))


@cache
def _types() -> tuple[Any, Any]:
    from cel_expr_python import cel

    return cel.Type.BOOL, cel.Type.ERROR


def _result(value: Any) -> bool:
    plain = value.value()
    if plain is True or plain is False:
        return plain
    boolean, error = _types()
    kind = value.type()
    if kind == boolean:
        return bool(plain)
    if kind == error:
        raise CelProblem(str(value.value()).removeprefix("INVALID_ARGUMENT: "))
    raise CelProblem(f"the condition returned a {kind}, not a bool")


def element_holds(compiled: Compiled, variable: str, predicate: str, bound: Bound,
                  element: Any) -> bool | None:
    """Whether a macro's predicate holds for one element (None when it cannot be told: the
    predicate uses an outer loop variable, or fails)."""
    program = _predicate(compiled.scope, variable, predicate)
    if program is None:
        return None
    try:
        return _result(program.eval(data={**bound.data, variable: _plain(element)}))
    except (CelProblem, RuntimeError):
        return None


@cache
def _predicate(scope: str, variable: str, predicate: str) -> Any:
    try:
        return _new_environment(scope, variable).compile(predicate)
    except RuntimeError:
        return None
