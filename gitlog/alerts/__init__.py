"""Alerts: rules in ``.gitlog.yaml`` (``spec``), their evaluation (``rules``), live
during a run (``live``) and after a commit (``check``), delivered off the training loop
(``delivery``) through notifiers (``notifiers``).

Importing this package is cheap: a run with no rules pays one dict lookup.
"""

from __future__ import annotations

from typing import Any


def attach(run: Any) -> None:
    """Watch ``run`` for the configured alert rules (nothing when there are none)."""
    alerts = run.config.get("alerts") or {}
    if alerts.get("rules"):
        from .live import attach as attach_live

        attach_live(run)
