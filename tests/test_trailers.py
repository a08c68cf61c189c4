"""Reading Gitlog-* trailers from a raw commit message, as git's own %(trailers) does."""

from __future__ import annotations

from pathlib import Path

from gitlog.trailers import TRAILER_KEYS, formatted, message_trailers
from tests.conftest import git, make_repo


def test_trailer_blocks_are_found_as_git_finds_them(tmp_path: Path) -> None:
    """message_trailers against git's own %(trailers) on awkward messages."""
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
    ]
    repo = make_repo(tmp_path / "p")
    fmt = "%(trailers:" + ",".join(f"key={k}" for k in TRAILER_KEYS) + \
        ",unfold,separator=%x1e)"
    for message in messages:
        (repo / "n.txt").write_text(message)
        git(repo, "add", "n.txt")
        git(repo, "commit", "-q", "--cleanup=verbatim", "-m", message)
        out = git(repo, "log", "-1", f"--format={fmt}").rstrip("\n")
        assert message_trailers(message) == (formatted(out) if out else {}), message
