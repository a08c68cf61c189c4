"""Signed commits: gitlog's own commits are signed when the user's ``git commit`` would be.

gitlog writes a run's commit object in-process (``gitobjects``), which cannot sign it. With
``commit.gpgSign`` on, the commit is handed to ``git commit-tree -S`` instead, which signs
it as ``git commit`` does (``gpg.format`` openpgp/ssh/x509, ``user.signingKey``,
``gpg.program``, ``gpg.ssh.program``). ``commit-tree`` does not read ``commit.gpgSign``
itself, so the setting is read here; the run commit reads it in a process started while
the run's files are built, so an unsigned run pays nothing for the check.
"""

from __future__ import annotations

from .errors import GitlogError
from .git import Repo, run_git

_PROBE = ["config", "--type=bool", "--get", "commit.gpgSign"]


class SigningProbe:
    """``commit.gpgSign`` of ``repo``, read by a git process that runs meanwhile."""

    def __init__(self, repo: Repo) -> None:
        self._proc = repo.popen(*_PROBE)
        self._read: tuple[int, bytes, bytes] | None = None

    def result(self) -> bool:
        """Whether commits are to be signed. A value git cannot read as a boolean raises
        (``git commit`` refuses it as well)."""
        if self._read is None:
            out, err = self._proc.communicate()
            self._read = (self._proc.returncode, out, err)
        return _answer(*self._read)

    def close(self) -> None:
        if self._read is None:  # (not asked: a failure before the commit)
            self._proc.kill()
            self._proc.communicate()
            self._read = (1, b"", b"")


def signing_on(repo: Repo) -> bool:
    """Whether ``git commit`` signs in ``repo`` (``commit.gpgSign``)."""
    proc = run_git(_PROBE, repo.root, check=False)
    return _answer(proc.returncode, proc.stdout, proc.stderr)


def _answer(code: int, out: bytes, err: bytes) -> bool:
    if code == 1 and not out.strip():  # not set
        return False
    if code != 0:
        why = _reason(err) or f"git config exited with {code}"
        raise GitlogError(f"cannot read commit.gpgSign: {why}",
                          hint="set it to true or false: git config commit.gpgSign false")
    return out.strip() == b"true"


def commit_signed(repo: Repo, tree: str, parents: list[str], ident: str, message: str,
                  then: str) -> str:
    """Write a signed commit with ``git commit-tree -S``; return its id. ``ident``: 'Name
    <email>' of author and committer. A signing failure raises one error that names
    git's reason; ``then``: what to do once signing works again."""
    name, _, email = ident.rstrip(">").partition(" <")
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    args = ["commit-tree", "-S", tree]
    for parent in parents:
        args += ["-p", parent]
    proc = run_git(args, repo.root, input=message.encode("utf-8"), env=env, check=False)
    if proc.returncode != 0:
        why = _reason(proc.stderr) or f"git commit-tree exited with {proc.returncode}"
        raise GitlogError(f"signing the commit failed (commit.gpgSign is on): {why}",
                          hint="make the key git signs with usable (user.signingKey, "
                               f"gpg.format; its gpg-agent or ssh-agent), then {then}")
    return proc.stdout.decode().strip()


def _reason(stderr: bytes) -> str:
    """git's (and gpg's or ssh-keygen's) error lines as one line."""
    lines = []
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = line.strip()
        for prefix in ("error: ", "fatal: "):
            line = line.removeprefix(prefix)
        if line and line not in lines:
            lines.append(line)
    return "; ".join(lines)
