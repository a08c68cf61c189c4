"""``gitlog hooks install / uninstall / status`` and ``gitlog init --hooks``."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from gitlog.errors import GitlogError
from gitlog.hooks import install, is_gitlog_shim, status, uninstall
from tests.conftest import git, make_repo, run_cli
from tests.hookhelp import commit, log_run, message_of

HOOKS = ["pre-commit", "commit-msg", "pre-push", "post-commit", "post-checkout", "post-merge"]


def foreign_hook(path: Path, marker: Path, code: int = 0) -> bytes:
    text = f"#!/bin/sh\necho \"$0 $*\" >> '{marker}'\nexit {code}\n".encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)
    path.chmod(0o755)
    return text


def test_install_writes_executable_shims_with_this_python(repo: Path) -> None:
    done = run_cli("hooks", "install", cwd=repo)
    assert done.returncode == 0, done.stderr
    folder = repo / ".git" / "hooks"
    for name in HOOKS:
        shim = folder / name
        assert os.access(shim, os.X_OK)
        assert f"GITLOG_PYTHON='{sys.executable}'" in shim.read_text()
    report = json.loads(run_cli("hooks", "status", "--format", "json", cwd=repo).stdout)
    assert [r["hook"] for r in report] == HOOKS
    assert {r["state"] for r in report} == {"installed"}
    again = run_cli("hooks", "install", cwd=repo)
    assert again.stdout.count("up to date") == 6


def test_status_names_a_shim_an_older_gitlog_wrote(repo: Path) -> None:
    """A shim from before an upgrade runs that version's text until reinstalled, while
    status said 'installed'."""
    install(repo)
    shim = repo / ".git" / "hooks" / "post-commit"
    shim.write_text(shim.read_text().replace("\n", "\n# as gitlog 0.0.9 wrote it\n", 1))
    states = {h.hook: h.state for h in status(repo).hooks}
    assert states["post-commit"] == "outdated: gitlog hooks install rewrites it"
    assert states["pre-commit"] == "installed"
    assert {h.hook: h.state for h in install(repo).hooks}["post-commit"] == "updated"
    assert {h.state for h in status(repo).hooks} == {"installed"}


def test_foreign_hook_is_chained_run_first_and_restored(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    original = foreign_hook(repo / ".git" / "hooks" / "pre-commit", marker)
    report = install(repo)
    assert {h.hook: h.chained for h in report.hooks}["pre-commit"] is True
    legacy = repo / ".git" / "hooks" / "pre-commit.legacy"
    assert legacy.read_bytes() == original
    (repo / "train.py").write_text("print('v2')\n")
    assert commit(repo, "-a").returncode == 0
    assert "pre-commit" in marker.read_text()
    uninstall(repo)
    assert (repo / ".git" / "hooks" / "pre-commit").read_bytes() == original
    assert not legacy.exists()
    assert not (repo / ".git" / "hooks" / "commit-msg").exists()


def test_failing_chained_hook_blocks_the_commit(repo: Path, tmp_path: Path) -> None:
    foreign_hook(repo / ".git" / "hooks" / "pre-commit", tmp_path / "m", code=1)
    install(repo)
    (repo / "train.py").write_text("print('v2')\n")
    assert commit(repo, "-a").returncode == 1


def test_chained_pre_push_hook_gets_gits_ref_lines(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "refs.txt"
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text(f"#!/bin/sh\ncat >> '{marker}'\n")
    hook.chmod(0o755)
    install(repo)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "push", "-q", str(remote), "main")
    head = git(repo, "rev-parse", "HEAD").strip()
    assert marker.read_text().startswith(f"refs/heads/main {head} refs/heads/main ")


def test_a_hook_and_its_legacy_both_present_is_refused(repo: Path, tmp_path: Path) -> None:
    folder = repo / ".git" / "hooks"
    foreign_hook(folder / "commit-msg", tmp_path / "a")
    foreign_hook(folder / "commit-msg.legacy", tmp_path / "b")
    with pytest.raises(GitlogError, match="commit-msg.legacy both exist") as info:
        install(repo)
    assert "--hook" in (info.value.hint or "")
    assert not (folder / "pre-commit").exists()  # nothing half-installed


def test_hooks_path_inside_the_repo_is_used(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", ".githooks")
    report = install(repo)
    assert report.folder == (repo / ".githooks").resolve()
    assert (repo / ".githooks" / "pre-commit").exists()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_a_hooks_folder_committed_in_the_repo_is_left_as_committed(repo: Path) -> None:
    """husky-style: core.hooksPath is a folder of the work tree whose hooks are
    committed. A committed hook is not replaced; gitlog's shims (which name this
    machine's Python) stay out of 'git add -A'; uninstall leaves nothing behind."""
    husky = repo / ".husky"
    husky.mkdir()
    (husky / "pre-commit").write_text("#!/bin/sh\necho team hook\n")
    (husky / "pre-commit").chmod(0o755)
    git(repo, "add", ".husky")
    assert commit(repo, message="husky").returncode == 0
    git(repo, "config", "core.hooksPath", ".husky")
    exclude = repo / ".git" / "info" / "exclude"
    before = exclude.read_text()
    refused = run_cli("hooks", "install", cwd=repo)
    assert refused.returncode == 1
    assert refused.stderr == (
        "Error: cannot chain the pre-commit hook: .husky/pre-commit is committed in this "
        "repository, and chaining would replace it in your work tree\n"
        "hint: call gitlog from it instead, with the line: gitlog hooks run pre-commit "
        "\"$@\" (or leave pre-commit out: gitlog hooks install --hook commit-msg --hook "
        "pre-push --hook post-commit --hook post-checkout --hook post-merge)\n")
    assert sorted(p.name for p in husky.iterdir()) == ["pre-commit"]
    assert run_cli("hooks", "install", "--hook", "commit-msg", cwd=repo).returncode == 0
    assert (husky / "commit-msg").exists()
    git(repo, "add", "-A")
    assert git(repo, "status", "--porcelain") == ""
    assert run_cli("hooks", "uninstall", cwd=repo).returncode == 0
    assert exclude.read_text() == before
    assert sorted(p.name for p in husky.iterdir()) == ["pre-commit"]


def test_committed_hooks_refusal_gives_the_install_command_that_leaves_them_out(
        repo: Path) -> None:
    """The hint said '--hook ...' and named one committed hook of several: the command it
    led to failed again on the next one."""
    husky = repo / ".husky"
    husky.mkdir()
    for name in ("pre-commit", "post-merge"):
        (husky / name).write_text("#!/bin/sh\necho team hook\n")
    git(repo, "add", ".husky")
    assert commit(repo, message="husky").returncode == 0
    git(repo, "config", "core.hooksPath", ".husky")
    refused = run_cli("hooks", "install", cwd=repo)
    assert refused.returncode == 1
    error, hint = refused.stderr.splitlines()
    assert error == ("Error: cannot chain the post-merge hook: .husky/post-merge is committed "
                     "in this repository, and chaining would replace it in your work tree "
                     "(so are: .husky/pre-commit)")
    assert hint == ("hint: call gitlog from each instead, with the line: gitlog hooks run "
                    "NAME \"$@\" (NAME: post-merge, pre-commit) (or leave post-merge, "
                    "pre-commit out: gitlog hooks install --hook commit-msg --hook pre-push "
                    "--hook post-commit --hook post-checkout)")
    command = hint.split("out: gitlog ")[1].rstrip(")").split()
    done = run_cli(*command, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in husky.iterdir()) == [
        "commit-msg", "post-checkout", "post-commit", "post-merge", "pre-commit", "pre-push"]


def test_hooks_path_outside_the_repo_needs_force(repo: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared hooks"
    git(repo, "config", "core.hooksPath", str(shared))
    refused = run_cli("hooks", "install", cwd=repo)
    assert refused.returncode == 1
    assert "core.hooksPath points outside this repository" in refused.stderr
    assert "hint: install there anyway with 'gitlog hooks install --force'" in refused.stderr
    assert not shared.exists()
    assert run_cli("hooks", "install", "--force", cwd=repo).returncode == 0
    assert (shared / "pre-commit").exists()


def test_uninstall_leaves_other_tools_hooks_alone(repo: Path, tmp_path: Path) -> None:
    install(repo, ["pre-commit"])
    other = foreign_hook(repo / ".git" / "hooks" / "commit-msg", tmp_path / "m")
    states = {h.hook: h.state for h in uninstall(repo).hooks}
    assert states["pre-commit"] == "removed"
    assert states["commit-msg"] == "not gitlog's: left alone"
    assert (repo / ".git" / "hooks" / "commit-msg").read_bytes() == other


def test_unknown_hook_name_is_a_clear_error(repo: Path) -> None:
    done = run_cli("hooks", "install", "--hook", "pre-comit", cwd=repo)
    assert done.returncode == 1
    assert "Error: unknown hook 'pre-comit'" in done.stderr
    assert "hint: choose among pre-commit, commit-msg" in done.stderr


def test_unknown_hook_name_comes_before_a_hooks_path_outside_the_repo(repo: Path,
                                                                      tmp_path: Path) -> None:
    """The error was about core.hooksPath, and its hint ('--force') then failed on the
    name: the name is the first thing to fix."""
    git(repo, "config", "core.hooksPath", str(tmp_path / "shared"))
    done = run_cli("hooks", "install", "--hook", "nosuch", cwd=repo)
    assert done.returncode == 1
    assert done.stderr == ("Error: unknown hook 'nosuch'\nhint: choose among pre-commit, "
                           "commit-msg, pre-push, post-commit, post-checkout, post-merge\n")
    assert not (tmp_path / "shared").exists()


def test_init_hooks_sets_everything_up(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "p")
    done = run_cli("init", "--hooks", "--no-dvc", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "installed hooks (pre-commit, commit-msg" in done.stderr
    assert (repo / ".gitlog.yaml").exists()
    assert all(h.state == "installed" for h in status(repo).hooks)
    # One line for the setup, one for the hooks (it said '... in HOOKS_FOLDER in ROOT').
    assert done.stderr.splitlines()[:2] == [
        f"gitlog: wrote .gitlog.yaml, added gitlog's entries to dvc.yaml in {repo}",
        "gitlog: installed hooks (pre-commit, commit-msg, pre-push, post-commit, "
        f"post-checkout, post-merge) in {repo / '.git' / 'hooks'}"]
    again = run_cli("init", "--hooks", "--no-dvc", cwd=repo)
    assert again.stderr.splitlines()[:2] == [
        f"gitlog: already set up in {repo}", f"gitlog: hooks up to date in {repo}/.git/hooks"]


def test_init_hooks_refused_still_says_what_was_set_up(tmp_path: Path) -> None:
    """With core.hooksPath outside the repository, init wrote its files and then showed
    only the hooks error: nothing said the config was written or to commit it."""
    repo = make_repo(tmp_path / "p")
    git(repo, "config", "core.hooksPath", str(tmp_path / "shared"))
    done = run_cli("init", "--hooks", "--no-dvc", cwd=repo)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0] == f"gitlog: wrote .gitlog.yaml, added gitlog's entries to dvc.yaml in {repo}"
    assert lines[1].startswith("Error: core.hooksPath points outside this repository")
    assert (repo / ".gitlog.yaml").exists()


def test_the_readme_workflow_from_init_to_a_commit_with_its_run(tmp_path: Path) -> None:
    """init says to commit the setup files: left out, a first run of the workspace
    workflow does not snapshot them and the pre-commit hook refuses its commit."""
    repo = make_repo(tmp_path / "p")
    done = run_cli("init", "--hooks", "--no-dvc", cwd=repo)
    assert done.stderr.endswith("gitlog: commit the setup before the first run: git add "
                                ".gitlog.yaml dvc.yaml && git commit -m 'Set up gitlog'\n")
    git(repo, "add", ".gitlog.yaml", "dvc.yaml")
    assert commit(repo, message="Set up gitlog").returncode == 0
    assert "commit the setup" not in run_cli("init", "--no-dvc", cwd=repo).stderr
    assert run_cli("exp", "new", "lr-sweep", "--checkout", cwd=repo).returncode == 0
    (repo / "train.py").write_text("print('lower lr')\n")
    run = log_run(repo, loss=0.25)
    git(repo, "add", "-A")
    done = commit(repo, message="lower the learning rate")
    assert done.returncode == 0, done.stderr
    assert f"Gitlog-Run: {run.id}\nGitlog-Experiment: lr-sweep\n" in message_of(repo)


def framework_hook(path: Path, marker: Path) -> bytes:
    """The pre-commit framework's hook as its hook-impl behaves: it runs NAME.legacy
    (the hook it found there, kept in 'migration mode') first, refusing to be run as
    that file itself, then its own checks; the commit fails if either failed."""
    text = ("#!/bin/sh\n"
            "# File generated by pre-commit: https://pre-commit.com\n"
            "# ID: 138fd403232d2ddd5efb44317e38bf03\n"
            "if [ -n \"$PRE_COMMIT_RUNNING_LEGACY\" ]; then\n"
            "    echo \"bug: pre-commit's script is installed in migration mode\" >&2\n"
            "    exit 1\n"
            "fi\n"
            "HERE=$(cd \"$(dirname \"$0\")\" && pwd)\n"
            "legacy=0\n"
            "if [ -x \"$HERE/pre-commit.legacy\" ]; then\n"
            "    PRE_COMMIT_RUNNING_LEGACY=1 \"$HERE/pre-commit.legacy\" \"$@\"\n"
            "    legacy=$?\n"
            "fi\n"
            f"echo framework >> '{marker}'\n"
            "exit $legacy\n").encode()
    path.write_bytes(text)
    path.chmod(0o755)
    return text


def test_install_beside_the_pre_commit_frameworks_hook(repo: Path, tmp_path: Path) -> None:
    """Moved to pre-commit.legacy, the framework's hook ran itself as its own legacy hook
    and failed every commit ('installed in migration mode'); gitlog's shim now goes to
    pre-commit.legacy, which the framework runs first."""
    folder = repo / ".git" / "hooks"
    marker = tmp_path / "ran.txt"
    original = framework_hook(folder / "pre-commit", marker)
    report = install(repo)
    states = {h.hook: h.state for h in report.hooks}
    assert states["pre-commit"] == ("installed as pre-commit.legacy, run by the pre-commit "
                                    "framework's pre-commit hook")
    assert (folder / "pre-commit").read_bytes() == original
    assert is_gitlog_shim(folder / "pre-commit.legacy")
    (repo / "README.md").write_text("notes\n")
    git(repo, "add", "README.md")
    done = commit(repo)
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "framework\n"
    assert_code_commit_on_experiment_refused(repo)
    again = {h.hook: h.state for h in install(repo).hooks}
    assert again["pre-commit"] == ("up to date as pre-commit.legacy, run by the pre-commit "
                                   "framework's pre-commit hook")
    shown = {h.hook: h.state for h in status(repo).hooks}
    assert shown["pre-commit"] == ("installed as pre-commit.legacy, run by the pre-commit "
                                   "framework's pre-commit hook")
    removed = {h.hook: h.state for h in uninstall(repo).hooks}
    assert removed["pre-commit"] == "removed"
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".sample")) == \
        ["pre-commit"]
    assert (folder / "pre-commit").read_bytes() == original


def assert_code_commit_on_experiment_refused(repo: Path) -> None:
    """A code change committed on exp/fw without a run is refused: gitlog's pre-commit
    policy ran."""
    git(repo, "checkout", "-q", "-b", "exp/fw")
    (repo / "train.py").write_text("print('v2')\n")
    refused = commit(repo, "-a")
    assert refused.returncode == 1
    assert "gitlog pre-commit: code changed on experiment fw (train.py) without a logged " \
        "run" in refused.stderr


def test_a_shim_another_tool_moved_to_legacy_keeps_its_policy(repo: Path,
                                                              tmp_path: Path) -> None:
    """'pre-commit install' after gitlog's: the framework keeps gitlog's shim as
    pre-commit.legacy and runs it; the shim read its hook name from that file name and
    checked nothing ('gitlog has no pre-commit.legacy hook')."""
    install(repo)
    folder = repo / ".git" / "hooks"
    os.rename(folder / "pre-commit", folder / "pre-commit.legacy")
    framework_hook(folder / "pre-commit", tmp_path / "ran.txt")
    assert_code_commit_on_experiment_refused(repo)
    assert {h.hook: h.state for h in status(repo).hooks}["pre-commit"] == \
        "installed as pre-commit.legacy, run by the pre-commit framework's pre-commit hook"
    updated = {h.hook: h.state for h in install(repo, force=True).hooks}
    assert updated["pre-commit"] == ("updated as pre-commit.legacy, run by the pre-commit "
                                     "framework's pre-commit hook")


def test_install_repairs_a_frameworks_hook_moved_aside_before(repo: Path,
                                                              tmp_path: Path) -> None:
    """An earlier gitlog moved the framework's hook to pre-commit.legacy, where it failed
    every commit; installing again puts it back and the shim beside it."""
    folder = repo / ".git" / "hooks"
    install(repo)
    original = framework_hook(folder / "pre-commit.legacy", tmp_path / "ran.txt")
    assert commit(repo, "--allow-empty").returncode == 1  # 'installed in migration mode'
    report = {h.hook: h.state for h in install(repo).hooks}
    assert report["pre-commit"] == ("installed as pre-commit.legacy, run by the pre-commit "
                                    "framework's pre-commit hook")
    assert (folder / "pre-commit").read_bytes() == original
    done = commit(repo, "--allow-empty")
    assert done.returncode == 0, done.stderr


def test_a_relative_hooks_path_names_the_worktrees_left_unchecked(repo: Path,
                                                                  tmp_path: Path) -> None:
    """With core.hooksPath relative, each worktree runs the hooks of its own folder: the
    shims installed in the main worktree left commits in a linked one unchecked, while
    the README said linked worktrees share the hooks."""
    git(repo, "config", "core.hooksPath", ".githooks")
    second = tmp_path / "second"
    git(repo, "worktree", "add", "-q", "-b", "exp/side", str(second), "main")
    done = run_cli("hooks", "install", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "gitlog: core.hooksPath (.githooks) is relative, so each worktree runs the hooks in "
        f"its own .githooks: commits in {second} are not checked; run 'gitlog hooks "
        "install' there too")
    there = run_cli("hooks", "install", cwd=second)
    assert there.returncode == 0, there.stderr
    assert "gitlog:" not in there.stderr
    (second / "train.py").write_text("print('side')\n")
    refused = commit(second, "-a")
    assert refused.returncode == 1 and "without a logged run" in refused.stderr
    assert "gitlog:" not in run_cli("hooks", "install", cwd=repo).stderr


def test_a_global_hooks_path_refusal_gives_a_command_that_works(repo: Path,
                                                                tmp_path: Path) -> None:
    """The hint said 'git config --unset core.hooksPath', which fails (exit 5) when the
    setting is in the global config, not the repository's."""
    shared = tmp_path / "shared hooks"
    config = tmp_path / "gitconfig"
    config.write_text(f"[core]\n\thooksPath = {shared}\n")
    env = {"GIT_CONFIG_GLOBAL": str(config)}
    refused = run_cli("hooks", "install", cwd=repo, env=env)
    assert refused.returncode == 1
    own = (repo / ".git" / "hooks").resolve()
    assert refused.stderr.splitlines()[-1] == (
        "hint: install there anyway with 'gitlog hooks install --force', or use this "
        f"repository's own hooks: git config core.hooksPath {shlex.quote(str(own))}")
    git(repo, "config", "core.hooksPath", str(own), env=env)
    done = run_cli("hooks", "install", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    assert (own / "pre-commit").exists() and not shared.exists()


def husky_repo(repo: Path, marker: Path) -> Path:
    """husky v9's layout: core.hooksPath .husky/_, where husky writes each hook as
    '. "${0%/*}/h"' and its h runs the user's .husky/NAME, named after the hook's file."""
    generated = repo / ".husky" / "_"
    generated.mkdir(parents=True)
    (generated / ".gitignore").write_text("*")
    (generated / "h").write_text(
        "#!/usr/bin/env sh\n"
        "n=$(basename \"$0\")\n"
        "s=$(dirname \"$(dirname \"$0\")\")/$n\n"
        "[ ! -f \"$s\" ] && exit 0\n"
        "sh -e \"$s\" \"$@\"\n")
    for name in HOOKS:
        (generated / name).write_text("#!/usr/bin/env sh\n. \"${0%/*}/h\"")
        (generated / name).chmod(0o755)
    (repo / ".husky" / "pre-commit").write_text(f"echo team-check >> '{marker}'\n")
    git(repo, "add", ".husky")
    assert commit(repo, message="husky").returncode == 0
    git(repo, "config", "core.hooksPath", ".husky/_")
    return generated


def test_husky_hooks_are_not_chained_but_call_gitlog(repo: Path, tmp_path: Path) -> None:
    """Moved to NAME.legacy, husky's hook looked for .husky/NAME.legacy and ran nothing:
    the team's .husky/pre-commit was silently skipped on every commit."""
    marker = tmp_path / "ran.txt"
    generated = husky_repo(repo, marker)
    before = {p.name: p.read_bytes() for p in generated.iterdir()}
    refused = run_cli("hooks", "install", cwd=repo)
    assert refused.returncode == 1
    assert refused.stderr == (
        "Error: cannot chain the pre-commit hook: .husky/_/pre-commit is husky's, which runs "
        ".husky/pre-commit by its own file name (renamed, it would run nothing); so are "
        "commit-msg, pre-push, post-commit, post-checkout, post-merge\n"
        "hint: call gitlog from your husky scripts instead, with the line: gitlog hooks run "
        "NAME \"$@\" in each .husky/NAME (NAME: pre-commit, commit-msg, pre-push, "
        "post-commit, post-checkout, post-merge)\n")
    assert {p.name: p.read_bytes() for p in generated.iterdir()} == before
    one = run_cli("hooks", "install", "--hook", "pre-commit", cwd=repo)
    assert one.stderr.splitlines()[-1] == (
        "hint: call gitlog from .husky/pre-commit instead, with the line: gitlog hooks run "
        "pre-commit \"$@\"")
    # What the hint says works: the team's check and gitlog's both run.
    script = repo / ".husky" / "pre-commit"
    script.write_text(script.read_text()
                      + f"'{sys.executable}' -m gitlog hooks run pre-commit \"$@\"\n")
    git(repo, "checkout", "-q", "-b", "exp/husky")
    (repo / "train.py").write_text("print('v2')\n")
    refused = commit(repo, "--", "train.py")
    assert refused.returncode == 1 and "without a logged run" in refused.stderr
    assert marker.read_text() == "team-check\n"


def test_husky_hooks_an_earlier_install_moved_aside_are_named(repo: Path,
                                                              tmp_path: Path) -> None:
    """Installed before gitlog knew husky, the shims had moved husky's hooks to
    NAME.legacy, where they run nothing; install now says so and how to undo it."""
    generated = husky_repo(repo, tmp_path / "ran.txt")
    for name in HOOKS:
        os.rename(generated / name, generated / f"{name}.legacy")
    install(repo, force=True)  # what an earlier gitlog did
    refused = run_cli("hooks", "install", "--hook", "pre-commit", cwd=repo)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1] == (
        "hint: put husky's hooks back with 'gitlog hooks uninstall', then call gitlog from "
        ".husky/pre-commit instead, with the line: gitlog hooks run pre-commit \"$@\"")
    assert run_cli("hooks", "uninstall", cwd=repo).returncode == 0
    assert (generated / "pre-commit").read_text() == "#!/usr/bin/env sh\n. \"${0%/*}/h\""
