"""What the pre-commit hook knows about a ``params.yaml`` without parsing it again.

Parsing YAML costs the hook ~40 ms (ruamel.yaml's import), and nearly every run commit
stages a new ``params.yaml``. Facts about a file's content (the flattened param names,
the ones that are not finite) are kept by blob id in ``.git/gitlog/checked-blobs.marshal``:
gitlog records them when a run writes its log folder into the working tree, and the hook
records what it parses itself, so each content is parsed at most once. Blob ids name
content exactly, so an entry can never be stale.
"""

from __future__ import annotations

import os

from . import marshalfile

CACHE_FILE = "checked-blobs.marshal"
KEEP = 500  # entries; the oldest go first


def _path(gitlog_dir: str | os.PathLike[str]) -> str:
    return os.path.join(gitlog_dir, CACHE_FILE)


def lookup(gitlog_dir: str | os.PathLike[str], blob: str) -> dict | None:
    entries = marshalfile.load(_path(gitlog_dir))
    found = entries.get(blob) if isinstance(entries, dict) else None
    return found if isinstance(found, dict) else None


def remember(gitlog_dir: str | os.PathLike[str], facts: dict[str, dict]) -> None:
    """Add {blob id: facts}; never fails (a cache)."""
    path = _path(gitlog_dir)
    entries = marshalfile.load(path)
    if not isinstance(entries, dict):
        entries = {}
    entries.update(facts)
    while len(entries) > KEEP:
        entries.pop(next(iter(entries)))
    marshalfile.dump(path, entries)


def params_facts(doc: object) -> dict:
    """{"names": flattened param names, "bad": the ones holding a non-finite float}."""
    from .runfiles import is_finite_number, leaves

    flat = dict(leaves(doc)) if isinstance(doc, dict) else {}
    return {"names": sorted(flat),
            "bad": sorted(k for k, v in flat.items()
                          if isinstance(v, float) and not is_finite_number(v))}


def blob_id(data: bytes, object_format: str = "sha1") -> str:
    import hashlib

    digest = hashlib.new("sha256" if object_format == "sha256" else "sha1")
    digest.update(f"blob {len(data)}\0".encode())
    digest.update(data)
    return digest.hexdigest()


def remember_run_files(gitlog_dir: str | os.PathLike[str], object_format: str,
                       files: dict[str, bytes]) -> None:
    """Record the facts of the ``params.yaml`` a run has just written for the user to
    commit (workspace mode), so the pre-commit hook need not parse it."""
    params = files.get("params.yaml")
    if params is None:
        return
    from .layout import yaml_load

    try:
        facts = params_facts(yaml_load(params))
    except Exception:  # never let a cache fail a run; the hook will parse and report
        return
    remember(gitlog_dir, {blob_id(params, object_format): facts})
