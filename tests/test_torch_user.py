"""A PyTorch user's calls, end to end: config objects as params, tensors as metrics, eval
inputs and models, and what lands in the run commit."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

import gitlog
from tests.conftest import git

torch = pytest.importorskip("torch")
yaml = pytest.importorskip("yaml")


def params_of(repo: Path, experiment: str) -> dict:
    return yaml.safe_load(git(repo, "show", f"exp/{experiment}:.gitlog/params.yaml"))


@dataclasses.dataclass
class TrainConfig:
    lr: float = 0.01
    hidden: tuple = (64, 32)
    dtype: torch.dtype = torch.float32


def test_config_objects_and_torch_values_are_params_as_the_user_wrote_them(repo: Path) -> None:
    # log_params(args) was refused ("params must be a mapping, got Namespace"), a
    # dataclass too; torch.device and torch.dtype were stored as 'device' and 'dtype',
    # a tensor of two values as 'Tensor'
    args = argparse.Namespace(lr=0.05, epochs=3, device=torch.device("cpu"))
    with gitlog.start("cfg", params=args, repo=repo) as run:
        run.log_params(TrainConfig())
        run.log_params({"model": {"dev": torch.device("cuda", 1), "dt": torch.bfloat16,
                                  "scale": torch.tensor([0.5, 2.0], requires_grad=True),
                                  "shape": torch.Size([3, 4]), "sub": TrainConfig(lr=0.1)}})
    assert params_of(repo, "cfg") == {
        "lr": 0.01, "epochs": 3, "device": "cpu", "hidden": [64, 32], "dtype": "torch.float32",
        "model": {"dev": "cuda:1", "dt": "torch.bfloat16", "scale": [0.5, 2.0],
                  "shape": [3, 4],
                  "sub": {"lr": 0.1, "hidden": [64, 32], "dtype": "torch.float32"}}}


def test_a_float32_tensor_param_is_stored_as_the_number_it_prints(repo: Path) -> None:
    # a 0-d float32 tensor of 0.1 was stored as 0.10000000149011612, bfloat16 as
    # 0.10009765625: not the 0.1 the user wrote
    with gitlog.start("t32", repo=repo) as run:
        run.log_params({"lr": torch.tensor(0.1), "wd": torch.tensor(0.1, dtype=torch.bfloat16),
                        "mom": torch.tensor([0.9, 0.3], dtype=torch.float16)})
    assert params_of(repo, "t32") == {"lr": 0.1, "wd": 0.1, "mom": [0.9, 0.3]}


def test_a_params_value_that_is_no_config_object_is_still_refused(repo: Path) -> None:
    with gitlog.start("bad", repo=repo) as run:
        with pytest.raises(gitlog.GitlogError, match="params must be a mapping, got list"):
            run.log_params([("lr", 0.1)])


def test_an_omegaconf_config_keeps_its_nested_groups(repo: Path) -> None:
    # a nested DictConfig was stored as the text 'DictConfig', a ListConfig 'ListConfig'
    omegaconf = pytest.importorskip("omegaconf")
    cfg = omegaconf.OmegaConf.create({"opt": {"lr": 0.1, "betas": [0.9, 0.99]},
                                      "name": "mlp", "tag": "${name}-v1"})
    with gitlog.start("hydra", params=cfg, repo=repo) as run:
        run.log_param("copy", cfg.opt)
    assert params_of(repo, "hydra") == {
        "opt": {"lr": 0.1, "betas": [0.9, 0.99]}, "name": "mlp", "tag": "mlp-v1",
        "copy": {"lr": 0.1, "betas": [0.9, 0.99]}}


def test_tensor_metrics_land_as_numbers(repo: Path) -> None:
    weight = torch.tensor(2.0, requires_grad=True)
    with gitlog.start("metrics", repo=repo) as run:
        run.log_metric("loss", weight * 3, step=0)  # a loss that requires grad
        run.log_metric("half", torch.tensor(0.5, dtype=torch.float16), step=0)
        run.log_metric("bf", torch.tensor(0.25, dtype=torch.bfloat16), step=0)
        run.log_metrics({"acc": torch.tensor([0.75]), "n": torch.tensor(7)}, step=0)
        # float32 0.9 and bfloat16 0.1 were stored as 0.8999999761581421, 0.10009765625
        run.log_metrics({"f1": torch.tensor(0.9), "tenth": torch.tensor(0.1).bfloat16()},
                        step=0)
        # said 'non-numeric value' and hinted tensor.item(), which fails on two values
        with pytest.raises(gitlog.GitlogError) as refused:
            run.log_metric("pair", torch.tensor([1.0, 2.0]))
        assert str(refused.value) == ("metric 'pair' got 2 values, not one number: "
                                      "tensor([1., 2.]) (Tensor of shape [2])")
        assert refused.value.hint == ("log one number (x.mean(), x.max()), or each value as "
                                      "a metric of its own (pair/0, pair/1, ...)")
    metrics = json.loads(git(repo, "show", "exp/metrics:.gitlog/metrics.json"))
    assert metrics == {"loss": 6.0, "half": 0.5, "bf": 0.25, "acc": 0.75, "n": 7, "f1": 0.9,
                       "tenth": 0.1, "step": 0}


def test_log_eval_takes_the_model_s_logits_as_they_come(repo: Path) -> None:
    # logits straight from model(X) require grad: numpy's conversion raised torch's
    # RuntimeError; bfloat16 scores (autocast) were refused as 'not an array of numbers'
    y_true = torch.tensor([0, 1, 2, 1, 0, 2])
    logits = torch.tensor([[3.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0],
                           [2.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 3.0, 0.0]],
                          requires_grad=True) * 1.0
    with gitlog.start("eval", repo=repo) as run:
        got = run.log_eval(y_true, y_score=logits, prefix="val")
        probs = torch.softmax(logits, 1).bfloat16()
        half = run.log_eval(y_true, y_pred=probs.argmax(1), y_score=probs, prefix="bf")
    assert got["accuracy"] == pytest.approx(4 / 6)
    assert half["accuracy"] == pytest.approx(4 / 6)
    assert 0 < half["log_loss"] < 2


def test_a_wrapped_model_is_described_as_the_model_it_wraps(repo: Path) -> None:
    # DataParallel's layers were 'module.0', ..., torch.compile's '_orig_mod.0': a run
    # trained wrapped compared with a plain one as a different model
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    with gitlog.start("wrapped", repo=repo) as run:
        plain = run.log_model(model, name="plain")
        wrapped = run.log_model(nn.DataParallel(model), name="dp")
    assert wrapped.pop("wrappers") == ["DataParallel"]
    assert wrapped == plain
    assert [layer["name"] for layer in wrapped["layers"]] == ["0", "1", "2"]
    assert wrapped["type"] == "Sequential"


def test_a_dataset_or_dataloader_is_summarised(repo: Path) -> None:
    # log_data(loader) gave only {'type': 'torch.utils.data.dataloader.DataLoader'}
    from torch.utils.data import DataLoader, Subset, TensorDataset

    features = torch.zeros(100, 8, 8)
    data = TensorDataset(features, torch.zeros(100))
    with gitlog.start("data", repo=repo) as run:
        run.log_data(DataLoader(data, batch_size=32), name="train")
        run.log_data(Subset(data, range(10)), name="val", source="digits")
    logged = yaml.safe_load(git(repo, "show", "exp/data:.gitlog/data.yaml"))
    assert logged == {
        "train": {"type": "TensorDataset", "samples": 100, "features": 64,
                  "shape": [100, 8, 8], "dtype": "torch.float32", "batch_size": 32,
                  "batches": 4},
        "val": {"type": "Subset", "samples": 10, "source": "digits"}}
