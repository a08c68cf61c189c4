"""The commit-msg policy: a commit that records a new run says so in its message.

When the staged log folder holds a run that HEAD does not (HEAD's parent, for ``git
commit --amend``: a new message on the run commit keeps the run's trailers), the message
gets a one-line metric summary (``loss=0.231 (-0.012) accuracy=0.941``, the change is from
that commit's run)
and ``Gitlog-Run`` / ``Gitlog-Experiment`` / ``Gitlog-Status`` trailers, the ones gitlog's
own run commits carry. Never twice, never on merges, fixups or squashes, never on an
empty message (git aborts those), and not at all with ``hooks.trailers: false``.
"""

from __future__ import annotations

from .gitcaller import amending
from .hookctx import HookContext
from .runfiles import loads_json, run_facts, summary_line

SKIP_PREFIXES = ("fixup!", "squash!", "amend!")
SCISSORS = "------------------------ >8 ------------------------"
_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def is_trailer(line: str) -> bool:
    """``Key: value`` with a git trailer key (letters, digits, '-')."""
    key, sep, _ = line.partition(": ")
    return bool(sep) and bool(key) and key[0] != "-" and set(key) <= _TOKEN


def add_run_summary(ctx: HookContext, message_file: str) -> str | None:
    """Amend the message in ``message_file``; return what was added (None: nothing)."""
    if not ctx.hooks["trailers"] or ctx.in_progress("MERGE_HEAD"):
        return None
    try:
        with open(message_file, "rb") as fh:
            text = fh.read().decode("utf-8", "surrogateescape")
    except OSError as exc:
        from .errors import GitlogError

        raise GitlogError(f"cannot read the commit message file {message_file}: "
                          f"{exc.strerror or exc}",
                          hint="git passes the commit-msg hook its message file: "
                               "git commit runs it") from None
    log = ctx.log_dir
    # the new commit's parent: HEAD's own parent when 'git commit --amend' replaces HEAD
    parent = "HEAD^" if amending() else "HEAD"
    specs = [f":{log}/run.yaml", f"{parent}:{log}/run.yaml", f":{log}/metrics.json",
             f"{parent}:{log}/metrics.json"]
    staged_run, head_run, metrics, head_metrics = \
        ctx.repo.read_blobs(specs, env=ctx.index_env()).values()
    if staged_run is None or staged_run == head_run:
        return None
    try:
        facts = run_facts(staged_run, ("id", "experiment", "status"))
    except ValueError:
        return None  # pre-commit reports a broken run.yaml
    if not facts["id"] or f"Gitlog-Run: {facts['id']}" in text:
        return None
    comment = _comment_char(ctx, text)
    body, tail = split_message(text, comment)
    subject = next((line for line in body.split("\n") if line.strip()), "")
    if not subject or subject.startswith(SKIP_PREFIXES):
        return None
    body, stale = drop_run_lines(body)
    if stale and head_run is not None and stale == run_facts(head_run, ("id",))["id"]:
        # 'git commit --amend' of HEAD's run commit with a new run: the message is HEAD's,
        # and the new commit replaces HEAD, so the change is from the run before it
        head_run, head_metrics = ctx.repo.read_blobs(
            [f"HEAD^:{log}/run.yaml", f"HEAD^:{log}/metrics.json"]).values()
    summary = summary_line(_json(metrics) or {}, _json(head_metrics) if head_run else None,
                           list(ctx.data["metrics"]["key"]))
    trailers = [f"Gitlog-Run: {facts['id']}"]
    if facts["experiment"]:
        trailers.append(f"Gitlog-Experiment: {facts['experiment']}")
    if facts["status"]:
        trailers.append(f"Gitlog-Status: {facts['status']}")
    new = compose(body, summary, trailers) + ("\n" + tail if tail else "")
    with open(message_file, "wb") as fh:
        fh.write(new.encode("utf-8", "surrogateescape"))
    return "\n".join([summary, *trailers]) if summary else "\n".join(trailers)


RUN_TRAILERS = ("Gitlog-Run: ", "Gitlog-Experiment: ", "Gitlog-Status: ")


def drop_run_lines(body: str) -> tuple[str, str | None]:
    """``body`` without the summary paragraph and trailers of another run (a message
    reused by 'git commit --amend' or '-c' for a new run), and that run's id; ``body``
    as it is and None when it names no run."""
    lines = body.split("\n")
    start = len(lines)
    while start > 0 and lines[start - 1].strip():
        start -= 1
    block = lines[start:]
    if start == 0 or not block or not all(is_trailer(line) for line in block):
        return body, None
    stale = next((line[len(RUN_TRAILERS[0]):].strip() for line in block
                  if line.startswith(RUN_TRAILERS[0])), None)
    if stale is None:
        return body, None
    kept = [line for line in block if not line.startswith(RUN_TRAILERS)]
    head = _rstrip_blank(lines[:start])
    if len(head) >= 3 and _is_summary(head[-1]) and not head[-2].strip():
        head = _rstrip_blank(head[:-1])  # the run's summary, the paragraph before them
    return "\n".join(head + ([""] + kept if kept else [])), stale


def _rstrip_blank(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _is_summary(line: str) -> bool:
    """Whether ``line`` reads as ``summary_line``'s: ``name=value`` items, each maybe
    followed by its change in parentheses."""
    words = line.split(" ")
    if not words or "=" not in words[0]:
        return False
    expect_item = True
    for word in words:
        if "=" in word and not word.startswith("("):
            expect_item = False
        elif not expect_item and word.startswith("(") and word.endswith(")"):
            expect_item = True
        else:
            return False
    return True


def _json(data: bytes | None) -> dict | None:
    try:
        doc = loads_json(data) if data is not None else None
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _comment_char(ctx: HookContext, text: str) -> str:
    """git's comment character; asked of git only when a line could be a comment
    (messages given with -m usually have none)."""
    if all(line[:1].isalnum() or line[:1] in ("", " ", "\t") for line in text.split("\n")):
        return "#"
    char = ctx.repo.git("config", "--get", "core.commentChar", check=False).strip()
    return char if len(char) == 1 else "#"


def split_message(text: str, comment: str = "#") -> tuple[str, str]:
    """(message, git's trailing comment block): the block starts at the scissors line,
    or with the run of comment and blank lines that ends the file."""
    lines = text.split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        if line == f"{comment} {SCISSORS}":
            cut = i
            break
    while cut > 0 and (not lines[cut - 1].strip() or lines[cut - 1].startswith(comment)):
        cut -= 1
    while cut < len(lines) and not lines[cut].strip():
        cut += 1  # blank lines before the comments stay with the message
    body = "\n".join(lines[:cut]).rstrip("\n")
    return body, "\n".join(lines[cut:])


def compose(body: str, summary: str, trailers: list[str]) -> str:
    """``body`` + a summary paragraph + trailers, joining a trailer block already there."""
    lines = body.rstrip("\n").split("\n")
    start = len(lines)
    while start > 0 and lines[start - 1].strip():
        start -= 1
    block = lines[start:]
    paragraph = [summary, ""] if summary else []
    if start > 0 and block and all(is_trailer(line) for line in block):
        head = lines[:start]
        while head and not head[-1].strip():
            head.pop()
        out = head + [""] + paragraph + block + trailers
    else:
        out = lines + [""] + paragraph + trailers
    return "\n".join(out) + "\n"
