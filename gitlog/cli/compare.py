"""``gitlog compare`` (alias ``diff``)."""

from __future__ import annotations

from typing import Any

import click

from ._group import pass_repo
from ._output import format_option, to_json
from ._table import emit, format_rows, markdown_text, warn


def _rows(comparison: Any) -> tuple[list[dict[str, Any]], list[str], dict[str, str]]:
    labels = [r.label for r in comparison.runs]
    two = len(labels) == 2
    rows = []
    kinds: dict[str, str] = {}
    extra: list[str] = []
    for row in comparison.rows:
        item: dict[str, Any] = {"section": row.section, "key": row.key,
                                "changed": "*" if row.changed else ""}
        item.update(zip(labels, row.values, strict=False))
        if row.section == "metrics":
            for label, delta, pct, verdict in zip(labels[1:], row.deltas, row.pcts,
                                                  row.verdicts, strict=False):
                suffix = "" if two else f" {label.split()[0]}"
                item[f"delta{suffix}"] = delta
                item[f"pct{suffix}"] = pct
                item[f"verdict{suffix}"] = verdict
        rows.append(item)
    for label in labels[1:]:
        suffix = "" if two else f" {label.split()[0]}"
        extra += [f"delta{suffix}", f"pct{suffix}", f"verdict{suffix}"]
        kinds[f"delta{suffix}"] = "delta"
        kinds[f"pct{suffix}"] = "pct"
    return rows, ["section", "key", "changed", *labels, *extra], kinds


def _code_rows(comparison: Any) -> list[dict[str, Any]]:
    """The code diff stat as rows of section 'code': a file a row, '+added -deleted'
    (or 'binary') under each run it changed in from the first."""
    labels = [r.label for r in comparison.runs]
    rows: dict[str, dict[str, Any]] = {}
    for c in comparison.code:
        row = rows.setdefault(c.path, {"section": "code", "key": c.path, "changed": "*"})
        row[labels[c.target]] = "binary" if c.insertions is None else \
            f"+{c.insertions} -{c.deletions}"
    return list(rows.values())


@click.command()
@click.argument("revs", nargs=-1, required=True)
@click.option("--changed", "only_changed", is_flag=True, help="Only keys that differ.")
@format_option()
@pass_repo
def compare(revs: tuple[str, ...], only_changed: bool, fmt: str, repo: str) -> None:
    """Compare runs side by side: params, metrics, data, model and the code diff stat.

    REVS are run commits, experiment names (their latest run) or run ids (A..B: A and
    B, as for git diff); deltas and the code diff are against the first. Changed params
    are marked with '*'.

    Example: gitlog compare baseline high-lr
    """
    from gitlog.comparison import compare as run_compare
    from gitlog.display import visible

    result = run_compare(*revs, changed=only_changed, repo=repo)
    for text in result.warnings:
        warn(text)
    rows, columns, kinds = _rows(result)
    code = [{"from": result.runs[0].label, "to": result.runs[c.target].label, "file": c.path,
             "insertions": c.insertions, "deletions": c.deletions} for c in result.code]
    code_columns = ["from", "to", "file", "insertions", "deletions"]
    if fmt == "json":
        emit(to_json({"runs": [{"commit": r.commit, "experiment": r.experiment, "run": r.run,
                                "subject": r.subject, "label": r.label} for r in result.runs],
                      "rows": [{c: r.get(c) for c in columns} for r in rows],
                      "code": code}))
        return
    if fmt == "csv":  # one table: the code diff stat in rows of its own section
        emit(format_rows(rows + _code_rows(result), columns, "csv", kinds))
        return
    markdown = fmt == "markdown"  # headings and a list, so the runs render as lines

    def heading(name: str) -> str:
        return f"\n### {name}\n" if markdown else f"\n== {name} =="

    for i, run in enumerate(result.runs):
        line = visible(f"{'base' if i == 0 else 'vs':4s} {run.label}  {run.subject}")
        emit("- " + markdown_text(line) if markdown else line)
    for section in ("params", "metrics", "data", "model"):
        part = [r for r in rows if r["section"] == section]
        if not part:
            continue
        cols = [c for c in columns if c != "section" and
                (section == "metrics" or not c.startswith(("delta", "pct", "verdict")))]
        emit(heading(section))
        emit(format_rows(part, cols, fmt, kinds, clip=60))
    emit(heading("code"))
    emit(format_rows(code, code_columns, fmt, {"insertions": "number", "deletions": "number"})
         if code else "(no code changes)")
