"""The exception hierarchy: every expected failure is a GitlogError.

Each subclass builds its own message and keeps the facts as attributes; the CLI prints
``Error: <message>`` and, where a fix is known, ``hint: <hint>``.
"""

from __future__ import annotations


class GitlogError(Exception):
    """Base of every error gitlog raises on purpose."""

    hint: str | None = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint
            # A traceback (a training script's, the run's error event) shows the fix
            # too, as the CLI's "hint:" line does (Python 3.11+).
            if hasattr(self, "add_note"):
                self.add_note(f"hint: {hint}")

    def __str__(self) -> str:
        return self.message


class NotARepoError(GitlogError):
    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"not a git repository: {path}",
            hint=f"run 'git init' in {path} first, or pass the repository's path",
        )


class NoWorkTreeError(GitlogError):
    """A bare repository (or a folder inside ``.git``): gitlog needs a checkout."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"gitlog needs a working tree: {path} is a bare repository or "
                         "inside a .git folder",
                         hint=f"clone it (git clone {path} DIR) or add a worktree "
                              f"(git -C {path} worktree add DIR BRANCH), and run gitlog there")


def _untrusted(stderr: str) -> str | None:
    """The repository git's stderr says it refuses as another user's (git's
    ``safe.directory`` check), None when it says nothing of that."""
    marker = "dubious ownership in repository at '"
    start = stderr.find(marker)
    if start < 0:
        return None
    line = stderr[start + len(marker):].split("\n", 1)[0]
    return line[:-1] if line.endswith("'") else line


def _trust_hint(path: str) -> str:
    quoted = path if all(c.isalnum() or c in "@%+=:,./-_" for c in path) else \
        "'" + path.replace("'", "'\"'\"'") + "'"
    return (f"if you trust it: git config --global --add safe.directory {quoted} "
            "(or make yourself its owner)")


class UntrustedRepoError(GitlogError):
    """git refuses a repository another user owns (``safe.directory``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"git refuses {path}: another user owns it (git's safe.directory "
                         "check)", hint=_trust_hint(path))


def locating_error(path: str, stderr: str, returncode: int = 128) -> GitlogError:
    """The error for git failing to find the repository at ``path``."""
    if "must be run in a work tree" in stderr:
        return NoWorkTreeError(path)
    untrusted = _untrusted(stderr)
    if untrusted is not None:
        return UntrustedRepoError(untrusted or path)
    if "not a git repository" in stderr:
        return NotARepoError(path)
    return GitCommandError(["rev-parse"], returncode, stderr)


def git_failure(stderr: str) -> str:
    """The line of git's stderr that says what failed: the first ``fatal:`` or ``error:``
    one, without that prefix (lines after it are advice, such as "Please make sure you have
    the correct access rights / and the repository exists."), else the last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        for prefix in ("fatal: ", "error: "):
            if line.startswith(prefix):
                return line[len(prefix):]
    return lines[-1] if lines else ""


class GitCommandError(GitlogError):
    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        self.args_ = args
        self.returncode = returncode
        self.stderr = stderr
        last = git_failure(stderr) or f"exit {returncode}"
        untrusted = _untrusted(stderr)
        super().__init__(f"git {' '.join(args[:2])} failed: {last}",
                         hint=None if untrusted is None else _trust_hint(untrusted))


class ConfigError(GitlogError):
    def __init__(self, path: str, problem: str, line: int | None = None,
                 column: int | None = None) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = f"{path}:{line}:{column}" if line is not None else path
        super().__init__(f"invalid config {where}: {problem}",
                         hint=f"fix {path} (or delete it and run 'gitlog init')")


class NameError_(GitlogError):
    """A metric, param or experiment name that cannot be stored."""

    def __init__(self, kind: str, name: str, problem: str, hint: str | None = None) -> None:
        self.kind = kind
        self.name = name
        shown = name if len(name) <= 60 else name[:57] + "..."
        super().__init__(f"invalid {kind} name {shown!r}: {problem}", hint=hint)


class MetricValueError(GitlogError):
    def __init__(self, metric: str, value: object) -> None:
        self.metric = metric
        self.value = value
        shown = " ".join(repr(value).split())  # one line: an array's repr has several
        if len(shown) > 40:
            shown = shown[:37] + "..."
        count, shape = _size_of(value)
        if count is not None and count != 1:  # .item() would fail as well: say what to do
            super().__init__(
                f"metric {metric!r} got {count} values, not one number: {shown} "
                f"({type(value).__name__} of shape {shape})",
                hint=f"log one number (x.mean(), x.max()), or each value as a metric of "
                     f"its own ({metric}/0, {metric}/1, ...)")
            return
        super().__init__(
            f"metric {metric!r} got a non-numeric value {shown} ({type(value).__name__})",
            hint="log an int or float (use float(x) or tensor.item())",
        )


def _size_of(value: object) -> tuple[int | None, list[int]]:
    """How many values an array or tensor holds, and its shape; (None, []) for others."""
    shape = getattr(value, "shape", None)
    try:
        dims = [int(d) for d in shape] if shape is not None else None
    except (TypeError, ValueError):
        dims = None
    if dims is None and isinstance(value, (list, tuple)):
        dims = [len(value)]
    if dims is None:
        return None, []
    count = 1
    for d in dims:
        count *= d
    return count, dims


class RunStateError(GitlogError):
    pass


def no_active_run() -> RunStateError:
    """Logging with no run in the process (a spawned worker's parent may have one)."""
    return RunStateError("no active run in this process",
                         hint="call gitlog.start() first; in a spawned worker too, and run "
                              "the script with 'gitlog run' to log every process into one run")


class RevisionError(GitlogError):
    def __init__(self, rev: str, problem: str = "no run found", hint: str | None = None) -> None:
        self.rev = rev
        super().__init__(f"{problem}: {rev}", hint=hint or "list runs with 'gitlog ls'")


class AmbiguousExperimentError(RevisionError):
    """An experiment with no local branch that several remotes have."""

    def __init__(self, name: str, branches: list[str], prefix: str = "exp/") -> None:
        self.name = name
        self.branches = branches  # REMOTE/<prefix>NAME, one per remote
        super().__init__(name, "experiment is on several remotes and has no local branch "
                         f"({', '.join(branches)})",
                         hint=f"name one, e.g. {branches[0]}, or make it local: git branch "
                              f"{prefix}{name} {branches[0]}")


class CommandNotFoundError(GitlogError):
    def __init__(self, command: str, problem: str = "command not found",
                 hint: str = "check the spelling, or give the full path to the program"
                 ) -> None:
        self.command = command
        super().__init__(f"{problem}: {command}", hint=hint)
