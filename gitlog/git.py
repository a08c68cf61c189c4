"""The only place that talks to git: plain ``git`` processes for the light paths.

Objects are written in-process (see ``gitobjects``); refs move only through
``git update-ref`` with the expected old value (compare-and-swap); reading goes through
one long-lived ``git cat-file --batch`` (``CatFile``; ``gitbatch`` holds the processes fed
many requests at once). Nothing here touches the user's
working tree, index or HEAD: snapshots of uncommitted work use a temporary index file.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from .errors import GitCommandError, GitlogError, locating_error
from .gitproc import git_environ

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from .gitbatch import Batch, DiffStream

FALLBACK_IDENT = "gitlog <gitlog@localhost>"
_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0"}


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = git_environ(dict(os.environ))
    env.update(_NO_PROMPT)
    env.pop("GIT_INDEX_FILE", None)
    if extra:
        env.update(extra)
    return env


def run_git(args: list[str], cwd: str | Path, *, input: bytes | None = None,
            env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run one git command, capturing output as bytes."""
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          env=_env(env))
    if check and proc.returncode != 0:
        raise GitCommandError(args, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def message_trailers(message: bytes, cwd: str | Path) -> list[tuple[str, str]]:
    """(key, value) of each trailer of a commit message, as git finds and unfolds them
    (``git interpret-trailers --parse``)."""
    out = run_git(["interpret-trailers", "--parse", "--no-divider"], cwd,
                  input=message).stdout
    pairs = []
    for line in out.decode("utf-8", "replace").split("\n"):  # (a value may hold a \r)
        key, sep, value = line.partition(":")
        if sep:
            pairs.append((key.strip(), value.strip()))
    return pairs


def stream_git(args: list[str], cwd: str | Path, on_line: Any) -> int:
    """Run git with stdout and stderr merged, passing each line to ``on_line``; the exit code.

    git and what it starts run in a process group of their own: on Ctrl-C (or a SIGINT
    sent to this process alone) the whole group is interrupted and waited for, so no
    step goes on running, or writing into ``cwd``, after this returns."""
    return stream_command(["git", *args], cwd, on_line)


def stream_command(argv: list[str], cwd: str | Path, on_line: Any) -> int:
    """``stream_git`` for any program."""
    from .procgroup import start, stop_group

    proc = start(argv, stop_group, cwd=cwd, stdout=subprocess.PIPE,
                 stderr=subprocess.STDOUT, env=_env(), text=True, errors="replace")
    assert proc.stdout
    try:
        with proc.stdout:
            for line in proc.stdout:
                on_line(line.rstrip("\n"))
        return proc.wait()
    except BaseException:
        stop_group(proc)
        raise


class Head:
    """Where HEAD is: its branch (full ref name, None when detached), its commit (None
    on an unborn branch), that commit's tree and subject."""

    __slots__ = ("branch", "commit", "tree", "subject")

    def __init__(self, branch: str | None, commit: str | None, tree: str | None,
                 subject: str | None = None) -> None:
        self.branch = branch
        self.commit = commit
        self.tree = tree
        self.subject = subject

    def __repr__(self) -> str:
        return f"Head({self.branch!r}, {self.commit!r})"


class Repo:
    """A working-tree repository, located from any folder inside it."""

    def __init__(self, path: str | Path = ".") -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise GitlogError(f"repo is a folder (a str or a Path), got "
                              f"{type(path).__name__} {path!r}",
                              hint="repo='path/to/project' (default: the current folder)")
        path = Path(path).expanduser().resolve()  # "~/proj", as a shell would read it
        if not path.is_dir():
            if path.exists():  # a file: say so, not "no such folder"
                raise GitlogError(f"not a folder: {path}",
                                  hint="pass the repository's folder, or a folder inside it")
            raise GitlogError(f"no such folder: {path}", hint="pass an existing folder")
        proc = run_git(["rev-parse", "--show-toplevel", "--absolute-git-dir",
                        "--git-common-dir", "--git-path", "index", "--git-path", "objects",
                        "--show-object-format"], path, check=False)
        if proc.returncode != 0:
            raise locating_error(str(path), proc.stderr.decode(errors="replace"),
                                 proc.returncode)
        lines = proc.stdout.decode().splitlines()
        self.root = Path(lines[0])
        self.git_dir = Path(lines[1])
        self.common_dir = (path / lines[2]).resolve()
        self.index_file = (path / lines[3]).resolve()
        self.objects_dir = (path / lines[4]).resolve()
        self.object_format = lines[5] if len(lines) > 5 else "sha1"
        self.gitlog_dir = self.common_dir / "gitlog"

    def packed_objects(self) -> int:
        """How many objects the repository's packs hold (from each pack index's fan-out
        table: a few bytes read, no git process); loose objects are not counted."""
        count = 0
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.objects_dir / "pack"):
                if not entry.name.endswith(".idx"):
                    continue
                with contextlib.suppress(OSError), open(entry.path, "rb") as fh:
                    head = fh.read(8 + 256 * 4)  # version 2: magic, version, fan-out
                    if len(head) == 1032 and head[:4] == b"\xfftOc":
                        count += int.from_bytes(head[-4:], "big")
        return count

    # -- plain commands -------------------------------------------------------
    def git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
            check: bool = True) -> str:
        return run_git(list(args), self.root, input=input, env=env,
                       check=check).stdout.decode("utf-8", errors="replace")

    def unknown_hint(self, rev: str, hint: str) -> str:
        """The hint for ``rev`` not found: in a shallow clone, a commit id or an ancestry
        (``exp/x~3``) may be beyond its history, so that is said instead of ``hint``."""
        import re

        if (self.common_dir / "shallow").exists() and (
                "~" in rev or "^" in rev or re.fullmatch(r"[0-9a-fA-F]{4,64}", rev)):
            return (f"this is a shallow clone: {rev} may be older than its history "
                    "(git fetch --unshallow brings the rest)")
        return hint

    def rev_parse(self, rev: str) -> str | None:
        proc = run_git(["rev-parse", "-q", "--verify", "--end-of-options", rev + "^{commit}"],
                       self.root, check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def head(self) -> Head:
        text = (self.git_dir / "HEAD").read_text().strip()
        branch = text[5:].strip() if text.startswith("ref: ") else None
        proc = run_git(["log", "-1", "--format=%H%n%T%n%s", "HEAD", "--"], self.root,
                       check=False)
        out = proc.stdout.decode("utf-8", "replace").split("\n")
        if proc.returncode != 0 or len(out) < 3:
            return Head(branch, None, None, None)
        return Head(branch, out[0], out[1], out[2])

    def ident(self) -> tuple[str, bool]:
        """'Name <email>' of the committer, and whether it is gitlog's fallback."""
        proc = run_git(["var", "GIT_COMMITTER_IDENT"], self.root, check=False)
        if proc.returncode == 0:
            ident = proc.stdout.decode(errors="replace").strip()
            name_email = ident.rsplit(">", 1)[0] + ">"
            return name_email, False
        return FALLBACK_IDENT, True

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        proc = run_git(["merge-base", "--is-ancestor", ancestor, descendant], self.root,
                       check=False)
        return proc.returncode == 0

    def ls_tree(self, tree: str) -> list[tuple[str, str, str, str]]:
        """Entries (mode, type, sha, name) of one tree, not recursive.

        Modes are given as git stores them in tree objects (``40000``, not ls-tree's
        zero-padded ``040000``), so trees rebuilt from them stay canonical and sorted.
        """
        out = run_git(["ls-tree", "-z", tree], self.root).stdout.decode("utf-8", "surrogateescape")
        entries = []
        for item in out.split("\0"):
            if item:
                meta, name = item.split("\t", 1)
                mode, kind, sha = meta.split()
                entries.append((mode.lstrip("0"), kind, sha, name))
        return entries

    def update_ref(self, ref: str, new: str, old: str | None, message: str) -> bool:
        """Move ``ref`` to ``new`` only if it still points at ``old`` (None: must not exist)."""
        return self.move_ref(ref, new, old, message) is None

    def move_ref(self, ref: str, new: str, old: str | None, message: str) -> str | None:
        """``update_ref``: None when it moved, else why not (git's stderr)."""
        zero = "0" * (64 if self.object_format == "sha256" else 40)
        proc = run_git(["update-ref", "-m", message, ref, new, old or zero], self.root,
                       check=False)
        if proc.returncode == 0:
            return None
        return proc.stderr.decode(errors="replace") or f"exit code {proc.returncode}"

    def delete_ref(self, ref: str, old: str) -> bool:
        """Delete ``ref`` only if it still points at ``old``."""
        return run_git(["update-ref", "-d", ref, old], self.root, check=False).returncode == 0

    def worktree_on(self, ref: str) -> Path | None:
        """The work tree (this one or a linked one) whose HEAD is branch ``ref``, or that
        is rebasing it, as git refuses to move such a branch; None when none is. Reads
        the HEAD files, no git process."""
        held = self.branch_holder(ref)
        return held[0] if held else None

    def branch_holder(self, ref: str) -> tuple[Path, bool] | None:
        """``worktree_on``'s work tree, and whether it is rebasing ``ref`` (its HEAD then
        detached) rather than on it."""
        # the main work tree: the folder above .git; with a git dir elsewhere (a
        # submodule, --separate-git-dir) this folder from inside it, else named by its git
        # dir as 'git worktree list' names it; a bare repository has none
        if self.common_dir.name == ".git":
            main: Path | None = self.common_dir.parent
        elif self.git_dir.resolve() == self.common_dir:
            main = self.root
        else:
            main = None if self._bare() else self.common_dir
        states = [] if main is None else [(self.common_dir, main)]
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.common_dir / "worktrees"):
                with contextlib.suppress(OSError), \
                        open(os.path.join(entry.path, "gitdir"), encoding="utf-8") as fh:
                    states.append((Path(entry.path), Path(fh.read().strip()).parent))
        for git_dir, folder in states:
            for name in ("HEAD", "rebase-merge/head-name", "rebase-apply/head-name"):
                with contextlib.suppress(OSError), \
                        open(git_dir / name, encoding="utf-8", errors="replace") as fh:
                    text = fh.read().strip()
                    if text.removeprefix("ref: ") == ref:
                        return folder, name != "HEAD"
        return None

    def _bare(self) -> bool:
        """Whether the repository is bare (core.bare in its config)."""
        try:
            text = (self.common_dir / "config").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        import re

        return re.search(r"^\s*bare\s*=\s*true\s*$", text, re.I | re.M) is not None

    def ref_tip(self, ref: str) -> str | None:
        proc = run_git(["rev-parse", "-q", "--verify", ref], self.root, check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def snapshot_worktree(self) -> str:
        """Tree of HEAD plus uncommitted changes to tracked files, via a temporary index.

        The way ``git stash create`` does it: the real index is copied, ``git add -u`` runs
        against the copy, and ``git write-tree`` writes the result. The user's index,
        working tree and HEAD stay exactly as they were.

        The copy keeps the index's modification time: git compares file times to the
        second, and trusts an unchanged-looking entry unless it is as new as the index
        file ("racy git"); a copy dated now would hide a same-size edit made in the
        second of the last index write, and the run would record the code before it.
        """
        import shutil
        import tempfile

        try:
            self.gitlog_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix="index-", dir=self.gitlog_dir)
        except OSError as err:  # a file where the folder should be, a full disk, ...
            raise GitlogError(f"cannot write in {self.gitlog_dir}: "
                              f"{err.strerror or err}",
                              hint="gitlog keeps its run journals there: make it a "
                              "writable folder (move away a file of that name), or free "
                              "disk space") from None
        os.close(fd)
        try:
            if self.index_file.exists():
                shutil.copy2(self.index_file, tmp)  # with its time: see above
            else:
                os.unlink(tmp)
            env = {"GIT_INDEX_FILE": tmp}
            run_git(["add", "-u", "--", "."], self.root, env=env)
            return run_git(["write-tree"], self.root, env=env).stdout.decode().strip()
        finally:
            for leftover in (tmp, tmp + ".lock"):
                if os.path.exists(leftover):
                    os.unlink(leftover)

    def cat_file(self) -> CatFile:
        return CatFile(self.root)

    def popen(self, *args: str) -> subprocess.Popen:
        """A streaming ``git`` process (stdout piped, stderr captured) for large outputs."""
        return subprocess.Popen(["git", *args], cwd=self.root, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_env())

    def read_objects(self, specs: list[str]) -> Batch:
        """Start reading many objects through one ``git cat-file --batch --buffer``.

        ``.result()`` gives, in order, ``(type, content, sha)`` or None per spec (a sha or
        ``rev:path``); the process runs while the caller does other work.
        """
        from .gitbatch import Batch, parse_batch

        feed = b"".join((s.encode("utf-8", "surrogateescape") if "\n" not in s else b"-")
                        + b"\n" for s in specs)
        return Batch(self.root, ["cat-file", "--batch", "--buffer"],
                     lambda out: parse_batch(out, len(specs)), feed)

    def iter_objects(self, specs: list[str]) -> Iterator[tuple[str, bytes, str] | None]:
        """Like ``read_objects``, one answer at a time as git writes it: only one object
        is held at once, however large they are (step series). Closing the iterator
        early stops git."""
        from .gitbatch import iter_batch

        return iter_batch(self.root, specs)

    def diff_names(self, pairs: list[tuple[str, str]], pathspec: list[str]) -> Batch:
        """Start one ``git diff-tree --stdin``: the paths changed from each ``(old, new)``."""
        from .gitbatch import Batch, parse_diff_names

        feed = b"".join(f"{new} {old}\n".encode() for old, new in pairs)
        return Batch(self.root, ["diff-tree", "--stdin", "-r", "--name-only", "-z", "--always",
                                 "--", *pathspec], lambda out: parse_diff_names(out, pairs),
                     feed)

    def diff_stream(self, pathspec: list[str]) -> DiffStream:
        """A ``git diff-tree --stdin`` fed pair by pair while the caller works."""
        from .gitbatch import DiffStream

        return DiffStream(self.root, pathspec)


def read_answer(out: Any) -> tuple[bytes, bytes, bytes] | None:
    """(id, type, content) of the next answer ``git cat-file --batch`` writes to ``out``
    (a format that starts '%(objectname) %(objecttype) %(objectsize)'); None for a name
    it cannot find. EOFError when git has ended."""
    line = out.readline()
    if not line:
        raise EOFError("git cat-file ended")
    # '<name> missing': a name may hold blanks ('HEAD:run logs/run.yaml')
    parts = line.split(b" ", 3)
    if len(parts) < 3 or line.endswith((b" missing\n", b" ambiguous\n")):
        return None
    content = out.read(int(parts[2]))  # (int() takes the newline of a 3-field header)
    out.read(1)  # the newline after the content
    return parts[0], parts[1], content


def replacements(repo: Repo) -> str:
    """The replace refs and grafts that make git see other parents or contents for some
    commits (``git replace --graft``, ``.git/info/grafts``), as one string: a walk's
    result depends on them as on its tips. Read from the files, no git process."""
    import os

    common = repo.common_dir
    base = os.environ.get("GIT_REPLACE_REF_BASE", "refs/replace/").rstrip("/") + "/"
    if os.environ.get("GIT_NO_REPLACE_OBJECTS"):
        return ""
    found: list[str] = []
    loose = common / base
    if loose.is_dir():
        found += sorted(f"{path.relative_to(common)} {path.read_text().strip()}"
                        for path in loose.rglob("*") if path.is_file())
    packed = common / "packed-refs"
    if packed.exists():
        text = packed.read_text(errors="replace")
        if " " + base in text:
            found += [line for line in text.split("\n") if line.partition(" ")[2].startswith(base)]
    grafts = common / "info" / "grafts"
    if grafts.exists():
        found.append(grafts.read_text(errors="replace"))
    return "\0".join(found)


class CatFile:
    """One long-lived ``git cat-file --batch``: read many objects for one process."""

    def __init__(self, cwd: str | Path) -> None:
        self.cwd = cwd
        self._proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=cwd,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, env=_env())
        self._ahead: dict[str, tuple[str, str, bytes] | None] = {}

    def prefetch(self, specs: list[str]) -> None:
        """Look ``specs`` (object ids, or ``ID:path``: names that always mean the same
        object) up now, a few KB of names a write, and keep the answers for ``lookup``:
        one wait for git per write instead of one per object. Each chunk of names fits
        in a pipe's buffer, so git never waits on a reader that is still writing. Not
        while a ``send()`` waits for its ``receive()``."""
        assert self._proc.stdin
        wanted = [s for s in dict.fromkeys(specs) if "\n" not in s and s not in self._ahead]
        at = 0
        while at < len(wanted):
            chunk, size = [], 0
            while at < len(wanted) and size < 8192:
                chunk.append(wanted[at])
                size += len(wanted[at]) + 1
                at += 1
            self._proc.stdin.write("".join(f"{s}\n" for s in chunk).encode())
            self._proc.stdin.flush()
            for spec in chunk:
                self._ahead[spec] = self.receive()

    def read(self, spec: str) -> tuple[str, bytes] | None:
        """(type, content) of ``spec`` (a sha or ``rev:path``), or None if missing."""
        found = self.lookup(spec)
        return (found[1], found[2]) if found else None

    def lookup(self, spec: str) -> tuple[str, str, bytes] | None:
        """(object id, type, content) of ``spec`` (a sha, ref or ``rev:path``), or None."""
        if "\n" in spec:
            return None
        if spec in self._ahead:
            return self._ahead[spec]
        self.send(spec)
        return self.receive()

    def send(self, spec: str) -> None:
        """Ask for ``spec`` now and read the answer later with ``receive()``, in order:
        git looks objects up while the caller does other work."""
        assert self._proc.stdin
        if "\n" in spec:
            raise ValueError(f"object name with a newline: {spec!r}")
        self._proc.stdin.write(spec.encode() + b"\n")
        self._proc.stdin.flush()

    def receive(self) -> tuple[str, str, bytes] | None:
        """The answer to the oldest ``send()`` not yet received; None if missing."""
        assert self._proc.stdout
        try:
            got = read_answer(self._proc.stdout)
        except EOFError:  # git is gone: nothing more to read
            return None
        return None if got is None else (got[0].decode(), got[1].decode(), got[2])

    def close(self) -> None:
        """End the process; answers not yet received are dropped."""
        assert self._proc.stdin and self._proc.stdout
        with contextlib.suppress(OSError):  # git may have ended: its pipes are closed anyway
            self._proc.stdin.close()
        self._proc.stdout.close()  # git stops writing answers nobody will read
        self._proc.wait()

    def __enter__(self) -> CatFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
