"""``git diff`` as git prints it by default, whatever the user's diff settings.

``gitlog blame -p`` prints a patch, and ``blame`` and ``compare`` read ``--numstat``.
A user's ``diff.noprefix`` or ``diff.mnemonicPrefix`` took the ``a/`` ``b/`` off the
patch's paths, ``diff.context=0`` its context, ``diff.renames=copies`` showed a new file
as a copy, ``diff.orderFile`` reordered the files (the listing and ``compare``'s code rows
too), ``diff.algorithm`` could change the counts. These settings are pinned to git's
defaults for gitlog's diffs, with no external diff tool and no colours. ``core.abbrev``
and ``core.quotePath`` (how ids and paths are spelled) stay the user's.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .git import Repo

_DEFAULTS = (
    ("diff.noprefix", "false"), ("diff.mnemonicPrefix", "false"),
    ("diff.srcPrefix", "a/"), ("diff.dstPrefix", "b/"),  # (git 2.45+; older ignore them)
    ("diff.relative", "false"), ("diff.context", "3"), ("diff.interHunkContext", "0"),
    ("diff.renames", "true"), ("diff.algorithm", "default"), ("diff.indentHeuristic", "true"),
    ("diff.suppressBlankEmpty", "false"), ("diff.orderFile", "/dev/null"),
    ("diff.submodule", "short"), ("diff.ignoreSubmodules", "none"))
_ARGS = tuple(arg for key, value in _DEFAULTS for arg in ("-c", f"{key}={value}"))


def diff(repo: Repo, *args: str) -> str:
    """The output of ``git diff ARGS`` with git's default settings (see above)."""
    return repo.git(*_ARGS, "diff", "--no-ext-diff", "--no-color", *args)
