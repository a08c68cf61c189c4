"""Debugging logs as a practitioner reads them back with ``gitlog logs``."""

from __future__ import annotations

from pathlib import Path

import gitlog
from tests.conftest import run_cli


def test_a_huge_message_pads_no_other_row_of_the_table(repo: Path) -> None:
    """One event holding a tensor's repr (100,000 characters) padded every other row of
    the table and Markdown to its width: 100,000 events with one 10 MB message made a
    1 TB table. A message or fields cell wider than 200 columns is now written whole in
    its own row only."""
    huge = "tensor([" + "0.1234, " * 12_500 + "])"
    with gitlog.start("dbg", repo=repo) as run:
        run.warning("nan in batch", step=3, batch=7)
        run.error(huge, step=4, batch=8)
        run.warning("grad norm exploded", step=5, grad_norm=1e6, where="x" * 300)
    for fmt in ("table", "markdown"):
        lines = run_cli("logs", "dbg", "--format", fmt, cwd=repo).stdout.splitlines()
        assert len(lines) == 5
        assert [len(line) <= 460 for line in lines] == [True, True, True, False, False]
        assert huge in lines[3] and lines[3].rstrip(" |").endswith("batch=8")
        assert ("x" * 300) in lines[4]
    table = run_cli("logs", "dbg", cwd=repo).stdout.splitlines()
    assert table[2].rstrip() == (f"{table[2][:24]}  warning     3  nan in batch"
                                 + " " * 188 + "  batch=7")


def test_filter_events_levels_take_the_names_min_level_takes() -> None:
    """filter_events(events, levels=["WARN"]) kept nothing while min_level="WARN" kept
    the warnings: an exact level was compared as spelled ('warn'), not as gitlog names
    it ('warning'), so logging's spellings matched no event, without an error."""
    from gitlog.debugging import filter_events

    events = [{"level": "warning", "message": "a"}, {"level": "error", "message": "b"},
              {"level": "critical", "message": "c"}]
    assert filter_events(events, levels=["WARN"]) == events[:1]
    assert filter_events(events, levels=["Warning", "FATAL"]) == [events[0], events[2]]
    assert filter_events(events, min_level="WARN") == events
