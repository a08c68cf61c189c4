"""Writing git objects in-process: loose blobs, trees and commits.

A process per object is too slow for a run with many files, so objects are hashed and
zlib-compressed here and written the way git writes loose objects (temporary file, then
an atomic rename). Both object formats (sha1, sha256) are supported.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zlib
from pathlib import Path

TREE_MODE = "40000"
FILE_MODE = "100644"


def parse_tree(data: bytes, object_format: str = "sha1") -> list[tuple[str, str, str]]:
    """Entries (mode, sha, name) of a raw tree object, modes as git stores them."""
    size = 32 if object_format == "sha256" else 20
    entries = []
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = data[pos:space].decode()
        name = data[space + 1:nul].decode("utf-8", "surrogateescape")
        entries.append((mode, data[nul + 1:nul + 1 + size].hex(), name))
        pos = nul + 1 + size
    return entries


class ObjectWriter:
    def __init__(self, objects_dir: Path, object_format: str = "sha1") -> None:
        self.objects_dir = Path(objects_dir)
        self.algo = "sha256" if object_format == "sha256" else "sha1"

    def write(self, kind: str, data: bytes) -> str:
        header = f"{kind} {len(data)}\0".encode()
        digest = hashlib.new(self.algo)
        digest.update(header)
        digest.update(data)
        sha = digest.hexdigest()
        folder = self.objects_dir / sha[:2]
        target = folder / sha[2:]
        if target.exists():
            return sha
        folder.mkdir(exist_ok=True)
        comp = zlib.compressobj(1)
        payload = comp.compress(header) + comp.compress(data) + comp.flush()
        fd, tmp = tempfile.mkstemp(prefix="tmp_obj_", dir=folder)
        try:
            os.write(fd, payload)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o444)
        os.replace(tmp, target)
        return sha

    def blob(self, data: bytes) -> str:
        return self.write("blob", data)

    def tree(self, entries: dict[str, tuple[str, str]]) -> str:
        """Write a tree from {name: (mode, sha)}, sorted the way git sorts entries."""
        def key(name: str) -> bytes:
            mode = entries[name][0]
            raw = name.encode("utf-8", "surrogateescape")
            return raw + b"/" if mode == TREE_MODE else raw

        body = b"".join(
            entries[name][0].encode() + b" " + name.encode("utf-8", "surrogateescape") + b"\0"
            + bytes.fromhex(entries[name][1])
            for name in sorted(entries, key=key)
        )
        return self.write("tree", body)

    def commit(self, tree: str, parents: list[str], ident: str, message: str,
               when: float | None = None) -> str:
        stamp = _git_time(time.time() if when is None else when)
        lines = [f"tree {tree}"] + [f"parent {p}" for p in parents]
        lines += [f"author {ident} {stamp}", f"committer {ident} {stamp}", "", message]
        text = "\n".join(lines)
        if not text.endswith("\n"):
            text += "\n"
        return self.write("commit", text.encode("utf-8"))


def _git_time(when: float) -> str:
    offset = time.localtime(when).tm_gmtoff
    sign = "+" if offset >= 0 else "-"
    offset = abs(offset)
    return f"{int(when)} {sign}{offset // 3600:02d}{(offset % 3600) // 60:02d}"
