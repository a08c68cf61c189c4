"""Alerts end to end: rules from .gitlog.yaml, real HTTP and SMTP servers on 127.0.0.1,
retries and give-up, once per run per rule, secrets kept out of everything stored."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import gitlog
from gitlog.alerts.spec import parse_rules
from gitlog.config import parse
from gitlog.errors import ConfigError
from tests.conftest import git, run_cli, run_python
from tests.servers import http_receiver, smtp_server

ISSUE_BLOCK = """\
alerts:
  notifiers:
    team:   {type: slack, webhook_env: SLACK_WEBHOOK_URL}
    hook:   {type: webhook, url: "http://127.0.0.1:8080/alerts"}
    oncall: {type: email, to: [ml@example.com], smtp_host: localhost, smtp_port: 1025}
  rules:
    - {name: loss-nan,   metric: loss,    when: nan,                          notify: [hook]}
    - {name: loss-spike, metric: loss,    when: spike, factor: 3, window: 20, notify: [team]}
    - {name: acc-drop,   metric: val_acc, when: drop, by: 0.05,               notify: [oncall]}
    - {name: oom,        event: "out of memory", level: error,               notify: [oncall, hook]}
"""
FAST = "retries: 2, backoff: 0.01, timeout: 5"


def configure(repo: Path, notifiers: str, rules: str) -> None:
    (repo / ".gitlog.yaml").write_text(f"alerts:\n  notifiers:\n{notifiers}  rules:\n{rules}")


def events(repo: Path, rev: str) -> list[dict]:
    return [json.loads(x) for x in git(repo, "show", f"{rev}:.gitlog/events.jsonl").splitlines()]


def alert_events(repo: Path, rev: str) -> list[dict]:
    return [e for e in events(repo, rev) if "alert" in e["fields"]]


def test_the_issue_block_parses_and_validates() -> None:
    config = parse(ISSUE_BLOCK)
    rules = {r.name: r for r in parse_rules(config["alerts"])}
    assert list(rules) == ["loss-nan", "loss-spike", "acc-drop", "oom"]
    assert (rules["loss-spike"].factor, rules["loss-spike"].window) == (3, 20)
    assert rules["acc-drop"].at_commit and rules["acc-drop"].by == 0.05
    assert rules["oom"].pattern.search("CUDA Out Of Memory") and rules["oom"].level == "error"
    assert config["alerts"]["notifiers"]["oncall"]["smtp_port"] == 1025
    from gitlog.resources import template

    parse(template("gitlog.yaml").read_text())  # the shipped template stays valid


@pytest.mark.parametrize("text, expected", [
    ("  rules:\n    - {name: s, metric: loss, when: spike, factor: 0.5, notify: [h]}\n",
     "alerts.rules[s].factor must be a number > 1"),
    ("  rules:\n    - {name: d, metric: acc, when: drop, by: lots, notify: [h]}\n",
     "alerts.rules[d].by must be a number >= 0"),
    ("  rules:\n    - {name: n, metric: loss, when: nan, notify: [pager]}\n",
     "alerts.rules[n].notify: no notifier named 'pager'"),
    ("  rules:\n    - {name: e, event: '(', notify: [h]}\n",
     "alerts.rules[e].event is not a valid regular expression"),
    ("  rules:\n    - {name: t, metric: loss, when: threshold, notify: [h]}\n",
     "alerts.rules[t]: a threshold rule needs above and/or below"),
    ("  rules:\n    - {name: x, metric: loss, when: sometimes, notify: [h]}\n",
     "alerts.rules[x].when must be one of nan, spike, threshold, drop, rise"),
    ("  rules:\n    - {name: x, metric: loss, when: nan, notify: [h]}\n"
     "    - {name: x, metric: acc, when: nan, notify: [h]}\n", "two rules are named 'x'"),
    ("  rules:\n    - {name: n, metric: loss, when: nan, notify: [[h]]}\n",
     "alerts.rules[n].notify must list notifier names, got ['h']"),
    ("  rules:\n    - [n, loss]\n",
     "alerts.rules[0] must be a mapping such as {name: ..., metric: ..., when: ..., "
     "notify: [...]}\n"),
    ("  rules:\n    - {name: t, metric: acc, when: threshold, above: 0.1, below: 0.9, "
     "notify: [h]}\n",
     "alerts.rules[t]: above (0.1) must be greater than below (0.9); the rule fires on a "
     "value above 'above' or below 'below', so this one fires on every value\n"),
    ("  rules:\n    - {name: d, metric: acc, when: drop, by: '5%', relative: false, "
     "notify: [h]}\n",
     "alerts.rules[d]: by: '5%' is relative, but relative is false; give by as a number, "
     "or drop relative\n"),
    ("    t: {type: file, path: b.log, timeout: 0}\n  rules: []\n",
     "alerts.notifiers.t.timeout must be a number of seconds (above 0, at most 300), got 0"),
    # A metric log_metric refuses is never logged: a rule on it would be silently dead.
    ("  rules:\n    - {name: a, metric: val acc, when: drop, by: 0.05, notify: [h]}\n",
     "alerts.rules[a].metric: invalid metric name 'val acc': use ASCII letters, digits and "
     "_ . - + = @ %, with '/' between groups; such a metric is never logged, so the rule "
     "could never fire"),
    ("  rules:\n    - {name: n, metric: 损失, when: nan, notify: [h]}\n",
     "alerts.rules[n].metric: invalid metric name '损失'"),
    ("  rules:\n    - {name: s, metric: step, when: rise, notify: [h]}\n",
     "alerts.rules[s].metric: invalid metric name 'step': reserved"),
])
def test_config_errors_name_the_rule_and_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse("alerts:\n  notifiers:\n    h: {type: file, path: a.log}\n" + text)
    assert expected in str(err.value) + "\n"


def test_secrets_written_in_the_config_are_refused(repo: Path) -> None:
    (repo / ".gitlog.yaml").write_text(
        "alerts:\n  notifiers:\n    team: {type: slack, "
        "webhook_url: 'https://hooks.example/T1/SECRETXYZ'}\n  rules: []\n")
    proc = run_cli("alerts", "test", cwd=repo)
    assert proc.returncode == 1
    assert "alerts.notifiers.team.webhook_url: secrets never go in .gitlog.yaml" in proc.stderr
    assert "webhook_env" in proc.stderr and "SECRETXYZ" not in proc.stderr


def test_nan_storm_sends_one_alert_with_the_payload(repo: Path) -> None:
    with http_receiver() as hook:
        configure(repo, f"    hook: {{type: webhook, url: '{hook.url()}', {FAST}}}\n",
                  "    - {name: loss-nan, metric: loss, when: nan, notify: [hook]}\n")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with gitlog.start("storm", repo=repo, flush_interval=0.05) as run:
                for _step in range(10_000):
                    run.log_metric("loss", float("nan"))
                    run.log_metric("acc", 0.5)
        assert len(hook.requests) == 1
    payload = hook.payloads[0]
    assert payload["rule"] == "loss-nan" and payload["metric"] == "loss"
    assert payload["value"] == "nan" and payload["step"] == 0
    assert payload["run"] == run.id and payload["experiment"] == "storm"
    assert "commit" in payload and payload["message"] == "loss is NaN at step 0"
    [event] = alert_events(repo, run.commit)
    assert event["message"] == "alert loss-nan: loss is NaN at step 0"
    assert event["level"] == "warning" and event["fields"]["notify"] == ["hook"]
    assert run.status == "completed"


def test_retry_on_500_then_delivered(repo: Path) -> None:
    with http_receiver([500, 500]) as hook:
        configure(repo, f"    hook: {{type: webhook, url: '{hook.url()}', {FAST}}}\n",
                  "    - {name: hi, metric: loss, when: threshold, above: 5, notify: [hook]}\n")
        with gitlog.start("retry", repo=repo) as run:
            for value in (1.0, 2.0, 9.0, 12.0):
                run.log_metric("loss", value)
        assert [r["status"] for r in hook.requests] == [500, 500, 200]
    assert {p["message"] for p in hook.payloads} == {"loss is 9 at step 2, above 5"}
    assert not [e for e in events(repo, run.commit) if "alert_failed" in e["fields"]]


def test_give_up_after_retries_warns_and_never_breaks_the_run(repo: Path) -> None:
    with http_receiver([500] * 10) as hook:
        configure(repo, f"    hook: {{type: webhook, url: '{hook.url()}', {FAST}}}\n"
                        "    gone: {type: webhook, url: 'http://127.0.0.1:9/x', retries: 1, "
                        "backoff: 0.01, timeout: 2}\n",
                  "    - {name: hi, metric: loss, when: threshold, above: 5, "
                  "notify: [hook, gone]}\n")
        with pytest.warns(gitlog.GitlogWarning) as caught:
            with gitlog.start("fail", repo=repo, flush_interval=0.05) as run:
                run.log_metric("loss", 9.0)
                run.log_metric("loss", 10.0)
        assert len(hook.requests) == 3  # one try plus two retries, then given up
    texts = [str(w.message) for w in caught]
    assert any("alert hi not delivered to hook after 3 attempt(s): HTTP 500" in t
               for t in texts), texts
    assert any("not delivered to gone after 2 attempt(s): cannot connect" in t for t in texts)
    assert run.status == "completed" and run.commit


def test_spike_to_slack_keeps_the_webhook_url_secret(repo: Path, monkeypatch) -> None:
    secret = "/services/T0001/B0002/SECRETTOKEN123"
    with http_receiver([500] * 4) as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url(secret))
        configure(repo, "    team: {type: slack, webhook_env: SLACK_WEBHOOK_URL, "
                        "retries: 1, backoff: 0.01}\n",
                  "    - {name: loss-spike, metric: loss, when: spike, factor: 3, window: 20,"
                  " notify: [team]}\n")
        with pytest.warns(gitlog.GitlogWarning) as caught:
            with gitlog.start("spiky", repo=repo, flush_interval=0.05) as run:
                for step in range(30):
                    run.log_metric("loss", 1.0 + 0.01 * (step % 3))
                run.log_metric("loss", 50.0)
                run.log_metric("loss", 60.0)
        failed = run_cli("alerts", "test", "loss-spike", cwd=repo,
                         env={"SLACK_WEBHOOK_URL": slack.url(secret)})
    assert [r["path"] for r in slack.requests][:2] == [secret, secret]
    text = slack.payloads[0]["text"]
    assert "gitlog alert loss-spike" in text and "loss spiked to 50 at step 30" in text
    [event] = alert_events(repo, run.commit)
    assert event["step"] == 30
    assert failed.returncode == 1 and "HTTP 500" in failed.stdout + failed.stderr
    # The secret is nowhere: not in the repository, events, warnings or CLI errors.
    everything = git(repo, "log", "--all", "-p", "--format=%B") + \
        (repo / ".gitlog.yaml").read_text() + failed.stdout + failed.stderr + \
        " ".join(str(w.message) for w in caught)
    assert "SECRETTOKEN123" not in everything
    assert "SECRETTOKEN123" not in "".join(
        p.read_text(errors="replace") for p in (repo / ".git").rglob("*") if p.is_file()
        and p.stat().st_size < 1_000_000)


def email_notifier(port: int, cert: object) -> str:
    """The 'oncall' notifier: email through the test SMTP server (STARTTLS and login)."""
    return (f"    oncall: {{type: email, to: [ml@example.com], smtp_host: 127.0.0.1, "
            f"smtp_port: {port}, starttls: true, username_env: SMTP_USER, password_env: "
            f"SMTP_PASSWORD, ca_file: '{cert}', from: gitlog@example.com, {FAST}}}\n")


def test_email_with_starttls_and_login_for_an_out_of_memory_crash(repo: Path,
                                                                   tmp_path: Path) -> None:
    password = "s3cret-Pa55word"
    with smtp_server(tmp_path, "alerts", password) as (inbox, port, cert):
        configure(repo, email_notifier(port, cert),
                  "    - {name: oom, event: out of memory, level: error, notify: [oncall]}\n")
        code = ("import gitlog\n"
                "run = gitlog.start('big')\n"
                "run.info('out of memory in the docs only: info is below the rule level')\n"
                "run.log_metric('loss', 0.7, step=12)\n"
                "raise RuntimeError('CUDA out of memory. Tried to allocate 2 GiB')\n")
        proc = run_python(code, repo, env={"SMTP_USER": "alerts", "SMTP_PASSWORD": password})
        assert proc.returncode == 1
        assert len(inbox.messages) == 1, proc.stderr
    mail = inbox.messages[0]
    assert mail["Subject"] == ("[gitlog] oom: error event matched 'out of memory': "
                               "RuntimeError: CUDA out of memory. Tried to allocate 2 GiB")
    assert mail["To"] == "ml@example.com" and mail["From"] == "gitlog@example.com"
    body = mail.get_content()
    assert "experiment: big" in body and "step: 12" in body
    # Fired before the run's commit exists: the code commit and branch say where it ran.
    lines = body.splitlines()
    assert f"code_commit: {git(repo, 'rev-parse', 'main').strip()}" in lines
    assert "branch: exp/big" in lines
    assert inbox.logins == [("alerts", password)]
    [event] = alert_events(repo, "exp/big")
    assert event["fields"]["event"].startswith("RuntimeError: CUDA out of memory")
    assert password not in git(repo, "log", "--all", "-p") + proc.stderr + proc.stdout


def test_command_and_file_notifiers(repo: Path) -> None:
    script = "import sys; open('from-command.json', 'w').write(sys.stdin.read())"
    configure(repo, f"    cmd: {{type: command, argv: ['{sys.executable}', '-c', \"{script}\"]}}\n"
                    "    log: {type: file, path: logs/alerts.jsonl}\n",
              "    - {name: low-acc, metric: acc, when: threshold, below: 0.2, "
              "notify: [cmd, log]}\n")
    with gitlog.start("cmds", repo=repo) as run:
        run.log_metric("acc", 0.5)
        run.log_metric("acc", 0.1)
    from_command = json.loads((repo / "from-command.json").read_text())
    [from_file] = [json.loads(x) for x in (repo / "logs/alerts.jsonl").read_text().splitlines()]
    assert from_command == from_file
    assert from_file["message"] == "acc is 0.1 at step 1, below 0.2"
    assert from_file["value"] == 0.1 and from_file["step"] == 1


def test_drop_vs_previous_run_fires_once_with_the_commit(repo: Path) -> None:
    with http_receiver() as hook:
        configure(repo, f"    hook: {{type: webhook, url: '{hook.url()}', {FAST}}}\n",
                  "    - {name: acc-drop, metric: val_acc, when: drop, by: 0.05, "
                  "notify: [hook]}\n"
                  "    - {name: loss-rise, metric: loss, when: rise, by: '10%', "
                  "baseline: base, notify: [hook]}\n")
        for experiment, acc, loss in (("base", 0.9, 1.0), ("exp", 0.90, 1.05),
                                      ("exp", 0.84, 1.2)):
            with gitlog.start(experiment, repo=repo) as run:
                run.log_metric("val_acc", 0.5)
                run.log_metric("val_acc", acc)
                run.log_metric("loss", loss)
        third = run.commit
        assert sorted(p["rule"] for p in hook.payloads) == ["acc-drop", "loss-rise"]
        drop = next(p for p in hook.payloads if p["rule"] == "acc-drop")
        first_exp = git(repo, "rev-parse", f"{third}^").strip()
        assert drop["commit"] == third and drop["previous_commit"] == first_exp
        assert drop["message"] == (f"val_acc dropped by 0.06 (0.9 -> 0.84) vs the previous "
                                   f"run ({first_exp[:10]})")
        rise = next(p for p in hook.payloads if p["rule"] == "loss-rise")
        assert rise["message"].startswith("loss rose by 20.0% (1 -> 1.2) vs the latest run "
                                          "on base")
        assert {e["fields"]["alert"] for e in alert_events(repo, third)} == \
            {"acc-drop", "loss-rise"}
        # The post-commit step sees the alerts in the commit: nothing is sent twice.
        from gitlog.config import load
        from gitlog.git import Repo
        from gitlog.postcommit import after_commit

        assert after_commit(Repo(repo), load(repo), third) == []
        assert len(hook.requests) == 2
        checked = run_cli("alerts", "check", third, "--format", "json", cwd=repo)
        assert [r["rule"] for r in json.loads(checked.stdout)] == ["acc-drop", "loss-rise"]
        assert len(hook.requests) == 2  # check alone sends nothing


def test_post_commit_step_alerts_for_commits_made_outside_a_run(repo: Path) -> None:
    with http_receiver() as hook:
        configure(repo, f"    hook: {{type: webhook, url: '{hook.url()}', {FAST}}}\n",
                  "    - {name: acc-drop, metric: val_acc, when: drop, by: 0.05, "
                  "notify: [hook]}\n")
        with gitlog.start("ws", repo=repo) as run:
            run.log_metric("val_acc", 0.9)
        # A commit that gitlog did not write (as the post-commit hook sees it).
        git(repo, "checkout", "-q", "exp/ws")
        metrics = repo / ".gitlog/metrics.json"
        metrics.write_text(json.dumps({"val_acc": 0.7, "step": 0}))
        run_yaml = repo / ".gitlog/run.yaml"
        run_yaml.write_text(run_yaml.read_text().replace(run.id, "hand-made-run"))
        git(repo, "commit", "-qam", "hand-made run")
        commit = git(repo, "rev-parse", "HEAD").strip()
        from gitlog.config import load
        from gitlog.git import Repo
        from gitlog.postcommit import after_commit

        after_commit(Repo(repo), load(repo), commit)
        after_commit(Repo(repo), load(repo), commit)
        assert len(hook.requests) == 1
        assert hook.payloads[0]["commit"] == commit and hook.payloads[0]["value"] == 0.7
    ledger = (repo / ".git/gitlog/alerts.jsonl").read_text().splitlines()
    assert len(ledger) == 1 and json.loads(ledger[0])["run"] == "hand-made-run"


def test_alerts_test_and_check_commands(repo: Path) -> None:
    with http_receiver() as hook:
        configure(repo, f"    hook: {{type: webhook, url: '{hook.url()}', {FAST}}}\n"
                        "    log: {type: file, path: alerts.jsonl}\n",
                  "    - {name: loss-nan, metric: loss, when: nan, notify: [hook]}\n"
                  "    - {name: boom, event: boom, notify: [log]}\n")
        sent = run_cli("alerts", "test", "loss-nan", cwd=repo)
        assert sent.returncode == 0, sent.stderr
        assert hook.payloads[0]["test"] is True and hook.payloads[0]["rule"] == "loss-nan"
        assert "hook" in sent.stdout and "sent" in sent.stdout
        everyone = run_cli("alerts", "test", "--format", "json", cwd=repo)
        assert {r["notifier"] for r in json.loads(everyone.stdout)} == {"hook", "log"}
        unknown = run_cli("alerts", "test", "nope", cwd=repo)
        assert unknown.returncode == 1 and "no alert rule named 'nope'" in unknown.stderr
        (repo / ".gitlog.yaml").rename(repo / "alerts.yaml")  # log a run without rules
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with gitlog.start("quiet", repo=repo) as run:
                run.log_metric("loss", 1.0)
                run.log_metric("loss", float("nan"))
                run.warning("boom went the loader")
        (repo / "alerts.yaml").rename(repo / ".gitlog.yaml")
        before = len(hook.requests)
        checked = run_cli("alerts", "check", "quiet", cwd=repo)
        assert checked.returncode == 0, checked.stderr
        assert "loss-nan" in checked.stdout and "loss is NaN at step 1" in checked.stdout
        assert "boom" in checked.stdout and len(hook.requests) == before
        notified = run_cli("alerts", "check", "quiet", "--notify", "--format", "json", cwd=repo)
        assert [r["sent"] for r in json.loads(notified.stdout)] == ["hook:ok", "log:ok"]
        assert hook.payloads[-1]["run"] == run.id and hook.payloads[-1]["commit"] == run.commit


def test_gitlog_run_and_its_script_send_one_alert_between_them(repo: Path) -> None:
    configure(repo, "    log: {type: file, path: alerts.jsonl}\n",
              "    - {name: boom, event: boom, notify: [log]}\n")
    (repo / "job.py").write_text("import gitlog\n"
                                 "run = gitlog.start()\n"
                                 "print('boom on stdout', flush=True)\n"
                                 "run.error('boom in the script')\n"
                                 "run.log_metric('loss', 1.0)\n"
                                 "run.finish()\n")
    proc = run_cli("run", "-e", "both", "--", sys.executable, "job.py", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    sent = (repo / "alerts.jsonl").read_text().splitlines()
    assert len(sent) == 1 and json.loads(sent[0])["experiment"] == "both"
    assert len(alert_events(repo, "exp/both")) == 1


def test_email_for_a_multi_line_event_has_a_one_line_subject(repo: Path,
                                                             tmp_path: Path) -> None:
    password = "s3cret-Pa55word"
    with smtp_server(tmp_path, "alerts", password) as (inbox, port, cert):
        configure(repo, email_notifier(port, cert),
                  "    - {name: loader, event: loader failed, notify: [oncall]}\n")
        code = ("import gitlog\n"
                "with gitlog.start('multi') as run:\n"
                "    run.error('loader failed:\\n  shard 7 is corrupt')\n")
        proc = run_python(code, repo, env={"SMTP_USER": "alerts", "SMTP_PASSWORD": password})
        assert proc.returncode == 0, proc.stderr
        assert "not delivered" not in proc.stderr
        assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["Subject"] == ("[gitlog] loader: error event matched 'loader failed': "
                               "loader failed: shard 7 is corrupt")
    assert "loader failed:\n  shard 7 is corrupt" in mail.get_content().replace("\r\n", "\n")


def test_a_failed_delivery_does_not_trigger_an_event_rule(repo: Path) -> None:
    configure(repo, "    gone: {type: webhook, url: 'http://127.0.0.1:9/x', retries: 0}\n"
                    "    log: {type: file, path: sent.jsonl}\n",
              "    - {name: hi, metric: loss, when: threshold, above: 5, notify: [gone]}\n"
              "    - {name: any-warning, level: warning, notify: [log]}\n")
    code = ("import time, gitlog\n"
            "with gitlog.start('failing', flush_interval=0.05) as run:\n"
            "    run.log_metric('loss', 9.0)\n"
            "    for _ in range(200):  # until the failed delivery is recorded and flushed\n"
            "        run.flush()\n"
            "        path = run.journal.events_path()\n"
            "        if path.exists() and 'alert_failed' in path.read_text():\n"
            "            break\n"
            "        time.sleep(0.05)\n"
            "    run.flush()\n")
    proc = run_python(code, repo)
    assert proc.returncode == 0, proc.stderr
    messages = [e["message"] for e in events(repo, "exp/failing")]
    assert messages == ["alert hi: loss is 9 at step 0, above 5",
                        "alert hi not delivered to gone after 1 attempt(s): cannot connect: "
                        "Connection refused"]
    assert not (repo / "sent.jsonl").exists()
    checked = run_cli("alerts", "check", "failing", "--format", "json", cwd=repo)
    assert [r["rule"] for r in json.loads(checked.stdout)] == ["hi"]


def test_alerts_check_notify_exits_1_naming_the_failed_delivery(repo: Path) -> None:
    with http_receiver([500] * 5) as hook:
        configure(repo, f"    hook: {{type: webhook, url: '{hook.url()}', retries: 1, "
                        "backoff: 0.01}\n"
                        "    log: {type: file, path: sent.jsonl}\n",
                  "    - {name: hi, metric: loss, when: threshold, above: 5, "
                  "notify: [hook, log]}\n")
        (repo / ".gitlog.yaml").rename(repo / "alerts.yaml")  # log a run without rules
        with gitlog.start("later", repo=repo) as run:
            run.log_metric("loss", 9.0)
        (repo / "alerts.yaml").rename(repo / ".gitlog.yaml")
        proc = run_cli("alerts", "check", "later", "--notify", "--format", "json", cwd=repo)
        assert len(hook.requests) == 2
    assert proc.returncode == 1
    assert [r["sent"] for r in json.loads(proc.stdout)] == ["hook:failed, log:ok"]
    assert proc.stderr.splitlines()[0] == ("Error: alert not delivered: hi to hook "
                                           "(HTTP 500 Internal Server Error)")
    assert len((repo / "sent.jsonl").read_text().splitlines()) == 1


def test_threshold_with_above_and_below_fires_once_per_side(repo: Path) -> None:
    configure(repo, "    log: {type: file, path: sent.jsonl}\n",
              "    - {name: loss-band, metric: loss, when: threshold, above: 5, below: 0.01, "
              "notify: [log]}\n")
    with gitlog.start("band", repo=repo, flush_interval=0.05) as run:
        for value in (1.0, 9.0, 12.0, 2.0, 0.001, 0.0005, 30.0):
            run.log_metric("loss", value)
    sent = [json.loads(x) for x in (repo / "sent.jsonl").read_text().splitlines()]
    # (each alert is delivered on its own: the two may reach the file in either order)
    assert sorted((p["rule"], p["step"], p["message"]) for p in sent) == [
        ("loss-band", 1, "loss is 9 at step 1, above 5"),
        ("loss-band", 4, "loss is 0.001 at step 4, below 0.01")]
    assert [e["message"] for e in alert_events(repo, run.commit)] == [
        "alert loss-band: loss is 9 at step 1, above 5",
        "alert loss-band: loss is 0.001 at step 4, below 0.01"]
    checked = run_cli("alerts", "check", "band", "--format", "json", cwd=repo)
    assert [(r["rule"], r["step"], r["value"]) for r in json.loads(checked.stdout)] == [
        ("loss-band", 1, 9.0), ("loss-band", 4, 0.001)]


def alive(pid: int) -> bool:
    """Is ``pid`` running (a zombie no one reaped yet is dead)?"""
    import subprocess

    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True,
                           text=True).stdout.strip()
    return bool(state) and not state.startswith("Z")


def wait_dead(pid: int) -> bool:
    import time

    for _ in range(100):  # SIGKILL lands at once; this only waits for the scheduler
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_command_that_times_out_is_killed_with_what_it_started(repo: Path) -> None:
    configure(repo, "    cmd: {type: command, argv: [sh, -c, 'sleep 60 & echo $! > bg.pid; "
                    "wait'], timeout: 1, retries: 0}\n",
              "    - {name: n, metric: loss, when: nan, notify: [cmd]}\n")
    proc = run_cli("alerts", "test", "--format", "json", cwd=repo)
    pid = int((repo / "bg.pid").read_text())
    try:
        assert proc.returncode == 1
        assert json.loads(proc.stdout) == [{"notifier": "cmd", "result": "failed",
                                            "attempts": 1,
                                            "error": "sh did not finish within 1 s"}]
        assert wait_dead(pid), "the command's background child outlived its timeout"
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_command_that_starts_a_background_job_and_exits_is_delivered_once(repo: Path) -> None:
    configure(repo, "    cmd: {type: command, argv: [sh, -c, 'cat >> got.jsonl; sleep 60 & "
                    "echo $! > bg.pid'], timeout: 2, retries: 1, backoff: 0.01}\n",
              "    - {name: n, metric: loss, when: nan, notify: [cmd]}\n")
    proc = run_cli("alerts", "test", "--format", "json", cwd=repo)
    pid = int((repo / "bg.pid").read_text())
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert json.loads(proc.stdout) == [{"notifier": "cmd", "result": "sent",
                                            "attempts": 1, "error": None}]
        [got] = (repo / "got.jsonl").read_text().splitlines()
        assert json.loads(got)["message"] == "test alert from gitlog"
        assert alive(pid)  # a job the command started on purpose is its own business
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_an_event_rule_takes_a_level_as_logging_spells_it(repo: Path) -> None:
    """level: warn / WARNING / fatal, as GITLOG_LEVEL, start(level=) and gitlog logs
    --level take them; a name that is no level is refused naming the valid ones."""
    rules = parse_rules(parse("alerts:\n  notifiers: {log: {type: file, path: s.jsonl}}\n"
                              "  rules:\n"
                              "    - {name: a, level: warn, notify: [log]}\n"
                              "    - {name: b, level: WARNING, notify: [log]}\n"
                              "    - {name: c, level: fatal, notify: [log]}\n")["alerts"])
    assert [r.level for r in rules] == ["warning", "warning", "critical"]
    with pytest.raises(ConfigError, match=r"alerts\.rules\[a\]\.level must be one of debug, info, "
                                          r"warning, error, critical .*got 'loud'"):
        parse("alerts:\n  notifiers: {log: {type: file, path: s.jsonl}}\n"
              "  rules: [{name: a, level: loud, notify: [log]}]\n")
    configure(repo, "    log: {type: file, path: sent.jsonl}\n",
              "    - {name: warned, level: warn, notify: [log]}\n")
    with gitlog.start("warny", repo=repo) as run:
        run.info("fine")
        run.warning("loss is high")
    [sent] = [json.loads(x) for x in (repo / "sent.jsonl").read_text().splitlines()]
    assert sent["message"] == "warning event at warning or above: loss is high"


def test_oom_rule_fires_for_a_plain_script_crashing_under_gitlog_run(repo: Path) -> None:
    # The README's rule: a crash's exception reaches stderr as 'info' lines, so it is the
    # error event of the exit that must carry it.
    configure(repo, "    log: {type: file, path: sent.jsonl}\n",
              "    - {name: oom, event: out of memory, level: error, notify: [log]}\n")
    (repo / "plain.py").write_text("print('epoch 0')\n"
                                   "raise RuntimeError('CUDA out of memory. Tried to "
                                   "allocate 2 GiB')\n")
    proc = run_cli("run", "-e", "plain", "--", sys.executable, "plain.py", cwd=repo)
    assert proc.returncode == 1
    exit_message = ("command exited with code 1: RuntimeError: CUDA out of memory. Tried "
                    "to allocate 2 GiB")
    [sent] = [json.loads(x) for x in (repo / "sent.jsonl").read_text().splitlines()]
    assert (sent["rule"], sent["experiment"], sent["message"]) == (
        "oom", "plain", f"error event matched 'out of memory': {exit_message}")
    assert [e["message"] for e in events(repo, "exp/plain")][-2:] == [
        exit_message, f"alert oom: error event matched 'out of memory': {exit_message}"]


def test_slack_text_escapes_what_slack_reads_as_links_and_mentions(repo: Path,
                                                                  monkeypatch) -> None:
    with http_receiver() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url("/services/T1/B2/X3"))
        configure(repo, f"    team: {{type: slack, webhook_env: SLACK_WEBHOOK_URL, {FAST}}}\n",
                  "    - {name: errors, level: error, notify: [team]}\n")
        with gitlog.start("slacky", repo=repo) as run:
            run.error("TypeError: expected <class 'int'> & got <!channel>")
    [payload] = slack.payloads
    assert payload["text"] == (
        "*gitlog alert errors*\n"
        "error event at error or above: TypeError: expected &lt;class 'int'&gt; &amp; got "
        "&lt;!channel&gt;\n"
        f"rule: errors\nexperiment: slacky\nbranch: exp/slacky\nrun: {run.id}\n"
        f"code_commit: {git(repo, 'rev-parse', 'main').strip()}\n"
        "event: TypeError: expected &lt;class 'int'&gt; &amp; got &lt;!channel&gt;\n"
        f"host: {run.meta['host']}")


def test_a_baseline_that_names_nothing_is_a_warning_not_silence(repo: Path) -> None:
    configure(repo, "    log: {type: file, path: sent.jsonl}\n",
              "    - {name: loss-rise, metric: loss, when: rise, by: 0.1, baseline: basline, "
              "notify: [log]}\n"
              "    - {name: hi, metric: loss, when: threshold, above: 5, notify: [log]}\n")
    expected = ("alert rule loss-rise not checked: baseline 'basline': no branch, experiment "
                "or commit of that name")
    with warnings.catch_warnings(record=True) as first:
        warnings.simplefilter("always")
        with gitlog.start("basline", repo=repo) as run:  # its own first run: nothing to say
            run.log_metric("loss", 1.0)
    assert [str(w.message) for w in first] == []
    git(repo, "branch", "-m", "exp/basline", "exp/base")
    with pytest.warns(gitlog.GitlogWarning) as caught:
        with gitlog.start("typo", repo=repo) as run:
            run.log_metric("loss", 9.0)
    assert [str(w.message) for w in caught] == [f"gitlog: {expected}"]
    assert [(e["level"], e["message"]) for e in events(repo, run.commit)] == [
        ("warning", "alert hi: loss is 9 at step 0, above 5"), ("warning", expected)]
    checked = run_cli("alerts", "check", "typo", "--format", "json", cwd=repo)
    assert checked.returncode == 0
    assert [r["rule"] for r in json.loads(checked.stdout)] == ["hi"]
    assert checked.stderr == f"warning: {expected}\n"


def test_email_ca_file_is_relative_to_the_repository_and_a_missing_one_says_so(
        repo: Path, tmp_path: Path) -> None:
    with smtp_server(tmp_path, "alerts", "pw") as (inbox, port, cert):
        (repo / "certs").mkdir()
        (repo / "certs/ca.pem").write_bytes(Path(str(cert)).read_bytes())
        (repo / "src").mkdir()
        mail = (f"{{type: email, to: [ml@example.com], smtp_host: 127.0.0.1, smtp_port: {port}, "
                f"starttls: true, {FAST}, ca_file: ")
        configure(repo, f"    ok: {mail}certs/ca.pem}}\n    gone: {mail}certs/nope.pem}}\n",
                  "    - {name: n, metric: loss, when: nan, notify: [ok, gone]}\n")
        proc = run_cli("alerts", "test", "--format", "json", cwd=repo / "src")
        assert len(inbox.messages) == 1
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == [
        {"notifier": "gone", "result": "failed", "attempts": 1,
         "error": f"ca_file {repo / 'certs/nope.pem'}: No such file or directory"},
        {"notifier": "ok", "result": "sent", "attempts": 1, "error": None}]


def test_runs_a_script_never_finishes_are_committed_at_exit_and_alert(repo: Path) -> None:
    configure(repo, "    log: {type: file, path: sent.jsonl}\n",
              "    - {name: acc-drop, metric: acc, when: drop, by: 0.05, notify: [log]}\n"
              "    - {name: hi, metric: loss, when: threshold, above: 5, notify: [log]}\n")
    for acc in (0.9, 0.5):
        code = ("import gitlog\n"
                "run = gitlog.start('noend')\n"
                f"run.log_metric('acc', {acc})\n"
                "run.log_metric('loss', 9.0)\n")  # and no finish(): gitlog finishes it
        proc = run_python(code, repo)
        assert proc.returncode == 0 and "could not commit" not in proc.stderr, proc.stderr
    assert len(git(repo, "rev-list", "main..exp/noend").split()) == 2
    sent = [json.loads(x) for x in (repo / "sent.jsonl").read_text().splitlines()]
    assert [(p["rule"], p["value"]) for p in sent] == [("hi", 9.0), ("hi", 9.0),
                                                       ("acc-drop", 0.5)]
    assert sent[2]["commit"] == git(repo, "rev-parse", "exp/noend").strip()


def test_a_webhook_variable_holding_no_url_is_named_not_shown(repo: Path) -> None:
    configure(repo, "    team: {type: slack, webhook_env: SLACK_WEBHOOK_URL, backoff: 0.01}\n",
              "    - {name: n, metric: loss, when: nan, notify: [team]}\n")
    proc = run_cli("alerts", "test", "--format", "json", cwd=repo,
                   env={"SLACK_WEBHOOK_URL": "hooks.slack.com/services/T0/B0/SECRETX"})
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == [
        {"notifier": "team", "result": "failed", "attempts": 1,
         "error": "environment variable SLACK_WEBHOOK_URL does not hold an http:// or "
                  "https:// URL (webhook_env)"}]
    assert "SECRETX" not in proc.stdout + proc.stderr


def test_ctrl_c_in_alerts_test_stops_the_command_and_what_it_started(repo: Path) -> None:
    import subprocess
    import time

    configure(repo, "    slow: {type: command, argv: [sh, -c, 'sleep 60 & echo $! > bg.pid; "
                    "wait'], timeout: 100}\n",
              "    - {name: n, metric: loss, when: nan, notify: [slow]}\n")
    proc = subprocess.Popen([sys.executable, "-m", "gitlog", "alerts", "test"], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid_file = repo / "bg.pid"
    for _ in range(400):  # until the command has started its job
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert (proc.returncode, err.strip()) == (130, "Interrupted.")
        assert wait_dead(pid), "the command's job outlived Ctrl-C"
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_check_with_no_alert_names_the_run_it_picked(repo: Path) -> None:
    """'gitlog alerts check' with no REV picks a run itself, and said only 'no alert
    fires on 1fab06ee71': which run of which experiment it had looked at, it did not say."""
    configure(repo, "    log: {type: file, path: alerts.jsonl}\n",
              "    - {name: loss-nan, metric: loss, when: nan, notify: [log]}\n")
    git(repo, "add", ".gitlog.yaml")
    git(repo, "commit", "-qm", "alerts")
    with gitlog.start("calm", repo=repo) as run:
        run.log_metric("loss", 0.5)
    checked = run_cli("alerts", "check", cwd=repo)
    assert (checked.returncode, checked.stdout, checked.stderr) == (
        0, "", f"no alert fires on run {run.id} of experiment calm ({run.commit[:10]})\n")


def test_check_of_a_commit_without_a_run_says_what_show_says(repo: Path) -> None:
    """'gitlog alerts check main' said "commit 1fab06ee71c4 holds no run" (an id, not the
    REV typed) with a hint of its own, where show, logs and the rest say "this commit
    holds no run: main": one wording, one helper."""
    configure(repo, "    log: {type: file, path: alerts.jsonl}\n",
              "    - {name: loss-nan, metric: loss, when: nan, notify: [log]}\n")
    error = ("Error: this commit holds no run: main\n"
             "hint: pick a run commit from 'git log exp/NAME' or 'gitlog ls'\n")
    for command in (["alerts", "check", "main"], ["show", "main"], ["logs", "main"],
                    ["artifacts", "main"]):
        proc = run_cli(*command, cwd=repo)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", error), command


UNSET = ("alert notifier team: environment variable SLACK_WEBHOOK_URL is not set "
         "(webhook_env), so alerts of rules loss-nan, loss-spike cannot be delivered; set "
         "it before the run starts ('gitlog alerts test' checks every notifier)")


def test_a_notifier_variable_unset_is_said_at_start_not_when_a_rule_fires(
        repo: Path, monkeypatch) -> None:
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    configure(repo, "    team: {type: slack, webhook_env: SLACK_WEBHOOK_URL}\n"
                    "    log: {type: file, path: sent.jsonl}\n",
              "    - {name: loss-nan, metric: loss, when: nan, notify: [team]}\n"
              "    - {name: loss-spike, metric: loss, when: spike, notify: [team]}\n"
              "    - {name: warns, level: warning, notify: [log]}\n")
    with pytest.warns(gitlog.GitlogWarning) as caught:
        run = gitlog.start("unset", repo=repo)
    assert [str(w.message) for w in caught] == [f"gitlog: {UNSET}"]
    run.log_metric("loss", 0.5)
    run.finish()
    [event] = [e for e in events(repo, run.commit) if "alert_unset" in e["fields"]]
    assert event["level"] == "warning" and event["message"] == UNSET
    assert event["fields"] == {"alert_unset": "team", "variable": "SLACK_WEBHOOK_URL"}
    assert not (repo / "sent.jsonl").exists()  # gitlog's own warning fires no event rule


def test_under_gitlog_run_the_unset_variable_is_said_once(repo: Path) -> None:
    configure(repo, "    team: {type: slack, webhook_env: SLACK_WEBHOOK_URL}\n",
              "    - {name: loss-nan, metric: loss, when: nan, notify: [team]}\n")
    (repo / "job.py").write_text("import gitlog\ngitlog.start().log_metric('loss', 1.0)\n")
    env = {k: v for k, v in os.environ.items() if k != "SLACK_WEBHOOK_URL"}
    env["PYTHONWARNINGS"] = "default"  # the tests' 'ignore' would hide it
    proc = subprocess.run([sys.executable, "-m", "gitlog", "run", "-e", "once", "--",
                           sys.executable, "job.py"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("environment variable SLACK_WEBHOOK_URL is not set") == 1
    assert len([e for e in events(repo, "exp/once") if "alert_unset" in e["fields"]]) == 1


def test_a_server_that_accepts_and_never_answers_is_a_timeout_in_every_notifier(
        repo: Path) -> None:
    with socket.socket() as silent:  # connections queue in its backlog; none is answered
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        limits = "retries: 0, timeout: 0.5"
        configure(repo, f"    hook: {{type: webhook, url: 'http://127.0.0.1:{port}/a', "
                        f"{limits}}}\n"
                        f"    mail: {{type: email, to: [ml@example.com], smtp_host: "
                        f"127.0.0.1, smtp_port: {port}, {limits}}}\n", "    []\n")
        proc = run_cli("alerts", "test", "--format", "json", cwd=repo)
    assert proc.returncode == 1
    errors = {row["notifier"]: row["error"] for row in json.loads(proc.stdout)}
    assert errors == {"hook": "no answer within 0.5 s",
                      "mail": f"127.0.0.1:{port} did not answer within 0.5 s"}


def test_a_rule_on_a_metric_the_run_spells_otherwise_is_named_at_finish(repo: Path) -> None:
    """A rule on 'val_accuracy' while the script logs 'val_acc' never fires, and nothing
    said so. A run that logs a name close to the rule's is warned once, at finish, under
    'gitlog run' too; a run that logs nothing like it is not (a rule may watch a metric
    only some runs log)."""
    configure(repo, "    log: {type: file, path: sent.jsonl}\n",
              "    - {name: acc-drop, metric: val_accuracy, when: drop, by: 0.05, "
              "notify: [log]}\n"
              "    - {name: lr-nan, metric: lr_warmup, when: nan, notify: [log]}\n")
    expected = ("alert rule acc-drop watches metric 'val_accuracy', which run {} never "
                "logged; it logged 'val_acc': if that is the one, fix the rule's metric in "
                ".gitlog.yaml (the rule cannot fire)")
    run = gitlog.start("typo", repo=repo)
    run.log_metric("val_acc", 0.9)
    run.log_metric("loss", 0.5)
    with pytest.warns(gitlog.GitlogWarning) as caught:
        run.finish()
    assert [str(w.message) for w in caught] == [f"gitlog: {expected.format(run.id)}"]
    [event] = [e for e in events(repo, run.commit) if "alert_skipped" in e["fields"]]
    assert (event["level"], event["message"]) == ("warning", expected.format(run.id))
    (repo / "job.py").write_text("import gitlog\ngitlog.start().log_metric('val_acc', 0.8)\n")
    env = {**os.environ, "PYTHONWARNINGS": "default"}  # the tests' 'ignore' would hide it
    proc = subprocess.run([sys.executable, "-m", "gitlog", "run", "-e", "typo", "--",
                           sys.executable, "job.py"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("watches metric 'val_accuracy'") == 1
    other = gitlog.start("unrelated", repo=repo)
    other.log_metric("loss", 0.4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", gitlog.GitlogWarning)
        other.finish()
    assert not (repo / "sent.jsonl").exists()
