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
    <remote sha>`` lines. The commits the remote lacks that add or change a pointer file
    have their DVC objects uploaded (the DVC remote of ``remote.dvc`` in .gitlog.yaml,
    else DVC's default); raises GitlogError to refuse the push when that fails.
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
    pointers = pointer_blobs(ctx, revs)
    wanted = object_ids(ctx, pointers)
    if not wanted:
        return None
    from .artifacts import RemoteError, open_dvc
    from .errors import GitlogError

    dvc_remote = (ctx.data.get("remote") or {}).get("dvc")
    try:
        with open_dvc(ctx.repo.full()) as dvc:
            absent = dvc.push(sorted(wanted), dvc_remote)
    except RemoteError as exc:
        shown = ", ".join(sorted({wanted[m] for m in wanted})[:3])
        fix = exc.hint or "fix the DVC remote"
        if exc.message.startswith("no DVC remote configured"):  # git push takes no
            # --dvc-remote: the config names one
            fix = "dvc remote add -d storage /path/or/s3://bucket/path (or name one in " \
                  ".gitlog.yaml: remote: {dvc: NAME})"
        raise GitlogError(f"the pushed commits reference DVC artifacts ({shown}): "
                          f"{exc.message}",
                          hint=fix + "; then push again (or push without the artifacts: "
                          "git push --no-verify)") from None
    if absent:
        md5, why = sorted(absent.items())[0]
        more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
        raise GitlogError(f"artifact {wanted[md5]} of the pushed commits could not go to the "
                          f"DVC remote: {why}{more}",
                          hint="bring it back into the cache (dvc pull, or re-run the run) "
                               "and push again, or push without it: git push --no-verify")
    count = len(wanted)
    return f"DVC remote has the {count} artifact{'s' if count != 1 else ''} these commits use"


def pointer_blobs(ctx: HookContext, revs: list[str]) -> dict[str, str]:
    """{blob id: path} of the pointer files that ``revs`` add or change."""
    out = ctx.repo.git("diff-tree", "--stdin", "-r", "-z", "--no-commit-id", "--root",
                       "--no-renames", "--", *POINTERS, input="\n".join(revs).encode() + b"\n")
    parts = out.split("\0")
    blobs: dict[str, str] = {}
    for meta, path in zip(parts[0::2], parts[1::2], strict=False):
        fields = meta.lstrip(":").split()
        if len(fields) == 5 and fields[4] != "D" and not set(fields[3]) <= _NULL:
            blobs.setdefault(fields[3], path)
    return blobs


def object_ids(ctx: HookContext, blobs: dict[str, str]) -> dict[str, str]:
    """{DVC md5: the pointer file naming it} of the outputs in the pointer files."""
    from .layout import yaml_load

    found: dict[str, str] = {}
    contents = ctx.repo.read_blobs(list(blobs))
    for blob, data in contents.items():
        try:
            doc = yaml_load(data) if data else None
        except Exception:
            continue  # not a pointer DVC could read either
        entries = doc.get("outs") if isinstance(doc, dict) else None
        if isinstance(doc, dict) and isinstance(doc.get("stages"), dict):  # dvc.lock
            entries = [o for stage in doc["stages"].values() if isinstance(stage, dict)
                       for o in stage.get("outs") or []]
        for out in entries or []:
            # DVC 3 outputs ("hash: md5"); DVC 2's live in the cache's legacy layout,
            # which 'dvc push' handles and gitlog's artifacts never use.
            if isinstance(out, dict) and out.get("hash") == "md5" and \
                    isinstance(out.get("md5"), str) and out["md5"]:
                found.setdefault(out["md5"], blobs[blob])
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
