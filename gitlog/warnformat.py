"""gitlog's own warnings as the CLI shows them: ``warning: TEXT``.

Python shows a warning as ``/…/gitlog/procrun.py:246: GitlogWarning: gitlog: TEXT`` plus
the source line that issued it: a path into gitlog's code the user of ``gitlog run`` has
no use for. Where gitlog is the program (the CLI, and the command ``gitlog run`` runs,
whose stderr is the CLI's) a ``GitlogWarning``, or a plain ``UserWarning`` issued in
gitlog's code, is formatted as the CLI's other warnings. Only the format changes: Python's filters
still choose what is shown (``PYTHONWARNINGS=ignore:gitlog``), and a
``showwarning`` put in place by the user or ``logging.captureWarnings`` still gets it.
A script using the Python API on its own keeps Python's format, and so does any other
warning (a ``ResourceWarning`` is for gitlog's developers, its file and line too).
"""

from __future__ import annotations

import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def own_text(message: object, category: type[Warning], filename: str) -> str | None:
    """``warning: TEXT`` for gitlog's own warning; None for any other."""
    recorder = sys.modules.get("gitlog.recorder")  # not imported: the CLI starts fast
    if not ((recorder is not None and issubclass(category, recorder.GitlogWarning))
            or category is UserWarning and os.path.abspath(filename).startswith(_PACKAGE)):
        return None
    text = str(message)
    return "warning: " + (text[len("gitlog: "):] if text.startswith("gitlog: ") else text)


def install() -> None:
    """Format gitlog's own warnings as ``warning: TEXT`` in this process (once)."""
    previous = warnings.formatwarning
    if getattr(previous, "_gitlog", False):
        return

    def formatwarning(message: Warning | str, category: type[Warning], filename: str,
                      lineno: int, line: str | None = None) -> str:
        text = own_text(message, category, filename)
        return text + "\n" if text is not None else \
            previous(message, category, filename, lineno, line)

    formatwarning._gitlog = True  # type: ignore[attr-defined]
    warnings.formatwarning = formatwarning
