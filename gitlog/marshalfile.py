"""gitlog's small caches in ``.git/gitlog/*.marshal``: read back only what was written whole.

``marshal`` trusts its input: a few damaged bytes can declare a list of two billion items,
which costs seconds and gigabytes before it fails, or raise ``MemoryError``. So each file
holds a header with the length and CRC-32 of the marshal data that follows; a file
without it (zero bytes, truncated, from an older gitlog, overwritten by anything else)
reads as no cache, without ever reaching ``marshal``. A cache can never fail a command:
``load`` returns None for any problem and ``dump`` gives up quietly (read-only ``.git``,
a full disk, a file where the folder should be). Light imports only: the git hooks read
these files.
"""

from __future__ import annotations

import marshal
import os

MAGIC = b"gitlog-cache 1\n"
MAX_BYTES = 64 << 20  # no cache of gitlog's grows near this; a larger file is not read


def load(path: str | os.PathLike[str]) -> object | None:
    """What ``dump`` wrote to ``path``; None when missing, damaged or foreign."""
    import zlib

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError:
        return None
    head = len(MAGIC) + 8
    if len(raw) < head or len(raw) > MAX_BYTES or not raw.startswith(MAGIC):
        return None
    size = int.from_bytes(raw[len(MAGIC):len(MAGIC) + 4], "little")
    crc = int.from_bytes(raw[len(MAGIC) + 4:head], "little")
    body = raw[head:]
    if len(body) != size or zlib.crc32(body) != crc:
        return None
    try:
        return marshal.loads(body)
    except Exception:  # crafted data passing the check (MemoryError, ValueError, EOFError)
        return None


def dump(path: str | os.PathLike[str], value: object) -> bool:
    """Write ``value`` to ``path`` atomically; False, and nothing changed, if it cannot be."""
    import zlib

    try:
        body = marshal.dumps(value)  # type: ignore[arg-type]
    except ValueError:  # a value marshal cannot hold
        return False
    if len(body) > MAX_BYTES:
        return False
    data = b"".join((MAGIC, len(body).to_bytes(4, "little"),
                     zlib.crc32(body).to_bytes(4, "little"), body))
    path = os.fspath(path)
    from _thread import get_ident  # (two threads of one process write apart too)

    tmp = f"{path}.{os.getpid()}.{get_ident()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        try:  # noqa: SIM105 - contextlib would cost every hook an import
            os.unlink(tmp)
        except OSError:
            pass
        return False
