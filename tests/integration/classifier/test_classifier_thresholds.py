"""The model's image thresholds are chosen on the target users feel (issue #14): published
labels 95% right, a colour right when it is the labeller's colour or runner-up (colour_alt)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from catalog.taxonomy import CATEGORIES, COLOURS
from classifier import calibration
from classifier.data import Sample, right_labels

LABELS = {"category": list(CATEGORIES), "colour": list(COLOURS)}


def _photos(n: int = 40) -> tuple[list[Sample], dict[str, np.ndarray]]:
    """n photos, most confident first, always called T-Shirt and black; every second one is
    labelled blue with black as the runner-up, so it is right only once colour_alt counts."""
    conf = np.linspace(0.99, 0.6, n)
    cat = np.zeros((n, len(CATEGORIES)))
    col = np.zeros((n, len(COLOURS)))
    cat[:, 0], cat[:, 1] = conf, 1 - conf
    col[:, 0], col[:, 1] = conf, 1 - conf
    samples = [
        Sample(
            Path(f"{i}.jpg"),
            "T-Shirt",
            "blue" if i % 2 else "black",
            f"k{i}",
            "black" if i % 2 else "",
        )
        for i in range(n)
    ]
    return samples, {"category": cat, "colour": col}


def test_right_labels_count_the_runner_up_colour_and_never_an_unsure_category() -> None:
    samples = [
        Sample(Path("a.jpg"), "Not sure", "blue", "a", "black"),
        Sample(Path("b.jpg"), "Dress", "red", "b"),
    ]
    cat = right_labels(samples, "category", LABELS["category"])
    col = right_labels(samples, "colour", LABELS["colour"])
    assert not cat[0].any() and cat[1].sum() == 1 and cat[1, CATEGORIES.index("Dress")]
    assert {COLOURS[k] for k in np.flatnonzero(col[0])} == {"blue", "black"}
    assert {COLOURS[k] for k in np.flatnonzero(col[1])} == {"red"}


def test_thresholds_counting_colour_alt_publish_more_than_the_labellers_colour_alone() -> None:
    samples, probs = _photos()
    strict = calibration.threshold_for_precision(
        probs["colour"].max(1),
        np.array([s.colour == "black" for s in samples]),
        0.95,
    )
    t = calibration.published_thresholds(
        probs, {h: right_labels(samples, h, LABELS[h]) for h in LABELS}, 0.95
    )
    assert strict == pytest.approx(0.99)  # the labeller's colour only: just the top photo
    assert t["colour"] == pytest.approx(0.6)  # runner-up counted: every photo is right
    # an unreadable photo (NaN probabilities) is left out, not counted wrong
    probs["colour"][5] = np.nan
    t = calibration.published_thresholds(
        probs, {h: right_labels(samples, h, LABELS[h]) for h in LABELS}, 0.95
    )
    assert t["colour"] == pytest.approx(0.6)


@pytest.mark.slow  # imports TensorFlow
def test_train_chooses_its_thresholds_on_the_same_target() -> None:
    from classifier.train import head_metrics

    samples, probs = _photos()
    _temps, thresholds, metrics = head_metrics(probs, samples, 0.95)
    # the temperatures rescale the probabilities: compare what is published, not the number
    p = calibration.softmax(np.log(np.clip(probs["colour"], 1e-12, None)), _temps["colour"])
    assert (p.max(1) >= thresholds["colour"]).all()
    assert metrics["colour"]["precision_as_published"] == pytest.approx(1.0)
    assert metrics["colour"]["precision_at_threshold"] == pytest.approx(0.5)  # labeller's only


def test_write_thresholds_keeps_the_labeller_only_ones_once(tmp_path: Path) -> None:
    from classifier.fusion_fit import threshold_metrics, write_thresholds

    samples, probs = _photos()
    meta = {
        "thresholds": {"category": 0.8, "colour": 0.9},
        "metrics": {"category": {"threshold": 0.8}, "colour": {"threshold": 0.9}, "decision": {}},
    }
    (tmp_path / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    chosen = {"category": 0.7, "colour": 0.6}
    figures = threshold_metrics(samples, probs, LABELS, chosen)
    assert figures["colour"]["precision_as_published"] == pytest.approx(1.0)
    assert figures["colour"]["coverage_all_photos"] == pytest.approx(1.0)
    write_thresholds(tmp_path, chosen, figures)
    write_thresholds(tmp_path, {"category": 0.75, "colour": 0.65}, figures)  # a second run
    out = json.loads((tmp_path / "metadata.json").read_text(encoding="utf-8"))
    assert out["thresholds"] == {"category": 0.75, "colour": 0.65}
    assert out["thresholds_labeller_only"] == {"category": 0.8, "colour": 0.9}
    assert out["thresholds_rule"] == calibration.THRESHOLDS_RULE
    assert out["metrics"]["colour"]["threshold"] == 0.6  # the figures given, at their thresholds
