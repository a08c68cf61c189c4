"""Everything that goes through DVC. The only module that imports dvc (lazily).

Artifacts live in the repository's DVC cache (``.dvc/cache`` unless ``cache.dir`` says
otherwise), stored once per content; remotes are DVC remotes. Callers name objects by
their DVC 3 md5 (a folder's ends in ``.dir``) and get plain data back; DVC's exceptions
become one-line ``GitlogError``s here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import GitlogError

_LOGGERS = ("dvc", "dvc_data", "dvc_objects", "scmrepo", "fsspec", "s3fs", "botocore")
_CREDENTIAL_ERRORS = ("NoCredentialsError", "PartialCredentialsError",
                      "CredentialRetrievalError", "InvalidAccessKeyId",
                      "SignatureDoesNotMatch")


class DvcMissingError(GitlogError):
    def __init__(self, root: str) -> None:
        self.root = root
        super().__init__(f"DVC is not set up in {root}",
                         hint="run 'gitlog init' (it runs 'dvc init'), then commit .dvc/")


class RemoteError(GitlogError):
    """A DVC remote that is missing, misconfigured or refuses us."""

    def __init__(self, message: str, remote: str | None, hint: str | None = None) -> None:
        self.remote = remote
        super().__init__(message, hint=hint)


@contextlib.contextmanager
def quiet(progress: bool = False) -> Iterator[None]:
    """Keep DVC's own log lines off gitlog's output: gitlog reports what happened. With
    ``progress``, DVC's progress bars still show (on a terminal only: DVC checks)."""
    saved = {}
    for name in (*_LOGGERS, "dvc.progress"):
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.CRITICAL)
    if progress:
        logging.getLogger("dvc.progress").setLevel(logging.INFO)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def dvc_init(root: str | Path) -> None:
    """``dvc init`` in ``root`` (a git repository)."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    try:
        from dvc.repo import Repo as DvcRepo
    except ImportError as exc:  # pragma: no cover - dvc is a core dependency
        raise GitlogError(f"DVC is not installed: {exc}", hint="pip install dvc") from None
    with quiet():  # dvc init announces itself on stdout; gitlog's stdout carries data only
        DvcRepo.init(str(root))


def main_root(repo: Any) -> Path | None:
    """The main checkout of a (``gitlog.git.Repo``) repository: itself, or the one a
    linked worktree belongs to."""
    common = Path(repo.common_dir)
    return common.parent if common.name == ".git" else None


def dvc_root(repo: Any) -> Path:
    """The folder holding ``.dvc/``: the repository's root, else (a linked worktree) the
    main checkout's."""
    for candidate in (Path(repo.root), main_root(repo)):
        if candidate is not None and (candidate / ".dvc").is_dir():
            return candidate
    raise DvcMissingError(str(repo.root))


def open_dvc(repo: Any) -> Dvc:
    """The DVC repository (and cache) that artifacts of ``repo`` go to."""
    return Dvc(dvc_root(repo))


class Dvc:
    """One DVC repository opened for a batch of operations; use it as a context manager."""

    def __init__(self, root: str | Path) -> None:
        os.environ.setdefault("DVC_NO_ANALYTICS", "1")
        from dvc.repo import Repo as DvcRepo

        self.root = Path(root)
        with quiet():
            try:
                self.repo = DvcRepo(str(root))
            except Exception as exc:
                if type(exc).__name__ == "NotDvcRepoError":
                    raise DvcMissingError(str(root)) from None
                raise GitlogError(f"cannot open the DVC repository in {root}: {exc}",
                                  hint="check .dvc/config ('dvc config --list')") from None
        self.cache = self.repo.cache.local

    def close(self) -> None:
        self.repo.close()

    def __enter__(self) -> Dvc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def cache_dir(self) -> str:
        """The cache folder (``dvc cache dir``)."""
        return str(self.repo.cache.local_cache_dir)

    @property
    def ignore(self) -> Any:
        """The repository's ``.dvcignore`` filter: ``(root, dirs, files) -> (dirs,
        files)``, for ``describe.hash_path``."""
        return self.repo.dvcignore

    def ignored(self, path: str) -> bool:
        """Whether ``.dvcignore`` ignores ``path``: DVC refuses a pointer to it (its
        ``checkout`` and ``status`` stop with 'is ignored by .dvcignore')."""
        from dvc_objects.fs.local import localfs

        with quiet():
            return bool(self.repo.dvcignore.is_ignored(localfs, path))

    # -- the local cache ---------------------------------------------------------
    def store(self, hashed: Any) -> bool:
        """Put a hashed file or folder (``describe.HashedPath``) into the cache.

        Content already there is not copied again; returns True when something new was
        stored. Files are copied to a temporary name and renamed, so the cache never holds
        a partial object.
        """
        from dvc_objects.fs.local import localfs

        with quiet():
            todo = {oid: p for p, oid in hashed.files if not self.cache.exists(oid)}
            added = self.cache.add(list(todo.values()), localfs, list(todo),
                                   check_exists=False) if todo else 0
            tree = hashed.tree
            if tree is not None and not self.cache.exists(tree.oid):
                self.cache.add(tree.path, tree.fs, tree.oid)
                added += 1
        return bool(added)

    def _tree(self, md5: str, odb: Any = None) -> Any:
        from dvc_data.hashfile.hash_info import HashInfo
        from dvc_data.hashfile.tree import Tree

        return Tree.load(odb or self.cache, HashInfo("md5", md5))

    def has(self, md5: str) -> bool:
        """True when the object (for a folder: its listing and every file) is cached."""
        if not md5.endswith(".dir"):
            return bool(self.cache.exists(md5))
        try:
            tree = self._tree(md5)
        except Exception:  # missing or corrupt listing
            return False
        return all(self.cache.exists(hi.value) for _, _, hi in tree)

    def files(self, md5: str) -> list[tuple[tuple[str, ...], str]]:
        """(relative parts, cache path) of each file of a cached object; () for a file."""
        if not md5.endswith(".dir"):
            return [((), self.cache.oid_to_path(md5))]
        return [(tuple(key), self.cache.oid_to_path(hi.value))
                for key, _, hi in self._tree(md5)]

    # -- remotes ----------------------------------------------------------------------
    def remote_name(self, remote: str | None) -> str | None:
        return remote or self.repo.config["core"].get("remote")

    def _describe(self, remote: str | None) -> str:
        name = self.remote_name(remote)
        url = (self.repo.config["remote"].get(name) or {}).get("url") if name else None
        return f"{name!r} ({url})" if url else repr(name)

    def _remote_odb(self, remote: str | None, command: str) -> Any:
        try:
            with quiet():
                return self.repo.cloud.get_remote_odb(remote, command)
        except Exception as exc:
            raise self._translate(exc, remote) from None

    def _translate(self, exc: BaseException, remote: str | None) -> GitlogError:
        name = self.remote_name(remote)
        kind = type(exc).__name__
        if kind == "NoRemoteError":
            return RemoteError("no DVC remote configured for artifacts", None,
                               hint="dvc remote add -d storage /path/or/s3://bucket/path "
                                    "(or pass --dvc-remote NAME)")
        if kind == "RemoteNotFoundError" or "doesn't exist" in str(exc):
            return RemoteError(f"no DVC remote named {name!r}", name,
                               hint="list remotes with 'dvc remote list'")
        if kind in ("ConfigError", "RemoteConfigError"):
            return RemoteError(f"DVC remote {name!r} is not usable: {exc}", name,
                               hint="list remotes with 'dvc remote list'")
        if _is_credentials_error(exc):
            return RemoteError(f"no valid credentials for DVC remote {self._describe(remote)}",
                               name, hint="set the remote's credentials (for S3: "
                               "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or 'dvc remote "
                               f"modify --local {name} access_key_id ...')")
        if isinstance(exc, GitlogError):
            return exc
        return RemoteError(f"DVC remote {self._describe(remote)} failed: "
                           f"{kind}: {_first_line(exc)}", name,
                           hint="check the remote's URL and that it is reachable "
                                "('dvc remote list'); then re-run")

    def _check_folder(self, odb: Any, remote: str | None) -> None:
        """A local remote whose folder is missing (a URL of another machine, a drive not
        mounted) is said as such: DVC reads it as empty, which would blame the pushes."""
        if getattr(odb.fs, "protocol", None) != "local":
            return
        root, tail = str(odb.path), os.sep + os.path.join("files", "md5")  # DVC 3's layout
        root = root[:-len(tail)] if root.endswith(tail) else root
        if not os.path.isdir(root):
            name = self.remote_name(remote)
            raise RemoteError(f"DVC remote {self._describe(remote)} is not reachable here: no "
                              f"folder {root}", name,
                              hint="check its URL ('dvc remote list'); for this machine: "
                                   f"dvc remote modify --local {name} url PATH")

    def _check_reachable(self, odb: Any, remote: str | None) -> None:
        """Raise RemoteError when the remote cannot be reached (connection refused, no
        such host, a timeout). DVC's existence checks take such an error for "absent", so
        an HTTP remote down read as one that lacks everything: "upload failed", "not on
        the remote" (blaming the pushes). Asked only once something is found missing."""
        try:
            with quiet():
                odb.fs.info(odb.path)
        except Exception as exc:
            cause = _connection_error(exc)
            if cause is not None:
                raise RemoteError(f"DVC remote {self._describe(remote)} is not reachable: "
                                  f"{_first_line(cause)}", self.remote_name(remote),
                                  hint="check the remote's URL ('dvc remote list') and the "
                                       "network; then re-run") from None

    def _on_remote(self, md5s: set[str], odb: Any) -> set[str]:
        """Which of ``md5s`` the remote holds (a folder: its listing, uploaded last)."""
        if not md5s:
            return set()
        with quiet():
            return set(odb.oids_exist(sorted(md5s)))

    def _files_off_remote(self, tree: Any, odb: Any) -> list[str]:
        """Paths (``a/b.csv``) of the files of a folder's listing the remote lacks."""
        files = {"/".join(key): hi.value for key, _, hi in tree}
        there = self._on_remote(set(files.values()), odb)
        return sorted(path for path, oid in files.items() if oid not in there)

    def unpublished(self, md5s: set[str], remote: str | None = None) -> set[str]:
        """Which of ``md5s`` the local cache holds and the DVC remote lacks (a folder:
        its listing or any of its files, as a remote can lose one)."""
        local = {m for m in md5s if self.has(m)}
        if not local:
            return set()
        odb = self._remote_odb(remote, "push")
        try:
            lacking = (local - self._on_remote(local, odb)) | self._partial(local, odb)
        except Exception as exc:
            raise self._translate(exc, remote) from None
        if lacking:
            self._check_reachable(odb, remote)
        return lacking

    def push(self, md5s: list[str], remote: str | None = None,
             progress: bool = False) -> dict[str, str]:
        """Upload the objects to the DVC remote; {md5: why} for each one not there after.

        DVC uploads files content-addressed and a folder's listing only after all its
        files, so whatever a later pull finds on the remote is complete. A folder whose
        listing is there but not every file (one lost on the remote) gets its files again.
        """
        from dvc_data.hashfile.db import get_index
        from dvc_data.hashfile.hash_info import HashInfo

        wanted = set(md5s)
        if not wanted:
            return {}
        odb = self._remote_odb(remote, "push")
        local_missing = {md5 for md5 in wanted if not self.has(md5)}
        try:
            with quiet(progress):
                partial = self._partial(wanted - local_missing, odb)
                objs: set[Any] = set()
                for md5 in wanted - local_missing:
                    if md5 not in partial:  # DVC takes a listing there for all its files
                        objs.add(HashInfo("md5", md5))
                    if md5.endswith(".dir"):
                        objs.update(hi for _, _, hi in self._tree(md5))
                if partial:
                    get_index(odb).clear()  # DVC's record of the remote says they are there
                if objs:
                    self.repo.cloud.push(objs, remote=remote, odb=odb)
                present = self._on_remote(wanted, odb) - self._partial(partial, odb)
        except Exception as exc:
            raise self._translate(exc, remote) from None
        if wanted - present - local_missing:
            self._check_reachable(odb, remote)
        return {md5: ("missing from the local DVC cache" if md5 in local_missing
                      else "upload failed")
                for md5 in wanted - present}

    def _partial(self, md5s: set[str], odb: Any) -> set[str]:
        """The cached folders of ``md5s`` whose listing the remote has but not every file
        (one query for the files of them all: a remote that lists is listed once)."""
        dirs = {m: {hi.value for _, _, hi in self._tree(m)}
                for m in self._on_remote({m for m in md5s if m.endswith(".dir")}, odb)}
        there = self._on_remote(set().union(*dirs.values()), odb)
        return {m for m, oids in dirs.items() if not oids <= there}

    def fetch(self, md5s: list[str], remote: str | None = None,
              progress: bool = False) -> dict[str, str]:
        """Bring the objects missing from the cache in from the DVC remote; {md5: why}
        for each one still missing after."""
        from dvc_data.hashfile.hash_info import HashInfo

        need = sorted({m for m in md5s if not self.has(m)})
        if not need:
            return {}
        odb = self._remote_odb(remote, "pull")
        self._check_folder(odb, remote)
        objs: set[Any] = set()
        absent: dict[str, str] = {}
        try:
            for md5 in need:
                objs.add(HashInfo("md5", md5))
                if not md5.endswith(".dir"):
                    continue
                try:
                    tree = self._tree(md5, odb)
                except FileNotFoundError:
                    absent[md5] = "not on the remote"
                    continue
                objs.update(hi for _, _, hi in tree)
            with quiet(progress):
                self.repo.cloud.pull(objs, remote=remote, odb=odb)
        except Exception as exc:
            raise self._translate(exc, remote) from None
        if any(not self.has(md5) for md5 in need):
            self._check_reachable(odb, remote)
        for md5 in need:
            if md5 not in absent and not self.has(md5):
                absent[md5] = self._why_missing(md5, odb)
        return absent

    def _why_missing(self, md5: str, odb: Any) -> str:
        """Why an object the remote was asked for is still not in the cache."""
        if not self._on_remote({md5}, odb):
            return "not on the remote"
        if md5.endswith(".dir"):
            tree = self._tree(md5, odb)
            lost = self._files_off_remote(tree, odb)
            if lost:
                total = len(list(tree))
                more = f" and {len(lost) - 1} more" if len(lost) > 1 else ""
                verb = "is" if len(lost) == 1 else "are"
                return f"{len(lost)} of its {total} files {verb} not on the remote: " \
                    f"{lost[0]}{more}"
        return "download failed"


def share_cache(worktree_root: Path, main: Path) -> None:
    """Point a temporary worktree's DVC at the main checkout's cache and local config."""
    dvc_dir = worktree_root / ".dvc"
    if not dvc_dir.is_dir():
        return
    from dvc.config import Config

    local = main / ".dvc" / "config.local"
    if local.exists():
        shutil.copyfile(local, dvc_dir / "config.local")
    with Dvc(main) as dvc:
        cache_dir = dvc.cache_dir
    with quiet(), Config(str(dvc_dir)).edit("local") as conf:
        conf["cache"]["dir"] = cache_dir


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors it was raised from (at most 10)."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return
        yield current
        current = current.__cause__ or current.__context__


def _is_credentials_error(exc: BaseException) -> bool:
    return any(type(e).__name__ in _CREDENTIAL_ERRORS or "Unable to locate credentials" in
               str(e) or "InvalidAccessKeyId" in str(e) for e in _chain(exc))


def _connection_error(exc: BaseException) -> BaseException | None:
    """The error in ``exc``'s chain that says the host could not be reached, if any (an
    HTTP 404 or a missing folder is no such error)."""
    return next((e for e in _chain(exc)
                 if isinstance(e, (ConnectionError, TimeoutError, socket.gaierror))
                 or "Connect" in type(e).__name__ or "Timeout" in type(e).__name__), None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def checkout(root: str | Path, targets: list[str] | None) -> dict[str, list[str]]:
    """``dvc checkout`` of ``targets`` (pointer files; None: everything), for the
    post-checkout and post-merge hooks.

    Returns {"added"|"modified"|"deleted"|"failed": [paths]}; files missing from the
    cache are listed as failed, not raised.
    """
    from dvc.exceptions import CheckoutError, DvcException

    with Dvc(root) as dvc, quiet():
        try:
            result = dvc.repo.checkout(targets=targets)
        except CheckoutError as exc:
            result = dict(exc.result or {})
            result["failed"] = list(exc.target_infos)
        except DvcException as exc:
            raise GitlogError(f"dvc checkout failed: {_first_line(exc)}",
                              hint="run: dvc checkout") from None
    return {k: [str(p) for p in result.get(k) or []]
            for k in ("added", "modified", "deleted", "failed")}
