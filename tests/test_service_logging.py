"""Production-style logging: a long-lived process, many metric names, several threads,
system metrics next to the service's own series."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import gitlog
from gitlog.errors import NameError_
from tests.conftest import git, run_python


def test_threads_logging_new_names_at_once_lose_nothing(repo: Path) -> None:
    # Each request handler thread logs its own series the first time it runs: the
    # name check used to iterate the run's names while another thread added one
    # ('RuntimeError: Set changed size during iteration' raised into the handler).
    errors: list[str] = []
    with gitlog.start("svc", repo=repo) as run:
        barrier = threading.Barrier(8)

        def handler(t: int) -> None:
            barrier.wait()
            try:
                for i in range(300):
                    run.log_metric(f"worker{t}/m{i}", i)
            except Exception as exc:  # what the service would see
                errors.append(repr(exc))

        threads = [threading.Thread(target=handler, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    metrics = json.loads(git(repo, "show", "exp/svc:.gitlog/metrics.json"))
    assert sorted(metrics) == ["step"] + [f"worker{t}" for t in range(8)]
    assert all(metrics[f"worker{t}"] == {f"m{i}": i for i in range(300)} for t in range(8))


def test_a_name_and_a_group_clash_both_ways(repo: Path) -> None:
    with gitlog.start("clash2", repo=repo) as run:
        run.log_metric("latency", 1.0)
        run.log_metric("errors/rate", 0.5)
        with pytest.raises(NameError_) as group_after:
            run.log_metric("latency/p99", 1.0)
        with pytest.raises(NameError_) as value_after:
            run.log_metric("errors", 1.0)
        run.log_metric("errors/count", 3)  # still fine
    assert str(group_after.value) == ("invalid metric name 'latency/p99': clashes with "
                                      "metric 'latency': one name cannot be both a value "
                                      "and a group")
    assert str(value_after.value) == ("invalid metric name 'errors': clashes with metric "
                                      "'errors/rate': one name cannot be both a value and "
                                      "a group")


def test_a_run_of_more_series_than_open_files_allowed_keeps_every_point(repo: Path) -> None:
    # 400 series under 'ulimit -n 200': each series' journal file used to stay open,
    # so the flushes failed (their points lost) and the run could not be committed.
    code = (
        "import resource, gitlog\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (200, resource.getrlimit("
        "resource.RLIMIT_NOFILE)[1]))\n"
        "with gitlog.start('wide', flush_interval=0.05) as run:\n"
        "    for step in range(3):\n"
        "        run.log_metrics({f'route{i}/requests': step * 10 + i for i in range(400)},"
        " step=step)\n"
        "        run.flush()\n"
        "print(run.commit)\n"
    )
    proc = run_python(code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip() == git(repo, "rev-parse", "exp/wide").strip()
    metrics = json.loads(git(repo, "show", "exp/wide:.gitlog/metrics.json"))
    assert metrics == {"step": 2, **{f"route{i}": {"requests": 20 + i} for i in range(400)}}
    rows = git(repo, "show", "exp/wide:.gitlog/metrics/route399/requests.tsv").splitlines()
    assert [r.split("\t")[1:] for r in rows] == [["step", "requests"], ["0", "399"],
                                                  ["1", "409"], ["2", "419"]]
    assert not list((repo / ".git" / "gitlog" / "runs").iterdir())


def test_system_metrics_do_not_move_the_run_s_step(repo: Path) -> None:
    # The sampler logs a point per series every interval: its sample count used to be
    # the run's step, so an event logged without step= (and metrics.json's "step", and
    # the step of a crash) said 14 where training was at step 2.
    (repo / ".gitlog.yaml").write_text("system_metrics:\n  interval: 0.02\n")
    code = (
        "import time, gitlog\n"
        "with gitlog.start('sysstep', system_metrics=True, flush_interval=0.05) as run:\n"
        "    for epoch in range(3):\n"
        "        time.sleep(0.25)\n"
        "        run.log_metric('loss', 1.0 / (epoch + 1))\n"
        "        run.info('epoch done', epoch=epoch)\n"
        "    time.sleep(0.25)\n"
        "    raise RuntimeError('worker crashed')\n"
    )
    proc = run_python(code, cwd=repo)
    assert "RuntimeError: worker crashed" in proc.stderr
    samples = git(repo, "show", "exp/sysstep:.gitlog/metrics/system/memory_mb.tsv")
    assert len(samples.splitlines()) > 10  # the sampler did run ahead of training
    metrics = json.loads(git(repo, "show", "exp/sysstep:.gitlog/metrics.json"))
    assert metrics["step"] == 2
    events = [json.loads(line) for line in
              git(repo, "show", "exp/sysstep:.gitlog/events.jsonl").splitlines()]
    assert [(e["message"], e["step"]) for e in events] == [
        ("epoch done", 0), ("epoch done", 1), ("epoch done", 2),
        ("RuntimeError: worker crashed", 2)]
    assert events[-1]["fields"]["step"] == 2


def test_log_metrics_of_something_not_a_mapping_says_what_to_pass(repo: Path) -> None:
    with gitlog.start("pairs", repo=repo) as run:
        with pytest.raises(gitlog.GitlogError) as err:
            run.log_metrics([("requests", 10)])  # type: ignore[arg-type]
        run.log_metrics({"requests": 10})
    assert str(err.value) == "metrics must be a mapping of names to numbers, got list"
    assert err.value.hint == ("pass a dict such as {'loss': 0.1}, or call "
                              "log_metric(name, value)")
    assert json.loads(git(repo, "show", "exp/pairs:.gitlog/metrics.json")) == {
        "requests": 10, "step": 0}


@pytest.mark.parametrize("interval", [float("inf"), True, 0, -1.0, "2"])
def test_a_flush_interval_that_is_no_positive_number_of_seconds_is_refused(
        repo: Path, interval: object) -> None:
    # Infinity used to pass: the flusher thread died of an OverflowError and nothing
    # reached the journal before the end (a SIGKILL lost the whole run).
    with pytest.raises(gitlog.GitlogError) as err:
        gitlog.start("never", repo=repo, flush_interval=interval)  # type: ignore[arg-type]
    assert str(err.value) == ("flush_interval must be a positive number of seconds, "
                              f"got {interval!r}")
    assert err.value.hint == ("pass seconds between journal writes, e.g. "
                              "flush_interval=2.0, or leave it out")
    assert not (repo / ".git" / "gitlog" / "runs").exists() or \
        not list((repo / ".git" / "gitlog" / "runs").iterdir())


def test_latency_memory_and_error_rates_are_lower_is_better_by_default(tmp_path: Path) -> None:
    # Each used to be judged higher-is-better: a p99 latency that doubled, or a run
    # that took twice the memory, was 'better'; so was an error rate that went up.
    from tests.runrepo import Builder

    b = Builder()
    c1 = b.commit("main", {"serve.py": "v1\n"}, message="initial code")
    r1 = b.run("svc", {"latency": {"p99": 10.0}, "errors": {"rate": 0.01},
                       "system": {"memory_mb": 100.0}, "requests": {"rate": 50.0}},
               parents=[c1], run_id="r1", subject="svc: first")
    b.run("svc", {"latency": {"p99": 20.0}, "errors": {"rate": 0.02},
                  "system": {"memory_mb": 200.0}, "requests": {"rate": 60.0}},
          parents=[r1], run_id="r2", subject="svc: second")
    repo = tmp_path / "svc"
    b.write(repo)
    from tests.conftest import run_cli

    proc = run_cli("history", "-m", "latency/p99,errors/rate,system/memory_mb,requests/rate",
                   "exp/svc", "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout)[-1]
    assert [last[f"{m}_verdict"] for m in ("latency/p99", "errors/rate", "system/memory_mb",
                                           "requests/rate")] == \
        ["worse", "worse", "worse", None]  # (traffic: neither better nor worse)
    from gitlog.config import load

    config = load(repo)
    assert {m: config.better(m) for m in (
        "latency_ms", "latency/p99.9", "error_rate", "system/gpu0/memory_mb",
        "system/cpu_percent", "system/gpu0/utilization_percent", "system/disk_percent",
        "error_analysis/accuracy", "accuracy")} == {
        "latency_ms": "lower", "latency/p99.9": "lower", "error_rate": "lower",
        "system/gpu0/memory_mb": "lower", "system/cpu_percent": "none",  # (was 'higher')
        "system/gpu0/utilization_percent": "none", "system/disk_percent": "none",
        "error_analysis/accuracy": "higher", "accuracy": "higher"}
