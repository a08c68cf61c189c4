"""What a walked commit holds (``Facts``): the walk's record plus its run files' blobs.

Facts are immutable per commit id, so the index caches them. ``metrics.json`` is parsed
once, with json's C scanner, into the tree it holds; the flat view
(``{'train/loss': 0.3}``) is built only when something asks for every metric.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any


def log_paths(log_dir: str) -> list[str]:
    """The two files whose change makes a commit a run: run.yaml and metrics.json."""
    return [f"{log_dir}/run.yaml", f"{log_dir}/metrics.json"]


RUN_KEYS = ("id", "experiment", "status", "code_commit", "code_tree")
_DECODER = json.JSONDecoder()
_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]
_SPACE = json.decoder.WHITESPACE.match  # type: ignore[attr-defined]


# A plain slotted class, not a dataclass: one is made per walked commit.
class Facts:
    """What one commit holds, immutable per commit id (the index caches it)."""

    __slots__ = ("commit", "time", "date", "author", "subject", "has_run", "run_id",
                 "experiment", "status", "code_commit", "metrics_blob", "error", "text",
                 "tree", "flat")

    def __init__(self, commit: str, time: int, date: str, author: str, subject: str,
                 has_run: bool, run_id: str | None = None, experiment: str | None = None,
                 status: str | None = None, code_commit: str | None = None,
                 metrics_blob: str | None = None, error: str | None = None,
                 text: str | None = None, tree: dict[str, Any] | None = None) -> None:
        self.commit = commit
        self.time = time
        self.date = date
        self.author = author
        self.subject = subject
        self.has_run = has_run
        self.run_id = run_id
        self.experiment = experiment
        self.status = status
        self.code_commit = code_commit
        self.metrics_blob = metrics_blob
        self.error = error
        self.text = text  # metrics.json as committed (None: no metrics, or malformed)
        self.tree = tree  # ... and parsed
        self.flat: dict[str, float] | None = None

    def __repr__(self) -> str:
        return (f"Facts({self.commit[:10]}, run={self.run_id!r}, "
                f"experiment={self.experiment!r}, error={self.error!r})")

    @property
    def identity(self) -> str | None:
        """What makes two commits the same run (a merge or a rebase carries it along)."""
        if not self.has_run:
            return None
        if not self.run_id and not self.metrics_blob:
            return self.commit
        return f"{self.run_id or ''}:{self.metrics_blob or ''}"

    def data(self) -> dict[str, Any]:
        """metrics.json as a (nested) mapping; {} when the commit has none."""
        if self.tree is None:
            self.tree = _tree(self.text) if self.text else {}
        return self.tree

    def metrics(self) -> dict[str, float]:
        """Flat numeric metrics: {'train/loss': 0.3}; non-finite values dropped."""
        if self.flat is None:
            flat = flat_numbers(self.data())
            for key in [k for k, v in flat.items() if v - v != 0]:
                flat.pop(key)
            self.flat = flat
        return self.flat

    def values(self) -> dict[str, float | bool]:
        """``metrics()`` and the booleans beside them (``converged: true``): what
        ``--where`` reads."""
        flags = {k: v for k, v in flat_numbers(self.data(), flags=True).items()
                 if v.__class__ is bool}
        return {**self.metrics(), **flags} if flags else self.metrics()

    def metric_names(self) -> list[str]:
        """The names of every metric: numbers, nan and infinite ones too (a diverged run
        still logged its loss), and booleans."""
        return list(flat_numbers(self.data(), flags=True))

    def metric(self, names: list[str], *, finite: bool = True,
               flags: bool = False) -> float | bool | None:
        """The value of the first of ``names`` this run has (as ``metrics()`` would give
        it), looked up without flattening when the name has no '/'; ``finite=False``:
        nan and infinities count as values too; ``flags``: so do true and false."""
        tree = self.tree if self.tree is not None else self.data()
        for name in names:
            if "/" in name:
                value = (self.metrics() if finite and not flags else
                         flat_numbers(self.data(), flags=flags)).get(name)
                if value is not None and (not finite or value - value == 0):
                    return value
                continue
            found: Any = tree.get(name)
            kind = found.__class__
            if kind is int or (kind is float and (not finite or found - found == 0)) or \
                    (flags and kind is bool):
                return found  # type: ignore[no-any-return]
        return None


def _tree(text: str) -> dict[str, Any]:
    """The mapping a stored (valid) metrics.json text holds."""
    try:
        tree = _SCAN(text, _SPACE(text, 0).end())[0]
    except (StopIteration, ValueError, RecursionError):
        return {}
    return tree if tree.__class__ is dict else {}  # type: ignore[no-any-return]


def parse_run_yaml(data: bytes) -> dict[str, Any]:
    """The few top-level scalars of run.yaml gitlog needs ({} when it is not a mapping)."""
    from .runfiles import run_facts

    try:
        return run_facts(data, RUN_KEYS)
    except ValueError:
        return {}


def flat_numbers(tree: Any, prefix: str = "", out: dict[str, Any] | None = None, *,
                 flags: bool = False) -> dict[str, Any]:
    """metrics.json -> {'train/loss': 0.3, ...}: finite-or-not numbers only, booleans
    too with ``flags`` (text, lists and nulls are no metric values)."""
    out = {} if out is None else out
    stack = [(prefix, iter(tree.items()))]  # no recursion: JSON nests as deep as it likes
    while stack:
        prefix, items = stack[-1]
        for key, value in items:
            if isinstance(value, dict):
                stack.append((f"{prefix}{key}/", iter(value.items())))
                break
            if isinstance(value, (int, float)) and (flags or not isinstance(value, bool)):
                out[f"{prefix}{key}"] = value
        else:
            stack.pop()
    return out


_JSON_KINDS = {list: "a JSON array", str: "a JSON string", int: "a JSON number",
               float: "a JSON number", bool: "JSON true or false", type(None): "JSON null"}


def parse_metrics(data: bytes) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """(tree, text, error) of a metrics.json blob: the text is what the index keeps."""
    try:  # the usual file: an object from the first byte, then at most whitespace
        text = data.decode()
        tree, end = _SCAN(text, 0)
        if tree.__class__ is dict and (end == len(text) or not text[end:].strip(" \t\n\r")):
            return tree, text, None
    except (UnicodeDecodeError, StopIteration, ValueError, RecursionError):
        pass
    try:  # the slow path words the error as json.loads does
        tree = json.loads(data)
    except ValueError as exc:
        return None, None, f"is not valid JSON ({exc})"
    except RecursionError:
        return None, None, "is nested too deeply to read"
    if not isinstance(tree, dict):
        return None, None, f"holds {_JSON_KINDS.get(type(tree), 'a JSON value')}, not an object"
    return tree, json.dumps(tree), None


def _metrics(data: bytes | str) -> tuple[dict[str, float] | None, str | None]:
    """(flat metrics, error) from a metrics.json blob; non-finite values are dropped."""
    tree, _, error = parse_metrics(data.encode() if isinstance(data, str) else data)
    if tree is None:
        return None, error
    facts = Facts("", 0, "", "", "", True, tree=tree)
    return facts.metrics(), None
