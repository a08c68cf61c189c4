"""The ``.gitignore`` lines a branch-mode run commit carries for its artifacts.

``dvc add models/model.pkl`` writes ``/model.pkl`` into ``models/.gitignore`` for the
user to commit beside the pointer; DVC's checkout relies on that line and writes none.
A run logged in branch mode leaves the working tree alone, so its commit gets the line:
whoever checks the run out and restores its artifacts (``dvc checkout``) finds them
ignored, not offered to ``git add``. A path a committed ``.gitignore`` already ignores
gets nothing; lines from ``.git/info/exclude`` or a global excludes file do not count, as
another clone lacks them.
"""

from __future__ import annotations

import re

from .git import Repo
from .gitobjects import FILE_MODE, ObjectWriter


def ignore_line(name: str) -> str:
    """``/name`` as a ``.gitignore`` line matching that one name: glob characters and a
    last blank escaped (as DVC writes them)."""
    escaped = re.sub(r"([\\*?\[\]])", r"\\\1", name)
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return "/" + escaped


def _committed_ignores(repo: Repo, tree: str | None, paths: list[str]) -> set[str]:
    """The ``paths`` a ``.gitignore`` of ``tree`` ignores, as git reads the working tree's
    rules (the snapshot ``tree`` holds its tracked ``.gitignore`` files as they are)."""
    if tree is None:
        return set()
    out = repo.git("check-ignore", "--no-index", "-v", "-z", "--stdin",
                   input="\0".join(paths).encode() + b"\0", check=False).split("\0")
    found = set()
    with repo.cat_file() as cat:
        for source, _, pattern, path in zip(out[0::4], out[1::4], out[2::4], out[3::4],
                                            strict=False):
            if pattern.startswith("!") or source.startswith(("/", ".git/")):
                continue
            got = cat.read(f"{tree}:{source}")
            if got is not None and got[0] == "blob":
                found.add(path)
    return found


def add_ignores(repo: Repo, writer: ObjectWriter, root: str, snapshot: str | None,
                paths: list[str]) -> str:
    """``root`` (a run commit's tree) with a ``/NAME`` line in ``<folder>/.gitignore``
    for each artifact path of ``paths`` no committed ``.gitignore`` ignores yet."""
    from .store import replace_path

    paths = list(dict.fromkeys(paths))
    ignored = _committed_ignores(repo, snapshot, paths)
    todo = [p for p in paths if p not in ignored]
    folders: dict[str, list[str]] = {}
    for path in todo:
        parent, _, base = path.rpartition("/")
        folders.setdefault(parent, []).append(ignore_line(base))
    with repo.cat_file() as cat:
        current = {folder: cat.read(f"{root}:{folder + '/' if folder else ''}.gitignore")
                   for folder in folders}
    for folder, lines in sorted(folders.items()):
        got = current[folder]
        text = got[1].decode("utf-8", "surrogateescape") if got and got[0] == "blob" else ""
        new = [line for line in lines if line not in text.splitlines()]
        if not new:
            continue
        if text and not text.endswith("\n"):
            text += "\n"
        blob = writer.blob((text + "".join(f"{line}\n" for line in new))
                           .encode("utf-8", "surrogateescape"))
        parts = [*folder.split("/"), ".gitignore"] if folder else [".gitignore"]
        root = replace_path(repo, writer, root, parts, (FILE_MODE, blob))
    return root
