"""Debugging logs: levels, the logging bridge, warnings, uncaught exceptions with their
context, sampled inputs/outputs and system metrics."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import pytest

import gitlog
from gitlog.debugging import Reservoir, filter_events, summarise
from gitlog.errors import GitlogError
from tests.conftest import git, run_cli, run_python


def events(repo: Path, rev: str) -> list[dict]:
    text = git(repo, "show", f"{rev}:.gitlog/events.jsonl")
    return [json.loads(line) for line in text.splitlines()]


def test_level_threshold_from_config_and_env(repo: Path, monkeypatch) -> None:
    (repo / ".gitlog.yaml").write_text("log_level: warning\n")
    with gitlog.start("dbg", repo=repo) as run:
        run.debug("d")
        run.info("i")
        run.warning("w")
        run.error("e", code=3)
    assert [e["message"] for e in events(repo, run.commit)] == ["w", "e"]
    monkeypatch.setenv("GITLOG_LEVEL", "debug")
    with gitlog.start("dbg", repo=repo) as run:
        run.debug("d")
    assert [e["message"] for e in events(repo, run.commit)] == ["d"]
    got = filter_events([{"level": "info"}, {"level": "error"}, {"level": "critical"}],
                        min_level="error")
    assert [e["level"] for e in got] == ["error", "critical"]
    assert filter_events([{"level": "info"}, {"level": "error"}], levels=["info"]) == \
        [{"level": "info"}]
    with pytest.raises(GitlogError, match="unknown level 'loud'"):
        filter_events([], min_level="loud")


def test_logging_handler_and_warnings_are_recorded(repo: Path) -> None:
    log = logging.getLogger("trainer")
    log.setLevel(logging.DEBUG)
    handler = gitlog.LoggingHandler()
    log.addHandler(handler)
    try:
        with gitlog.start("dbg", repo=repo) as run:
            log.info("epoch %d done", 3, extra={"step": 3})
            log.debug("below the run's threshold")
            try:
                raise ValueError("bad batch")
            except ValueError:
                log.exception("batch failed")
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.warn("lr is large", UserWarning, stacklevel=2)
        log.warning("after the run: dropped, no error")
    finally:
        log.removeHandler(handler)
    got = events(repo, run.commit)
    first = got[0]
    assert first["message"] == "epoch 3 done" and first["step"] == 3
    assert first["fields"] == {"logger": "trainer"}
    assert got[1]["level"] == "error" and "ValueError: bad batch" in got[1]["fields"]["traceback"]
    assert all("threshold" not in e["message"] for e in got)


def test_warnings_warn_in_a_script_is_an_event(repo: Path) -> None:
    code = ("import warnings, gitlog\n"
            "with gitlog.start('w') as run:\n"
            "    warnings.warn('data has 3 duplicate rows', RuntimeWarning)\n"
            "print(run.commit)\n")
    proc = run_python(code, repo, env={"PYTHONWARNINGS": "default"})
    commit = proc.stdout.strip()
    [event] = events(repo, commit)
    assert event["level"] == "warning"
    assert event["message"] == "RuntimeWarning: data has 3 duplicate rows"
    assert event["fields"]["category"] == "RuntimeWarning"
    assert "duplicate rows" in proc.stderr  # still shown to the user


def test_uncaught_exception_keeps_traceback_step_and_last_values(repo: Path) -> None:
    code = ("import gitlog\n"
            "run = gitlog.start('crash')\n"
            "for step in range(5):\n"
            "    run.log_metrics({'loss': 1.0 / (step + 1), 'acc': step / 10}, step=step)\n"
            "run.log_metric('lr', 0.01)\n"
            "raise RuntimeError('CUDA out of memory')\n")
    proc = run_python(code, repo)
    assert proc.returncode == 1 and "CUDA out of memory" in proc.stderr
    [event] = [e for e in events(repo, "exp/crash") if e["level"] == "error"]
    assert event["message"] == "RuntimeError: CUDA out of memory"
    assert event["step"] == 4 and event["fields"]["step"] == 4
    assert event["fields"]["last_values"] == {"loss": 0.2, "acc": 0.4, "lr": 0.01}
    assert 'line 6, in <module>' in event["fields"]["traceback"]
    assert "status: failed" in git(repo, "show", "exp/crash:.gitlog/run.yaml")
    # gitlog show counts it
    shown = json.loads(run_cli("show", "crash", "--format", "json", cwd=repo).stdout)
    assert shown["run"]["errors"] == 1


def test_log_sample_keeps_a_bounded_summarised_sample(repo: Path) -> None:
    import numpy as np
    import pandas as pd

    (repo / ".gitlog.yaml").write_text("samples:\n  size: 5\n")
    frame = pd.DataFrame({"age": [31, 45, None], "city": ["Oslo", "Rome", "Lima"]})
    with gitlog.start("smp", repo=repo) as run:
        for i in range(1000):
            run.log_sample("batch", inputs=np.full((64, 3, 32, 32), float(i)),
                           outputs={"pred": np.arange(4) + i, "label": i % 2}, step=i)
        run.log_sample("rows", inputs=frame, outputs="ok")
    got = [e for e in events(repo, run.commit) if e["message"].startswith("sample")]
    batches = [e for e in got if e["fields"]["sample"] == "batch"]
    assert len(batches) == 5
    indexes = [e["fields"]["index"] for e in batches]
    assert indexes == sorted(indexes) and max(indexes) > 5  # later calls can be kept
    first = batches[0]["fields"]
    assert first["offered"] == 1000
    assert first["inputs"]["shape"] == [64, 3, 32, 32]
    assert first["inputs"]["mean"] == first["inputs"]["min"] == batches[0]["step"]
    assert "values" not in first["inputs"]  # summarised, not dumped
    assert first["outputs"]["pred"]["values"] == [batches[0]["step"] + k for k in range(4)]
    [rows] = [e for e in got if e["fields"]["sample"] == "rows"]
    assert rows["fields"]["inputs"]["shape"] == [3, 2]
    assert rows["fields"]["inputs"]["nulls"] == 1
    assert rows["fields"]["inputs"]["head"][0] == {"age": 31.0, "city": "Oslo"}
    assert len(git(repo, "show", f"{run.commit}:.gitlog/events.jsonl")) < 20000


def test_reservoir_is_uniform_enough() -> None:
    import random

    counts = [0] * 10
    for seed in range(2000):
        pool = Reservoir(2, random.Random(seed))
        kept = []
        for i in range(10):
            slot = pool.slot()
            if slot is not None:
                if slot < len(kept):
                    kept[slot] = i
                else:
                    kept.append(i)
        for i in kept:
            counts[i] += 1
    # each of the 10 items is kept with probability 2/10 -> ~400 of 2000
    assert all(300 < c < 500 for c in counts), counts


def test_summarise_bounds_plain_values() -> None:
    assert summarise("x" * 1000).endswith("[truncated]")
    assert summarise(list(range(100)))["length"] == 100
    assert summarise(float("nan")) == "nan"
    assert summarise({"a": (1, 2)}) == {"a": [1, 2]}


def test_system_metrics_series(repo: Path) -> None:
    (repo / ".gitlog.yaml").write_text("system_metrics:\n  interval: 0.05\n")
    code = ("import time, gitlog\n"
            "with gitlog.start('sys', system_metrics=True) as run:\n"
            "    end = time.time() + 0.5\n"
            "    while time.time() < end:\n"
            "        sum(range(10000))\n")
    proc = run_python(code, repo)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(git(repo, "show", "exp/sys:.gitlog/metrics.json"))["system"]
    assert metrics["memory_mb"] > 5
    assert 0 < metrics["memory_percent"] < 100 and 0 < metrics["disk_percent"] <= 100
    assert metrics["cpu_percent"] >= 0
    rows = git(repo, "show", "exp/sys:.gitlog/metrics/system/memory_mb.tsv").splitlines()
    assert rows[0] == "timestamp\tstep\tmemory_mb" and len(rows) >= 3


def test_gitlog_run_system_metrics_and_missing_extra(repo: Path) -> None:
    (repo / ".gitlog.yaml").write_text("system_metrics:\n  interval: 0.05\n")
    (repo / "work.py").write_text("import time\nx = [0] * 5_000_000\ntime.sleep(0.5)\n")
    proc = run_cli("run", "-e", "sysrun", "--system-metrics", "--", "python", "work.py",
                   cwd=repo)
    assert proc.returncode == 0, proc.stderr
    rows = git(repo, "show", "exp/sysrun:.gitlog/metrics/system/memory_mb.tsv").splitlines()
    peak = max(float(r.split("\t")[2]) for r in rows[1:])
    assert peak > 30  # the child's 40 MB list, not gitlog's own process
    code = ("import sys; sys.modules['psutil'] = None\n"
            "import gitlog\n"
            "try:\n    gitlog.start('x', system_metrics=True)\n"
            "except gitlog.GitlogError as e:\n    print(e, '|', e.hint)\n")
    out = run_python(code, repo).stdout
    assert "need psutil" in out and "gitlog[monitor]" in out


def test_numpy_values_in_event_fields_stay_numbers(repo: Path) -> None:
    import numpy as np

    log = logging.getLogger("trainer.np")
    log.setLevel(logging.INFO)
    handler = gitlog.LoggingHandler()
    log.addHandler(handler)
    try:
        with gitlog.start("dbg", repo=repo) as run:
            run.warning("loss spike", loss=np.float64(3.5), batch=np.int64(12),
                        top=np.arange(3), ok=np.bool_(True), tags={"b", "a"},
                        big=np.zeros(100))
            for epoch in np.arange(2):  # an epoch from numpy sets the step too
                log.info("epoch done", extra={"step": epoch})
    finally:
        log.removeHandler(handler)
    got = events(repo, run.commit)
    assert got[0]["fields"] == {"loss": 3.5, "batch": 12, "top": [0, 1, 2], "ok": True,
                                "tags": ["a", "b"], "big": str(np.zeros(100))}
    assert [e["step"] for e in got[1:]] == [0, 1]
    out = run_cli("logs", "dbg", "--format", "json", "--grep", '"batch": 12', cwd=repo).stdout
    assert json.loads(out)[0]["fields"]["loss"] == 3.5
    table = run_cli("logs", "dbg", "--level", "warning", cwd=repo).stdout
    assert "loss=3.5, batch=12, top=[0, 1, 2], ok=true, tags=[\"a\", \"b\"]" in table


def test_a_float32_in_event_fields_is_the_number_it_prints(repo: Path) -> None:
    # lr=np.float32(0.1) was written as 0.10000000149011612 in events.jsonl
    import numpy as np

    with gitlog.start("dbg", repo=repo) as run:
        run.info("lr cut", lr=np.float32(0.1), grads=np.array([0.3, 0.7], dtype=np.float32))
    assert events(repo, run.commit)[0]["fields"] == {"lr": 0.1, "grads": [0.3, 0.7]}


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_exception_that_ends_a_thread_is_an_error_event(repo: Path) -> None:
    import threading

    def loader() -> None:
        raise RuntimeError("data loader crashed")

    with gitlog.start("dbg", repo=repo) as run:
        run.log_metric("loss", 1.0, step=4)
        worker = threading.Thread(target=loader, name="loader")
        worker.start()
        worker.join()
        run.log_metric("loss", 0.5, step=5)  # the main thread goes on: the run too
    assert run.status == "completed"
    got = events(repo, run.commit)
    assert [(e["level"], e["message"], e["step"]) for e in got] == [
        ("error", "thread loader: RuntimeError: data loader crashed", 4)]
    assert got[0]["fields"]["thread"] == "loader"
    assert got[0]["fields"]["exception"] == "RuntimeError"
    assert got[0]["fields"]["traceback"].endswith("RuntimeError: data loader crashed\n")
    shown = json.loads(run_cli("show", run.commit, "--format", "json", cwd=repo).stdout)
    assert shown["run"]["errors"] == 1


def test_logging_handler_keeps_the_records_extra_fields(repo: Path) -> None:
    import numpy as np

    log = logging.getLogger("trainer.extra")
    log.setLevel(logging.INFO)
    handler = gitlog.LoggingHandler()
    log.addHandler(handler)
    try:
        with gitlog.start("dbg", repo=repo) as run:
            log.warning("slow batch", extra={"batch": 7, "shape": np.array([2, 3]),
                                             "step": 3, "_private": "x"})
            log.info("where", stack_info=True)
    finally:
        log.removeHandler(handler)
    got = events(repo, run.commit)
    # the user's extras, JSON-safe; none of the LogRecord's own attributes
    assert got[0]["fields"] == {"logger": "trainer.extra", "batch": 7, "shape": [2, 3]}
    assert got[0]["step"] == 3
    assert sorted(got[1]["fields"]) == ["logger", "stack"]
    assert got[1]["fields"]["stack"].startswith("Stack (most recent call last):")
    table = run_cli("logs", run.commit, "--level", "warning", cwd=repo).stdout
    assert "logger=trainer.extra, batch=7, shape=[2, 3]" in table


def test_a_field_json_cannot_write_loses_no_event(repo: Path) -> None:
    """A tuple as a key (or a dict holding itself) made the flush fail: every event of
    that batch was lost, with one warning."""
    cyclic: dict = {"name": "cfg"}
    cyclic["self"] = cyclic
    with gitlog.start("dbg", repo=repo) as run:
        run.info("grid", best={(0.1, 32): 0.93})
        run.info("config", cfg=cyclic)
        run.info("after")
    got = events(repo, run.commit)
    assert [(e["message"], e["fields"]) for e in got] == [
        ("grid", {"best": {"(0.1, 32)": 0.93}}),
        ("config", {"cfg": {"name": "cfg", "self": "<cycle>"}}),
        ("after", {})]


def test_start_takes_loggings_level_numbers_and_fields_named_level_or_message(
        repo: Path) -> None:
    # start(level=logging.WARNING) crashed ('int' object has no attribute 'lower'), and
    # run.info('x', level=3) raised TypeError (got multiple values for argument 'level')
    with gitlog.start("dbg", repo=repo, level=logging.WARNING) as run:
        run.info("dropped")
        run.warning("curriculum", level=3, message="harder")
        gitlog.error("module-level", level=4)
        run.log("ERROR", "as logging names it")
    got = events(repo, run.commit)
    assert [(e["level"], e["message"], e["fields"]) for e in got] == [
        ("warning", "curriculum", {"level": 3, "message": "harder"}),
        ("error", "module-level", {"level": 4}),
        ("error", "as logging names it", {})]
    with pytest.raises(GitlogError, match="unknown log level 15") as err:
        gitlog.start("dbg", repo=repo, level=15)
    assert err.value.hint == ("use one of debug, info, warning, error, critical, or "
                              "logging.DEBUG ... logging.CRITICAL")


def test_log_sample_step_is_the_runs_step_when_offered(repo: Path) -> None:
    import numpy as np

    with gitlog.start("dbg", repo=repo) as run:
        run.log_metric("loss", 1.0, step=0)
        run.log_sample("early", inputs=[1])       # step 0 then, not the step at finish
        for i in np.arange(1, 3):                 # numpy steps, as for events
            run.log_sample("batch", inputs=[int(i)], step=i, name="n")
        run.log_metric("loss", 0.5, step=9)
        with pytest.raises(GitlogError, match="log_sample field 'index' is one gitlog "
                                              r"sets \(sample, index, offered\)") as err:
            run.log_sample("batch", index=99)
        assert err.value.hint == "name it otherwise, e.g. batch_index="
    got = events(repo, run.commit)
    assert [(e["message"], e["step"], e["fields"]["index"]) for e in got] == [
        ("sample early", 0, 1), ("sample batch", 1, 1), ("sample batch", 2, 2)]
    assert got[1]["fields"]["name"] == "n" and got[1]["fields"]["offered"] == 2


def test_captured_warnings_through_logging_are_recorded_once(repo: Path) -> None:
    # with logging.captureWarnings(True) and the handler, each warning was two events
    root = logging.getLogger()
    handler = gitlog.LoggingHandler()
    root.addHandler(handler)
    logging.captureWarnings(True)
    try:
        with gitlog.start("dbg", repo=repo) as run:
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.warn("lr is large", UserWarning, stacklevel=1)
            logging.getLogger("py.warnings").warning("a record of its own")
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
    got = events(repo, run.commit)
    assert [(e["message"], e["fields"].get("logger")) for e in got] == [
        ("UserWarning: lr is large", None), ("a record of its own", "py.warnings")]


USERS_HOOKS = """
import json, threading, warnings, gitlog
def loader():
    raise ValueError("bad batch")
with gitlog.start("w1") as first:
    warnings.warn("before the user's hook")
seen = []
previous, previous_thread_hook = warnings.showwarning, threading.excepthook
def mine(message, category, filename, lineno, file=None, line=None):
    seen.append(str(message))
    previous(message, category, filename, lineno, file, line)
def my_thread_hook(args):
    seen.append(repr(args.exc_value))
    previous_thread_hook(args)
warnings.showwarning, threading.excepthook = mine, my_thread_hook
with gitlog.start("w2") as second:
    warnings.warn("lr is large")
    thread = threading.Thread(target=loader, name="loader")
    thread.start()
    thread.join()
print(json.dumps([first.commit, second.commit, seen]))
"""


def test_a_users_hooks_between_runs_do_not_record_warnings_twice(repo: Path) -> None:
    # the second start() wrapped the user's showwarning (and threading.excepthook),
    # which calls on to the first start()'s: both recorded it, two events for one
    proc = run_python(USERS_HOOKS, repo, env={"PYTHONWARNINGS": "default"})
    assert proc.returncode == 0, proc.stderr
    first, second, seen = json.loads(proc.stdout)
    assert [e["message"] for e in events(repo, first)] == \
        ["UserWarning: before the user's hook"]
    assert [e["message"] for e in events(repo, second)] == [
        "UserWarning: lr is large", "thread loader: ValueError: bad batch"]
    assert seen == ["lr is large", "ValueError('bad batch')"]
    assert proc.stderr.count("UserWarning: lr is large") == 1
    assert proc.stderr.count("ValueError: bad batch") == 1


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_exception_whose_str_fails_is_recorded_and_raised_as_it_is(repo: Path) -> None:
    # gitlog's exit raised RuntimeError('no text') over the script's own exception, and
    # the error event named that one; a thread's was lost
    import threading

    def loader() -> None:
        raise Unprintable()

    with pytest.raises(Unprintable):
        with gitlog.start("dbg", repo=repo) as run:
            worker = threading.Thread(target=loader, name="loader")
            worker.start()
            worker.join()
            raise Unprintable()
    assert run.status == "failed"
    got = events(repo, run.commit)
    assert [(e["message"], e["fields"]["exception"]) for e in got] == [
        ("thread loader: Unprintable: <exception str() failed>", "Unprintable"),
        ("Unprintable: <exception str() failed>", "Unprintable")]


def test_filter_events_takes_the_events_the_query_api_returns(repo: Path) -> None:
    """The README names filter_events as the level filter for the queries; given
    gitlog.logs(...).events (Event objects, not dicts) it raised AttributeError."""
    with gitlog.start("dbg", repo=repo) as run:
        run.info("i")
        run.warning("w")
        run.error("e", code=3)
    listed = gitlog.logs("dbg", repo=repo).events
    assert [e.message for e in filter_events(listed, min_level="warning")] == ["w", "e"]
    assert [e.message for e in filter_events(listed, levels=["info"])] == ["i"]
