"""A monitor says at start, as a run does, that an alert notifier's environment variable
is unset: the first alert, days later, would otherwise be lost with only an
'undelivered' warning."""

from __future__ import annotations

import json
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

import gitlog
from tests.conftest import git, run_python

NOTIFIERS = """\
alerts:
  notifiers:
    team: {type: slack, webhook_env: MON_WEBHOOK}
    spare: {type: webhook, url_env: MON_SPARE_URL}
    log: {type: file, path: sent.jsonl}
  rules:
"""
RULES = """\
    - {name: err-rate, metric: error_rate, when: threshold, above: 0.5, notify: [team]}
    - {name: slower, metric: latency_ms/mean, when: rise, by: "900%", notify: [team]}
    - {name: warns, level: warning, notify: [log]}
"""
UNSET = ("alert notifier team: environment variable MON_WEBHOOK is not set (webhook_env), "
         "so alerts of rules err-rate, slower cannot be delivered; set it before the "
         "monitor starts ('gitlog alerts test' checks every notifier)")


def configure(repo: Path, rules: str = RULES) -> None:
    (repo / ".gitlog.yaml").write_text(NOTIFIERS + rules)


def said(caught: list[Any]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, gitlog.GitlogWarning)]


def window_events(repo: Path, rev: str) -> list[dict[str, Any]]:
    text = git(repo, "show", f"{rev}:.gitlog/events.jsonl", check=False)
    return [json.loads(line) for line in text.splitlines()]


def test_a_monitor_says_an_unset_notifier_variable_once_at_start(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The drop/rise rule counts too: the window's post-commit step sends it from here.
    monkeypatch.delenv("MON_WEBHOOK", raising=False)
    monkeypatch.delenv("MON_SPARE_URL", raising=False)  # (no rule notifies spare)
    configure(repo)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mon = gitlog.monitor("churn", repo=repo, window=1e9, system=False)
    assert said(caught) == [f"gitlog: {UNSET}"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mon.record(0.010)
        first = mon.flush()
        mon.record(0.011)
        second = mon.flush()
        mon.close()
    assert said(caught) == []  # not again for each window
    [event] = [e for e in window_events(repo, str(first)) if "alert_unset" in e["fields"]]
    assert (event["level"], event["message"], event["step"]) == ("warning", UNSET, 0)
    assert event["fields"] == {"alert_unset": "team", "variable": "MON_WEBHOOK"}
    assert window_events(repo, str(second)) == []
    assert not (repo / "sent.jsonl").exists()  # gitlog's own warning fires no event rule


@pytest.mark.parametrize("case", ["set", "unused"])
def test_a_monitor_whose_notifiers_have_their_variables_says_nothing(
        repo: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    monkeypatch.delenv("MON_SPARE_URL", raising=False)
    if case == "set":
        monkeypatch.setenv("MON_WEBHOOK", "https://hooks.example.invalid/T0")
        configure(repo)
    else:  # unset, but only notifiers with no such variable are used
        monkeypatch.delenv("MON_WEBHOOK", raising=False)
        configure(repo, "    - {name: warns, level: warning, notify: [log]}\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mon = gitlog.monitor("churn", repo=repo, window=1e9, system=False)
        mon.record(0.010)
        commit = mon.close()
    assert said(caught) == []
    assert window_events(repo, str(commit)) == []


def test_a_forked_worker_does_not_say_it_again(repo: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # A pre-forking server's worker inherits the monitor: the serving process said it,
    # and records it in its own first window, never in a worker's.
    monkeypatch.delenv("MON_WEBHOOK", raising=False)
    configure(repo)
    script = textwrap.dedent("""
        import os, sys, gitlog
        mon = gitlog.monitor("churn", window=1e9, system=False)
        pid = os.fork()
        if pid == 0:
            mon.record(0.002)
            mon.flush()
            sys.exit(0)
        os.waitpid(pid, 0)
        mon.record(0.001)
        mon.close()
        print(os.getpid())
    """)
    proc = run_python(script, repo, env={"PYTHONWARNINGS": "default"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("environment variable MON_WEBHOOK is not set") == 1
    parent = int(proc.stdout)
    windows = git(repo, "rev-list", "deploy/churn", "--", ".gitlog").split()
    assert len(windows) == 2  # the worker's flush, the parent's close
    recorded = [gitlog.show(c, repo=repo).record.params["worker"]["pid"]
                for c in windows for e in window_events(repo, c)
                if "alert_unset" in e["fields"]]
    assert recorded == [parent]
