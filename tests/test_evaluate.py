"""Run.log_eval: metrics worked by hand, against scikit-learn on a real data set, and the
plot files DVC renders from the run commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gitlog
from gitlog.errors import GitlogError
from tests.conftest import git, run_python


def summary(repo: Path, rev: str) -> dict:
    return json.loads(git(repo, "show", f"{rev}:.gitlog/metrics.json"))


def test_binary_metrics_match_hand_worked_values(repo: Path) -> None:
    # y_true 1 0 1 1 0 / y_pred 1 0 0 1 1: TP=2 FP=1 FN=1 TN=1.
    # Class 1: P=R=F1=2/3. Class 0: TP=1 FP=1 FN=1 -> P=R=F1=1/2.
    # Scores: positives 0.9 0.4 0.8, negatives 0.2 0.6 -> 5 of 6 pairs ordered: AUC 5/6.
    with gitlog.start("ev", repo=repo) as run:
        got = run.log_eval([1, 0, 1, 1, 0], [1, 0, 0, 1, 1],
                           y_score=[0.9, 0.2, 0.4, 0.8, 0.6])
    assert got["accuracy"] == pytest.approx(3 / 5)
    assert got["precision"] == pytest.approx(2 / 3)
    assert got["recall"] == pytest.approx(2 / 3)
    assert got["f1"] == pytest.approx(2 / 3)
    assert got["f1_macro"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert got["f1_micro"] == pytest.approx(3 / 5)
    assert got["f1_weighted"] == pytest.approx((3 * 2 / 3 + 2 * 1 / 2) / 5)
    assert got["roc_auc"] == pytest.approx(5 / 6)
    import math
    expected_ll = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.8)
                    + math.log(0.4)) / 5
    assert got["log_loss"] == pytest.approx(expected_ll)
    stored = summary(repo, run.commit)["eval"]
    assert stored["f1"] == pytest.approx(2 / 3) and stored["roc_auc"] == pytest.approx(5 / 6)
    roc = json.loads(git(repo, "show", f"{run.commit}:.gitlog/plots/roc/eval.json"))["roc"]
    assert roc[0]["fpr"] == 0 and roc[-1] == {"fpr": 1.0, "tpr": 1.0,
                                              "threshold": pytest.approx(0.2)}
    cm = json.loads(git(repo, "show", f"{run.commit}:.gitlog/plots/confusion/eval.json"))
    assert cm[2] == {"actual": "1", "predicted": "0"} and len(cm) == 5


def test_multiclass_by_hand_and_predictions_from_scores(repo: Path) -> None:
    y_true = ["cat", "dog", "bird", "cat", "dog", "bird"]
    # Columns in sorted label order: bird, cat, dog. Argmax -> bird cat bird cat dog dog.
    scores = [[0.1, 0.8, 0.1], [0.5, 0.1, 0.4], [0.7, 0.2, 0.1],
              [0.2, 0.6, 0.2], [0.1, 0.1, 0.8], [0.3, 0.2, 0.5]]
    with gitlog.start("ev", repo=repo) as run:
        got = run.log_eval(y_true, y_score=scores, prefix="test")
    # bird: TP1 FP1 FN1 -> 1/2; cat: 2/2 -> 1; dog: TP1 FP1 FN1 -> 1/2.
    assert got["accuracy"] == pytest.approx(4 / 6)
    assert got["f1_macro"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert got["precision_micro"] == pytest.approx(4 / 6)
    assert "f1" not in got  # no positive class in a multiclass problem
    assert 0.5 < got["roc_auc"] <= 1
    assert "test" in summary(repo, run.commit)
    cm = json.loads(git(repo, "show", f"{run.commit}:.gitlog/plots/confusion/test.json"))
    assert {"actual": "dog", "predicted": "bird"} in cm


def test_multilabel(repo: Path) -> None:
    y_true = [[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]]
    y_score = [[0.9, 0.2, 0.7], [0.1, 0.8, 0.3], [0.6, 0.4, 0.2], [0.3, 0.1, 0.9]]
    with gitlog.start("ev", repo=repo) as run:
        got = run.log_eval(y_true, y_score=y_score)
    # Predictions at 0.5: row 3 misses label 1 -> 3 of 4 rows exactly right.
    assert got["accuracy"] == pytest.approx(3 / 4)
    assert got["recall_micro"] == pytest.approx(5 / 6)
    assert got["precision_micro"] == pytest.approx(1.0)
    assert got["roc_auc"] == pytest.approx(1.0)


def test_matches_scikit_learn_on_a_real_data_set(repo: Path) -> None:
    from sklearn import metrics
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    train = [i for i in range(len(y)) if i % 3]
    test = [i for i in range(len(y)) if not i % 3]
    model = LogisticRegression(max_iter=500).fit(X[train], y[train])
    proba, pred = model.predict_proba(X[test]), model.predict(X[test])
    with gitlog.start("ev", repo=repo) as run:
        got = run.log_eval(y[test], pred, proba)
    assert got["f1_weighted"] == pytest.approx(metrics.f1_score(y[test], pred,
                                                                average="weighted"))
    assert got["roc_auc"] == pytest.approx(metrics.roc_auc_score(y[test], proba,
                                                                 multi_class="ovr"))
    assert got["log_loss"] == pytest.approx(metrics.log_loss(y[test], proba))
    assert summary(repo, run.commit)["eval"]["accuracy"] == pytest.approx(
        metrics.accuracy_score(y[test], pred))


def test_dvc_plots_show_reads_the_curves_from_the_run_commit(repo: Path) -> None:
    with gitlog.start("ev", repo=repo) as run:
        run.log_metric("loss", 0.5)
        run.log_eval([0, 1, 1, 0, 1, 0], [0, 1, 0, 0, 1, 1],
                     [0.1, 0.9, 0.4, 0.3, 0.8, 0.6])
    git(repo, "checkout", "-q", run.commit)
    proc = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "--json"], cwd=repo,
                          capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)["data"]
    roc = data[".gitlog/plots/roc/eval.json"][0]["content"]
    assert roc["encoding"]["x"]["field"] == "fpr" and roc["encoding"]["y"]["field"] == "tpr"
    assert len(roc["data"]["values"]) >= 3
    prc = data[".gitlog/plots/precision_recall/eval.json"][0]["content"]
    assert prc["encoding"]["x"]["field"] == "recall"
    cm = data[".gitlog/plots/confusion/eval.json"][0]["content"]
    assert cm["spec"]["encoding"]["x"]["field"] == "actual"
    assert len(cm["data"]["values"]) == 6


def test_bad_input_and_missing_extra(repo: Path) -> None:
    with gitlog.start("ev", repo=repo) as run:
        with pytest.raises(GitlogError, match="y_pred or y_score"):
            run.log_eval([0, 1])
        with pytest.raises(GitlogError, match="continuous"):
            run.log_eval([0.1, 0.7], [0, 1])
        with pytest.raises(GitlogError, match="2 items but y_true has 3"):
            run.log_eval([0, 1, 1], [0, 1])
        run.log_metric("loss", 1.0)
    assert run.status == "completed"
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import gitlog\n"
            "run = gitlog.start('ev')\n"
            "try:\n    run.log_eval([0, 1], [0, 1])\n"
            "except gitlog.GitlogError as e:\n    print(e, '|', e.hint)\n"
            "run.finish()\n")
    out = run_python(code, repo).stdout
    assert "needs scikit-learn" in out and "pip install 'gitlog[sklearn]'" in out


def test_runs_without_eval_declare_no_eval_plots(repo: Path) -> None:
    with gitlog.start("plain", repo=repo) as run:
        run.log_metric("loss", 0.5)
    git(repo, "checkout", "-q", run.commit)
    assert "plots/roc" not in (repo / "dvc.yaml").read_text()
    proc = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "--json"], cwd=repo,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and not json.loads(proc.stdout).get("errors")


@pytest.mark.filterwarnings("ignore::gitlog.recorder.GitlogWarning")  # zero_division notes
def test_predicted_class_that_y_true_lacks_counts_as_a_class(repo: Path) -> None:
    # sklearn's own default: the classes are those of y_true and y_pred together.
    with gitlog.start("ev", repo=repo) as run:
        # y_true holds 0 and 1 only, y_pred says 2 once: a 3-class problem, not a crash.
        three = run.log_eval([0, 1, 1, 0], [0, 1, 2, 0], prefix="three")
        # 0 1 2 vs 0 1 3: the wrong prediction 3 is no hit, so micro precision = accuracy.
        four = run.log_eval([0, 1, 2], [0, 1, 3], prefix="four")
    assert three["accuracy"] == pytest.approx(3 / 4)
    assert three["precision_micro"] == pytest.approx(3 / 4)
    assert "f1" not in three  # no longer taken for a binary problem
    assert four["precision_micro"] == pytest.approx(2 / 3)
    assert four["f1_micro"] == pytest.approx(2 / 3)
    assert summary(repo, run.commit)["four"]["precision_micro"] == pytest.approx(2 / 3)


@pytest.mark.filterwarnings("ignore::gitlog.recorder.GitlogWarning")  # roc_auc undefined
def test_scores_on_a_batch_holding_one_class(repo: Path) -> None:
    # Only positives in y_true: a low score still predicts the negative class 0.
    with gitlog.start("ev", repo=repo) as run:
        got = run.log_eval([1, 1, 1, 1], y_score=[0.9, 0.2, 0.8, 0.1])
        named = run.log_eval([True, True], y_score=[0.9, 0.2], prefix="named")
        with pytest.raises(GitlogError, match="y_true holds 1 class.* scores for 2") as err:
            run.log_eval(["spam", "spam"], y_score=[0.9, 0.2])
        assert "labels=" in (err.value.hint or "")
        spam = run.log_eval(["spam", "spam"], y_score=[0.9, 0.2], labels=["ham", "spam"],
                            prefix="spam")
    assert got["accuracy"] == pytest.approx(0.5) and got["recall"] == pytest.approx(0.5)
    assert "roc_auc" not in got  # undefined with one class
    assert named["accuracy"] == pytest.approx(0.5)
    assert spam["accuracy"] == pytest.approx(0.5)
    cm = json.loads(git(repo, "show", f"{run.commit}:.gitlog/plots/confusion/eval.json"))
    assert cm[1] == {"actual": "1", "predicted": "0"}


def test_bad_inputs_are_one_clear_error(repo: Path) -> None:
    import numpy as np

    with gitlog.start("ev", repo=repo) as run:
        with pytest.raises(GitlogError, match=r"y_score holds NaN in 1 of 4 rows "
                                              r"\(the first is row 2\)"):
            run.log_eval([0, 1, 1, 0], y_score=np.array([0.1, 0.9, np.nan, 0.2]))
        with pytest.raises(GitlogError, match=r"y_true holds NaN in 1 of 3 rows"):
            run.log_eval([0, float("nan"), 1], [0, 1, 1])
        with pytest.raises(GitlogError, match="no samples") as err:
            run.log_eval([], [])
        assert err.value.hint
        with pytest.raises(GitlogError, match="y_pred holds continuous values") as err:
            run.log_eval([0, 1, 1], [0.2, 0.9, 0.7])  # probabilities passed as y_pred
        assert "y_score=" in (err.value.hint or "")
        with pytest.raises(GitlogError, match="different kinds of labels"):
            run.log_eval(["cat", "dog"], [0, 1])
        run.log_metric("loss", 1.0)
    assert run.status == "completed"
    assert "eval" not in summary(repo, run.commit)  # nothing half-logged


def test_confusion_plot_of_many_samples_keeps_the_cells_proportions(repo: Path) -> None:
    from collections import Counter

    # 25,000 samples: TN 12,000, FP 3,000, FN 1,000, TP 9,000; one row per 3 samples.
    y_true = [0] * 15000 + [1] * 10000
    y_pred = [0] * 12000 + [1] * 3000 + [0] * 1000 + [1] * 9000
    with gitlog.start("ev", repo=repo) as run:
        got = run.log_eval(y_true, y_pred)
    assert got["accuracy"] == pytest.approx(21000 / 25000)  # the metrics see every sample
    cm = json.loads(git(repo, "show", f"{run.commit}:.gitlog/plots/confusion/eval.json"))
    assert Counter((r["actual"], r["predicted"]) for r in cm) == {
        ("0", "0"): 4000, ("0", "1"): 1000, ("1", "0"): 333, ("1", "1"): 3000}
    note = [e for e in gitlog.logs(run.commit, repo=repo).events
            if e.message.startswith("confusion")]
    assert [(n.message, n.fields) for n in note] == [
        ("confusion plot eval: one row per 3 samples", {"samples": 25000, "rows": 8333})]


@pytest.mark.filterwarnings("ignore::gitlog.recorder.GitlogWarning")  # zero_division notes
def test_scores_that_are_not_probabilities(repo: Path) -> None:
    """decision_function's scores or logits: 1-D ones were cut at 0.5 (LinearSVC's
    margin 0.3 taken for the negative class), and multiclass ones crashed with
    scikit-learn's ValueError ('Target scores need to be probabilities'). A 1-D score out
    of [0, 1] is cut at 0, as predict() cuts it, and ROC-AUC is each class's own, averaged."""
    # y 0 1 1 0, margins -2 0.3 -0.1 -1: predicted 0 1 0 0 (at 0.5: 0 0 0 0).
    # Positives 0.3 -0.1 vs negatives -2 -1: 4 of 4 pairs ordered.
    # Multiclass, by column: class 0 scores 1 .5 (y=0) vs 2 -1: 2 of 4; class 1: 1 vs 0 .5
    # -2: 3 of 3; class 2: 2 vs -1 -3 0: 3 of 3. Argmax: 0 0 2 0 -> 3 of 4 right.
    with gitlog.start("ev", repo=repo) as run:
        binary = run.log_eval([0, 1, 1, 0], y_score=[-2.0, 0.3, -0.1, -1.0], prefix="svm")
        multi = run.log_eval([0, 1, 2, 0], y_score=[[1, 0, -1], [2, 1, -3], [-1, 0.5, 2],
                                                     [0.5, -2, 0]], prefix="logits")
        # probabilities a float32 sigmoid rounded past 1 are still cut at 0.5 (at 0: all 1)
        f32 = run.log_eval([0, 1, 1, 0], y_score=[0.1, 1.0000001, 0.4, 0.2], prefix="f32")
    assert (binary["accuracy"], binary["recall"], binary["roc_auc"]) == (0.75, 0.5, 1.0)
    assert "log_loss" not in binary and "log_loss" not in multi  # no probabilities
    assert multi["accuracy"] == 0.75
    assert f32["accuracy"] == 0.75 and "log_loss" in f32
    assert multi["roc_auc"] == pytest.approx((2 / 4 + 1 + 1) / 3)
    stored = summary(repo, run.commit)
    assert stored["logits"]["roc_auc"] == pytest.approx(5 / 6)
    assert stored["svm"]["accuracy"] == 0.75


def test_undefined_roc_auc_is_a_warning_and_an_event(repo: Path) -> None:
    """roc_auc (and the curves) vanished without a word when y_true held one class, or a
    multiclass y_true lacked a class, and a multilabel one averaged fewer columns than
    given: a GitlogWarning and a warning event say so."""
    with gitlog.start("ev", repo=repo) as run:
        with pytest.warns(gitlog.GitlogWarning) as caught:
            one = run.log_eval([1, 1, 1, 1], y_score=[0.9, 0.2, 0.8, 0.7], step=3)
            three = run.log_eval([0, 1, 1, 0], y_score=[[.8, .1, .1], [.1, .6, .3],
                                                        [.2, .7, .1], [.6, .2, .2]],
                                 prefix="three")
            tags = run.log_eval([[1, 0], [0, 0], [1, 0]], y_score=[[.9, .1], [.2, .4],
                                                                   [.8, .7]], prefix="tags")
    zero = "counted as 0 (scikit-learn's zero_division=0) in"  # see test_eval_values
    texts = [f"log_eval eval: recall is undefined for class(es) 0 (no sample in y_true): "
             f"{zero} recall_macro",
             "log_eval eval: roc_auc is undefined: y_true holds one class (1), so it is not "
             "logged, nor are the ROC and precision-recall curves",
             f"log_eval three: precision is undefined for class(es) 2 (never predicted): "
             f"{zero} precision_macro",
             f"log_eval three: recall is undefined for class(es) 2 (no sample in y_true): "
             f"{zero} recall_macro",
             f"log_eval three: f1 is undefined for class(es) 2 (neither in y_true nor "
             f"predicted): {zero} f1_macro",
             "log_eval three: roc_auc (one-vs-rest) is undefined: class(es) 2 has no sample "
             "in y_true, so it is not logged",
             f"log_eval tags: recall is undefined for label column(s) 1 (no sample in "
             f"y_true): {zero} recall_macro",
             "log_eval tags: roc_auc leaves out label column(s) 1, all 0 or all 1 in y_true"]
    assert [str(w.message) for w in caught] == [f"gitlog: {t}" for t in texts]
    assert caught[0].filename == __file__  # points at the script's line
    assert "roc_auc" not in one and one["accuracy"] == 0.75
    assert "roc_auc" not in three and three["accuracy"] == 1.0
    assert tags["roc_auc"] == 1.0  # column 0 alone: .9 .8 above .2
    events = gitlog.logs(run.commit, level="warning", repo=repo).events
    assert [(e.message, e.step) for e in events] == [(t, 3) for t in texts]
    files = git(repo, "ls-tree", "-r", "--name-only", run.commit, ".gitlog/plots").split()
    assert files == [".gitlog/plots/confusion/eval.json", ".gitlog/plots/confusion/three.json",
                     ".gitlog/plots/precision_recall/tags.json",
                     ".gitlog/plots/precision_recall/three.json",
                     ".gitlog/plots/roc/tags.json", ".gitlog/plots/roc/three.json"]


def test_missing_labels_and_infinite_scores_are_one_clear_error(repo: Path) -> None:
    """None or pandas' NA among labels raised TypeError ('<' between float and str) or
    'got unknown: pass class labels, not continuous values'; an infinite score,
    scikit-learn's ValueError. Each is a GitlogError naming the row; nothing is logged."""
    import numpy as np
    import pandas as pd

    with gitlog.start("ev", repo=repo) as run:
        for call, message in (
                (lambda: run.log_eval(pd.Series(["a", "b", None]), ["a", "b", "a"]),
                 "y_true holds a missing value (None or NaN) in 1 of 3 rows (the first is "
                 "row 2)"),
                (lambda: run.log_eval([0, 1, 1], [0, None, 1]),
                 "y_pred holds a missing value (None or NaN) in 1 of 3 rows (the first is "
                 "row 1)"),
                (lambda: run.log_eval(pd.Series([0, 1, pd.NA], dtype="boolean"), [0, 1, 1]),
                 "y_true holds a missing value (None or NaN) in 1 of 3 rows (the first is "
                 "row 2)"),
                (lambda: run.log_eval([0, 1, 1], y_score=[-np.inf, np.inf, 1.0]),
                 "y_score holds an infinite value in 2 of 3 rows (the first is row 0)")):
            with pytest.raises(GitlogError) as info:
                call()
            assert (str(info.value), info.value.hint) == \
                (message, "drop or fill those samples before evaluating")
        run.log_metric("loss", 1.0)
    assert summary(repo, run.commit) == {"loss": 1.0, "step": 0}


def test_one_score_column_and_labels_that_lack_a_class(repo: Path) -> None:
    """Scores of shape (n, 1) (a Keras sigmoid's output) were argmaxed over their one
    column, so every sample was predicted the negative class (accuracy 1/3 here, not 1);
    labels= lacking a class of y_true dropped its samples without a word (accuracy 1.0
    over 2 of 3) or raised scikit-learn's ValueError; a 3-D y_score raised one too."""
    import numpy as np

    with gitlog.start("ev", repo=repo) as run:
        got = run.log_eval([0, 1, 1], y_score=np.array([[0.2], [0.7], [0.6]]))
        for call, message in (
                (lambda: run.log_eval(["a", "b", "c"], ["a", "b", "c"], labels=["a", "b"]),
                 "labels= lacks 1 class(es) of y_true or y_pred: c"),
                (lambda: run.log_eval([0, 1, 1], [0, 1, 1], labels=["no", "yes"]),
                 "labels= lacks 2 class(es) of y_true or y_pred: 0, 1"),
                (lambda: run.log_eval([0, 1, 1], y_score=np.zeros((3, 2, 2))),
                 "y_score has 3 dimensions, shape (3, 2, 2)")):
            with pytest.raises(GitlogError) as info:
                call()
            assert str(info.value) == message and info.value.hint
    assert (got["accuracy"], got["f1"], got["roc_auc"]) == (1.0, 1.0, 1.0)
    assert list(summary(repo, run.commit)) == ["eval", "step"]


def test_a_clashing_prefix_logs_nothing_and_log_metrics_is_all_or_none(repo: Path) -> None:
    """log_eval logged its metrics one by one, so a name that clashed with one logged
    before ('eval/f1' under 'eval/f1/x') stopped it half-way, with accuracy, precision
    and recall already in the run; log_metrics({'a': 1, 'b': 'x'}) logged a. Every name
    and value is checked first now."""
    with gitlog.start("ev", repo=repo) as run:
        run.log_metric("eval/f1/x", 1.0)
        with pytest.raises(GitlogError) as info:
            run.log_eval([0, 1, 1, 0], [0, 1, 0, 0])
        assert str(info.value) == ("invalid metric name 'eval/f1': clashes with metric "
                                   "'eval/f1/x': one name cannot be both a value and a group")
        with pytest.raises(GitlogError, match="^metric 'b' got a non-numeric value 'x'"):
            run.log_metrics({"a": 1.0, "b": "x"})
        with pytest.raises(GitlogError, match="^step must be a whole number"):
            run.log_metrics({"a": 1.0}, step=-1)
        run.log_eval([0, 1, 1, 0], [0, 1, 0, 0], prefix="test")
    stored = summary(repo, run.commit)
    assert stored["eval"] == {"f1": {"x": 1.0}} and "a" not in stored
    assert stored["test"]["accuracy"] == 0.75
