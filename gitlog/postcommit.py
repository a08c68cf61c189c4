"""Work done after a run commit lands, whichever way it was made.

The post-commit hook and gitlog's own plumbing commits both call ``after_commit``, so the
query cache and alert rules see every run. Each step is imported lazily and may fail
without failing the commit: it warns instead.
"""

from __future__ import annotations

import importlib
import warnings

TYPE_CHECKING = False
if TYPE_CHECKING:  # the post-commit hook imports this module: typing costs it ~5 ms
    from typing import Any

# "module:function" steps, each called as fn(repo, config, commit).
STEPS: list[str] = [
    "gitlog.alerts.check:after_commit",
    "gitlog.indexing:on_commit",
]

# Steps with work only when a config entry is set (a path of keys): skipped, without
# importing them, while it is empty, which keeps the post-commit hook fast.
NEEDS: dict[str, tuple[str, ...]] = {
    "gitlog.alerts.check:after_commit": ("alerts", "rules"),
}


def wanted(data: Any) -> list[str]:
    """The steps with work to do under this configuration (a Config or its data)."""
    data = getattr(data, "data", data)
    steps = []
    for spec in STEPS:
        node = data
        for key in NEEDS.get(spec, ()):
            node = node.get(key) if isinstance(node, dict) else None
        if node:
            steps.append(spec)
    return steps


def after_commit(repo: Any, config: Any, commit: str) -> list[str]:
    """Run every post-commit step; return the warnings they raised (also emitted)."""
    problems = []
    for spec in wanted(config):
        module, _, func = spec.partition(":")
        try:
            getattr(importlib.import_module(module), func)(repo, config, commit)
        except Exception as exc:
            text = f"gitlog: post-commit step {spec} failed: {exc}"
            problems.append(text)
            warnings.warn(text, stacklevel=2)
    return problems
