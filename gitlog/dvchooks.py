"""The DVC side of the hooks: pre-push sends artifacts, post-checkout/merge brings them.

Both look at pointer files (``*.dvc``, ``dvc.lock``) with plain git first and import
DVC only when a pushed or checked-out commit changes one, in a repository that uses DVC
(has ``.dvc/``).
"""

from __future__ import annotations

import os

from .hookctx import HookContext

POINTERS = ("*.dvc", "dvc.lock", "*/dvc.lock")
_NULL = frozenset("0")


def uses_dvc(ctx: HookContext) -> bool:
    return os.path.isdir(os.path.join(ctx.repo.root, ".dvc"))


def pre_push(ctx: HookContext, remote: str, updates: str) -> str | None:
    """Push the artifacts of the pushed commits; return a note for the user, if any.

    ``updates`` is git's pre-push input: ``<local ref> <local sha> <remote ref>
    <remote sha>`` lines. Raises NoDvcRemoteError / GitlogError to refuse the push.
    """
    if not ctx.hooks["dvc_push"] or not uses_dvc(ctx):
        return None
    revs: list[str] = []
    for line in updates.splitlines():
        fields = line.split()
        if len(fields) != 4 or set(fields[1]) <= _NULL:
            continue  # a deletion pushes nothing
        args = ["rev-list", "--ignore-missing", fields[1]]
        if not set(fields[3]) <= _NULL:
            args.append("^" + fields[3])
        args += ["--not", f"--remotes={remote}", "--", *POINTERS]
        revs += [r for r in ctx.repo.git(*args).split() if r not in revs]
    if not revs:
        return None
    pointers = pointer_files(ctx, revs)
    from .artifacts import push_revisions

    moved = push_revisions(ctx.repo.root, revs, pointers)
    return (f"pushed {moved} DVC file{'s' if moved != 1 else ''} for {len(revs)} "
            f"commit{'s' if len(revs) != 1 else ''}" if moved else None)


def pointer_files(ctx: HookContext, revs: list[str]) -> list[str]:
    out = ctx.repo.git("diff-tree", "--stdin", "-r", "--no-commit-id", "--name-only", "-z",
                       "--root", "--", *POINTERS, input="\n".join(revs[:20]).encode() + b"\n") \
        if revs else ""
    found: list[str] = []
    for path in out.split("\0"):
        if path and path not in found:
            found.append(path)
    return found


def after_checkout(ctx: HookContext, old: str | None, new: str) -> str | None:
    """Bring DVC-tracked files in line with ``new`` when its pointer files differ from
    ``old``'s (every pointer file when ``old`` is unknown); return a note, if any."""
    if not uses_dvc(ctx) or not ctx.hooks["dvc_checkout"]:
        return None
    if old and not set(old) <= _NULL and \
            ctx.repo.git("rev-parse", "-q", "--verify", old + "^{commit}", check=False):
        changed = ctx.repo.git("diff", "--name-only", "-z", "--no-renames", "--diff-filter=d",
                               old, new, "--", *POINTERS).split("\0")
    else:
        changed = ctx.repo.git("ls-files", "-z", "--", *POINTERS).split("\0")
    changed = [p for p in changed if p]
    if not changed:
        return None
    from .artifacts import checkout

    targets = None if any(p.endswith("dvc.lock") for p in changed) else \
        [os.path.join(ctx.repo.root, p) for p in changed]
    result = checkout(ctx.repo.root, targets)
    done = [f"{len(result[k])} {k}" for k in ("added", "modified", "deleted") if result[k]]
    note = f"dvc checkout: {', '.join(done)}" if done else None
    if result["failed"]:
        from .errors import GitlogError

        raise GitlogError(
            f"DVC-tracked files missing from the cache: {', '.join(result['failed'][:5])}",
            hint="fetch them: dvc pull")
    return note
