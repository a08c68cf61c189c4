"""Run.log_artifact, gitlog artifacts and gitlog get: real git, real DVC cache."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gitlog
from gitlog.artifacts import DvcMissingError
from gitlog.layout import yaml_load
from gitlog.tracking import ArtifactPathError
from tests.conftest import git, make_repo, run_cli, state_of
from tests.dvcsetup import cache_files


def user_state(repo: Path) -> dict[str, bytes]:
    """state_of without .dvc/ (the DVC cache is where artifacts are meant to go)."""
    return {k: v for k, v in state_of(repo).items() if not k.startswith(".dvc/")}


def show(repo: Path, rev: str, path: str) -> str:
    return git(repo, "show", f"{rev}:{path}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "project", {"train.py": "print('train')\n"})
    from gitlog.project import init_project

    init_project(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "gitlog init")
    return repo


def test_artifacts_go_to_dvc_cache_and_pointers_only_into_the_run_commit(project: Path) -> None:
    model = project / "models" / "model.pkl"
    model.parent.mkdir()
    model.write_bytes(b"weights" * 1000)
    (project / "features" / "sub").mkdir(parents=True)
    (project / "features" / "a.txt").write_text("a\n")
    (project / "features" / "sub" / "b.txt").write_text("b\n")
    before = user_state(project)
    with gitlog.start("base", repo=project) as run:
        record = run.log_artifact(model, meta={"framework": "sklearn"})
        run.log_artifact(project / "features", type="data")
        run.log_metric("loss", 0.5)
    assert user_state(project) == before  # no .dvc file, no .gitignore line, nothing
    md5 = hashlib.md5(model.read_bytes()).hexdigest()
    assert record == {"name": "model.pkl", "type": "model", "path": "models/model.pkl",
                      "md5": md5, "size": 7000, "meta": {"framework": "sklearn"}}
    pointer = yaml_load(show(project, run.commit, ".gitlog/artifacts/model.pkl.dvc"))
    assert pointer == {"outs": [{"md5": md5, "size": 7000, "hash": "md5",
                                 "path": "../../models/model.pkl", "type": "model",
                                 "meta": {"framework": "sklearn"}}]}
    arts = yaml_load(show(project, run.commit, ".gitlog/run.yaml"))["artifacts"]
    assert arts["model.pkl"]["md5"] == md5
    assert arts["features"]["md5"].endswith(".dir") and arts["features"]["nfiles"] == 2
    assert arts["features"]["type"] == "data" and arts["features"]["size"] == 4
    cached = project / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    assert cached.read_bytes() == model.read_bytes()


def dvc_checkout_of(project: Path, branch: str, clone: Path) -> Path:
    """A clone of ``branch`` sharing ``project``'s DVC cache, after DVC's own checkout."""
    git(clone.parent, "clone", "-q", "-b", branch, str(project), str(clone))
    (clone / ".dvc" / "config.local").write_text(
        f"[cache]\n    dir = {project / '.dvc' / 'cache'}\n")
    proc = subprocess.run([sys.executable, "-m", "dvc", "checkout"], cwd=clone,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return clone


def test_dvc_itself_restores_an_artifact_from_the_run_commit(project: Path, tmp_path: Path) -> None:
    model = project / "model.bin"
    model.write_bytes(os.urandom(4096))
    with gitlog.start("base", repo=project) as run:
        run.log_artifact(model, name="weights")
    clone = dvc_checkout_of(project, "exp/base", tmp_path / "clone")
    assert (clone / "model.bin").read_bytes() == model.read_bytes()


def test_an_artifact_pointer_reads_the_same_in_yaml_1_1(project: Path, tmp_path: Path) -> None:
    """The .dvc pointer was written by ruamel's round-trip dumper, not gitlog's YAML
    writer: meta {'ok': 'yes', 'at': '10:30', 'lr': 1e-05} read in PyYAML as True, 630 and
    the string '1e-05'. It is now written as every YAML file of gitlog, keys in the order
    'dvc add' writes them, and DVC still restores the artifact from it."""
    yaml = pytest.importorskip("yaml")
    model = project / "model.bin"
    model.write_bytes(b"w")
    meta = {"ok": "yes", "at": "10:30", "lr": 1e-05}
    with gitlog.start("meta", repo=project) as run:
        run.log_artifact(model, meta=meta)
    text = show(project, run.commit, ".gitlog/artifacts/model.bin.dvc")
    assert text == ("outs:\n- md5: f1290186a5d0b1ceab27f4e77c0c5d68\n  size: 1\n  hash: md5\n"
                    "  path: ../../model.bin\n  type: model\n  meta:\n    ok: 'yes'\n"
                    "    at: '10:30'\n    lr: 1.0e-05\n")
    assert yaml.safe_load(text)["outs"][0]["meta"] == meta == \
        yaml_load(text)["outs"][0]["meta"]
    clone = dvc_checkout_of(project, "exp/meta", tmp_path / "clone")
    assert (clone / "model.bin").read_bytes() == b"w"


def test_dvcignore_is_honoured_as_dvc_add_honours_it(project: Path, tmp_path: Path) -> None:
    """A folder artifact took in the files .dvcignore leaves out: its md5 was not the one
    'dvc add' records, and in a checkout of the run 'dvc status' said 'modified: data'
    right after 'dvc checkout'. A file .dvcignore ignores was tracked too, and its pointer
    stopped 'dvc checkout' and 'dvc status' of that commit ('is ignored by .dvcignore')."""
    with (project / ".dvcignore").open("a") as fh:
        fh.write("*.tmp\n")
    git(project, "commit", "-qam", "ignore scratch files")
    (project / "data").mkdir()
    (project / "data" / "a.txt").write_text("a\n")
    (project / "data" / "scratch.tmp").write_text("junk\n")
    (project / "weights.tmp").write_text("w")
    with gitlog.start("ign", repo=project) as run:
        record = run.log_artifact(project / "data")
        with pytest.raises(ArtifactPathError) as info:
            run.log_artifact(project / "weights.tmp")
    # what 'dvc add data' records for a folder holding a.txt alone
    assert (record["md5"], record["size"], record["nfiles"]) == (
        "465a62c55506cd2fa10372c1f9ba4b5e.dir", 2, 1)
    assert (str(info.value), info.value.hint) == (
        f"cannot log artifact {project / 'weights.tmp'}: weights.tmp is ignored by "
        ".dvcignore: DVC could not restore it",
        "take its pattern out of .dvcignore, or log another path")
    clone = dvc_checkout_of(project, "exp/ign", tmp_path / "clone")
    assert sorted(p.name for p in (clone / "data").iterdir()) == ["a.txt"]
    proc = subprocess.run([sys.executable, "-m", "dvc", "status"], cwd=clone,
                          capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (0, "Data and pipelines are up to date.\n")


def test_a_branch_run_commit_ignores_its_artifacts_as_dvc_add_would(project: Path,
                                                                   tmp_path: Path) -> None:
    """A checkout of a branch-mode run, its artifacts restored by DVC, showed them as
    untracked ('?? models/'), inviting a 'git add' of the model. The run commit now has
    the .gitignore line 'dvc add' writes, unless a committed .gitignore has one; the
    working tree still gets nothing."""
    (project / "data").mkdir()
    (project / "data" / ".gitignore").write_text("*.csv\n")
    git(project, "add", "data/.gitignore")
    git(project, "commit", "-qm", "ignore csv")
    (project / ".git" / "info" / "exclude").write_text("/models/\n")  # this clone only
    (project / "models").mkdir()
    (project / "models" / "model.pkl").write_text("weights")
    (project / "models" / "best [1].pkl").write_text("best")
    (project / "data" / "train.csv").write_text("1,2\n")
    before = user_state(project)
    with gitlog.start("ignored", repo=project) as run:
        run.log_artifact(project / "models" / "model.pkl")
        run.log_artifact(project / "models" / "best [1].pkl", name="best")
        run.log_artifact(project / "data" / "train.csv", type="data")
        run.log_metric("loss", 0.25)
    assert user_state(project) == before
    assert show(project, run.commit, "models/.gitignore") == "/best \\[1\\].pkl\n/model.pkl\n"
    assert show(project, run.commit, "data/.gitignore") == "*.csv\n"  # as committed
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", "exp/ignored", str(project), str(clone))
    (clone / ".dvc" / "config.local").write_text(
        f"[cache]\n    dir = {project / '.dvc' / 'cache'}\n")
    proc = subprocess.run([sys.executable, "-m", "dvc", "checkout"], cwd=clone,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (clone / "models" / "best [1].pkl").read_text() == "best"
    assert git(clone, "status", "--porcelain", "--untracked-files=all") == ""
    # the line is no code change: a run without artifacts next shows none
    with gitlog.start("ignored", repo=project) as again:
        again.log_metric("loss", 0.5)
    proc = run_cli("history", "ignored", "--format", "json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert [r["code_changes"] for r in json.loads(proc.stdout)] == [None, []]


def test_same_content_is_stored_once(project: Path) -> None:
    payload = os.urandom(200_000)
    for name in ("a.bin", "b.bin"):
        (project / name).write_bytes(payload)
    with gitlog.start("dedup", repo=project) as run:
        run.log_artifact(project / "a.bin")
    count = len(cache_files(project))
    with gitlog.start("dedup", repo=project) as run:
        run.log_artifact(project / "b.bin")
        run.log_artifact(project / "a.bin")
    assert len(cache_files(project)) == count
    arts = yaml_load(show(project, run.commit, ".gitlog/run.yaml"))["artifacts"]
    assert arts["a.bin"]["md5"] == arts["b.bin"]["md5"]


def test_logging_a_name_again_replaces_it_and_overlaps_are_refused(project: Path) -> None:
    ckpt = project / "ckpt.pt"
    with gitlog.start("ckpt", repo=project) as run:
        for epoch in range(3):
            ckpt.write_text(f"epoch {epoch}")
            run.log_artifact(ckpt, name="checkpoint")
        (project / "out").mkdir()
        (project / "out" / "x.bin").write_text("x")
        run.log_artifact(project / "out")
        with pytest.raises(gitlog.GitlogError, match="overlaps artifact 'out'"):
            run.log_artifact(project / "out" / "x.bin")
    arts = yaml_load(show(project, run.commit, ".gitlog/run.yaml"))["artifacts"]
    assert sorted(arts) == ["checkpoint", "out"]
    assert arts["checkpoint"]["md5"] == hashlib.md5(b"epoch 2").hexdigest()


def test_file_names_with_blanks_or_other_scripts_name_their_artifacts(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'my model.pkl' and 'mödel.pkl' (DVC tracks both) were refused as names unless
    name= was given; they name their artifacts now (NFC, as macOS may give 'ö' as two
    characters). A file name that still cannot be one says to pass name=."""
    models = project / "models"
    models.mkdir()
    (models / "my model.pkl").write_text("blank")
    (models / "mo\u0308del.pkl").write_text("umlaut")  # decomposed, as macOS writes it
    (models / "model#1.pkl").write_text("hash")
    monkeypatch.chdir(project)
    with gitlog.start("names", repo=project) as run:
        assert run.log_artifact(models / "my model.pkl")["name"] == "my model.pkl"
        assert run.log_artifact(models / "mo\u0308del.pkl")["name"] == "m\u00f6del.pkl"
        with pytest.raises(gitlog.GitlogError) as refused:
            run.log_artifact("models/model#1.pkl")
    assert (str(refused.value), refused.value.hint) == (
        "invalid artifact name 'model#1.pkl': use letters, digits, blanks and _ . - + = @ %, "
        "starting with a letter, digit or _, with '/' between groups (the name comes from "
        "the file name)", "pass a name: log_artifact('models/model#1.pkl', name='model-1.pkl')")
    assert git(project, "ls-tree", "-z", "--name-only", f"{run.commit}:.gitlog/artifacts"
               ).split("\0")[:-1] == ["my model.pkl.dvc", "m\u00f6del.pkl.dvc"]
    for name, text in (("my model.pkl", "blank"), ("m\u00f6del.pkl", "umlaut"),
                       ("mo\u0308del.pkl", "umlaut")):
        proc = run_cli("get", "names", name, "-o", str(tmp_path / "out.pkl"), "--force",
                       cwd=project)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "out.pkl").read_text() == text


def test_bad_artifact_paths_give_one_clear_error_and_keep_the_run(project: Path,
                                                                   tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_text("secret")
    (project / "link.bin").symlink_to(outside)
    (project / "bundle").mkdir()
    (project / "bundle" / "ok.txt").write_text("ok")
    (project / "bundle" / "escape").symlink_to(outside)
    (project / "raw.csv").write_text("1\n")
    (project / "raw.csv.dvc").write_text("outs:\n- md5: b026324c6904b2a9cb4b88d6d61c81d1\n"
                                         "  size: 2\n  hash: md5\n  path: raw.csv\n")
    with (project / "dvc.yaml").open("a") as fh:
        fh.write("stages:\n  train:\n    cmd: python train.py\n    outs:\n    - out/\n")
    (project / "out").mkdir()
    (project / "out" / "model.pkl").write_text("m")
    git(project, "add", "raw.csv.dvc", "dvc.yaml")
    git(project, "commit", "-q", "-m", "data and a pipeline tracked by DVC")
    cases = [(outside, "outside the repository"),
             (project / "link.bin", "goes through a symlink out of the repository"),
             (project / "bundle", "holds a symlink out of the repository: bundle/escape"),
             (project / "nope.bin", "no such file or folder"),
             (project / ".git" / "HEAD", "nor live in .git/"),
             (project / "train.py", "train.py is tracked by git"),
             (project / "raw.csv", "raw.csv is an output of raw.csv.dvc already"),
             (project / "out" / "model.pkl", r"out/model.pkl is an output of dvc.yaml \(stage "
                                             r"train\) already")]
    with gitlog.start("bad", repo=project) as run:
        for path, message in cases:
            with pytest.raises(ArtifactPathError, match=message) as info:
                run.log_artifact(path)
            assert info.value.hint and "\n" not in str(info.value)
        run.log_metric("loss", 1.0)  # the run is intact
    assert run.status == "completed"
    assert "artifacts" not in yaml_load(show(project, run.commit, ".gitlog/run.yaml"))
    assert outside.read_text() == "secret"


def test_a_dvc_cache_that_cannot_be_written_is_one_clear_error(project: Path,
                                                               tmp_path: Path) -> None:
    """A DVC cache folder that cannot take the file (here a file in its place; a full
    disk) raised DVC's bare OSError ('[Errno 20] Not a directory: .../files/md5') out of
    log_artifact. It is a GitlogError naming the artifact, the cache and the fix; the run
    goes on and the working tree is left as it was."""
    from tests.dvcsetup import dvc

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    dvc(project, "cache", "dir", "--local", str(blocker))
    (project / "models").mkdir()
    (project / "models" / "m.pkl").write_text("weights")
    before = user_state(project)
    with gitlog.start("nocache", repo=project) as run:
        with pytest.raises(gitlog.GitlogError) as info:
            run.log_artifact(project / "models" / "m.pkl")
        run.log_metric("loss", 1.0)
    assert str(info.value) == (f"cannot store artifact 'm.pkl' (models/m.pkl) in the DVC "
                               f"cache {blocker}: Not a directory")
    assert info.value.hint == ("free space or fix the cache folder ('dvc cache dir'), then "
                               "log it again")
    assert run.status == "completed"
    assert "artifacts" not in yaml_load(show(project, run.commit, ".gitlog/run.yaml"))
    assert git(project, "ls-tree", "-r", "--name-only", run.commit, ".gitlog/artifacts",
               "models") == ""
    assert user_state(project) == before


def test_a_folder_holding_files_git_tracks_names_them(project: Path) -> None:
    """A folder where git tracks one file (data/README.md) was refused as 'data is tracked
    by git', with the hint 'git rm -r --cached data', which takes the README out of git
    too. The error names the tracked files; the run and the working tree are kept."""
    (project / "data").mkdir()
    (project / "data" / "README.md").write_text("about the data\n")
    (project / "data" / "notes.md").write_text("more\n")
    git(project, "add", "data")
    git(project, "commit", "-q", "-m", "describe the data")
    (project / "data" / "train.csv").write_text("1,2\n")
    before = user_state(project)
    with gitlog.start("folder", repo=project) as run:
        with pytest.raises(ArtifactPathError) as folder:
            run.log_artifact(project / "data")
        with pytest.raises(ArtifactPathError) as file:
            run.log_artifact(project / "data" / "README.md")
        run.log_artifact(project / "data" / "train.csv")
    assert (str(folder.value), folder.value.hint) == (
        f"cannot log artifact {project / 'data'}: folder data holds files git tracks: "
        "data/README.md and 1 more; an artifact's content goes to DVC instead",
        "log the files git does not track, or hand the folder to DVC: git rm -r --cached "
        "data (and commit)")
    assert (str(file.value), file.value.hint) == (
        f"cannot log artifact {project / 'data' / 'README.md'}: data/README.md is tracked by "
        "git; an artifact's content goes to DVC instead",
        "git rm --cached data/README.md (and commit), then log it again")
    assert list(yaml_load(show(project, run.commit, ".gitlog/run.yaml"))["artifacts"]) == [
        "train.csv"]
    assert user_state(project) == before


def test_repository_without_dvc_says_how_to_set_it_up(repo: Path) -> None:
    (repo / "m.bin").write_text("m")
    with gitlog.start("nodvc", repo=repo) as run:
        with pytest.raises(DvcMissingError, match="DVC is not set up") as info:
            run.log_artifact(repo / "m.bin")
        assert "gitlog init" in (info.value.hint or "")
        # log_model / log_data of a file still describe it without DVC.
        assert run.log_model(repo / "m.bin")["path"] == str(repo / "m.bin")


def test_log_model_and_log_data_given_files_track_them(project: Path, tmp_path: Path) -> None:
    (project / "model.pkl").write_text("model")
    (project / "train.csv").write_text("1,2\n")
    elsewhere = tmp_path / "big.csv"
    elsewhere.write_text("3,4\n")
    with gitlog.start("wrap", repo=project) as run:
        model = run.log_model(project / "model.pkl")
        data = run.log_data(project / "train.csv", source="unit test")
        other = run.log_data(elsewhere)
    assert model["artifact"] == "model" and model["md5"] == hashlib.md5(b"model").hexdigest()
    assert data["artifact"] == "train.csv" and data["source"] == "unit test"
    assert "artifact" not in other and other["md5"] == hashlib.md5(b"3,4\n").hexdigest()
    arts = yaml_load(show(project, run.commit, ".gitlog/run.yaml"))["artifacts"]
    assert {n: a["type"] for n, a in arts.items()} == {"model": "model", "train.csv": "data"}
    assert yaml_load(show(project, run.commit, ".gitlog/model.yaml"))["model"]["artifact"] == \
        "model"


def test_workspace_workflow_writes_pointer_and_gitignore_into_the_working_tree(
        project: Path) -> None:
    git(project, "checkout", "-q", "-b", "exp/ws")
    (project / "models").mkdir()
    (project / "models" / "model.pkl").write_text("model")
    with gitlog.start(repo=project) as run:
        run.log_artifact(project / "models" / "model.pkl")
    assert run.mode == "workspace"
    pointer = yaml_load((project / ".gitlog" / "artifacts" / "model.pkl.dvc").read_text())
    assert pointer["outs"][0]["path"] == "../../models/model.pkl"
    assert (project / "models" / ".gitignore").read_text() == "/model.pkl\n"
    status = git(project, "status", "--porcelain", "--untracked-files=all")
    assert "models/model.pkl" not in status and "models/.gitignore" in status


def test_cli_lists_and_gets_artifacts_of_any_run(project: Path, tmp_path: Path) -> None:
    (project / "models").mkdir()
    model = project / "models" / "model.pkl"
    model.write_text("first model")
    (project / "data").mkdir()
    (project / "data" / "x.csv").write_text("1\n")
    with gitlog.start("cli", repo=project) as first:
        first.log_artifact(model)
        first.log_artifact(project / "data", type="data")
    model.write_text("second model")
    with gitlog.start("cli", repo=project) as second:
        second.log_artifact(model)

    proc = run_cli("artifacts", first.commit, "--format", "json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["name"], r["type"], r["path"], r["cached"]) for r in rows] == [
        ("data", "data", "data", True), ("model.pkl", "model", "models/model.pkl", True)]

    out = tmp_path / "got"
    proc = run_cli("get", first.commit, "model.pkl", "-o", str(out / "m.pkl"), cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out / "m.pkl")
    assert (out / "m.pkl").read_text() == "first model"
    assert model.read_text() == "second model"  # the user's file is untouched
    proc = run_cli("get", "cli", "model.pkl", "-o", str(out / "m.pkl"), cwd=project)
    assert proc.returncode == 1 and "already exists" in proc.stderr and "--force" in proc.stderr
    assert (out / "m.pkl").read_text() == "first model"
    proc = run_cli("get", "cli", "model.pkl", "-o", str(out / "m.pkl"), "--force", cwd=project)
    assert proc.returncode == 0 and (out / "m.pkl").read_text() == "second model"
    proc = run_cli("get", first.id, "data", "-o", str(out / "data"), cwd=project)
    assert proc.returncode == 0 and (out / "data" / "x.csv").read_text() == "1\n"
    proc = run_cli("get", "cli", "nothing", cwd=project)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [f"Error: run {second.id} has no artifact 'nothing'",
                                        "hint: its artifacts: model.pkl"]


def test_get_with_deleted_cache_and_no_remote_is_one_clear_error(project: Path,
                                                                 tmp_path: Path) -> None:
    (project / "m.bin").write_text("m")
    with gitlog.start("gone", repo=project) as run:
        run.log_artifact(project / "m.bin")
    import shutil

    shutil.rmtree(project / ".dvc" / "cache")
    proc = run_cli("get", "gone", "m.bin", "-o", str(tmp_path / "m.bin"), cwd=project)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"Error: artifact 'm.bin' of run {run.id} "
                                                   "is not in the local DVC cache")
    assert "no DVC remote configured" in lines[0] and "dvc remote add" in lines[1]
    assert not (tmp_path / "m.bin").exists()
    proc = run_cli("artifacts", "gone", cwd=project)
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1].endswith(" false")  # cached


def test_get_of_a_folder_into_an_existing_folder_puts_it_inside_and_keeps_the_rest(
        project: Path, tmp_path: Path) -> None:
    (project / "features").mkdir()
    (project / "features" / "a.txt").write_text("a\n")
    with gitlog.start("dir", repo=project) as run:
        run.log_artifact(project / "features", type="data")
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    for extra in ([], ["--force"]):
        proc = run_cli("get", "dir", "features", "-o", str(out), *extra, cwd=project)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == str(out / "features")
        assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
            "features", "features/a.txt", "mine.txt"]
        assert (out / "mine.txt").read_text() == "mine"
    proc = run_cli("get", "dir", "features", "-o", str(out), cwd=project)
    assert proc.returncode == 1 and f"{out / 'features'} already exists" in proc.stderr


def test_get_under_a_file_is_one_clear_error(project: Path) -> None:
    (project / "m.bin").write_text("m")
    with gitlog.start("blocked", repo=project) as run:
        run.log_artifact(project / "m.bin")
    before = user_state(project)
    proc = run_cli("get", "blocked", "m.bin", "-o", "train.py/sub/m.bin", cwd=project)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"Error: cannot write {project / 'train.py/sub/m.bin'}: {project / 'train.py'} is "
        "not a folder", "hint: pass -o a path in a folder you can write to"]
    assert user_state(project) == before


def test_get_checks_the_output_path_before_downloading(tmp_path: Path) -> None:
    from tests.dvcsetup import make_dvc_project

    store = tmp_path / "store"
    project = make_dvc_project(tmp_path / "proj", remote=store)
    (project / "m.bin").write_text("remote model")
    with gitlog.start("far", repo=project) as run:
        run.log_artifact(project / "m.bin")
    import shutil

    shutil.copytree(project / ".dvc" / "cache", store)  # a folder remote is a cache's layout
    shutil.rmtree(project / ".dvc" / "cache")
    proc = run_cli("get", "far", "m.bin", "-o", "train.py/sub/m.bin", cwd=project)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"Error: cannot write {project / 'train.py/sub/m.bin'}: {project / 'train.py'} is "
        "not a folder", "hint: pass -o a path in a folder you can write to"]
    assert cache_files(project) == []  # nothing was downloaded for a path it cannot write

    # Content missing from the remote too: no empty folders are left where -o pointed.
    shutil.rmtree(store)
    store.mkdir()
    proc = run_cli("get", "far", "m.bin", "-o", str(tmp_path / "new" / "deeper" / "m.bin"),
                   cwd=project)
    assert proc.returncode == 1 and "does not have it (not on the remote)" in proc.stderr
    assert not (tmp_path / "new").exists()


def test_get_to_a_path_ending_in_a_slash_puts_it_inside_that_folder(project: Path,
                                                                    tmp_path: Path) -> None:
    (project / "m.bin").write_text("m")
    with gitlog.start("slash", repo=project) as run:
        run.log_artifact(project / "m.bin")
    out = tmp_path / "new-folder"
    proc = run_cli("get", "slash", "m.bin", "-o", f"{out}/", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{out / 'm.bin'}\n"  # it wrote a file named new-folder
    assert (out / "m.bin").read_text() == "m"
