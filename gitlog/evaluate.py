"""Evaluation on a held-out set: ``Run.log_eval``.

Metrics come from scikit-learn (the ``[sklearn]`` extra, imported here only). Scalars
become metrics ``<prefix>/<name>`` (so they land in ``metrics.json`` under ``eval``);
curves and the confusion matrix become plot files in the JSON shape DVC's plots read:

    plots/roc/<prefix>.json               {"roc": [{"fpr", "tpr", "threshold"}, ...]}
    plots/precision_recall/<prefix>.json  {"prc": [{"precision", "recall", "threshold"}]}
    plots/confusion/<prefix>.json         [{"actual", "predicted"}, ...] one row per sample
                                          (up to MAX_CONFUSION_ROWS; then per N samples)

``dvc.yaml`` declares those folders (see ``dvcfiles``), so ``dvc plots show`` draws them.
For multiclass and multilabel problems the curves are micro-averaged one-vs-rest.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from typing import Any

from .errors import GitlogError
from .names import check_metric
from .recorder import GitlogWarning, append_record

MAX_CURVE_POINTS = 1000
MAX_CONFUSION_ROWS = 10_000


def _sklearn() -> Any:
    try:
        import numpy as np
        from sklearn import metrics
    except ImportError:
        raise GitlogError("log_eval needs scikit-learn, which is not installed",
                          hint="pip install 'gitlog[sklearn]'") from None
    return np, metrics


def evaluate(y_true: Any, y_pred: Any = None, y_score: Any = None, *,
             labels: Any = None) -> tuple[dict[str, float], dict[str, Any], list[str]]:
    """(metrics, plots, notes) for one evaluation; see ``Run.log_eval``. The notes say
    what could not be computed (ROC-AUC of a class without samples) and why."""
    np, skm = _sklearn()
    from sklearn.preprocessing import label_binarize
    from sklearn.utils.multiclass import type_of_target

    if y_pred is None and y_score is None:
        raise GitlogError("log_eval needs y_pred or y_score (or both)",
                          hint="pass the predicted labels, the scores/probabilities, or both")
    y_true = _column(np, "y_true", y_true)
    if not len(y_true):
        raise GitlogError("log_eval got no samples: y_true is empty",
                          hint="evaluate on a non-empty held-out set")
    kind = type_of_target(y_true)
    if kind not in ("binary", "multiclass", "multilabel-indicator"):
        raise GitlogError(f"log_eval handles binary, multiclass and multilabel targets, "
                          f"got {kind!r}", hint="pass class labels, not continuous values")
    score = None if y_score is None else _column(np, "y_score", y_score, dtype=float)
    if score is not None and score.ndim == 2 and score.shape[1] == 1:
        score = score[:, 0]  # one column (a Keras sigmoid's (n, 1)): the positive class's
    if score is not None and score.ndim > 2:
        raise GitlogError(f"y_score has {score.ndim} dimensions, shape {score.shape}",
                          hint="pass one score per sample, or one row of a score per class")
    pred = None if y_pred is None else _column(np, "y_pred", y_pred)
    if pred is not None and type_of_target(pred).startswith("continuous"):
        raise GitlogError("y_pred holds continuous values, not class labels",
                          hint="pass probabilities or scores as y_score=, labels as y_pred")
    if kind == "multilabel-indicator":
        classes = np.arange(y_true.shape[1]) if labels is None else np.asarray(labels)
        if len(classes) != y_true.shape[1]:
            raise GitlogError(f"labels= names {len(classes)} label(s) but y_true has "
                              f"{y_true.shape[1]} label columns",
                              hint="name every label column of y_true, in its order")
    else:
        classes = _given(np, labels, y_true, pred) if labels is not None else \
            _classes(np, y_true, pred, score)
        if kind == "binary" and len(classes) > 2:  # y_pred holds a class y_true lacks
            kind = "multiclass"
    if score is not None and len(score) != len(y_true):
        raise GitlogError(f"y_score has {len(score)} rows but y_true has {len(y_true)}",
                          hint="pass one score (row) per sample")
    if pred is None:
        pred = _predictions(np, kind, classes, score)
    if len(pred) != len(y_true):
        raise GitlogError(f"y_pred has {len(pred)} items but y_true has {len(y_true)}",
                          hint="pass one prediction per sample")
    binary = kind == "binary" and len(classes) <= 2
    out: dict[str, float] = {"accuracy": skm.accuracy_score(y_true, pred)}
    label_arg = None if kind == "multilabel-indicator" else list(classes)
    for avg in ("macro", "micro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, pred, average=avg,
                                                         labels=label_arg, zero_division=0)
        out.update({f"precision_{avg}": p, f"recall_{avg}": r, f"f1_{avg}": f})
    if binary:
        positive = classes[-1]
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, pred, average="binary",
                                                         pos_label=positive, zero_division=0)
        out.update({"precision": p, "recall": r, "f1": f})
    plots: dict[str, Any] = {}
    notes = _zero_division_notes(np, kind, classes, y_true, pred,
                                 positive=classes[-1] if binary else None)
    if score is not None:
        _score_metrics(np, skm, label_binarize, kind, binary, classes, y_true, score, out,
                       plots, notes)
    if kind != "multilabel-indicator":
        plots["confusion"] = _confusion_rows(y_true, pred)
    return {k: float(v) for k, v in out.items()}, plots, notes


def _zero_division_notes(np: Any, kind: str, classes: Any, y_true: Any, pred: Any,
                         positive: Any) -> list[str]:
    """What scikit-learn's ``zero_division=0`` took as 0, which it would warn about:
    the precision of a class never predicted, the recall of a class without a sample in
    y_true, the F1 of a class with neither; each note names the metrics it lowers."""
    if kind == "multilabel-indicator":
        what = "label column(s)"
        names = [_label(c) for c in classes]
        support, predicted = y_true.sum(axis=0), np.asarray(pred).sum(axis=0)
    else:
        what = "class(es)"
        names = [_label(c) for c in classes]
        support, predicted = _counts(np, classes, y_true), _counts(np, classes, pred)
    never, absent = predicted == 0, support == 0
    at = None if positive is None else len(names) - 1  # a binary problem's positive class
    notes = []
    for metric, undefined, why, weighted in (
            ("precision", never, "never predicted", True),
            ("recall", absent, "no sample in y_true", False),  # its weight is 0
            ("f1", never & absent, "neither in y_true nor predicted", False)):
        if not undefined.any():
            continue
        lowered = ([metric] if at is not None and undefined[at] else []) + \
            [f"{metric}_macro"] + \
            ([f"{metric}_weighted"] if weighted and (undefined & ~absent).any() else [])
        listed = [n for n, u in zip(names, undefined, strict=True) if u]
        more = f" and {len(listed) - 10} more" if len(listed) > 10 else ""
        notes.append(f"{metric} is undefined for {what} {', '.join(listed[:10])}{more} "
                     f"({why}): counted as 0 (scikit-learn's zero_division=0) in "
                     f"{', '.join(lowered)}")
    return notes


def _counts(np: Any, classes: Any, values: Any) -> Any:
    """How many of ``values`` hold each class (one pass, not one per class: a thousand
    classes of 100,000 samples took 3 s)."""
    found, counts = np.unique(values, return_counts=True)
    seen = dict(zip(found.tolist(), counts.tolist(), strict=True))
    return np.array([seen.get(c, 0) for c in classes.tolist()])


def _column(np: Any, name: str, values: Any, dtype: Any = None) -> Any:
    """``values`` as an array; NaN (a missing label, a diverged score), an infinite value
    and a missing label (None, pandas' NA) are errors."""
    values = _untorched(values)
    try:
        array = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise GitlogError(f"{name} is not an array of numbers or labels: {exc}",
                          hint=f"pass {name} as a list, numpy array or pandas Series") from None
    if array.ndim == 0:
        raise GitlogError(f"{name} is one value, not one per sample",
                          hint=f"pass {name} as a list, numpy array or pandas Series")
    if not len(array):
        return array
    if array.dtype.kind in "fc":
        rows = array.reshape(len(array), -1)
        for what, flags in (("NaN", np.isnan(rows)), ("an infinite value", np.isinf(rows))):
            _refuse_rows(np, name, what, flags.any(axis=1))
    elif array.dtype.kind == "O":  # None, float('nan') or pandas' NA among labels
        missing = np.fromiter((_missing(v) for v in array.reshape(-1)), bool, array.size)
        _refuse_rows(np, name, "a missing value (None or NaN)",
                     missing.reshape(len(array), -1).any(axis=1))
    return array


def _untorched(values: Any) -> Any:
    """A torch tensor as numpy reads it: apart from autograd (``model(X)``'s logits
    require grad), on the CPU (from a GPU), bfloat16 (which numpy lacks) as float32."""
    if not type(values).__module__.startswith("torch") or not hasattr(values, "detach"):
        return values
    values = values.detach().cpu()
    if str(values.dtype) == "torch.bfloat16":
        values = values.float()
    return values.numpy()


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN; pandas' NA cannot say
    except TypeError:
        return True


def _refuse_rows(np: Any, name: str, what: str, rows: Any) -> None:
    bad = np.flatnonzero(rows)
    if len(bad):
        raise GitlogError(f"{name} holds {what} in {len(bad)} of {len(rows)} rows "
                          f"(the first is row {int(bad[0])})",
                          hint="drop or fill those samples before evaluating")


def _given(np: Any, labels: Any, y_true: Any, pred: Any) -> Any:
    """``labels=`` as an array; a class of y_true or y_pred it lacks is an error (the
    metrics would drop its samples, or scikit-learn stop with its own error)."""
    classes = np.asarray(labels)
    known = set(classes.tolist())
    seen = np.unique(y_true).tolist() + ([] if pred is None else np.unique(pred).tolist())
    missing = [str(v) for v in dict.fromkeys(seen) if v not in known]
    if missing:
        raise GitlogError(f"labels= lacks {len(missing)} class(es) of y_true or y_pred: "
                          f"{', '.join(missing[:10])}",
                          hint="list every class in labels= (in the order of the score "
                               "columns; for 1-D scores, [negative, positive])")
    return classes


def _classes(np: Any, y_true: Any, pred: Any, score: Any) -> Any:
    """The labels of a binary or multiclass problem: those of y_true and y_pred, or one
    per score column when the scores have more (0/1 for 1-D scores)."""
    classes = np.unique(y_true)
    if pred is not None:
        if (y_true.dtype.kind in "USO") != (pred.dtype.kind in "USO"):
            raise GitlogError(f"y_true and y_pred hold different kinds of labels "
                              f"({y_true.dtype} and {pred.dtype})",
                              hint="pass both as class names or both as numbers")
        classes = np.union1d(classes, pred)
    if score is None:
        return classes
    columns = 2 if score.ndim == 1 else score.shape[1]
    if len(classes) >= columns:
        return classes
    if classes.dtype.kind in "biu" and classes.min() >= 0 and classes.max() < columns:
        if classes.dtype.kind == "b":
            return np.array([False, True])
        return np.arange(columns)
    raise GitlogError(f"y_true holds {len(classes)} class(es) but y_score has scores for "
                      f"{columns}, so which class each score is for is unknown",
                      hint="pass labels= (every class, in the order of the score columns; "
                           "for 1-D scores, [negative, positive])")


def _predictions(np: Any, kind: str, classes: Any, score: Any) -> Any:
    if kind == "multilabel-indicator":
        return (score >= 0.5).astype(int)
    if score.ndim == 1:  # probabilities: cut at 0.5; other scores (decision_function's,
        # logits) at 0, as predict() cuts them
        cut = 0.5 if _probabilities(np, score) else 0.0
        return np.where(score >= cut, classes[-1], classes[0])
    return classes[np.argmax(score, axis=1)]


def _probabilities(np: Any, score: Any) -> bool:
    """Whether 1-D scores are probabilities: all in [0, 1], give or take float error
    (a float32 sigmoid's 1.0000001), not margins or logits."""
    return bool(np.all((score >= -1e-6) & (score <= 1 + 1e-6)))


def _positive_scores(np: Any, score: Any) -> tuple[Any, bool]:
    """A binary problem's score of the positive class, and whether it is a probability.
    Of two columns that are probabilities (rows sum to 1, predict_proba's) the last; of
    two other columns (a torch model's two logits) their difference, the log-odds
    softmax ranks by: the last logit alone ranks samples otherwise (a real model's
    ROC-AUC read 0.82 for 0.91)."""
    if score.ndim == 1:
        return score, _probabilities(np, score)
    if _probabilities(np, score) and np.allclose(score.sum(axis=1), 1.0, rtol=0, atol=1e-5):
        return score[:, -1], True
    return score[:, -1] - score[:, 0], False


def _score_metrics(np: Any, skm: Any, label_binarize: Any, kind: str, binary: bool,
                   classes: Any, y_true: Any, score: Any, out: dict[str, float],
                   plots: dict[str, Any], notes: list[str]) -> None:
    if binary:
        positive, probabilities = _positive_scores(np, score)
        truth = (y_true == classes[-1]).astype(int)
        if len(np.unique(truth)) == 2:
            out["roc_auc"] = skm.roc_auc_score(truth, positive)
        else:
            notes.append(f"roc_auc is undefined: y_true holds one class "
                         f"({_label(np.unique(y_true)[0])}), so it is not logged, nor are the ROC "
                         "and precision-recall curves")
        if probabilities:  # float error past 0 or 1 (a float32 sigmoid's
            # 1.0000001) back inside: scikit-learn refuses it; a 0 or 1 it clips itself,
            # so the value is the one its log_loss gives (a 1e-15 cut made another)
            out["log_loss"] = skm.log_loss(truth, np.clip(positive, 0.0, 1.0), labels=[0, 1])
        flat_truth, flat_score = truth, positive
    else:
        if score.ndim != 2:
            raise GitlogError("y_score for a multiclass or multilabel problem must have "
                              "one column per class", hint="pass predict_proba(X)")
        truth = y_true if kind == "multilabel-indicator" else \
            label_binarize(y_true, classes=list(classes))
        if truth.shape[1] != score.shape[1]:
            raise GitlogError(f"y_score has {score.shape[1]} columns for {truth.shape[1]} "
                              "classes", hint="pass labels= in the order of the score columns")
        present = [i for i in range(truth.shape[1]) if 0 < truth[:, i].sum() < len(truth)]
        if present and (kind == "multilabel-indicator" or len(present) == truth.shape[1]):
            # one-vs-rest macro: each class's AUC from its column, averaged. As
            # roc_auc_score(multi_class="ovr") computes it, but from any scores, not only
            # probabilities (decision_function's, logits)
            out["roc_auc"] = skm.roc_auc_score(truth[:, present], score[:, present],
                                               average="macro")
        if kind == "multilabel-indicator" and len(present) < truth.shape[1]:
            left = [_label(classes[i]) for i in range(truth.shape[1]) if i not in present]
            notes.append(f"roc_auc leaves out label column(s) {', '.join(left)}, all 0 or "
                         "all 1 in y_true" if present else "roc_auc is undefined: every "
                         "label column of y_true is all 0 or all 1, so it is not logged")
        elif len(present) < truth.shape[1]:  # (a class with every sample leaves others none)
            absent = [_label(classes[i]) for i in range(truth.shape[1]) if not truth[:, i].any()]
            notes.append(f"roc_auc (one-vs-rest) is undefined: class(es) {', '.join(absent)} "
                         f"{'have' if len(absent) > 1 else 'has'} no sample in y_true, so "
                         "it is not logged")
        if kind != "multilabel-indicator" and np.all(score >= 0):
            sums = score.sum(axis=1, keepdims=True)
            out["log_loss"] = skm.log_loss(y_true, score / np.where(sums > 0, sums, 1),
                                           labels=list(classes))
        flat_truth, flat_score = truth.ravel(), score.ravel()
    if len(np.unique(flat_truth)) == 2:
        fpr, tpr, thr = skm.roc_curve(flat_truth, flat_score)
        plots["roc"] = {"roc": _rows(("fpr", "tpr", "threshold"), fpr, tpr, thr)}
        prec, rec, thr = skm.precision_recall_curve(flat_truth, flat_score)
        plots["precision_recall"] = {"prc": _rows(("precision", "recall", "threshold"),
                                                  prec[:-1], rec[:-1], thr)}


def _rows(names: tuple[str, ...], *columns: Any) -> list[dict[str, float]]:
    """Curve points as DVC rows, thinned evenly to at most MAX_CURVE_POINTS."""
    n = len(columns[0])
    step = max(1, math.ceil(n / MAX_CURVE_POINTS))
    keep = list(range(0, n, step))
    if keep and keep[-1] != n - 1:
        keep.append(n - 1)
    rows = []
    for i in keep:
        row = {}
        for name, col in zip(names, columns, strict=False):
            value = float(col[i])
            row[name] = value if math.isfinite(value) else (1e308 if value > 0 else -1e308)
        rows.append(row)
    return rows


def _label(value: Any) -> str:
    return str(value)


def samples_per_row(n: int) -> int:
    """How many samples one row of the confusion plot stands for."""
    return max(1, math.ceil(n / MAX_CONFUSION_ROWS))


def _alike(y_true: Any, pred: Any) -> tuple[Any, Any]:
    """Numeric labels of both columns in one type, so a class is spelled alike on both
    axes: ``1`` actual and ``1.0`` predicted (int labels, a torch model's float
    predictions) or ``True`` and ``1`` made two classes of one. Whole numbers are
    written as integers; two bool columns stay ``True``/``False``."""
    import numpy as np

    kinds = {y_true.dtype.kind, pred.dtype.kind}
    if not kinds <= set("biuf") or kinds == {"b"}:
        return y_true, pred
    common = np.result_type(y_true.dtype, pred.dtype)
    y_true, pred = y_true.astype(common), pred.astype(common)
    if common.kind == "f" and all(np.all(np.mod(a, 1) == 0) for a in (y_true, pred)):
        y_true, pred = y_true.astype(np.int64), pred.astype(np.int64)
    return y_true, pred


def _confusion_rows(y_true: Any, pred: Any) -> list[dict[str, str]]:
    """One row per sample, as DVC's confusion template counts them; beyond
    MAX_CONFUSION_ROWS samples each cell keeps one row per ``samples_per_row`` (at least
    one), so a million samples do not put 43 MB into every run commit."""
    y_true, pred = _alike(y_true, pred)
    pairs = zip(map(_label, y_true.tolist()), map(_label, pred.tolist()), strict=False)
    per_row = samples_per_row(len(y_true))
    if per_row == 1:
        return [{"actual": a, "predicted": p} for a, p in pairs]
    rows = []
    for (a, p), count in Counter(pairs).items():
        row = {"actual": a, "predicted": p}
        rows.extend([row] * max(1, round(count / per_row)))
    return rows


def log_eval(run: Any, y_true: Any, y_pred: Any = None, y_score: Any = None, *,
             labels: Any = None, prefix: str = "eval",
             step: int | None = None) -> dict[str, float]:
    """Compute, log as ``<prefix>/<name>`` metrics and plot files; return the metrics."""
    check_metric(prefix)
    metrics, plots, notes = evaluate(y_true, y_pred, y_score, labels=labels)
    # all or none: a name that clashes with one logged before ('eval/f1/x') stops it
    # before the first is logged
    run.log_metrics({f"{prefix}/{name}": value for name, value in metrics.items()}, step)
    for kind, data in plots.items():
        append_record(run.journal, "plots", {"name": f"{kind}/{prefix}", "data": data})
    for text in notes:  # the script sees it now, 'gitlog logs' later
        warnings.warn(f"gitlog: log_eval {prefix}: {text}", GitlogWarning, stacklevel=3)
        run.warning(f"log_eval {prefix}: {text}", step=step)
    per_row = samples_per_row(len(y_true))
    if "confusion" in plots and per_row > 1:
        run.info(f"confusion plot {prefix}: one row per {per_row} samples",
                 samples=len(y_true), rows=len(plots["confusion"]), step=step)
    return metrics
