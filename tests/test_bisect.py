"""``gitlog bisect``: a real ``git bisect run`` over code versions, in a temporary worktree."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import git, make_repo, run_cli, state_of
from tests.runrepo import Builder
from tests.test_history import two_experiments

SCRIPT = """import gitlog
QUALITY = {q}  # {note}
with gitlog.start() as run:
    run.log_metric("loss", 0.1 * QUALITY)
"""


def versions(tmp_path: Path, *changes: tuple[int, str], path: str = "train.py") -> \
        tuple[Path, str]:
    """A repository whose first commit is v1 of ``path`` (q=1), then a commit per
    (q, note) of ``changes``; with the id of its first commit."""
    repo = make_repo(tmp_path / "p", {path: SCRIPT.format(q=1, note="v1")})
    first = git(repo, "rev-parse", "HEAD").strip()
    for q, note in changes:
        (repo / path).write_text(SCRIPT.format(q=q, note=note))
        git(repo, "commit", "-qam", note)
    return repo, first


@pytest.mark.slow
def test_bisect_finds_the_first_bad_version_and_reuses_logged_runs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "p", {"train.py": SCRIPT.format(q=1, note="v1")})
    versions = [git(repo, "rev-parse", "HEAD").strip()]
    for q, note in ((1, "v2"), (5, "v3 breaks it"), (5, "v4"), (5, "v5")):
        (repo / "train.py").write_text(SCRIPT.format(q=q, note=note))
        git(repo, "commit", "-qam", note)
        versions.append(git(repo, "rev-parse", "HEAD").strip())
    # v2 already has a run: bisect must reuse it instead of training again
    git(repo, "checkout", "-q", versions[1])
    done = run_cli("run", "-e", "earlier", "--", sys.executable, "train.py", cwd=repo)
    assert done.returncode == 0, done.stderr
    git(repo, "checkout", "-q", "main")
    (repo / "notes.txt").write_text("untracked work\n")
    before = state_of(repo)

    proc = run_cli("bisect", "--metric", "loss", "--threshold", "0.3", "--good", versions[0],
                   "--bad", "main", "--format", "json", "--", sys.executable, "train.py",
                   cwd=repo, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["first_bad"] == versions[2] and out["subject"] == "v3 breaks it"
    assert out["value"] == 0.5
    steps = {s["commit"]: s for s in out["steps"]}
    assert steps[versions[2][:10]]["verdict"] == "bad"
    assert steps[versions[2][:10]]["source"].startswith("new run ")
    assert steps[versions[1][:10]]["verdict"] == "good"
    assert steps[versions[1][:10]]["source"].startswith("reused run ")
    assert state_of(repo) == before  # the user's checkout, index and HEAD are as they were
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert git(repo, "rev-list", "--count", "exp/bisect").strip() != "0"


def test_bisect_refuses_unknown_revisions(repo: Path) -> None:
    proc = run_cli("bisect", "-m", "loss", "--threshold", "1", "--good", "nope", "--bad",
                   "HEAD", "--", "true", cwd=repo)
    assert proc.returncode == 1 and "unknown revision, experiment or run id: nope" in proc.stderr


def test_bisect_refuses_a_metric_the_good_and_bad_runs_lack(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    c = two_experiments(repo)
    before = git(repo, "for-each-ref").splitlines()
    proc = run_cli("bisect", "-m", "los", "--threshold", "1", "--good", c["a1"], "--bad", "a",
                   "--", sys.executable, "-c", "raise SystemExit(3)", cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["Error: no run of --good or --bad has the metric los",
                                        "hint: metrics in these runs: accuracy, loss"]
    assert git(repo, "for-each-ref").splitlines() == before  # nothing logged to exp/bisect
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_bisect_refuses_an_empty_metric_and_a_threshold_that_is_no_number(
        tmp_path: Path) -> None:
    # -m '' read as a metric no run has; --threshold nan judged every step good and
    # ended in git's "was both good and bad" after running the command
    repo = tmp_path / "proj"
    c = two_experiments(repo)
    before = git(repo, "for-each-ref").splitlines()
    cases = [(["-m", "", "--threshold", "1"],
              ["Error: no metric given", "hint: name one: --metric loss"])]
    cases += [(["-m", "loss", "--threshold", t],
               [f"Error: bad --threshold {t}: not a finite number",
                "hint: give the value that splits good from bad: --threshold 0.3"])
              for t in ("nan", "inf", "-inf")]
    for args, said in cases:
        proc = run_cli("bisect", *args, "--good", c["a1"], "--bad", "a", "--",
                       sys.executable, "-c", "raise SystemExit(3)", cwd=repo)
        assert (proc.returncode, proc.stdout, proc.stderr.splitlines()) == (1, "", said)
    assert git(repo, "for-each-ref").splitlines() == before  # nothing run or logged
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_bisect_refuses_a_range_git_cannot_bisect(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    c = two_experiments(repo)
    same = run_cli("bisect", "-m", "loss", "--threshold", "1", "--good", "a", "--bad", c["a4"],
                   "--", "true", cwd=repo)
    assert same.returncode == 1
    assert same.stderr.splitlines() == [
        f"Error: --good a and --bad {c['a4']} are the same code version ({c['a4'][:10]}): "
        "nothing to bisect",
        f"hint: pass an older version that is good as --good (see 'git log --oneline "
        f"{c['a4']}')"]
    swapped = run_cli("bisect", "-m", "loss", "--threshold", "1", "--good", "a", "--bad",
                      c["a1"], "--", "true", cwd=repo)
    assert swapped.returncode == 1
    assert swapped.stderr.splitlines() == [
        f"Error: --bad {c['a1']} is older than --good a (an ancestor of it): bisect looks "
        "for the first bad version after a good one",
        f"hint: swap them: --good {c['a1']} --bad a"]


def test_bisect_names_a_bad_merge_base_of_a_good_on_another_branch(tmp_path: Path) -> None:
    """--good on a branch that forked from --bad's history where the metric was already
    bad: git's 'The merge base ... is bad' ended in 'git bisect run did not finish' and
    the hint 'check that --good is good and --bad is bad', both of which were."""
    repo, first = versions(tmp_path, (5, "v2 breaks it"), (5, "v3"))
    fork = git(repo, "rev-parse", "main~1").strip()
    git(repo, "checkout", "-q", "-b", "fixed", fork)
    (repo / "train.py").write_text(SCRIPT.format(q=1, note="fixed"))
    git(repo, "commit", "-qam", "fixed")
    git(repo, "checkout", "-q", "main")
    proc = run_cli("bisect", "-m", "loss", "--threshold", "0.3", "--good", "fixed", "--bad",
                   "main", "--", sys.executable, "train.py", cwd=repo, timeout=300)
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()[-2:]) == (1, "", [
        f"Error: --good fixed is not an ancestor of --bad main, and the version where their "
        f"histories meet, {fork[:10]}, is already bad (loss=0.5)",
        f"hint: pass as --good an older version that is good (see 'git log --oneline "
        f"{fork[:10]}')"])
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert git(repo, "for-each-ref", "refs/bisect").strip() == ""


def test_bisect_gives_no_answer_that_stands_on_skipped_versions_only(tmp_path: Path) -> None:
    """git names a first bad version past a skipped merge base ('We continue anyway'),
    and takes --good's word when --good is never tested: with every version skipped, or
    --good's own test skipped and no version good, bisect printed 'first bad: ...', exit 0."""
    b = Builder()
    m1 = b.commit("main", {"train.py": "v1\n"}, message="v1")
    m2 = b.commit("main", {"train.py": "v2\n"}, message="v2", parents=[m1])
    b.commit("main", {"train.py": "v3\n"}, message="v3", parents=[m2])
    b.commit("fixed", {"train.py": "v2 fixed\n"}, message="fix", parents=[m2])
    b.write(tmp_path / "proj")
    proc = run_cli("bisect", "-m", "loss", "--threshold", "0.3", "--good", "fixed", "--bad",
                   "main", "--", sys.executable, "-c", "pass", cwd=tmp_path / "proj")
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()[-2:]) == (1, "", [
        "Error: every version tested was skipped (3): the command failed or logged no loss "
        "at each",
        f"hint: see why with 'gitlog logs bisect', or run {sys.executable} -c pass by hand"])

    repo = make_repo(tmp_path / "p", {"train.py": SCRIPT.format(q=1, note="v1") +
                                      "raise SystemExit(2)\n"})
    first = git(repo, "rev-parse", "HEAD").strip()
    for note in ("v2", "v3"):
        (repo / "train.py").write_text(SCRIPT.format(q=5, note=note))
        git(repo, "commit", "-qam", note)
    proc = run_cli("bisect", "-m", "loss", "--threshold", "0.3", "--good", first, "--bad",
                   "main", "--", sys.executable, "train.py", cwd=repo, timeout=300)
    said = proc.stderr.splitlines()[-2:]
    assert (proc.returncode, proc.stdout) == (1, "")
    assert said[0].startswith(f"Error: --good {first} could not be tested (new run ")
    assert said[0].endswith(" (failed)), and no version tested was good: no answer")
    assert said[1] == (f"hint: pass as --good a version whose run logs loss, or log one of "
                       f"{first} first")
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_bisect_refuses_a_good_run_that_is_bad_or_a_bad_run_that_is_good(
        tmp_path: Path) -> None:
    # git bisect never tests --good or --bad: with a threshold both runs are on one side
    # of, it ran COMMAND at each step and named the version after --good (or --bad itself)
    # as the first bad one, exit 0
    repo = tmp_path / "proj"
    b = Builder()  # exp/b: b1 loss 0.9 accuracy 0.55 -> b2 (new code) loss 1.2 accuracy 0.5
    c1 = b.commit("main", {"train.py": "v1\n"}, message="initial code")
    b1 = b.run("b", {"loss": 0.9, "accuracy": 0.55}, parents=[c1], run_id="b1")
    b2 = b.run("b", {"loss": 1.2, "accuracy": 0.5}, parents=[b1], run_id="b2",
               code={"train.py": "v2\n"})
    shas = b.write(repo)
    c = {"b1": shas[b1], "b2": shas[b2]}
    before = git(repo, "for-each-ref").splitlines()
    cases = [
        ("loss", "0.8", f"Error: --good {c['b1']} is already bad: its run {c['b1'][:10]} "
                        "logged loss=0.9 vs --threshold 0.8 (lower is better)",
         "hint: pass a --threshold that --good's loss meets and --bad's does not (one "
         "between 0.9 and 1.2)"),
        ("loss", "1.5", f"Error: --bad b is not bad: its run {c['b2'][:10]} logged loss=1.2 "
                        "vs --threshold 1.5 (lower is better)",
         "hint: pass a --threshold that --good's loss meets and --bad's does not (one "
         "between 0.9 and 1.2)"),
        ("accuracy", "0.6", f"Error: --good {c['b1']} is already bad: its run "
                            f"{c['b1'][:10]} logged accuracy=0.55 vs --threshold 0.6 (higher "
                            "is better)",
         "hint: pass a --threshold that --good's accuracy meets and --bad's does not (one "
         "between 0.55 and 0.5)"),
        ("accuracy", "0.4", f"Error: --bad b is not bad: its run {c['b2'][:10]} logged "
                            "accuracy=0.5 vs --threshold 0.4 (higher is better)",
         "hint: pass a --threshold that --good's accuracy meets and --bad's does not (one "
         "between 0.55 and 0.5)"),
    ]
    for metric, threshold, error, hint in cases:
        proc = run_cli("bisect", "-m", metric, "--threshold", threshold, "--good", c["b1"],
                       "--bad", "b", "--", sys.executable, "-c", "raise SystemExit(3)",
                       cwd=repo)
        assert (proc.returncode, proc.stdout, proc.stderr.splitlines()) == \
            (1, "", [error, hint])
    assert git(repo, "for-each-ref").splitlines() == before  # nothing run or logged
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_bisect_takes_run_ids_for_good_and_bad(tmp_path: Path) -> None:
    """A run id (its Gitlog-Run trailer) stands for the run as a run commit does; it was
    'unknown revision or experiment'. Runs with the same code (b2 changed only lr) are
    the same version."""
    repo = tmp_path / "proj"
    c = two_experiments(repo)
    proc = run_cli("bisect", "-m", "loss", "--threshold", "0.7", "--good", "a1", "--bad",
                   "a4", "--", sys.executable, "-c", "raise SystemExit(3)", cwd=repo)
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()) == (1, "", [
        f"Error: --good a1 is already bad: its run {c['a1'][:10]} logged loss=1 vs "
        "--threshold 0.7 (lower is better)",
        "hint: pass a --threshold that --good's loss meets and --bad's does not"])
    same = run_cli("bisect", "-m", "loss", "--threshold", "1", "--good", "b1", "--bad", "b2",
                   "--", "true", cwd=repo)
    assert (same.returncode, same.stderr.splitlines()) == (1, [
        f"Error: --good b1 and --bad b2 are the same code version ({c['b1'][:10]}): "
        "nothing to bisect",
        "hint: pass an older version that is good as --good (see 'git log --oneline b2')"])
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_bisect_takes_an_option_it_does_not_know_for_a_usage_error(tmp_path: Path) -> None:
    """'--step min' (history's option) before '--' went into COMMAND: each new step said
    'command not found: --step' and git's 'bisect run failed'; when every step reused a
    logged run it was dropped unseen and bisect answered, exit 0."""
    repo = tmp_path / "proj"
    c = two_experiments(repo)
    before = git(repo, "for-each-ref").splitlines()
    proc = run_cli("bisect", "-m", "loss", "--threshold", "0.7", "--good", c["c1"], "--bad",
                   "a", "--step", "min", "--", sys.executable, "train.py", cwd=repo)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines() == ["Error: No such option '--step'.",
                                        "hint: gitlog bisect --help shows the usage"]
    assert git(repo, "for-each-ref").splitlines() == before
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_bisect_takes_a_logged_diverged_run_as_bad(tmp_path: Path) -> None:
    # a nan loss read as no value: a --good whose run diverged passed the check above
    b = Builder()
    c1 = b.commit("main", {"train.py": "v1\n"}, message="initial code")
    g = b.run("d", '{"loss": NaN}\n', parents=[c1], run_id="g")
    b.run("d", {"loss": 0.9}, parents=[g], run_id="b", code={"train.py": "v2\n"})
    shas = b.write(tmp_path / "proj")
    proc = run_cli("bisect", "-m", "loss", "--threshold", "1", "--good", shas[g], "--bad",
                   "d", "--", "true", cwd=tmp_path / "proj")
    assert (proc.returncode, proc.stderr.splitlines()) == (1, [
        f"Error: --good {shas[g]} is already bad: its run {shas[g][:10]} logged loss=nan vs "
        "--threshold 1 (lower is better)",
        "hint: pass a --threshold that --good's loss meets and --bad's does not"])


DIVERGING = """import gitlog
LOSS = {loss}  # {note}
with gitlog.start() as run:
    run.log_metric("loss", float(LOSS))
"""


@pytest.mark.slow
def test_bisect_judges_a_version_whose_run_diverges_bad(tmp_path: Path) -> None:
    # a nan loss was no value: the step was skipped, and a change that makes training
    # diverge left "only skipped versions are left" instead of the first bad version
    repo = make_repo(tmp_path / "p", {"train.py": DIVERGING.format(loss=0.1, note="v1")})
    versions = [git(repo, "rev-parse", "HEAD").strip()]
    for loss, note in (("0.1", "v2"), ("'nan'", "v3 diverges"), ("'nan'", "v4"),
                       ("'nan'", "v5")):
        (repo / "train.py").write_text(DIVERGING.format(loss=loss, note=note))
        git(repo, "commit", "-qam", note)
        versions.append(git(repo, "rev-parse", "HEAD").strip())
    for attempt in ("new run ", "reused run "):  # the diverged runs are reused the second time
        proc = run_cli("bisect", "-m", "loss", "--threshold", "0.3", "--good", versions[0],
                       "--bad", "main", "--format", "json", "--", sys.executable, "train.py",
                       cwd=repo, timeout=300)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert (out["first_bad"], out["subject"], out["value"]) == \
            (versions[2], "v3 diverges", "nan")
        assert {s["commit"]: s["verdict"] for s in out["steps"]}[versions[2][:10]] == "bad"
        assert all(s["source"].startswith(attempt) for s in out["steps"])


def test_bisect_fails_when_every_step_is_skipped(tmp_path: Path) -> None:
    # a command that fails at every version ended in "only skipped versions are left",
    # every version listed, exit 0
    repo, first = versions(tmp_path, (1, "v2"), (1, "v3"))
    proc = run_cli("bisect", "-m", "loss", "--threshold", "0.3", "--good", first, "--bad",
                   "main", "--", sys.executable, "-c", "raise SystemExit(1)", cwd=repo)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.splitlines()[-2:] == [
        "Error: every version tested was skipped (1): the command failed or logged no loss "
        "at each",
        f"hint: see why with 'gitlog logs bisect', or run {sys.executable} -c 'raise "
        "SystemExit(1)' by hand"]
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_bisect_refuses_before_any_step_what_would_stop_every_step(tmp_path: Path) -> None:
    """A program not on PATH, or the experiment's branch checked out in a worktree,
    failed each new step: git's 'bisect run failed: exit code 128' and 'check that --good
    is good and --bad is bad'."""
    repo = tmp_path / "proj"
    c = two_experiments(repo)
    other = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(other), "exp/a")
    before = git(repo, "for-each-ref").splitlines()
    args = ["bisect", "-m", "loss", "--threshold", "0.5", "--good", c["c1"], "--bad", "a"]
    typo = run_cli(*args, "--", "pyhton", "train.py", cwd=repo)
    assert (typo.returncode, typo.stdout, typo.stderr.splitlines()) == (1, "", [
        "Error: command not found: pyhton",
        "hint: check the spelling, or give the full path to the program"])
    busy = run_cli(*args, "-e", "a", "--", sys.executable, "train.py", cwd=repo)
    assert (busy.returncode, busy.stdout, busy.stderr.splitlines()) == (1, "", [
        f"Error: exp/a is checked out in another worktree ({other}): bisect's new runs would "
        "move that branch under its working tree",
        f"hint: log them to another experiment (-e a-2), or free it first (git -C {other} "
        "checkout --detach)"])
    assert git(repo, "for-each-ref").splitlines() == before
    assert len(git(repo, "worktree", "list").splitlines()) == 2


def test_bisect_skips_a_version_without_the_script_it_runs(tmp_path: Path) -> None:
    """'./train.sh' missing at a version (renamed, added later) stopped bisect with git's
    'bisect run failed: exit code 128'; such a version is skipped, as one without the
    folder the command runs in is."""
    repo = make_repo(tmp_path / "p", {"README": "r\n"})
    shas = []
    for n, q in enumerate((1, 1, None, None, 5, 5)):
        script = repo / "train.sh"
        if q is None:
            script.unlink(missing_ok=True)
        else:
            script.write_text(f"#!{sys.executable}\n" + SCRIPT.format(q=q, note=f"v{n}"))
            script.chmod(0o755)
        (repo / "README").write_text(f"v{n}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"v{n}")
        shas.append(git(repo, "rev-parse", "HEAD").strip())
    proc = run_cli("bisect", "-m", "loss", "--threshold", "0.3", "--good", shas[0], "--bad",
                   "main", "--format", "json", "--", "./train.sh", cwd=repo, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    # commits made within one second: git's order of the candidates may vary
    assert out["first_bad"] is None and sorted(out["candidates"]) == sorted(shas[2:5])
    skipped = {s["commit"]: s["source"] for s in out["steps"] if s["verdict"] == "skip"}
    assert skipped == {shas[2][:10]: "no ./train.sh here", shas[3][:10]: "no ./train.sh here"}
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_bisect_api_takes_a_command_line_and_prints_nothing(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # command="python train.py" ran the program "p" (the string's characters as argv)
    import gitlog

    repo, first = versions(tmp_path, (5, "v2 breaks it"), (5, "v3"))
    result = gitlog.bisect("loss", 0.3, good=first, bad="main", repo=repo,
                           command=f"{sys.executable} train.py")
    # v2 is the answer: --good v1, its only ground, is tested too
    assert (result.subject, result.value, [s.verdict for s in result.steps]) == \
        ("v2 breaks it", 0.5, ["bad", "good"])
    assert capfd.readouterr() == ("", "")


def test_bisect_runs_the_command_in_the_folder_it_was_started_in(tmp_path: Path) -> None:
    # the command ran at the worktree's root: from src/, 'python train.py' failed at
    # every version
    repo, first = versions(tmp_path, (5, "v2 breaks it"), (5, "v3"), path="src/train.py")
    before = state_of(repo)
    proc = run_cli("bisect", "-m", "loss", "--threshold", "0.3", "--good", first, "--bad",
                   "main", "--format", "json", "--", sys.executable, "train.py",
                   cwd=repo / "src")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["subject"], out["value"], [s["verdict"] for s in out["steps"]]) == \
        ("v2 breaks it", 0.5, ["bad", "good"])
    assert state_of(repo) == before
    # CSV holds the answer too, as its last row (it held the steps alone); every step
    # reuses the runs just logged
    again = run_cli("bisect", "-m", "loss", "--threshold", "0.3", "--good", first, "--bad",
                    "main", "--format", "csv", "--", sys.executable, "train.py",
                    cwd=repo / "src")
    rows = list(csv.reader(io.StringIO(again.stdout)))
    assert (again.returncode, rows[0], rows[1][1]) == \
        (0, ["commit", "verdict", "loss", "run", "source"], "bad")
    assert rows[-1] == [out["first_bad"][:10], "first bad", "0.5", "",
                        "v2 breaks it — Ada Trainer <ada@example.com>"]


def test_bisect_tests_an_end_that_is_its_answers_only_ground(tmp_path: Path) -> None:
    # git bisect takes --bad as bad: when every version tested was good, it named --bad
    # as the first bad version (exit 0) though nothing was bad for the threshold
    repo, first = versions(tmp_path, (1, "v2"), (1, "v3"))
    proc = run_cli("bisect", "-m", "loss", "--threshold", "0.3", "--good", first, "--bad",
                   "main", "--", sys.executable, "train.py", cwd=repo)
    run = git(repo, "rev-parse", "exp/bisect").strip()
    assert git(repo, "log", "-1", "--format=%s", "exp/bisect").strip() == \
        f"bisect: bisect step at {git(repo, 'rev-parse', 'main').strip()[:10]}"
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()[-2:]) == (1, "", [
        f"Error: --bad main is not bad: its new run {run[:10]} logged loss=0.1 vs "
        "--threshold 0.3 (lower is better)",
        "hint: pass a --threshold that --good's loss meets and --bad's does not"])
    assert len(git(repo, "worktree", "list").splitlines()) == 1
