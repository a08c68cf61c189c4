"""The hooks' policy end to end: real ``git commit`` runs the installed shims."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gitlog
from gitlog.hooks import install
from gitlog.recorder import GitlogWarning
from tests.conftest import git
from tests.hookhelp import commit, hooked_repo, log_run, message_of, wait_post_commit


@pytest.fixture
def exp_repo(tmp_path: Path) -> Path:
    return hooked_repo(tmp_path / "project")


def test_code_commit_on_experiment_branch_needs_its_run(exp_repo: Path) -> None:
    (exp_repo / "train.py").write_text("print('v2')\n")
    refused = commit(exp_repo, "-a")
    assert refused.returncode == 1
    assert "code changed on experiment base (train.py) without a logged run" in refused.stderr
    assert "hint: log a run of the staged code: gitlog run --" in refused.stderr
    assert "git commit --no-verify" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert git(exp_repo, "rev-list", "--count", "HEAD").strip() == "1"

    run = log_run(exp_repo, loss=0.25, accuracy=0.9)
    git(exp_repo, "add", "-A")
    done = commit(exp_repo, message="feature scaling")
    assert done.returncode == 0, done.stderr
    message = message_of(exp_repo)
    assert message.startswith("feature scaling\n\nloss=0.25 accuracy=0.9\n\n")
    assert f"Gitlog-Run: {run.id}\nGitlog-Experiment: base\nGitlog-Status: completed" in message
    assert git(exp_repo, "show", "HEAD:train.py") == "print('v2')\n"


def test_stale_run_is_refused_with_what_changed(exp_repo: Path) -> None:
    (exp_repo / "train.py").write_text("print('v2')\n")
    log_run(exp_repo)
    (exp_repo / "train.py").write_text("print('v3, after the run')\n")
    (exp_repo / "helpers.py").write_text("x = 1\n")
    git(exp_repo, "add", "-A")
    refused = commit(exp_repo)
    assert refused.returncode == 1
    assert "code changed after the last logged run" in refused.stderr
    assert "changed since the run: train.py" in refused.stderr
    assert "not in the run's snapshot: helpers.py" in refused.stderr
    assert "git add new files before running" in refused.stderr
    # git's escape hatch still works.
    assert commit(exp_repo, "--no-verify").returncode == 0


def test_stale_run_from_a_subfolder_hints_the_command_where_it_ran(tmp_path: Path) -> None:
    """The hint gave the recorded command alone ('gitlog run -- python fit.py'), which
    fails at the root when the run was started in src/."""
    repo = hooked_repo(tmp_path / "project", files={
        "src/fit.py": "import gitlog\nwith gitlog.start() as run:\n"
                      "    run.log_metric('loss', 0.5)\n"})
    from tests.conftest import run_cli

    done = run_cli("run", "--", sys.executable, "fit.py", cwd=repo / "src")
    assert done.returncode == 0, done.stderr
    (repo / "src" / "fit.py").write_text("print('changed after the run')\n")
    git(repo, "add", "-A")
    refused = commit(repo)
    assert refused.returncode == 1
    assert "hint: log a run of the staged code: (cd src && gitlog run -- " \
           f"{sys.executable} fit.py); then git add .gitlog and commit again\n" in refused.stderr


def test_a_commit_from_a_subfolder_gets_commands_that_work_there(tmp_path: Path) -> None:
    """Hooks run at the top of the work tree: the hints said 'git add .gitlog' and
    '(cd src && gitlog run ...)', which fail in src/, where the user committed."""
    repo = hooked_repo(tmp_path / "project", files={
        "src/fit.py": "import gitlog\nwith gitlog.start() as run:\n"
                      "    run.log_metric('loss', 0.5)\n"})
    src = repo / "src"
    from tests.conftest import run_cli

    (src / "fit.py").write_text((src / "fit.py").read_text() + "# v2\n")
    git(src, "add", "fit.py")
    refused = commit(src)
    assert "hint: log a run of the staged code: gitlog run -- python train.py; then git " \
        "add ../.gitlog and commit again\n" in refused.stderr
    done = run_cli("run", "--", sys.executable, "fit.py", cwd=src)
    assert done.returncode == 0, done.stderr
    (src / "fit.py").write_text((src / "fit.py").read_text() + "# v3, after the run\n")
    git(src, "add", "-A")
    stale = commit(src)
    assert f"hint: log a run of the staged code: gitlog run -- {sys.executable} fit.py; " \
        "then git add ../.gitlog and commit again\n" in stale.stderr
    git(src, "reset", "-q")
    done = run_cli("run", "--", sys.executable, "fit.py", cwd=src)
    assert done.returncode == 0, done.stderr
    git(src, "add", "fit.py")
    unstaged = commit(src)
    assert "hint: git add ../.gitlog and commit again\n" in unstaged.stderr
    git(src, "add", "../.gitlog")  # the commands work where they are given
    (src / "fit.py").write_text((src / "fit.py").read_text() + "# v4\n")
    git(src, "add", "fit.py")
    done = run_cli("run", "--", sys.executable, "fit.py", cwd=src)
    assert done.returncode == 0, done.stderr
    git(src, "add", "../.gitlog")
    (src / "fit.py").write_text((src / "fit.py").read_text() + "# v5\n")
    git(src, "add", "fit.py")
    (src / "fit.py").write_text((src / "fit.py").read_text().replace("# v5\n", ""))
    left_out = commit(src)
    assert "hint: git add fit.py and commit again\n" in left_out.stderr
    git(src, "add", "fit.py")
    done = commit(src)
    assert done.returncode == 0, done.stderr
    (src / "big.bin").write_bytes(b"0" * 11_000_000)
    git(src, "add", "big.bin")
    big = commit(src)
    assert "hint: git rm --cached -q big.bin && dvc add big.bin && git add big.bin.dvc " \
        ".gitignore (from a run: run.log_artifact('src/big.bin'))" in big.stderr


def test_run_left_unstaged_gets_the_git_add_hint(exp_repo: Path) -> None:
    (exp_repo / "train.py").write_text("print('v2')\n")
    log_run(exp_repo)
    git(exp_repo, "add", "train.py")
    refused = commit(exp_repo)
    assert refused.returncode == 1
    assert "the run in .gitlog/ is not staged" in refused.stderr
    assert "hint: git add .gitlog and commit again" in refused.stderr


def test_run_staged_but_its_code_left_unstaged_gets_the_git_add_hint(exp_repo: Path) -> None:
    """'git add .gitlog' alone after a run: the hook said the code 'changed after the last
    logged run' and hinted a new run, which left train.py unstaged and was refused again."""
    (exp_repo / "train.py").write_text("print('v2')\n")
    run = log_run(exp_repo)
    git(exp_repo, "add", ".gitlog")
    refused = commit(exp_repo)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"gitlog pre-commit: the staged run ({run.id} of base) used code of your work tree "
        "that is not staged:\n"
        "  not staged: train.py\n"
        "hint: git add train.py and commit again\n"
        "(gitlog's pre-commit hook refused; 'git commit --no-verify' skips it once)\n")
    # With another file changed after the run, both fixes are needed.
    (exp_repo / "helpers.py").write_text("x = 1\n")
    git(exp_repo, "add", "helpers.py")
    both = commit(exp_repo)
    assert both.returncode == 1
    assert "  not in the run's snapshot: helpers.py\n  not staged: train.py\n" in both.stderr
    assert "hint: git add train.py; then log a run of the staged code: gitlog run -- " \
        in both.stderr
    git(exp_repo, "rm", "-q", "--cached", "helpers.py")
    git(exp_repo, "add", "train.py")
    done = commit(exp_repo)
    assert done.returncode == 0, done.stderr


def test_checks_read_the_index_git_commits(exp_repo: Path) -> None:
    # `git commit -a` and `git commit PATH` commit a temporary index (GIT_INDEX_FILE).
    (exp_repo / "train.py").write_text("print('v2')\n")
    log_run(exp_repo)
    git(exp_repo, "add", ".gitlog")
    assert commit(exp_repo, "-a").returncode == 0
    (exp_repo / "train.py").write_text("print('v3')\n")
    log_run(exp_repo)
    git(exp_repo, "add", ".gitlog")
    # The real index holds the matching run, but `git commit PATH` commits HEAD's run.
    only_code = commit(exp_repo, "--", "train.py")
    assert only_code.returncode == 1
    assert "code changed after the last logged run" in only_code.stderr
    assert "changed since the run: train.py" in only_code.stderr


def test_non_code_changes_and_other_branches_need_no_run(exp_repo: Path) -> None:
    (exp_repo / "README.md").write_text("# notes\n")
    git(exp_repo, "add", "README.md")
    assert commit(exp_repo).returncode == 0
    git(exp_repo, "checkout", "-q", "main")
    (exp_repo / "train.py").write_text("print('on main')\n")
    done = commit(exp_repo, "-a")
    assert done.returncode == 0, done.stderr
    assert "Gitlog-Run" not in message_of(exp_repo)


def test_invalid_and_missing_values_are_refused(tmp_path: Path) -> None:
    config = "hooks:\n  required_params: [lr, batch]\n  required_metrics: [loss, f1]\n"
    repo = hooked_repo(tmp_path / "p", config=config)
    (repo / "train.py").write_text("print('v2')\n")
    with pytest.warns(GitlogWarning, match="nan"):
        log_run(repo, loss=float("nan"))
    git(repo, "add", "-A")
    refused = commit(repo)
    assert refused.returncode == 1
    assert "metrics.json holds values that are not finite numbers: loss=nan" in refused.stderr
    assert "lacks required metrics: f1" in refused.stderr
    assert "lacks required params: batch" in refused.stderr
    assert "required_params in .gitlog.yaml" in refused.stderr
    (repo / ".gitlog" / "params.yaml").write_text("lr: [unclosed\n")
    git(repo, "add", "-A")
    broken = commit(repo)
    assert broken.returncode == 1
    assert ".gitlog/params.yaml does not parse" in broken.stderr


def test_non_finite_params_are_refused(exp_repo: Path) -> None:
    (exp_repo / "train.py").write_text("print('v2')\n")
    with gitlog.start(repo=exp_repo, params={"opt": {"lr": float("inf")}, "seed": 1}) as run:
        run.log_metric("loss", 0.5)
    git(exp_repo, "add", "-A")
    refused = commit(exp_repo)
    assert refused.returncode == 1
    assert ".gitlog/params.yaml holds values that are not finite numbers: opt/lr" \
        in refused.stderr


def test_large_staged_file_is_refused_with_the_dvc_command(tmp_path: Path) -> None:
    repo = hooked_repo(tmp_path / "p", experiment=None, config="hooks:\n  max_file_mb: 0.01\n")
    data = repo / "data dir" / "big file.csv"
    data.parent.mkdir()
    data.write_bytes(b"1,2,3\n" * 5000)
    git(repo, "add", "-A")
    refused = commit(repo)
    assert refused.returncode == 1
    assert "data dir/big file.csv is 0.03 MB, over hooks.max_file_mb (0.01 MB)" in refused.stderr
    assert "dvc add 'data dir/big file.csv'" in refused.stderr
    assert "git add 'data dir/big file.csv.dvc' 'data dir/.gitignore'" in refused.stderr


def test_commit_msg_never_twice_never_on_fixups(exp_repo: Path) -> None:
    (exp_repo / "train.py").write_text("print('v2')\n")
    first = log_run(exp_repo, loss=0.5)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo, message="first run").returncode == 0
    # A second run: the summary shows the change from the previous run.
    (exp_repo / "train.py").write_text("print('v3')\n")
    second = log_run(exp_repo, loss=0.375)
    git(exp_repo, "add", "-A")
    written = f"second\n\nGitlog-Run: {second.id}\n"
    assert commit(exp_repo, message=written).returncode == 0
    assert message_of(exp_repo).count("Gitlog-Run:") == 1  # already there: left alone
    assert first.id not in message_of(exp_repo)
    # Amending keeps one copy; a fixup gets none.
    assert commit(exp_repo, "--amend", "--no-edit", message=None).returncode == 0
    assert message_of(exp_repo).count("Gitlog-Run:") == 1
    (exp_repo / "train.py").write_text("print('v4')\n")
    log_run(exp_repo, loss=0.25)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo, message="fixup! second").returncode == 0
    assert "Gitlog" not in message_of(exp_repo)


def test_amending_a_run_commit_with_a_new_run_replaces_its_summary_and_trailers(
        exp_repo: Path) -> None:
    (exp_repo / "train.py").write_text("print('v2')\n")
    log_run(exp_repo, loss=0.5)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo, message="first").returncode == 0
    (exp_repo / "train.py").write_text("print('v3')\n")
    replaced = log_run(exp_repo, loss=0.375)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo, message="lower lr\n\nSigned-off-by: Ada <a@e>").returncode == 0
    assert f"Gitlog-Run: {replaced.id}\n" in message_of(exp_repo)
    # The run is redone and the commit amended: its message now names the new run only,
    # the change still from the run before the amended commit.
    run = log_run(exp_repo, loss=0.25)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo, "--amend", "--no-edit", message=None).returncode == 0
    assert message_of(exp_repo) == (
        "lower lr\n\nloss=0.25 (-0.25)\n\nSigned-off-by: Ada <a@e>\n"
        f"Gitlog-Run: {run.id}\nGitlog-Experiment: base\nGitlog-Status: completed\n")
    shown = gitlog.show(run.id, exp_repo)
    assert shown.record.run["id"] == run.id
    assert git(exp_repo, "log", "--all", f"--grep={replaced.id}", "--format=%H") == ""


def test_amending_a_run_commit_with_a_new_message_keeps_its_run(exp_repo: Path) -> None:
    (exp_repo / "train.py").write_text("print('v2')\n")
    log_run(exp_repo, loss=0.5)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo, message="first").returncode == 0
    (exp_repo / "train.py").write_text("print('v3')\n")
    run = log_run(exp_repo, loss=0.375)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo, message="second").returncode == 0
    # A new subject for the run commit: the run keeps its id, the change still from the
    # run before the amended commit.
    assert commit(exp_repo, "--amend", "-m", "lower lr", message=None).returncode == 0
    assert message_of(exp_repo) == (
        "lower lr\n\nloss=0.375 (-0.125)\n\n"
        f"Gitlog-Run: {run.id}\nGitlog-Experiment: base\nGitlog-Status: completed\n")
    assert gitlog.show(run.id, exp_repo).commit == git(exp_repo, "rev-parse", "HEAD").strip()
    # A commit on top that records no run gets no trailers, amended or not.
    (exp_repo / "README.md").write_text("notes\n")
    git(exp_repo, "add", "README.md")
    assert commit(exp_repo, message="notes").returncode == 0
    assert commit(exp_repo, "--amend", "-m", "more notes", message=None).returncode == 0
    assert message_of(exp_repo) == "more notes\n"


def test_amend_flag_reads_git_commit_arguments() -> None:
    from gitlog.gitcaller import amend_flag

    assert amend_flag(["commit", "-q", "--amend", "-m", "x"])
    assert amend_flag(["-c", "user.name=A", "ci", "--ame"])
    assert not amend_flag(["commit", "-m", "--amend"])
    assert not amend_flag(["commit", "--amend", "--no-amend"])
    assert not amend_flag(["commit", "--", "--amend"])
    assert not amend_flag(["commit", "-a"])


def test_summary_shows_change_from_previous_run_and_keeps_trailer_block(exp_repo: Path) -> None:
    (exp_repo / "train.py").write_text("print('v2')\n")
    log_run(exp_repo, loss=0.5, accuracy=0.8)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo, message="one").returncode == 0
    (exp_repo / "train.py").write_text("print('v3')\n")
    run = log_run(exp_repo, loss=0.375, accuracy=0.875)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo, message="two\n\nbody text\n\nSigned-off-by: Ada <a@e>").returncode == 0
    assert message_of(exp_repo) == (
        "two\n\nbody text\n\nloss=0.375 (-0.125) accuracy=0.875 (+0.075)\n\n"
        f"Signed-off-by: Ada <a@e>\nGitlog-Run: {run.id}\nGitlog-Experiment: base\n"
        "Gitlog-Status: completed\n")


def test_message_from_an_editor_keeps_its_comments_out(exp_repo: Path, tmp_path: Path) -> None:
    (exp_repo / "train.py").write_text("print('v2')\n")
    run = log_run(exp_repo)
    git(exp_repo, "add", "-A")
    msg = tmp_path / "msg.txt"
    msg.write_text("edited subject\n")
    done = commit(exp_repo, "-e", "-F", str(msg), "-v", env={"GIT_EDITOR": "true"},
                  message=None)
    assert done.returncode == 0, done.stderr
    text = message_of(exp_repo)
    assert text.startswith("edited subject\n\nloss=0.5\n\nGitlog-Run: ")
    assert run.id in text and "#" not in text and "diff --git" not in text


def test_trailers_can_be_turned_off(tmp_path: Path) -> None:
    repo = hooked_repo(tmp_path / "p", config="hooks:\n  trailers: false\n")
    (repo / "train.py").write_text("print('v2')\n")
    log_run(repo)
    git(repo, "add", "-A")
    assert commit(repo, message="plain").returncode == 0
    assert message_of(repo) == "plain\n"


def test_post_commit_calls_the_post_commit_steps(exp_repo: Path, tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    record = tmp_path / "calls.txt"
    (probe / "probe_step.py").write_text(
        "from pathlib import Path\n"
        f"OUT = Path({str(record)!r})\n"
        "def record(repo, config, commit):\n"
        "    with OUT.open('a') as fh:\n"
        "        fh.write(f'{commit} {config.log_dir}\\n')\n"
        "def broken(repo, config, commit):\n"
        "    raise RuntimeError('index is locked')\n")
    (probe / "sitecustomize.py").write_text(
        "import gitlog.postcommit as p\n"
        "p.STEPS += ['probe_step:record', 'probe_step:broken']\n")
    env = {"PYTHONPATH": str(probe)}
    # The shims start Python with -S (no site, so no sitecustomize): a Python that
    # ignores -S lets the probe register its steps at start-up.
    python = probe / "python-with-site"
    python.write_text(f"#!/bin/sh\n[ \"$1\" = -S ] && shift\nexec '{sys.executable}' \"$@\"\n")
    python.chmod(0o755)
    install(exp_repo, python=str(python))
    (exp_repo / "README.md").write_text("no run here\n")
    git(exp_repo, "add", "README.md")
    assert commit(exp_repo, env=env).returncode == 0
    assert not record.exists()  # no new run, nothing to do
    (exp_repo / "train.py").write_text("print('v2')\n")
    log_run(exp_repo)
    git(exp_repo, "add", "-A")
    done = commit(exp_repo, env=env)
    assert done.returncode == 0  # a failing step never blocks git
    wait_post_commit(exp_repo)  # the steps run detached, as git gc --auto does
    head = git(exp_repo, "rev-parse", "HEAD").strip()
    assert record.read_text() == f"{head} .gitlog\n"
    # What failed is shown by the next post-commit hook, once.
    (exp_repo / "README.md").write_text("more notes\n")
    later = commit(exp_repo, "-a", env=env)
    assert f"gitlog post-commit: after commit {head[:12]}: post-commit step " \
        "probe_step:broken failed: index is locked" in later.stderr
    assert "index is locked" not in commit(exp_repo, "--allow-empty", env=env).stderr


def test_merges_rebases_and_amends_go_through(exp_repo: Path) -> None:
    for version in ("v2", "v3"):
        (exp_repo / "train.py").write_text(f"print('{version}')\n")
        log_run(exp_repo)
        git(exp_repo, "add", "-A")
        assert commit(exp_repo, message=version).returncode == 0
    git(exp_repo, "checkout", "-q", "main")
    (exp_repo / "data.txt").write_text("from main\n")
    git(exp_repo, "add", "data.txt")
    assert commit(exp_repo, message="main moves").returncode == 0
    git(exp_repo, "checkout", "-q", "exp/base")
    rebase = git(exp_repo, "rebase", "-q", "main", check=False)
    assert git(exp_repo, "status", "--porcelain").strip() == "", rebase
    log = git(exp_repo, "log", "--format=%s%x00%B%x01", "main..HEAD")
    entries = [e for e in log.split("\x01") if e.strip()]
    assert [e.split("\0")[0].strip() for e in entries] == ["v3", "v2"]
    assert all(e.count("Gitlog-Run:") == 1 for e in entries)
    assert commit(exp_repo, "--amend", "-m", "v3 renamed", message=None).returncode == 0
    # A merge of main into the experiment needs no new run; its message gets no trailers.
    git(exp_repo, "checkout", "-q", "main")
    (exp_repo / "other.txt").write_text("more\n")
    git(exp_repo, "add", "other.txt")
    assert commit(exp_repo, message="main again").returncode == 0
    git(exp_repo, "checkout", "-q", "exp/base")
    merged = git(exp_repo, "merge", "-q", "--no-ff", "-m", "merge main", "main", check=False)
    assert "merge main" in message_of(exp_repo), merged
    assert "Gitlog-Run" not in message_of(exp_repo)


def test_conflicted_merge_concluded_by_git_commit(exp_repo: Path) -> None:
    (exp_repo / "train.py").write_text("print('exp')\n")
    log_run(exp_repo)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo).returncode == 0
    git(exp_repo, "checkout", "-q", "main")
    (exp_repo / "train.py").write_text("print('main')\n")
    assert commit(exp_repo, "-a").returncode == 0
    git(exp_repo, "checkout", "-q", "exp/base")
    git(exp_repo, "merge", "main", check=False)
    (exp_repo / "train.py").write_text("print('both')\n")
    git(exp_repo, "add", "train.py")
    done = commit(exp_repo, "--no-edit", message=None)
    assert done.returncode == 0, done.stderr
    assert len(git(exp_repo, "log", "-1", "--format=%P").split()) == 2
    assert "Gitlog-Run" not in message_of(exp_repo)


def test_cherry_pick_and_revert_concluded_after_a_conflict_go_through(
        exp_repo: Path) -> None:
    """git runs no pre-commit hook for a cherry-pick or revert that applies cleanly, and
    a rebase runs on a detached HEAD: only the ones stopped by a conflict were held to
    the run rule, and refused once resolved. Like merges, replayed commits now pass."""
    editor = {"GIT_EDITOR": "true"}
    (exp_repo / "train.py").write_text("print('exp')\n")
    log_run(exp_repo)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo, message="exp run").returncode == 0
    git(exp_repo, "checkout", "-q", "main")
    (exp_repo / "train.py").write_text("print('main fix')\n")
    assert commit(exp_repo, "-a", message="fix on main").returncode == 0
    git(exp_repo, "checkout", "-q", "exp/base")
    git(exp_repo, "cherry-pick", "main", check=False)  # conflicts in train.py
    (exp_repo / "train.py").write_text("print('exp with the fix')\n")
    git(exp_repo, "add", "train.py")
    picked = subprocess.run(["git", "cherry-pick", "--continue"], cwd=exp_repo,
                            capture_output=True, text=True, env={**os.environ, **editor})
    assert picked.returncode == 0, picked.stderr
    assert git(exp_repo, "log", "-1", "--format=%s").strip() == "fix on main"
    git(exp_repo, "revert", "--no-edit", "HEAD~1", check=False)  # conflicts in train.py
    (exp_repo / "train.py").write_text("print('main fix')\n")
    git(exp_repo, "add", "-A")
    reverted = subprocess.run(["git", "revert", "--continue"], cwd=exp_repo,
                              capture_output=True, text=True, env={**os.environ, **editor})
    assert reverted.returncode == 0, reverted.stderr
    assert git(exp_repo, "log", "-1", "--format=%s").strip() == 'Revert "exp run"'


def test_metrics_json_written_by_run_is_what_the_summary_reads(exp_repo: Path) -> None:
    (exp_repo / "train.py").write_text("print('v2')\n")
    log_run(exp_repo, **{"train/loss": 0.125, "accuracy": 0.5})
    git(exp_repo, "add", "-A")
    assert commit(exp_repo).returncode == 0
    metrics = json.loads(git(exp_repo, "show", "HEAD:.gitlog/metrics.json"))
    assert metrics["train"]["loss"] == 0.125
    # "loss" is not logged: the summary falls back to the configured key that exists.
    assert "\naccuracy=0.5\n" in message_of(exp_repo)


def test_post_commit_hook_checks_alert_rules_on_the_new_run(exp_repo: Path) -> None:
    (exp_repo / "train.py").write_text("print('v2')\n")
    log_run(exp_repo, loss=0.25)
    git(exp_repo, "add", "-A")
    assert commit(exp_repo, message="good").returncode == 0
    (exp_repo / "train.py").write_text("print('v3')\n")
    log_run(exp_repo, loss=0.75)
    git(exp_repo, "add", "-A")
    # The rule arrives after the run finished: only the post-commit hook can fire it.
    (exp_repo / ".gitlog.yaml").write_text(
        "alerts:\n"
        "  notifiers:\n"
        "    out: {type: file, path: alerts-out.jsonl}\n"
        "  rules:\n"
        "    - {name: loss-rise, metric: loss, when: rise, by: 0.1, notify: [out]}\n")
    done = commit(exp_repo, message="worse")
    assert done.returncode == 0, done.stderr
    wait_post_commit(exp_repo)
    sent = [json.loads(line) for line in
            (exp_repo / "alerts-out.jsonl").read_text().splitlines()]
    assert [(a["rule"], a["commit"]) for a in sent] == \
        [("loss-rise", git(exp_repo, "rev-parse", "HEAD").strip())]


def test_hooks_work_in_a_linked_worktree(exp_repo: Path, tmp_path: Path) -> None:
    tree = tmp_path / "second tree"
    git(exp_repo, "worktree", "add", "-q", "-b", "exp/side", str(tree), "main")
    (tree / "train.py").write_text("print('side')\n")
    refused = commit(tree, "-a")
    assert refused.returncode == 1 and "without a logged run" in refused.stderr
    run = log_run(tree, loss=0.125)
    git(tree, "add", "-A")
    done = commit(tree, message="side run")
    assert done.returncode == 0, done.stderr
    assert f"Gitlog-Run: {run.id}\nGitlog-Experiment: side" in message_of(tree)
