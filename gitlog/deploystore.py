"""A deployment window made a run commit on ``deploy/MODEL`` (``deployment.Monitor``).

A window is written as a run's journal (one point per metric, its step the window's
number in this process; the error samples and events; the model served as params) and
stored by ``store.store_journal``, as any run: the commit holds the code the service runs
plus the log folder, and the post-commit steps (the query index, drop/rise alerts
against the previous window) run on it. Live alert rules (threshold, nan, spike, event)
are checked on the window before it is stored: a threshold fires at most once per window,
a spike compares a window with the windows before it. A window that cannot be stored
stays as a journal for ``gitlog recover``, with a warning; serving goes on.
"""

from __future__ import annotations

import os
import shlex
import time
import warnings
from pathlib import Path
from typing import Any

from .errors import GitlogError
from .recorder import GitlogWarning, iso, warn_all

PERCENTILES = (50, 90, 99)


class WindowStore:
    def __init__(self, repo_path: str | Path, model: str, version: str | None,
                 window: float, system: bool | None) -> None:
        from .branches import ref_clash
        from .config import load
        from .describe import ml_packages
        from .git import Repo
        from .session import _subfolder, code_state, script_command

        repo = Repo(repo_path)
        config = load(repo.root)
        self.repo, self.config = repo, config
        self.branch = config.deploy_branch(model)
        check_free(repo, self.branch)
        clash = ref_clash(repo, self.branch) if repo.ref_tip(self.branch) is None else None
        if clash:
            short = clash.removeprefix("refs/heads/")
            raise GitlogError(f"cannot log deployment windows onto "
                              f"{self.branch.removeprefix('refs/heads/')}: branch {short} "
                              "exists, and git cannot keep a branch inside another",
                              hint=f"rename that branch (git branch -m {short} NEW), or set "
                                   "deploy_prefix in .gitlog.yaml")
        code, _ = code_state(repo, config.log_dir, repo.head())
        self.meta: dict[str, Any] = {
            "experiment": self.branch.removeprefix("refs/heads/"),
            "branch": self.branch,
            "mode": "branch",
            "log_dir": config.log_dir,
            "root": str(repo.root),
            "command": script_command(),
            "cwd": _subfolder(repo.root, None),
            **code,
            "packages": ml_packages(),
        }
        self.model = model
        self.params = {"model": {"name": model, **served(repo, config, version)},
                       "window_s": window,
                       "worker": {"host": self.meta["host"], "pid": os.getpid()}}
        self.system = system
        self.resources = Resources(system)
        self.alerts = WindowAlerts(config)
        self.commits: list[str] = []
        self.step = 0  # the window's number in this process

    def commit(self, window: Any, end: float) -> str | None:
        """Store ``window`` (ended at ``end``) as a run commit; its id, or None when it
        could not be stored (warned; its journal is kept for ``gitlog recover``)."""
        from .journal import Journal, dumps, runs_dir
        from .session import new_run_id
        from .store import store_journal

        step = self.step
        self.step += 1
        values = summary(window, end)
        values.update(self.resources.sample())
        events = [e for e in window.samples if e]  # (a slot still being filled: left out)
        for event in events:
            event["step"] = step
        if window.errors > len(events):
            events.append({"ts": iso(end), "level": "warning", "step": step,
                           "message": f"{window.errors - len(events)} more errors in the "
                                      "window were not sampled",
                           "fields": {"errors": window.errors, "sampled": len(events)}})
        events += [{**e, "step": step} for e in window.events]
        events += self.alerts.notices(step)
        if window.dropped:
            events.append({"ts": iso(end), "level": "warning", "step": step,
                           "message": f"{window.dropped} more events logged in the window "
                                      "were not kept",
                           "fields": {"events": len(window.events) + window.dropped,
                                      "kept": len(window.events)}})
        run_id = new_run_id()
        meta = {**self.meta, "id": run_id, "start": iso(window.start),
                "message": subject(self.model, window, end, values)}
        journal = Journal(runs_dir(self.repo.gitlog_dir) / run_id)
        try:
            journal.create(meta)
            journal.lock()
            for name, value in values.items():
                journal.append_metric_rows(name, f"{end * 1000:.0f}\t{step}\t{value!r}\n")
            journal.append_json("params", self.params)
            fired = self.alerts.check(values, step, end, events)
            events += [alert_event(a, end, step) for a in fired]
            events.sort(key=lambda e: e["ts"])
            journal.append("events.jsonl", "".join(dumps(e) + "\n" for e in events))
            journal.append_json("status", {"status": "completed", "end": iso(end),
                                           "by": "owner"})
            _, commit, _ = store_journal(self.repo, self.config, journal)
        except Exception as exc:
            journal.close()
            journal.unlock()
            if (journal.path / "meta.json").exists():
                fix = getattr(exc, "hint", None) or "run 'gitlog recover' to commit it"
                fate = f"Its data is kept in {journal.path}; {fix}"
            else:  # (no journal to recover: saying it was kept sent users to recover)
                fate = (f"It is lost ({window.requests} requests, {window.errors} errors): "
                        f"its journal could not be written in {journal.path.parent}")
            warnings.warn(f"gitlog: could not commit the {self.model} window of "
                          f"{iso(window.start)} to {iso(end)}: {exc}. {fate}",
                          GitlogWarning, stacklevel=1)
            return None
        assert commit is not None
        self.commits.append(commit)
        self.alerts.send(fired, {"run": run_id, "experiment": meta["experiment"],
                                 "commit": commit, "branch": meta["experiment"],
                                 "code_commit": meta.get("code_commit"),
                                 "host": meta.get("host")}, self.repo.root)
        return commit

    def forked(self) -> None:
        """In a forked child: its own process id, window numbers and resource samples."""
        self.meta = {**self.meta, "pid": os.getpid()}
        self.params = {**self.params, "worker": {"host": self.meta["host"],
                                                 "pid": os.getpid()}}
        self.commits = []
        self.step = 0
        self.resources = Resources(self.system)
        self.alerts.sent = set()
        self.alerts.unset = []  # the parent said it, and records it in its own window

    def close(self) -> None:
        """Wait for the alerts of this monitor's windows to be delivered."""
        self.alerts.drain()
        self.resources.close()


def check_free(repo: Any, ref: str) -> None:
    """Refuse a deployment branch a work tree has checked out: a window would leave its
    files and index behind. (The runs' check said 'another worktree' of this very one,
    and sent the user there: windows are never logged into a working tree.)"""

    folder = repo.worktree_on(ref)
    if folder is None:
        return
    branch = ref.removeprefix("refs/heads/")
    here = Path(folder).resolve() == Path(repo.root).resolve()
    where = "this worktree" if here else f"the worktree {folder}"
    switch = "here (git checkout --detach)" if here else \
        f"there (git -C {shlex.quote(str(folder))} checkout --detach)"
    raise GitlogError(f"cannot log deployment windows onto {branch}: it is checked out in "
                      f"{where} (a window would leave the files and index there behind "
                      f"{branch})",
                      hint=f"check out another branch {switch}: windows are "
                           "committed onto the branch, never into a working tree")


def summary(window: Any, end: float) -> dict[str, float | int]:
    """A window's metrics: requests, their rate and errors; with requests, the error
    rate and latency in milliseconds (mean, percentiles, max); per observed value its
    count, mean, min and max."""
    seconds = max(end - window.start, 1e-6)
    n = window.requests
    out: dict[str, float | int] = {"requests": n, "requests_per_s": round(n / seconds, 6),
                                   "errors": window.errors}
    if n:
        out["error_rate"] = round(window.errors / n, 6)
        out["latency_ms/mean"] = round(window.total / n * 1000, 3)
        for p, value in zip(PERCENTILES, percentiles(window.kept), strict=True):
            out[f"latency_ms/p{p}"] = round(value * 1000, 3)
        out["latency_ms/max"] = round(window.slowest * 1000, 3)
    for name, (count, total, low, high) in sorted(window.observed.items()):
        out[f"{name}/count"] = int(count)
        out[f"{name}/mean"] = total / count
        out[f"{name}/min"] = low
        out[f"{name}/max"] = high
    return out


def percentiles(kept: Any) -> list[float]:
    """``PERCENTILES`` of the latencies ``kept`` (an ``array('d')``, not empty), linear
    between the closest ranks. numpy's, when installed (a serving process has it): it
    partitions in C, in a few ms for a million values; else the standard library's,
    whose sort of a million floats holds the GIL ~0.2 s, a stall every request thread
    of the process waits through."""
    if len(kept) == 1:
        return [kept[0]] * len(PERCENTILES)
    try:
        import numpy as np
    except ImportError:
        import statistics

        cuts = statistics.quantiles(kept, n=100, method="inclusive")
        return [cuts[p - 1] for p in PERCENTILES]
    values = np.frombuffer(kept, dtype=np.float64)  # (no copy)
    return [float(v) for v in np.percentile(values, PERCENTILES)]


def subject(model: str, window: Any, end: float, values: dict[str, Any]) -> str:
    """``churn: 10:00:00-10:05:00 UTC, 1234 requests, 2 errors, p99 41.2 ms``; a window
    that ``flush()`` closed within its second shows milliseconds (``10:00:00.120-10:00:00.870``),
    not one second twice."""
    short = int(window.start) == int(end)
    start, stop = (time.strftime("%H:%M:%S", time.gmtime(t)) +
                   (f".{int(t * 1000) % 1000:03d}" if short else "") for t in (window.start, end))
    text = f"{model}: {start}-{stop} UTC, {window.requests} requests, {window.errors} errors"
    if "latency_ms/p99" in values:
        text += f", p99 {values['latency_ms/p99']:g} ms"
    return text


def served(repo: Any, config: Any, version: str | None) -> dict[str, Any]:
    """What ``version`` names: itself, and the commit and run when it is a revision, an
    experiment or a run id of this repository."""
    if version is None:
        return {"version": None}
    from .layout import read_run
    from .query import find_rev

    out: dict[str, Any] = {"version": version}
    try:
        sha = find_rev(repo, config, version)
    except GitlogError:  # a prefix of several run ids: kept as the text it is
        sha = None
    if sha:
        out["commit"] = sha
        with repo.cat_file() as cat:
            record = read_run(cat, sha, config.log_dir, events=False, extras=False)
        if record is not None and record.run.get("id"):
            out["run"] = record.run["id"]
            out["experiment"] = record.run.get("experiment")
    return out


class Resources:
    """CPU (of this process since the last window: 100 = one core) and resident memory,
    and GPUs through NVML when ``pynvml`` and a GPU are there; nothing without psutil
    unless ``system=True`` asked for it."""

    def __init__(self, system: bool | None) -> None:
        self.process: Any = None
        self.gpus: Any = None
        if system is False:
            return
        from .sysmetrics import _Gpus, _psutil

        try:
            psutil = _psutil()
        except GitlogError:
            if system:
                raise
            return
        self.process = psutil.Process(os.getpid())
        self.process.cpu_percent(None)  # from now on, each call measures since the last
        self.gpus = _Gpus()

    def sample(self) -> dict[str, float]:
        if self.process is None:
            return {}
        try:
            out = {"system/cpu_percent": round(self.process.cpu_percent(None), 1),
                   "system/memory_mb": round(self.process.memory_info().rss / 2**20, 1)}
        except Exception:  # (psutil's errors: the process is going away)
            return {}
        out.update(self.gpus.sample())
        return out

    def close(self) -> None:
        if self.gpus is not None:
            self.gpus.close()


class WindowAlerts:
    """The live rules of ``.gitlog.yaml`` on each window's values and events."""

    def __init__(self, config: Any) -> None:
        from .alerts.spec import parse_rules

        alerts = config.get("alerts") or {}
        self.notifiers = alerts.get("notifiers") or {}
        self.evaluator: Any = None
        self.sent: set[int] = set()
        self.rules = parse_rules(alerts) if alerts.get("rules") else []
        self.unset: list[dict[str, Any]] = []  # said at start, recorded in the first window
        live = [r for r in self.rules if r.live]
        if live:
            from .alerts.rules import Evaluator

            self.evaluator = Evaluator(live)

    def check_env(self) -> None:
        """At the monitor's start, not days later when a rule fires on a window: a
        notifier variable that is unset (drop/rise alerts too are sent from this process,
        by the window's post-commit step). Recorded in the first window it stores."""
        if not self.rules:
            return
        from .alerts.notifiers import unset_notices

        for name, variable, text in unset_notices(self.rules, self.notifiers, "monitor"):
            self.unset.append({"ts": iso(time.time()), "level": "warning", "message": text,
                               "fields": {"alert_unset": name, "variable": variable}})
            warnings.warn(f"gitlog: {text}", GitlogWarning, stacklevel=1)

    def notices(self, step: int) -> list[dict[str, Any]]:
        """The start's warnings, for the first window stored (then none)."""
        out, self.unset = [{**e, "step": step} for e in self.unset], []
        return out

    def check(self, values: dict[str, Any], step: int, end: float,
              events: list[dict[str, Any]]) -> list[Any]:
        if self.evaluator is None:
            return []
        self.evaluator.rearm()  # each window is a run: a rule fires once per window
        points = [(end, name, step, float(value)) for name, value in values.items()]
        return self.evaluator.points(points) + self.evaluator.events(events)

    def send(self, fired: list[Any], facts: dict[str, Any], root: Path) -> None:
        from .alerts.delivery import submit_alert

        for alert in fired:
            self.sent |= submit_alert(alert, facts, self.notifiers, root,
                                      _report(alert.rule.name))

    def drain(self) -> None:
        if self.sent:
            from .alerts.delivery import DISPATCHER

            DISPATCHER.drain(keys=self.sent)
            self.sent.clear()


def alert_event(alert: Any, end: float, step: int) -> dict[str, Any]:
    return {"ts": iso(end), "level": "warning", "step": step,
            "message": f"alert {alert.rule.name}: {alert.message}", "fields": alert.fields()}


def _report(rule: str) -> Any:
    def report(result: Any) -> None:
        if not result.ok:
            from .alerts.delivery import undelivered

            warn_all([undelivered(rule, result)])
    return report
