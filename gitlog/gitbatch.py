"""git processes fed many requests at once: ``Batch`` (all input up front, output parsed
at the end) and ``Feed`` (fed line by line while the caller goes on: ``DiffStream``).
Part of the git layer: ``Repo.read_objects``, ``diff_names`` and ``diff_stream`` start
them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from pathlib import Path

from .errors import GitCommandError
from .git import _env, read_answer

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any


class Batch:
    """A git process fed ``feed`` from a thread while its output is collected by another;
    ``result()`` waits and parses."""

    def __init__(self, cwd: str | Path, args: list[str], parse: Any, feed: bytes) -> None:
        self._parse = parse
        self._args = args
        self._proc = subprocess.Popen(["git", *args], cwd=cwd, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
        self._out: list[bytes] = []
        self._writer = threading.Thread(target=_feed, args=(self._proc, feed), daemon=True)
        self._writer.start()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout
        self._out.append(self._proc.stdout.read())

    def result(self) -> Any:
        self._writer.join()
        self._reader.join()
        assert self._proc.stdout and self._proc.stderr
        err = self._proc.stderr.read()
        code = self._proc.wait()
        self._proc.stdout.close()
        self._proc.stderr.close()
        if code != 0:
            raise GitCommandError(self._args[:2], code, err.decode(errors="replace"))
        return self._parse(self._out[0] if self._out else b"")


def parse_batch(out: bytes, count: int) -> list[tuple[str, bytes, str] | None]:
    """``--batch`` output: one answer for each of ``count`` requests."""
    results: list[tuple[str, bytes, str] | None] = []
    pos, end = 0, len(out)
    while pos < end and len(results) < count:
        nl = out.index(b"\n", pos)
        line = out[pos:nl]
        header = line.split()
        pos = nl + 1
        if len(header) != 3 or line.endswith((b" missing", b" ambiguous")):
            results.append(None)
            continue
        size = int(header[2])
        results.append((header[1].decode(), out[pos:pos + size], header[0].decode()))
        pos += size + 1
    results.extend([None] * (count - len(results)))
    return results


def iter_batch(cwd: str | Path, specs: list[str]) -> Iterator[tuple[str, bytes, str] | None]:
    """``(type, content, id)`` or None for each of ``specs``, read from one ``git cat-file
    --batch --buffer`` as it answers (a thread feeds it the requests)."""
    proc = subprocess.Popen(["git", "cat-file", "--batch", "--buffer"], cwd=cwd,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env())
    feed = b"".join((s.encode("utf-8", "surrogateescape") if "\n" not in s else b"-") + b"\n"
                    for s in specs)
    writer = threading.Thread(target=_feed, args=(proc, feed), daemon=True)
    writer.start()
    assert proc.stdout and proc.stderr
    out = proc.stdout
    answered = 0
    try:
        while answered < len(specs):
            try:
                got = read_answer(out)
            except EOFError:
                break  # git ended early: said below
            answered += 1
            yield None if got is None else (got[1].decode(), got[2], got[0].decode())
    finally:
        if answered < len(specs):  # stopped early, by the caller or by git
            with contextlib.suppress(OSError):
                proc.kill()
        out.close()
        writer.join()
        err = proc.stderr.read()
        proc.stderr.close()
        code = proc.wait()
    if answered < len(specs):
        raise GitCommandError(["cat-file", "--batch"], code,
                              err.decode(errors="replace") or "git cat-file ended early")


def _feed(proc: subprocess.Popen, feed: bytes) -> None:
    """Write all of ``feed`` to git and close its input (git may have ended: fine)."""
    assert proc.stdin
    try:
        proc.stdin.write(feed)
        proc.stdin.close()
    except OSError:
        pass


def parse_diff_names(out: bytes, pairs: list[tuple[str, str]]) -> list[list[str]]:
    """``--always -z`` output: each pair starts with its new commit's id, then its paths."""
    results: list[list[str]] = []
    heads = [new.encode() for _, new in pairs]
    for item in out.split(b"\0"):
        item = item.strip(b"\n")
        if not item:
            continue
        if len(results) < len(heads) and item == heads[len(results)]:
            results.append([])
        elif results:
            results[-1].append(item.decode("utf-8", "surrogateescape"))
    results.extend([] for _ in range(len(pairs) - len(results)))
    return results


class Feed:
    """A git process fed line by line, both pipes non-blocking: ``add`` writes what git
    can take and reads what it has answered, so the caller goes on working while git
    does, with no thread and no deadlock."""

    def __init__(self, cwd: str | Path, args: list[str]) -> None:
        self._args = args
        self._proc = subprocess.Popen(["git", *args], cwd=cwd, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      env=_env())
        assert self._proc.stdin and self._proc.stdout
        self._in = self._proc.stdin.fileno()
        self._out = self._proc.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        self._pending = bytearray()  # requests git has not taken yet
        self._chunks: list[bytes] = []  # answers read, not parsed yet
        self._eof = False
        self.count = 0  # lines added

    def add(self, line: str) -> None:
        self._pending += line.encode("utf-8", "surrogateescape") if "\n" not in line \
            else b"-"
        self._pending += b"\n"
        self.count += 1
        if len(self._pending) > 1 << 11:  # small batches: git answers while the caller works
            self._pump()

    def _pump(self) -> None:
        """Write what the pipe takes, read what git wrote; never waits."""
        if self._pending:
            try:
                del self._pending[:os.write(self._in, self._pending)]
            except BlockingIOError:
                pass
            except OSError:  # git is gone: close() reports why
                self._pending.clear()
        while not self._eof:
            try:
                chunk = os.read(self._out, 1 << 16)
            except BlockingIOError:
                return
            if chunk:
                self._chunks.append(chunk)
            else:
                self._eof = True

    def abort(self) -> None:
        """Stop git and drop what it had to say."""
        with contextlib.suppress(OSError):
            self._proc.kill()
        self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def _finish(self) -> None:
        """Send what is left and wait for git to end; its answers are in ``_chunks``."""
        import select

        assert self._proc.stdin and self._proc.stderr
        while not self._eof:
            if not self._pending and not self._proc.stdin.closed:
                with contextlib.suppress(OSError):
                    self._proc.stdin.close()  # git answers the rest, then ends
            select.select([self._out], [self._in] if self._pending else [], [])
            self._pump()
        with contextlib.suppress(OSError):
            self._proc.stdin.close()
        err = self._proc.stderr.read()
        code = self._proc.wait()
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()
        if code != 0:
            raise GitCommandError(self._args[:2], code, err.decode(errors="replace"))


class DiffStream(Feed):
    """One ``git diff-tree --stdin`` fed pair by pair: ``take()`` gives the paths changed
    from each ``(old, new)`` added since the last take, in the order they were added;
    ``result()`` the rest, and ends git.

    To know when git has answered every pair so far, ``take`` sends a line that is no
    object id: diff-tree echoes such a line and flushes its output, so the echo marks the
    end of the answers before it."""

    def __init__(self, cwd: str | Path, pathspec: list[str]) -> None:
        super().__init__(cwd, ["diff-tree", "--stdin", "-r", "--name-only", "-z", "--always",
                               "--", *pathspec])
        self.pairs: list[tuple[str, str]] = []  # added since the last take
        self._marks = 0

    def pair(self, old: str, new: str) -> None:
        self.pairs.append((old, new))
        self.add(f"{new} {old}")

    def take(self) -> list[list[str]]:
        """The paths of each pair added since the last take (waits for git)."""
        import select

        todo = self.pairs
        if not todo:
            return []
        self._marks += 1
        marker = b"\x01gitlog-sync-%d\n" % self._marks  # never an object id
        self._pending += marker
        seen = b""
        while True:
            self._pump()
            seen = b"".join(self._chunks)
            at = seen.find(marker)
            if at >= 0 and (at == 0 or seen[at - 1:at] == b"\0"):
                break
            if self._eof:
                raise GitCommandError(self._args[:2], self._proc.wait(),
                                      "git diff-tree ended early")
            select.select([self._out], [self._in] if self._pending else [], [])
        self._chunks = [seen[at + len(marker):]]
        self.pairs = []
        return parse_diff_names(seen[:at], todo)

    def result(self) -> list[list[str]]:
        """The paths of each pair not taken yet; git ends."""
        todo, self.pairs = self.pairs, []
        self._finish()
        return parse_diff_names(b"".join(self._chunks), todo)
