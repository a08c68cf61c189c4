"""``gitlog hooks install / uninstall / status``: putting the shims in place.

The shim (``hooks/gitlog-shim``) is copied once per hook into the folder git runs hooks
from: ``.git/hooks``, or ``core.hooksPath`` when set (refused when that points outside the
repository, a folder other repositories share, unless forced). The interpreter running
gitlog now is written into each copy. A hook already there that is not gitlog's is kept
as ``NAME.legacy`` and run first; it is never overwritten, and uninstall puts it back.
A hook that runs ``NAME.legacy`` itself (the pre-commit framework's) stays where it is,
and gitlog's shim becomes its ``NAME.legacy``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import GitlogError
from .git import Repo
from .hookctx import HOOK_NAMES
from .hooktools import FRAMEWORK_MARK, exists, has_mark, husky_script, is_gitlog_shim, run_by_other

PLACEHOLDER = "@GITLOG_PYTHON@"
HOME_PLACEHOLDER = "@GITLOG_HOME@"


class HookState:
    """One hook's state after install/uninstall, or as status reports it."""

    __slots__ = ("hook", "state", "chained", "python")

    def __init__(self, hook: str, state: str, chained: bool = False,
                 python: str | None = None) -> None:
        self.hook = hook
        self.state = state
        self.chained = chained
        self.python = python

    def row(self) -> dict[str, object]:
        return {"hook": self.hook, "state": self.state, "chained": self.chained,
                "python": self.python}


class HooksReport:
    __slots__ = ("folder", "hooks_path", "hooks", "notes")

    def __init__(self, folder: Path, hooks_path: str | None, hooks: list[HookState],
                 notes: list[str] | None = None) -> None:
        self.folder = folder
        self.hooks_path = hooks_path
        self.hooks = hooks
        self.notes = notes or []


def hooks_folder(repo: Repo, *, force: bool = False) -> tuple[Path, str | None]:
    """(the folder git runs hooks from, core.hooksPath or None)."""
    configured = repo.git("config", "--get", "core.hooksPath", check=False).strip() or None
    folder = (repo.root / repo.git("rev-parse", "--git-path", "hooks").strip()).resolve()
    if configured and not force and not _inside(folder, (repo.root.resolve(),
                                                          repo.common_dir.resolve())):
        raise GitlogError(
            f"core.hooksPath points outside this repository ({configured}): hooks there "
            "run for every repository that shares that folder",
            hint="install there anyway with 'gitlog hooks install --force', or use this "
                 f"repository's own hooks: {_own_hooks_command(repo)}")
    return folder, configured


def _own_hooks_command(repo: Repo) -> str:
    """The git config command that gives this repository its own hooks folder: unset
    a core.hooksPath of its own config; one from the global or system config can only
    be overridden (with an absolute path, as linked worktrees have no .git folder)."""
    scope = repo.git("config", "--show-scope", "--get", "core.hooksPath",
                     check=False).split("\t", 1)[0]
    if scope in ("local", "worktree"):
        return "git config --unset core.hooksPath"
    import shlex

    return f"git config core.hooksPath {shlex.quote(str(repo.common_dir.resolve() / 'hooks'))}"


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def resolve_names(names: list[str] | tuple[str, ...] | None) -> list[str]:
    if not names:
        return list(HOOK_NAMES)
    unknown = [n for n in names if n not in HOOK_NAMES]
    if unknown:
        raise GitlogError(f"unknown hook {unknown[0]!r}",
                          hint=f"choose among {', '.join(HOOK_NAMES)}")
    return list(dict.fromkeys(names))


def gitlog_home() -> str:
    """The folder this gitlog package is imported from (site-packages, or the source
    tree of an editable install)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _sh_quoted(text: str) -> str:
    return text.replace("'", "'\\''")  # inside a single-quoted sh string


def shim_text(python: str, home: str | None = None) -> bytes:
    from .resources import hooks_dir

    template = (hooks_dir() / "gitlog-shim").read_text(encoding="utf-8")
    text = template.replace(PLACEHOLDER, _sh_quoted(python))
    text = text.replace(HOME_PLACEHOLDER, _sh_quoted(home or gitlog_home()))
    return text.encode("utf-8", "surrogateescape")


def shim_python(path: Path) -> str | None:
    return _shim_value(path, "GITLOG_PYTHON")


def _shim_value(path: Path, name: str) -> str | None:
    """What the shim at ``path`` sets ``name`` to (GITLOG_PYTHON, GITLOG_HOME)."""
    try:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return None
    start = f"{name}='"
    for line in text.splitlines():
        if line.startswith(start) and line.endswith("'"):
            return line[len(start):-1].replace("'\\''", "'")
    return None


def _write_executable(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.gitlog-tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def install(path: str | Path = ".", names: list[str] | None = None, *, force: bool = False,
            python: str | None = None) -> HooksReport:
    """Put gitlog's shims in place; chain (never overwrite) hooks that are not gitlog's."""
    chosen = resolve_names(names)  # a typo is named before where the hooks would go
    repo = Repo(path)
    folder, configured = hooks_folder(repo, force=force)
    python = python or sys.executable
    if not python:
        raise GitlogError("cannot tell which Python runs gitlog (sys.executable is empty)",
                          hint="run gitlog hooks install with a regular Python")
    content = shim_text(python)
    folder.mkdir(parents=True, exist_ok=True)
    blocked = [n for n in chosen if exists(folder / n) and not is_gitlog_shim(folder / n)
               and exists(folder / f"{n}.legacy")
               and not is_gitlog_shim(folder / f"{n}.legacy")]
    if blocked:
        name = blocked[0]
        raise GitlogError(
            f"cannot chain the existing {name} hook: {folder / name} and "
            f"{folder / (name + '.legacy')} both exist and neither is gitlog's",
            hint=f"merge or remove one of them, then run gitlog hooks install again"
                 f"{_leave_out(chosen, blocked)}")
    _refuse_husky(repo, folder, chosen)
    in_tree = _in_work_tree(repo, folder)
    if in_tree is not None:
        _refuse_tracked(repo, in_tree, [n for n in chosen if not is_gitlog_shim(folder / n)
                                        and not run_by_other(folder, n)], chosen)
    states = []
    for name in chosen:
        target = folder / name
        legacy = folder / f"{name}.legacy"
        if is_gitlog_shim(target) and has_mark(legacy, FRAMEWORK_MARK):
            os.replace(legacy, target)  # moved aside by an earlier install: it ran itself
        beside = run_by_other(folder, name)
        if beside:  # the other tool's hook stays; gitlog's shim is the one it runs first
            state = _write_shim(legacy, content, force)
            states.append(HookState(name, f"{state} {beside}", False, python))
            continue
        if exists(target) and is_gitlog_shim(target):
            state = _write_shim(target, content, force)
        elif exists(target):
            os.rename(target, legacy)
            _write_executable(target, content)
            state = "installed"
        else:
            _write_executable(target, content)
            state = "installed"
        states.append(HookState(name, state, exists(legacy), python))
    if in_tree is not None:
        _exclude(repo, [f"/{in_tree}/{n}{end}" for n in chosen for end in ("", ".legacy")])
    return HooksReport(folder, configured, states,
                       _other_worktrees_note(repo, configured, chosen))


def _other_worktrees_note(repo: Repo, configured: str | None, names: list[str]) -> list[str]:
    """A relative core.hooksPath is a folder of each worktree: the shims written here do
    not check commits made in the others. Say which worktrees lack them."""
    if not configured or os.path.isabs(os.path.expanduser(configured)):
        return []
    here = repo.root.resolve()
    others = []
    for line in repo.git("worktree", "list", "--porcelain", "-z").split("\0"):
        if line.startswith("worktree "):
            root = Path(line[len("worktree "):])
            if root.resolve() != here and (root / ".git").exists() and \
                    not all(is_gitlog_shim(root / configured / n) for n in names):
                others.append(str(root))
    if not others:
        return []
    return [f"core.hooksPath ({configured}) is relative, so each worktree runs the hooks "
            f"in its own {configured}: commits in {', '.join(others)} are not checked; run "
            "'gitlog hooks install' there too"]


def _write_shim(path: Path, content: bytes, force: bool) -> str:
    """Write (or rewrite) gitlog's shim at ``path``; its install state."""
    if not exists(path):
        _write_executable(path, content)
        return "installed"
    if path.read_bytes() == content and not force:
        return "up to date"
    _write_executable(path, content)
    return "updated"


def _in_work_tree(repo: Repo, folder: Path) -> str | None:
    """``folder``'s path from the top of the work tree when git could commit what is in
    it (a core.hooksPath such as husky's ``.husky``), else None (``.git/hooks``)."""
    root = repo.root.resolve()
    if not _inside(folder, (root,)) or _inside(folder, (repo.common_dir.resolve(),
                                                        (root / repo.git_dir).resolve())):
        return None
    return folder.relative_to(root).as_posix()


def _leave_out(chosen: list[str], skip: list[str]) -> str:
    """The hint's tail: the install command without the hooks in ``skip``."""
    rest = [n for n in chosen if n not in skip]
    if not rest:
        return ""
    return f" (or leave {', '.join(skip)} out: gitlog hooks install " + \
        " ".join(f"--hook {n}" for n in rest) + ")"


def _refuse_tracked(repo: Repo, rel: str, names: list[str], chosen: list[str]) -> None:
    """A hook committed in the repository is the team's: chaining it would rename a
    tracked file, and a 'git commit -a' would then commit gitlog's shim (with this
    machine's Python) for everyone."""
    if not names:
        return
    out = repo.git("ls-files", "-z", "--", *(f":(top,literal){rel}/{n}" for n in names))
    tracked = [path for path in out.split("\0") if path]
    if tracked:
        found = [path.rsplit("/", 1)[-1] for path in tracked]
        name = found[0]
        raise GitlogError(
            f"cannot chain the {name} hook: {tracked[0]} is committed in this repository, "
            "and chaining would replace it in your work tree"
            + (f" (so are: {', '.join(tracked[1:])})" if len(tracked) > 1 else ""),
            hint=("call gitlog from it instead, with the line: gitlog hooks run "
                  f"{name} \"$@\"" if len(found) == 1 else "call gitlog from each instead, "
                  f"with the line: gitlog hooks run NAME \"$@\" (NAME: {', '.join(found)})")
                 + _leave_out(chosen, found))


def _refuse_husky(repo: Repo, folder: Path, chosen: list[str]) -> None:
    """Husky's hooks run the user's ``.husky/NAME`` after their own file name: chained
    as NAME.legacy they would run nothing (and husky rewrites them on every install)."""
    found = {n: husky_script(folder, n) if not is_gitlog_shim(folder / n) else
             husky_script(folder, n, f"{n}.legacy") for n in chosen}
    scripts = {n: path for n, path in found.items() if path is not None}
    if not scripts:
        return
    # an install before gitlog knew husky moved its hooks aside, where they run nothing
    moved = any(is_gitlog_shim(folder / n) for n in scripts)
    undo = "put husky's hooks back with 'gitlog hooks uninstall', then " if moved else ""
    root = repo.root.resolve()
    shown = {n: os.path.relpath(path.resolve(), root) for n, path in scripts.items()}
    name, first = next(iter(shown.items()))
    where = (f"with the line: gitlog hooks run {name} \"$@\"" if len(shown) == 1 else
             f"with the line: gitlog hooks run NAME \"$@\" in each .husky/NAME (NAME: "
             f"{', '.join(shown)})")
    raise GitlogError(
        f"cannot chain the {name} hook: {os.path.relpath(folder / name, root)} is "
        f"husky's, which runs {first} by its own file name (renamed, it would run nothing)"
        + (f"; so are {', '.join(n for n in shown if n != name)}" if len(shown) > 1 else ""),
        hint=f"{undo}call gitlog from {first if len(shown) == 1 else 'your husky scripts'} "
             f"instead, {where}{_leave_out(chosen, list(shown))}")


def _exclude(repo: Repo, patterns: list[str], add: bool = True) -> None:
    """Keep gitlog's shims in a work-tree hooks folder out of 'git add -A' (they name
    this machine's Python): list them in ``info/exclude``, or take them out again."""
    path = repo.common_dir / "info" / "exclude"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    if add:
        kept = lines + [p for p in patterns if p not in lines]
    else:
        kept = [line for line in lines if line not in patterns]
    if kept != lines:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


def uninstall(path: str | Path = ".", names: list[str] | None = None) -> HooksReport:
    """Remove gitlog's shims; put back the hooks they chained. Others stay untouched."""
    repo = Repo(path)
    folder, configured = hooks_folder(repo, force=True)
    states = []
    for name in resolve_names(names):
        target = folder / name
        legacy = folder / f"{name}.legacy"
        if run_by_other(folder, name) and exists(legacy):
            legacy.unlink()  # gitlog's shim, run by the other tool's hook, which stays
            states.append(HookState(name, "removed"))
        elif exists(target) and is_gitlog_shim(target):
            target.unlink()
            if exists(legacy):
                os.rename(legacy, target)
                states.append(HookState(name, "removed, chained hook restored"))
            else:
                states.append(HookState(name, "removed"))
        elif exists(target):
            states.append(HookState(name, "not gitlog's: left alone"))
        else:
            states.append(HookState(name, "not installed"))
    in_tree = _in_work_tree(repo, folder)
    if in_tree is not None:
        gone = [n for n in resolve_names(names) if not is_gitlog_shim(folder / n)]
        _exclude(repo, [f"/{in_tree}/{n}{end}" for n in gone for end in ("", ".legacy")],
                 add=False)
    return HooksReport(folder, configured, states)


def status(path: str | Path = ".") -> HooksReport:
    """Each hook's state: gitlog's (and which Python, whether it still exists), another
    tool's, or none."""
    repo = Repo(path)
    folder, configured = hooks_folder(repo, force=True)
    states = []
    found: dict[tuple[str, str | None], bool] = {}
    for name in HOOK_NAMES:
        target = folder / name
        legacy = folder / f"{name}.legacy"
        chained = exists(legacy)
        beside = run_by_other(folder, name)
        if beside and exists(legacy):
            python = shim_python(legacy)
            state = _shim_state(legacy, found)
            state = f"{state} ({beside})" if state.startswith("broken") else f"{state} {beside}"
            states.append(HookState(name, state, False, python))
        elif exists(target) and is_gitlog_shim(target):
            state = _shim_state(target, found)
            states.append(HookState(name, state, chained, shim_python(target)))
        elif exists(target):
            states.append(HookState(name, "other tool's hook", False, None))
        else:
            states.append(HookState(name, "not installed", chained, None))
    return HooksReport(folder, configured, states)


def _shim_state(shim: Path, found: dict[tuple[str, str | None], bool]) -> str:
    """``found``: whether a (Python, home) finds gitlog, kept across one status."""
    python = shim_python(shim)
    if not python or not os.access(python, os.X_OK):
        return "broken: its Python is gone"
    home = _shim_value(shim, "GITLOG_HOME")
    if (python, home) not in found:
        found[python, home] = _imports_gitlog(python, home)
    if not found[python, home]:
        return "broken: its Python cannot import gitlog"
    try:  # a shim an older gitlog wrote runs that version's hook text until reinstalled
        outdated = shim.read_bytes() != shim_text(python, home)
    except OSError:
        outdated = False
    if outdated:
        return "outdated: gitlog hooks install rewrites it"
    return "installed (another Python)" if python != sys.executable else "installed"


def _imports_gitlog(python: str, home: str | None) -> bool:
    """Whether the shim's Python finds gitlog: in the folder the shim names, else (a
    venv recreated, an editable install's source moved) in that Python's site-packages,
    as a hook started from an IDE would, without this shell's PYTHONPATH."""
    if home and os.path.isfile(os.path.join(home, "gitlog", "_hook.py")):
        return True
    import subprocess

    try:
        return subprocess.run([python, "-E", "-c", "import gitlog._hook"], cwd="/",
                              stdin=subprocess.DEVNULL, capture_output=True).returncode == 0
    except OSError:
        return False
