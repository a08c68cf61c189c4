"""The ``--where`` filter language of ``gitlog best``: small, documented, and safe (no eval).

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" expr ")" | comparison
    comparison := operand OP operand          OP: < <= > >= == = !=
    operand    := field | number | 'string' | "string" | true | false
    number     := 3 | -0.5 | .5 | 1. | 1e-3 | 1_000 | 0x1F | 0o17 | 0b101 (as YAML 1.2 has them)
    field      := params.NAME | metrics.NAME | params.`KEY` | metrics.`KEY` | `KEY` | NAME

Fields: ``params.NAME`` and ``metrics.NAME`` (nested names with ``.`` or ``/``:
``params.optimizer.lr``, ``metrics.eval/f1``), and the run's ``experiment``, ``status``,
``run``, ``commit``, ``subject``, ``author``. A bare name is a metric if one run has it,
else a param. A name in backticks is one key exactly as ``gitlog show`` prints it (nested
keys joined with ``/``), whatever its characters: ``metrics.`f1@0.5```; inside, a
backslash escapes a backtick or a backslash. A bare quoted name is a metric or param, never
one of the run's fields. A comparison with a missing value is false (``!=`` too), so
``params.lr < 0.1`` keeps only runs that logged ``lr``; a field no run has at all is an
error (``Filter.check``), most likely a misspelling. Text that reads as a number compares
as that number with a number; other kinds are never equal, and an ordering between two
kinds in every run is an error (``filterkinds``). ``commit == 'ID'`` (and ``!=``) takes
an id abbreviated to its first 4 or more hex digits, as git does.

    params.lr < 0.1 and (metrics.accuracy >= 0.9 or experiment == 'baseline')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import GitlogError
from .filterkinds import NUMBER, aligned, comparable, kind, never_ordered

RUN_FIELDS = ("experiment", "status", "run", "commit", "subject", "author")
SECTIONS = ("params", "metrics")
KEYWORDS = ("and", "or", "not", "true", "false")
OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "=")
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>""" + NUMBER + r"""(?![\w.]))
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<quoted>`(?:[^`\\]|\\.)*`)
  | (?P<op><=|>=|==|!=|<|>|=)
  | (?P<paren>[()])
  | (?P<name>[A-Za-z_][\w.\-/]*)
""", re.VERBOSE)
HINT = ("write comparisons joined by and/or/not, e.g. "
        "--where \"params.lr < 0.1 and metrics.accuracy >= 0.9\"")
QUOTE_HINT = ("put a name with other characters in backticks, with \\` for a backtick "
              "inside: --where 'metrics.`f1@0.5` > 0.8'")
NUMBER_HINT = "write numbers as params.yaml holds them: 1000, 1_000, -.5, 1e-3, 0x1F"
_BAD_NUMBER = re.compile(r"[-+]?\.?\d[\w.]*(?:[eE][-+]\w*)?")
_PLAIN = re.compile(r"[A-Za-z_][\w.\-/]*")

Getter = Callable[[dict[str, Any]], Any]


class FilterError(GitlogError):
    def __init__(self, expression: str, position: int, problem: str,
                 hint: str = HINT) -> None:
        self.expression = expression
        self.position = position
        super().__init__(f"bad --where at column {position + 1}: {problem}", hint=hint)


@dataclass
class Field:
    kind: str  # params | metrics | run | bare
    name: str
    quoted: bool = False  # written in backticks: exactly this key, never split on '.'
    # the run's text field a bare name is compared with (experiment == baseline): the
    # name is likely text that lacks its quotes
    beside: str | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        """The field as written (quoted names in backticks): the column ``best`` shows."""
        name = _backticked(self.name) if self.quoted else self.name
        return f"{self.kind}.{name}" if self.kind in SECTIONS else name

    def get(self, run: dict[str, Any]) -> Any:
        return _getter(self)(run)


@dataclass
class Filter:
    """A parsed expression; ``match(run)`` evaluates it on {'params':..,'metrics':..,...}."""

    text: str
    test: Callable[[dict[str, Any]], bool]
    fields: list[Field]
    # (op, left, right, column) of each <, <=, > and >=: checked against the runs
    orderings: list[tuple[str, Getter, Getter, int]] = field(default_factory=list)

    def match(self, run: dict[str, Any]) -> bool:
        return self.test(run)

    @property
    def needs_params(self) -> bool:
        return any(f.kind in ("params", "bare") for f in self.fields)

    def check(self, runs: list[dict[str, Any]], among: str = "") -> None:
        """Raise UnknownFieldError for the first params/metrics field no run has, and
        FilterError for an ordering whose sides are of two kinds in every run that has
        both (``params.optimizer < 3``): it would keep none, a typo most likely."""
        for f in self.fields:
            if f.kind != "run" and all(f.get(run) is None for run in runs):
                raise UnknownFieldError(f, runs, among)
        for op, left, right, at in self.orderings:
            pairs = [(a, b) for run in runs
                     if (a := left(run)) is not None and (b := right(run)) is not None]
            if pairs and not any(comparable(a, b) for a, b in pairs):
                problem, hint = never_ordered(op, left, right, pairs, among)
                raise FilterError(self.text, at, problem, hint=hint)


class UnknownFieldError(GitlogError):
    """A field of ``--where`` that no run has (a misspelling, most likely)."""

    def __init__(self, field: Field, runs: list[dict[str, Any]], among: str = "") -> None:
        import difflib

        self.field = field
        names = {section: sorted({k for run in runs for k in (run.get(section) or {})})
                 for section in ("params", "metrics")}
        if field.kind == "bare":
            known = sorted(set(names["params"]) | set(names["metrics"]))
        else:
            known = names[field.kind]
        other = {"params": "metrics", "metrics": "params"}.get(field.kind)
        if other and _lookup(dict.fromkeys(names[other], 1), field.name,
                             field.quoted) is not None:  # the right name, other section
            close = [spell(other, field.name) if field.quoted else f"{other}.{field.name}"]
        else:
            section = field.kind if field.kind != "bare" else ""
            close = [spell(section, k) for k in difflib.get_close_matches(
                field.name, names.get(field.kind, known), n=3, cutoff=0.6)]
        known = [spell(field.kind if field.kind != "bare" else "", k) for k in known]
        self.known = known
        what = {"params": "param", "metrics": "metric"}.get(field.kind, "metric or param")
        hint = (f"did you mean {' or '.join(close)}?" if close else
                f"known: {', '.join(known[:8])}{', ...' if len(known) > 8 else ''}"
                if known else "see a run's params and metrics with 'gitlog show'")
        if field.beside:
            hint = (f"to compare {field.beside} with the text {field.name}, quote it: "
                    f"'{field.name}'" + (f"; or did you mean {' or '.join(close)}?"
                                         if close else ""))
        super().__init__(f"--where names the {what} {field.label!r}, which no run{among} has",
                         hint=hint)


def _backticked(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def spell(section: str, key: str) -> str:
    """How ``--where`` names ``key`` of ``section`` ('params', 'metrics', '' for a bare
    name): as is where it reads back as that very key, else in backticks."""
    if section:
        plain = re.fullmatch(r"[\w.\-/]+", key) is not None
        return f"{section}.{key if plain else _backticked(key)}"
    plain = _PLAIN.fullmatch(key) is not None and key.lower() not in KEYWORDS and \
        key not in RUN_FIELDS and key.partition(".")[0] not in SECTIONS
    return key if plain else _backticked(key)


def number(text: str) -> int | float:
    """A number of the filter as params.yaml holds it: ``1_000``, ``0x1F``, ``0o17``,
    ``0b101`` are ints, ``1e-3``, ``.5``, ``1.`` floats (Python's and YAML 1.2's spellings)."""
    digits = text.replace("_", "")
    body = digits.lstrip("+-")
    if body[:2].lower() in ("0x", "0o", "0b"):
        value = int(body, 0)
        return -value if digits.startswith("-") else value
    return float(digits) if any(c in body for c in ".eE") else int(digits)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos] == "`":
                raise FilterError(text, pos, "the quoted name opened here has no closing `",
                                  hint=QUOTE_HINT)
            if text[pos] in "'\"":
                raise FilterError(text, pos, "the string opened here has no closing "
                                  f"{text[pos]}")
            bad = _BAD_NUMBER.match(text, pos)
            if bad:
                raise FilterError(text, pos, f"{bad.group()} is not a number", hint=NUMBER_HINT)
            raise FilterError(text, pos, f"unexpected {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind != "space":
            value = m.group()
            if kind == "name" and value.lower() in KEYWORDS:
                kind = value.lower() if value.lower() in ("and", "or", "not") else "bool"
            out.append((kind, value, pos))
        pos = m.end()
    return out


def _lookup(tree: dict[str, Any], name: str, exact: bool = False) -> Any:
    """``name`` in a flat {'a/b': v} mapping, written with '/' or '.' (``exact``: as is)."""
    if name in tree or exact:
        return tree.get(name)
    slashed = name.replace(".", "/")
    return tree.get(slashed)


def _getter(field: Field) -> Getter:
    name, exact = field.name, field.quoted
    if field.kind == "run":
        return lambda run: run.get(name)
    if field.kind in SECTIONS:
        return lambda run: _lookup(run.get(field.kind) or {}, name, exact)

    def bare(run: dict[str, Any]) -> Any:
        value = _lookup(run.get("metrics") or {}, name, exact)
        return value if value is not None else _lookup(run.get("params") or {}, name, exact)
    return bare


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    left, right = aligned(left, right)  # '0.1' (text) beside a number: 0.1
    if kind(left) != kind(right):  # a number is never text nor true/false: unequal
        return op == "!="
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


class _Constant:
    """A number or true/false operand, as written."""

    def __init__(self, value: Any, raw: str) -> None:
        self.value, self.raw = value, raw

    def __call__(self, run: dict[str, Any]) -> Any:
        return self.value


class _Field:
    """A field operand."""

    def __init__(self, field: Field) -> None:
        self.field, self.get = field, _getter(field)

    def __call__(self, run: dict[str, Any]) -> Any:
        return self.get(run)


class _Literal:
    """A quoted string operand; its column is kept for errors about it."""

    def __init__(self, value: str, at: int) -> None:
        self.value, self.at = value, at

    def __call__(self, run: dict[str, Any]) -> str:
        return self.value


def _abbreviated(text: str, left: Getter, right: Getter, named: list[Field]) -> str | None:
    """The commit id a ``commit == '...'`` comparison names (lower case), else None. Like
    git, an id may be abbreviated to its first 4 or more hex digits (the tables show 10)."""
    literal = left if isinstance(left, _Literal) else right
    if not isinstance(literal, _Literal) or \
            not any(f.kind == "run" and f.name == "commit" for f in named):
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{4,64}", literal.value):
        raise FilterError(text, literal.at, "commit takes a commit id, whole or its first 4 "
                          f"or more hex digits, got {literal.value!r}",
                          hint="copy it from the commit column: --where \"commit == "
                               "'29cff67254'\"")
    return literal.value.lower()


def _text_operands(text: str, named: list[Field], op: str, left: Getter, right: Getter,
                   at: tuple[int, int]) -> None:
    """A run field (text) compared with a number or true/false never matches: an error
    with the quoted form as the hint. Compared with a bare name, that name is marked
    (``Field.beside``) so that, if no run has it, the hint says to quote it."""
    run = next((f for f in named if f.kind == "run"), None)
    if run is None:
        return
    for side, other, column in ((left, right, at[1]), (right, left, at[0])):
        if not isinstance(side, _Field):
            continue
        if side.field is run and isinstance(other, _Constant):
            raise FilterError(text, column, f"{run.name} is text, never the number or "
                              f"boolean {other.raw}",
                              hint=f"quote it: --where \"{run.name} {op} '{other.raw}'\"")
        if side.field.kind == "bare" and not side.field.quoted and \
                isinstance(other, _Field) and other.field is run:
            side.field.beside = run.name


def _prefix(commit: Any, prefix: str) -> bool:
    return isinstance(commit, str) and commit.startswith(prefix)


def parse(text: str) -> Filter:
    """Parse ``text``; FilterError names the column and what was expected there."""
    tokens = _tokens(text)
    fields: list[Field] = []
    orderings: list[tuple[str, Getter, Getter, int]] = []
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

    def unquote(value: str, at: int) -> str:
        name = re.sub(r"\\([`\\])", r"\1", value[1:-1])
        if not name:
            raise FilterError(text, at, "a quoted name cannot be empty", hint=QUOTE_HINT)
        return name

    def field(kind: str, value: str, at: int) -> Field:
        head, dot, rest = value.partition(".")
        after = peek()
        if after and after[0] == "quoted" and after[2] == at + len(value):
            if head in SECTIONS and dot and not rest:
                take()
                return Field(head, unquote(after[1], after[2]), quoted=True)
            raise FilterError(text, after[2], "a quoted name stands alone or right after "
                              "params. or metrics.", hint=QUOTE_HINT)
        if kind == "quoted":
            return Field("bare", unquote(value, at), quoted=True)
        if head in SECTIONS and dot and rest:
            return Field(head, rest)
        if value in RUN_FIELDS:
            return Field("run", value)
        if head in SECTIONS:
            raise FilterError(text, at, f"{head} needs a name: {head}.NAME or {head}.`NAME`",
                              hint=QUOTE_HINT)
        return Field("bare", value)

    def operand() -> Getter:
        tok = peek()
        if tok is None:
            raise FilterError(text, len(text), "expected a field or a value, got the end")
        kind, value, at = take()
        if kind == "number":
            return _Constant(number(value), value)
        if kind == "string":
            body = value[1:-1].replace("\\" + value[0], value[0]).replace("\\\\", "\\")
            return _Literal(body, at)
        if kind == "bool":
            return _Constant(value.lower() == "true", value)
        if kind in ("name", "quoted"):
            found = field(kind, value, at)
            fields.append(found)
            return _Field(found)
        raise FilterError(text, at, f"expected a field or a value, got {value!r}")

    def comparison() -> Callable[[dict[str, Any]], bool]:
        start, start_at = len(fields), where()
        left = operand()
        tok = peek()
        if tok is None or tok[0] != "op":
            got = "the end" if tok is None else repr(tok[1])
            raise FilterError(text, where(),
                              f"expected a comparison ({' '.join(OPERATORS)}), got {got}")
        op = take()[1]
        right_at = where()
        right = operand()
        _text_operands(text, fields[start:], op, left, right, (start_at, right_at))
        if op in ("==", "=", "!=") and (commit := _abbreviated(text, left, right,
                                                                  fields[start:])):
            same = op != "!="
            return lambda run: _prefix(run.get("commit"), commit) is same
        if op in ("<", "<=", ">", ">="):
            orderings.append((op, left, right, start_at))
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
    return Filter(text, test, fields, orderings)
