"""gitlog's entries in ``dvc.yaml``: what makes DVC's ``metrics show``, ``params diff``
and ``plots show`` read a run's files. Plain text and ruamel.yaml; no dvc import.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from .errors import GitlogError

# Plot folders Run.log_eval writes (gitlog/evaluate.py), one file per eval prefix, and
# how DVC draws them. Declared only in runs that have them: DVC reports a missing one.
EVAL_PLOTS: dict[str, dict[str, str]] = {
    "roc": {"template": "simple", "x": "fpr", "y": "tpr", "x_label": "False Positive Rate",
            "y_label": "True Positive Rate"},
    "precision_recall": {"template": "simple", "x": "recall", "y": "precision",
                         "x_label": "Recall", "y_label": "Precision"},
    "confusion": {"template": "confusion", "x": "actual", "y": "predicted"},
}


def entries(log_dir: str, files: Iterable[str] = ()) -> dict[str, Any]:
    """gitlog's dvc.yaml entries; ``files`` (the log dir's paths) adds the eval plots."""
    present = {f.split("/")[1] for f in files if f.startswith("plots/") and f.count("/") >= 2}
    return {
        "metrics": [f"{log_dir}/metrics.json"],
        "params": [f"{log_dir}/params.yaml"],
        "plots": [{f"{log_dir}/metrics": {"x": "step"}}] +
                 [{f"{log_dir}/plots/{kind}": dict(props)}
                  for kind, props in EVAL_PLOTS.items() if kind in present],
    }


class DvcYamlError(GitlogError):
    """A dvc.yaml gitlog cannot read to add its entries to."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint="fix dvc.yaml (DVC cannot read it either), then "
                         "run 'gitlog init' again")


def _has(items: Any, entry: Any) -> bool:
    if not isinstance(items, list):
        return False
    if isinstance(entry, dict):
        key = next(iter(entry))
        return any(isinstance(i, dict) and key in i for i in items)
    return entry in items


def _earlier_dirs(doc: Any, log_dir: str) -> set[str]:
    """The other folders ``doc`` holds gitlog's three entries for (``F/metrics.json``,
    ``F/params.yaml`` and the plot ``F/metrics: {x: step}``): log folders of before a
    change of ``log_dir``. A folder the user declared only in part is not one."""
    metrics, params, plots = (doc.get(k) for k in ("metrics", "params", "plots"))
    if not all(isinstance(v, list) for v in (metrics, params, plots)):
        return set()
    curves = {next(iter(p)) for p in plots if isinstance(p, dict) and len(p) == 1 and
              p[next(iter(p))] == {"x": "step"}}
    found = set()
    for entry in metrics:
        if isinstance(entry, str) and entry.endswith("/metrics.json"):
            folder = entry[:-len("/metrics.json")]
            if folder != log_dir and f"{folder}/params.yaml" in params and \
                    f"{folder}/metrics" in curves:
                found.add(folder)
    return found


def _drop(doc: Any, folders: set[str],
          keys: tuple[str, ...] = ("metrics", "params", "plots")) -> None:
    """Remove gitlog's entries (eval plots too) for ``folders`` from ``doc``'s ``keys``."""
    if not folders:
        return
    ours = {f"{f}/{name}" for f in folders for name in ("metrics.json", "params.yaml",
                                                         "metrics")}
    ours |= {f"{f}/plots/{kind}" for f in folders for kind in EVAL_PLOTS}
    for key in keys:
        items = doc[key]
        for i in reversed(range(len(items))):
            entry = items[i]
            name = next(iter(entry)) if isinstance(entry, dict) and len(entry) == 1 else entry
            if isinstance(name, str) and name in ours:
                del items[i]


def differs_in_ours_only(old: bytes | None, new: bytes | None, log_dir: str) -> bool:
    """Whether two dvc.yaml texts (None: no file) differ only in gitlog's entries for
    ``log_dir``: what a workspace-mode run adds for its eval plots, or a first run's new
    dvc.yaml, is no code change. A text that does not parse is compared as it is."""
    if old == new:
        return True
    from ruamel.yaml import YAML

    def plain(text: bytes | None) -> Any:
        try:
            doc = YAML(typ="safe").load(text) if text and text.strip() else None
        except Exception:  # ruamel's errors have no common public base
            return text
        doc = {} if doc is None else doc
        if isinstance(doc, dict):
            for key in ("metrics", "params", "plots"):
                if not isinstance(doc.get(key), list):
                    continue
                _drop(doc, {log_dir}, keys=(key,))
                if not doc[key]:
                    del doc[key]
        return doc

    return bool(plain(old) == plain(new))


def merge_entries(existing: str | None, log_dir: str,
                  files: Iterable[str] = ()) -> bytes | None:
    """``existing`` dvc.yaml text with gitlog's entries added, and those of an earlier
    ``log_dir`` removed (DVC would read that folder's stale or missing files); None if
    nothing changes. ``DvcYamlError`` when ``existing`` is not YAML."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML()
    try:
        doc = yaml.load(existing) if existing and existing.strip() else None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DvcYamlError(f"dvc.yaml is not valid YAML{where}: "
                           f"{exc.problem or exc.context or 'syntax error'}") from None
    except YAMLError as exc:
        raise DvcYamlError(f"dvc.yaml is not valid YAML: {str(exc).splitlines()[0]}") from None
    if doc is None:
        from ruamel.yaml.comments import CommentedMap
        doc = CommentedMap()
    if not isinstance(doc, dict):
        return None  # not ours to rewrite; DVC will report it
    earlier = _earlier_dirs(doc, log_dir)
    _drop(doc, earlier)
    changed = bool(earlier)
    # eval plots this run has not: a workspace's dvc.yaml (or a code snapshot of one)
    # keeps the previous run's, and DVC reports a declared folder that is missing
    wanted_plots = entries(log_dir, files)["plots"]
    absent = {f"{log_dir}/plots/{kind}" for kind in EVAL_PLOTS} - \
        {next(iter(p)) for p in wanted_plots}
    plots = doc.get("plots")
    if isinstance(plots, list):
        for i in reversed(range(len(plots))):
            entry = plots[i]
            if isinstance(entry, dict) and len(entry) == 1 and next(iter(entry)) in absent:
                del plots[i]
                changed = True
    for key, wanted in entries(log_dir, files).items():
        items = doc.get(key)
        if items is None:
            items = doc[key] = []
        if not isinstance(items, list):
            continue
        for entry in wanted:
            if not _has(items, entry):
                items.append(entry)
                changed = True
    if not changed:
        return None
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue().encode()
