"""gitlog's entries in ``dvc.yaml``: what makes DVC's ``metrics show``, ``params diff``
and ``plots show`` read a run's files. Plain text and ruamel.yaml; no dvc import.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

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


def _has(items: Any, entry: Any) -> bool:
    if not isinstance(items, list):
        return False
    if isinstance(entry, dict):
        key = next(iter(entry))
        return any(isinstance(i, dict) and key in i for i in items)
    return entry in items


def merge_entries(existing: str | None, log_dir: str,
                  files: Iterable[str] = ()) -> bytes | None:
    """``existing`` dvc.yaml text with gitlog's entries added; None if nothing to add."""
    from ruamel.yaml import YAML

    yaml = YAML()
    doc = yaml.load(existing) if existing and existing.strip() else None
    if doc is None:
        from ruamel.yaml.comments import CommentedMap
        doc = CommentedMap()
    if not isinstance(doc, dict):
        return None  # not ours to rewrite; DVC will report it
    changed = False
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
