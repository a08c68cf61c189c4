"""Run.log_eval as a practitioner checks it: each stored number against scikit-learn's
own function called directly, and the confusion plot's classes as DVC draws them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import gitlog
from tests.conftest import git


def confusion(repo: Path, commit: str, prefix: str = "eval") -> Counter:
    rows = json.loads(git(repo, "show", f"{commit}:.gitlog/plots/confusion/{prefix}.json"))
    return Counter((r["actual"], r["predicted"]) for r in rows)


@pytest.mark.filterwarnings("ignore::gitlog.recorder.GitlogWarning")  # zero_division notes
def test_confusion_plot_spells_a_class_alike_on_both_axes(repo: Path) -> None:
    """Int labels (scikit-learn's data sets) against a torch model's float predictions
    ((sigmoid(x) > 0.5).float()) made the confusion plot's cells '1' actual vs '1.0'
    predicted: DVC drew four classes, and no sample on the diagonal. bool vs int too."""
    predicted = np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32)  # as .float().numpy()
    with gitlog.start("ev", repo=repo) as run:
        run.log_eval(np.array([0, 1, 1, 0]), predicted)
        run.log_eval([True, False, True], np.array([1, 0, 0]), prefix="flags")
        run.log_eval([0.0, 2.0, 1.0], [0, 2, 2], prefix="floats")
        run.log_eval([False, True], [False, False], prefix="bools")
    assert confusion(repo, run.commit) == {("0", "0"): 2, ("1", "1"): 1, ("1", "0"): 1}
    assert confusion(repo, run.commit, "flags") == {("1", "1"): 1, ("0", "0"): 1,
                                                    ("1", "0"): 1}
    assert confusion(repo, run.commit, "floats") == {("0", "0"): 1, ("2", "2"): 1,
                                                     ("1", "2"): 1}
    assert confusion(repo, run.commit, "bools") == {("False", "False"): 1,
                                                    ("True", "False"): 1}


def test_log_loss_of_sure_probabilities_is_scikit_learns(repo: Path) -> None:
    """A random forest's or a saturated sigmoid's probabilities of exactly 0 and 1: the
    binary log loss was clipped at 1e-15 (8.7168 here) where scikit-learn clips at the
    float's epsilon (9.0930), so the run disagreed with log_loss(y, proba)."""
    from sklearn.metrics import log_loss

    y = [1, 0, 1, 0]
    p = np.array([0.0, 0.0, 0.9, 0.2])
    two = np.column_stack([1 - p, p])
    with gitlog.start("ev", repo=repo) as run:
        one_column = run.log_eval(y, y_score=p)
        two_columns = run.log_eval(y, y_score=two, prefix="two")
        sure = run.log_eval(y, y_score=[1.0, 0.0, 1.0, 0.0], prefix="sure")
    assert one_column["log_loss"] == log_loss(y, p) == pytest.approx(9.0930394, abs=1e-7)
    assert two_columns["log_loss"] == log_loss(y, two)
    assert sure["log_loss"] == log_loss(y, [1.0, 0.0, 1.0, 0.0])
    stored = json.loads(git(repo, "show", f"{run.commit}:.gitlog/metrics.json"))
    assert stored["eval"]["log_loss"] == log_loss(y, p)


def test_a_metric_scikit_learn_takes_as_0_says_so(repo: Path) -> None:
    """A model that predicts the majority class only: precision of the positive class
    is undefined, stored as 0 without a word (gitlog passed zero_division=0, which hides
    scikit-learn's UndefinedMetricWarning). The value stays scikit-learn's 0; a
    GitlogWarning and a warning event name the metrics it lowers, as for roc_auc."""
    from sklearn.metrics import precision_score

    y = ["ham", "spam", "ham", "ham", "spam", "ham"]
    majority = ["ham"] * 6
    with gitlog.start("ev", repo=repo) as run:
        with pytest.warns(gitlog.GitlogWarning) as caught:
            got = run.log_eval(y, majority, step=2)
        quiet = run.log_eval(y, ["ham", "spam", "spam", "ham", "spam", "ham"], prefix="ok")
    assert got["precision"] == precision_score(y, majority, pos_label="spam",
                                               zero_division=0) == 0.0
    assert got["precision_macro"] == pytest.approx(4 / 6 / 2)
    text = ("log_eval eval: precision is undefined for class(es) spam (never predicted): "
            "counted as 0 (scikit-learn's zero_division=0) in precision, precision_macro, "
            "precision_weighted")
    assert [str(w.message) for w in caught] == [f"gitlog: {text}"]
    events = gitlog.logs(run.commit, level="warning", repo=repo).events
    assert [(e.message, e.step) for e in events] == [(text, 2)]
    assert quiet["precision"] == pytest.approx(2 / 3)  # spam predicted 3 times, 2 right
    stored = json.loads(git(repo, "show", f"{run.commit}:.gitlog/metrics.json"))
    assert stored["eval"]["precision"] == 0.0


def test_two_logits_of_a_binary_model_rank_as_its_softmax(repo: Path) -> None:
    """nn.Linear(d, 2) + cross-entropy: log_eval(y, y_score=model(X)) took the last logit
    alone as the positive score, which ranks samples otherwise than the softmax does:
    here an AUC of 1.0 where the model's is 0.0. The two logits' difference (the
    log-odds) is the score now; no log_loss from logits."""
    from sklearn.metrics import roc_auc_score

    y = [1, 0, 1, 0]
    logits = np.array([[5.0, 4.0], [0.0, 1.0], [3.0, 2.5], [-1.0, 1.0]])
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    with gitlog.start("ev", repo=repo) as run:
        got = run.log_eval(y, y_score=logits)
        proba = run.log_eval(y, y_score=softmax, prefix="proba")
    assert roc_auc_score(y, logits[:, 1]) == 1.0  # the last logit alone
    assert got["roc_auc"] == roc_auc_score(y, softmax[:, 1]) == 0.0
    assert proba["roc_auc"] == 0.0 and "log_loss" not in got
    assert proba["log_loss"] == pytest.approx(-np.log(softmax[[0, 1, 2, 3], y]).mean())
    assert got["accuracy"] == proba["accuracy"] == 0.0  # argmax: 0 1 0 1


@pytest.mark.filterwarnings("ignore::gitlog.recorder.GitlogWarning")  # zero_division notes
def test_multilabel_labels_name_the_columns_or_are_an_error(repo: Path) -> None:
    """labels= of a multilabel problem was ignored: two names for three label columns
    logged every metric without a word, and the notes named columns by number. A count
    that differs is now the error README promises; the names are the notes' names."""
    from gitlog.errors import GitlogError

    y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    scores = np.array([[0.9, 0.2, 0.1], [0.1, 0.7, 0.3], [0.8, 0.6, 0.2]])
    with gitlog.start("ev", repo=repo) as run:
        with pytest.raises(GitlogError) as info:
            run.log_eval(y, y_score=scores, labels=["cat", "dog"])
        assert str(info.value) == "labels= names 2 label(s) but y_true has 3 label columns"
        got = run.log_eval(y, y_score=scores, labels=["cat", "dog", "bird"])
    assert got["roc_auc"] == 1.0 and got["f1_micro"] == 1.0
    messages = [e.message for e in gitlog.logs(run.commit, repo=repo).events]
    assert messages == [
        "log_eval eval: precision is undefined for label column(s) bird (never predicted): "
        "counted as 0 (scikit-learn's zero_division=0) in precision_macro",
        "log_eval eval: recall is undefined for label column(s) bird (no sample in y_true): "
        "counted as 0 (scikit-learn's zero_division=0) in recall_macro",
        "log_eval eval: f1 is undefined for label column(s) bird (neither in y_true nor "
        "predicted): counted as 0 (scikit-learn's zero_division=0) in f1_macro",
        "log_eval eval: roc_auc leaves out label column(s) bird, all 0 or all 1 in y_true"]
