"""The pre-commit policy: no code commit on an experiment branch without its run.

On a branch ``<experiment_prefix>NAME``, when the staged changes touch code (``hooks.
code_paths`` minus ``hooks.ignore_paths``) or the run itself, the staged log folder must
hold a run whose ``code_tree`` is the staged code: the index compared with that tree,
log folder left out, shows no code path changed. Everywhere, a run's staged files must
parse and hold finite numbers (plus ``required_params`` / ``required_metrics``), and no
staged file may be over ``hooks.max_file_mb``.

Plain git calls and file reads: YAML is parsed only for a ``params.yaml`` that neither
gitlog nor this hook has seen before (``checkcache``).
"""

from __future__ import annotations

import os

from .errors import GitCommandError
from .hookctx import HookContext, HookRefused, Problem
from .runfiles import glob_match, is_finite_number, is_run_file, leaves, loads_json, run_facts

BLOB_MODES = ("100644", "100755")
# Commits git makes of other commits are not held to the run rule: a merge, and a
# cherry-pick or revert (git runs no pre-commit hook for one that applies cleanly, nor
# for a rebase, on a detached HEAD; one stopped by a conflict must not be refused alone).
REPLAYS = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD")


class Change:
    __slots__ = ("status", "mode", "sha", "path")

    def __init__(self, status: str, mode: str, sha: str, path: str) -> None:
        self.status, self.mode, self.sha, self.path = status, mode, sha, path


def staged_changes(ctx: HookContext) -> list[Change]:
    """What the commit changes: the index against HEAD (or the empty tree)."""
    args = ("diff-index", "--cached", "-z", "--no-renames", "--ignore-submodules=dirty")
    try:
        out = ctx.git(*args, "HEAD")
    except GitCommandError:  # unborn branch: everything staged is new
        out = ctx.git(*args, empty_tree(ctx))
    parts = out.split("\0")
    changes = []
    for meta, path in zip(parts[0::2], parts[1::2], strict=False):
        fields = meta.lstrip(":").split()
        if len(fields) == 5:
            changes.append(Change(fields[4], fields[1], fields[3], path))
    return changes


def empty_tree(ctx: HookContext) -> str:
    return ctx.repo.git("hash-object", "-t", "tree", "/dev/null").strip()


def is_code(path: str, hooks: dict) -> bool:
    return any(glob_match(path, p) for p in hooks["code_paths"]) and \
        not any(glob_match(path, p) for p in hooks["ignore_paths"])


def check(ctx: HookContext) -> None:
    """Raise HookRefused listing every problem with what is staged."""
    hooks = ctx.hooks
    changes = staged_changes(ctx)
    problems = large_files(ctx, changes, float(hooks["max_file_mb"]))
    log_changes = [c for c in changes if ctx.under_log_dir(c.path)]
    experiment = ctx.experiment_of(ctx.head_branch())
    run_path = f"{ctx.log_dir}/run.yaml"
    code: list[str] = []
    need_run = False
    if experiment and hooks["code_paths"] and not any(map(ctx.in_progress, REPLAYS)):
        code = [c.path for c in changes
                if not ctx.under_log_dir(c.path) and is_code(c.path, hooks)]
        need_run = bool(code) or any(c.path == run_path for c in log_changes)
    if need_run or log_changes:
        names = ("run.yaml", "metrics.json", "params.yaml")
        found = ctx.repo.read_objects([f":{ctx.log_dir}/{n}" for n in names],
                                      env=ctx.index_env())
        run_yaml, metrics, params = (found[f":{ctx.log_dir}/{n}"][1] for n in names)
        params_blob = found[f":{ctx.log_dir}/params.yaml"][0]
        ignored = ignored_run_files(ctx)
        if ignored:  # 'git add -A' left them out: the commit would lack part of the run
            # (by name: 'git add -f .gitlog' would add an artifact DVC keeps out of git)
            add = " ".join(_sh_quoted(ctx.user_path(p)) for p in ignored)
            problems.append(Problem(
                "git ignores the run's files, so they are not staged: " + _few(ignored),
                hint=f"git add -f {add} and commit again"))
        if need_run and not (ignored and run_yaml is None):
            problems += run_matches(ctx, experiment or "", run_yaml, code)
        if run_yaml is not None:
            changed = {c.path[len(ctx.log_dir) + 1:] for c in log_changes}
            problems += valid_files(ctx, metrics, params, params_blob,
                                    check_params="params.yaml" in changed)
    if problems:
        raise HookRefused("pre-commit", problems)


def ignored_run_files(ctx: HookContext) -> list[str]:
    """The files of the run in the work tree's log folder that git ignores (a
    ``.gitignore`` of ``.gitlog/`` or ``*.tsv``) and that are not staged."""
    out = ctx.git("ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--",
                  f":(top,literal){ctx.log_dir}", check=False)
    prefix = ctx.log_dir + "/"
    return sorted(p for p in out.split("\0")
                  if p.startswith(prefix) and is_run_file(p[len(prefix):]))


def large_files(ctx: HookContext, changes: list[Change], limit_mb: float) -> list[Problem]:
    if limit_mb <= 0:
        return []
    added = {c.sha: c.path for c in changes
             if c.status in ("A", "M", "T") and c.mode in BLOB_MODES}
    problems = []
    for sha, size in ctx.repo.object_sizes(list(added)).items():
        if size > limit_mb * 1e6:
            problems.append(large_file_problem(added[sha], size, limit_mb,
                                               ctx.user_path(added[sha])))
    return problems


def large_file_problem(path: str, size: int, limit_mb: float,
                       typed: str | None = None) -> Problem:
    """``path`` from the top; ``typed``: the same file from the user's folder."""
    import posixpath

    typed = typed or path
    folder = posixpath.dirname(typed)
    ignore = posixpath.join(folder, ".gitignore") if folder else ".gitignore"
    q = _sh_quoted
    return Problem(
        f"{_shown(path)} is {_mb(size)} MB, over hooks.max_file_mb ({limit_mb:g} MB): "
        "large files belong in DVC, not in git",
        hint=f"git rm --cached -q {q(typed)} && dvc add {q(typed)} && "
             f"git add {q(typed + '.dvc')} {q(ignore)} (from a run: run.log_artifact"
             f"({path!r})); or raise hooks.max_file_mb in .gitlog.yaml")


def _mb(size: float) -> str:
    mb = size / 1e6
    return f"{mb:.0f}" if mb >= 100 else f"{mb:.3g}"


def run_matches(ctx: HookContext, experiment: str, run_yaml: bytes | None,
                code: list[str]) -> list[Problem]:
    """Problems unless the staged run was logged on exactly the staged code."""
    log_dir = ctx.log_dir
    if run_yaml is None:
        return [no_run_problem(ctx, experiment, code)]
    try:
        facts = run_facts(run_yaml)
    except ValueError as exc:
        return [Problem(f"{log_dir}/run.yaml: {exc}",
                        hint=f"log a new run (it rewrites {log_dir}/), then git add {log_dir}")]
    tree = facts.get("code_tree")
    if not tree:
        return [Problem(f"{log_dir}/run.yaml records no code tree, so nothing shows which "
                        "code the run used", hint=rerun_hint(ctx, run_yaml))]
    differ = code_differences(ctx, tree)
    if not differ:
        return []
    unstaged = set(unstaged_run_code(ctx, tree, [p for _, p in differ]))
    changed = [p for s, p in differ if s != "A" and p not in unstaged]
    new = [p for s, p in differ if s == "A" and p not in unstaged]
    run = f"{facts.get('id')} of {facts.get('experiment')}"
    if changed or new:
        lines = [f"code changed after the last logged run ({run}); the staged log folder "
                 "does not match the staged code:"]
    else:
        lines = [f"the staged run ({run}) used code of your work tree that is not staged:"]
    if changed:
        lines.append("  changed since the run: " + _few(changed))
    if new:
        lines.append("  not in the run's snapshot: " + _few(new))
    if unstaged:
        lines.append("  not staged: " + _few(sorted(unstaged)))
    add = "git add " + " ".join(_sh_quoted(ctx.user_path(p)) for p in sorted(unstaged))
    if not (changed or new):
        return [Problem("\n".join(lines), hint=f"{add} and commit again")]
    hint = rerun_hint(ctx, run_yaml)
    if new:
        hint += " (a run snapshots tracked files only: git add new files before running)"
    if unstaged:
        hint = f"{add}; then {hint}"
    return [Problem("\n".join(lines), hint=hint)]


def unstaged_run_code(ctx: HookContext, tree: str, paths: list[str]) -> list[str]:
    """Of ``paths`` (where the staged code differs from the run's), those whose work-tree
    file is the run's: the run used it, ``git add`` was forgotten."""
    try:
        # 'git diff', not diff-index: that names every file whose stat differs from
        # the index without reading it.
        out = ctx.git("diff", "--no-ext-diff", "--no-color", "-z", "--raw", "--no-abbrev",
                      "--no-renames", "--ignore-submodules=dirty", tree, "--",
                      *(f":(top,literal){p}" for p in paths))
    except GitCommandError:  # the run's tree is gone: say what code_differences says
        return []
    parts = out.split("\0")
    differ = set()
    for meta, path in zip(parts[0::2], parts[1::2], strict=False):
        fields = meta.lstrip(":").split()
        # A submodule whose checkout left the index's commit shows no commit of its own
        # (git does not read its HEAD here): read it, it may be the run's. (Its own
        # git dir: a hook's environment may name the superproject's.)
        if len(fields) == 5 and fields[1] == "160000" and not fields[3].strip("0") \
                and ctx.git("-C", path, "--git-dir=.git", "rev-parse", "-q", "--verify",
                            "HEAD", check=False).strip() == fields[2]:
            continue
        differ.add(path)
    return [p for p in paths if p not in differ]


def code_differences(ctx: HookContext, tree: str) -> list[tuple[str, str]]:
    """(status, path) of code paths where the index differs from the run's code tree."""
    try:
        out = ctx.git("diff-index", "--cached", "-z", "--no-renames", "--name-status",
                      "--ignore-submodules=dirty", tree)
    except GitCommandError:
        return _compare_trees(ctx, tree)
    parts = out.split("\0")
    found = [(s, p) for s, p in zip(parts[0::2], parts[1::2], strict=False)
             if p and not ctx.under_log_dir(p) and is_code(p, ctx.hooks)]
    if any(p == "dvc.yaml" for _, p in found) and _dvc_yaml_ours_only(ctx, tree):
        found = [(s, p) for s, p in found if p != "dvc.yaml"]
    return found


def _dvc_yaml_ours_only(ctx: HookContext, tree: str) -> bool:
    """Whether the staged dvc.yaml differs from the run's only in gitlog's entries: a
    workspace-mode run declares its eval plots there when it ends, after its snapshot."""
    from .dvcfiles import differs_in_ours_only

    specs = [f"{tree}:dvc.yaml", ":dvc.yaml"]
    found = ctx.repo.read_objects(specs, env=ctx.index_env())
    return differs_in_ours_only(found[specs[0]][1], found[specs[1]][1], ctx.log_dir)


def _compare_trees(ctx: HookContext, tree: str) -> list[tuple[str, str]]:
    # The run's tree is gone (garbage collected): compare the hashes instead.
    from .store import tree_without

    staged = ctx.git("write-tree").strip()
    code = tree_without(ctx.repo.full(), staged, ctx.log_dir)
    return [] if code == tree else [("M", "(the run's code tree is no longer in the "
                                         "repository to list the files)")]


def _few(paths: list[str], limit: int = 8) -> str:
    shown = ", ".join(map(_shown, paths[:limit]))
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def rerun_hint(ctx: HookContext, run_yaml: bytes | None) -> str:
    command = folder = None
    if run_yaml is not None:
        import contextlib

        with contextlib.suppress(ValueError):
            command = run_facts(run_yaml, ("command",)).get("command")
            if b"\ncwd: " in run_yaml:  # run from a subfolder (absent: the root)
                folder = run_facts(run_yaml, ("cwd",)).get("cwd")
    run = f"gitlog run -- {command or 'python train.py'}"
    if command:  # where the run ran, from where the user is
        folder = ctx.user_path(folder or "")
    if folder and folder != ".":  # in a subshell: 'git add' then runs where the user is
        run = f"(cd {_sh_quoted(folder)} && {run})"
    return (f"log a run of the staged code: {run}; then git add "
            f"{_sh_quoted(ctx.user_path(ctx.log_dir))} and commit again")


def _sh_quoted(text: str) -> str:
    """``text`` for a shell, as shlex.quote writes it (no shlex import in the hooks); a
    name that is not UTF-8 or holds a control character as bash and zsh take its bytes,
    ``$'lat\\351.py'`` (printed as is, ``lat\\udce9.py``, it was no name one can type)."""
    if _unprintable(text):
        return "$'" + _escaped(text, "'") + "'"
    safe = all(c.isalnum() or c in "@%+=:,./-_" for c in text)
    return text if text and safe else "'" + text.replace("'", "'\"'\"'") + "'"


# git's C-style quoting of a path (core.quotePath): these as letters, other bytes that are
# not printable ASCII in octal
_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}


def _unprintable(text: str) -> bool:
    """Whether ``text`` holds a byte that is not UTF-8 (read with surrogateescape, as
    the hooks read git's output) or a control character."""
    return any(c < " " or c == "\x7f" or "\udc80" <= c <= "\udcff" for c in text)


def _escaped(text: str, quote: str) -> str:
    out = []
    for byte in text.encode("utf-8", "surrogateescape"):
        char = chr(byte)
        if char in ("\\", quote):
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(_ESCAPES.get(byte) or f"\\{byte:03o}")
    return "".join(out)


def _shown(path: str) -> str:
    """``path`` in a message: as is, or, when it is not UTF-8 or holds a control
    character, as git quotes it (``"lat\\351.py"``, as ``git status`` shows it)."""
    return '"' + _escaped(path, '"') + '"' if _unprintable(path) else path


def no_run_problem(ctx: HookContext, experiment: str, code: list[str]) -> Problem:
    if os.path.isfile(os.path.join(ctx.repo.root, ctx.log_dir, "run.yaml")):
        return Problem(f"code changed on experiment {experiment} ({_few(code, 3)}) but the "
                       f"run in {ctx.log_dir}/ is not staged",
                       hint=f"git add {_sh_quoted(ctx.user_path(ctx.log_dir))} and "
                            "commit again")
    return Problem(f"code changed on experiment {experiment} ({_few(code, 3)}) without a "
                   f"logged run: nothing is staged in {ctx.log_dir}/",
                   hint=rerun_hint(ctx, None))


def valid_files(ctx: HookContext, metrics: bytes | None, params: bytes | None,
                params_blob: str | None, check_params: bool) -> list[Problem]:
    hooks = ctx.hooks
    where = ctx.log_dir
    problems = []
    flat_metrics: dict = {}
    if metrics is not None:
        try:
            doc = loads_json(metrics)
            if not isinstance(doc, dict):
                raise ValueError("the top level is not an object")
        except ValueError as exc:
            problems.append(Problem(f"{where}/metrics.json does not parse: {exc}",
                                    hint=f"log a new run; gitlog rewrites {where}/"))
        else:
            flat_metrics = dict(leaves(doc))
            bad = [k for k, v in flat_metrics.items() if not is_finite_number(v)]
            if bad:
                problems.append(Problem(
                    f"{where}/metrics.json holds values that are not finite numbers: "
                    + _few([f"{k}={flat_metrics[k]!r}" for k in bad]),
                    hint="fix the training (a NaN loss has diverged) and log a new run"))
    required = hooks["required_metrics"]
    missing = [m for m in required if m not in flat_metrics]
    if missing:
        problems.append(Problem(
            f"the staged run lacks required metrics: {', '.join(missing)}",
            hint="log them (run.log_metric) or change hooks.required_metrics in .gitlog.yaml"))
    if check_params or hooks["required_params"]:
        problems += valid_params(ctx, params, params_blob)
    return problems


def valid_params(ctx: HookContext, params: bytes | None, blob: str | None) -> list[Problem]:
    where = f"{ctx.log_dir}/params.yaml"
    facts: dict = {"names": [], "bad": []}
    problems = []
    if params is not None:
        from .checkcache import lookup, params_facts, remember

        known = lookup(ctx.repo.gitlog_dir, blob) if blob else None
        if known is None:
            from .layout import yaml_load

            try:
                doc = yaml_load(params)
                if doc is not None and not isinstance(doc, dict):
                    raise ValueError("the top level is not a mapping")
            except Exception as exc:
                return [Problem(f"{where} does not parse: {str(exc).splitlines()[0]}",
                                hint="log a new run; gitlog rewrites it")]
            known = params_facts(doc or {})
            if blob:
                remember(ctx.repo.gitlog_dir, {blob: known})
        facts = known
        if facts["bad"]:
            problems.append(Problem(f"{where} holds values that are not finite numbers: "
                                    + _few(facts["bad"]), hint="log the run with finite params"))
    names = set(facts["names"])
    missing = [p for p in ctx.hooks["required_params"] if p.replace(".", "/") not in names]
    if missing:
        problems.append(Problem(
            f"the staged run lacks required params: {', '.join(missing)}",
            hint="log them (run.log_param) or change hooks.required_params in .gitlog.yaml"))
    return problems
