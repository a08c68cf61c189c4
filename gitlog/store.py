"""Putting a finished run where it belongs.

Branch mode: a commit on ``<prefix><experiment>`` whose tree is the code snapshot taken
when the run started plus the log directory (and gitlog's ``dvc.yaml`` entries), written
in-process, and a compare-and-swap move of the branch, retried on conflict.

Workspace mode (HEAD is on the experiment's branch): the log directory is written into
the working tree for the user to commit with the code (``workspace.py``); committed as in
branch mode when HEAD has left that branch by the time the run is stored.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from . import refmove
from .branches import check_branch_free, ref_clash
from .commitpool import commit_pool
from .config import Config
from .errors import GitlogError
from .git import Repo
from .gitobjects import FILE_MODE, TREE_MODE, ObjectWriter, parse_tree

MAX_ATTEMPTS = 200
# Blobs larger than this are hashed and compressed in worker threads (zlib and hashlib
# release the GIL), so the metric series of a long run compress on all cores.
PARALLEL_BLOB_BYTES = 256 * 1024
# How many commits back the branch's first-parent line is searched for the code commit
# as a parent before asking ``git merge-base`` (each step is one cat-file read).
RECENT_RUNS = 64
# (code commit, commit) pairs this process knows the code commit is an ancestor of: the
# run commits it wrote. A sweep's next run on the same code finds the branch tip here;
# past RECENT_RUNS runs it asked 'git merge-base', which walks the whole branch (21 ms a
# run at 600 runs on one code commit, growing with each run).
_KNOWN: dict[tuple[str, str], None] = {}
_KNOWN_LOCK = threading.Lock()
KNOWN_MAX = 64  # a sweep needs the last few tips only


class Prepared:
    """Work started before a run's files are built, so that it overlaps that work.

    One ``git cat-file --batch`` is asked at once for the base tree, its ``dvc.yaml`` and
    the branch tip, and answers when the commit is assembled; worker threads hash and
    compress the metric series, the bulk of a long run (zlib and hashlib release the GIL).
    """

    def __init__(self, repo: Repo, meta: dict[str, Any], pool: Any,
                 journal: Any = None) -> None:
        self.repo, self.meta, self.pool = repo, meta, pool
        self.writer = ObjectWriter(repo.objects_dir, repo.object_format)
        self._cat = repo.cat_file()
        base = meta.get("snapshot_tree")
        if base:
            self._cat.send(base)
            self._cat.send(f"{base}:dvc.yaml")
        self._cat.send(meta["branch"])
        from .signing import SigningProbe

        self._signing = SigningProbe(repo)
        self.sign = False  # (known once ``reads`` has run)
        self.ready: dict[str, tuple[bytes, Future]] = {}
        # the large series read here, {name: (file size, whole lines)}: build_files takes
        # them from here rather than reading them again (a run of 200 series of 100,000
        # steps held 700 MB of them twice)
        self.series: dict[str, tuple[int, bytes]] = {}
        if journal is not None:
            from .layout import whole_lines

            for name, path in journal.metric_files():
                raw = path.read_bytes()
                data = whole_lines(raw)
                if len(data) >= PARALLEL_BLOB_BYTES:
                    self.series[name] = (len(raw), data)
                    self.ready[f"metrics/{name}.tsv"] = (data, pool.submit(self.writer.blob,
                                                                            data))

    def close(self) -> None:
        self._cat.close()
        self._signing.close()

    def reads(self) -> tuple[dict[str, tuple[str, str]], str | None, str | None,
                             bool | None]:
        """(base entries, base dvc.yaml text, branch tip, code is an ancestor of tip)."""
        base, code = self.meta.get("snapshot_tree"), self.meta.get("code_commit")
        entries: dict[str, tuple[str, str]] = {}
        dvc_yaml = None
        if base:
            tree, blob = self._cat.receive(), self._cat.receive()
            if tree is None or tree[1] != "tree":
                raise GitlogError(f"the code snapshot {base} of run {self.meta['id']} is "
                                  "missing", hint="run 'git fsck' to check the repository")
            entries = {name: (mode, sha) for mode, sha, name in
                       parse_tree(tree[2], self.repo.object_format)}
            if blob is not None and blob[1] == "blob":
                dvc_yaml = blob[2].decode("utf-8", "replace") or None
        found = self._cat.receive()
        tip = found[0] if found and found[1] == "commit" else None
        ancestry = None
        if code and tip and code != tip:
            ancestry = _recent_parent(self._cat, code, tip)
        self.sign = self._signing.result()
        self.close()
        if code and tip and code != tip and ancestry is None:
            ancestry = self.repo.is_ancestor(code, tip)
            if ancestry:
                _know(code, tip)
        return entries, dvc_yaml, tip, ancestry


def _recent_parent(cat: Any, code: str, tip: str) -> bool | None:
    """True when ``code`` is a parent of one of the last runs on the branch (the usual
    case, decided without a ``merge-base`` process); None when that cannot tell."""
    commit = tip
    for _ in range(RECENT_RUNS):
        if (code, commit) in _KNOWN:
            return True
        got = cat.read(commit)
        if got is None or got[0] != "commit":
            return None
        header = got[1].split(b"\n\n", 1)[0].decode("ascii", "replace").split("\n")
        parents = [line[7:] for line in header if line.startswith("parent ")]
        if code in parents:
            return True
        if not parents:
            return None
        commit = parents[0]
    return None


def _know(code: str, commit: str) -> None:
    with _KNOWN_LOCK:
        _KNOWN[(code, commit)] = None
        if len(_KNOWN) > KNOWN_MAX:
            del _KNOWN[next(iter(_KNOWN))]


def users_log_files(repo: Repo, meta: dict[str, Any], log_dir: str) -> dict[str, tuple[str,
                                                                                     str]]:
    """{path: (mode, blob)} of the files in the code snapshot's log folder that are not a
    run's (``runfiles.is_run_file``): notes the user committed there. The run commit keeps
    them, as a workspace run keeps them in the working tree; the previous run's files it
    replaces. Asked only when the snapshot has the folder (its code tree differs then)."""
    from .git import run_git
    from .runfiles import is_run_file

    snapshot = meta.get("snapshot_tree")
    if not snapshot or meta.get("code_tree") in (None, snapshot):
        return {}
    out = run_git(["ls-tree", "-r", "-z", f"{snapshot}:{log_dir}"], repo.root, check=False)
    kept = {}
    for item in out.stdout.decode("utf-8", "surrogateescape").split("\0"):
        head, _, rel = item.partition("\t")
        parts = head.split()
        if rel and len(parts) == 3 and not is_run_file(rel):
            kept[rel] = (parts[0], parts[2])
    return kept


def write_dir_tree(writer: ObjectWriter, files: dict[str, bytes],
                   pool: Any = None,
                   ready: dict[str, tuple[bytes, Future]] | None = None,
                   kept: dict[str, tuple[str, str]] | None = None) -> str:
    """Write nested trees for {relative/path: content}; return the top tree's id.

    ``ready``: blobs already being written, {path: (content, future of its id)}; used
    where the content is still the same. ``kept``: entries already stored, {path: (mode,
    id)}, added where they do not clash with ``files``.
    """
    blobs: dict[str, Future] = {}
    for rel, (data, future) in (ready or {}).items():
        if files.get(rel) == data:
            blobs[rel] = future
    if pool is not None:
        big = [rel for rel, data in files.items()
               if rel not in blobs and len(data) >= PARALLEL_BLOB_BYTES]
        if len(big) > 1:
            blobs.update({rel: pool.submit(writer.blob, files[rel]) for rel in big})
    root: dict[str, Any] = {}
    for rel in files:
        node = root
        parts = rel.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = rel
    for rel, entry in (kept or {}).items():
        node = root
        *folders, name = rel.split("/")
        for part in folders:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node.setdefault(name, entry)

    def write(node: dict[str, Any]) -> str:
        entries = {}
        for name, value in node.items():
            if isinstance(value, dict):
                entries[name] = (TREE_MODE, write(value))
            elif isinstance(value, tuple):
                entries[name] = value
            elif value in blobs:
                entries[name] = (FILE_MODE, blobs[value].result())
            else:
                entries[name] = (FILE_MODE, writer.blob(files[value]))
        return writer.tree(entries)

    return write(root)


def replace_path(repo: Repo, writer: ObjectWriter, base_tree: str | None, parts: list[str],
                 new: tuple[str, str] | None,
                 extra_top: dict[str, tuple[str, str]] | None = None,
                 entries: dict[str, tuple[str, str]] | None = None) -> str:
    """A copy of ``base_tree`` with the entry at ``parts`` replaced (or removed if None).

    ``entries``: the base tree's entries when the caller has already read them.
    """
    if entries is None:
        entries = {name: (mode, sha) for mode, _, sha, name in repo.ls_tree(base_tree)} \
            if base_tree else {}
    else:
        entries = dict(entries)
    head = parts[0]
    if len(parts) == 1:
        if new is None:
            entries.pop(head, None)
        else:
            entries[head] = new
    else:
        current = entries.get(head)
        sub = current[1] if current and current[0] == TREE_MODE else None
        entries[head] = (TREE_MODE, replace_path(repo, writer, sub, parts[1:], new))
        if not repo.ls_tree(entries[head][1]):
            entries.pop(head)
    if extra_top:
        entries.update(extra_top)
    return writer.tree(entries)


def tree_without(repo: Repo, tree: str, log_dir: str) -> str:
    """The code tree: ``tree`` minus the log directory (what the hooks compare against)."""
    writer = ObjectWriter(repo.objects_dir, repo.object_format)
    return replace_path(repo, writer, tree, log_dir.split("/"), None)


def _dvc_yaml(existing: str | None, log_dir: str, files: Any = ()) -> bytes | None:
    """dvc.yaml content with gitlog's entries, or None when base's already has them, or
    when it is not YAML (a dvc.yaml mid-edit): the run is committed all the same, with
    that file as it is, which DVC reports."""
    from .dvcfiles import DvcYamlError, merge_entries

    try:
        return merge_entries(existing, log_dir, files)
    except DvcYamlError:
        return None


def _declare_in_workspace(root: Path, log_dir: str, files: dict[str, bytes]) -> None:
    """Add the run's entries (its eval plots: ROC, PR, confusion) to the working tree's
    dvc.yaml, as a run commit's dvc.yaml gets them, for the user to commit with the run
    (the pre-commit hook does not count them as code). Only when the project has a
    dvc.yaml ('gitlog init' writes one): no new file in the user's tree unasked."""
    target = root / "dvc.yaml"
    try:
        existing = target.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return
    merged = _dvc_yaml(existing, log_dir, files)
    if merged is not None:
        from .workspace import replace_file

        replace_file(target, merged)


def commit_message(meta: dict[str, Any], record: dict[str, Any], summary: str) -> str:
    subject = meta.get("message")
    if not subject:
        code = meta.get("code_subject")
        subject = f"{meta['experiment']}: {code}" if code else \
            f"{meta['experiment']}: run {meta['id']}"
        if meta.get("dirty"):
            subject += " (+uncommitted)"
        if record["status"] != "completed":
            subject += f" [{record['status']}]"
    body = [subject, ""]
    if summary:
        body += [summary, ""]
    body += [
        f"Gitlog-Run: {meta['id']}",
        f"Gitlog-Experiment: {meta['experiment']}",
        f"Gitlog-Code: {meta.get('code_commit') or 'none'}",
        f"Gitlog-Status: {record['status']}",
    ]
    return "\n".join(body) + "\n"


def commit_run(repo: Repo, config: Config, meta: dict[str, Any], files: dict[str, bytes],
               message: str, prepared: Prepared | None = None,
               ignored: list[str] | None = None) -> str:
    """Commit the run onto its experiment branch; return the new commit id.

    ``prepared``: git reads and blob writes already under way (``store_journal`` starts
    them before it builds the files); started here otherwise. ``ignored``: the run's
    artifact paths, which the commit's ``.gitignore`` files get lines for.
    """
    with commit_pool() as own:
        prepared = prepared or Prepared(repo, meta, own)
        log_dir = meta.get("log_dir") or config.log_dir
        try:
            log_tree = write_dir_tree(prepared.writer, files, prepared.pool, prepared.ready,
                                      kept=users_log_files(repo, meta, log_dir))
            reads = prepared.reads()
        finally:
            prepared.close()
        writer, sign = prepared.writer, prepared.sign
        base_entries, existing_dvc_yaml, first_tip, first_ancestry = reads
        extra = {}
        dvc_yaml = _dvc_yaml(existing_dvc_yaml, log_dir, files)
        if dvc_yaml is not None:
            extra["dvc.yaml"] = (FILE_MODE, writer.blob(dvc_yaml))
        root = replace_path(repo, writer, meta.get("snapshot_tree"), log_dir.split("/"),
                            (TREE_MODE, log_tree), extra, entries=base_entries)
        if ignored:
            from .ignores import add_ignores

            root = add_ignores(repo, writer, root, meta.get("snapshot_tree"), ignored)
    ref = meta["branch"]
    code = meta.get("code_commit")
    ident = meta.get("ident") or "gitlog <gitlog@localhost>"
    ancestry: dict[str, bool] = {}
    if first_tip is not None and first_ancestry is not None:
        ancestry[first_tip] = first_ancestry
    check_branch_free(repo, ref, committing=True)
    locked: tuple[str | None, float] | None = None  # (the tip, since when) a lock stays
    for attempt in range(MAX_ATTEMPTS):
        tip = first_tip if attempt == 0 else repo.ref_tip(ref)
        parents = [tip] if tip else []
        if code and code != tip:
            if tip is None:
                parents.append(code)
            else:
                if tip not in ancestry:  # (another writer's commit: one of ours?)
                    ancestry[tip] = (code, tip) in _KNOWN or repo.is_ancestor(code, tip)
                if not ancestry[tip]:
                    parents.append(code)
        if sign:
            from .signing import commit_signed

            commit = commit_signed(repo, root, parents, ident, message,
                                   then="run 'gitlog recover' to commit the run")
        else:
            commit = writer.commit(root, parents, ident, message)
        why = repo.move_ref(ref, commit, tip, f"gitlog: run {meta['id']}")
        if why is None:
            if code:
                _know(code, commit)
            return commit
        clash = ref_clash(repo, ref) if tip is None else None
        if clash:  # no other writer will ever make room: say so at once
            raise GitlogError(f"could not create {ref[len('refs/heads/'):]}: branch "
                              f"{clash[len('refs/heads/'):]} exists, and git cannot keep a "
                              "branch inside another",
                              hint=f"rename that branch (git branch -m "
                                   f"{clash[len('refs/heads/'):]} NEW), then run "
                                   "'gitlog recover'")
        if (reason := refmove.refusal(why)) is not None:
            raise refmove.refused(ref, reason)
        lock = refmove.lock_file(why)
        if lock is None or locked is None or locked[0] != tip:
            locked = (tip, time.monotonic()) if lock else None
        elif time.monotonic() - locked[1] > refmove.STALE_LOCK:
            raise refmove.stale_lock(ref, lock)
        time.sleep(min(0.5, 0.005 * (attempt + 1)) * random.uniform(0.5, 1.5))
    raise GitlogError(f"could not move {ref}: {MAX_ATTEMPTS} attempts lost to other writers",
                      hint="run 'gitlog recover' to commit the run once the others are done")


def workspace_root(repo: Repo, meta: dict[str, Any]) -> Path | None:
    """The working tree a workspace-mode run writes its logs into: the one it ran in, while
    HEAD there is still on the run's branch. None (commit it onto the branch instead) for
    a branch run, or when HEAD has left the branch since (a checkout of another branch
    during the run, or before 'gitlog recover'): that working tree is not the run's."""
    if meta.get("mode") != "workspace":
        return None
    root = Path(meta.get("root") or repo.root).resolve()
    holder = repo.worktree_on(meta["branch"])
    return root if holder is not None and holder.resolve() == root else None


def store_journal(repo: Repo, config: Config, journal: Any) -> tuple[str, str | None,
                                                                       Path | None]:
    """Commit (or write to the workspace) a finished or dead run's journal, then remove it.

    Returns (status, commit, workspace path).
    """
    import json

    from .layout import build_files
    from .postcommit import after_commit
    from .runfiles import summary_line

    meta = journal.meta()
    root = workspace_root(repo, meta)
    if root is not None:
        from .workspace import write_workspace

        files, record = build_files(journal)
        log_dir = meta.get("log_dir") or config.log_dir
        path = write_workspace(root, log_dir, files)
        _declare_in_workspace(root, log_dir, files)
        from .checkcache import remember_run_files  # spares the pre-commit hook a YAML parse

        remember_run_files(repo.gitlog_dir, repo.object_format, files)
        journal.mark_committed(str(path))
        commit = None
    else:
        path = None
        with commit_pool() as pool:
            prepared = Prepared(repo, meta, pool, journal)  # git and zlib work meanwhile
            try:
                files, record = build_files(journal, read=prepared.series)
                summary = summary_line(json.loads(files["metrics.json"]), None,
                                       config["metrics"]["key"])
                paths = [a["path"] for a in (record.get("artifacts") or {}).values()]
                commit = commit_run(repo, config, meta, files,
                                    commit_message(meta, record, summary), prepared, paths)
            finally:
                prepared.close()
        journal.mark_committed(commit)
    journal.remove()
    if commit:
        after_commit(repo, config, commit)
    return record["status"], commit, path
