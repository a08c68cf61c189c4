"""``.gitlog.yaml`` for commands and git hooks, without paying for a YAML parser on every commit.

Importing ruamel.yaml and parsing the file costs ~40 ms, half a hook's budget. The
effective configuration (the file over the defaults, validated by ``config.load``) is
kept in ``.git/gitlog/config-cache.marshal`` (see ``marshalfile``) beside the exact text
it came from; every command and hook reads the text (a few hundred bytes) and uses the
cached values when it is unchanged. ``config.load`` keeps the cache through
``read``/``write``; ``marshal`` and ``zlib`` are built into the interpreter, so reading
it imports nearly nothing. A changed gitlog (its config.py) invalidates the cache too.
"""

from __future__ import annotations

import os

from . import marshalfile

CONFIG_FILE = ".gitlog.yaml"   # config.CONFIG_FILE, repeated so this module stays light
CACHE_FILE = "config-cache.marshal"
FORMAT = 1


def _stamp() -> list:
    """What the cached result depends on besides the text: the code that validates it
    (config.py, alerts/spec.py), so a changed gitlog parses again."""
    here = os.path.dirname(os.path.abspath(__file__))
    stamp: list = [FORMAT]
    for source in ("config.py", os.path.join("alerts", "spec.py")):
        try:
            st = os.stat(os.path.join(here, source))
        except OSError:
            continue
        stamp += [st.st_mtime_ns, st.st_size]
    return stamp


def read(gitlog_dir: str | os.PathLike[str], text: str | None) -> dict | None:
    """The cached configuration parsed from exactly ``text``, or None."""
    cached = marshalfile.load(os.path.join(gitlog_dir, CACHE_FILE))
    if isinstance(cached, dict) and cached.get("text") == text and \
            cached.get("stamp") == _stamp() and isinstance(cached.get("data"), dict):
        return cached["data"]  # type: ignore[no-any-return]
    return None


def write(gitlog_dir: str | os.PathLike[str], text: str | None, data: dict) -> None:
    """Keep ``data`` as the parse of ``text``; a cache that cannot be written is not kept
    (nor is a value marshal cannot hold, as a YAML date)."""
    marshalfile.dump(os.path.join(gitlog_dir, CACHE_FILE),
                     {"stamp": _stamp(), "text": text, "data": data})


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
    cached = read(gitlog_dir, text)
    if cached is not None:
        return cached
    from .config import load

    data = load(os.fspath(root)).data  # caches the parse of an existing file itself
    if text is None:
        write(gitlog_dir, None, data)
    return data
