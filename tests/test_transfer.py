"""gitlog push / pull between two clones ("two machines"): a bare git repository as the
git remote, a folder as the DVC remote, real git and real DVC throughout."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import gitlog
from tests.conftest import git, run_cli
from tests.dvcsetup import dvc, make_team, set_remote


@pytest.fixture
def team(tmp_path: Path) -> dict[str, Path]:
    """origin.git (bare), a DVC remote folder, and two clones: a and b."""
    return make_team(tmp_path)


def log_model(repo: Path, experiment: str, text: str, name: str = "model.pkl") -> gitlog.Run:
    path = repo / "models" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    with gitlog.start(experiment, repo=repo) as run:
        run.log_artifact(path)
        run.log_metric("loss", len(text) / 100)
    return run


def rows(stdout: str) -> dict[str, dict]:
    return {r["experiment"]: r for r in json.loads(stdout)}


def pull_refused(repo: Path, experiment: str) -> str:
    """``gitlog pull EXPERIMENT`` that leaves its branch 'not updated': why."""
    proc = run_cli("pull", experiment, "--format", "json", cwd=repo)
    assert proc.returncode == 1
    row = rows(proc.stdout)[experiment]
    assert row["action"] == "not updated"
    return str(row["detail"])


def remote_branches(origin: Path) -> set[str]:
    return set(git(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads/exp/")
               .split())


def test_two_clones_exchange_runs_and_models(team: dict[str, Path], tmp_path: Path) -> None:
    a, b = team["a"], team["b"]
    run_a = log_model(a, "alpha", "model trained on machine A")
    run_b = log_model(b, "beta", "model trained on machine B")
    for repo, exp in ((a, "alpha"), (b, "beta")):
        proc = run_cli("push", exp, "--format", "json", cwd=repo)
        assert proc.returncode == 0, proc.stderr
        assert rows(proc.stdout)[exp] == {"experiment": exp, "action": "pushed", "runs": 1,
                                          "artifacts": 1, "detail": ""}
    assert remote_branches(team["origin"]) == {"exp/alpha", "exp/beta"}

    proc = run_cli("pull", "--all", "--format", "json", cwd=b)
    assert proc.returncode == 0, proc.stderr
    assert {k: v["action"] for k, v in rows(proc.stdout).items()} == {
        "alpha": "created", "beta": "up to date"}
    assert git(b, "rev-parse", "exp/alpha").strip() == run_a.commit
    proc = run_cli("get", "alpha", "model.pkl", "-o", str(tmp_path / "from-a.pkl"), cwd=b)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "from-a.pkl").read_text() == "model trained on machine A"

    # A fetches B's run without its artifacts; get then reads them from the DVC remote.
    proc = run_cli("pull", "beta", "--no-artifacts", cwd=a)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("artifacts", "beta", "--format", "json", cwd=a)
    assert json.loads(proc.stdout)[0]["cached"] is False
    proc = run_cli("get", run_b.id, "model.pkl", "-o", str(tmp_path / "from-b.pkl"), cwd=a)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "from-b.pkl").read_text() == "model trained on machine B"

    # Both log to one experiment: the second push is refused and says what to do.
    log_model(a, "shared", "A's")
    log_model(b, "shared", "B's")
    assert run_cli("push", "shared", cwd=a).returncode == 0
    proc = run_cli("push", "shared", "--format", "json", cwd=b)
    assert proc.returncode == 1
    result = rows(proc.stdout)["shared"]
    assert result["action"] == "rejected" and "gitlog pull shared" in result["detail"]
    assert proc.stderr.startswith("Error: 1 of 1 experiments not pushed (shared)")
    proc = run_cli("pull", "shared", "--format", "json", cwd=b)
    assert proc.returncode == 1 and rows(proc.stdout)["shared"]["action"] == "diverged"
    assert rows(proc.stdout)["shared"]["detail"] == (
        "both sides logged runs (1 on the remote only, 1 here only); origin/exp/shared is "
        "fetched, keep both: git checkout "
        "exp/shared && git merge origin/exp/shared; on conflicts in .gitlog/ take the "
        "remote's run files: git restore --source=MERGE_HEAD --staged --worktree .gitlog && "
        "git commit --no-edit; then gitlog push shared")
    assert proc.stderr.endswith("hint: merge as said above, then gitlog push\n")
    # ... and that advice, followed to the letter, publishes both clones' runs.
    git(b, "checkout", "-q", "exp/shared")
    git(b, "merge", "origin/exp/shared", check=False)  # conflicts in .gitlog/
    git(b, "restore", "--source=MERGE_HEAD", "--staged", "--worktree", ".gitlog")
    git(b, "commit", "-q", "--no-edit")
    assert run_cli("push", "shared", cwd=b).returncode == 0
    proc = run_cli("pull", "shared", "--format", "json", cwd=a)
    assert rows(proc.stdout)["shared"]["action"] == "fast-forwarded", proc.stderr
    listed = json.loads(run_cli("ls", "--format", "json", cwd=a).stdout)
    assert [(r["experiment"], r["runs"]) for r in listed if r["experiment"] == "shared"] \
        == [("shared", 2)]


def test_partial_push_names_what_failed_and_a_rerun_completes_it(team: dict[str, Path]) -> None:
    a, origin = team["a"], team["origin"]
    log_model(a, "good", "fine model")
    run = log_model(a, "lost", "model whose cache file goes missing", name="other.pkl")
    record = json.loads(run_cli("artifacts", "lost", "--format", "json", cwd=a).stdout)[0]
    md5 = record["md5"]
    cached = a / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    saved = cached.read_bytes()
    os.chmod(cached, 0o644)
    cached.unlink()

    proc = run_cli("push", "--all", "--format", "json", cwd=a)
    assert proc.returncode == 1
    result = rows(proc.stdout)
    assert result["good"]["action"] == "pushed"
    assert result["lost"]["action"] == "not pushed"
    assert result["lost"]["detail"] == (f"artifact 'other.pkl' of run {run.id}: missing from "
                                        "the local DVC cache")
    assert proc.stderr.splitlines()[0].startswith("Error: 1 of 2 experiments not pushed (lost)")
    assert remote_branches(origin) == {"exp/good"}  # nothing a pull would trust

    cached.write_bytes(saved)
    proc = run_cli("push", "--all", "--format", "json", cwd=a)
    assert proc.returncode == 0, proc.stderr
    assert {k: v["action"] for k, v in rows(proc.stdout).items()} == {"good": "up to date",
                                                                      "lost": "pushed"}
    assert remote_branches(origin) == {"exp/good", "exp/lost"}


def test_folder_artifact_half_uploaded_is_never_published(team: dict[str, Path]) -> None:
    a, b, store = team["a"], team["b"], team["store"]
    data = a / "data"
    data.mkdir()
    for i in range(3):
        (data / f"part{i}.csv").write_text(f"{i}\n" * 10)
    with gitlog.start("folder", repo=a) as run:
        listing = run.log_artifact(data, type="data")
    import hashlib

    part1 = hashlib.md5(b"1\n" * 10).hexdigest()
    cached = a / ".dvc" / "cache" / "files" / "md5" / part1[:2] / part1[2:]
    os.chmod(cached, 0o644)
    cached.unlink()  # one file of the folder cannot be uploaded

    proc = run_cli("push", "folder", cwd=a)
    assert proc.returncode == 1 and "missing from the local DVC cache" in proc.stderr
    uploaded = {p.parent.name + p.name for p in store.rglob("*") if p.is_file()}
    assert listing["md5"] not in uploaded  # the folder's listing is uploaded last: not here
    assert remote_branches(team["origin"]) == set()
    proc = run_cli("pull", "--all", cwd=b)
    assert proc.returncode == 0 and "folder" not in proc.stdout


def test_missing_remotes_are_one_clear_error_each(team: dict[str, Path]) -> None:
    a = team["a"]
    log_model(a, "withart", "m")
    with gitlog.start("plain", repo=a) as run:
        run.log_metric("loss", 1.0)
    proc = run_cli("push", "--all", "--remote", "upstream", cwd=a)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["Error: no git remote named 'upstream'",
                                        "hint: git remote add upstream URL (or pass --remote "
                                        "NAME)"]
    dvc(a, "remote", "remove", "storage")
    proc = run_cli("push", "--all", "--format", "json", cwd=a)
    assert proc.returncode == 1
    result = rows(proc.stdout)
    assert result["plain"]["action"] == "pushed"  # no artifacts: needs no DVC remote
    assert result["withart"]["action"] == "not pushed"
    err = proc.stderr.splitlines()
    assert len(err) == 2 and "no DVC remote configured for artifacts" in err[0]
    assert err[1].startswith("hint: dvc remote add -d storage")
    assert remote_branches(team["origin"]) == {"exp/plain"}
    proc = run_cli("push", "withart", "--dvc-remote", "nowhere", cwd=a)
    assert proc.returncode == 1 and "no DVC remote named 'nowhere'" in proc.stderr
    assert run_cli("push", "no-such-exp", cwd=a).stderr.startswith(
        "Error: no experiment 'no-such-exp' to push")


def test_pull_without_a_dvc_remote_keeps_the_branch_until_told(team: dict[str, Path]) -> None:
    a, b = team["a"], team["b"]
    log_model(a, "alpha", "model of A")
    assert run_cli("push", "alpha", cwd=a).returncode == 0
    dvc(b, "remote", "remove", "storage")
    proc = run_cli("pull", "alpha", "--format", "json", cwd=b)
    assert proc.returncode == 1
    assert rows(proc.stdout)["alpha"]["action"] == "not updated"
    assert "no DVC remote configured" in proc.stderr and "--no-artifacts" in proc.stderr
    assert git(b, "branch", "--list", "exp/alpha") == ""
    proc = run_cli("pull", "alpha", "--no-artifacts", "--format", "json", cwd=b)
    assert proc.returncode == 0 and rows(proc.stdout)["alpha"]["action"] == "created"
    proc = run_cli("pull", "nothing-here", cwd=b)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: no experiment 'nothing-here' on remote 'origin'")


def test_pull_leaves_a_branch_checked_out_in_another_worktree(team: dict[str, Path],
                                                              tmp_path: Path) -> None:
    a, b = team["a"], team["b"]
    log_model(a, "wt", "v1")
    assert run_cli("push", "wt", cwd=a).returncode == 0
    assert run_cli("pull", "wt", cwd=b).returncode == 0
    other = tmp_path / "b-wt"
    git(b, "worktree", "add", "-q", str(other), "exp/wt")
    before = git(b, "rev-parse", "exp/wt").strip()
    run = log_model(a, "wt", "v2")
    assert run_cli("push", "wt", cwd=a).returncode == 0
    assert pull_refused(b, "wt") == (
        f"checked out in the worktree {other}; artifacts are fetched, update it with: "
        f"git -C {other} merge --ff-only origin/exp/wt")
    assert git(b, "rev-parse", "exp/wt").strip() == before
    assert git(other, "status", "--porcelain", "--untracked-files=no") == ""
    git(other, "merge", "-q", "--ff-only", "origin/exp/wt")
    assert git(other, "rev-parse", "HEAD").strip() == run.commit


def test_push_and_pull_take_the_experiment_as_exp_name_too(team: dict[str, Path]) -> None:
    a, b = team["a"], team["b"]
    log_model(a, "named", "v1")
    proc = run_cli("push", "exp/named", "--format", "json", cwd=a)
    assert proc.returncode == 0, proc.stderr
    assert rows(proc.stdout)["named"]["action"] == "pushed"
    proc = run_cli("pull", "exp/named", "--format", "json", cwd=b)
    assert proc.returncode == 0, proc.stderr
    assert rows(proc.stdout)["named"]["action"] == "created"
    proc = run_cli("pull", cwd=b)  # HEAD on main: no experiment to take
    assert (proc.returncode, proc.stderr) == (1, "Error: no experiment given\nhint: name "
                                              "them (gitlog pull baseline) or pass --all\n")


def test_push_uploads_artifacts_of_runs_already_on_the_git_remote(team: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    a = team["a"]
    run = log_model(a, "alpha", "model of A")
    assert run_cli("push", "alpha", cwd=a).returncode == 0
    backup = tmp_path / "dvc-backup"
    backup.mkdir()
    set_remote(a, "backup", str(backup))
    proc = run_cli("push", "alpha", "--dvc-remote", "backup", "--format", "json", cwd=a)
    assert proc.returncode == 0, proc.stderr
    assert rows(proc.stdout)["alpha"] == {
        "experiment": "alpha", "action": "pushed", "runs": 0, "artifacts": 0,
        "detail": "uploaded 1 artifact(s) of runs already on the git remote"}
    md5 = json.loads(run_cli("artifacts", "alpha", "--format", "json", cwd=a).stdout)[0]["md5"]
    assert (backup / "files" / "md5" / md5[:2] / md5[2:]).read_text() == "model of A"
    proc = run_cli("push", "alpha", "--dvc-remote", "backup", "--format", "json", cwd=a)
    assert rows(proc.stdout)["alpha"]["action"] == "up to date"
    proc = run_cli("push", "alpha", "--dvc-remote", "bakcup", "--format", "json", cwd=a)
    assert proc.returncode == 1
    assert rows(proc.stdout)["alpha"]["detail"] == (
        "1 artifact(s) of runs already on the git remote not uploaded: no DVC remote named "
        "'bakcup'")
    assert run.commit == git(team["origin"], "rev-parse", "exp/alpha").strip()


def test_folder_artifact_with_a_file_lost_on_the_remote_names_it_and_push_repairs_it(
        team: dict[str, Path], tmp_path: Path) -> None:
    import hashlib

    a, b, store = team["a"], team["b"], team["store"]
    data = a / "data"
    (data / "sub").mkdir(parents=True)
    for i in range(3):
        (data / "sub" / f"part{i}.csv").write_text(f"{i}\n" * 10)
    with gitlog.start("folder", repo=a) as run:
        run.log_artifact(data, type="data")
    assert run_cli("push", "folder", cwd=a).returncode == 0
    part1 = hashlib.md5(b"1\n" * 10).hexdigest()
    (store / "files" / "md5" / part1[:2] / part1[2:]).unlink()  # lost on the remote

    proc = run_cli("pull", "folder", "--format", "json", cwd=b)
    assert proc.returncode == 1
    assert rows(proc.stdout)["folder"]["detail"] == (
        f"artifact 'data' of run {run.id}: 1 of its 3 files is not on the remote: "
        "sub/part1.csv")
    assert proc.stderr.splitlines()[-1] == (
        "hint: the DVC remote lacks them: run 'gitlog push folder' where the runs were "
        "logged, then pull again; or take the runs alone: gitlog pull folder --no-artifacts")
    assert run_cli("pull", "folder", "--no-artifacts", cwd=b).returncode == 0
    proc = run_cli("get", "folder", "data", "-o", str(tmp_path / "got"), cwd=b)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0].endswith(
        "and DVC remote 'storage' does not have it (1 of its 3 files is not on the remote: "
        "sub/part1.csv)")
    assert proc.stderr.splitlines()[1] == ("hint: push it from the machine that logged the "
                                           "run: gitlog push folder")

    # The hint, followed on A, puts the lost file back; B then gets the whole folder.
    proc = run_cli("push", "folder", "--format", "json", cwd=a)
    assert proc.returncode == 0, proc.stderr
    assert rows(proc.stdout)["folder"] == {
        "experiment": "folder", "action": "pushed", "runs": 0, "artifacts": 0,
        "detail": "uploaded 1 artifact(s) of runs already on the git remote"}
    proc = run_cli("get", "folder", "data", "-o", str(tmp_path / "got"), cwd=b)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.relative_to(tmp_path / "got").as_posix()
                  for p in (tmp_path / "got").rglob("*.csv")) == [
        "sub/part0.csv", "sub/part1.csv", "sub/part2.csv"]
    assert (tmp_path / "got" / "sub" / "part1.csv").read_text() == "1\n" * 10
    assert rows(run_cli("push", "folder", "--format", "json", cwd=a).stdout)["folder"][
        "action"] == "up to date"


def test_push_of_an_experiment_only_behind_the_remote_says_so_and_names_pull(
        team: dict[str, Path]) -> None:
    a, b = team["a"], team["b"]
    log_model(a, "alpha", "v1")
    assert run_cli("push", "alpha", cwd=a).returncode == 0
    assert run_cli("pull", "alpha", cwd=b).returncode == 0
    log_model(a, "alpha", "v2")
    log_model(a, "alpha", "v3")
    assert run_cli("push", "alpha", cwd=a).returncode == 0
    mine = git(b, "rev-parse", "exp/alpha").strip()

    for _ in range(2):  # the second time git knows the remote's commit (non-fast-forward)
        proc = run_cli("push", "alpha", "--format", "json", cwd=b)
        assert proc.returncode == 0, proc.stderr
        assert rows(proc.stdout)["alpha"] == {
            "experiment": "alpha", "action": "behind", "runs": 0, "artifacts": 0,
            "detail": "behind the remote by 2 run(s), nothing to push; take them with: "
                      "gitlog pull alpha"}
    assert git(b, "rev-parse", "exp/alpha").strip() == mine
    assert git(b, "symbolic-ref", "HEAD").strip() == "refs/heads/main"

    log_model(b, "alpha", "b's")  # now both sides have runs the other lacks
    proc = run_cli("push", "alpha", "--format", "json", cwd=b)
    assert proc.returncode == 1
    assert rows(proc.stdout)["alpha"]["action"] == "rejected"
    assert rows(proc.stdout)["alpha"]["detail"] == (
        "[rejected] (non-fast-forward): both sides logged runs (2 on the remote only, 1 here "
        "only); gitlog pull alpha says how to keep both")
    assert proc.stderr.splitlines()[-1] == "hint: gitlog pull alpha, then gitlog push again"


def test_an_unreachable_git_remote_is_named_with_what_git_said(team: dict[str, Path],
                                                               tmp_path: Path) -> None:
    a = team["a"]
    with gitlog.start("plain", repo=a) as run:
        run.log_metric("loss", 1.0)
    gone = tmp_path / "moved.git"
    git(a, "remote", "add", "old", str(gone))
    said = f"'{gone}' does not appear to be a git repository"
    proc = run_cli("push", "plain", "--remote", "old", "--format", "json", cwd=a)
    assert proc.returncode == 1
    assert rows(proc.stdout)["plain"]["detail"] == f"git push failed: {said}"
    proc = run_cli("pull", "plain", "--remote", "old", cwd=a)
    assert (proc.returncode, proc.stderr) == (
        1, f"Error: git fetch from 'old' failed: {said}\nhint: check the remote with 'git "
           "remote -v' and that it is reachable\n")


def test_push_and_pull_all_of_nothing_say_so(team: dict[str, Path]) -> None:
    a, b = team["a"], team["b"]
    proc = run_cli("push", "--all", cwd=a)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, "", "gitlog: no experiments to push: this clone has no exp/* branches\n")
    proc = run_cli("pull", "--all", cwd=b)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, "", "gitlog: no experiments to pull: remote 'origin' has no exp/* branches\n")
    proc = run_cli("pull", "--all", "--format", "json", cwd=b)
    assert (proc.returncode, json.loads(proc.stdout)) == (0, [])


def test_pull_of_an_experiment_only_this_clone_has_says_to_push_it(
        team: dict[str, Path]) -> None:
    a = team["a"]
    with gitlog.start("mine", repo=a) as run:
        run.log_metric("loss", 1.0)
    said = ("Error: no experiment 'mine' on remote 'origin'\n"
            "hint: only this clone has it: gitlog push mine\n")
    proc = run_cli("pull", "mine", cwd=a)
    assert (proc.returncode, proc.stderr) == (1, said)
    git(a, "checkout", "-q", "exp/mine")
    proc = run_cli("pull", cwd=a)  # the experiment checked out: it crashed (KeyError)
    assert (proc.returncode, proc.stderr) == (1, said)


def test_pull_drops_experiments_deleted_on_the_remote_and_keeps_unpublished_runs(
        team: dict[str, Path]) -> None:
    """An experiment deleted on the remote stayed listed (from its stale REMOTE/exp/NAME)
    and pull called it 'up to date'. Now pull prunes it; a local branch goes only when a
    remote branch still holds its runs, and is kept, said so, when none does."""
    a, b = team["a"], team["b"]
    for exp in ("merged", "dropped", "tracked", "current", "live"):
        with gitlog.start(exp, repo=a) as run:
            run.log_metric("loss", 0.5)
    assert run_cli("push", "--all", cwd=a).returncode == 0
    assert run_cli("pull", "merged", "dropped", "current", "live", cwd=b).returncode == 0
    git(b, "fetch", "-q", "origin")  # exp/tracked: only origin/exp/tracked here
    git(b, "checkout", "-q", "exp/current")
    git(a, "merge", "-q", "--no-edit", "exp/merged")  # as exp promote does
    git(a, "push", "-q", "origin", "main", "exp/live:refs/heads/archive/live")
    git(a, "push", "-q", "origin", "--delete", "exp/merged", "exp/dropped", "exp/tracked",
        "exp/current", "exp/live")
    git(b, "fetch", "-q", "origin", "main", "archive/live")  # as 'git pull' on main does
    merged_tip = git(b, "rev-parse", "exp/merged").strip()

    with gitlog.start("live", repo=b):  # a run under way on exp/live
        proc = run_cli("pull", "--format", "json", cwd=b)  # the experiment checked out
    assert proc.returncode == 0, proc.stderr
    assert {k: (v["action"], v["detail"]) for k, v in rows(proc.stdout).items()} == {
        "current": ("kept", f"deleted on origin; this clone keeps exp/current: it is checked "
                            f"out in {b} (delete it there once switched away: gitlog exp rm "
                            "current)"),
        "live": ("kept", "deleted on origin; this clone keeps exp/live: a run is being "
                         "logged to it (or awaits 'gitlog recover'); pull again after it"),
        "dropped": ("kept", "deleted on origin; this clone keeps exp/dropped: 1 run(s) of "
                            "it are on no remote-tracking branch (drop it: gitlog exp rm "
                            "dropped; publish it again: gitlog push dropped)"),
        "merged": ("deleted", "deleted on origin, and here: every run of it is on "
                              "origin/main; restore it with: git branch exp/merged "
                              f"{merged_tip[:12]}"),
        "tracked": ("deleted", "deleted on origin")}
    listed = json.loads(run_cli("ls", "--format", "json", cwd=b).stdout)
    assert [(r["experiment"], r["branch"]) for r in listed] == [
        ("current", "exp/current"), ("dropped", "exp/dropped"), ("live", "exp/live")]
    assert git(b, "for-each-ref", "--format=%(refname)", "refs/remotes/origin/exp/") == ""
    proc = run_cli("pull", "dropped", cwd=b)  # pruned already: only this clone has it
    assert (proc.returncode, proc.stderr) == (
        1, "Error: no experiment 'dropped' on remote 'origin'\n"
           "hint: only this clone has it: gitlog push dropped\n")


def test_a_dvc_remote_folder_missing_on_this_machine_is_named_not_blamed_on_pushes(
        team: dict[str, Path], tmp_path: Path) -> None:
    """A local DVC remote whose folder this machine lacks (another machine's path, a
    drive not mounted) read as empty: pull and get said 'not on the remote' and to push
    from the machine that logged the run, which had."""
    a, b = team["a"], team["b"]
    run_id = log_model(a, "alpha", "weights").id
    assert run_cli("push", "alpha", cwd=a).returncode == 0
    missing = tmp_path / "not-mounted"
    set_remote(b, "storage", str(missing), level="local")
    said = f"DVC remote 'storage' ({missing}) is not reachable here: no folder {missing}"
    fix = ("check its URL ('dvc remote list'); for this machine: dvc remote modify --local "
           "storage url PATH")
    proc = run_cli("pull", "alpha", "--format", "json", cwd=b)
    assert proc.returncode == 1
    assert rows(proc.stdout)["alpha"]["detail"] == f"artifact 'model.pkl' of run {run_id}: {said}"
    assert proc.stderr.endswith(f"hint: {fix}; or pass --no-artifacts to take the runs "
                                "without their artifacts (gitlog get fetches one later)\n")
    proc = run_cli("get", "origin/exp/alpha", "model.pkl", "-o", str(tmp_path / "m.pkl"),
                   cwd=b)
    assert (proc.returncode, proc.stderr) == (1, (
        f"Error: artifact 'model.pkl' of run {run_id} is not in the local DVC cache "
        f"({b / '.dvc' / 'cache'}); {said}\nhint: {fix}\n"))


def test_exp_rm_of_a_pushed_experiment_says_how_to_delete_it_on_the_remote(
        team: dict[str, Path]) -> None:
    """After 'gitlog exp rm' of a pushed experiment, 'gitlog ls' still listed it (from
    origin/exp/NAME) and nothing said why or how to delete it there."""
    a = team["a"]
    with gitlog.start("old", repo=a) as run:
        run.log_metric("loss", 0.5)
    assert run_cli("push", "old", cwd=a).returncode == 0
    done = run_cli("exp", "rm", "old", "--yes", cwd=a)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[1:] == [
        "gitlog: origin/exp/old still has it ('gitlog ls' lists it from there); delete it "
        "there with: git push origin --delete exp/old"]
    git(a, "push", "-q", "origin", "--delete", "exp/old")  # as said
    assert json.loads(run_cli("ls", "--format", "json", cwd=a).stdout) == []


def test_diverged_runs_whose_commits_ignore_other_artifacts_merge_as_advised(
        team: dict[str, Path]) -> None:
    """Each side's run commit adds its artifact's line to weights/.gitignore: the merge
    conflicts there too, and the advice (only .gitlog/) left it unmerged, so its 'git
    commit' failed. The advice now keeps both sides' lines, and works as given."""
    a, b = team["a"], team["b"]
    for repo, name in ((a, "a.bin"), (b, "b.bin")):
        (repo / "weights").mkdir()
        (repo / "weights" / name).write_text(name)
        with gitlog.start("shared", repo=repo) as run:
            run.log_artifact(repo / "weights" / name)
            run.log_metric("loss", 0.5)
    assert run_cli("push", "shared", cwd=a).returncode == 0
    assert run_cli("push", "shared", cwd=b).returncode == 1
    proc = run_cli("pull", "shared", "--format", "json", cwd=b)
    detail = rows(proc.stdout)["shared"]["detail"]
    assert detail == (
        "both sides logged runs (1 on the remote only, 1 here only); origin/exp/shared is "
        "fetched, keep both: git checkout "
        "exp/shared && git merge origin/exp/shared; on conflicts in .gitlog/ and .gitignore "
        "files take the remote's run files and both sides' ignore lines: git restore "
        "--source=MERGE_HEAD --staged --worktree .gitlog && { git show "
        "HEAD:weights/.gitignore; git show MERGE_HEAD:weights/.gitignore; } 2>/dev/null | "
        "awk '!seen[$0]++' > weights/.gitignore"
        " && git add weights/.gitignore && git commit --no-edit; then gitlog push shared")
    merge, resolve = detail.split("keep both: ")[1].split("; then")[0].split("; on conflicts")
    subprocess.run(merge, shell=True, cwd=b, capture_output=True)  # conflicts: exit 1
    resolved = subprocess.run(resolve.split(": ", 1)[1], shell=True, cwd=b,
                              capture_output=True, text=True)
    assert resolved.returncode == 0, resolved.stderr
    assert (b / "weights" / ".gitignore").read_text() == "/b.bin\n/a.bin\n"
    # The merge's log folder is exactly A's run: 'git checkout --theirs .gitlog' kept B's
    # pointer beside it (a file only B's run added merges cleanly), so a checkout of the
    # tip showed A's run with B's artifact too, and 'dvc pull' fetched both.
    assert git(b, "diff", "--name-status", "origin/exp/shared", "HEAD", "--", ".gitlog") == ""
    assert git(b, "ls-files", ".gitlog/artifacts") == ".gitlog/artifacts/a.bin.dvc\n"
    assert run_cli("push", "shared", cwd=b).returncode == 0


def test_push_and_pull_count_runs_not_merges_or_edits_on_top(team: dict[str, Path]) -> None:
    """The merge of a diverged experiment (one side's run files) and a README edit on top
    of a run were counted as runs: B's push said 'pushed 2 runs, 2 artifacts' for its one
    run, and A's pull 'fast-forwarded 2'. They count as 'gitlog ls' counts."""
    a, b = team["a"], team["b"]
    log_model(a, "shared", "A's")
    log_model(b, "shared", "B's")
    assert run_cli("push", "shared", cwd=a).returncode == 0
    assert run_cli("pull", "shared", cwd=b).returncode == 1  # diverged: fetched
    git(b, "checkout", "-q", "exp/shared")
    git(b, "merge", "origin/exp/shared", check=False)
    git(b, "restore", "--source=MERGE_HEAD", "--staged", "--worktree", ".gitlog")
    git(b, "commit", "-q", "--no-edit")
    (b / "README.md").write_text("notes\n")
    git(b, "add", "README.md")
    git(b, "commit", "-q", "--no-verify", "-m", "notes")
    proc = run_cli("push", "shared", "--format", "json", cwd=b)
    assert proc.returncode == 0, proc.stderr
    assert rows(proc.stdout)["shared"] == {"experiment": "shared", "action": "pushed",
                                           "runs": 1, "artifacts": 1, "detail": ""}
    proc = run_cli("pull", "shared", "--format", "json", cwd=a)
    assert proc.returncode == 0, proc.stderr
    assert rows(proc.stdout)["shared"] == {"experiment": "shared", "action": "fast-forwarded",
                                           "runs": 1, "artifacts": 1, "detail": ""}


def test_a_side_without_runs_of_its_own_is_not_said_to_have_logged_runs(
        team: dict[str, Path]) -> None:
    """B merged main into the experiment (a commit with no run) while A logged a run:
    push and pull said 'both sides logged runs (1 on the remote only, 1 here only)', the
    merge counted as B's run. They say what differs, and the advice still works."""
    a, b = team["a"], team["b"]
    log_model(a, "shared", "A's first")
    assert run_cli("push", "shared", cwd=a).returncode == 0
    assert run_cli("pull", "shared", cwd=b).returncode == 0
    log_model(a, "shared", "A's second")
    assert run_cli("push", "shared", cwd=a).returncode == 0
    (b / "util.py").write_text("FIX = 1\n")
    git(b, "add", "util.py")
    git(b, "commit", "-qm", "a fix on main")
    git(b, "checkout", "-q", "exp/shared")
    git(b, "merge", "-q", "--no-edit", "main")
    apart = "both sides have commits the other lacks (runs: 1 on the remote only, 0 here only)"
    proc = run_cli("push", "shared", "--format", "json", cwd=b)
    assert proc.returncode == 1
    assert rows(proc.stdout)["shared"]["detail"] == (
        f"[rejected] (fetch first): {apart}; gitlog pull shared says how to keep both")
    proc = run_cli("pull", "shared", "--format", "json", cwd=b)
    assert proc.returncode == 1
    detail = rows(proc.stdout)["shared"]["detail"]
    assert detail.startswith(f"{apart}; origin/exp/shared is fetched, keep both: "
                             "git merge origin/exp/shared;")
    git(b, "merge", "-q", "--no-edit", "origin/exp/shared")
    assert run_cli("push", "shared", cwd=b).returncode == 0
