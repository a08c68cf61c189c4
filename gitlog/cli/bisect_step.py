"""The program ``git bisect run`` calls at each step of ``gitlog bisect``.

Exit 0: good, 1: bad, 125: skip (git's convention); 128 aborts the bisection.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict


def main(argv: list[str] | None = None) -> None:
    from gitlog.bisection import evaluate
    from gitlog.errors import GitlogError

    args = sys.argv[1:] if argv is None else argv
    with open(args[0], encoding="utf-8") as fh:
        state = json.load(fh)
    try:
        code, step = evaluate(state, ".")
    except GitlogError as exc:  # bisect reports it: the step could not judge this version
        from gitlog.git import Repo

        with open(state["error"], "w", encoding="utf-8") as fh:
            json.dump({"commit": Repo(".").rev_parse("HEAD") or "", "error": exc.message,
                       "hint": exc.hint}, fh)
        print(f"gitlog bisect: {exc}", file=sys.stderr)
        sys.exit(128)
    with open(state["log"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(step)) + "\n")
    shown = "no value" if step.value is None else f"{state['metric']}={step.value:.6g}"
    print(f"gitlog bisect: {step.commit[:10]} {step.verdict}: {shown} ({step.note})",
          file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
