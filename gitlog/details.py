"""Params and code-tree ids of many runs, read on demand and cached by commit.

``best --where 'params.lr < 0.1'`` needs every candidate's params.yaml, and ``bisect``
needs every run's code tree (run.yaml ``code_tree``). Both files are read through one
``git cat-file --batch``; YAML goes through ruamel.yaml, the loader that wrote it (a
YAML 1.1 loader such as PyYAML's would read the string ``yes`` as true), and the result
is cached by commit.
"""

from __future__ import annotations

import json
from typing import Any

from .config import Config
from .facts import parse_run_yaml
from .git import Repo
from .index import Index
from .layout import flatten


def load_yaml(data: bytes) -> Any:
    """params.yaml as gitlog wrote it (YAML 1.2: ``yes`` stays a string), None if broken."""
    from .layout import yaml_load

    try:
        return yaml_load(data)
    except Exception:
        return None


def details(repo: Repo, config: Config, index: Index,
            commits: list[str]) -> dict[str, tuple[dict[str, Any], str | None]]:
    """commit -> (flat params, code tree id) for each of ``commits``."""
    cached = index.details()
    missing = [c for c in dict.fromkeys(commits) if c not in cached]
    if missing:
        specs = [f"{c}:{config.log_dir}/{name}" for c in missing
                 for name in ("params.yaml", "run.yaml")]
        objects = repo.read_objects(specs).result()
        fresh: dict[str, tuple[str | None, str | None]] = {}
        parsed: dict[bytes, str] = {}  # runs of one config share a params.yaml: parse it once
        for i, commit in enumerate(missing):
            params_obj, run_obj = objects[2 * i], objects[2 * i + 1]
            raw = params_obj[1] if params_obj and params_obj[0] == "blob" else None
            text = parsed.get(raw) if raw is not None else None
            if text is None:
                params = load_yaml(raw) if raw is not None else {}
                flat = flatten(params) if isinstance(params, dict) else {}
                text = json.dumps(flat, default=str)
                if raw is not None:
                    parsed[raw] = text
            tree = parse_run_yaml(run_obj[1]).get("code_tree") \
                if run_obj and run_obj[0] == "blob" else None
            fresh[commit] = (text, tree)
        index.put_details(fresh)
        cached.update(fresh)
    return {c: (json.loads(cached[c][0] or "{}"), cached[c][1]) for c in commits}
