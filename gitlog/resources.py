"""The one way to reach the shipped ``hooks/`` and ``templates/`` folders.

A wheel carries them under ``gitlog/_data/``; an editable install cannot see that
mapping, so we fall back to the repository's own top-level folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"gitlog's {name}/ folder is missing from this installation")


def hooks_dir() -> Path:
    return _find("hooks")


def templates_dir() -> Path:
    return _find("templates")


def template(name: str) -> Path:
    return templates_dir() / name
