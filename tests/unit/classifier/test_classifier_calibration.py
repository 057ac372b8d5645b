"""Temperature scaling, calibration error and thresholds for a target precision."""

from __future__ import annotations

import numpy as np
import pytest

from classifier import calibration


def synthetic(n: int = 4000, k: int = 10, true_t: float = 2.5, seed: int = 0):  # type: ignore[no-untyped-def]
    """Labels drawn from softmax(z); the model reports z * true_t (over-confident by true_t)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2.0, (n, k))
    p = calibration.softmax(z)
    y = np.array([rng.choice(k, p=row) for row in p])
    return z * true_t, y


def test_temperature_undoes_overconfidence() -> None:
    logits, y = synthetic()
    t = calibration.fit_temperature(logits, y)
    assert t == pytest.approx(2.5, rel=0.1)
    before = calibration.softmax(logits)
    after = calibration.softmax(logits, t)
    ece = calibration.expected_calibration_error
    correct = before.argmax(1) == y
    assert ece(after.max(1), correct) < 0.03 < ece(before.max(1), correct)
    assert calibration.nll(after, y) < calibration.nll(before, y)


def test_threshold_reaches_target_precision_with_most_coverage() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.2, 1.0, 5000)
    correct = rng.uniform(0, 1, 5000) < conf  # calibrated: P(correct) = confidence
    thr = calibration.threshold_for_precision(conf, correct, 0.95)
    accepted = conf >= thr
    assert correct[accepted].mean() >= 0.95
    # close to the largest coverage any threshold reaches at that precision
    _t, coverage, precision = calibration.coverage_precision(conf, correct)
    assert accepted.mean() >= coverage[precision >= 0.95].max() - 0.05
    assert 0.8 < thr < 0.95


def test_unreachable_target_accepts_nothing() -> None:
    conf = np.linspace(0.5, 1.0, 100)
    correct = np.zeros(100, bool)
    assert calibration.threshold_for_precision(conf, correct, 0.95) == 1.0
    perfect = np.ones(100, bool)
    assert calibration.threshold_for_precision(conf, perfect, 0.95) == pytest.approx(0.5)


def test_a_lower_bound_threshold_is_stricter_on_fewer_labels() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.2, 1.0, 5000)
    correct = rng.uniform(0, 1, 5000) < conf
    plain = calibration.threshold_for_precision(conf, correct, 0.95)
    bounded = calibration.threshold_for_precision(conf, correct, 0.95, z=1.645)
    accepted = conf >= bounded
    n, p = accepted.sum(), correct[accepted].mean()
    assert bounded > plain and p - 1.645 * np.sqrt(0.95 * 0.05 / n) >= 0.95
    # the same calibration on a tenth of the posts: the bound asks for more
    few = calibration.threshold_for_precision(conf[:500], correct[:500], 0.95, z=1.645)
    assert few > bounded


def test_summary_figures() -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.7, 0.3]])
    y = np.array([0, 1, 1, 0])
    s = calibration.summarise(probs, y, 0.75, ["a", "b"])
    assert s["accuracy"] == 0.75
    assert s["coverage"] == 0.5 and s["precision_at_threshold"] == 1.0
    assert s["per_class"]["b"] == {"support": 2, "precision": 1.0, "recall": 0.5, "f1": 0.6667}
    assert s["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2, abs=1e-4)
