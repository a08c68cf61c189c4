"""The caches in ``.git/gitlog/`` damaged as an unlucky machine or a careless copy damages
them: every command answers as it does with no cache at all, and never crashes."""

from __future__ import annotations

import json
import marshal
import resource
import subprocess
import sys
from pathlib import Path

from tests.conftest import git
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
