"""Starting the git walk of ``gitlog history`` while the CLI is still loading.

Loading click and the command takes ~40 ms; a cold history's git processes need that much
again before the first run arrives (git sorts the walk oldest first before it writes a
line). So the CLI calls ``begin`` before it imports click: when the command line is a
plain ``gitlog history`` (``--all`` or no revisions) and the index does not hold that walk
yet, the git processes start at once. The command takes them with ``take`` when it asks
for exactly that walk; anything else (other arguments, a cached walk, an error) leaves
them to be stopped at exit. It only ever saves time: what is shown is what the command
would have walked itself, a few milliseconds earlier.
"""

from __future__ import annotations

import atexit
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .walk import Answers

_VALUES = {"-m", "--metric", "--step", "--since", "--until", "-n", "--max-count", "--format",
           "-C", "--repo"}
_FLAGS = {"--all", "--first-parent"}


class Started:
    """A walk started early: what it walks, where that pointed, and its answers."""

    def __init__(self, root: str, revs: tuple[str, ...], all_: bool, first_parent: bool,
                 tokens: list[str], resolved: str, answers: Answers) -> None:
        self.request = (root, revs, all_, first_parent)
        self.tokens = tokens
        self.resolved = resolved
        self.answers = answers


_started: list[Started] = []


def begin(argv: list[str]) -> None:
    """Start the walk ``argv`` (``sys.argv``) asks for, if it is a history that can be
    started early; never fails."""
    try:
        request = _history_request(argv)
        if request is not None:
            _start(*request)
    except Exception:  # noqa: BLE001  # best effort: the command walks by itself
        return


def take(root: str, revs: tuple[str, ...], all_: bool, first_parent: bool) -> Started | None:
    """The walk started for exactly this request, if any (given once)."""
    for started in _started:
        if started.request == (root, tuple(revs), all_, first_parent):
            _started.remove(started)
            return started
    return None


def _history_request(argv: list[str]) -> tuple[str, bool, bool] | None:
    """(repo path, --all, --first-parent) of a ``gitlog history`` command line that names
    no revision; None for anything else."""
    if len(argv) < 2 or os.path.basename(argv[0]) not in ("gitlog", "__main__.py"):
        return None
    args = argv[1:]
    while args and args[0] == "--debug":
        args = args[1:]
    if not args or args[0] != "history":
        return None
    repo, all_, first_parent = ".", False, False
    i = 1
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if arg in _FLAGS:
            all_ = all_ or arg == "--all"
            first_parent = first_parent or arg == "--first-parent"
        elif name in _VALUES and (eq or i + 1 < len(args)):
            if not eq:
                i += 1
                value = args[i]
            if name in ("-C", "--repo"):
                repo = value
        else:  # a revision, --regressions, a short option run together, ...
            return None
        i += 1
    return repo, all_, first_parent


def _start(path: str, all_: bool, first_parent: bool) -> None:
    from .config import load
    from .git import Repo
    from .historyrows import tip_name
    from .runlog import resolve, targets, walk_base
    from .walk import answers

    repo = Repo(path)
    config = load(repo.root)
    tokens, resolved = targets(repo, config, (), all_)
    if not tokens:
        return
    resolved = resolve(repo, tokens, resolved)
    base = walk_base(repo, config, tokens, first_parent)
    if _known(repo.gitlog_dir, base + "\x1e" + resolved, tip_name(base)):
        return  # a warm query, or one that adds the runs since the last walk
    started = Started(str(repo.root), (), all_, first_parent, tokens, resolved,
                      answers(repo, config.log_dir, tokens, first_parent=first_parent,
                              oldest_first=True))
    if not _started:
        atexit.register(_stop)
    _started.append(started)


def _known(gitlog_dir: object, key: str, tip: str) -> bool:
    """Whether the index holds walk ``key``, or a walk of the same revisions to add to
    (read-only: a query that needs no whole walk starts no git)."""
    import sqlite3

    from .index import FILE

    path = os.path.join(str(gitlog_dir), FILE)
    if not os.path.exists(path):
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1)
        try:
            return bool(db.execute("SELECT 1 FROM walks WHERE key = ?", (key,)).fetchall() or
                        db.execute("SELECT 1 FROM columns WHERE key = ?", (tip,)).fetchall())
        finally:
            db.close()
    except sqlite3.Error:
        return False


def _stop() -> None:
    """Stop the walks nobody took."""
    for started in _started:
        started.answers.close()
    _started.clear()
