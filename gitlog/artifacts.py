"""Everything that goes through DVC. The only module that imports dvc (lazily)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import GitlogError


def dvc_init(root: str | Path) -> None:
    """``dvc init`` in ``root`` (a git repository)."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    try:
        from dvc.repo import Repo as DvcRepo
    except ImportError as exc:  # pragma: no cover - dvc is a core dependency
        raise GitlogError(f"DVC is not installed: {exc}", hint="pip install dvc") from None
    import logging

    # dvc init announces itself through the "dvc" logger on stdout; gitlog's stdout
    # carries data only.
    logger = logging.getLogger("dvc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        DvcRepo.init(str(root))
    finally:
        logger.setLevel(level)
