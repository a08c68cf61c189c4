"""``.gitlog.yaml`` for the git hooks, without paying for a YAML parser on every commit.

Importing ruamel.yaml and parsing the file costs ~40 ms, half a hook's budget. The
effective configuration (the file over the defaults, validated by ``config.load``) is
kept in ``.git/gitlog/config-cache.marshal`` beside the exact text it came from; a hook
reads the text (a few hundred bytes) and uses the cached values when it is unchanged.
``marshal`` is built into the interpreter, so reading the cache imports nothing.
A changed gitlog (its config.py) invalidates the cache too.
"""

from __future__ import annotations

import marshal
import os

CONFIG_FILE = ".gitlog.yaml"   # config.CONFIG_FILE, repeated so this module stays light
CACHE_FILE = "config-cache.marshal"
FORMAT = 1


def _stamp() -> str:
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")
    try:
        st = os.stat(source)
    except OSError:
        return f"{FORMAT}"
    return f"{FORMAT}:{st.st_mtime_ns}:{st.st_size}"


def load_data(root: str | os.PathLike[str], gitlog_dir: str | os.PathLike[str]) -> dict:
    """The effective configuration of the repository at ``root`` as plain data.

    Raises ``ConfigError`` (through ``config.load``) when the file is invalid.
    """
    try:
        with open(os.path.join(root, CONFIG_FILE), encoding="utf-8") as fh:
            text: str | None = fh.read()
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError):
        text = ""  # config.load reports the problem
    cache = os.path.join(gitlog_dir, CACHE_FILE)
    stamp = _stamp()
    try:
        with open(cache, "rb") as fh:
            cached = marshal.load(fh)
        if cached["stamp"] == stamp and cached["text"] == text:
            return cached["data"]  # type: ignore[no-any-return]
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        pass
    from .config import load

    data = load(os.fspath(root)).data
    _write(cache, {"stamp": stamp, "text": text, "data": data})
    return data


def _write(path: str, value: dict) -> None:
    try:
        payload = marshal.dumps(value)
    except ValueError:  # a value marshal cannot hold: go without a cache
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except OSError:
        try:  # noqa: SIM105 - contextlib would cost every hook an import
            os.unlink(tmp)
        except OSError:
            pass
