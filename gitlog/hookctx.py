"""What every hook policy gets: the repository, the configuration, the index git uses.

Kept light (no pathlib, subprocess, dataclasses, typing or YAML): it is imported by
every hook of every commit.
"""

from __future__ import annotations

import os

from .errors import GitlogError
from .gitproc import LiteRepo

VALIDATING = ("pre-commit", "commit-msg", "pre-push")
RECORDING = ("post-commit", "post-checkout", "post-merge")
HOOK_NAMES = VALIDATING + RECORDING


class Problem:
    """One reason a validating hook refuses, and the command that fixes it."""

    __slots__ = ("message", "hint")

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint

    def __repr__(self) -> str:
        return f"Problem({self.message!r}, hint={self.hint!r})"


class HookRefused(GitlogError):
    """A validating hook says no; ``problems`` holds every reason found."""

    def __init__(self, hook: str, problems: list[Problem]) -> None:
        self.hook = hook
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first.message + more, hint=first.hint)


class HookContext:
    """The repository a hook runs in, its config data and the index git is committing.

    ``index_file`` is git's ``GIT_INDEX_FILE`` for this hook: ``git commit -a`` and
    ``git commit PATH`` commit a temporary index, and the checks must read that one.
    """

    __slots__ = ("hook", "repo", "data", "index_file", "_config")

    def __init__(self, hook: str, repo: LiteRepo, data: dict,
                 index_file: str | None = None) -> None:
        self.hook = hook
        self.repo = repo
        self.data = data
        self.index_file = index_file
        self._config = None

    @classmethod
    def open(cls, hook: str, path: str = ".", index_file: str | None = None) -> HookContext:
        from .configcache import load_data

        repo = LiteRepo(path)
        return cls(hook, repo, load_data(repo.root, repo.gitlog_dir), index_file)

    @property
    def log_dir(self) -> str:
        return str(self.data["log_dir"])

    @property
    def hooks(self) -> dict:
        return self.data["hooks"]  # type: ignore[no-any-return]

    def config(self):  # type: ignore[no-untyped-def]
        """The full ``Config`` object (imports config.py; for the slower paths)."""
        if self._config is None:
            from pathlib import Path

            from .config import CONFIG_FILE, Config

            self._config = Config(self.data, Path(self.repo.root, CONFIG_FILE))
        return self._config

    def index_env(self) -> dict[str, str] | None:
        return {"GIT_INDEX_FILE": self.index_file} if self.index_file else None

    def git(self, *args: str, check: bool = True) -> str:
        """A git command that sees the index being committed."""
        return self.repo.git(*args, env=self.index_env(), check=check)

    def head_branch(self) -> str | None:
        """Full ref HEAD points at (``refs/heads/...``), None when detached."""
        try:
            with open(os.path.join(self.repo.git_dir, "HEAD"), encoding="utf-8",
                      errors="surrogateescape") as fh:
                text = fh.read().strip()
        except OSError:
            return None
        return text[5:].strip() if text.startswith("ref: ") else None

    def experiment_of(self, branch: str | None) -> str | None:
        """The experiment a branch holds, or None for other branches."""
        prefix = "refs/heads/" + str(self.data["experiment_prefix"])
        if branch and branch.startswith(prefix) and len(branch) > len(prefix):
            return branch[len(prefix):]
        return None

    def in_progress(self, name: str) -> bool:
        """Whether ``MERGE_HEAD``, ``rebase-merge`` ... exists in the git directory."""
        return os.path.exists(os.path.join(self.repo.git_dir, name))

    def user_path(self, path: str) -> str:
        """``path`` (from the top of the work tree) as a command typed where the user
        ran git takes it: hooks run at the top, git names the user's folder in
        ``GIT_PREFIX`` (``gitlog hooks run`` is where it was started)."""
        prefix = os.environ.get("GIT_PREFIX")
        if prefix is None:
            prefix = os.path.relpath(os.getcwd(), self.repo.root)
            if prefix == "." or prefix.startswith(".."):
                return path
        prefix = prefix.strip("/")
        return os.path.relpath(path or ".", prefix) if prefix else path

    def under_log_dir(self, path: str) -> bool:
        return path == self.log_dir or path.startswith(self.log_dir + "/")

