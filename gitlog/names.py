"""Validation of the names users choose: metrics, experiments.

A metric name becomes a file path under the log directory (``train/loss`` is
``metrics/train/loss.tsv``), so nothing in it may escape that directory. An experiment
name becomes a branch component, so it follows git's ref-name rules
(``git check-ref-format``), checked here in-process before any training starts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import NameError_

MAX_METRIC_LEN = 200
_METRIC_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-+=@%]*$")
RESERVED_METRICS = frozenset({"step"})
# The resource sampler's series (sysmetrics.py): they count samples, not training steps,
# so they do not move the run's step (metrics.json's "step", an event's default step).
SYSTEM_PREFIX = "system/"

_REF_BAD_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_PSEUDO_REF = re.compile(r"(?:[A-Z_]*_)?HEAD")  # HEAD, FETCH_HEAD, ORIG_HEAD, MERGE_HEAD...


def check_metric(name: object) -> str:
    """Return ``name`` if it is a storable metric name, else raise NameError_."""
    if not isinstance(name, str):
        raise NameError_("metric", repr(name), f"names are strings, got {type(name).__name__}")
    if not name:
        raise NameError_("metric", name, "empty name")
    if len(name) > MAX_METRIC_LEN:
        raise NameError_("metric", name, f"{len(name)} characters; at most {MAX_METRIC_LEN}")
    if "\n" in name or "\r" in name:
        raise NameError_("metric", name, "contains a newline")
    if name.startswith("/"):
        raise NameError_("metric", name, "starts with '/'", hint="drop the leading '/'")
    if name in RESERVED_METRICS:
        raise NameError_("metric", name, "reserved: the summary keeps the step under 'step'",
                         hint="use another name, e.g. 'epoch'")
    for part in name.split("/"):
        if part in ("", ".", ".."):
            raise NameError_("metric", name, "empty, '.' or '..' path component",
                             hint="use names like 'train/loss'")
        if not _METRIC_PART.match(part) or part.endswith((".tsv", ".json")):
            raise NameError_("metric", name,
                             "use ASCII letters, digits and _ . - + = @ %, with '/' between "
                             "groups")
    return name


def check_experiment(name: object) -> str:
    """Return ``name`` if ``<prefix><name>`` is a valid branch, else raise NameError_."""
    if not isinstance(name, str) or not name:
        raise NameError_("experiment", str(name), "empty name")
    problem = ref_component_problem(name)
    if problem:
        raise NameError_("experiment", name, problem,
                         hint="use letters, digits, '-', '_' and '/' (e.g. 'lr-sweep')")
    return name


def revision_problem(name: str) -> str | None:
    """Why ``name``, typed where a revision goes, would never read as the experiment
    (a new experiment is refused such a name; an old one keeps it)."""
    if name.startswith("-"):
        return "it would read as an option"
    if name == "@" or _PSEUDO_REF.fullmatch(name):
        return "git reads it as its own ref (HEAD, FETCH_HEAD, ...)"
    return None


def ref_component_problem(name: str) -> str | None:
    """Why ``name`` cannot follow ``refs/heads/exp/``, or None when it can."""
    if _REF_BAD_CHARS.search(name):
        return "git branch names cannot hold spaces, control characters or ~ ^ : ? * [ \\"
    if ".." in name or "@{" in name:
        return "git branch names cannot hold '..' or '@{'"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "leading, trailing or double '/'"
    if name.endswith("."):
        return "git branch names cannot end with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return "a part starting with '.'"
        if part.endswith(".lock"):
            return "a part ending in '.lock'"
    if len(name.encode()) > 200:
        return "too long (200 bytes at most)"
    return None


def refuse_column_clash(metric: str, others: Sequence[str], then: str | None = None) -> None:
    """Refuse a metric whose column would take the name of another column of the output
    (a metric called 'date' or 'rank'): its values would overwrite that column, or that
    column's them. ``then``: how to ask for the alias (default ``-m my_METRIC``)."""
    if metric in others:
        from .errors import GitlogError

        raise GitlogError(f"the metric {metric} has the name of another column of the output",
                          hint=f"show it under another name: metrics.aliases in .gitlog.yaml "
                               f"({{my_{metric}: [{metric}]}}), then "
                               f"{then or f'-m my_{metric}'}")


class MetricNames:
    """The metric names a run logged (``names``), each checked against the others as it
    comes: one name cannot be both a value and a group ('a' and 'a/b'), nor two names one
    DVC key ('val.acc' and 'val/acc': ``dvc metrics show`` joins groups with '.' and stops
    on the duplicate). The caller holds a lock around ``add``."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self._groups: set[str] = set()  # every 'a', 'a/b' above a name: no metric's name
        self._dotted: dict[str, str] = {}  # 'a.b' -> 'a/b': each name as DVC spells it

    def add(self, name: str) -> None:
        if name in self.names:
            return
        parts = name.split("/")
        above = ["/".join(parts[:i]) for i in range(1, len(parts))]
        other = next((g for g in above if g in self.names), None)
        if other is None and name in self._groups:
            other = min(n for n in self.names if n.startswith(name + "/"))
        if other is not None:
            raise NameError_("metric", name, f"clashes with metric {other!r}: one name "
                             "cannot be both a value and a group",
                             hint=f"rename one, e.g. '{name}/value'")
        dotted = name.replace("/", ".")
        if dotted in self._dotted:
            raise NameError_("metric", name, f"DVC names it {dotted!r}, as it names "
                             f"metric {self._dotted[dotted]!r} (it joins groups with '.')",
                             hint="rename one: 'dvc metrics show' fails on the two")
        self._dotted[dotted] = name
        self._groups.update(above)
        self.names.add(name)
