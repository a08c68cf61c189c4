"""Alerts during a run: a listener on the run's flushed batches (never the hot path),
the drop/rise rules at finish, and the wait for deliveries before ``finish`` returns.

Each rule fires at most once per run: the first process to create
``<journal>/alerts/<rule>`` (O_EXCL) owns the alert, so ``gitlog run`` and the script
it started never both send it. A fired alert is recorded as a warning event in the run.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from ..recorder import GitlogWarning
from .delivery import DISPATCHER, Delivery, submit_alert, undelivered
from .notifiers import unset_notices
from .rules import Alert, Evaluator
from .spec import Rule, parse_rules


class LiveAlerts:
    def __init__(self, run: Any, rules: list[Rule], notifiers: dict[str, Any]) -> None:
        self.run = run
        self.rules = rules
        self.notifiers = notifiers
        self.evaluator = Evaluator(rules)
        self.deferred: list[Alert] = []
        self.sent: set[int] = set()  # this run's deliveries, which its finish waits for

    def facts(self) -> dict[str, Any]:
        meta = self.run.meta
        branch = str(meta.get("branch") or "")
        return {"run": self.run.id, "experiment": self.run.experiment,
                "commit": self.run.commit, "branch": branch.removeprefix("refs/heads/"),
                "code_commit": meta.get("code_commit"), "host": meta.get("host")}

    # -- live ---------------------------------------------------------------------------
    def on_batch(self, points: list[Any], events: list[dict[str, Any]]) -> None:
        for alert in self.evaluator.points(points) + self.evaluator.events(events):
            self.fire(alert)

    def claim(self, rule: str) -> bool:
        folder = self.run.journal.path / "alerts"
        try:
            folder.mkdir(exist_ok=True)
            os.close(os.open(folder / rule, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            return False
        except OSError:
            return True  # the journal is gone or read-only: still tell someone
        return True

    def fire(self, alert: Alert, now: bool = True) -> None:
        if not self.claim(alert.key):
            return
        self.run.record_event("warning", f"alert {alert.rule.name}: {alert.message}",
                              alert.fields(), alert.step)
        if now:
            self.send(alert)
        else:
            self.deferred.append(alert)

    def send(self, alert: Alert) -> None:
        self.sent |= submit_alert(alert, self.facts(), self.notifiers, self.run.repo.root,
                                  self._reporter(alert.rule.name))

    def _reporter(self, rule: str) -> Any:
        def report(result: Delivery) -> None:
            if result.ok:
                return
            text = undelivered(rule, result)
            warnings.warn(f"gitlog: {text}", GitlogWarning, stacklevel=1)
            if not self.run._finished:
                self.run.record_event("warning", text, {"alert_failed": rule,
                                                        "notifier": result.notifier})
        return report

    def check_env(self) -> None:
        """Say at start, not hours later when a rule fires, that a notifier's environment
        variable is unset (once per run: ``gitlog run`` and its script both attach)."""
        for name, variable, text in unset_notices(self.rules, self.notifiers, "run"):
            if not self.claim(f"unset+{variable}"):
                continue
            self.run.record_event("warning", text, {"alert_unset": name,
                                                    "variable": variable})
            warnings.warn(f"gitlog: {text}", GitlogWarning, stacklevel=1)

    # -- finish -------------------------------------------------------------------------
    def unlogged(self, run: Any) -> None:
        """A rule whose metric the run never logged, while it logged a name close to it
        (``val_accuracy`` for ``val_acc``): a typo in the rule, which stays silent for
        good. Said once, at finish; a run that logs neither is not warned (a rule may
        watch metrics only some runs log)."""
        import difflib

        run.flush()  # (under 'gitlog run' the script logged them: its journal has them)
        folder = run.journal.path / "metrics"
        logged = sorted(p.relative_to(folder).with_suffix("").as_posix()
                        for p in folder.rglob("*.tsv")) if folder.is_dir() else []
        for rule in self.rules:
            if rule.metric is None or rule.metric in logged:
                continue
            close = difflib.get_close_matches(rule.metric, logged, n=1, cutoff=0.7)
            if not close or not self.claim(f"unlogged+{rule.name}"):
                continue
            text = (f"alert rule {rule.name} watches metric {rule.metric!r}, which run "
                    f"{run.id} never logged; it logged {close[0]!r}: if that is the one, "
                    "fix the rule's metric in .gitlog.yaml (the rule cannot fire)")
            run.record_event("warning", text, {"alert_skipped": rule.name})
            warnings.warn(f"gitlog: {text}", GitlogWarning, stacklevel=1)

    def closing(self, run: Any) -> None:
        """Drop/rise rules against the previous run, recorded before the run is stored;
        sent once the commit is known."""
        if run.owner:
            self.unlogged(run)
        commit_rules = [r for r in self.rules if r.at_commit]
        if not commit_rules or not run.owner:
            return
        from ..debugging import _last_value
        from .check import BaselineError, not_checked, previous_run

        run.flush()
        branch = str(run.meta.get("branch") or "")
        # The run's own experiment as the baseline: its first run creates the branch.
        own = {run.experiment, branch, branch.removeprefix("refs/heads/")}
        cache: dict[str | None, Any] = {}
        for rule in commit_rules:
            path = run.journal.path / "metrics" / f"{rule.metric}.tsv"
            current = _last_value(path) if path.is_file() else None
            if current is None:
                continue
            if rule.baseline not in cache:
                try:
                    cache[rule.baseline] = previous_run(run.repo, run.config, rule.baseline,
                                                        branch)
                except BaselineError as exc:
                    cache[rule.baseline] = exc
            found = cache[rule.baseline]
            if isinstance(found, BaselineError) and rule.baseline not in own:
                # Recorded too, so the post-commit step knows it was said already.
                text = not_checked(rule, found)
                run.record_event("warning", text, {"alert_skipped": rule.name})
                warnings.warn(f"gitlog: {text}", GitlogWarning, stacklevel=1)
                continue
            if found is None or isinstance(found, BaselineError):
                continue
            sha, metrics, label = found
            from .rules import compare

            alert = compare(rule, current, metrics.get(rule.metric), sha, label)
            if alert is not None:
                self.fire(alert, now=False)

    def stored(self, run: Any) -> None:
        for alert in self.deferred:
            self.send(alert)
        self.deferred.clear()
        DISPATCHER.drain(keys=self.sent)  # not another live run's (a sweep's threads)


def attach(run: Any) -> None:
    alerts = run.config.get("alerts") or {}
    if not alerts.get("rules"):
        return
    rules = parse_rules(alerts)
    live = LiveAlerts(run, rules, dict(alerts.get("notifiers") or {}))
    live.check_env()
    if live.evaluator.watching:
        run.add_listener(live.on_batch)
    run.add_finish_hook(live.closing, "closing")
    run.add_finish_hook(live.stored, "stored")
