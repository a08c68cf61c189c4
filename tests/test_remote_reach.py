"""A DVC remote that cannot be reached is said as such by push, pull and get, not taken
for one that lacks the artifacts: real git, real DVC, HTTP remotes on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import gitlog
from tests.conftest import git, run_cli
from tests.dvcsetup import make_team, set_remote
from tests.servers import file_server, free_port


def _clones(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A (a folder DVC remote, a bare git remote) and B, a clone of it; returns (a, b,
    store) after A pushed experiment 'alpha' with one model."""
    team = make_team(tmp_path)
    a = team["a"]
    (a / "models").mkdir()
    (a / "models" / "model.pkl").write_text("model of A")
    with gitlog.start("alpha", repo=a) as run:
        run.log_artifact(a / "models" / "model.pkl")
        run.log_metric("loss", 0.5)
    assert run_cli("push", "alpha", cwd=a).returncode == 0
    return a, team["b"], team["store"]


def test_an_unreachable_dvc_remote_is_named_not_blamed_on_pushes(tmp_path: Path) -> None:
    """A DVC HTTP remote that refused the connection read as one that holds nothing: pull
    said 'not on the remote' with the hint to push from the other machine, get 'DVC
    remote does not have it', push 'upload failed'. Each now says the remote is not
    reachable, with what the connection said; a remote that answers still tells what it
    lacks from what it has."""
    a, b, store = _clones(tmp_path)
    port = free_port()  # nothing listens there
    down = f"http://127.0.0.1:{port}/store"
    reason = (f"DVC remote 'storage' ({down}) is not reachable: Cannot connect to host "
              f"127.0.0.1:{port} ssl:default [Connect call failed ('127.0.0.1', {port})]")
    hint = "hint: check the remote's URL ('dvc remote list') and the network; then re-run"
    set_remote(b, "storage", down, level="local")
    proc = run_cli("pull", "alpha", "--format", "json", cwd=b)
    assert proc.returncode == 1
    row = json.loads(proc.stdout)[0]
    assert (row["action"], row["detail"]) == ("not updated", f"artifact 'model.pkl' of run "
                                              f"{run_id(a)}: {reason}")
    assert proc.stderr.splitlines()[1] == (
        f"{hint}; or pass --no-artifacts to take the runs without their artifacts (gitlog get "
        "fetches one later)")
    assert git(b, "branch", "--list", "exp/alpha") == ""
    assert run_cli("pull", "alpha", "--no-artifacts", cwd=b).returncode == 0
    proc = run_cli("get", "alpha", "model.pkl", "-o", str(tmp_path / "got.pkl"), cwd=b)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"Error: artifact 'model.pkl' of run {run_id(a)} is not in the local DVC cache "
        f"({b / '.dvc' / 'cache'}); {reason}", hint]
    assert not (tmp_path / "got.pkl").exists()

    set_remote(a, "storage", down, level="local")
    (a / "models" / "model.pkl").write_text("model of A, again")
    with gitlog.start("alpha", repo=a) as run:
        run.log_artifact(a / "models" / "model.pkl")
    proc = run_cli("push", "alpha", "--format", "json", cwd=a)
    assert proc.returncode == 1
    row = json.loads(proc.stdout)[0]
    assert (row["action"], row["detail"]) == ("not pushed", f"artifact 'model.pkl' of run "
                                              f"{run.id}: {reason}")
    assert proc.stderr.splitlines()[1] == hint

    # A remote that answers: one lacking the artifact says so, as before; one holding it
    # serves it.
    empty = tmp_path / "empty"
    empty.mkdir()
    with file_server(empty) as url:
        set_remote(b, "storage", url, level="local")
        proc = run_cli("get", "alpha", "model.pkl", "-o", str(tmp_path / "got.pkl"), cwd=b)
        assert proc.returncode == 1
        assert proc.stderr.splitlines()[0].endswith(
            "and DVC remote 'storage' does not have it (not on the remote)")
    with file_server(store) as url:
        set_remote(b, "storage", url, level="local")
        proc = run_cli("get", "alpha", "model.pkl", "-o", str(tmp_path / "got.pkl"), cwd=b)
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "got.pkl").read_text() == "model of A"


def run_id(repo: Path) -> str:
    return git(repo, "log", "-1", "--format=%(trailers:key=Gitlog-Run,valueonly)",
               "exp/alpha").strip()
