"""Classification and regression metrics, written from their definitions.

Classification: accuracy, confusion matrix, precision/recall/F1 with binary, micro, macro and weighted
averaging, Matthews correlation, log loss, ROC curve and its area. Regression: MSE, MAE, R^2.
Conventions follow scikit-learn so values agree to 1e-12: labels are the sorted union of y_true and
y_pred, a 0/0 precision or recall counts as 0, and the ROC curve drops collinear points.
"""

from __future__ import annotations

import numpy as np


def _labels(y_true, y_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred have different lengths ({len(y_true)} vs {len(y_pred)}); "
            "pass one prediction per sample"
        )
    return y_true, y_pred, np.unique(np.concatenate([y_true, y_pred]))


def accuracy_score(y_true, y_pred) -> float:
    y_true, y_pred, _ = _labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true, y_pred, labels=None) -> np.ndarray:
    """C[i, j] = number of samples of true class labels[i] predicted as labels[j]."""
    y_true, y_pred, found = _labels(y_true, y_pred)
    labels = found if labels is None else np.asarray(labels)
    index = {label: i for i, label in enumerate(labels.tolist())}
    k = len(labels)
    keep = np.array([t in index and p in index for t, p in zip(y_true.tolist(), y_pred.tolist())], bool)
    rows = np.array([index[t] for t in y_true[keep].tolist()], dtype=np.int64)
    cols = np.array([index[p] for p in y_pred[keep].tolist()], dtype=np.int64)
    return np.bincount(rows * k + cols, minlength=k * k).reshape(k, k)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    out = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def precision_recall_fscore(y_true, y_pred, *, average: str | None = "binary", pos_label=1, beta=1.0):
    """(precision, recall, F-beta, support) per class (average=None) or averaged.

    binary: the pos_label class only; micro: pool TP/FP/FN over classes; macro: unweighted mean of the
    per-class scores; weighted: mean weighted by each class's support (number of true samples).
    """
    if average not in (None, "binary", "micro", "macro", "weighted"):
        raise ValueError(f"average must be None, 'binary', 'micro', 'macro' or 'weighted', got {average!r}")
    y_true, y_pred, labels = _labels(y_true, y_pred)
    cm = confusion_matrix(y_true, y_pred, labels)
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(axis=0).astype(np.float64), cm.sum(axis=1).astype(np.float64)
    if average == "binary":
        if len(labels) > 2:
            raise ValueError(
                f"average='binary' needs two classes, found {len(labels)}; choose micro, macro or weighted"
            )
        if pos_label not in labels.tolist():
            if len(labels) == 1:  # all one class and it is not the positive one: nothing positive
                return 0.0, 0.0, 0.0, None
            raise ValueError(f"pos_label={pos_label!r} is not a valid label; labels are {labels.tolist()}")
        i = labels.tolist().index(pos_label)
        tp, predicted, support = tp[i : i + 1], predicted[i : i + 1], support[i : i + 1]
    elif average == "micro":
        tp, predicted, support = (
            tp.sum(keepdims=True),
            predicted.sum(keepdims=True),
            support.sum(keepdims=True),
        )
    precision, recall = _divide(tp, predicted), _divide(tp, support)
    b2 = beta**2
    f = _divide((1 + b2) * precision * recall, b2 * precision + recall)
    if average is None:
        return precision, recall, f, support.astype(np.int64)
    if average == "weighted":
        weights = support / support.sum() if support.sum() > 0 else np.zeros_like(support)
        return float(precision @ weights), float(recall @ weights), float(f @ weights), None
    return float(precision.mean()), float(recall.mean()), float(f.mean()), None


def precision_score(y_true, y_pred, *, average="binary", pos_label=1):
    return precision_recall_fscore(y_true, y_pred, average=average, pos_label=pos_label)[0]


def recall_score(y_true, y_pred, *, average="binary", pos_label=1):
    return precision_recall_fscore(y_true, y_pred, average=average, pos_label=pos_label)[1]


def f1_score(y_true, y_pred, *, average="binary", pos_label=1):
    return precision_recall_fscore(y_true, y_pred, average=average, pos_label=pos_label)[2]


def matthews_corrcoef(y_true, y_pred) -> float:
    """Multiclass MCC from the confusion matrix (Gorodkin's R_K); 0 when a denominator term vanishes."""
    cm = confusion_matrix(y_true, y_pred).astype(np.float64)
    t, p = cm.sum(axis=1), cm.sum(axis=0)  # true and predicted counts per class
    n, correct = cm.sum(), np.trace(cm)
    cov_tp = correct * n - t @ p
    cov_pp, cov_tt = n**2 - p @ p, n**2 - t @ t
    if cov_pp * cov_tt == 0:
        return 0.0
    return float(cov_tp / np.sqrt(cov_tt * cov_pp))


def log_loss(y_true, y_prob, *, labels=None) -> float:
    """Mean negative log-likelihood of the true class; probabilities clipped to [eps, 1 - eps].

    y_prob is (n, K) with columns in the sorted label order, or (n,) for the positive class of a
    binary problem. Clipping keeps log finite for a confident wrong answer; rows are not renormalized.
    """
    y_true = np.asarray(y_true).ravel()
    classes = np.unique(y_true) if labels is None else np.asarray(labels)
    prob = np.asarray(y_prob, dtype=np.float64)
    if prob.ndim == 1:
        prob = np.column_stack([1 - prob, prob])  # (n, 2)
    if prob.shape[1] == 1 and len(classes) == 2:
        prob = np.column_stack([1 - prob[:, 0], prob[:, 0]])
    if prob.shape != (len(y_true), len(classes)):
        raise ValueError(
            f"y_prob has shape {prob.shape}, expected ({len(y_true)}, {len(classes)}): one column per "
            "class in sorted label order"
        )
    eps = np.finfo(prob.dtype).eps
    prob = np.clip(prob, eps, 1 - eps)
    index = np.searchsorted(classes, y_true)
    return float(-np.mean(np.log(prob[np.arange(len(y_true)), index])))


def roc_curve(y_true, y_score, *, pos_label=None, drop_intermediate: bool = True):
    """(fpr, tpr, thresholds) sweeping the threshold down through every distinct score.

    The first threshold is +inf (nothing predicted positive). With drop_intermediate, points that lie
    on a straight segment between their neighbours are removed: they do not change the curve or AUC.
    """
    y_true, y_score = np.asarray(y_true).ravel(), np.asarray(y_score, dtype=np.float64).ravel()
    if pos_label is None:
        pos_label = 1 if set(np.unique(y_true).tolist()) <= {0, 1, -1} else np.max(y_true)
    positive = (y_true == pos_label).astype(np.float64)
    order = np.argsort(y_score, kind="mergesort")[::-1]  # (n,) descending scores
    score, positive = y_score[order], positive[order]
    last_of_run = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]  # end of each tied block
    tps = np.cumsum(positive)[last_of_run]
    fps = 1 + last_of_run - tps
    thresholds = score[last_of_run]
    if drop_intermediate and len(fps) > 2:
        corner = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps, thresholds = fps[corner], tps[corner], thresholds[corner]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    thresholds = np.r_[np.inf, thresholds]
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full_like(fps, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full_like(tps, np.nan)
    return fpr, tpr, thresholds


def auc(x, y) -> float:
    """Area under a curve by the trapezoidal rule (x monotone, increasing or decreasing)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    dx = np.diff(x)
    direction = 1.0
    if np.any(dx < 0):
        if np.all(dx <= 0):
            direction = -1.0
        else:
            raise ValueError("x must be monotonic (increasing or decreasing) to compute an area")
    return float(direction * np.sum(dx * (y[1:] + y[:-1]) / 2))


def roc_auc_score(y_true, y_score) -> float:
    """Binary ROC AUC: the area under `roc_curve` (ties in score count half, as the trapezoid does)."""
    if len(np.unique(y_true)) != 2:
        raise ValueError("ROC AUC needs both classes present in y_true; it is undefined for one class")
    fpr, tpr, _ = roc_curve(y_true, y_score, drop_intermediate=False)
    return auc(fpr, tpr)


def _regression_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}; they must match")
    return y_true, y_pred


def mean_squared_error(y_true, y_pred) -> float:
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return float(np.mean((y_true - y_pred) ** 2))


def mean_absolute_error(y_true, y_pred) -> float:
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def r2_score(y_true, y_pred) -> float:
    """1 - SS_res / SS_tot; a constant y_true gives 1.0 for a perfect fit and 0.0 otherwise."""
    y_true, y_pred = _regression_pair(y_true, y_pred)
    ss_res = np.sum((y_true - y_pred) ** 2, axis=0)
    ss_tot = np.sum((y_true - np.mean(y_true, axis=0)) ** 2, axis=0)
    if np.ndim(ss_tot) == 0:
        if ss_tot == 0:
            return 1.0 if ss_res == 0 else 0.0
        return float(1 - ss_res / ss_tot)
    scores = np.where(ss_tot != 0, 1 - ss_res / np.where(ss_tot != 0, ss_tot, 1), (ss_res == 0) * 1.0)
    return float(np.mean(scores))
