"""A run commit's ``Gitlog-*`` trailers (run id, experiment, status, code commit).

The walk asks ``git log`` for them (``%(trailers:...)``); ``run_fields`` reads them from a
raw commit object, as ``git cat-file`` answers it, for a run that has no run.yaml. It
finds the block as git's ``trailer.c`` does: the message's last paragraph, never the
title, when every line of it is a ``Key: value`` trailer (or continues one with leading
blanks), or at least a quarter are and one is git's own (``Signed-off-by: ``,
``(cherry picked from commit ``).
"""

from __future__ import annotations

TRAILER_KEYS = ("Gitlog-Run", "Gitlog-Experiment", "Gitlog-Status", "Gitlog-Code")
_CANON = {k.lower(): k for k in TRAILER_KEYS}
_KEYS = frozenset(TRAILER_KEYS)
_GIT_PREFIXES = ("Signed-off-by: ", "(cherry picked from commit ")
_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


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


def run_fields(commit_object: bytes) -> dict[str, str]:
    """What a raw commit's trailers say of its run, with run.yaml's keys (``id``,
    ``experiment``, ``status``, ``code_commit``); a key the message lacks is absent."""
    _, _, message = commit_object.partition(b"\n\n")
    values = run_trailers(message_trailers(message.decode("utf-8", "replace")))
    keys = ("id", "experiment", "status", "code_commit")
    return {k: v for k, v in zip(keys, values, strict=True) if v is not None}


def message_trailers(message: str) -> dict[str, str]:
    """The ``Gitlog-*`` trailers of a commit message (canonical key -> unfolded value;
    the last one wins when a key repeats)."""
    tags: dict[str, str] = {}
    key = None
    for line in _block(message.split("\n")):
        if line.startswith("#"):  # a comment: no trailer, and continues none
            key = None
            continue
        if line[:1].isspace():  # continues the previous trailer, unfolded by one blank
            if key is not None and line.strip():
                tags[key] = f"{tags[key]} {line.strip()}".strip()
            continue
        sep = _separator(line)
        key = _CANON.get(line[:sep].strip().lower()) if sep > 0 else None
        if key is not None:
            tags[key] = line[sep + 1:].strip()
    return tags


def _block(lines: list[str]) -> list[str]:
    """The lines of the message's trailer block ([] when it has none)."""
    title_end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    end = len(lines)
    while end > title_end and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    start = end
    while start > title_end and lines[start - 1].strip():
        start -= 1
    if start <= title_end:  # the title paragraph is never trailers
        return []
    trailers = others = 0
    owner = None  # the kind of line a continuation line continues
    recognised = False
    for line in lines[start:end]:
        if line.startswith("#"):  # not counted; what continues it is not a trailer
            owner = "comment"
            continue
        if line[0].isspace():
            others += owner != "trailer"  # as git counts: a trailer's own lines are free
            continue
        git_own = line.startswith(_GIT_PREFIXES)
        recognised = recognised or git_own
        owner = "trailer" if git_own or _separator(line) >= 1 else "other"
        trailers += owner == "trailer"
        others += owner == "other"
    if (trailers and not others) or (recognised and trailers * 3 >= others):
        return lines[start:end]
    return []


def _separator(line: str) -> int:
    """Where a trailer line's ':' is (after a key of letters, digits and '-', and maybe
    blanks), else -1."""
    blank = False
    for i, char in enumerate(line):
        if char == ":":
            return i
        if not blank and char in _TOKEN:
            continue
        if i and char in " \t":
            blank = True
            continue
        break
    return -1
