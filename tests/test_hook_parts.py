"""The hooks' light parts on their own: reading run.yaml without YAML, composing commit
messages, the os-only git runner, the config cache, ``gitlog hooks run``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitlog.commitmsg import compose, split_message
from gitlog.configcache import CACHE_FILE, load_data
from gitlog.gitproc import LiteRepo, run
from gitlog.layout import yaml_dump, yaml_load
from gitlog.runfiles import glob_match, loads_json, run_facts, summary_line
from tests.conftest import git, run_cli

VALUES = ["20261126-120502-abc123", "2024-01-05", "1e5", "12", "0x1f", "lr-sweep", "1.5",
          "1_000", "007", "2024-1-5x", "v1.2", "nan", "Infinity", "a@b", "9lives", "yes",
          "null", "it's", 'say "hi"', "a: b", "x #y", "héllo wörld", "$(rm -rf /); `x`",
          "long " * 30, "", "~"]


@pytest.mark.parametrize("value", VALUES)
def test_run_facts_agree_with_a_yaml_parser(value: str) -> None:
    data = yaml_dump({"id": value, "experiment": value, "status": "completed",
                      "code_tree": "0123456789" * 4})
    truth = yaml_load(data)
    facts = run_facts(data, ("id", "experiment", "code_tree", "missing"))
    expect = None if truth["id"] is None else str(truth["id"])
    assert facts == {"id": expect, "experiment": expect, "code_tree": "0123456789" * 4,
                     "missing": None}


def test_run_facts_rejects_what_is_not_a_mapping() -> None:
    with pytest.raises(ValueError, match="not a mapping"):
        run_facts(b"- a list\n- of things\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        run_facts(b"id: 'unterminated\n")


def test_summary_line_with_changes() -> None:
    now = {"train": {"loss": 0.231}, "accuracy": 0.941, "step": 9, "flag": True}
    before = {"train": {"loss": 0.243}, "accuracy": 0.941}
    assert summary_line(now, before, ["train/loss", "accuracy"]) == \
        "train/loss=0.231 (-0.012) accuracy=0.941 (+0)"
    assert summary_line(now, None, ["nothing"]) == "accuracy=0.941 train/loss=0.231"
    assert summary_line({}, None, ["loss"]) == ""


def test_message_split_keeps_comments_and_verbose_diff_out() -> None:
    text = ("subject\n\nbody\n\n# Please enter the commit message\n#\n"
            "# ------------------------ >8 ------------------------\n"
            "diff --git a/x b/x\n+# not a comment\n")
    body, tail = split_message(text)
    assert body == "subject\n\nbody"
    assert tail.startswith("# Please enter") and tail.endswith("+# not a comment\n")
    assert split_message("only\n") == ("only", "")


def test_compose_joins_an_existing_trailer_block() -> None:
    assert compose("subject", "loss=1", ["Gitlog-Run: r"]) == \
        "subject\n\nloss=1\n\nGitlog-Run: r\n"
    # A one-line subject that looks like a trailer is still the subject.
    assert compose("Fix: thing", "", ["Gitlog-Run: r"]) == "Fix: thing\n\nGitlog-Run: r\n"
    assert compose("s\n\nbody\n\nCo-authored-by: A <a@b>\n", "loss=1", ["Gitlog-Run: r"]) \
        == "s\n\nbody\n\nloss=1\n\nCo-authored-by: A <a@b>\nGitlog-Run: r\n"


def test_runner_moves_large_input_and_output_both_ways(repo: Path) -> None:
    # More than a pipe's buffer in and out at once: no deadlock, nothing lost.
    specs = "".join(f"HEAD:missing-{i:06d}\n" for i in range(20000)).encode()
    code, out, err = run(["cat-file", "--batch-check"], str(repo), input=specs)
    assert code == 0 and err == b""
    lines = out.decode().splitlines()
    assert len(lines) == 20000 and lines[-1] == "HEAD:missing-019999 missing"
    code, out, err = run(["rev-parse", "--verify", "no-such-rev"], str(repo))
    assert code != 0 and b"no-such-rev" in err or b"fatal" in err


def test_lite_repo_finds_linked_worktrees_without_git(repo: Path, tmp_path: Path) -> None:
    linked = tmp_path / "linked tree"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    here = LiteRepo(str(linked))
    assert here.root == str(linked)
    assert os.path.samefile(here.common_dir, repo / ".git")
    assert here.git_dir == git(linked, "rev-parse", "--absolute-git-dir").strip()
    sub = LiteRepo(str(repo / ".git" / ".."))  # not a hook's folder: asks git
    assert os.path.samefile(sub.root, repo)


def test_config_cache_follows_the_file(repo: Path) -> None:
    gitlog_dir = repo / ".git" / "gitlog"
    assert load_data(repo, gitlog_dir)["log_dir"] == ".gitlog"
    assert (gitlog_dir / CACHE_FILE).exists()
    (repo / ".gitlog.yaml").write_text("log_dir: logs\n")
    assert load_data(repo, gitlog_dir)["log_dir"] == "logs"
    (repo / ".gitlog.yaml").write_text("log_dir: logz\n")  # same size, same second
    assert load_data(repo, gitlog_dir)["log_dir"] == "logz"
    (gitlog_dir / CACHE_FILE).write_bytes(b"garbage")
    assert load_data(repo, gitlog_dir)["log_dir"] == "logz"


def test_bad_config_refuses_validating_hooks_and_never_blocks_recording_ones(
        repo: Path) -> None:
    (repo / ".gitlog.yaml").write_text("hooks:\n  max_file_mb: lots\n")
    refused = run_cli("hooks", "run", "pre-commit", cwd=repo)
    assert refused.returncode == 1
    assert "gitlog pre-commit: invalid config" in refused.stderr
    assert "hooks.max_file_mb must be a number" in refused.stderr
    recorded = run_cli("hooks", "run", "post-commit", cwd=repo)
    assert recorded.returncode == 0 and "invalid config" in recorded.stderr


def test_commit_msg_without_its_message_file_is_one_error(repo: Path, tmp_path: Path) -> None:
    """'hooks run commit-msg' with a file that is not there was an unexpected
    FileNotFoundError ('please report it')."""
    missing = tmp_path / "nosuch"
    proc = run_cli("hooks", "run", "commit-msg", str(missing), cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"gitlog commit-msg: cannot read the commit message file {missing}: No such file or "
        "directory",
        "hint: git passes the commit-msg hook its message file: git commit runs it",
        "(gitlog's commit-msg hook refused; 'git commit --no-verify' skips it once)"]


def test_pre_commit_framework_entries_run(repo: Path) -> None:
    from ruamel.yaml import YAML

    root = Path(__file__).resolve().parents[1]
    entries = YAML(typ="safe").load((root / ".pre-commit-hooks.yaml").read_text())
    assert [e["id"] for e in entries] == [
        "gitlog-pre-commit", "gitlog-commit-msg", "gitlog-post-commit", "gitlog-pre-push",
        "gitlog-post-checkout", "gitlog-post-merge"]
    for entry in entries:
        assert entry["entry"].startswith("gitlog hooks run ")
        assert entry["stages"] == [entry["entry"].split()[-1]]
    git(repo, "checkout", "-q", "-b", "exp/framework")
    (repo / "train.py").write_text("print('v2')\n")
    git(repo, "add", "train.py")
    refused = run_cli("hooks", "run", "pre-commit", cwd=repo)
    assert refused.returncode == 1 and "without a logged run" in refused.stderr
    pushed = run_cli("hooks", "run", "pre-push", cwd=repo, input="",
                     env={"PRE_COMMIT_TO_REF": git(repo, "rev-parse", "HEAD").strip(),
                          "PRE_COMMIT_FROM_REF": "0" * 40,
                          "PRE_COMMIT_REMOTE_NAME": "origin"})
    assert pushed.returncode == 0, pushed.stderr


def test_glob_match_is_fnmatchcase() -> None:
    import fnmatch
    import random

    rnd = random.Random(4)
    patterns = ["*", "*.py", "docs/*", "LICENSE*", "src/*/x?.py", "[abc]*", "[!a]*", "[]a]*",
                "*[", "a[b", "[a-c]z", "*.[ch]", "a*b*c", "", "x[!-]y", "[-a]q"]
    names = ["a.py", "src/m/x1.py", "docs/a.md", "LICENSE.txt", "]x", "*[", "a[b", "bz",
             "f.h", "aXbYc", "", "x-y", "-q", "é.py"]
    pairs = [(n, p) for p in patterns for n in names]
    for _ in range(5000):
        pairs.append(("".join(rnd.choice("ab[]!-/.") for _ in range(rnd.randint(0, 6))),
                      "".join(rnd.choice("ab*?[]!-/.") for _ in range(rnd.randint(0, 6)))))
    assert [n for n, p in pairs if glob_match(n, p) != fnmatch.fnmatchcase(n, p)] == []


@pytest.mark.parametrize("text", [
    b'{"a": 1, "b": {"c": 2.5e-3, "d": [1, null, true]}, "e": NaN, "f": -Infinity}',
    b' {"\\u00e9": "x"}\n', "{\"é\": 1}".encode(), b"[1]", b"{", b"", b'{"a": 1}x', b"{,}"])
def test_loads_json_is_json_loads(text: bytes) -> None:
    import json

    try:
        expected = repr(json.loads(text))
    except ValueError:
        with pytest.raises(ValueError):
            loads_json(text)
    else:
        assert repr(loads_json(text)) == expected


def test_hooks_run_with_c_is_a_usage_error_saying_it_takes_none(
        repo: Path, tmp_path: Path) -> None:
    """gitlog -C PATH hooks run pre-commit said "unknown hook '-C'" (exit 1): -C, put
    after the subcommand as for every other one, was read as the hook's name."""
    for line in (["-C", str(repo), "hooks", "run", "pre-commit"],
                 ["hooks", "run", "-C", str(repo), "pre-commit"],
                 ["hooks", "run", f"--repo={repo}", "pre-commit"]):
        proc = run_cli(*line, cwd=tmp_path)
        assert proc.returncode == 2, line
        assert proc.stderr.splitlines()[0] == (
            "Error: hooks run takes no -C: it acts on the repository it runs in, as git "
            "runs hooks; run it there: cd PATH && gitlog hooks run NAME"), proc.stderr


def test_the_hooks_import_no_general_purpose_module() -> None:
    """Every commit runs three or four hooks, each a new interpreter importing gitlog's
    hook entry point: a 'contextlib' imported by the signal handler set at 'import
    gitlog' cost each one ~4 ms (its collections and functools with it)."""
    code = ("import sys, gitlog._hook\nprint(sorted(m for m in ('contextlib', 'collections', "
            "'functools', 'typing', 'dataclasses', 're', 'subprocess', 'threading') "
            "if m in sys.modules))")
    root = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": root}, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "[]\n"), proc.stderr
