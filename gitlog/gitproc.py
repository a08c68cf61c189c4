"""Talking to git with nothing but ``os``: the git hooks' light twin of ``git.py``.

Every commit runs three hooks, each a fresh Python. ``subprocess`` and ``pathlib`` (what
``git.py`` is built on) pull in ``re``, ``enum``, ``locale`` and ``urllib`` and cost each
hook ~20 ms before it does anything, so the hooks spawn git with ``os.posix_spawnp`` and
poll its pipes here. Paths are plain strings. Anything richer goes through ``git.py``
(``LiteRepo.full()``).
"""

from __future__ import annotations

import os
import select

from .errors import GitCommandError, GitlogError, locating_error

_CHUNK = 512  # <= PIPE_BUF: a write after POLLOUT never blocks

# Settings of the user's that change what git prints where gitlog reads it, overridden
# for gitlog's own git processes: log.showSignature puts gpg's verdict ("No signature",
# "Good signature from ...") on stdout before each signed commit that 'git log' or 'git
# show' prints, whatever --format says; i18n.logOutputEncoding has them re-encode commit
# messages from UTF-8 to another encoding (gitlog reads UTF-8, and writes run subjects).
_OVERRIDES = (("log.showSignature", "false"), ("i18n.logOutputEncoding", "UTF-8"))


def git_environ(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` (changed in place) with gitlog's overrides added to the settings
    given by ``GIT_CONFIG_COUNT`` (those of ``git -c`` stay as they are)."""
    try:
        count = int(environ.get("GIT_CONFIG_COUNT") or 0)
    except ValueError:
        return environ  # git refuses it anyway, with its own error
    for key, value in _OVERRIDES:
        environ[f"GIT_CONFIG_KEY_{count}"] = key
        environ[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    environ["GIT_CONFIG_COUNT"] = str(count)
    return environ


def run(args: list[str], cwd: str, *, input: bytes | None = None,
        env: dict[str, str] | None = None) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of ``git -C cwd ARGS``, fed ``input`` on stdin."""
    environ = git_environ(dict(os.environ))
    environ["GIT_TERMINAL_PROMPT"] = "0"
    if env:
        environ.update(env)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = os.posix_spawnp("git", ["git", "-C", cwd, *args], environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2)])
    except OSError as exc:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        raise GitlogError(f"cannot run git: {exc}", hint="install git, or put it on PATH") \
            from None
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    return _communicate(pid, in_w, out_r, err_r, input or b"")


def _communicate(pid: int, in_w: int, out_r: int, err_r: int,
                 data: bytes) -> tuple[int, bytes, bytes]:
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    poller = select.poll()
    poller.register(out_r, select.POLLIN)
    poller.register(err_r, select.POLLIN)
    open_fds = {out_r, err_r}
    pos = 0
    if data:
        poller.register(in_w, select.POLLOUT)
        open_fds.add(in_w)
    else:
        os.close(in_w)
    try:
        while open_fds:
            for fd, event in poller.poll():
                if fd == in_w:
                    try:
                        pos += os.write(in_w, data[pos:pos + _CHUNK])
                    except BrokenPipeError:
                        pos = len(data)
                    if pos >= len(data):
                        poller.unregister(in_w)
                        os.close(in_w)
                        open_fds.discard(in_w)
                    continue
                block = os.read(fd, 65536) if event & (select.POLLIN | select.POLLHUP) else b""
                if block:
                    chunks[fd].append(block)
                else:
                    poller.unregister(fd)
                    os.close(fd)
                    open_fds.discard(fd)
    finally:
        for fd in open_fds:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks[out_r]), b"".join(chunks[err_r])


class LiteRepo:
    """The repository a hook runs in: its folders as strings, git as a light process."""

    __slots__ = ("root", "git_dir", "common_dir", "gitlog_dir", "_full")

    def __init__(self, path: str = ".") -> None:
        path = os.path.abspath(path)
        self._full = None
        if self._at_top(path):
            return
        code, out, err = run(["rev-parse", "--show-toplevel", "--absolute-git-dir",
                              "--git-common-dir"], path)
        if code != 0:
            raise locating_error(path, err.decode(errors="replace"), code)
        lines = out.decode("utf-8", "surrogateescape").split("\n")
        self.root, self.git_dir = lines[0], lines[1]
        self.common_dir = os.path.normpath(os.path.join(path, lines[2]))
        self.gitlog_dir = os.path.join(self.common_dir, "gitlog")

    def _at_top(self, path: str) -> bool:
        """Find the folders without running git where that is certain: ``path`` is the
        top of a worktree (where git runs hooks) and git was told nothing else."""
        if any(os.environ.get(k) for k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR")):
            return False
        dot_git = os.path.join(path, ".git")
        if os.path.isdir(dot_git):
            git_dir = dot_git
        elif os.path.isfile(dot_git):  # a linked worktree or a submodule: "gitdir: PATH"
            try:
                with open(dot_git, encoding="utf-8", errors="surrogateescape") as fh:
                    line = fh.readline().rstrip("\n")
            except OSError:
                return False
            if not line.startswith("gitdir: "):
                return False
            git_dir = os.path.normpath(os.path.join(path, line[len("gitdir: "):]))
        else:
            return False
        if not os.path.isfile(os.path.join(git_dir, "HEAD")):
            return False
        common = git_dir
        try:
            with open(os.path.join(git_dir, "commondir"), encoding="utf-8",
                      errors="surrogateescape") as fh:
                common = os.path.normpath(os.path.join(git_dir, fh.readline().rstrip("\n")))
        except FileNotFoundError:
            pass
        except OSError:
            return False
        self.root, self.git_dir, self.common_dir = path, git_dir, common
        self.gitlog_dir = os.path.join(common, "gitlog")
        return True

    def git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
            check: bool = True) -> str:
        code, out, err = run(list(args), self.root, input=input, env=env)
        if check and code != 0:
            raise GitCommandError(list(args), code, err.decode("utf-8", "replace"))
        return out.decode("utf-8", "surrogateescape")

    def read_objects(self, specs: list[str], env: dict[str, str] | None = None) -> \
            dict[str, tuple[str | None, bytes | None]]:
        """{spec: (blob id, content)} of a few small blobs (``rev:path``; ``:path`` reads
        the index) through one ``git cat-file --batch``; (None, None) for a missing one
        or one that is not a blob."""
        specs = [s for s in specs if "\n" not in s]
        code, out, err = run(["cat-file", "--batch"], self.root, env=env,
                             input="".join(s + "\n" for s in specs).encode())
        if code != 0:
            raise GitCommandError(["cat-file", "--batch"], code, err.decode(errors="replace"))
        found: dict[str, tuple[str | None, bytes | None]] = {}
        pos = 0
        for spec in specs:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            found[spec] = (None, None)
            if len(header) == 3 and header[1] in (b"blob", b"tree", b"commit", b"tag"):
                size = int(header[2])
                if header[1] == b"blob":
                    found[spec] = (header[0].decode(), out[pos:pos + size])
                pos += size + 1
        return found

    def read_blobs(self, specs: list[str], env: dict[str, str] | None = None) -> \
            dict[str, bytes | None]:
        """{spec: content or None}, as ``read_objects`` reads them."""
        return {spec: data for spec, (_, data) in self.read_objects(specs, env).items()}

    def object_sizes(self, shas: list[str]) -> dict[str, int]:
        """{sha: size in bytes} of existing objects, in one ``git cat-file --batch-check``."""
        if not shas:
            return {}
        out = self.git("cat-file", "--batch-check=%(objectname) %(objectsize)",
                       input="".join(s + "\n" for s in shas).encode())
        sizes = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                sizes[parts[0]] = int(parts[1])
        return sizes

    def full(self):  # type: ignore[no-untyped-def]
        """The same repository as a ``git.Repo`` (imports pathlib and subprocess)."""
        if self._full is None:
            from .git import Repo

            self._full = Repo(self.root)
        return self._full
