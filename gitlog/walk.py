"""Walking run commits: ``git log`` piped straight into ``git cat-file --batch``.

A commit holds a run when it changes ``<log_dir>/run.yaml`` or ``<log_dir>/metrics.json``.
``git log`` walks only those commits (path-limited, parents rewritten to the nearest walked
ones: the previous run on each line of history) and writes, per commit, two requests for
``git cat-file``: its root tree, carrying the commit's fields after it (``%(rest)``), and
its ``metrics.json``. The two git processes are joined by an OS pipe, so git formats,
parses trailers and reads objects in C on the other core while Python only splits what
comes out; nothing waits on a per-commit round trip.

The root tree gives the code's identity: the tree without the log directory and
``dvc.yaml``. Two runs with the same identity ran the same code, and no diff is needed for
the code-changes column; only runs whose code differs are diffed, by one
``git diff-tree --stdin``.

What the pipe cannot give is read afterwards, for the few commits that need it
(``complete``): run.yaml when the message has no ``Gitlog-Run`` trailer, whether a commit
without metrics.json still holds a run, and metrics.json when the log directory's name has
whitespace (``%(rest)`` splits a request at its first blank).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Generator, Iterable, Iterator

from .facts import Facts, log_paths, parse_metrics, parse_run_yaml
from .git import CatFile, Repo, _env, read_answer
from .trailers import TRAILER_KEYS, code_commit, formatted, run_trailers

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

_FIELDS = ("%H%x1f%P%x1f%S%x1f%ct%x1f%cI%x1f%an <%ae>%x1f"
           "%(trailers:" + ",".join(f"key={k}" for k in TRAILER_KEYS) + ",unfold,separator=%x1e)"
           "%x1f%s")
_BATCH = "--batch=%(objectname) %(objecttype) %(objectsize) %(rest)"
_CHUNK = 1 << 16


class Node:
    """One walked commit: its parents within the walk, the ref it was reached from and
    its code's identity (None when unknown: a log directory below the top)."""

    __slots__ = ("commit", "parents", "source", "code")

    def __init__(self, commit: str, parents: tuple[str, ...], source: str,
                 code: int | None = None) -> None:
        self.commit = commit
        self.parents = parents
        self.source = source
        self.code = code

    def __repr__(self) -> str:
        return f"Node({self.commit[:10]}, parents={[p[:10] for p in self.parents]})"


class Record:
    """One walked commit: its ``Node``, its ``Facts``, and whether ``complete`` must read
    more of it (``pending``)."""

    __slots__ = ("node", "facts", "pending")

    def __init__(self, node: Node, facts: Facts, pending: bool) -> None:
        self.node = node
        self.facts = facts
        self.pending = pending


def walk(repo: Repo, log_dir: str, revs: list[str], *, first_parent: bool = False,
         no_walk: bool = False, oldest_first: bool = False) -> Iterator[Record]:
    """Stream the commits of ``revs`` that touch the run files, newest first (or
    ``oldest_first``: parents before children, else by date); both git processes start at
    once. Records with ``pending`` set need ``complete``."""
    parse = Parser(log_dir, oldest_first, id_size(repo))
    for answer in answers(repo, log_dir, revs, first_parent=first_parent, no_walk=no_walk,
                          oldest_first=oldest_first):
        yield parse(*answer)


def id_size(repo: Repo) -> int:
    """The length of the repository's raw object ids."""
    return 32 if repo.object_format == "sha256" else 20


def inline_metrics(log_dir: str) -> bool:
    """Whether metrics.json is asked for in the pipe: ``%(rest)`` splits a request at its
    first blank, so a log directory whose name has one is read afterwards."""
    return not any(c.isspace() for c in log_paths(log_dir)[1])


def answers(repo: Repo, log_dir: str, revs: list[str], *, first_parent: bool = False,
            no_walk: bool = False, oldest_first: bool = False,
            series: list[str] | None = None) -> Answers:
    """Per walked commit: its fields (the ``_FIELDS`` line, raw), its root tree, and its
    metrics.json's id and content (None when it has none, or it is not asked for).
    ``series``: paths in the log directory (``metrics/loss.tsv``) read too, for each
    commit, into ``Answers.series`` (each content or None) as its answer is given; only
    when ``inline_series`` allows them."""
    run_path, metrics_path = log_paths(log_dir)
    inline = inline_metrics(log_dir)
    fmt = "%T " + _FIELDS + ("%n%T:" + metrics_path.replace("%", "%%") if inline else "")
    if series:
        assert inline_series(log_dir, series)
        fmt += "".join("%n%T:" + f"{log_dir}/{p}".replace("%", "%%") for p in series)
    args = ["git", "log", "--parents", "--full-history", "--source", "--no-color",
            "--no-decorate", "--no-notes", "--no-show-signature", f"--format={fmt}"]
    if first_parent:
        args.append("--first-parent")
    if no_walk:
        args.append("--no-walk=unsorted")
    if oldest_first:
        args += ["--date-order", "--reverse"]
    args += ["--end-of-options", *revs, "--", run_path, metrics_path]
    env = _env()
    # git log's stderr holds an error or a few warnings: a pipe, read once the walk ends
    log = subprocess.Popen(args, cwd=repo.root, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
    assert log.stdout
    try:
        cat = subprocess.Popen(["git", "cat-file", _BATCH, "--buffer"], cwd=repo.root,
                               stdin=log.stdout, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env)
    finally:
        log.stdout.close()  # cat-file holds it now
    assert cat.stdout
    with contextlib.suppress(OSError, AttributeError):  # room for ~1 MB of answers, so
        import fcntl  # git goes on while the caller is busy

        fcntl.fcntl(cat.stdout.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    return Answers(log, cat, inline, len(series or ()))


def inline_series(log_dir: str, series: list[str]) -> bool:
    """Whether series files can be asked for in the pipe (no blank in their paths)."""
    return inline_metrics(log_dir) and not any(c.isspace() for p in series for c in p)


class Children:
    """How many children each commit of the walk ``answers(..., oldest_first=True)`` makes
    has among its commits, parents rewritten as that walk's ``git log --parents`` does
    (``git rev-list --children`` counts a commit's children before rewriting: a commit
    that is no run between two runs hid the runs after it). ``git rev-list --parents`` of
    the same walk runs alongside, newest first, so a commit's count is known once it is
    listed: every child came before it. Iterating gives 9 bytes a commit, oldest first:
    the first 8 hex digits of its id, then its count (255 for 255 or more); those bytes
    are held, and the commits waiting for their count (named as a parent, not yet
    listed). ``close`` stops git."""

    def __init__(self, repo: Repo, log_dir: str, revs: list[str], *,
                 first_parent: bool = False) -> None:
        args = ["git", "rev-list", "--parents", "--full-history", "--date-order"]
        if first_parent:
            args.append("--first-parent")
        self.proc = subprocess.Popen([*args, "--end-of-options", *revs, "--",
                                      *log_paths(log_dir)], cwd=repo.root,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=_env())

    def __iter__(self) -> Iterator[bytes]:
        assert self.proc.stdout
        counts = bytearray()
        pending: dict[bytes, int] = {}  # commit -> its children listed so far
        get = pending.get
        pop = pending.pop
        for line in self.proc.stdout:
            commit, *parents = line.split()
            counts += commit[:8]
            counts.append(min(pop(commit, 0), 255))
            for parent in parents:
                pending[parent] = get(parent, 0) + 1
        pending.clear()
        for end in range(len(counts), 0, -9):
            yield bytes(counts[end - 9:end])

    def close(self) -> None:
        """Stop git (it may have more to say: the caller keeps every entry then)."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


class Answers:
    """The answers of a running ``git log | git cat-file`` pipe, in order; ``close`` stops
    both processes, whether or not anything was read."""

    def __init__(self, log: subprocess.Popen, cat: subprocess.Popen, inline: bool,
                 extra: int = 0) -> None:
        self.log = log
        self.cat = cat
        self.inline = inline
        self.extra = extra  # series files read after each commit's metrics.json
        self.series: tuple[bytes | None, ...] = ()  # those of the answer given last
        self._gen: Generator | None = None

    def __iter__(self) -> Generator[tuple[bytes, bytes, bytes | None, bytes | None], None,
                                    None]:
        if self._gen is None:
            self._gen = self._read()
        return self._gen

    def _read(self) -> Generator[tuple[bytes, bytes, bytes | None, bytes | None], None, None]:
        log, cat = self.log, self.cat
        assert cat.stdout and log.stderr
        try:
            if self.extra:
                yield from self._with_series(cat.stdout)
            else:
                yield from _answers(cat.stdout, self.inline)
        finally:
            cat.stdout.close()
            err = log.stderr.read()
            log.stderr.close()
            code = log.wait()
            cat_code = cat.wait()
        from .errors import GitCommandError
        if code != 0:
            raise GitCommandError(["log"], code, err.decode(errors="replace"))
        if cat_code != 0:
            raise GitCommandError(["cat-file", "--batch"], cat_code, "")

    def _with_series(self, out: Any) -> Iterator[tuple[bytes, bytes, bytes | None,
                                                      bytes | None]]:
        """The answers when each commit's series files follow: read object by object (a
        series can be megabytes), each commit's series put in ``self.series``."""
        extra = range(self.extra)
        while True:
            line = out.readline()
            if not line:
                return
            if line.endswith(b" missing\n"):
                from .errors import GitlogError
                raise GitlogError(f"cannot read {line[:-9].decode(errors='replace')}",
                                  hint="the repository is missing objects: "
                                       "git fsck shows which")
            _, _, size, rest = line[:-1].split(b" ", 3)
            tree = out.read(int(size))
            out.read(1)  # the newline after it
            oid, blob = _blob(out)
            self.series = ()  # the last commit's series let go before this one's are read
            self.series = tuple([_blob(out)[1] for _ in extra])
            yield rest, tree, oid, blob

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
            return
        assert self.cat.stdout and self.log.stderr
        for proc in (self.log, self.cat):
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
        self.cat.stdout.close()
        self.log.stderr.close()


def _answers(stdout: object, inline: bool) -> \
        Iterator[tuple[bytes, bytes, bytes | None, bytes | None]]:
    """cat-file's answers, two a commit (one when metrics are not inline), parsed as git
    writes them: '<id> <type> <size>[ <rest>]' then the content, or '<name> missing'."""
    read = stdout.read1  # type: ignore[attr-defined]  # what git wrote so far
    data = b""
    pos = 0
    tree: tuple[bytes, bytes] | None = None
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            break
        data = data[pos:] + chunk if pos < len(data) else chunk
        pos = 0
        end = len(data)
        while True:
            nl = data.find(b"\n", pos)
            if nl < 0:
                break
            sp1 = data.find(b" ", pos, nl)
            sp2 = data.find(b" ", sp1 + 1, nl)
            if sp2 < 0:  # '<name> missing' (or 'ambiguous'): no content follows
                if tree is None:
                    from .errors import GitlogError
                    raise GitlogError(f"cannot read {data[pos:nl].decode(errors='replace')}",
                                      hint="the repository is missing objects: "
                                           "git fsck shows which")
                pos = nl + 1
                yield tree[0], tree[1], None, None
                tree = None
                continue
            sp3 = data.find(b" ", sp2 + 1, nl)
            nxt = nl + 2 + int(data[sp2 + 1:nl if sp3 < 0 else sp3])
            if nxt > end:
                break
            if tree is None:
                tree = (data[sp3 + 1:nl], data[nl + 1:nxt - 1])
                pos = nxt
                if not inline:
                    yield tree[0], tree[1], None, None
                    tree = None
                continue
            kind = data[sp1 + 1:sp2]
            blob = data[nl + 1:nxt - 1] if kind == b"blob" else None
            oid = data[pos:sp1] if blob is not None else None
            pos = nxt
            yield tree[0], tree[1], oid, blob
            tree = None


def _blob(out: Any) -> tuple[bytes | None, bytes | None]:
    """(id, content) of cat-file's next answer; (None, None) when it is missing or not a
    blob."""
    try:
        got = read_answer(out)
    except EOFError:  # git ended early: Answers reports its exit status
        return None, None
    return (got[0], got[2]) if got is not None and got[1] == b"blob" else (None, None)


def fields(rest: bytes) -> tuple[str, str, str, str, str, str, dict[str, str], str]:
    """(commit, parents, source, committer time, date, author, Gitlog trailers, subject)
    of a commit's ``_FIELDS`` line; text that is not UTF-8 (a message without its
    encoding header) shows as U+FFFD."""
    commit, parents, source, ct, date, tail = rest.decode("utf-8", "replace").split("\x1f", 5)
    parts = tail.split("\x1f")
    if len(parts) == 3:
        author, trailers, subject = parts
    else:  # a field held the separator: glue it back
        author, trailers, subject = parts[0], "\x1f".join(parts[1:-1]), parts[-1]
    return (commit, parents, source, ct, date, author,
            formatted(trailers) if trailers else _NO_TRAILERS, subject)


_NO_TRAILERS: dict[str, str] = {}


class CodeIdentity:
    """The code's identity in a root tree: the tree without the log directory and
    dvc.yaml (None when the log directory is not at the top: then it is unknown).
    ``size``: the length of a raw object id (20 for SHA-1, 32 for SHA-256)."""

    def __init__(self, log_dir: str, size: int = 20) -> None:
        top = log_dir.strip("/")
        # the log directory's entry in the root tree, when it sits at the top
        self.top = None if "/" in top else b"40000 " + top.encode("utf-8", "surrogateescape") \
            + b"\0"
        self.size = size

    def __call__(self, tree: bytes) -> int | None:
        top, size = self.top, self.size
        if top is None:
            return None
        i = _entry(tree, top, size)
        if i >= 0:
            tree = tree[:i] + tree[i + len(top) + size:]
        i = tree.find(b" dvc.yaml\0")
        if i >= 0:
            start = i - 6 if tree[i - 6:i].isdigit() else i - 5
            if start == 0 or (start > size and tree[start - size - 1] == 0):
                tree = tree[:start] + tree[i + 10 + size:]
        return hash(tree)


class Parser:
    """Turns a commit's answers into a ``Record``."""

    def __init__(self, log_dir: str, oldest_first: bool = False, id_size: int = 20) -> None:
        self.inline = inline_metrics(log_dir)
        self.oldest_first = oldest_first
        self.code = CodeIdentity(log_dir, id_size)
        self.shared: dict[str, str] = {}  # one copy of the strings many commits repeat
        self.ids: dict[str, str] = {}  # parent ids whose commits are still to come

    def __call__(self, rest: bytes, tree: bytes, oid: bytes | None,
                 blob: bytes | None) -> Record:
        commit, parents, source, ct, date, author, tags, subject = fields(rest)
        if not parents:
            ids: tuple[str, ...] = ()
        elif self.oldest_first:
            ids = tuple(parents.split(" "))
        else:  # one string per commit id: a parent's id is kept once, in its child's node
            known = self.ids
            commit = known.pop(commit, commit)
            ids = tuple([known.setdefault(p, p) for p in parents.split(" ")])
        shared = self.shared
        author = shared.setdefault(author, author)
        source = shared.setdefault(source, source)
        facts = Facts(commit, int(ct), date, author, subject, False)
        if tags:
            facts.run_id, experiment, status, facts.code_commit = run_trailers(tags)
            facts.experiment = shared.setdefault(experiment, experiment) if experiment \
                else experiment
            facts.status = shared.setdefault(status, status) if status else status
        pending = facts.run_id is None or not self.inline
        if blob is not None and oid is not None:
            facts.has_run = True
            facts.metrics_blob = oid.decode()
            facts.tree, facts.text, facts.error = parse_metrics(blob)
        elif self.inline:
            pending = True  # no metrics.json: is there a run at all?
        return Record(Node(commit, ids, source, self.code(tree)), facts, pending)


def _entry(tree: bytes, entry: bytes, size: int) -> int:
    """Where ``entry`` ('mode name NUL') starts an entry of a raw tree, else -1: at the
    start, or right after the previous entry's NUL and ``size``-byte id."""
    i = tree.find(entry)
    while i > 0 and (i <= size or tree[i - size - 1] != 0):
        i = tree.find(entry, i + 1)
    return i


def complete(repo: Repo, log_dir: str, records: Iterable[Record]) -> None:
    """Read what the pipe could not give for ``pending`` records: run.yaml (no
    ``Gitlog-Run`` trailer, or no metrics.json: does the commit still hold a run?), and
    metrics.json when it could not be requested inline. One batch for them all."""
    todo = [r for r in records if r.pending]
    if not todo:
        return
    answers = repo.read_objects([spec for r in todo for spec in _specs(log_dir, r)]).result()
    again = [rec for i, rec in enumerate(todo) if _fill(rec, *answers[3 * i:3 * i + 3])]
    if again:
        metrics_path = log_paths(log_dir)[1]
        found = repo.read_objects([f"{r.facts.commit}^:{metrics_path}" for r in again]).result()
        for rec, got in zip(again, found, strict=True):
            _parents_run(rec, got)


class Completer:
    """``complete`` one record at a time, through one long-lived ``git cat-file``: for a
    walk that links records as they come."""

    def __init__(self, repo: Repo, log_dir: str) -> None:
        self.repo = repo
        self.log_dir = log_dir
        self.reader: CatFile | None = None

    def __call__(self, rec: Record) -> None:
        if self.reader is None:
            self.reader = self.repo.cat_file()
        got = []
        for spec in _specs(self.log_dir, rec):
            found = self.reader.lookup(spec)
            got.append(None if found is None else (found[1], found[2], found[0]))
        if _fill(rec, *got):
            found = self.reader.lookup(f"{rec.facts.commit}^:{log_paths(self.log_dir)[1]}")
            _parents_run(rec, None if found is None else (found[1], found[2], found[0]))

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


def _specs(log_dir: str, rec: Record) -> tuple[str, str, str]:
    """What ``_fill`` reads of a commit: its run.yaml, its metrics.json and its first
    parent's run.yaml."""
    run_path, metrics_path = log_paths(log_dir)
    commit = rec.facts.commit
    return f"{commit}:{run_path}", f"{commit}:{metrics_path}", f"{commit}^:{run_path}"


def _fill(rec: Record, run_blob: tuple[str, bytes, str] | None,
          metrics: tuple[str, bytes, str] | None,
          parent_run: tuple[str, bytes, str] | None = None) -> bool:
    """Complete ``rec``'s facts from its run.yaml and metrics.json answers
    ((type, content, id) each, None when missing). A run.yaml the commit took unchanged
    from its first parent (``parent_run``: metrics committed by hand on top of a run)
    is that earlier run's, and gives this one only its experiment
    (``layout.run_yaml``). True when it holds metrics.json and no run.yaml of its own:
    ``_parents_run`` must then see whether its metrics are its first parent's too."""
    facts = rec.facts
    rec.pending = False
    own = False
    if run_blob is not None and run_blob[0] == "blob":
        info = parse_run_yaml(run_blob[1])
        facts.experiment = facts.experiment or info.get("experiment")
        if parent_run is None or parent_run[2] != run_blob[2]:
            facts.run_id = facts.run_id or info.get("id")
            facts.status = facts.status or info.get("status")
            facts.code_commit = facts.code_commit or code_commit(info.get("code_commit"))
            facts.has_run = own = True
    if facts.metrics_blob is None and metrics is not None and metrics[0] == "blob":
        facts.has_run = True
        facts.metrics_blob = metrics[2]
        facts.tree, facts.text, facts.error = parse_metrics(metrics[1])
    return not own and facts.run_id is None and facts.metrics_blob is not None


def _parents_run(rec: Record, parent_metrics: tuple[str, bytes, str] | None) -> None:
    """A commit whose run files are both its first parent's holds no run of its own: a
    merge (of main into an experiment, say) that the walk lists as the other side
    differs, not a run of the same values again."""
    facts = rec.facts
    if parent_metrics is not None and parent_metrics[2] == facts.metrics_blob:
        facts.has_run = False
        facts.metrics_blob = facts.tree = facts.text = facts.error = None
