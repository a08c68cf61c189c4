"""Putting a finished run where it belongs.

Branch mode: a commit on ``<prefix><experiment>`` whose tree is the code snapshot taken
when the run started plus the log directory (and gitlog's ``dvc.yaml`` entries), written
in-process, and a compare-and-swap move of the branch, retried on conflict.

Workspace mode (HEAD is on the experiment's branch): the log directory is written into
the working tree for the user to commit with the code.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .config import Config
from .errors import GitlogError
from .git import Repo
from .gitobjects import FILE_MODE, TREE_MODE, ObjectWriter

MAX_ATTEMPTS = 200


def write_dir_tree(writer: ObjectWriter, files: dict[str, bytes]) -> str:
    """Write nested trees for {relative/path: content}; return the top tree's id."""
    root: dict[str, Any] = {}
    for rel, data in files.items():
        node = root
        parts = rel.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = data

    def write(node: dict[str, Any]) -> str:
        entries = {}
        for name, value in node.items():
            if isinstance(value, dict):
                entries[name] = (TREE_MODE, write(value))
            else:
                entries[name] = (FILE_MODE, writer.blob(value))
        return writer.tree(entries)

    return write(root)


def replace_path(repo: Repo, writer: ObjectWriter, base_tree: str | None, parts: list[str],
                 new: tuple[str, str] | None,
                 extra_top: dict[str, tuple[str, str]] | None = None) -> str:
    """A copy of ``base_tree`` with the entry at ``parts`` replaced (or removed if None)."""
    entries = {name: (mode, sha) for mode, _, sha, name in repo.ls_tree(base_tree)} \
        if base_tree else {}
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


def _dvc_yaml(repo: Repo, base_tree: str | None, log_dir: str,
              files: Any = ()) -> bytes | None:
    """dvc.yaml content with gitlog's entries, or None when base's already has them."""
    from .dvcfiles import merge_entries

    existing = None
    if base_tree:
        proc = repo.git("cat-file", "-p", f"{base_tree}:dvc.yaml", check=False)
        existing = proc if proc else None
    return merge_entries(existing, log_dir, files)


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
               message: str) -> str:
    """Commit the run onto its experiment branch; return the new commit id."""
    writer = ObjectWriter(repo.objects_dir, repo.object_format)
    log_tree = write_dir_tree(writer, files)
    base = meta.get("snapshot_tree")
    log_dir = meta.get("log_dir") or config.log_dir
    extra = {}
    dvc_yaml = _dvc_yaml(repo, base, log_dir, files)
    if dvc_yaml is not None:
        extra["dvc.yaml"] = (FILE_MODE, writer.blob(dvc_yaml))
    root = replace_path(repo, writer, base, log_dir.split("/"), (TREE_MODE, log_tree), extra)
    ref = meta["branch"]
    code = meta.get("code_commit")
    ident = meta.get("ident") or "gitlog <gitlog@localhost>"
    ancestry: dict[str, bool] = {}
    for attempt in range(MAX_ATTEMPTS):
        tip = repo.ref_tip(ref)
        parents = [tip] if tip else []
        if code and code != tip:
            if tip is None:
                parents.append(code)
            else:
                if tip not in ancestry:
                    ancestry[tip] = repo.is_ancestor(code, tip)
                if not ancestry[tip]:
                    parents.append(code)
        commit = writer.commit(root, parents, ident, message)
        if repo.update_ref(ref, commit, tip, f"gitlog: run {meta['id']}"):
            return commit
        time.sleep(min(0.5, 0.005 * (attempt + 1)) * random.uniform(0.5, 1.5))
    raise GitlogError(f"could not move {ref}: {MAX_ATTEMPTS} attempts lost to other writers",
                      hint="run 'gitlog recover' to commit the run once the others are done")


def write_workspace(root: Path, log_dir: str, files: dict[str, bytes]) -> Path:
    """Replace ``<root>/<log_dir>`` with the run's files; return that folder."""
    target = root / log_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gitlog-new-", dir=target.parent))
    for rel, data in files.items():
        path = staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=".gitlog-old-", dir=target.parent))
        os.rmdir(old)
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def summary_line(metrics: dict[str, Any], keys: list[str], limit: int = 5) -> str:
    """``loss=0.231 acc=0.941``: the key metrics of a summary, else the first few."""
    from .layout import flatten

    flat = {k: v for k, v in flatten(metrics).items() if k != "step"}
    chosen = [k for k in keys if k in flat] or sorted(flat)[:limit]
    return " ".join(f"{k}={_fmt(flat[k])}" for k in chosen[:limit])


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def store_journal(repo: Repo, config: Config, journal: Any) -> tuple[str, str | None,
                                                                       Path | None]:
    """Commit (or write to the workspace) a finished or dead run's journal, then remove it.

    Returns (status, commit, workspace path).
    """
    import json

    from .layout import build_files
    from .postcommit import after_commit

    meta = journal.meta()
    files, record = build_files(journal)
    summary = summary_line(json.loads(files["metrics.json"]), config["metrics"]["key"])
    commit = path = None
    if meta.get("mode") == "workspace":
        path = write_workspace(repo.root, meta.get("log_dir") or config.log_dir, files)
        from .checkcache import remember_run_files  # spares the pre-commit hook a YAML parse

        remember_run_files(repo.gitlog_dir, repo.object_format, files)
        journal.mark_committed(str(path))
    else:
        commit = commit_run(repo, config, meta, files, commit_message(meta, record, summary))
        journal.mark_committed(commit)
    journal.remove()
    if commit:
        after_commit(repo, config, commit)
    return record["status"], commit, path
