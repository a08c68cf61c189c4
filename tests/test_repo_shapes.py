"""Repositories of the shapes real users have: submodules, ignored log folders, git's
refusals of a repository it does not trust."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import gitlog
from gitlog.errors import GitlogError
from tests.conftest import git, make_repo, run_cli
from tests.hookhelp import commit, hooked_repo, log_run


def _with_submodule(tmp_path: Path) -> Path:
    """exp/base checked out, hooks installed, a submodule ``lib`` committed on main."""
    lib = make_repo(tmp_path / "lib", {"lib.py": "v = 1\n"})
    project = hooked_repo(tmp_path / "project", experiment=None)
    git(project, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    git(project, "commit", "-q", "-m", "add lib")
    git(project, "checkout", "-q", "-b", "exp/base")
    sub = project / "lib"
    (sub / "lib.py").write_text("v = 2\n")
    git(sub, "commit", "-q", "-am", "lib v2")
    return project


def test_a_submodule_bump_on_an_experiment_needs_its_run(tmp_path: Path) -> None:
    project = _with_submodule(tmp_path)
    git(project, "add", "lib")  # the submodule now at lib v2: code, as history counts it
    refused = commit(project, message="bump lib")
    assert refused.returncode == 1, refused.stderr
    assert "code changed on experiment base (lib) without a logged run" in refused.stderr

    run = log_run(project)
    git(project, "reset", "-q", "lib")
    git(project, "add", ".gitlog")
    forgot = commit(project, message="bump lib")
    assert forgot.returncode == 1
    assert "the staged run" in forgot.stderr and "not staged: lib\n" in forgot.stderr
    assert "hint: git add lib and commit again" in forgot.stderr
    git(project, "add", "lib")
    done = commit(project, message="bump lib")
    assert done.returncode == 0, done.stderr
    assert f"Gitlog-Run: {run.id}" in git(project, "log", "-1", "--format=%B")
    # A submodule's uncommitted content is not staged, so it holds up no commit.
    (project / "lib" / "lib.py").write_text("v = 3\n")
    (project / "notes.md").write_text("notes\n")
    git(project, "add", "notes.md")
    assert commit(project, message="notes").returncode == 0


def test_a_repository_git_does_not_trust_is_one_error_with_gits_fix(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # git's own switch for its safe.directory check: as if another user owned the repo
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
    if git(repo, "status", check=False):  # (git before 2.35.2 has no such check)
        pytest.skip("this git does not check a repository's owner")
    hint = f"hint: if you trust it: git config --global --add safe.directory {repo} " \
        "(or make yourself its owner)"
    for args in (("ls",), ("history", "--all"), ("run", "-e", "x", "--", "true")):
        out = run_cli(*args, cwd=repo)
        assert (out.returncode, out.stdout) == (1, "")
        assert out.stderr.splitlines() == [
            f"Error: git refuses {repo}: another user owns it (git's safe.directory check)",
            hint]
    with pytest.raises(GitlogError, match="another user owns it") as raised:
        gitlog.start("x", repo=repo)
    assert f"hint: {raised.value.hint}" == hint


def test_a_run_git_ignores_is_not_committed_without_it(tmp_path: Path) -> None:
    project = hooked_repo(tmp_path / "project")
    (project / ".gitignore").write_text(".gitlog/\n")
    (project / "train.py").write_text("print('v2')\n")
    log_run(project, loss=0.5)
    git(project, "add", "-A")  # leaves the ignored log folder out
    refused = commit(project, message="v2")
    assert refused.returncode == 1
    assert "gitlog pre-commit: git ignores the run's files, so they are not staged: " \
        ".gitlog/events.jsonl, .gitlog/metrics.json, .gitlog/metrics/loss.tsv, " \
        ".gitlog/params.yaml, .gitlog/run.yaml\n" \
        "hint: git add -f .gitlog/events.jsonl .gitlog/metrics.json .gitlog/metrics/loss.tsv " \
        ".gitlog/params.yaml .gitlog/run.yaml and commit again\n" in refused.stderr
    assert "hint: git add .gitlog" not in refused.stderr  # git would refuse it
    git(project, "add", "-f", ".gitlog")
    assert commit(project, message="v2").returncode == 0

    # once tracked, 'git add -A' stages the run's files it knows, not a new series
    (project / "train.py").write_text("print('v3')\n")
    log_run(project, loss=0.25, acc=0.75)
    git(project, "add", "-A")
    refused = commit(project, message="v3")
    assert refused.returncode == 1
    assert "not staged: .gitlog/metrics/acc.tsv\n" \
        "hint: git add -f .gitlog/metrics/acc.tsv and commit again" in refused.stderr
    git(project, "add", "-f", ".gitlog")
    assert commit(project, message="v3").returncode == 0
    assert git(project, "ls-files", ".gitlog/metrics") == \
        ".gitlog/metrics/acc.tsv\n.gitlog/metrics/loss.tsv\n"


def test_a_run_with_a_submodule_changed_in_place_says_its_code_is_not_all_kept(
        tmp_path: Path) -> None:
    project = _with_submodule(tmp_path)
    git(project / "lib", "reset", "-q", "--hard", "HEAD~1")  # back at the committed lib
    git(project, "checkout", "-q", "main")
    (project / "lib" / "lib.py").write_text("v = 'edited, not committed'\n")
    index = (project / ".git" / "index").read_bytes()
    with pytest.warns(gitlog.GitlogWarning, match="submodule lib has uncommitted changes"):
        with gitlog.start("sub", repo=project) as run:
            run.log_metric("loss", 0.5)
    assert (project / ".git" / "index").read_bytes() == index  # (git status left it alone)
    shown = gitlog.show("sub", repo=project)
    assert shown.record.run["dirty"] is True
    assert shown.subject == "sub: add lib (+uncommitted)"
    assert [(e["level"], e["message"]) for e in shown.record.events] == [
        ("warning", "submodule lib has uncommitted changes: the run keeps its commit "
                    f"{git(project / 'lib', 'rev-parse', '--short=10', 'HEAD').strip()} "
                    "only (commit them in lib, then run again, to keep them)")]


def test_gitlog_run_shows_its_warnings_as_the_cli_does_and_filters_still_apply(
        tmp_path: Path) -> None:
    """Under gitlog run, gitlog's own warnings (a dirty submodule, in gitlog; a nan metric,
    in the script's recorder) read 'warning: TEXT' as the CLI's others, with no path into
    gitlog's code; PYTHONWARNINGS still hides them; a plain script keeps Python's format."""
    import sys

    project = _with_submodule(tmp_path)
    git(project / "lib", "reset", "-q", "--hard", "HEAD~1")
    git(project, "checkout", "-q", "main")
    (project / "lib" / "lib.py").write_text("v = 'edited, not committed'\n")
    (project / "nan.py").write_text("import gitlog\nwith gitlog.start() as run:\n"
                                    "    run.log_metric('loss', float('nan'))\n")
    sha = git(project / "lib", "rev-parse", "--short=10", "HEAD").strip()
    shown = run_cli("run", "-e", "w", "--", sys.executable, "nan.py", cwd=project,
                    env={"PYTHONWARNINGS": "default"})
    assert shown.returncode == 0, shown.stderr
    lines = shown.stderr.splitlines()
    assert lines[:2] == [
        f"warning: submodule lib has uncommitted changes: the run keeps its commit {sha} "
        "only (commit them in lib, then run again, to keep them)",
        "warning: metric 'loss' is nan at step 0; recorded as is"]
    assert len(lines) == 3 and lines[2].startswith("gitlog: run ")
    hidden = run_cli("run", "-e", "w", "--", sys.executable, "nan.py", cwd=project,
                     env={"PYTHONWARNINGS": "ignore:gitlog"})  # (by category, the option
    # is read before gitlog can be imported: refused unless gitlog is on PYTHONPATH)
    assert hidden.returncode == 0 and hidden.stderr.startswith("gitlog: run "), hidden.stderr
    alone = subprocess.run([sys.executable, "nan.py"], cwd=project, capture_output=True,
                           text=True, env={**__import__("os").environ,
                                           "PYTHONWARNINGS": "default"})
    assert alone.returncode == 0, alone.stderr
    assert "GitlogWarning: gitlog: metric 'loss' is nan at step 0; recorded as is" in \
        alone.stderr


def _sign(repo: Path, ref: str) -> None:
    """Give ``ref``'s commit a signature header, as commit.gpgsign does (git prints "No
    signature" for it under log.showSignature, having no allowedSignersFile to check)."""
    raw = git(repo, "cat-file", "commit", ref)
    head, message = raw.split("\n\n", 1)
    signed = f"{head}\ngpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lHAAAAAQ==\n " \
             f"-----END SSH SIGNATURE-----\n\n{message}"
    proc = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=repo,
                          input=signed, capture_output=True, text=True, check=True)
    git(repo, "update-ref", ref, proc.stdout.strip())


def test_signed_commits_under_log_show_signature_read_as_any(repo: Path) -> None:
    git(repo, "config", "log.showSignature", "true")  # git log then prints gpg's verdict
    _sign(repo, "refs/heads/main")
    with gitlog.start("s", repo=repo) as run:
        run.log_metric("loss", 0.5)
    assert run.commit is not None
    _sign(repo, "refs/heads/exp/s")
    with gitlog.start("s", repo=repo) as second:
        second.log_metric("loss", 0.25)
    out = run_cli("history", "-m", "loss", "s", "--format", "csv", cwd=repo)
    assert (out.returncode, out.stderr) == (0, "")
    rows = [line.split(",")[3:6] for line in out.stdout.splitlines()[1:]]
    assert rows == [["s: initial code", "0.5", ""], ["s: initial code", "0.25", "-0.25"]]
    assert gitlog.show("s", repo=repo).subject == "s: initial code"


def test_a_log_output_encoding_of_latin1_garbles_no_subject(repo: Path) -> None:
    git(repo, "config", "i18n.logOutputEncoding", "latin1")  # git log re-encodes to it
    git(repo, "commit", "-q", "--allow-empty", "-m", "café au lait")
    with gitlog.start("enc", repo=repo) as run:
        run.log_metric("loss", 0.5)
    assert git(repo, "cat-file", "commit", "exp/enc").split("\n\n", 1)[1].startswith(
        "enc: café au lait\n")
    assert gitlog.show("enc", repo=repo).subject == "enc: café au lait"
    out = run_cli("show", "enc", cwd=repo)
    assert "subject         enc: café au lait\n" in out.stdout


def test_blame_patch_is_gits_own_diff_whatever_the_diff_config(
        repo: Path, tmp_path: Path) -> None:
    tool = tmp_path / "difftool"  # a diff.external (difftastic, a GUI): it must not run
    tool.write_text(f"#!/bin/sh\necho ran > {tmp_path / 'tool-ran'}\necho EXTERNAL\n")
    tool.chmod(0o755)
    git(repo, "config", "diff.external", str(tool))
    git(repo, "config", "color.ui", "always")
    for loss, code in ((0.5, None), (0.25, "print('v2')\n")):
        if code:
            (repo / "train.py").write_text(code)
            git(repo, "commit", "-q", "-am", "v2")
        with gitlog.start("x", repo=repo) as run:
            run.log_metric("loss", loss)
    out = run_cli("blame", "-m", "loss", "x", "-p", "--format", "json", cwd=repo)
    assert out.returncode == 0, out.stderr
    import json

    [row] = json.loads(out.stdout)
    assert row["diff"].endswith("--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n"
                                "-print('train')\n+print('v2')\n")
    assert not (tmp_path / "tool-ran").exists()
