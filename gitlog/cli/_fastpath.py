"""``gitlog history``'s arguments read without click, so the query run most starts in
about half the time (importing click costs ~30 ms, more than a warm query's own work).

Only plain spellings are read: ``--name VALUE``, ``--name=VALUE``, ``-m VALUE``, flags,
revisions and ``--``. Anything else (help, an unknown option, ``-mloss``, a value click
would refuse) returns None and the command line goes to click, which gives the same result
or its usual message. A test checks this table against the click command's options.
"""

from __future__ import annotations

from ._output import FORMATS

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

# spelling -> (parameter of show_history, kind): "flag", "value" (the last one counts),
# "values" (repeatable), "optional" (a value when the next argument is not an option)
OPTIONS: dict[str, tuple[str, str]] = {
    "-m": ("metrics", "values"), "--metric": ("metrics", "values"),
    "--all": ("all_", "flag"),
    "--step": ("step", "value"),
    "--since": ("since", "value"),
    "--until": ("until", "value"),
    "-n": ("count", "value"), "--max-count": ("count", "value"),
    "--first-parent": ("first_parent", "flag"),
    "--regressions": ("regressions", "optional"),
    "--format": ("fmt", "value"),
    "-C": ("repo", "value"), "--repo": ("repo", "value"),
}
DEFAULTS: dict[str, object] = {
    "revs": (), "metrics": (), "all_": False, "step": None, "since": None, "until": None,
    "count": None, "first_parent": False, "regressions": None, "fmt": "table", "repo": ".",
}


def history_arguments(args: list[str]) -> dict[str, Any] | None:
    """The parameters of ``show_history`` for ``gitlog history ARGS``, or None when click
    should read them."""
    found = dict(DEFAULTS)
    revs: list[str] = []
    metrics: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            revs += args[i:]
            break
        if arg == "-" or not arg.startswith("-"):
            revs.append(arg)
            continue
        name, eq, attached = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name not in OPTIONS:
            return None
        dest, kind = OPTIONS[name]
        if kind == "flag":
            if eq:
                return None
            found[dest] = True
            continue
        if eq:
            value = attached
        elif kind == "optional" and (i == len(args) or
                                     args[i].startswith("-") and len(args[i]) > 1):
            value = ""  # bare --regressions: any worsening
        elif i < len(args):
            value = args[i]
            i += 1
        else:
            return None  # click says the value is missing
        if kind == "values":
            metrics.append(value)
        else:
            found[dest] = value
    count = found["count"]
    if count is not None:
        if not (isinstance(count, str) and count.isascii() and count.isdigit()) or \
                not count.strip("0"):
            return None  # click says what is wrong with it
        found["count"] = int(count)
    repo = str(found["repo"])
    if found["fmt"] not in FORMATS or not repo:
        return None
    found["revs"], found["metrics"] = tuple(revs), tuple(metrics)
    return found
