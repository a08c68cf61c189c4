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


def test_a_record_whose_arguments_do_not_fit_its_message_is_kept(repo: Path) -> None:
    """log.error("batch %d failed on %s", 7) (an argument short) raised inside logging's
    formatting: the LoggingHandler reported it on stderr and dropped the error from the
    run. It is now recorded as written, with its arguments and the formatting error."""
    import logging

    logger = logging.getLogger("train.qa")
    logger.propagate = False  # pytest's capture handler raises on the bad record itself
    handler = gitlog.LoggingHandler()
    logger.addHandler(handler)
    try:
        with gitlog.start("dbg", repo=repo) as run:
            logger.error("batch %d failed on %s", 7, extra={"step": 3})
            logger.warning("loss %.3f", 0.25)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    events = gitlog.logs(run.commit, repo=repo).events
    assert [(e.level, e.step, e.message, e.fields) for e in events] == [
        ("error", 3, "batch %d failed on %s",
         {"logger": "train.qa", "args": "(7,)",
          "format_error": "TypeError: not enough arguments for format string"}),
        ("warning", None, "loss 0.250", {"logger": "train.qa"})]
