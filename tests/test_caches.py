"""The caches in ``.git/gitlog/`` damaged as an unlucky machine or a careless copy damages
them: every command answers as it does with no cache at all, and never crashes."""

from __future__ import annotations

import json
import marshal
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, run_cli, state_of
from tests.runrepo import Builder
from tests.test_ls import ls_rows, shared_history

EXPECTED_LS = [("a", 2, "completed", 0.5), ("b", 2, "completed", 0.8),
               ("c", 4, "completed", 0.4), ("d", 3, "completed", 0.5),
               ("e", 2, "completed", 0.5), ("f", 0, None, None)]
# marshal data declaring a list of 2**31 - 1 items: marshal allocates it before reading
# them (seconds and gigabytes, or MemoryError), whatever follows
HUGE_LIST = b"[\xff\xff\xff\x7f" + b"N" * 16


def test_ls_counts_again_when_the_kept_counts_are_not_counts(tmp_path: Path) -> None:
    """A run-counts file that loads but holds a string or a negative number for a tip
    (another program's, a hand edit) showed them as the runs column."""
    repo = tmp_path / "p"
    shared_history(repo)
    assert ls_rows(repo) == EXPECTED_LS
    cache = repo / ".git" / "gitlog" / "run-counts.marshal"
    from gitlog.git import Repo
    from gitlog.marshalfile import dump, load
    from gitlog.runcount import _history_state

    state = _history_state(Repo(repo))
    tips = git(repo, "for-each-ref", "--format=%(objectname)", "refs/heads/exp/").split()
    wrong = {f".gitlog\0{tip}": ("x" if i % 2 else -1 - i) for i, tip in enumerate(tips)}
    cache.write_bytes(marshal.dumps({"history": state, "counts": wrong}))
    assert ls_rows(repo) == EXPECTED_LS
    dump(cache, {"history": state, "counts": wrong})
    assert ls_rows(repo) == EXPECTED_LS
    dump(cache, ["not", "a", "mapping"])
    assert ls_rows(repo) == EXPECTED_LS
    kept = load(cache)
    assert isinstance(kept, dict)
    assert sorted(kept["counts"].values()) == [0, 2, 2, 2, 3, 4]  # counted again, kept


def _limited_memory() -> None:
    limit = 3 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_damaged_marshal_caches_never_reach_marshal(tmp_path: Path) -> None:
    """Bytes that declare a huge object (a disk error, a file of something else) made
    marshal allocate gigabytes: ls stopped with MemoryError's traceback (exit 3) under a
    memory limit, and took seconds without one. Every marshal cache is checked first."""
    repo = tmp_path / "p"
    shared_history(repo)
    assert ls_rows(repo) == EXPECTED_LS
    gitlog_dir = repo / ".git" / "gitlog"
    names = ["run-counts.marshal", "config-cache.marshal", "checked-blobs.marshal"]
    for name in names:
        (gitlog_dir / name).write_bytes(HUGE_LIST)
    proc = subprocess.run([sys.executable, "-m", "gitlog", "ls", "--format", "json"],
                          cwd=repo, capture_output=True, text=True, timeout=120,
                          preexec_fn=_limited_memory)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert [(r["experiment"], r["runs"], r["status"], r["loss"])
            for r in json.loads(proc.stdout)] == EXPECTED_LS
    from gitlog import checkcache, configcache

    assert configcache.read(gitlog_dir, None) is None
    assert checkcache.lookup(gitlog_dir, "0" * 40) is None


def test_marshal_caches_read_back_only_whole_files(tmp_path: Path) -> None:
    """Truncated, empty or altered files read as no cache; a file where the folder should
    be, or a folder where the file should be, is no error."""
    from gitlog.marshalfile import dump, load

    path = tmp_path / "gitlog" / "c.marshal"
    value = {"history": "", "counts": {"k": 3}}
    assert dump(path, value) and load(path) == value
    whole = path.read_bytes()
    for damaged in (b"", whole[:-1], whole[:10], whole + b"N",
                    whole[:-2] + bytes([whole[-2] ^ 1]) + whole[-1:]):
        path.write_bytes(damaged)
        assert load(path) is None, damaged
    (tmp_path / "file").write_text("x")
    assert not dump(tmp_path / "file" / "c.marshal", value)
    assert load(tmp_path / "file" / "c.marshal") is None
    path.unlink()
    path.mkdir()
    assert not dump(path, value) and load(path) is None


def _commit_run_by_hand(repo: Path, loss: float) -> str:
    """A run committed with plain git on exp/a (workspace workflow), as another process
    would: a new metrics.json on top of the branch, the work tree left alone."""
    metrics = repo.parent / "hand-metrics.json"
    metrics.write_text(json.dumps({"loss": loss}))
    blob = git(repo, "hash-object", "-w", str(metrics)).strip()
    env = {"GIT_INDEX_FILE": str(repo / ".git" / "hand-index")}
    git(repo, "read-tree", "exp/a", env=env)
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},.gitlog/metrics.json",
        env=env)
    tree = git(repo, "write-tree", env=env).strip()
    commit = git(repo, "commit-tree", tree, "-p", "exp/a", "-m", "hand run").strip()
    git(repo, "update-ref", "refs/heads/exp/a", commit)
    return commit


def _losses(repo: Path, command: str) -> list[float]:
    args = {"history": ["history", "-m", "loss", "exp/a"],
            "best": ["best", "-m", "loss", "exp/a"]}[command]
    proc = run_cli(*args, "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return [row["loss"] for row in json.loads(proc.stdout)]


@pytest.mark.parametrize("command", ["history", "best"])
def test_a_run_committed_while_a_query_walks_is_not_kept_under_the_old_tip(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """The walk's key named the tips resolved before git walked: a run committed in
    between was stored under the old tip, so once the branch was reset to it (the run
    dropped) every query still showed the dropped run."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0])
    b.run("a", {"loss": 0.5}, parents=[r1])
    repo = tmp_path / "p"
    shas = b.write(repo)
    import gitlog
    import gitlog.walk

    start = gitlog.walk.answers
    landed: list[str] = []

    def racing(*args: object, **kwargs: object) -> object:
        if not landed:  # the other process commits as this query starts walking
            landed.append(_commit_run_by_hand(repo, 0.25))
        return start(*args, **kwargs)

    monkeypatch.setattr(gitlog.walk, "answers", racing)
    if command == "history":
        rows = gitlog.history("loss", "exp/a", repo=repo)
        assert [r.metrics["loss"].value for r in rows] == [1.0, 0.5, 0.25]
    else:
        assert [r.value for r in gitlog.best("loss", "exp/a", repo=repo)] == [0.25, 0.5, 1.0]
    monkeypatch.setattr(gitlog.walk, "answers", start)
    git(repo, "update-ref", "refs/heads/exp/a", shas[3])  # the hand run dropped
    expected = {"history": [1.0, 0.5], "best": [0.5, 1.0]}[command]
    assert _losses(repo, command) == expected
    assert _losses(repo, command) == expected


def test_a_run_with_no_room_for_its_journal_stops_with_a_clear_error(repo: Path) -> None:
    """With a file where .git/gitlog should be (a full or failing disk fails alike), a run
    stopped with 'unexpected FileExistsError ... please report it'. Nothing is changed."""
    (repo / ".git" / "gitlog").write_text("not a folder\n")
    before = state_of(repo)
    proc = run_cli("run", "-e", "base", "--", sys.executable, "-c", "pass", cwd=repo)
    folder = repo / ".git" / "gitlog"
    assert (proc.returncode, proc.stderr.splitlines()) == (1, [
        f"Error: cannot write in {folder}: File exists",
        "hint: gitlog keeps its run journals there: make it a writable folder (move away a "
        "file of that name), or free disk space"])
    assert state_of(repo) == before
    assert git(repo, "branch", "--list", "exp/*") == ""
