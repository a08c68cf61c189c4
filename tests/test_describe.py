"""gitlog.describe: model and data summaries, checked against real scikit-learn models,
real torch modules (when installed) and the hashes a real ``dvc add`` records."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from gitlog.describe import describe_data, describe_model
from gitlog.errors import GitlogError

ROOT = Path(__file__).resolve().parents[1]
# four samples, one split: every tree grown on them has exactly 3 nodes
TINY_X = np.array([[0.0], [1.0], [2.0], [3.0]])
TINY_Y = np.array([0, 0, 1, 1])


def yaml_safe(data: dict[str, Any]) -> dict[str, Any]:
    """Assert that ``data`` survives a safe YAML round trip unchanged, and return it."""
    assert yaml.safe_load(yaml.safe_dump(data)) == data
    return data


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread() -> Iterator[None]:
    # on a busy 2-core machine, BLAS threads fighting over cores make a 0.1 s fit take 30 s
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y  # pixels 0..16 scaled to 0..1: lbfgs converges in a few steps


# -- import cost -----------------------------------------------------------------------


def test_import_loads_no_heavy_library() -> None:
    code = ("import gitlog.describe, sys; "
            "print([m for m in ('sklearn', 'torch', 'dvc_data', 'numpy') if m in sys.modules])")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


# -- describe_model: plain objects -----------------------------------------------------


def test_dict_is_copied_with_plain_values() -> None:
    given = {"arch": "resnet", "depth": np.int64(18), "lr": np.float32(0.5),
             "sizes": (64, 32), "weights": Path("w.pt"), "nested": {"mask": np.array([1, 0])}}
    got = yaml_safe(describe_model(given))
    assert got == {"arch": "resnet", "depth": 18, "lr": 0.5, "sizes": [64, 32],
                   "weights": "w.pt", "nested": {"mask": [1, 0]}}
    assert type(got["depth"]) is int and type(got["lr"]) is float
    got["nested"]["mask"].append(7)
    assert given["nested"]["mask"].tolist() == [1, 0]


class Opaque:
    """An object no describer knows, whose attributes all blow up."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name} here")


def test_unknown_objects_give_their_type() -> None:
    assert describe_model(Opaque()) == {"type": f"{__name__}.Opaque"}
    assert describe_model(42) == {"type": "builtins.int"}
    assert describe_data(Opaque()) == {"type": f"{__name__}.Opaque"}
    assert describe_data(None) == {}


# -- describe_model: scikit-learn ------------------------------------------------------


def test_logistic_regression_on_digits(digits: tuple[np.ndarray, np.ndarray]) -> None:
    model = LogisticRegression(C=0.5, max_iter=500)
    before = yaml_safe(describe_model(model))
    assert before["type"] == "sklearn.linear_model.LogisticRegression"
    assert before["framework"] == "scikit-learn"
    assert before["fitted"] is False
    assert before["params"]["C"] == 0.5 and before["params"]["max_iter"] == 500
    assert "parameters" not in before

    model.fit(*digits)
    got = yaml_safe(describe_model(model))
    assert got["fitted"] is True
    assert got["inputs"] == 64
    assert got["classes"] == 10
    assert got["parameters"] == 64 * 10 + 10  # 650
    assert got["parameters_kind"] == "weights"


def test_binary_classifier_has_one_weight_vector() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    got = describe_model(model)["steps"][1]
    assert (got["inputs"], got["classes"], got["parameters"]) == (30, 2, 30 + 1)


def test_public_type_name_and_intercept() -> None:
    X = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 2.0, 0.0], [3.0, 1.0, 1.0]])
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert describe_model(SGDClassifier())["type"] == "sklearn.linear_model.SGDClassifier"
    assert describe_model(LinearRegression().fit(X, y))["parameters"] == 3 + 1
    # without an intercept, intercept_ is a constant 0.0: nothing learned
    assert describe_model(LinearRegression(fit_intercept=False).fit(X, y))["parameters"] == 3


def test_mlp_layers_and_activations(digits: tuple[np.ndarray, np.ndarray]) -> None:
    model = MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(*digits)
    got = yaml_safe(describe_model(model))
    assert got["type"] == "sklearn.neural_network.MLPClassifier"
    assert got["layers"] == [64, 16, 8, 10]
    assert got["activations"] == ["relu", "softmax"]
    assert got["parameters"] == (64 * 16 + 16) + (16 * 8 + 8) + (8 * 10 + 10)  # 1266
    assert got["params"]["hidden_layer_sizes"] == [16, 8]


def test_binary_mlp_has_one_logistic_output() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    model = MLPClassifier(hidden_layer_sizes=(5,), activation="tanh", max_iter=2,
                          random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    got = describe_model(model)
    assert got["layers"] == [30, 5, 1]
    assert got["activations"] == ["tanh", "logistic"]
    assert got["parameters"] == (30 * 5 + 5) + (5 * 1 + 1)  # 161


def test_trees_count_nodes() -> None:
    tree = describe_model(DecisionTreeClassifier().fit(TINY_X, TINY_Y))
    assert (tree["type"], tree["parameters"], tree["parameters_kind"]) == (
        "sklearn.tree.DecisionTreeClassifier", 3, "nodes")
    forest = RandomForestClassifier(n_estimators=4, bootstrap=False, random_state=0)
    assert describe_model(forest.fit(TINY_X, TINY_Y))["parameters"] == 4 * 3
    # boosting keeps its trees in a 2-D array, one row per stage
    boosted = GradientBoostingRegressor(n_estimators=2, max_depth=1, random_state=0)
    got = yaml_safe(describe_model(boosted.fit(TINY_X, TINY_Y.astype(float))))
    assert (got["parameters"], got["parameters_kind"]) == (2 * 3, "nodes")


def test_pipeline_describes_each_step(digits: tuple[np.ndarray, np.ndarray]) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    assert describe_model(model)["fitted"] is False
    got = yaml_safe(describe_model(model.fit(*digits)))
    assert got["type"] == "sklearn.pipeline.Pipeline"
    assert got["fitted"] is True
    assert got["params"]["steps"] == [["standardscaler", "StandardScaler"],
                                      ["logisticregression", "LogisticRegression"]]
    assert [s["name"] for s in got["steps"]] == ["standardscaler", "logisticregression"]
    assert got["steps"][0]["type"] == "sklearn.preprocessing.StandardScaler"
    assert got["steps"][1]["parameters"] == 650

    skipping = Pipeline([("scale", "passthrough"), ("clf", LogisticRegression())])
    assert describe_model(skipping)["steps"][0] == {"name": "scale", "type": "passthrough"}


# -- describe_model: torch -------------------------------------------------------------


def test_torch_sequential() -> None:
    try:
        import torch
    except ImportError:
        pytest.skip("torch not installed")
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    got = yaml_safe(describe_model(model))
    assert got["type"] == "Sequential" and got["framework"] == "pytorch"
    assert got["parameters"] == 58 and got["trainable_parameters"] == 58  # 4*8+8 + 8*2+2
    assert got["activations"] == ["ReLU"]
    assert got["layers"] == [
        {"name": "0", "type": "Linear", "parameters": 40, "in_features": 4, "out_features": 8},
        {"name": "1", "type": "ReLU", "parameters": 0},
        {"name": "2", "type": "Linear", "parameters": 18, "in_features": 8, "out_features": 2},
    ]
    model[0].requires_grad_(False)
    assert describe_model(model)["trainable_parameters"] == 18

    conv = nn.Sequential(nn.Conv2d(3, 8, 3), nn.GELU(), nn.Flatten(), nn.Softmax(dim=1))
    got = describe_model(conv)
    assert got["layers"][0] == {"name": "0", "type": "Conv2d", "parameters": 3 * 8 * 9 + 8,
                                "in_channels": 3, "out_channels": 8}
    assert got["activations"] == ["GELU", "Softmax"]
    assert describe_data(torch.zeros(5, 3, 2))["features"] == 6


# -- describe_data: in-memory data -----------------------------------------------------


def test_numpy_arrays() -> None:
    assert yaml_safe(describe_data(np.zeros((5, 3)))) == {
        "samples": 5, "features": 3, "shape": [5, 3], "dtype": "float64"}
    assert describe_data(np.zeros((10, 8, 8), dtype=np.uint8))["features"] == 64
    assert describe_data(np.arange(7))["features"] == 1


def test_dataframe() -> None:
    pd = pytest.importorskip("pandas", reason="pandas not installed")
    frame = pd.DataFrame({"age": [31, 45, 27], "height": [1.7, 1.8, 1.6],
                          "name": ["a", "b", "c"]})
    got = yaml_safe(describe_data(frame))
    assert (got["samples"], got["features"]) == (3, 3)
    assert got["columns"] == ["age", "height", "name"]
    assert got["dtypes"]["int64"] == 1 and got["dtypes"]["float64"] == 1
    assert sum(got["dtypes"].values()) == 3
    wide = pd.DataFrame(np.zeros((2, 150)))
    assert describe_data(wide)["columns"] == list(range(100))


def test_sklearn_bunch() -> None:
    got = yaml_safe(describe_data(load_digits()))
    assert (got["samples"], got["features"], got["classes"]) == (1797, 64, 10)
    assert len(got["feature_names"]) == 64 and got["feature_names"][0] == "pixel_0_0"
    cancer = describe_data(load_breast_cancer())
    assert (cancer["samples"], cancer["features"], cancer["classes"]) == (569, 30, 2)


# -- describe_data: paths agree with `dvc add` -----------------------------------------


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git + DVC project whose data was recorded by a real ``dvc add``."""
    home = tmp_path_factory.mktemp("dvc-home")
    (home / ".gitconfig").write_text("")
    (home / "global").mkdir()
    (home / "global" / "config").write_text("[core]\n    check_update = false\n")
    env = {**os.environ, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"), "DVC_NO_ANALYTICS": "1",
           "DVC_GLOBAL_CONFIG_DIR": str(home / "global"),
           "DVC_SYSTEM_CONFIG_DIR": str(home / "system"),
           "DVC_SITE_CACHE_DIR": str(home / "site")}
    project = tmp_path_factory.mktemp("project")

    def run(*args: str) -> None:
        subprocess.run(list(args), cwd=project, env=env, check=True, capture_output=True)

    run("git", "-c", "init.defaultBranch=main", "init", "-q")
    run(sys.executable, "-m", "dvc", "init", "-q")
    rng = np.random.default_rng(0)
    (project / "train.csv").write_bytes(b"x,y\n1,2\n3,4\n")
    (project / "windows.txt").write_bytes(b"line one\r\nline two\r\n")
    (project / "blob.bin").write_bytes(b"\x00\x01\r\n\xff" * 100)
    # bigger than dvc_data's 1 MiB read chunk, so hashing crosses chunk boundaries
    (project / "big.bin").write_bytes(rng.bytes(3 * 2**20 + 17))
    images = project / "images"
    (images / "sub" / "deeper").mkdir(parents=True)
    (images / "a.txt").write_bytes(b"alpha\r\nbeta\r\n")
    (images / "empty").write_bytes(b"")
    (images / "sub" / "b.bin").write_bytes(rng.bytes(5000))
    (images / "sub" / "deeper" / "c.csv").write_bytes(b"k,v\n1,2\n")
    run(sys.executable, "-m", "dvc", "add", "-q",
        "train.csv", "windows.txt", "blob.bin", "big.bin", "images")
    return project


@pytest.mark.parametrize("name", ["train.csv", "windows.txt", "blob.bin", "big.bin", "images"])
def test_path_hash_matches_dvc_add(dvc_project: Path, name: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (out,) = yaml.safe_load((dvc_project / f"{name}.dvc").read_text())["outs"]
    assert out["hash"] == "md5"  # DVC 3: plain md5, no dos2unix
    expected = {k: out[k] for k in ("md5", "size", "nfiles") if k in out}
    monkeypatch.chdir(dvc_project)

    got = yaml_safe(describe_data(name))
    assert got == {"path": name, **expected}
    assert describe_data(dvc_project / name) == {"path": str(dvc_project / name), **expected}
    if name == "images":
        assert got["md5"].endswith(".dir") and got["nfiles"] == 4


def test_path_hash_needs_no_repo_and_writes_nothing(
        dvc_project: Path, tmp_path: Path) -> None:
    import fsspec

    memfs = fsspec.filesystem("memory")
    before_mem = set(memfs.store)
    before = _files(dvc_project)
    images = describe_data(dvc_project / "images")
    assert _files(dvc_project) == before
    assert set(memfs.store) == before_mem

    # the same data outside any git or DVC repository hashes the same
    outside = tmp_path / "copy"
    shutil.copytree(dvc_project / "images", outside)
    assert describe_data(outside) == {**images, "path": str(outside)}
    assert _files(tmp_path) == {"copy", *(f"copy/{f}" for f in _files(outside))}


def test_missing_path_raises(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(GitlogError, match="nope.csv") as info:
        describe_data(missing)
    assert "not found" in str(info.value) and info.value.hint
    with pytest.raises(GitlogError):
        describe_data(str(missing))
