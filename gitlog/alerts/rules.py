"""Evaluating alert rules: on metric points and events as they flush, and on a finished
run against the previous run (or a baseline branch).

``Evaluator`` is fed batches (``points``, ``events``) and returns the alerts they raise;
a rule that has fired is not evaluated again, so a NaN at every step costs one check per
step until the first and nothing after it.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..recorder import LEVELS
from .spec import Rule


@dataclass
class Alert:
    rule: Rule
    message: str
    metric: str | None = None
    value: float | None = None
    step: int | None = None
    event: str | None = None
    previous: float | None = None
    previous_commit: str | None = None
    side: str | None = None  # "above"/"below" for a threshold rule that has both

    @property
    def key(self) -> str:
        """What fires at most once per run: the rule, or one side of a two-sided
        threshold rule ('+' cannot appear in a rule name)."""
        return self.rule.name if self.side is None else f"{self.rule.name}+{self.side}"

    def payload(self, facts: dict[str, Any]) -> dict[str, Any]:
        """The JSON an alert is sent as: rule, run, experiment, commit, metric, value,
        step, message, plus what else is known."""
        out: dict[str, Any] = {"rule": self.rule.name, "run": facts.get("run"),
                               "experiment": facts.get("experiment"),
                               "commit": facts.get("commit"), "metric": self.metric,
                               "value": self.value, "step": self.step,
                               "message": self.message,
                               "when": self.rule.when or "event"}
        for key in ("branch", "code_commit", "host", "test"):
            if facts.get(key) is not None:
                out[key] = facts[key]
        if self.event is not None:
            out["event"] = self.event
        if self.previous is not None:
            out.update(previous=self.previous, previous_commit=self.previous_commit)
        return out

    def fields(self) -> dict[str, Any]:
        """The fields of the event that records this alert in the run."""
        out: dict[str, Any] = {"alert": self.rule.name, "notify": list(self.rule.notify)}
        for key in ("metric", "value", "event", "previous", "previous_commit"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value if not isinstance(value, float) or math.isfinite(value) \
                    else repr(value)
        return out


# Fields that mark an event gitlog itself recorded: an alert, a failed delivery, a rule
# that could not be checked, a notifier missing its environment variable, a sample.
OWN_RECORDS = frozenset(("alert", "alert_failed", "alert_skipped", "alert_unset", "sample"))


def _fmt(value: float) -> str:
    return f"{value:.6g}"


class Evaluator:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.by_metric: dict[str, list[Rule]] = defaultdict(list)
        self.event_rules: list[Rule] = []
        self.history: dict[str, deque] = {}
        self.done: set[str] = set()
        for rule in rules:
            if rule.metric is not None and rule.live:
                self.by_metric[rule.metric].append(rule)
                if rule.when == "spike":
                    self.history[rule.name] = deque(maxlen=rule.window)
            elif rule.metric is None:
                self.event_rules.append(rule)

    def rearm(self) -> None:
        """A new run (a deployment window) starts: every rule may fire once again; a
        spike rule keeps the values it has seen (the windows before)."""
        self.done.clear()

    @property
    def watching(self) -> bool:
        return bool(self.by_metric or self.event_rules)

    def points(self, points: Iterable[tuple[float, str, int, float]]) -> list[Alert]:
        found: list[Alert] = []
        by_metric, done = self.by_metric, self.done
        for _, name, step, value in points:
            rules = by_metric.get(name)
            if not rules:
                continue
            for rule in rules:
                if rule.name in done:
                    continue
                alert = self._check(rule, name, step, value)
                if alert is not None:
                    done.add(alert.key)
                    if alert.side is None or {f"{rule.name}+above",
                                              f"{rule.name}+below"} <= done:
                        done.add(rule.name)
                    found.append(alert)
        return found

    def _check(self, rule: Rule, name: str, step: int, value: float) -> Alert | None:
        finite = math.isfinite(value)
        if rule.when == "nan":
            if finite:
                return None
            what = "NaN" if value != value else ("+inf" if value > 0 else "-inf")
            return Alert(rule, f"{name} is {what} at step {step}", name, value, step)
        if not finite:
            return None
        if rule.when == "threshold":
            # Both sides given: each fires once (going above and, later, below are two
            # different problems); one side: the rule fires once.
            both = rule.above is not None and rule.below is not None
            if rule.above is not None and value > rule.above and \
                    f"{rule.name}+above" not in self.done:
                return Alert(rule, f"{name} is {_fmt(value)} at step {step}, above "
                             f"{_fmt(rule.above)}", name, value, step,
                             side="above" if both else None)
            if rule.below is not None and value < rule.below and \
                    f"{rule.name}+below" not in self.done:
                return Alert(rule, f"{name} is {_fmt(value)} at step {step}, below "
                             f"{_fmt(rule.below)}", name, value, step,
                             side="below" if both else None)
            return None
        if rule.when == "spike":
            window = self.history[rule.name]
            alert = None
            if len(window) >= min(rule.window, 5):
                ordered = sorted(window)
                mid = len(ordered) // 2
                median = ordered[mid] if len(ordered) % 2 else \
                    (ordered[mid - 1] + ordered[mid]) / 2
                if median > 0 and value > rule.factor * median:
                    alert = Alert(rule, f"{name} spiked to {_fmt(value)} at step {step}: over "
                                  f"{rule.factor:g}x the median {_fmt(median)} of the last "
                                  f"{len(window)} steps", name, value, step)
            window.append(value)
            return alert
        return None

    def events(self, events: Iterable[dict[str, Any]]) -> list[Alert]:
        found: list[Alert] = []
        if not self.event_rules:
            return found
        for event in events:
            fields = event.get("fields") or {}
            if isinstance(fields, dict) and not OWN_RECORDS.isdisjoint(fields):
                continue  # gitlog's own records never trigger alerts
            level = LEVELS.get(str(event.get("level")), 0)
            message = str(event.get("message", ""))
            for rule in self.event_rules:
                if rule.name in self.done:
                    continue
                if rule.level is not None and level < LEVELS[rule.level]:
                    continue
                if rule.pattern is not None and not rule.pattern.search(message):
                    continue
                self.done.add(rule.name)
                what = f"matched {rule.event!r}" if rule.event else f"at {rule.level} or above"
                shown = message if len(message) <= 300 else message[:297] + "..."
                found.append(Alert(rule, f"{event.get('level')} event {what}: {shown}",
                                   step=event.get("step"), event=shown))
        return found


def compare(rule: Rule, current: Any, previous: Any, previous_commit: str | None,
            against: str) -> Alert | None:
    """A drop/rise alert when ``current`` moved past ``rule.by`` from ``previous``."""
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in (current, previous)):
        return None
    delta = current - previous
    moved = -delta if rule.when == "drop" else delta
    limit = rule.by * abs(previous) if rule.relative else rule.by
    if moved <= 0 or moved < limit - 1e-12 * max(1.0, abs(previous)):
        return None
    verb = "dropped" if rule.when == "drop" else "rose"
    amount = f"{moved / abs(previous):.1%}" if rule.relative and previous else _fmt(moved)
    return Alert(rule, f"{rule.metric} {verb} by {amount} ({_fmt(previous)} -> "
                 f"{_fmt(current)}) vs {against}", rule.metric, float(current),
                 previous=float(previous), previous_commit=previous_commit)
