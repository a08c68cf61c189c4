"""What the hook shims run: ``gitlog._hook.main()`` with ``SHIM_PATH ARGS...``.

The hook's name is the shim's file name (less ``.legacy`` when another tool's hook runs
it under that name). A hook that was in place before gitlog's runs
first (``NAME.legacy``, chained by ``gitlog hooks install``); a validating hook that it
fails stops there. Then gitlog's policy for the hook runs.

Validating hooks (pre-commit, commit-msg, pre-push) exit 1 with the reasons and a fix;
recording hooks (post-commit, post-checkout, post-merge) warn and exit 0: they never
block git. Like the CLI, this is an entry point: it reads the environment, prints to
stderr and exits. Imports stay few: this runs on every commit.
"""

from __future__ import annotations

import os
import sys

from .errors import GitlogError
from .hookctx import HOOK_NAMES, RECORDING, VALIDATING, HookContext, HookRefused

STDIN_HOOKS = ("pre-push",)
DEBUG = "GITLOG_DEBUG"


def main() -> None:
    if len(sys.argv) < 2:
        print("usage: python -m gitlog._hook SHIM_PATH [ARGS...]", file=sys.stderr)
        sys.exit(2)
    shim, args = sys.argv[1], sys.argv[2:]
    sys.exit(run_hook(hook_name(shim), args, shim=shim))


def hook_name(shim: str) -> str:
    """The hook a shim serves: its file name, also when another tool's hook keeps it as
    ``NAME.legacy`` and runs it (the pre-commit framework's 'migration mode')."""
    name = os.path.basename(shim)
    return name[:-len(".legacy")] if name.endswith(".legacy") else name


def run_hook(hook: str, args: list[str], shim: str | None = None,
             stdin: bytes | None = None) -> int:
    """Run the chained hook (if any) and gitlog's policy for ``hook``; the exit code."""
    if hook not in HOOK_NAMES:
        say(hook, f"gitlog has no {hook} hook (it knows {', '.join(HOOK_NAMES)})")
        return 0
    if hook in STDIN_HOOKS and stdin is None:
        stdin = sys.stdin.buffer.read()
    chained = 0
    legacy = f"{shim}.legacy" if shim else None
    if legacy and os.path.isfile(legacy) and os.access(legacy, os.X_OK):
        chained = run_legacy(legacy, args, stdin)
        if chained and hook in VALIDATING:
            return chained
    try:
        note = dispatch(hook, args, stdin or b"")
    except HookRefused as exc:
        for problem in exc.problems:
            say(hook, problem.message, problem.hint)
        return refuse_footer(hook)
    except GitlogError as exc:
        say(hook, str(exc), exc.hint)
        return refuse_footer(hook) if hook in VALIDATING else chained
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line, never a traceback in git's output
        if os.environ.get(DEBUG):
            raise
        say(hook, f"unexpected {type(exc).__name__}: {exc}",
            f"re-run with {DEBUG}=1 for the traceback, and please report it")
        return refuse_footer(hook, code=3) if hook in VALIDATING else chained
    if note:
        say(hook, note)
    return chained


def refuse_footer(hook: str, code: int = 1) -> int:
    verb = "push" if hook == "pre-push" else "commit"
    print(f"(gitlog's {hook} hook refused; 'git {verb} --no-verify' skips it once)",
          file=sys.stderr)
    return code


def say(hook: str, message: str, hint: str | None = None) -> None:
    print(f"gitlog {hook}: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def run_legacy(path: str, args: list[str], stdin: bytes | None) -> int:
    import subprocess

    try:
        return subprocess.run([path, *args], input=stdin).returncode
    except OSError as exc:
        say(os.path.basename(path), f"could not run the chained hook {path}: {exc}")
        return 1


def dispatch(hook: str, args: list[str], stdin: bytes) -> str | None:
    """gitlog's policy for ``hook``; returns a note for the user, raises to refuse."""
    ctx = HookContext.open(hook, index_file=_index_file())
    if hook == "pre-commit":
        from .precommit import check

        check(ctx)
        return None
    if hook == "commit-msg":
        if not args:
            raise GitlogError("commit-msg needs the message file as its argument")
        from .commitmsg import add_run_summary

        add_run_summary(ctx, args[0])
        return None
    if hook == "post-commit":
        return post_commit(ctx)
    if hook == "pre-push":
        from .dvchooks import pre_push

        remote = args[0] if args else "origin"
        return pre_push(ctx, remote, stdin.decode("utf-8", "surrogateescape"))
    from .dvchooks import after_checkout

    if hook == "post-checkout":
        if len(args) >= 3 and args[2] == "0":
            return None  # a file checkout, not a branch switch
        return after_checkout(ctx, args[0] if args else None, "HEAD")
    assert hook in RECORDING
    return after_checkout(ctx, "ORIG_HEAD", "HEAD")


def _index_file() -> str | None:
    index = os.environ.get("GIT_INDEX_FILE")
    return os.path.abspath(index) if index else None


POST_COMMIT_LOCK = "post-commit.lock"
POST_COMMIT_LOG = "post-commit.log"


def post_commit(ctx: HookContext) -> str | None:
    """The work after a commit that records a new run (query cache, alert rules).

    It runs in a detached process, as ``git gc --auto`` does: ``git commit`` returns at
    once. One such process at a time holds ``.git/gitlog/post-commit.lock``; what its
    steps report goes to ``post-commit.log`` and is shown by the next post-commit hook.
    """
    report_earlier(ctx)
    path = f"{ctx.log_dir}/run.yaml"
    out = ctx.repo.git("cat-file", "--batch-check=%(objectname)", check=False,
                       input=f"HEAD\nHEAD:{path}\nHEAD^:{path}\n".encode())
    head, run, parent_run = (out.splitlines() + ["", "", ""])[:3]
    if head.endswith("missing") or run.endswith("missing") or run == parent_run:
        return None
    from .postcommit import wanted

    if not wanted(ctx.data):
        return None
    if not hasattr(os, "fork"):
        run_steps(ctx, head)
        return None
    import fcntl

    os.makedirs(ctx.repo.gitlog_dir, exist_ok=True)
    lock = os.open(os.path.join(ctx.repo.gitlog_dir, POST_COMMIT_LOCK),
                   os.O_RDWR | os.O_CREAT, 0o644)
    try:  # taken here when free, so whoever waits on it after git returns waits for us
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        locked = True
    except OSError:
        locked = False
    sys.stderr.flush()
    if os.fork():
        return None  # git goes on; the child keeps the lock until it is done
    os.setsid()
    quiet = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(quiet, fd)  # let go of git's pipes: nobody waits for this process
    if not locked:
        fcntl.flock(lock, fcntl.LOCK_EX)  # after the one still running
    run_steps(ctx, head)
    sys.exit(0)


def run_steps(ctx: HookContext, commit: str) -> None:
    import warnings

    from .postcommit import after_commit

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            problems = after_commit(ctx.repo.full(), ctx.config(), commit)
    except Exception as exc:  # the config or the repository could not be read
        problems = [f"gitlog: post-commit steps failed: {exc}"]
    if problems:
        with open(os.path.join(ctx.repo.gitlog_dir, POST_COMMIT_LOG), "a",
                  encoding="utf-8") as fh:
            fh.writelines(f"{commit[:12]}\t{line.removeprefix('gitlog: ')}\n"
                          for line in problems)


def report_earlier(ctx: HookContext) -> None:
    """Show (once) what the post-commit steps of earlier commits reported."""
    path = os.path.join(ctx.repo.gitlog_dir, POST_COMMIT_LOG)
    try:
        taken = f"{path}.{os.getpid()}"
        os.replace(path, taken)
    except OSError:
        return
    with open(taken, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            commit, _, message = line.rstrip("\n").partition("\t")
            say("post-commit", f"after commit {commit}: {message}")
    os.unlink(taken)


if __name__ == "__main__":
    main()
