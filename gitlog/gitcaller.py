"""Which ``git commit`` runs this hook: is it ``--amend``?

git tells a commit-msg hook nothing about an amend: the message file, the index and the
environment are the same as for a new commit, yet the new commit's parent is HEAD's
parent, not HEAD. So the hook reads the command line of the git process that runs it
(``/proc``, where there is one), walking up a few processes for hook managers (the
pre-commit framework, ``gitlog hooks run``) that sit between git and gitlog. Kept light:
imported by the commit-msg hook.
"""

from __future__ import annotations

import os

_DEPTH = 6  # git -> shim / hook manager -> ... -> this process
# commit's options that take the next argument as their value ('-m --amend' is a message)
_VALUED = frozenset(("-m", "-F", "-C", "-c", "-t", "--message", "--file", "--author",
                     "--date", "--reuse-message", "--reedit-message", "--fixup",
                     "--squash", "--template", "--cleanup", "--trailer",
                     "--pathspec-from-file"))


def amending(pid: int | None = None) -> bool | None:
    """True: the ``git commit`` running this process amends HEAD; False: it does not;
    None: no git process found (no ``/proc``, or not run by git)."""
    pid = os.getppid() if pid is None else pid
    for _ in range(_DEPTH):
        argv = _cmdline(pid)
        if argv is None:
            return None
        if argv and os.path.basename(argv[0]) in ("git", "git.exe"):
            return amend_flag(argv[1:])
        pid = _parent(pid)
        if pid <= 1:
            return None
    return None


def amend_flag(args: list[str]) -> bool:
    """Whether git's arguments (after ``git``) ask for ``--amend``: the last of
    ``--amend`` / ``--no-amend`` (or an unambiguous start of them) before ``--``."""
    amend = False
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--":
            break
        elif arg in _VALUED:
            skip = True
        elif len(arg) >= 4 and "--amend".startswith(arg):
            amend = True
        elif len(arg) >= 7 and "--no-amend".startswith(arg):
            amend = False
    return amend


def _cmdline(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    return [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0")[:-1]]


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return 0
    # 'pid (comm) state ppid ...': comm may hold spaces and parentheses
    fields = stat[stat.rfind(b")") + 2:].split()
    return int(fields[1]) if len(fields) > 1 else 0
