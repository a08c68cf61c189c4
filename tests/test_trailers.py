"""Reading Gitlog-* trailers from a raw commit object (a run without run.yaml) finds what
the walk's ``git log --format=%(trailers)`` finds."""

from __future__ import annotations

from pathlib import Path

from gitlog.git import Repo
from gitlog.trailers import TRAILER_KEYS, formatted, run_fields, run_trailers
from tests.conftest import git, make_repo


def test_trailer_blocks_are_found_as_git_finds_them(tmp_path: Path) -> None:
    """run_fields against git log's %(trailers) on awkward messages."""
    messages = [
        "T\n\nGitlog-Run: a\n", "T\n\nGitlog-Run: a\n\n\n", "Gitlog-Run: a\n",
        "T\nGitlog-Run: a\n", "T\n\nGitlog-Run: a\nprose\n",
        "T\n\nGitlog-Run: a\nprose\n(cherry picked from commit 1234)\n",
        "T\n\nGitlog-Run: a\nSigned-off-by: A <a@b>\nprose\nmore prose\nand more\n",
        "T\n\nGitlog-Run : spaced\n", "T\n\n  lead\nGitlog-Run: a\n",
        "T\n\nGitlog-Run: a\n# comment\n  not folded\n",
        "T\n\nGitlog-Run: a\n  b\n\tc\n", "T\n\nGitlog-Run: a\ngitlog-run: b\n",
        "T\n\ngitlog-run: a\nGitlog-Run: b\ngitlog-run: c\n",
        "T\n\nhttp://example.com\nGitlog-Run: a\n", "T\n\n:x\nGitlog-Run: a\n",
        "T\n\nGitlog-Code: none\nGitlog-Status: killed\nGitlog-Experiment: e\n",
        "T\n\nGitlog-Run: a\n\n# trailing comment\n",
        "T\n\n---\nGitlog-Run: a\nGitlog-Experiment: e\n",
    ]
    repo = make_repo(tmp_path / "p")
    fmt = "%(trailers:" + ",".join(f"key={k}" for k in TRAILER_KEYS) + \
        ",unfold,separator=%x1e)"
    for message in messages:
        (repo / "n.txt").write_text(message)
        git(repo, "add", "n.txt")
        git(repo, "commit", "-q", "--cleanup=verbatim", "-m", message)
        out = git(repo, "log", "-1", f"--format={fmt}").rstrip("\n")
        expected = run_trailers(formatted(out)) if out else (None,) * 4
        with Repo(repo).cat_file() as cat:
            found = run_fields(cat.read("HEAD")[1], repo)  # type: ignore[index]
        assert tuple(found.get(k) for k in ("id", "experiment", "status", "code_commit")) \
            == expected, message
