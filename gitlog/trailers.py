"""A run commit's ``Gitlog-*`` trailers (run id, experiment, status, code commit).

The walk asks ``git log`` for them (``%(trailers:...)``); ``run_fields`` reads them from a
raw commit object, as ``git cat-file`` answers it, for a run that has no run.yaml: git
finds the trailer block either way.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from pathlib import Path

TRAILER_KEYS = ("Gitlog-Run", "Gitlog-Experiment", "Gitlog-Status", "Gitlog-Code")
_CANON = {k.lower(): k for k in TRAILER_KEYS}
_KEYS = frozenset(TRAILER_KEYS)


def run_trailers(tags: dict[str, str]) -> tuple[str | None, str | None, str | None,
                                                str | None]:
    """(run id, experiment, status, code commit) of a commit's ``Gitlog-*`` trailers."""
    get = tags.get
    return (get("Gitlog-Run"), get("Gitlog-Experiment"), get("Gitlog-Status"),
            code_commit(get("Gitlog-Code")))


def code_commit(value: str | None) -> str | None:
    """The code commit a run records; 'none' (no commit yet) is None."""
    return None if value == "none" else value


def formatted(text: str) -> dict[str, str]:
    """``Gitlog-*`` trailers as ``git log`` formats them ('Key: value' each, separated by
    0x1e, values unfolded), keyed by their canonical spelling; the last one wins when a
    key repeats, whatever its case."""
    pairs = [item.split(": ", 1) for item in text.split("\x1e") if ": " in item]
    tags = dict(pairs)
    if not _KEYS.issuperset(tags):  # written in another case: 'gitlog-run'
        tags = {_CANON.get(k.lower(), k): v for k, v in pairs}  # the last one wins
    return tags


def run_fields(commit_object: bytes, cwd: str | Path) -> dict[str, str]:
    """What a raw commit's trailers say of its run, with run.yaml's keys (``id``,
    ``experiment``, ``status``, ``code_commit``); a key the message lacks is absent.
    git finds the trailer block (``git interpret-trailers --parse``), as it does for
    ``git log``'s ``%(trailers)``."""
    from .git import message_trailers

    _, _, message = commit_object.partition(b"\n\n")
    tags: dict[str, str] = {}
    for key, value in message_trailers(message, cwd):
        canon = _CANON.get(key.lower())
        if canon is not None:
            tags[canon] = value  # the last one wins, as in formatted
    keys = ("id", "experiment", "status", "code_commit")
    return {k: v for k, v in zip(keys, run_trailers(tags), strict=True) if v is not None}
