"""``start()``: open a run (or attach to the one a parent ``gitlog run`` opened)."""

from __future__ import annotations

import getpass
import math
import os
import platform
import secrets
import shlex
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import env
from .branches import check_branch_free, check_new_experiment
from .config import LEVEL_NAMES, Config, level_name, load
from .errors import GitlogError, NameError_
from .git import Repo
from .journal import Journal, runs_dir
from .names import check_experiment, ref_component_problem
from .notebook import finish_earlier, in_kernel, interactive, notebook_in, notebook_path
from .recorder import LEVELS, iso
from .run import Run
from .threadexit import finish_leftovers

_ATEXIT = False
_LATE_ATEXIT = False  # (see _finish_at_exit)
# (pid, run id) of the 'gitlog run' run a start() of this process attached to: one
# 'gitlog run' is one run, so a second start() in the process is an error (a forked or
# spawned worker, another process, attaches on its own)
_ATTACHED: tuple[int, str] | None = None


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def script_experiment(script: str | None = None) -> str:
    """The default experiment name: the running script's name (or ``script``, the one a
    command runs), made branch-safe. In a Jupyter kernel: the notebook's name when the
    server gives it, else ``notebook`` (not ``ipykernel_launcher``)."""
    argv0 = script if script is not None else _default_script()
    if script is None and in_kernel():
        return _branch_safe(Path(argv0).stem) or "notebook"
    return _branch_safe(Path(argv0).stem if argv0 not in ("-c", "-m", "-") else "") \
        or "default"


def _default_script() -> str:
    """What names this process's experiment: the script, or a kernel's notebook."""
    if in_kernel():
        return notebook_path() or ""
    return sys.argv[0] if sys.argv else ""


def _branch_safe(stem: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-")


def script_command() -> str | None:
    """The command line that runs this script again, as run.yaml records it. Under
    ``python -c CODE`` ``sys.argv`` has lost CODE (``['-c', ...]``): the interpreter's own
    argv (``sys.orig_argv``) still holds it. None in a kernel or at a prompt: no command
    runs that code again (a kernel's is its launcher and a connection file)."""
    if interactive():
        return None
    argv = sys.argv
    if argv[:1] == ["-c"] and "-c" in sys.orig_argv[1:]:
        argv = sys.orig_argv[1:]
    return shlex.join([Path(sys.executable).name, *argv])


def choose_experiment(explicit: str | None, head_branch: str | None,
                      config: Config, script: str | None = None) -> tuple[str, bool]:
    """(experiment, workspace?) from the argument, environment, HEAD, config, script."""
    branch_prefix = "refs/heads/" + config.prefix
    head_exp = head_branch[len(branch_prefix):] if head_branch and \
        head_branch.startswith(branch_prefix) else None
    name = explicit or env.get(env.EXPERIMENT) or head_exp or config["experiment"] \
        or script_experiment(script)
    check_experiment(name)
    return name, head_exp is not None and name == head_exp


def _name_source(config: Config, script: str | None) -> str:
    """Where ``choose_experiment`` took a name it was not given (HEAD's is no new one)."""
    if env.get(env.EXPERIMENT):
        return f"{env.EXPERIMENT}"
    if config["experiment"]:
        return "'experiment:' in .gitlog.yaml"
    if script is None and in_kernel():
        return f"the notebook's name ({Path(_default_script()).name})"
    script = script if script is not None else sys.argv[0] if sys.argv else ""
    return f"the script's name ({Path(script).name})"


def resolve_level(level: str | int | None, config: Config) -> str:
    """The run's threshold: ``level`` (a name, or logging's number: ``logging.WARNING``),
    else ``GITLOG_LEVEL``, else ``log_level`` in the config."""
    if isinstance(level, int) and not isinstance(level, bool):
        names = {number: name for name, number in LEVELS.items()}
        names[0] = "debug"  # logging.NOTSET: everything
        if level not in names:
            raise GitlogError(f"unknown log level {level!r}",
                              hint=f"use one of {', '.join(LEVELS)}, or logging.DEBUG ... "
                                   "logging.CRITICAL")
        return names[level]
    given = level or env.get(env.LEVEL) or config["log_level"]
    chosen = level_name(given)
    if chosen is None:
        where = "level=" if level else env.LEVEL if env.get(env.LEVEL) else "log_level"
        raise GitlogError(f"unknown log level {given!r} (from {where})",
                          hint=f"use one of {LEVEL_NAMES}")
    return chosen


def start(experiment: str | None = None, params: Mapping[str, Any] | None = None, *,
          repo: str | Path = ".", message: str | None = None,
          flush_interval: float | None = None, level: str | int | None = None,
          command: str | None = None, system_metrics: bool = False) -> Run:
    """Open a run of ``experiment`` in the repository containing ``repo``.

    Everything is checked before training starts: the repository, the config and the
    experiment name. Under ``gitlog run`` the call attaches to the parent's run.
    ``system_metrics=True`` samples CPU, memory, disk and GPU into ``system/*`` series
    (needs the ``[monitor]`` extra).
    """
    if experiment is not None and not isinstance(experiment, str):
        raise NameError_("experiment", repr(experiment), "experiment names are strings")
    if flush_interval is not None and (
            isinstance(flush_interval, bool) or not isinstance(flush_interval, (int, float))
            or not math.isfinite(flush_interval) or flush_interval <= 0):
        # (infinity used to kill the flusher thread: nothing reached the journal until
        # the end, and a SIGKILL lost the whole run)
        raise GitlogError(f"flush_interval must be a positive number of seconds, got "
                          f"{flush_interval!r}",
                          hint="pass seconds between journal writes, e.g. "
                               "flush_interval=2.0, or leave it out")
    if system_metrics:
        from .sysmetrics import _psutil

        _psutil()  # a missing extra fails here, before training starts
    global _ATTACHED
    attached = env.attached_run()
    if attached:
        _check_first_attach(attached[0])
        run = _attach(attached, experiment, level, flush_interval)
        _ATTACHED = (os.getpid(), run.id)
    else:
        run = open_run(repo, experiment, message=message, flush_interval=flush_interval,
                       level=level, command=command)
    run._started_in = sys._getframe(1)  # where the caller's thread is inside the run
    if params is not None:
        try:
            run.log_params(params)
        except BaseException:
            run._discard()  # a start that raised leaves no run behind
            if attached:
                _ATTACHED = None  # nor takes the place of the one that will not
            raise
    if system_metrics and not (attached and env.get(env.SYSTEM_METRICS)):
        from .sysmetrics import start_sampling

        start_sampling(run)
    if not attached:
        finish_earlier(run)  # a re-run notebook cell's run, left open
    _finish_at_exit()
    return run


def _check_first_attach(run_id: str) -> None:
    """Refuse a second ``start()`` of this process under one ``gitlog run``: it joined the
    first one's run (its params overwrote the first's, its series started again at step
    0 in the same files)."""
    if (os.getpid(), run_id) != _ATTACHED:
        return
    raise GitlogError(f"gitlog.start() was already called in this process, which 'gitlog "
                      f"run' started as run {run_id}: a 'gitlog run' is one run",
                      hint="to log each gitlog.start() as its own run, run the script "
                           "without 'gitlog run' (python train.py); or start one run and "
                           "log everything into it")


def _finish_at_exit() -> None:
    """Have the runs this process leaves open finished when its main thread ends
    (``threadexit.at_main_exit``); a ``start()`` in a thread that outlives the main
    thread registers once more, for the interpreter's exit."""
    global _ATEXIT, _LATE_ATEXIT
    import threading

    from .threadexit import at_main_exit

    late = bool(getattr(threading, "_SHUTTING_DOWN", False))
    if _LATE_ATEXIT if late else _ATEXIT:
        return
    at_main_exit(finish_leftovers)
    if late:
        _LATE_ATEXIT = True
    else:
        _ATEXIT = True


def open_run(repo_path: str | Path, experiment: str | None, *, message: str | None = None,
             flush_interval: float | None = None, level: str | int | None = None,
             command: str | None = None, script: str | None = None,
             cwd: str | Path | None = None) -> Run:
    """Create the journal of a new run (which this process owns) and return the Run.
    ``script``: what names a new experiment when none is given (default: this process's
    script); ``cwd``: the folder the command runs in (default: this process's)."""
    repo = Repo(repo_path)
    config = load(repo.root)
    chosen_level = resolve_level(level, config)
    head = repo.head()
    if experiment and experiment.startswith(config.prefix) and experiment != config.prefix \
            and not repo.ref_tip(config.branch(experiment)):
        experiment = experiment[len(config.prefix):]  # 'exp/NAME' names experiment NAME
    name, workspace = choose_experiment(experiment, head.branch, config, script)
    if not workspace:  # (a new experiment gets its branch when the run is committed)
        check_branch_free(repo, config.branch(name))
        try:
            check_new_experiment(repo, config, name)
        except NameError_ as err:
            if experiment is not None:
                raise
            # a name nobody typed here (python main.py: 'main'): say where it came from
            raise GitlogError(f"{err}; it is the default experiment name, from "
                              f"{_name_source(config, script)}",
                              hint="name the experiment: "
                                   f"{'gitlog run -e NAME' if script else 'gitlog.start(NAME)'}"
                                   ", GITLOG_EXPERIMENT=NAME or 'experiment: NAME' in "
                                   ".gitlog.yaml") from None
    code, changed_in_place = code_state(repo, config.log_dir, head)
    run_id = new_run_id()
    meta = {
        "id": run_id,
        "experiment": name,
        "branch": config.branch(name),
        "mode": "workspace" if workspace else "branch",
        "log_dir": config.log_dir,
        "root": str(repo.root),
        "start": iso(time.time()),
        "command": command or script_command(),
        "cwd": _subfolder(repo.root, cwd),
        **_typed_in(repo.root, script is None and not command),
        **code,
        "message": message,
    }
    journal = Journal(runs_dir(repo.gitlog_dir) / run_id)
    journal.create(meta)
    journal.lock()
    run = Run(repo, config, journal, meta, owner=True, level=chosen_level,
              flush_interval=flush_interval)
    for path, commit in changed_in_place:
        text = (f"submodule {path} has uncommitted changes: the run keeps its commit "
                f"{commit[:10]} only (commit them in {path}, then run again, to keep them)")
        run._warn(text)
        run.warning(text, submodule=path)
    return run


def code_state(repo: Repo, log_dir: str, head: Any) -> tuple[dict[str, Any],
                                                              list[tuple[str, str]]]:
    """What a run records of the code it runs and where (``code_commit``, ``code_tree``,
    ``snapshot_tree``: HEAD plus uncommitted changes, ``dirty``, the committer, host,
    user, Python, pid), and the submodules with uncommitted changes (path, commit)."""
    snapshot = repo.snapshot_worktree()
    code_tree = snapshot
    top = {e[3] for e in repo.ls_tree(snapshot)}
    # a submodule's edits are not in the snapshot, only its commit: the run says so
    if ".gitmodules" in top:
        from .submodules import dirty_submodules

        changed_in_place = dirty_submodules(repo)
    else:
        changed_in_place = []
    if log_dir.split("/")[0] in top:
        from .store import tree_without
        code_tree = tree_without(repo, snapshot, log_dir)
    ident, fallback = repo.ident()
    return {
        "code_commit": head.commit,
        "code_branch": head.branch[len("refs/heads/"):] if head.branch else None,
        "code_subject": head.subject,
        "code_tree": code_tree,
        "snapshot_tree": snapshot,
        # Without a HEAD commit, any tracked file at all is uncommitted work.
        "dirty": bool(changed_in_place) or (
            snapshot != head.tree if head.tree else bool(top)),
        "ident": ident,
        "ident_fallback": fallback,
        "host": socket.gethostname(),
        "user": _user(),
        "python": platform.python_version(),
        "pid": os.getpid(),
    }, changed_in_place


def _typed_in(root: Path, own: bool) -> dict[str, Any]:
    """run.yaml's ``interactive`` ('jupyter kernel', 'python prompt') and ``notebook``
    (its path, when the server gives it) for a run this process's typed-in code opens:
    its ``command`` is None, for ``gitlog reproduce`` to say why."""
    kind = interactive() if own else None
    if kind is None:
        return {}
    notebook = notebook_in(root) if kind == "jupyter kernel" else None
    return {"interactive": kind, **({"notebook": notebook} if notebook else {})}


def _subfolder(root: Path, cwd: str | Path | None) -> str | None:
    """The folder a run's command runs in, relative to the repository root ('src/exp'),
    for ``gitlog reproduce`` to run it there again; None at the root or outside it."""
    try:
        rel = Path(cwd or os.getcwd()).resolve().relative_to(root.resolve())
    except (OSError, ValueError):
        return None
    return rel.as_posix() if rel.parts else None


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:
        return None


def _attach(attached: tuple[str, str], experiment: str | None, level: str | int | None,
            flush_interval: float | None) -> Run:
    from . import warnformat

    warnformat.install()  # its stderr is gitlog run's: gitlog's warnings as the CLI's
    run_id, journal_path = attached
    journal = Journal(journal_path)
    try:
        meta = journal.meta()
    except OSError:
        raise GitlogError(f"the parent run {run_id} has no journal at {journal_path}",
                          hint="unset GITLOG_RUN_ID and GITLOG_RUN_JOURNAL, or use gitlog run"
                          ) from None
    repo = Repo(meta.get("root") or _repo_of(journal_path))
    config = load(repo.root)
    run = Run(repo, config, journal, meta, owner=False, level=resolve_level(level, config),
              flush_interval=flush_interval)
    if experiment and experiment != meta["experiment"] and \
            ref_component_problem(experiment) is None:
        run.warning(f"start(experiment={experiment!r}) ignored: gitlog run put this run "
                    f"in {meta['experiment']!r}")
    return run


def _repo_of(journal_path: str) -> str:
    # <common git dir>/gitlog/runs/<id> -> the repository holding that git dir
    return str(Path(journal_path).resolve().parents[3])
