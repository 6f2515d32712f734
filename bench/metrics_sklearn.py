#!/usr/bin/python3
"""Peer of bench/metrics.ts: scikit-learn 1.2 (SciPy/NumPy where scikit-learn has no such metric) on every case.

Reads {"cases": [...], "ece_bins": B} as JSON on stdin and writes
{"results": {case_id: {metric: {"v": value|null, "w": warning|null, "src": ...}}}, "versions": ..., "seconds": t}.
"v" is null when the library raised or returned NaN; "w" holds any warning it emitted (an "undefined" flag).
"""
import json
import sys
import time
import warnings

import numpy as np
import scipy
import sklearn
from scipy import ndimage
from scipy.stats import norm
from sklearn import metrics as M
from sklearn.calibration import calibration_curve
from sklearn.preprocessing import label_binarize

IGNORED = (DeprecationWarning, FutureWarning, PendingDeprecationWarning)


class Undefined(Exception):
    """Raised by a reference computation when its own definition has a zero denominator."""


def to_json(v):
    if isinstance(v, (list, tuple, np.ndarray)):
        return [to_json(x) for x in np.asarray(v, dtype=float).ravel().tolist()]
    v = float(v)
    if np.isposinf(v):
        return "Infinity"
    if np.isneginf(v):
        return "-Infinity"
    return v


def has_nan(v):
    return bool(np.any(np.isnan(np.asarray(v, dtype=float))))


def run(fn, src="sklearn"):
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        try:
            v = fn()
        except Undefined as e:
            return {"v": None, "w": f"undefined: {e}", "src": src}
        except Exception as e:  # noqa: BLE001 - any failure means "undefined" for the comparison
            return {"v": None, "w": f"{type(e).__name__}: {e}", "src": src}
    msgs = [str(x.message) for x in ws if not issubclass(x.category, IGNORED)]
    w = "; ".join(msgs) if msgs else None
    if has_nan(v):
        return {"v": None, "w": w or "nan", "src": src}
    return {"v": to_json(v), "w": w, "src": src}


def ece(y_event, p, bins):
    """ECE on top of scikit-learn's calibration_curve (uniform bins), weighting each non-empty bin by its count."""
    prob_true, prob_pred = calibration_curve(y_event, p, n_bins=bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0 + 1e-8, bins + 1)
    ids = np.searchsorted(edges[1:-1], p)
    counts = np.bincount(ids, minlength=len(edges))
    counts = counts[counts != 0]
    return float(np.sum(counts * np.abs(prob_true - prob_pred)) / len(p))


def mcc(y, pred):
    v = M.matthews_corrcoef(y, pred)
    c = M.confusion_matrix(y, pred)
    t = c.sum(axis=1, dtype=np.float64)
    pp = c.sum(axis=0, dtype=np.float64)
    n = pp.sum()
    if (n * n - pp @ pp) * (n * n - t @ t) == 0:
        raise Undefined("MCC denominator is 0 (scikit-learn returns 0.0)")
    return v


def ovr_rates(y, pred, which):
    """Macro specificity or NPV from scikit-learn's multilabel_confusion_matrix over the present labels."""
    mcm = M.multilabel_confusion_matrix(y, pred)
    tn, fp, fn = mcm[:, 0, 0], mcm[:, 0, 1], mcm[:, 1, 0]
    den = tn + fp if which == "specificity" else tn + fn
    if np.any(den == 0):
        raise Undefined(f"{which} has a zero denominator for a class")
    return float(np.mean(tn / den))


def psi(x, y):
    return (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])


def delong_components(y, s):
    x, z = s[y == 1], s[y == 0]
    if len(x) < 2 or len(z) < 2:
        raise Undefined("DeLong variance needs at least 2 positives and 2 negatives")
    k = psi(x, z)
    return k.mean(axis=1), k.mean(axis=0), k.mean(), len(x), len(z)


def delong_variance(y, s):
    """DeLong et al. (1988) by direct O(m·n) structural components (the definition, not the fast algorithm)."""
    v10, v01, _, m, n = delong_components(y, s)
    return np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n


def delong_test(y, s1, s2):
    a10, a01, auc1, m, n = delong_components(y, s1)
    b10, b01, auc2, _, _ = delong_components(y, s2)
    s = np.cov(np.vstack([a10, b10])) / m + np.cov(np.vstack([a01, b01])) / n
    var = s[0, 0] + s[1, 1] - 2 * s[0, 1]
    if not var > 0:
        raise Undefined("the AUC difference has zero variance")
    z = (auc1 - auc2) / np.sqrt(var)
    return 2 * norm.sf(abs(z))


def youden(y, s):
    fpr, tpr, thr = M.roc_curve(y, s, drop_intermediate=False)
    if has_nan(fpr) or has_nan(tpr):
        raise Undefined("one class only")
    i = int(np.argmax(tpr - fpr))
    if i == 0:
        raise Undefined("no threshold has positive Youden J")
    return thr[i]


def binary(c, bins):
    y = np.asarray(c["labels"], dtype=int)
    s = np.asarray(c["scores"], dtype=float)
    s2 = np.asarray(c["scores2"], dtype=float)
    pred = (s >= c["threshold"]).astype(int)
    r = {
        "accuracy": run(lambda: M.accuracy_score(y, pred)),
        "balanced_accuracy": run(lambda: M.balanced_accuracy_score(y, pred)),
        "precision": run(lambda: M.precision_score(y, pred)),
        "recall": run(lambda: M.recall_score(y, pred)),
        "specificity": run(lambda: M.recall_score(y, pred, pos_label=0)),
        "npv": run(lambda: M.precision_score(y, pred, pos_label=0)),
        "f1": run(lambda: M.f1_score(y, pred)),
        "f2": run(lambda: M.fbeta_score(y, pred, beta=2)),
        "precision_zd0": run(lambda: M.precision_score(y, pred, zero_division=0)),
        "recall_zd0": run(lambda: M.recall_score(y, pred, zero_division=0)),
        "specificity_zd0": run(lambda: M.recall_score(y, pred, pos_label=0, zero_division=0)),
        "npv_zd0": run(lambda: M.precision_score(y, pred, pos_label=0, zero_division=0)),
        "f1_zd0": run(lambda: M.f1_score(y, pred, zero_division=0)),
        "mcc": run(lambda: mcc(y, pred)),
        "kappa": run(lambda: M.cohen_kappa_score(y, pred)),
        "confusion_matrix": run(lambda: M.confusion_matrix(y, pred, labels=[0, 1])),
        "roc_auc": run(lambda: M.roc_auc_score(y, s)),
        "roc_fpr": run(lambda: M.roc_curve(y, s)[0]),
        "roc_tpr": run(lambda: M.roc_curve(y, s)[1]),
        "roc_thresholds": run(lambda: M.roc_curve(y, s)[2][1:]),
        "pr_precision": run(lambda: M.precision_recall_curve(y, s)[0]),
        "pr_recall": run(lambda: M.precision_recall_curve(y, s)[1]),
        "pr_thresholds": run(lambda: M.precision_recall_curve(y, s)[2]),
        "average_precision": run(lambda: M.average_precision_score(y, s)),
        "log_loss": run(lambda: M.log_loss(y, s, labels=[0, 1])),
        "brier": run(lambda: M.brier_score_loss(y, s)),
        "ece": run(lambda: ece(y, s, bins), "sklearn calibration_curve"),
        "youden_threshold": run(lambda: youden(y, s), "sklearn roc_curve + numpy argmax"),
        "medmnist_acc": run(lambda: M.accuracy_score(y, s > 0.5)),
        "medmnist_auc": run(lambda: M.roc_auc_score(y, s)),
        "delong_variance": run(lambda: delong_variance(y, s), "numpy O(mn) DeLong 1988"),
        "delong_test_p": run(lambda: delong_test(y, s, s2), "numpy DeLong 1988 + scipy norm"),
    }
    return r


def multiclass(c, bins):
    y = np.asarray(c["labels"], dtype=int)
    p = np.asarray(c["scores"], dtype=float)
    k = c["k"]
    pred = p.argmax(axis=1)
    r = {
        "accuracy": run(lambda: M.accuracy_score(y, pred)),
        "balanced_accuracy": run(lambda: M.balanced_accuracy_score(y, pred)),
        "specificity_macro": run(lambda: ovr_rates(y, pred, "specificity"), "sklearn multilabel_confusion_matrix"),
        "npv_macro": run(lambda: ovr_rates(y, pred, "npv"), "sklearn multilabel_confusion_matrix"),
        "mcc": run(lambda: mcc(y, pred)),
        "kappa": run(lambda: M.cohen_kappa_score(y, pred)),
        "confusion_matrix": run(lambda: M.confusion_matrix(y, pred, labels=list(range(k)))),
        "log_loss": run(lambda: M.log_loss(y, p, labels=list(range(k)))),
        "ece_top_label": run(lambda: ece((pred == y).astype(int), p.max(axis=1), bins), "sklearn calibration_curve"),
        "medmnist_acc": run(lambda: M.accuracy_score(y, pred)),
        "medmnist_auc": run(lambda: np.mean([M.roc_auc_score(y == i, p[:, i]) for i in range(k)])),
    }
    for avg in ("macro", "micro", "weighted"):
        r[f"precision_{avg}"] = run(lambda: M.precision_score(y, pred, average=avg))
        r[f"recall_{avg}"] = run(lambda: M.recall_score(y, pred, average=avg))
        r[f"f1_{avg}"] = run(lambda: M.f1_score(y, pred, average=avg))
        r[f"precision_{avg}_zd0"] = run(lambda: M.precision_score(y, pred, average=avg, zero_division=0))
        r[f"recall_{avg}_zd0"] = run(lambda: M.recall_score(y, pred, average=avg, zero_division=0))
        r[f"f1_{avg}_zd0"] = run(lambda: M.f1_score(y, pred, average=avg, zero_division=0))
        r[f"roc_auc_ovr_{avg}"] = run(lambda: M.roc_auc_score(y, p, multi_class="ovr", average=avg))
    for avg in ("macro", "weighted"):
        r[f"roc_auc_ovo_{avg}"] = run(lambda: M.roc_auc_score(y, p, multi_class="ovo", average=avg))
    yb = label_binarize(y, classes=list(range(k)))
    r["average_precision_macro"] = run(lambda: M.average_precision_score(yb, p, average="macro"))
    r["average_precision_micro"] = run(lambda: M.average_precision_score(yb, p, average="micro"))
    return r


def multilabel(c, bins):
    y = np.asarray(c["labels"], dtype=int)
    p = np.asarray(c["scores"], dtype=float)
    pred = (p >= c["threshold"]).astype(int)
    n_labels = y.shape[1]
    cols = range(n_labels)
    r = {
        "label_accuracy_mean": run(lambda: np.mean([M.accuracy_score(y[:, j], pred[:, j]) for j in cols])),
        "subset_accuracy": run(lambda: M.accuracy_score(y, pred)),
        "roc_auc_macro": run(lambda: M.roc_auc_score(y, p, average="macro")),
        "roc_auc_micro": run(lambda: M.roc_auc_score(y, p, average="micro")),
        "roc_auc_weighted": run(lambda: M.roc_auc_score(y, p, average="weighted")),
        "average_precision_macro": run(lambda: M.average_precision_score(y, p, average="macro")),
        "average_precision_micro": run(lambda: M.average_precision_score(y, p, average="micro")),
        "log_loss_label_mean": run(lambda: np.mean([M.log_loss(y[:, j], p[:, j], labels=[0, 1]) for j in cols])),
        "brier_label_mean": run(lambda: np.mean([M.brier_score_loss(y[:, j], p[:, j]) for j in cols])),
        "medmnist_acc": run(lambda: np.mean([M.accuracy_score(y[:, j], p[:, j] > 0.5) for j in cols])),
        "medmnist_auc": run(lambda: np.mean([M.roc_auc_score(y[:, j], p[:, j]) for j in cols])),
    }
    for name, fn in (("precision", M.precision_score), ("recall", M.recall_score), ("f1", M.f1_score)):
        r[f"{name}_macro"] = run(lambda: fn(y, pred, average="macro"))
        r[f"{name}_macro_zd0"] = run(lambda: fn(y, pred, average="macro", zero_division=0))
    return r


def segmentation(c):
    shape = tuple(c["shape"])
    spacing = c["spacing"]
    a = np.asarray(c["pred"], dtype=bool).reshape(shape)
    b = np.asarray(c["gt"], dtype=bool).reshape(shape)
    src = "scipy.ndimage (MONAI definitions)"

    def overlap(kind):
        total = a.sum() + b.sum()
        inter = np.logical_and(a, b).sum()
        if total == 0:
            raise Undefined("both masks empty")
        return 2 * inter / total if kind == "dice" else inter / (total - inter)

    ea = a ^ ndimage.binary_erosion(a)
    eb = b ^ ndimage.binary_erosion(b)

    def distances():
        if not ea.any() and not eb.any():
            raise Undefined("both masks empty")
        if not ea.any() or not eb.any():
            return None
        d_ab = ndimage.distance_transform_edt(~eb, sampling=spacing)[ea]
        d_ba = ndimage.distance_transform_edt(~ea, sampling=spacing)[eb]
        return d_ab, d_ba

    def hd95():
        d = distances()
        if d is None:
            return np.inf
        return max(np.percentile(d[0], 95), np.percentile(d[1], 95))

    def assd():
        d = distances()
        if d is None:
            return np.inf
        return np.concatenate(d).mean()

    def surface_dice():
        d = distances()
        if d is None:
            return 0.0
        tol = c["tolerance"]
        return ((d[0] <= tol).sum() + (d[1] <= tol).sum()) / (len(d[0]) + len(d[1]))

    return {
        "dice": run(lambda: overlap("dice"), src),
        "iou": run(lambda: overlap("iou"), src),
        "hd95": run(hd95, src),
        "assd": run(assd, src),
        "surface_dice": run(surface_dice, src),
    }


def timing(doc):
    """Times scikit-learn on one large binary problem written by bench/metrics.ts (float64 files)."""
    y = np.fromfile(doc["labels_path"], dtype=np.float64).astype(int)
    s = np.fromfile(doc["scores_path"], dtype=np.float64)
    pred = (s >= 0.5).astype(int)
    jobs = {
        "roc_auc": lambda: M.roc_auc_score(y, s),
        "average_precision": lambda: M.average_precision_score(y, s),
        "log_loss": lambda: M.log_loss(y, s, labels=[0, 1]),
        "brier": lambda: M.brier_score_loss(y, s),
        "f1": lambda: M.f1_score(y, pred),
        "mcc": lambda: M.matthews_corrcoef(y, pred),
    }
    out = {}
    for name, fn in jobs.items():
        best = float("inf")
        for _ in range(doc.get("repeats", 3)):
            t0 = time.perf_counter()
            v = fn()
            best = min(best, time.perf_counter() - t0)
        out[name] = {"seconds": best, "value": float(v)}
    json.dump(out, sys.stdout)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--timing":
        timing(json.load(sys.stdin))
        return
    doc = json.load(sys.stdin)
    bins = doc.get("ece_bins", 15)
    results = {}
    t0 = time.perf_counter()
    for c in doc["cases"]:
        task = c["task"]
        if task == "binary":
            results[c["id"]] = binary(c, bins)
        elif task == "multiclass":
            results[c["id"]] = multiclass(c, bins)
        elif task == "multilabel":
            results[c["id"]] = multilabel(c, bins)
        else:
            results[c["id"]] = segmentation(c)
    seconds = time.perf_counter() - t0
    versions = {"sklearn": sklearn.__version__, "numpy": np.__version__, "scipy": scipy.__version__}
    json.dump({"results": results, "versions": versions, "seconds": seconds}, sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()
