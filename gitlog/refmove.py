"""Why ``git update-ref`` did not move a run's branch: another writer moved it first (try
again), a lock file (another git process: wait, unless it stays while the branch stands
still) or a refusal (a ``reference-transaction`` hook, permissions, a full disk), which
no retry changes: 200 of them took over a minute, then said the attempts were 'lost to
other writers'."""

from __future__ import annotations

import re

from .errors import GitlogError

# what git says of a refusal that trying again will not change; anything else is taken
# for another writer's doing (the branch moved, a lock), and tried again
REFUSALS = ("aborted by hook", "Permission denied", "Read-only file system",
            "No space left on device", "Disk quota exceeded")
STALE_LOCK = 5.0  # seconds a lock file may stay while the branch does not move


def lock_file(why: str) -> str | None:
    """The lock file git could not create, when that is why it failed."""
    found = re.search(r"Unable to create '(.+?\.lock)': File exists", why)
    return found.group(1) if found else None


def refusal(why: str) -> str | None:
    """git's reason, on one line, when ``why`` (its stderr) is a refusal."""
    if not any(known in why for known in REFUSALS):
        return None
    lines = (line.strip().removeprefix("fatal: ").removeprefix("error: ")
             for line in why.splitlines())
    text = "; ".join(dict.fromkeys(line for line in lines if line))
    return text if len(text) <= 300 else text[:297] + "..."


def refused(ref: str, why: str) -> GitlogError:
    return GitlogError(f"could not move {ref}: git refused the update: {why}",
                       hint="run 'gitlog recover' to commit the run once git accepts it")


def stale_lock(ref: str, lock: str) -> GitlogError:
    return _locked(f"could not move {ref}", lock, "; then run 'gitlog recover' to commit "
                                                  "the run")


def _locked(what: str, lock: str, then: str) -> GitlogError:
    """A lock file that stays: another git process's, or a crashed one's."""
    return GitlogError(f"{what}: {lock} exists (a git process still running holds it, or "
                       "one that crashed left it)",
                       hint=f"if no git process is running, delete {lock}{then}")


def blocked(ref: str, why: str, action: str) -> GitlogError | None:
    """For a command that moves ``ref`` once (``exp new``, ``exp promote``, ``pull``): the
    error when ``why`` (git's stderr) is a lock file or a refusal, as git's own commands
    stop at them; None when another writer moved the branch first."""
    lock = lock_file(why)
    if lock is not None:
        return _locked(f"could not {action}", lock, ", then try again")
    reason = refusal(why)
    if reason is not None:
        return GitlogError(f"could not {action}: git refused to move {ref}: {reason}",
                           hint="fix what git names, then try again")
    return None
