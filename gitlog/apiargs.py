"""The Python query API's arguments checked where a notebook passes them: a wrong type
(``n="3"``, ``revs=Path(...)``, ``metric=1``) is a ``GitlogError`` naming the argument
and the fix, not a TypeError or AttributeError from deep inside, nor a wrong answer
(``n=2.5`` gave no rows). The CLI's options arrive as text and are checked by click.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Sequence
from typing import Any

from .errors import GitlogError


def _got(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def revs_arg(revs: Any, query: str) -> list[str]:
    """``revs``: None, one revision (a str) or a list of them."""
    if revs is None:
        return []
    if isinstance(revs, str):
        return [revs]
    if isinstance(revs, os.PathLike):
        raise GitlogError(f"{query}: revs names commits, branches or experiments, got the "
                          f"path {os.fspath(revs)!r}",
                          hint=f"pass the repository as repo=: gitlog.{query}(..., "
                               f"repo={os.fspath(revs)!r})")
    items = list(revs) if isinstance(revs, (Sequence, set, frozenset)) else None
    if items is None or not all(isinstance(r, str) for r in items):
        bad = revs if items is None else next(r for r in items if not isinstance(r, str))
        raise GitlogError(f"{query}: a revision is a str (a commit, branch, range or "
                          f"experiment name), got {_got(bad)}",
                          hint=f"gitlog.{query}(..., 'baseline') or a list of names: "
                               "['exp/a', 'exp/b']")
    return items


def metric_arg(metric: Any, query: str) -> Any:
    """``metric``: None, a name or a list of names (all str)."""
    if metric is None or isinstance(metric, str):
        return metric
    items = list(metric) if isinstance(metric, (Sequence, set, frozenset)) else None
    if items is None or not all(isinstance(m, str) for m in items):
        bad = metric if items is None else next(m for m in items if not isinstance(m, str))
        raise GitlogError(f"{query}: a metric is named by a str, got {_got(bad)}",
                          hint=f"gitlog.{query}('loss', ...)")
    return metric


def rev_arg(rev: Any, query: str) -> str | None:
    """``rev``: None (HEAD's run, else the newest) or one revision."""
    if rev is None or isinstance(rev, str):
        return rev
    if isinstance(rev, os.PathLike):
        revs_arg(rev, query)  # the hint is repo=
    raise GitlogError(f"{query} takes one revision, a str, got {_got(rev)}",
                      hint=f"gitlog.{query}('baseline'); gitlog.compare takes several")


def count_arg(n: Any, query: str, what: str) -> int | None:
    """``n``: None (no limit) or a whole number of 1 or more (a numpy int too)."""
    if n is None:
        return None
    try:
        value = operator.index(n) if not isinstance(n, bool) else None
    except TypeError:
        value = None
    if value is None or value < 1:
        raise GitlogError(f"{query}: n must be a whole number of 1 or more, got {_got(n)}",
                          hint=f"n=10 keeps the {what} 10; n=None keeps every one")
    return value


def text_arg(value: Any, query: str, name: str, example: str,
             required: bool = False) -> str | None:
    """A text argument (``where``, ``grep``; ``required``: bisect's ``good``, ``bad``)."""
    if isinstance(value, str) or (value is None and not required):
        return value
    raise GitlogError(f"{query}: {name} is a str, got {_got(value)}",
                      hint=f"{name}={example!r}")
