"""Calibration and thresholds: temperature scaling, expected calibration error, and the
confidence threshold at which auto-accepted labels reach a target precision."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T > 0 minimising the negative log-likelihood of softmax(logits / T) (Guo et al. 2017).

    A 1-D problem: a coarse log-spaced grid, then a finer one around the best point.
    """
    if len(y) == 0:
        return 1.0
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 200))
    best = min(grid, key=lambda t: nll(softmax(logits, t), y))
    fine = np.linspace(best * 0.95, best * 1.05, 41)
    return float(min(fine, key=lambda t: nll(softmax(logits, t), y)))


def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins: Σ (n_b / n) |accuracy_b - confidence_b|."""
    if len(conf) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def reliability(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        m = idx == b
        out.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "n": int(m.sum()),
                "confidence": float(conf[m].mean()) if m.any() else 0.0,
                "accuracy": float(correct[m].mean()) if m.any() else 0.0,
            }
        )
    return out


def coverage_precision(
    conf: np.ndarray, correct: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, coverage, precision) when accepting every label with confidence ≥ threshold,
    for each distinct confidence from high to low."""
    order = np.argsort(-conf, kind="stable")
    c, ok = conf[order], correct[order].astype(float)
    precision = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    coverage = np.arange(1, len(ok) + 1) / max(len(ok), 1)
    return c, coverage, precision


def lower_bound_need(target: float, n: float | np.ndarray, z: float) -> np.ndarray:
    """How far Σ(right − target) over `n` accepted labels must be above 0 for their precision's
    one-sided lower confidence bound, precision − z·√(t(1−t)/n) (normal approximation), to
    reach `target`: z·√(t(1−t)·n). `n` a count or an array of them."""
    return z * np.sqrt(max(target * (1.0 - target), 0.0) * np.asarray(n, float))


def threshold_for_precision(
    conf: np.ndarray, correct: np.ndarray, target: float, *, z: float = 0.0
) -> float:
    """The lowest confidence threshold whose accepted labels are at least `target` correct
    (the largest coverage at that precision, as in selective classification); with z > 0,
    whose precision's lower confidence bound, precision − z·√(t(1−t)/n), is.

    Returns 1.0 (accept nothing automatically) when no threshold reaches the target.
    """
    if len(conf) == 0:
        return 1.0
    thr, _cov, prec = coverage_precision(conf, correct)
    # a threshold accepts whole groups of equal confidence: only the last of a group counts
    group_end = np.append(thr[1:] != thr[:-1], True)
    n = np.arange(1, len(prec) + 1)
    bound = lower_bound_need(target, n, z) / n  # the same bound as a share of the n accepted
    candidates = np.flatnonzero((prec - bound >= target) & group_end)
    if len(candidates) == 0:
        return 1.0
    return float(thr[candidates[-1]])


# how metadata.json's "thresholds" are chosen (train.py, `vitrina fit-fusion --write-thresholds`)
THRESHOLDS_RULE = (
    "lowest per head at which the validation photos' published labels are target_precision "
    "right, a colour right when it is the labeller's colour or runner-up (colour_alt), a "
    "'Not sure'/'Other' photo's category never"
)


def published_thresholds(
    probs: dict[str, np.ndarray], right: dict[str, np.ndarray], target: float
) -> dict[str, float]:
    """Per head, the lowest threshold at which the labels it publishes are `target` right,
    `right[head]` the (N, K) mask of labels that count as right (classifier.data.right_labels:
    the issue's target, colour_alt counted). Rows with NaN probabilities are left out."""
    out = {}
    for head, p in probs.items():
        ok = ~np.isnan(p).any(axis=1)
        pick = p[ok].argmax(axis=1)
        correct = right[head][ok][np.arange(len(pick)), pick]
        out[head] = threshold_for_precision(p[ok].max(axis=1), correct, target)
    return out


def summarise(
    probs: np.ndarray, y: np.ndarray, threshold: float, labels: list[str]
) -> dict[str, object]:
    """Accuracy, macro-F1, ECE, coverage/precision at `threshold`, and a per-class table."""
    pred = probs.argmax(1)
    conf = probs.max(1)
    correct = pred == y
    accepted = conf >= threshold
    per_class = {}
    f1s = []
    for k, name in enumerate(labels):
        tp = int(((pred == k) & (y == k)).sum())
        fp = int(((pred == k) & (y != k)).sum())
        fn = int(((pred != k) & (y == k)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if (y == k).any():
            f1s.append(f1)
        per_class[name] = {
            "support": int((y == k).sum()),
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f1, 4),
        }
    return {
        "n": int(len(y)),
        "accuracy": float(correct.mean()) if len(y) else 0.0,
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "ece": expected_calibration_error(conf, correct),
        "nll": nll(probs, y) if len(y) else 0.0,
        "threshold": float(threshold),
        "coverage": float(accepted.mean()) if len(y) else 0.0,
        "precision_at_threshold": float(correct[accepted].mean()) if accepted.any() else 1.0,
        "per_class": per_class,
    }
