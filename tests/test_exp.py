"""``gitlog exp new / list / rm / promote``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gitlog.errors import GitlogError
from gitlog.experiments import new
from gitlog.promote import promote
from tests.conftest import git, run_cli, run_python, state_of
from tests.hookhelp import commit, hooked_repo, log_run, message_of, wait_post_commit


def test_new_creates_the_branch_without_moving_head(repo: Path) -> None:
    before = state_of(repo)
    done = run_cli("exp", "new", "lr-sweep", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "created exp/lr-sweep at" in done.stderr
    assert git(repo, "rev-parse", "exp/lr-sweep") == git(repo, "rev-parse", "main")
    assert state_of(repo) == before
    again = run_cli("exp", "new", "exp/lr-sweep", cwd=repo)
    assert again.returncode == 1
    assert "Error: experiment lr-sweep already exists (branch exp/lr-sweep)" in again.stderr
    assert "hint: switch to it with 'git checkout exp/lr-sweep'" in again.stderr
    bad = run_cli("exp", "new", "two words", cwd=repo)
    assert bad.returncode == 1 and "invalid experiment name 'two words'" in bad.stderr


def test_a_new_experiment_needs_a_name_that_reaches_it(repo: Path) -> None:
    git(repo, "tag", "v1")
    before = state_of(repo)
    cases = {"HEAD": "git reads it as its own ref", "@": "git reads it as its own ref",
             "ORIG_HEAD": "git reads it as its own ref", "-x": "it would read as an option",
             "main": "git reads it as another revision", "v1": "git reads it as another revision"}
    for name, problem in cases.items():
        done = run_cli("exp", "new", "--", name, cwd=repo)
        assert done.returncode == 1 and done.stdout == ""
        assert f"Error: invalid experiment name '{name}': {problem}" in done.stderr
        assert "hint: pick another name, e.g. '" in done.stderr
        started = run_python("import gitlog, sys\n"
                             f"gitlog.start({name!r}, message='try')", cwd=repo)
        assert started.returncode == 1 and f"invalid experiment name '{name}'" in started.stderr
    assert state_of(repo) == before  # no branch made, nothing touched
    # an experiment that has such a name already keeps it: it can still be removed
    git(repo, "branch", "exp/HEAD")
    done = run_cli("exp", "rm", "exp/HEAD", "--yes", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert not git(repo, "branch", "--list", "exp/HEAD").strip()


def test_a_new_experiment_cannot_sit_inside_another_branch(repo: Path) -> None:
    # git keeps refs as paths: with exp/a there can be no exp/a/b, with exp/ref/x no
    # exp/ref. Such a run used to train to the end, then spin 200 times on update-ref
    # ("attempts lost to other writers") and leave its journal behind.
    git(repo, "branch", "exp/a")
    git(repo, "branch", "exp/ref/x")
    before = state_of(repo)
    for name, clash, example in [("a/b", "exp/a", "a-b"), ("a/b/c", "exp/a", "a-b-c"),
                                 ("ref", "exp/ref/x", "ref-exp")]:
        done = run_cli("exp", "new", name, cwd=repo)
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == (f"Error: invalid experiment name '{name}': branch {clash} "
                               "exists, and git cannot keep a branch inside another\n"
                               f"hint: pick another name, e.g. '{example}'\n")
        started = run_python("import gitlog\n"
                             f"gitlog.start({name!r}, message='try')\n"
                             "print('training')", cwd=repo)
        assert started.returncode == 1 and "training" not in started.stdout
        assert f"invalid experiment name '{name}': branch {clash} exists" in started.stderr
        assert not (repo / ".git" / "gitlog" / "runs").exists() or \
            not list((repo / ".git" / "gitlog" / "runs").iterdir())
    assert state_of(repo) == before
    assert run_cli("exp", "new", "a-b", cwd=repo).returncode == 0  # a name beside them is fine


def test_a_run_whose_branch_got_blocked_meanwhile_says_why_at_once(repo: Path) -> None:
    import time

    import gitlog

    run = gitlog.start("c/d", repo=repo)
    run.log_metric("loss", 0.5)
    git(repo, "branch", "exp/c")  # made while the run trained
    began = time.monotonic()
    with pytest.warns(gitlog.GitlogWarning) as caught:
        assert run.finish() is None
    assert time.monotonic() - began < 5  # no 200 rounds of update-ref
    text = str(caught[0].message)
    assert "could not create exp/c/d: branch exp/c exists, and git cannot keep a branch " \
        "inside another" in text and "gitlog recover" in text
    git(repo, "branch", "-m", "exp/c", "exp/c-old")
    done = run_cli("recover", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert git(repo, "log", "-1", "--format=%(trailers:key=Gitlog-Experiment,valueonly)",
               "exp/c/d").strip() == "c/d"


def test_a_branch_made_by_another_process_meanwhile_is_no_remote(repo: Path) -> None:
    """Parallel first runs of one experiment: another process makes the branch between
    the check that it is missing and the look for it on remotes (as in test_parallel)."""
    from gitlog.branches import check_new_experiment
    from gitlog.config import load
    from gitlog.git import Repo

    class Racing(Repo):
        def ref_tip(self, ref: str) -> str | None:
            tip = super().ref_tip(ref)
            if tip is None and ref == "refs/heads/exp/shared":
                git(self.root, "branch", "exp/shared")  # the other process wins the race
            return tip

    check_new_experiment(Racing(repo), load(repo), "shared")  # before: "experiment shared
    # has its runs on a remote only (p/shared)", in a repository with no remote


def test_new_from_a_revision_and_checkout(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "train.py").write_text("print('v2')\n")
    git(repo, "commit", "-qam", "v2")
    done = run_cli("exp", "new", "old-code", "--from", first, "--checkout", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/exp/old-code"
    assert git(repo, "rev-parse", "HEAD").strip() == first
    # --from also takes an experiment name.
    new(repo, "fork", "old-code")
    assert git(repo, "rev-parse", "exp/fork").strip() == first
    missing = run_cli("exp", "new", "x", "--from", "no-such-thing", cwd=repo)
    assert missing.returncode == 1
    assert "no commit, experiment or run id matches: no-such-thing" in missing.stderr


def test_checkout_refused_by_git_keeps_the_work(repo: Path) -> None:
    new(repo, "other")
    git(repo, "checkout", "-q", "exp/other")
    (repo / "train.py").write_text("print('on other')\n")
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "train.py").write_text("print('uncommitted')\n")
    with pytest.raises(GitlogError, match="git could not check it out") as info:
        new(repo, "from-other", "other", checkout=True)
    assert "commit or stash" in (info.value.hint or "")
    assert (repo / "train.py").read_text() == "print('uncommitted')\n"


def test_list_shows_current_and_promoted(tmp_path: Path) -> None:
    repo = hooked_repo(tmp_path / "p", experiment="a")
    (repo / "train.py").write_text("print('a')\n")
    log_run(repo, loss=0.5, accuracy=0.75)
    git(repo, "add", "-A")
    assert commit(repo).returncode == 0
    new(repo, "b", "main")
    rows = json.loads(run_cli("exp", "list", "--format", "json", cwd=repo).stdout)
    assert [(r["name"], r["current"], r["promoted"], r["runs"]) for r in rows] == \
        [("a", True, False, 1), ("b", False, False, 0)]  # b: no run, nothing promoted
    assert rows[0]["loss"] == 0.5 and rows[0]["accuracy"] == 0.75


def test_list_refuses_a_key_metric_named_as_its_columns_as_ls_does(tmp_path: Path) -> None:
    """exp list wrote a key metric 'status' over the run's status (two 'status' columns,
    both the metric's value), where ls refuses it: refused the same, with the alias."""
    from tests.runrepo import Builder

    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    b.run("a", {"loss": 0.5, "status": 3, "promoted": 1}, parents=[c1])
    repo = tmp_path / "p"
    b.write(repo)
    for key in ("status", "promoted"):
        (repo / ".gitlog.yaml").write_text(f"metrics:\n  key: [loss, {key}]\n")
        for fmt in ("table", "json", "csv"):
            proc = run_cli("exp", "list", "--format", fmt, cwd=repo)
            assert (proc.returncode, proc.stdout, proc.stderr) == (
                1, "", f"Error: the metric {key} has the name of another column of the "
                       f"output\nhint: show it under another name: metrics.aliases in "
                       f".gitlog.yaml ({{my_{key}: [{key}]}}), then put my_{key} in "
                       f"metrics.key\n"), (key, fmt)
    (repo / ".gitlog.yaml").write_text("metrics:\n  key: [loss, run_status]\n"
                                       "  aliases: {run_status: [status]}\n")
    [row] = json.loads(run_cli("exp", "list", "--format", "json", cwd=repo).stdout)
    assert (row["status"], row["run_status"], row["loss"]) == ("completed", 3, 0.5)


def test_rm_asks_for_yes_and_tells_how_to_restore(repo: Path) -> None:
    new(repo, "old")
    tip = git(repo, "rev-parse", "exp/old").strip()
    refused = run_cli("exp", "rm", "old", cwd=repo, input="")
    assert refused.returncode == 1
    assert "hint: pass --yes: gitlog exp rm old --yes" in refused.stderr
    assert git(repo, "rev-parse", "exp/old").strip() == tip
    done = run_cli("exp", "rm", "old", "--yes", cwd=repo)
    assert done.returncode == 0
    assert f"restore with: git branch exp/old {tip}" in done.stderr
    assert git(repo, "branch", "--list", "exp/old").strip() == ""
    git(repo, "checkout", "-q", "-b", "exp/here")
    current = run_cli("exp", "rm", "here", "--yes", cwd=repo)
    assert current.returncode == 1 and "is checked out here" in current.stderr
    assert "hint: switch away first, e.g. git checkout main" in current.stderr
    (repo / ".gitlog.yaml").write_text("main_branch: trunk\n")  # the one configured
    git(repo, "branch", "trunk", "main")
    current = run_cli("exp", "rm", "here", "--yes", cwd=repo)
    assert "hint: switch away first, e.g. git checkout trunk" in current.stderr


def test_rm_refuses_the_checked_out_experiment_before_asking(tmp_path: Path) -> None:
    """It asked 'Delete exp/solo?' (without a terminal: 'pass --yes') and only then said
    the branch is checked out; and the hint 'git checkout main' fails while main has no
    commit (a new repository whose only branch is the experiment)."""
    repo = tmp_path / "p"
    git(tmp_path, "-c", "init.defaultBranch=main", "init", "-q", str(repo))
    git(repo, "checkout", "-q", "-b", "exp/solo")
    (repo / "train.py").write_text("print(1)\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-qm", "code")
    for args in ([], ["--yes"]):
        refused = run_cli("exp", "rm", "solo", *args, cwd=repo, input="")
        assert (refused.returncode, refused.stderr) == (1, (
            "Error: experiment solo is checked out here (exp/solo)\n"
            "hint: switch away first, e.g. git checkout --detach\n"))
    git(repo, "checkout", "-q", "--detach")  # the hint works: then it is deleted
    assert run_cli("exp", "rm", "solo", "--yes", cwd=repo).returncode == 0


def test_rm_of_an_experiment_checked_out_in_another_worktree_says_how(repo: Path,
                                                                      tmp_path: Path) -> None:
    new(repo, "elsewhere")
    tip = git(repo, "rev-parse", "exp/elsewhere").strip()
    other = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(other), "exp/elsewhere")
    refused = run_cli("exp", "rm", "elsewhere", "--yes", cwd=repo)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"Error: experiment elsewhere is checked out in another worktree ({other})\n"
        f"hint: remove that worktree (git worktree remove {other}) or detach it "
        f"(git -C {other} checkout --detach), then delete again\n")
    assert git(repo, "rev-parse", "exp/elsewhere").strip() == tip
    git(other, "checkout", "-q", "--detach")
    assert run_cli("exp", "rm", "elsewhere", "--yes", cwd=repo).returncode == 0


@pytest.fixture
def winner(tmp_path: Path) -> Path:
    """exp/win with two committed runs; HEAD on exp/win."""
    repo = hooked_repo(tmp_path / "p", experiment="win")
    for version, loss in (("v2", 0.5), ("v3", 0.25)):
        (repo / "train.py").write_text(f"print('{version}')\n")
        log_run(repo, loss=loss, accuracy=1 - loss)
        git(repo, "add", "-A")
        done = commit(repo, message=version)
        assert done.returncode == 0, done.stderr
        wait_post_commit(repo)  # its detached steps must not overlap the next run
    return repo


def test_promote_merges_code_and_logs_with_a_summary(winner: Path) -> None:
    before = state_of(winner)
    main_before = git(winner, "rev-parse", "main").strip()
    tip = git(winner, "rev-parse", "exp/win").strip()
    done = run_cli("exp", "promote", "win", "--into", "main", cwd=winner)
    assert done.returncode == 0, done.stderr
    assert "promoted exp/win into main as" in done.stderr
    assert git(winner, "log", "-1", "--format=%P", "main").split() == [main_before, tip]
    message = message_of(winner, "main")
    assert message.startswith("Promote experiment win into main\n\nloss=0.25 accuracy=0.75\n")
    assert "Gitlog-Experiment: win\n" in message and f"Gitlog-Promoted: exp/win {tip}" in message
    assert git(winner, "show", "main:train.py") == "print('v3')\n"
    assert json.loads(git(winner, "show", "main:.gitlog/metrics.json"))["loss"] == 0.25
    listed = json.loads(run_cli("exp", "list", "--format", "json", cwd=winner).stdout)
    assert [(r["name"], r["promoted"]) for r in listed] == [("win", True)]
    after = state_of(winner)
    assert after.pop("refs") != before.pop("refs")  # main moved ...
    assert after == before  # ... and nothing else: HEAD is on exp/win
    again = run_cli("exp", "promote", "win", cwd=winner)
    assert again.returncode == 1 and "exp/win is already in main" in again.stderr


def test_promote_into_checked_out_branch_keeps_uncommitted_work(winner: Path) -> None:
    git(winner, "checkout", "-q", "main")
    (winner / "notes.txt").write_text("untracked notes\n")
    (winner / "README.md").write_text("# local edit\n")
    merged = promote(winner, "win")
    assert git(winner, "rev-parse", "HEAD").strip() == merged.commit
    assert (winner / "notes.txt").read_text() == "untracked notes\n"
    assert (winner / "README.md").read_text() == "# local edit\n"
    assert (winner / "train.py").read_text() == "print('v3')\n"
    assert (winner / ".gitlog" / "run.yaml").exists()


def test_promote_stops_when_local_changes_are_in_the_way(winner: Path) -> None:
    git(winner, "checkout", "-q", "main")
    (winner / "train.py").write_text("print('my local experiment')\n")
    before = state_of(winner)
    with pytest.raises(GitlogError, match="local changes to train.py are in the way"):
        promote(winner, "win")
    assert state_of(winner) == before


def test_promote_conflict_changes_nothing(winner: Path) -> None:
    git(winner, "checkout", "-q", "main")
    (winner / "train.py").write_text("print('main went elsewhere')\n")
    assert commit(winner, "-a").returncode == 0
    git(winner, "checkout", "-q", "exp/win")
    before = state_of(winner)
    main_before = git(winner, "rev-parse", "main")
    with pytest.raises(GitlogError, match="exp/win and main conflict in: train.py") as info:
        promote(winner, "win")
    assert "git merge exp/win" in (info.value.hint or "")
    assert git(winner, "rev-parse", "main") == main_before
    assert state_of(winner) == before


def test_promote_into_a_main_branch_with_no_commits_says_how_to_start_it(
        tmp_path: Path) -> None:
    """A new repository: runs on exp/a, main unborn (HEAD on it). The error was 'no branch
    main to promote into', hint 'name an existing branch with --into'."""
    from tests.runrepo import Builder

    b = Builder()
    code = b.commit("exp/a", {"train.py": "print(1)\n"}, message="code")
    b.run("a", {"loss": 0.5}, parents=[code], run_id="a1")
    repo = tmp_path / "p"
    b.write(repo)
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    done = run_cli("exp", "promote", "a", cwd=repo)
    assert (done.returncode, done.stderr) == (1, (
        "Error: main has no commits yet: there is nothing to merge exp/a into\n"
        "hint: start main from the experiment, its runs included: git merge --ff-only "
        "exp/a\n"))
    git(repo, "merge", "-q", "--ff-only", "exp/a")  # the hint works
    assert git(repo, "rev-parse", "main") == git(repo, "rev-parse", "exp/a")
    git(repo, "checkout", "-q", "exp/a")
    git(repo, "branch", "-D", "main")  # no main at all, HEAD elsewhere
    done = run_cli("exp", "promote", "a", cwd=repo)
    assert (done.returncode, done.stderr) == (1, (
        "Error: no branch main to promote into (main_branch in .gitlog.yaml)\n"
        "hint: start it from the experiment: git branch main exp/a; or name an existing "
        "branch with --into\n"))


def test_promote_needs_a_run(repo: Path) -> None:
    new(repo, "empty")
    git(repo, "checkout", "-q", "exp/empty")
    (repo / "x.txt").write_text("x\n")
    git(repo, "add", "x.txt")
    git(repo, "commit", "-qm", "no run")
    with pytest.raises(GitlogError, match="exp/empty has no run at its tip"):
        promote(repo, "empty")


def test_promote_refuses_an_experiment_whose_only_run_the_target_has(winner: Path) -> None:
    """An experiment started from main after a promotion, with code committed and no run
    of its own, was promoted with the promoted run's summary and trailers, labelled as
    its own (Gitlog-Experiment: tweak, loss=0.25 (+0))."""
    promote(winner, "win")
    run_id = json.loads(run_cli("show", "main", "--format", "json",
                                cwd=winner).stdout)["run"]["run"]
    new(winner, "tweak", "main", checkout=True)
    (winner / "train.py").write_text("print('untried')\n")
    assert commit(winner, "-a", "--no-verify", message="untried idea").returncode == 0
    main_before = git(winner, "rev-parse", "main")
    done = run_cli("exp", "promote", "tweak", cwd=winner)
    assert done.returncode == 1
    assert done.stderr == (
        f"Error: exp/tweak has no run of its own to promote: the run its tip carries "
        f"({run_id}) is already in main\n"
        "hint: log a run of its code first: gitlog run -e tweak -- python train.py\n")
    assert git(winner, "rev-parse", "main") == main_before


def test_new_from_a_run_id_starts_at_the_commit_that_logged_the_run(winner: Path) -> None:
    """--from took a commit or an experiment, not a run id (every other command that takes
    a run does): 'no commit or experiment matches'. A promotion's merge repeats the run's
    Gitlog-Run trailer; the id names the run's own commit, not that merge."""
    v2 = git(winner, "rev-parse", "exp/win~1").strip()
    v2_id = git(winner, "log", "-1", "--format=%(trailers:key=Gitlog-Run,valueonly)",
                v2).strip()
    v3_id = git(winner, "log", "-1", "--format=%(trailers:key=Gitlog-Run,valueonly)",
                "exp/win").strip()
    promote(winner, "win")
    done = run_cli("exp", "new", "again", "--from", v2_id, cwd=winner)
    assert done.returncode == 0, done.stderr
    assert git(winner, "rev-parse", "exp/again").strip() == v2
    new(winner, "latest", v3_id)
    assert git(winner, "rev-parse", "exp/latest").strip() == \
        git(winner, "rev-parse", "exp/win").strip()
    short = run_cli("exp", "new", "short", "--from", v2_id[:-1], cwd=winner)  # its start
    assert short.returncode == 0, short.stderr
    assert git(winner, "rev-parse", "exp/short").strip() == v2


def test_a_commit_that_logs_nothing_on_top_of_a_run_keeps_showing_that_run(winner: Path) -> None:
    run_id = json.loads(run_cli("show", "win", "--format", "json",
                                cwd=winner).stdout)["run"]["run"]
    end = git(winner, "show", "exp/win:.gitlog/run.yaml").split("end: '")[1].split("'")[0]
    (winner / "README.md").write_text("# notes on the sweep\n")
    git(winner, "add", "README.md")
    assert commit(winner, message="docs").returncode == 0  # *.md: no run needed
    rows = json.loads(run_cli("exp", "list", "--format", "json", cwd=winner).stdout)
    assert [(r["runs"], r["status"], r["last_run"], r["loss"]) for r in rows] == \
        [(2, "completed", end, 0.25)]
    shown = json.loads(run_cli("show", "win", "--format", "json", cwd=winner).stdout)["run"]
    assert (shown["run"], shown["status"], shown["subject"]) == (run_id, "completed", "v3")
    promote(winner, "win")
    message = message_of(winner, "main")
    assert f"Gitlog-Run: {run_id}\n" in message and "Gitlog-Status: completed\n" in message


def test_rm_says_how_many_runs_no_other_branch_or_remote_keeps(winner: Path) -> None:
    git(winner, "checkout", "-q", "main")
    git(winner, "branch", "keep", "exp/win~1")  # the first run is kept by another branch
    tip = git(winner, "rev-parse", "exp/win").strip()
    done = run_cli("exp", "rm", "win", "--yes", cwd=winner)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (f"gitlog: deleted exp/win (was {tip}; 1 of its runs is on no "
                           f"other branch or remote); restore with: git branch exp/win {tip}\n")
    new(winner, "copy", "keep")
    done = run_cli("exp", "rm", "copy", "--yes", cwd=winner)
    assert done.stderr.startswith("gitlog: deleted exp/copy (was ")
    assert "no other branch" not in done.stderr


def test_the_python_api_the_readme_shows_works_after_import_gitlog(repo: Path) -> None:
    """README: gitlog.experiments.new(...), gitlog.hooks.install(...),
    gitlog.promote.promote(...); after a plain 'import gitlog' each raised
    AttributeError: module 'gitlog' has no attribute 'experiments'."""
    code = """
import gitlog
made = gitlog.experiments.new(".", "api", checkout=True)
print(made.branch, made.current)
report = gitlog.hooks.install(".", names=["commit-msg"])
print([h.hook for h in report.hooks], [h.hook for h in gitlog.hooks.status(".").hooks][:2])
print([e.name for e in gitlog.experiments.list_experiments(".")])
print(gitlog.promote.promote.__name__, gitlog.debugging.filter_events.__name__)
try:
    gitlog.no_such_thing
except AttributeError as exc:
    print(exc)
"""
    proc = run_python(code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "exp/api True", "['commit-msg'] ['pre-commit', 'commit-msg']", "['api']",
        "promote filter_events", "module 'gitlog' has no attribute 'no_such_thing'"]


def test_a_repository_without_commits_keeps_main_for_the_main_branch(tmp_path: Path) -> None:
    """Before the first commit 'main' resolved to nothing, so 'python main.py' made
    exp/main; once main had a commit, 'main' named the branch and the experiment was out
    of reach by name."""
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "-c", "init.defaultBranch=main", "init", "-q")
    (repo / "main.py").write_text("import gitlog\nwith gitlog.start() as run:\n"
                                  "    run.log_metric('loss', 1)\n")
    proc = run_cli("run", "--", sys.executable, "main.py", cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "Error: invalid experiment name 'main': it names the main branch (main_branch in "
        ".gitlog.yaml, or the branch HEAD is on), which git will read first once it has a "
        "commit; it is the default experiment name, from the script's name (main.py)",
        "hint: name the experiment: gitlog run -e NAME, GITLOG_EXPERIMENT=NAME or "
        "'experiment: NAME' in .gitlog.yaml"]
    (repo / ".gitlog.yaml").write_text("main_branch: trunk\n")
    proc = run_python("import gitlog\ngitlog.start('trunk')", cwd=repo)
    assert "invalid experiment name 'trunk': it names the main branch" in proc.stderr
    assert git(repo, "for-each-ref") == ""
    proc = run_cli("run", "-e", "first", "--", sys.executable, "main.py", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "for-each-ref", "--format=%(refname)") == "refs/heads/exp/first\n"


def _answer_prompt(repo: Path, args: list[str], answer: bytes) -> tuple[str, int]:
    """Run gitlog on a terminal (a pty), type ``answer``; (what it showed, exit code)."""
    import os
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: gitlog in the repository, its terminal the pty
        os.chdir(repo)
        os.execv(sys.executable, [sys.executable, "-m", "gitlog", *args])
    shown = b""
    while b"[y/N]: " not in shown:
        chunk = os.read(fd, 1024)  # (OSError once the child is gone: no prompt came)
        assert chunk, shown
        shown += chunk
    os.write(fd, answer)
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    _, status = os.waitpid(pid, 0)
    return shown.decode().replace("\r\n", "\n"), os.waitstatus_to_exitcode(status)


def test_rm_answered_no_keeps_the_branch_and_says_so(repo: Path) -> None:
    """Answering 'n' printed 'Interrupted.' and exited 130, as Ctrl-C does."""
    new(repo, "old")
    tip = git(repo, "rev-parse", "exp/old").strip()
    shown, code = _answer_prompt(repo, ["exp", "rm", "old"], b"n\n")
    assert code == 1
    assert shown.endswith(f"tip {tip[:10]})? [y/N]: n\ngitlog: kept exp/old\n")
    assert git(repo, "rev-parse", "exp/old").strip() == tip
    shown, code = _answer_prompt(repo, ["exp", "rm", "old"], b"y\n")
    assert code == 0 and "gitlog: deleted exp/old" in shown
    assert git(repo, "branch", "--list", "exp/old") == ""
