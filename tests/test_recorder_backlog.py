"""A loop that logs faster than the journal is written: the buffer stays bounded and no
point is lost or reordered."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import gitlog
from gitlog import recorder
from gitlog.errors import RunStateError
from tests.conftest import git


def series(repo: Path, commit: str, name: str) -> list[tuple[int, float]]:
    rows = git(repo, "show", f"{commit}:.gitlog/metrics/{name}.tsv").splitlines()[1:]
    return [(int(r.split("\t")[1]), float(r.split("\t")[2])) for r in rows]


def test_a_loop_that_outruns_the_writer_drains_the_buffer_itself(repo: Path) -> None:
    # every point stayed in memory until the next flush: GBs at millions of points a second
    run = gitlog.start("fast", repo=repo, flush_interval=3600)
    run._recorder.limit = 1_000
    for i in range(5_000):
        run.log_metric("loss", float(i))
    deadline = time.monotonic() + 30  # the flusher looks every 0.1 s
    while run._append == run._recorder.append and time.monotonic() < deadline:
        time.sleep(0.05)
    largest = 0
    for i in range(5_000, 20_000):
        run.log_metric("loss", float(i))
        largest = max(largest, len(run._recorder.queue))
    run.finish()
    assert largest < 1_000
    assert series(repo, run.commit, "loss") == [(i, float(i)) for i in range(20_000)]
    with pytest.raises(RunStateError):  # finished: the draining append is gone too
        run.log_metric("loss", 1.0)


def test_a_large_buffer_is_written_in_chunks_in_order(repo: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder, "CHUNK", 7)
    with gitlog.start("chunks", repo=repo, flush_interval=3600) as run:
        for i in range(50):
            run.log_metric("loss", float(i))
            if i % 10 == 9:
                run.info(f"at {i}")
        run.log_metric("acc", float("nan"))
    assert series(repo, run.commit, "loss") == [(i, float(i)) for i in range(50)]
    events = [json.loads(x) for x in git(repo, "show", f"{run.commit}:.gitlog/events.jsonl")
              .splitlines()]
    assert [(e["message"], e["step"]) for e in events] == [
        ("at 9", 9), ("at 19", 19), ("at 29", 29), ("at 39", 39), ("at 49", 49),
        ("metric 'acc' is nan at step 0; recorded as is", 0)]
