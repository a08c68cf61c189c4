"""gitlog's entries in ``dvc.yaml``: what makes DVC's ``metrics show``, ``params diff``
and ``plots show`` read a run's files. Plain text and ruamel.yaml; no dvc import.
"""

from __future__ import annotations

import io
from typing import Any


def entries(log_dir: str) -> dict[str, Any]:
    return {
        "metrics": [f"{log_dir}/metrics.json"],
        "params": [f"{log_dir}/params.yaml"],
        "plots": [{f"{log_dir}/metrics": {"x": "step"}},
                  # written by Run.log_eval (gitlog/evaluate.py), one file per eval prefix
                  {f"{log_dir}/plots/roc": {"template": "simple", "x": "fpr", "y": "tpr",
                                            "x_label": "False Positive Rate",
                                            "y_label": "True Positive Rate"}},
                  {f"{log_dir}/plots/precision_recall": {"template": "simple",
                                                         "x": "recall", "y": "precision",
                                                         "x_label": "Recall",
                                                         "y_label": "Precision"}},
                  {f"{log_dir}/plots/confusion": {"template": "confusion", "x": "actual",
                                                  "y": "predicted"}}],
    }


def _has(items: Any, entry: Any) -> bool:
    if not isinstance(items, list):
        return False
    if isinstance(entry, dict):
        key = next(iter(entry))
        return any(isinstance(i, dict) and key in i for i in items)
    return entry in items


def merge_entries(existing: str | None, log_dir: str) -> bytes | None:
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
    for key, wanted in entries(log_dir).items():
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
