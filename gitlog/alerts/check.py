"""Alerts outside a live run: after a commit (post-commit step), ``gitlog alerts check``
and ``gitlog alerts test``.

A drop/rise alert the post-commit step raises cannot go into the commit that is already
written, so it is recorded in ``.git/gitlog/alerts.jsonl`` (which also keeps it from
firing twice for one run).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..branches import experiment_ref
from ..config import Config
from ..errors import AmbiguousExperimentError, GitlogError
from ..facts import log_paths
from ..git import Repo
from ..layout import flatten, parse_number, read_run
from .delivery import DISPATCHER, Delivery, deliver
from .rules import Alert, Evaluator, compare
from .spec import Rule, parse_rules

LEDGER = "alerts.jsonl"


def previous_run(repo: Repo, config: Config, baseline: str | None,
                 start: str) -> tuple[str, dict[str, Any], str] | None:
    """(commit, flat metrics, label) of the newest run at ``start`` (a rev, e.g. the
    branch or ``COMMIT^``), or on the ``baseline`` branch/experiment when given.

    A ``baseline`` that names nothing here (a typo, a branch not fetched) raises
    ``BaselineError``: the rule cannot be checked, which its user must hear about."""
    if baseline:
        rev = repo.rev_parse(f"refs/heads/{baseline}")
        if not rev:
            try:
                ref = experiment_ref(repo, config, baseline)
            except AmbiguousExperimentError as exc:
                raise BaselineError(baseline, str(exc)) from None
            rev = repo.rev_parse(ref or baseline)
        if not rev:
            raise BaselineError(baseline, "no branch, experiment or commit of that name")
        label = f"the latest run on {baseline}"
    else:
        rev = repo.rev_parse(start)
        if not rev:
            return None
        label = "the previous run"
    sha = repo.git("log", "-1", "--first-parent", "--format=%H", rev, "--",
                   *log_paths(config.log_dir), check=False).strip()
    if not sha:
        return None
    with repo.cat_file() as cat:
        record = read_run(cat, sha, config.log_dir, events=False)
    if record is None:
        return None
    return sha, record.flat_metrics, f"{label} ({sha[:10]})"


class BaselineError(GitlogError):
    def __init__(self, baseline: str, problem: str) -> None:
        self.baseline = baseline
        super().__init__(f"baseline {baseline!r}: {problem}",
                         hint="fix the rule's baseline in .gitlog.yaml ('gitlog ls' lists "
                              "experiments), or fetch that branch")


def not_checked(rule: Rule, exc: GitlogError) -> str:
    """The warning for a drop/rise rule whose baseline cannot be found."""
    return f"alert rule {rule.name} not checked: {exc}"


def _ledger(repo: Repo) -> Path:
    return repo.gitlog_dir / LEDGER


def fired_in_ledger(repo: Repo, run_id: str) -> set[str]:
    path = _ledger(repo)
    if not path.exists():
        return set()
    out = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("run") == run_id:
            out.add(str(rec.get("rule")))
    return out


def run_label(facts: dict[str, Any]) -> str:
    """'run ID of experiment NAME (commit 1fab06ee71)', from ``_facts``; the commit alone
    for metrics committed by hand (no run id)."""
    short = str(facts["commit"])[:10]
    if not facts.get("run"):
        return short
    of = f" of experiment {facts['experiment']}" if facts.get("experiment") else ""
    return f"run {facts['run']}{of} ({short})"


def _facts(record: Any, commit: str) -> dict[str, Any]:
    return {"run": record.run.get("id"), "experiment": record.run.get("experiment"),
            "commit": commit, "code_commit": record.run.get("code_commit"),
            "host": record.run.get("host")}


def after_commit(repo: Repo, config: Config, commit: str) -> None:
    """Post-commit step: drop/rise rules on a new run commit, unless already fired."""
    rules = [r for r in parse_rules(config["alerts"]) if r.at_commit]
    if not rules:
        return
    with repo.cat_file() as cat:
        record = read_run(cat, commit, config.log_dir)
    if record is None:
        return
    run_id = str(record.run.get("id") or commit)  # metrics committed by hand have no id
    # Fired, or found unchecked, when the run was stored: said once already.
    fired = {str(e["fields"].get(key)) for e in record.events
             if isinstance(e.get("fields"), dict)
             for key in ("alert", "alert_skipped") if key in e["fields"]}
    fired |= fired_in_ledger(repo, run_id)
    notifiers = config["alerts"].get("notifiers") or {}
    current = record.flat_metrics
    sent = False
    for rule in rules:
        if rule.name in fired:
            continue
        try:
            found = previous_run(repo, config, rule.baseline, f"{commit}^")
        except BaselineError as exc:
            _warn(not_checked(rule, exc))
            continue
        if found is None or found[0] == commit:
            continue
        metric = str(rule.metric)
        alert = compare(rule, current.get(metric), found[1].get(metric), found[0], found[2])
        if alert is None:
            continue
        payload = alert.payload(_facts(record, commit))
        with _ledger(repo).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"ts": time.time(), **payload}, default=str) + "\n")
        for name in rule.notify:
            if name in notifiers:
                DISPATCHER.submit(name, notifiers[name], payload, repo.root, _warn_on_failure)
                sent = True
    if sent:
        DISPATCHER.drain()


def _warn(text: str) -> None:
    import warnings

    from ..recorder import GitlogWarning

    warnings.warn(f"gitlog: {text}", GitlogWarning, stacklevel=1)


def _warn_on_failure(result: Delivery) -> None:
    if not result.ok:
        _warn(f"alert not delivered to {result.notifier} after {result.attempts} "
              f"attempt(s): {result.error}")


def _series(cat: Any, commit: str, log_dir: str, metric: str) -> list[tuple[float, str, int,
                                                                           float]]:
    got = cat.read(f"{commit}:{log_dir}/metrics/{metric}.tsv")
    if not got or got[0] != "blob":
        return []
    points = []
    for line in got[1].decode("utf-8", "replace").splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) == 3:
            try:
                points.append((int(parts[0]) / 1000, metric, int(parts[1]),
                               float(parse_number(parts[2]))))
            except ValueError:
                continue
    return points


def check(repo: Repo, config: Config, commit: str, notes: list[str] | None = None,
          about: dict[str, Any] | None = None,
          rev: str | None = None) -> list[tuple[Alert, dict[str, Any]]]:
    """Every rule evaluated on the run stored in ``commit`` (``rev`` names it, for the
    error when it holds none): (alert, payload) pairs. What could not be checked (a
    baseline that names nothing) goes to ``notes``; the run's facts (run id, experiment,
    commit) to ``about``."""
    rules = parse_rules(config["alerts"])
    if not rules:
        raise GitlogError("no alert rules in .gitlog.yaml",
                          hint="add rules under alerts: (see the commented example that "
                               "'gitlog init' writes)")
    with repo.cat_file() as cat:
        record = read_run(cat, commit, config.log_dir)
        if record is None:
            from ..query import no_run_error

            raise no_run_error(repo, config, rev, commit)
        evaluator = Evaluator(rules)
        found: list[Alert] = []
        for metric in sorted(evaluator.by_metric):
            found += evaluator.points(_series(cat, commit, config.log_dir, metric))
    found += evaluator.events(record.events)
    current = flatten(record.metrics)
    for rule in (r for r in rules if r.at_commit):
        try:
            prev = previous_run(repo, config, rule.baseline, f"{commit}^")
        except BaselineError as exc:
            if notes is not None:
                notes.append(not_checked(rule, exc))
            continue
        if prev is not None and prev[0] != commit:
            alert = compare(rule, current.get(str(rule.metric)), prev[1].get(str(rule.metric)),
                            prev[0], prev[2])
            if alert is not None:
                found.append(alert)
    order = {r.name: i for i, r in enumerate(rules)}
    found.sort(key=lambda a: order[a.rule.name])
    facts = _facts(record, commit)
    if about is not None:
        about.update(facts)
    return [(a, a.payload(facts)) for a in found]


def send_now(repo: Repo, config: Config, rule: Rule,
             payload: dict[str, Any]) -> list[Delivery]:
    notifiers = config["alerts"].get("notifiers") or {}
    return [deliver(name, notifiers[name], payload, repo.root)
            for name in rule.notify if name in notifiers]


def send_test(repo: Repo, config: Config, rule_name: str | None = None) -> list[Delivery]:
    """Send a test alert through the notifiers of ``rule_name`` (default: every notifier)."""
    alerts = config["alerts"]
    notifiers = alerts.get("notifiers") or {}
    rules = {r.name: r for r in parse_rules(alerts)}
    if rule_name is not None:
        if rule_name not in rules:
            raise GitlogError(f"no alert rule named {rule_name!r}",
                              hint=f"rules in .gitlog.yaml: {', '.join(rules) or 'none'}")
        rule = rules[rule_name]
        targets = list(rule.notify)
        metric = rule.metric
    else:
        if not notifiers:
            raise GitlogError("no notifiers in .gitlog.yaml",
                              hint="add one under alerts.notifiers, e.g. "
                                   "hook: {type: webhook, url: ...}")
        targets, metric = sorted(notifiers), None
    payload = {"rule": rule_name or "test", "run": None, "experiment": None,
               "commit": repo.rev_parse("HEAD"), "metric": metric, "value": None,
               "step": None, "test": True,
               "message": f"test alert from gitlog for rule {rule_name}" if rule_name
               else "test alert from gitlog"}
    return [deliver(name, notifiers[name], payload, repo.root) for name in targets]
