"""Walking run commits: one ``git log`` over the commits that touch the log directory.

A commit holds a run when it changes ``<log_dir>/run.yaml`` or ``<log_dir>/metrics.json``.
The walk gives, per commit, its rewritten parents (the nearest walked ancestors: the
previous run on each line of history), its true first parent, date, author, subject and
``Gitlog-*`` trailers, the blob ids of the two run files, and (``--full-diff``) the code
files changed since its true first parent: when that parent is also the previous run, as
it is for every run gitlog commits, no ``git diff-tree`` is needed for the code-changes
column.

The output is ``--pretty=raw``, the one format that shows both the rewritten parents
(``commit`` line) and the true ones (``parent`` lines); it is parsed with a handful of
string operations a commit, while git is still walking.
"""

from __future__ import annotations

import codecs
import re
import subprocess
import time as _time
from collections.abc import Iterator

from .facts import Facts, log_paths
from .git import Repo

LOG_OPTIONS = ("log", "--parents", "--full-history", "--source", "-z", "--raw", "--full-diff",
               "--no-abbrev", "--no-abbrev-commit", "--no-renames",
               "--diff-merges=first-parent", "--pretty=raw", "--no-color", "--no-decorate",
               "--no-notes", "--no-show-signature")
_CHUNK = 1 << 16
_GENERATED = ("Signed-off-by: ", "(cherry picked from commit ")


class Node:
    """One walked commit: its parents within the walk, the ref it was reached from, its
    true first parent (``base``) and the code files changed since ``base``."""

    __slots__ = ("commit", "parents", "source", "base", "code")

    def __init__(self, commit: str, parents: tuple[str, ...], source: str,
                 base: str | None = None, code: list[str] | None = None) -> None:
        self.commit = commit
        self.parents = parents
        self.source = source
        self.base = base
        self.code = code

    def __repr__(self) -> str:
        return f"Node({self.commit[:10]}, parents={[p[:10] for p in self.parents]})"


class Record:
    """One walked commit: its ``Node``, its ``Facts`` as far as the walk knows them, and
    the new blob id of each run file ("" when deleted, None when unchanged)."""

    __slots__ = ("node", "facts", "metrics", "run")

    def __init__(self, node: Node, facts: Facts, metrics: str | None, run: str | None) -> None:
        self.node = node
        self.facts = facts
        self.metrics = metrics
        self.run = run


def walk(repo: Repo, log_dir: str, revs: list[str], *, first_parent: bool = False,
         no_walk: bool = False) -> Iterator[Record]:
    """Stream the commits of ``revs`` that touch the run files, newest first. git starts
    at once; the records are parsed as they are taken."""
    args = list(LOG_OPTIONS)
    if first_parent:
        args.append("--first-parent")
    if no_walk:
        args.append("--no-walk=unsorted")
    args += ["--end-of-options", *revs, "--", *log_paths(log_dir)]
    return _stream(repo.popen(*args), Parser(log_dir))


def _stream(proc: subprocess.Popen, parse: Parser) -> Iterator[Record]:
    assert proc.stdout and proc.stderr
    try:
        for text in _records(proc.stdout):
            yield parse(text)
    finally:
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait()
    if code != 0:
        from .errors import GitCommandError
        raise GitCommandError(["log"], code, err.decode(errors="replace"))


def _records(stdout: object) -> Iterator[str]:
    """The text of each commit (from its id on): records are split at NUL + 'commit '."""
    decode = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode
    read = stdout.read1  # type: ignore[attr-defined]  # what git wrote so far, not 64 KB
    pending = ""
    started = False
    while True:
        chunk = read(_CHUNK)
        text = pending + decode(chunk, not chunk)
        if not started:
            if len(text) < 7 and chunk:
                pending = text
                continue
            text = text[7:] if text.startswith("commit ") else text
            started = True
        parts = text.split("\0commit ")
        if len(parts) > 1:
            parts = _rejoin(parts)
        if not chunk:
            yield from (p for p in parts if p)
            return
        pending = parts.pop()  # (its start is checked: the part before it is whole)
        yield from parts


_START = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?[ \t\n][^\n]*\ntree ")


def _rejoin(parts: list[str]) -> list[str]:
    """A path that starts with 'commit ' also follows a NUL: glue back to the part before
    it any part that does not start like a record (an object id, then a 'tree' line),
    including one too short to tell yet."""
    out = [parts[0]]
    start = _START.match
    for part in parts[1:]:
        if start(part):
            out.append(part)
        else:
            out[-1] += "\0commit " + part
    return out


# One commit of --pretty=raw: the commit line (id, rewritten parents, tab, source), the
# headers (true parents, author, committer with its date, others), a blank line, and the
# message with every line indented by four spaces: the title is its lines up to the
# first blank one (exactly four spaces). What follows is the rest of the message, then
# (after a blank line) the --raw entries, ':meta NUL path NUL' each.
_RECORD = re.compile(
    r"([^\t\n]*)(?:\t([^\n]*))?\n"
    r"tree [^\n]*\n"
    r"(?:parent ([^\n]*)\n(?:parent [^\n]*\n)*)?"
    r"author ([^\n]*>)[^\n>]*\n"
    r"committer [^\n]*> (\d+) ([^\n]*)\n"
    r"(?:[^\n]+\n)*"
    r"\n"
    r"((?:    [^\n]+(?:\n|\Z))*)")
_ENTRIES = re.compile(r"(:[^\0]*)\0([^\0]*)\0")
_ALL_TRAILERS = re.compile(r"(?:    [A-Za-z0-9-]+[ \t]*:[^\n]*(?:\n|\Z))+\Z")
_GITLOG = re.compile(r"^    (Gitlog-[^\n:]*): [ \t]*([^\n]*(?<![ \t]))", re.M)
_NONE: dict[str, str] = {}
_CLOCK = [f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440)]
_SECONDS = [f"{s:02d}" for s in range(60)]


class Parser:
    """Turns one ``--pretty=raw`` record (from the commit id on) into a ``Record``."""

    def __init__(self, log_dir: str) -> None:
        self.run_path, self.metrics_path = log_paths(log_dir)
        self.log_dir = log_dir.rstrip("/")
        self.prefix = self.log_dir + "/"
        self.metrics_entry = f"\0{self.metrics_path}\0"
        self.run_entry = f"\0{self.run_path}\0"
        # every entry's path, but those inside the log directory
        self.code_entries = re.compile(
            r":[^\0]*\0(?:" + re.escape(self.prefix) + r"[^\0]*\0|([^\0]*)\0)")
        self.days: dict[int, str] = {}
        self.shared: dict[str, str] = {}  # one copy of the strings many commits repeat
        self.ids: dict[str, str] = {}  # parent ids whose commits are still to come
        self.zones: dict[str, tuple[int, str]] = {}

    def __call__(self, text: str) -> Record:
        m = _RECORD.match(text)
        if m is None:
            return self._odd(text)
        ids, source, base, author, ts, tz, title = m.groups()
        end = m.end()
        at = text.find("\n:", end - 1)
        metrics = run = None
        if at < 0:
            body = text[end:]
            code = []
        else:
            body = text[end:at]
            code = [p for p in self.code_entries.findall(text, at + 1) if p]
            if code and ("dvc.yaml" in code or self.log_dir in code or
                         any(p.startswith("dvc.yaml/") for p in code)):
                code = [p for p in code if p != "dvc.yaml" and p != self.log_dir and
                        not p.startswith("dvc.yaml/")]
            # an entry ends '<new id> <status>' (no renames: a one-letter status), then
            # NUL and its path
            i = text.find(self.metrics_entry, at)
            if i >= 0:
                metrics = "" if text[i - 1] == "D" else text[text.rfind(" ", at, i - 2) + 1:i - 2]
            i = text.find(self.run_entry, at)
            if i >= 0:
                run = "" if text[i - 1] == "D" else text[text.rfind(" ", at, i - 2) + 1:i - 2]
        return self._record(ids, source or "", base, author, int(ts), tz,
                            title.replace("\n    ", " ")[4:].rstrip("\n"), body, metrics, run,
                            code)

    def _record(self, ids: str, source: str, base: str | None, author: str, when: int,
                tz: str, subject: str, body: str, metrics: str | None, run: str | None,
                code: list[str]) -> Record:
        parts = ids.split(" ")
        # one string per commit id: a parent's id is kept once, in its child's node
        known = self.ids
        commit = known.pop(parts[0], parts[0])
        parents = tuple([known.setdefault(p, p) for p in parts[1:]])
        if parents and base == parents[0]:
            base = parents[0]
        if not author.isascii():
            author = _text(author)
        if not source.isascii():
            source = _text(source)
        shared = self.shared
        author = shared.setdefault(author, author)
        source = shared.setdefault(source, source)
        if not subject.isascii():
            subject = _text(subject)
        # the committer date as %cI shows it (strict ISO 8601, the committer's zone)
        zone = self.zones.get(tz)
        if zone is None:
            zone = self.zones[tz] = _zone(tz)
        day, sec = divmod(when + zone[0], 86400)
        date = self.days.get(day)
        if date is None:
            date = self.days[day] = _time.strftime("%Y-%m-%dT", _time.gmtime(day * 86400))
        date = date + _CLOCK[sec // 60] + _SECONDS[sec % 60] + zone[1]
        tags = _trailers(body if body.isascii() else _text(body)) \
            if "    Gitlog-" in body else _NONE
        if tags:
            get = tags.get
            experiment, status, code_commit = (get("Gitlog-Experiment"),
                                               get("Gitlog-Status"), get("Gitlog-Code"))
            if experiment:
                experiment = shared.setdefault(experiment, experiment)
            if status:
                status = shared.setdefault(status, status)
            facts = Facts(commit, when, date, author, subject, False, get("Gitlog-Run"),
                          experiment, status, code_commit)
        else:
            facts = Facts(commit, when, date, author, subject, False)
        return Record(Node(commit, parents, source, base, code), facts, metrics, run)

    def _odd(self, text: str) -> Record:
        """A record the pattern does not fit (a commit without author or committer line):
        the same fields, found line by line."""
        head, _, rest = text.partition("\n\n")
        lines = head.split("\n")
        ids, _, source = lines[0].partition("\t")
        base = next((line[7:] for line in lines if line.startswith("parent ")), None)
        author = next((line[7:line.rfind(">") + 1] for line in lines
                       if line.startswith("author ")), "")
        stamp = next((line[line.rfind(">") + 2:] for line in lines
                      if line.startswith("committer ")), "")
        ts, _, tz = stamp.partition(" ")
        end = rest.find("\n\n")
        msg, raw = (rest, "") if end < 0 else (rest[:end], rest[end + 2:])
        para = msg.find("\n    \n")
        title = msg if para < 0 else msg[:para]
        body = "" if para < 0 else msg[para + 1:]
        metrics = run = None
        code: list[str] = []
        items = raw.split("\0")
        for i in range(1, len(items), 2):
            path = items[i]
            if path == self.metrics_path:
                metrics = _new_blob(items[i - 1])
            elif path == self.run_path:
                run = _new_blob(items[i - 1])
            elif not path.startswith(self.prefix) and path not in ("dvc.yaml", self.log_dir) \
                    and not path.startswith("dvc.yaml/"):
                code.append(path)
        return self._record(ids, source, base, author, int(ts) if ts.isdigit() else 0, tz,
                            title.replace("\n    ", " ")[4:], body, metrics, run, code)


def _new_blob(meta: str) -> str:
    """The new blob id of a --raw entry (':old-mode new-mode old new status'); "" when
    the file was deleted."""
    old_new, new, status = meta.rsplit(" ", 2)
    return "" if status == "D" else new


def _zone(tz: str) -> tuple[int, str]:
    """(offset in seconds, '+hh:mm') of a raw '+hhmm' zone."""
    try:
        sign = -1 if tz[0] == "-" else 1
        return sign * (int(tz[1:3]) * 3600 + int(tz[3:5]) * 60), f"{tz[:3]}:{tz[3:5]}"
    except (IndexError, ValueError):
        return 0, "+00:00"


def _trailers(body: str) -> dict[str, str]:
    """``Gitlog-*`` trailers of a message's indented body (what follows its title), as
    ``%(trailers:only,unfold)`` finds them: in its last paragraph, which must be all
    trailers, or at least a quarter trailers with one that git itself writes."""
    body = "\n" + body.rstrip("\n")
    while body.endswith("\n    "):
        body = body[:-5]
    start = body.rfind("\n    \n")
    if start < 0:
        return {}
    block = body[start + 6:]
    found = _GITLOG.findall(block)
    if found and len(found) == block.count("\n") + 1 or _ALL_TRAILERS.match(block):
        return dict(found)  # the usual case: trailers only, none folded
    lines: list[str] = []
    trailers = others = 0
    generated = False
    for line in block.split("\n"):
        line = line[4:]
        if line[:1] in (" ", "\t"):
            if lines:
                lines[-1] += " " + line.strip()
            continue
        if line.startswith(_GENERATED):
            generated = True
            trailers += 1
            lines.append(line)
            continue
        token, sep, _ = line.partition(":")
        token = token.rstrip()
        if sep and token and token.isascii() and token.replace("-", "").isalnum():
            trailers += 1
            lines.append(line)
        else:
            others += 1
            lines.append("")
    if not trailers or (others and not (generated and trailers * 3 >= others)):
        return {}
    tags: dict[str, str] = {}
    for line in lines:
        if line[:7] == "Gitlog-":
            key, _, value = line.partition(": ")
            tags[key] = value.strip()
    return tags


def _text(value: str) -> str:
    """Undo surrogateescape for display: invalid UTF-8 shows as U+FFFD."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
