"""The ``--where`` filter language of ``gitlog best``: small, documented, and safe (no eval).

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" expr ")" | comparison
    comparison := operand OP operand          OP: < <= > >= == = !=
    operand    := field | number | 'string' | "string" | true | false

Fields: ``params.NAME`` and ``metrics.NAME`` (nested names with ``.`` or ``/``:
``params.optimizer.lr``, ``metrics.eval/f1``), and the run's ``experiment``, ``status``,
``run``, ``commit``, ``subject``, ``author``. A bare name is a metric if one run has it,
else a param. A comparison with a missing value is false (``!=`` too), so
``params.lr < 0.1`` keeps only runs that logged ``lr``.

    params.lr < 0.1 and (metrics.accuracy >= 0.9 or experiment == 'baseline')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import GitlogError

RUN_FIELDS = ("experiment", "status", "run", "commit", "subject", "author")
OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "=")
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op><=|>=|==|!=|<|>|=)
  | (?P<paren>[()])
  | (?P<name>[A-Za-z_][\w.\-/]*)
""", re.VERBOSE)
HINT = ("write comparisons joined by and/or/not, e.g. "
        "--where \"params.lr < 0.1 and metrics.accuracy >= 0.9\"")

Getter = Callable[[dict[str, Any]], Any]


class FilterError(GitlogError):
    def __init__(self, expression: str, position: int, problem: str) -> None:
        self.expression = expression
        self.position = position
        super().__init__(f"bad --where at column {position + 1}: {problem}", hint=HINT)


@dataclass
class Field:
    kind: str  # params | metrics | run | bare
    name: str

    @property
    def label(self) -> str:
        return f"{self.kind}.{self.name}" if self.kind in ("params", "metrics") else self.name

    def get(self, run: dict[str, Any]) -> Any:
        return _getter(self)(run)


@dataclass
class Filter:
    """A parsed expression; ``match(run)`` evaluates it on {'params':..,'metrics':..,...}."""

    text: str
    test: Callable[[dict[str, Any]], bool]
    fields: list[Field]

    def match(self, run: dict[str, Any]) -> bool:
        return self.test(run)

    @property
    def needs_params(self) -> bool:
        return any(f.kind in ("params", "bare") for f in self.fields)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise FilterError(text, pos, f"unexpected {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind != "space":
            value = m.group()
            if kind == "name" and value.lower() in ("and", "or", "not", "true", "false"):
                kind = value.lower() if value.lower() in ("and", "or", "not") else "bool"
            out.append((kind, value, pos))
        pos = m.end()
    return out


def _lookup(tree: dict[str, Any], name: str) -> Any:
    """``name`` in a flat {'a/b': v} mapping, written with '/' or '.'."""
    if name in tree:
        return tree[name]
    slashed = name.replace(".", "/")
    return tree.get(slashed)


def _getter(field: Field) -> Getter:
    if field.kind == "run":
        return lambda run: run.get(field.name)
    if field.kind in ("params", "metrics"):
        return lambda run: _lookup(run.get(field.kind) or {}, field.name)

    def bare(run: dict[str, Any]) -> Any:
        value = _lookup(run.get("metrics") or {}, field.name)
        return value if value is not None else _lookup(run.get("params") or {}, field.name)
    return bare


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    numbers = (int, float)
    if isinstance(left, bool) or isinstance(right, bool):
        if not (isinstance(left, bool) and isinstance(right, bool)):
            return False
    elif isinstance(left, numbers) != isinstance(right, numbers):
        return False
    try:
        if op in ("==", "="):
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False


def parse(text: str) -> Filter:
    """Parse ``text``; FilterError names the column and what was expected there."""
    tokens = _tokens(text)
    fields: list[Field] = []
    pos = 0

    def peek() -> tuple[str, str, int] | None:
        return tokens[pos] if pos < len(tokens) else None

    def where() -> int:
        tok = peek()
        return tok[2] if tok else len(text)

    def take() -> tuple[str, str, int]:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        return tok

    def operand() -> Getter:
        tok = peek()
        if tok is None:
            raise FilterError(text, len(text), "expected a field or a value, got the end")
        kind, value, at = take()
        if kind == "number":
            number = float(value) if any(c in value for c in ".eE") else int(value)
            return lambda run: number
        if kind == "string":
            body = value[1:-1].replace("\\" + value[0], value[0]).replace("\\\\", "\\")
            return lambda run: body
        if kind == "bool":
            flag = value.lower() == "true"
            return lambda run: flag
        if kind == "name":
            head, dot, rest = value.partition(".")
            if head in ("params", "metrics") and dot and rest:
                found = Field(head, rest)
            elif value in RUN_FIELDS:
                found = Field("run", value)
            elif head in ("params", "metrics"):
                raise FilterError(text, at, f"{head} needs a name: {head}.NAME")
            else:
                found = Field("bare", value)
            fields.append(found)
            return _getter(found)
        raise FilterError(text, at, f"expected a field or a value, got {value!r}")

    def comparison() -> Callable[[dict[str, Any]], bool]:
        left = operand()
        tok = peek()
        if tok is None or tok[0] != "op":
            got = "the end" if tok is None else repr(tok[1])
            raise FilterError(text, where(),
                              f"expected a comparison ({' '.join(OPERATORS)}), got {got}")
        op = take()[1]
        right = operand()
        return lambda run: _compare(op, left(run), right(run))

    def unary() -> Callable[[dict[str, Any]], bool]:
        tok = peek()
        if tok and tok[0] == "not":
            take()
            inner = unary()
            return lambda run: not inner(run)
        if tok and tok[1] == "(":
            take()
            inner = disjunction()
            close = peek()
            if close is None or close[1] != ")":
                raise FilterError(text, where(), "expected ')'")
            take()
            return inner
        return comparison()

    def conjunction() -> Callable[[dict[str, Any]], bool]:
        parts = [unary()]
        while (tok := peek()) and tok[0] == "and":
            take()
            parts.append(unary())
        return parts[0] if len(parts) == 1 else (lambda run: all(p(run) for p in parts))

    def disjunction() -> Callable[[dict[str, Any]], bool]:
        parts = [conjunction()]
        while (tok := peek()) and tok[0] == "or":
            take()
            parts.append(conjunction())
        return parts[0] if len(parts) == 1 else (lambda run: any(p(run) for p in parts))

    if not tokens:
        raise FilterError(text, 0, "the expression is empty")
    test = disjunction()
    if pos < len(tokens):
        raise FilterError(text, tokens[pos][2], f"unexpected {tokens[pos][1]!r}; join "
                          "comparisons with and/or")
    return Filter(text, test, fields)
