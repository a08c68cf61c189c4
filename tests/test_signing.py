"""gitlog's own commits are signed when ``commit.gpgSign`` is on, as ``git commit``'s are.

SSH signing needs no network and no agent: ssh-keygen signs with the key file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import gitlog
from gitlog.promote import promote
from gitlog.recorder import GitlogWarning
from tests.conftest import git, make_repo, run_cli


@pytest.fixture
def signed_repo(tmp_path: Path) -> Path:
    """A repository whose commits git signs with an SSH key (commit.gpgSign=true)."""
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ada", "-f",
                    str(key)], check=True, capture_output=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"ada@example.com {(tmp_path / 'key.pub').read_text()}")
    repo = make_repo(tmp_path / "project")
    for name, value in (("gpg.format", "ssh"), ("user.signingKey", f"{key}.pub"),
                        ("gpg.ssh.allowedSignersFile", str(allowed)),
                        ("commit.gpgSign", "true")):
        git(repo, "config", name, value)
    return repo


def verified(repo: Path, rev: str) -> bool:
    return subprocess.run(["git", "verify-commit", rev], cwd=repo,
                          capture_output=True).returncode == 0


def test_runs_and_promotions_are_signed_like_git_commits(signed_repo: Path) -> None:
    with gitlog.start("signed", params={"lr": 0.1}, repo=signed_repo) as run:
        run.log_metric("loss", 0.5)
    assert run.commit and verified(signed_repo, run.commit)
    assert git(signed_repo, "rev-parse", "exp/signed").strip() == run.commit
    assert json.loads(git(signed_repo, "show", f"{run.commit}:.gitlog/metrics.json")) == \
        {"loss": 0.5, "step": 0}
    assert git(signed_repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>", run.commit) == \
        "Ada Trainer <ada@example.com>|Ada Trainer <ada@example.com>\n"
    merged = promote(signed_repo, "signed")
    assert verified(signed_repo, merged.commit)
    # with signing off, the in-process writer's commits carry no signature, as before
    git(signed_repo, "config", "commit.gpgSign", "false")
    with gitlog.start("signed", repo=signed_repo) as plain:
        plain.log_metric("loss", 0.25)
    assert plain.commit and "gpgsig" not in git(signed_repo, "cat-file", "-p", plain.commit)


def test_a_signing_failure_keeps_the_run_for_recover(signed_repo: Path) -> None:
    git(signed_repo, "config", "user.signingKey", str(signed_repo.parent / "gone.pub"))
    with pytest.warns(GitlogWarning) as caught:
        with gitlog.start("keyless", repo=signed_repo) as run:
            run.log_metric("loss", 0.5)
    assert run.commit is None
    [warning] = [str(w.message) for w in caught]
    journal = signed_repo / ".git" / "gitlog" / "runs" / run.id
    assert warning == (
        f"gitlog: could not commit run {run.id}: signing the commit failed (commit.gpgSign "
        f"is on): Couldn't load public key {signed_repo.parent / 'gone.pub'}: No such file "
        f"or directory?. Its data is kept in {journal}; make the key git signs with usable "
        "(user.signingKey, gpg.format; its gpg-agent or ssh-agent), then run 'gitlog "
        "recover' to commit the run")
    assert git(signed_repo, "branch", "--list", "exp/keyless") == ""
    failed = run_cli("recover", "--format", "json", cwd=signed_repo)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)[0]["action"] == "failed"
    assert journal.is_dir()
    git(signed_repo, "config", "user.signingKey", str(signed_repo.parent / "key.pub"))
    done = run_cli("recover", "--format", "json", cwd=signed_repo)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["action"] == "committed"
    assert verified(signed_repo, "exp/keyless")
    assert json.loads(git(signed_repo, "show", "exp/keyless:.gitlog/metrics.json")) == \
        {"loss": 0.5, "step": 0}
