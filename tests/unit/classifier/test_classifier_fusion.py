"""The fusion of photo and words: fitting, the conflict rule, thresholds, fusion.json.

Fitting is checked on posts generated here with known reliabilities (image probabilities from a
known confusion, clues from two sources of known accuracy); the stored model is checked end to
end in tests/integration/classifier/test_classifier_predict.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from catalog.evidence import SOURCES, Clue, TextEvidence
from classifier import calibration
from classifier.fusion import (
    FUSION_FILE,
    MIN_STRATUM_POSTS,
    Fusion,
    HeadFeatures,
    HeadFusion,
    decide,
    fit_head,
    fit_heads,
    joint_thresholds,
    load_fusion,
    other_head_doubt,
    text_features,
    with_doubts,
)

LABELS = ["black", "white", "grey", "red", "blue", "green"]
K = len(LABELS)
CATEGORY_LABELS = ["T-Shirt", "Pants", "Shoes", "Dress", "Hat", "Skirt"]


def generate(
    n: int,
    seed: int,
    *,
    title_accuracy: float = 0.95,
    caption_accuracy: float = 0.55,
    no_text: float = 0.3,
    careless_network: str = "",
) -> tuple[HeadFeatures, np.ndarray]:
    """Posts whose image is right ~60% of the time with honest probabilities, and whose words
    come from a title (right `title_accuracy` of the time) or a caption (`caption_accuracy`),
    on a network drawn independently; on `careless_network` words are right only half as often."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    logits = rng.normal(0.0, 1.0, (n, K))
    logits[np.arange(n), y] += 1.6
    image = calibration.softmax(1.6 * logits)  # the exact posterior: honest probabilities
    evidence = []
    networks = []
    for i in range(n):
        u = rng.random()
        if u < no_text:
            evidence.append(TextEvidence())
            networks.append("instagram")
            continue
        source, accuracy = ("title", title_accuracy) if u < 0.65 else ("caption", caption_accuracy)
        network = ("shopify", "instagram", "mastodon")[rng.integers(0, 3)]
        if network == careless_network:
            accuracy /= 2
        label = y[i] if rng.random() < accuracy else rng.integers(0, K)
        evidence.append(TextEvidence.of([Clue("colour", LABELS[label], source, LABELS[label])]))
        networks.append(network)
    x = HeadFeatures(image, text_features(evidence, "colour", LABELS), networks)
    return x, y


def test_fitting_gives_the_reliable_source_more_weight() -> None:
    x, y = generate(6000, seed=1)
    fusion = fit_head("colour", LABELS, x, y, image_threshold=0.9)
    w = fusion.source_weights()
    assert fusion.fitted_on["converged"]
    assert fusion.fitted_on["sources"] == {
        "title": int((x.text[:, SOURCES.index("title")] > 0).any(1).sum()),
        "caption": int((x.text[:, SOURCES.index("caption")] > 0).any(1).sum()),
    }
    # a title right 95% of the time is trusted far more than a caption right 55% of the time
    assert w["title"] > w["caption"] + 1.0 > 1.0
    # the image's probabilities were honest: its weight stays near 1
    assert 0.7 < fusion.image_weight < 1.3
    # sources the data never showed get the shared text weight, not a guess
    assert w["options"] == pytest.approx(fusion.text_weight)
    # the swap: when captions are the reliable source, the fit says so
    x2, y2 = generate(6000, seed=2, title_accuracy=0.55, caption_accuracy=0.95)
    w2 = fit_head("colour", LABELS, x2, y2, image_threshold=0.9).source_weights()
    assert w2["caption"] > w2["title"] + 1.0


def test_fitting_finds_a_network_whose_words_are_less_reliable() -> None:
    x, y = generate(9000, seed=9, careless_network="mastodon")
    scales = fit_head("colour", LABELS, x, y, image_threshold=0.9).network_scales()
    assert scales["mastodon"] < 0.8 * min(scales["shopify"], scales["instagram"])
    assert scales["shopify"] == pytest.approx(scales["instagram"], rel=0.15)


def test_fused_probabilities_beat_the_image_alone_on_held_out_posts() -> None:
    x, y = generate(4000, seed=3)
    held_x, held_y = generate(4000, seed=4)
    fusion = fit_head("colour", LABELS, x, y, image_threshold=0.9)
    d = decide(fusion, held_x, image_threshold=0.9)
    has = held_x.has_text
    assert calibration.nll(d.probs[has], held_y[has]) < 0.7 * calibration.nll(
        held_x.image[has], held_y[has]
    )
    # posts without words keep the image's probabilities, decided on their stratum's threshold
    assert np.array_equal(d.probs[~has], held_x.image[~has])
    none = fusion.stratum_thresholds(0.9)["none"]
    assert none == fusion.thresholds["none"] and set(d.stratum[~has]) == {"none"}
    assert np.array_equal(d.auto[~has], held_x.image[~has].max(1) >= none)
    # an operator's own image threshold (not the one fitted with) is used exactly as given
    d = decide(fusion, held_x, image_threshold=0.8)
    assert np.array_equal(d.auto[~has], held_x.image[~has].max(1) >= 0.8)


def test_thresholds_reach_the_precision_target_on_held_out_posts() -> None:
    x, y = generate(20000, seed=5)
    fusion = fit_head("colour", LABELS, x, y, image_threshold=0.9, target_precision=0.95)
    assert 0.0 < fusion.threshold < 1.0
    held_x, held_y = generate(20000, seed=6)
    d = decide(fusion, held_x, image_threshold=0.9)
    published = d.auto
    right = d.probs.argmax(1) == held_y
    assert published.mean() > 0.5  # the words make most labels publishable...
    assert right[published].mean() >= 0.95  # ...at the precision asked for (all strata pooled)
    # asking for more precision publishes fewer labels, each more often right
    strict = fit_head("colour", LABELS, x, y, image_threshold=0.9, target_precision=0.99)
    ds = decide(strict, held_x, image_threshold=0.9)
    pub_s = ds.auto
    assert pub_s.sum() < published.sum() and right[pub_s].mean() > right[published].mean()


def test_colour_runner_up_counts_as_right_when_choosing_the_threshold() -> None:
    x, y = generate(6000, seed=7)
    right = np.eye(K, dtype=bool)[y]
    right[np.arange(len(y)), (y + 1) % K] = True  # a runner-up colour for every post
    lenient = fit_head("colour", LABELS, x, y, right=right, image_threshold=0.9)
    strict = fit_head("colour", LABELS, x, y, image_threshold=0.9)
    assert lenient.threshold < strict.threshold


def test_joint_thresholds_publish_more_at_the_same_pooled_precision() -> None:
    # group a: ten sure posts, all right; group b: ten posts, right 1 1 1 0 1 1 0 1 0 0
    a = (np.full(10, 0.9), np.ones(10, bool))
    b = (np.linspace(0.8, 0.6, 10), np.array([1, 1, 1, 0, 1, 1, 0, 1, 0, 0], bool))
    alone = joint_thresholds({"b": b}, 0.9)
    together = joint_thresholds({"a": a, "b": b}, 0.9)
    # alone, b publishes its first three (the fifth would make it 80%); with a's ten, six
    # (15 right of 16, 93.8%); the seventh would take the pool to 15 of 17 (88%)
    assert (b[0] >= alone["b"]).sum() == 3
    assert together["a"] == pytest.approx(0.9) and (b[0] >= together["b"]).sum() == 6
    # an unreachable target, or a group without posts: nothing is published
    assert joint_thresholds({"a": a, "b": b}, 1.01) == {"a": 1.0, "b": 1.0}
    assert joint_thresholds({"e": (np.zeros(0), np.zeros(0, bool))}, 0.9) == {"e": 1.0}


def test_joint_thresholds_with_a_lower_bound_ask_more_of_fewer_posts() -> None:
    a = (np.full(10, 0.9), np.ones(10, bool))
    b = (np.linspace(0.8, 0.6, 10), np.array([1, 1, 1, 0, 1, 1, 0, 1, 0, 0], bool))
    # z = 1: 15 of 16 (93.8%) has a bound of 93.8 − √(0.09/16) = 86.3% < 90%; 13 of 13 keeps
    # 100 − 8.3 ≥ 90%, so b publishes its first three only
    bounded = joint_thresholds({"a": a, "b": b}, 0.9, z=1.0)
    assert bounded["a"] == pytest.approx(0.9) and (b[0] >= bounded["b"]).sum() == 3
    # the same shares on ten times the posts: the bound is √10 tighter and b's six come back
    big = {
        k: (np.repeat(conf, 10), np.repeat(right, 10))
        for k, (conf, right) in {"a": a, "b": b}.items()
    }
    assert (big["b"][0] >= joint_thresholds(big, 0.9, z=1.0)["b"]).sum() == 60


def test_joint_thresholds_find_what_a_grid_of_multipliers_misses() -> None:
    """Every hull vertex of every group is visited: on random groups the walk publishes at
    least as many posts as any multiplier of a fine grid, at the same pooled precision."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        groups = {}
        for g in range(4):
            conf = rng.random(60)
            groups[g] = (conf, rng.random(60) < 0.6 + 0.4 * conf)
        got = joint_thresholds(groups, 0.9)
        published = sum(int((c >= got[k]).sum()) for k, (c, _r) in groups.items())
        right = sum(int(r[c >= got[k]].sum()) for k, (c, r) in groups.items())
        assert published == 0 or right / published >= 0.9 - 1e-9
        for mu in np.logspace(-3, 4, 400):
            n, gain = 0, 0.0
            for conf, r in groups.values():
                order = np.argsort(-conf)
                cum = np.concatenate([[0.0], np.cumsum(r[order] - 0.9)])
                k = int(np.argmax(np.arange(len(cum)) + mu * cum))
                n, gain = n + k, gain + cum[k]
            if gain >= -1e-9:
                assert published >= n


def published(fusions: list[HeadFusion], xs: list[HeadFeatures], ys: list[np.ndarray]):
    """(labels published, of which right) over several heads."""
    ds = [decide(f, x, 0.9) for f, x in zip(fusions, xs, strict=True)]
    n = sum(int(d.auto.sum()) for d in ds)
    ok = sum(int((d.auto & (d.probs.argmax(1) == y)).sum()) for d, y in zip(ds, ys, strict=True))
    return n, ok


def test_heads_fitted_together_reach_the_pooled_target_on_held_out_posts() -> None:
    # a head whose words are nearly always right beside one whose words often mislead
    sure = {"title_accuracy": 0.98, "caption_accuracy": 0.9}
    loose = {"title_accuracy": 0.7, "caption_accuracy": 0.45}
    (xa, ya), (xb, yb) = generate(8000, 21, **sure), generate(8000, 22, **loose)
    joint = fit_heads(
        [("a", LABELS, xa, ya, None, 0.9), ("b", LABELS, xb, yb, None, 0.9)],
        target_precision=0.95,
    )
    apart = [
        fit_head(h, LABELS, x, y, image_threshold=0.9) for h, x, y in (("a", xa, ya), ("b", xb, yb))
    ]
    for f in joint:
        assert set(f.thresholds) == {"agree", "disagree", "none"}
        assert "strata of every head together" in f.fitted_on["thresholds_from"]
    held = [generate(8000, 23, **sure), generate(8000, 24, **loose)]
    hx, hy = [h[0] for h in held], [h[1] for h in held]
    n_joint, ok_joint = published(joint, hx, hy)
    n_apart, ok_apart = published(apart, hx, hy)
    assert ok_joint / n_joint >= 0.95 and ok_apart / n_apart >= 0.95
    # pooling the target publishes more labels (1.3% here: with 8,000 posts a head the bound is
    # tight for either way of choosing, so both sit near the target)
    assert n_joint > 1.01 * n_apart


def test_a_stratum_without_posts_falls_back_safely() -> None:
    # every post has words: "none" has no out-of-fold posts and keeps the image threshold
    x, y = generate(4000, seed=31, no_text=0.0)
    fusion = fit_head("colour", LABELS, x, y, image_threshold=0.9)
    assert "none" not in fusion.thresholds and fusion.stratum_thresholds(0.9)["none"] == 0.9
    bare = HeadFeatures(confident_image(0, 0.85), np.zeros((1, len(SOURCES), K)), [""])
    assert not decide(fusion, bare, 0.9).auto[0] and decide(fusion, bare, 0.8).auto[0]
    # words always right: the photo hardly ever overrules them, too few posts for "disagree",
    # which falls back to the head's own threshold for fused posts (at the target by itself)
    x, y = generate(4000, seed=32, title_accuracy=1.0, caption_accuracy=1.0)
    fusion = fit_head("colour", LABELS, x, y, image_threshold=0.9)
    d = decide(fusion, x, 0.9)
    assert (d.stratum == "disagree").sum() < MIN_STRATUM_POSTS
    assert "disagree" not in fusion.thresholds and 0 < fusion.threshold < 1
    assert fusion.stratum_thresholds(0.9)["disagree"] == fusion.threshold
    # a fusion.json from before strata decides as it did: one fused threshold, image alone
    old = fusion.as_json()
    del old["thresholds"], old["image_threshold"]
    legacy = HeadFusion.from_json(old)
    assert legacy.stratum_thresholds(0.9) == {
        "agree": fusion.threshold,
        "disagree": fusion.threshold,
        "none": 0.9,
    }


def test_posts_no_label_fits_raise_the_no_words_threshold() -> None:
    # a quarter of the posts without words show something no label fits ("Not sure"/"Other")
    x, y = generate(6000, seed=41)
    unsure = y.copy()
    unsure[np.flatnonzero(~x.has_text)[::4]] = -1
    plain = fit_head("colour", LABELS, x, y, image_threshold=0.9)
    counted = fit_head("colour", LABELS, x, unsure, image_threshold=0.9)
    assert counted.thresholds["none"] > plain.thresholds["none"]
    assert counted.fitted_on["posts"] == plain.fitted_on["posts"]  # never fitted on
    d = decide(counted, x, 0.9)
    right = (d.probs.argmax(1) == unsure) & (unsure >= 0)
    assert right[d.auto].mean() >= 0.95


def confident_image(label: int, p: float = 0.97) -> np.ndarray:
    row = np.full(K, (1 - p) / (K - 1))
    row[label] = p
    return row[None, :]


def test_confident_words_against_a_confident_photo_go_to_review_as_a_conflict() -> None:
    # a fusion that trusts words strongly: it alone would follow the title
    fusion = HeadFusion("colour", LABELS, 1.0, 6.0, bias=[0.0] * K, threshold=0.5)
    says_red = TextEvidence.of([Clue("colour", "red", "title", "Red")])
    x = HeadFeatures(
        confident_image(LABELS.index("black")),
        text_features([says_red], "colour", LABELS),
        ["shopify"],
    )
    d = decide(fusion, x, image_threshold=0.9)
    assert LABELS[int(d.probs[0].argmax())] == "red"
    assert d.conflict[0] and not d.auto[0]
    # agreeing words: no conflict, published
    says_black = TextEvidence.of([Clue("colour", "black", "title", "Black")])
    x = HeadFeatures(confident_image(0), text_features([says_black], "colour", LABELS), ["shopify"])
    d = decide(fusion, x, image_threshold=0.9)
    assert not d.conflict[0] and d.auto[0]
    # a weak clue (strength < 1) or an unsure photo is no conflict: the fusion weighs them
    weak = TextEvidence.of([Clue("colour", "red", "caption", "red", strength=0.5)])
    x = HeadFeatures(confident_image(0), text_features([weak], "colour", LABELS), [""])
    assert not decide(fusion, x, image_threshold=0.9).conflict[0]
    x = HeadFeatures(confident_image(0, 0.6), text_features([says_red], "colour", LABELS), [""])
    d = decide(fusion, x, image_threshold=0.9)
    assert not d.conflict[0] and LABELS[int(d.probs[0].argmax())] == "red"
    # words that name several colours plainly are no evidence at all
    several = TextEvidence.of(
        [Clue("colour", "red", "caption", "red"), Clue("colour", "blue", "caption", "blue")],
        ambiguous=["colour"],
    )
    x = HeadFeatures(confident_image(0), text_features([several], "colour", LABELS), [""])
    d = decide(fusion, x, image_threshold=0.9)
    assert not d.fused[0] and np.array_equal(d.probs, x.image)


def test_the_conflict_rule_asks_a_sure_photo_not_a_publishable_one() -> None:
    """Colour is published from 0.58 (the runner-up counts as right), but a photo contradicts
    the words only from its conflict threshold (the labeller's own colour 95% right)."""
    fusion = HeadFusion(
        "colour", LABELS, 1.0, 6.0, bias=[0.0] * K, threshold=0.5, conflict_threshold=0.875
    )
    says_red = TextEvidence.of([Clue("colour", "red", "title", "Red")])
    text = text_features([says_red] * 2, "colour", LABELS)
    image = np.vstack([confident_image(0, 0.7), confident_image(0, 0.95)])
    x = HeadFeatures(image, text, ["shopify"] * 2)
    d = decide(fusion, x, image_threshold=0.58)
    # 70% black: publishable on its own, yet not sure enough to overrule a title: the fusion
    # weighs both and follows the title, no conflict
    assert not d.conflict[0] and d.auto[0] and LABELS[int(d.probs[0].argmax())] == "red"
    # 95% black against a title saying red: review, whatever the fused probability says, and
    # both sides stay there for the moderator: the fused guess (the title's) and the photo's
    assert d.conflict[1] and not d.auto[1]
    assert LABELS[int(d.probs[1].argmax())] == "red" and LABELS[int(x.image[1].argmax())] == "black"
    assert d.stratum[1] == "agree" and d.probs[1].max() >= fusion.stratum_thresholds(0.58)["agree"]
    # the same confident words against the same photo at the publication threshold (a
    # fusion.json without a conflict threshold): both are conflicts
    legacy = HeadFusion.from_json({**fusion.as_json(), "conflict_threshold": None})
    assert legacy.conflict_threshold is None
    assert decide(legacy, x, image_threshold=0.58).conflict.tolist() == [True, True]
    assert HeadFusion.from_json(fusion.as_json()).conflict_threshold == 0.875


def test_fitting_keeps_the_conflict_threshold_and_leaves_conflicts_out() -> None:
    x, y = generate(4000, seed=51)
    loose = fit_head("colour", LABELS, x, y, image_threshold=0.6)
    strict = fit_head("colour", LABELS, x, y, image_threshold=0.6, conflict_threshold=0.9)
    assert loose.conflict_threshold is None and strict.conflict_threshold == 0.9
    d_loose, d_strict = decide(loose, x, 0.6), decide(strict, x, 0.6)
    assert d_strict.conflict.sum() < d_loose.conflict.sum()
    assert not (d_strict.conflict & ~d_loose.conflict).any()  # fewer, never others
    assert not d_strict.auto[d_strict.conflict].any()


def two_heads(
    n: int, seed: int, *, wrong_title: float = 0.25
) -> tuple[dict[str, HeadFeatures], dict[str, np.ndarray]]:
    """Posts with a category and a colour: a quarter carry another product's title, whose
    words are wrong for both heads; the others' titles are right. Images as in `generate`."""
    rng = np.random.default_rng(seed)
    xs, ys = {}, {}
    wrong = rng.random(n) < wrong_title
    has_text = rng.random(n) > 0.2
    for head, names in (("category", CATEGORY_LABELS), ("colour", LABELS)):
        y = rng.integers(0, K, n)
        logits = rng.normal(0.0, 1.0, (n, K))
        logits[np.arange(n), y] += 1.6
        named = np.where(wrong, (y + rng.integers(1, K, n)) % K, y)
        evidence = [
            TextEvidence.of([Clue(head, names[k], "title", names[k])]) if t else TextEvidence()
            for k, t in zip(named, has_text, strict=True)
        ]
        xs[head] = HeadFeatures(
            calibration.softmax(1.6 * logits),
            text_features(evidence, head, names),
            ["shopify"] * n,
        )
        ys[head] = y
    return with_doubts(xs), ys


def test_words_the_photo_contradicts_on_the_other_head_are_trusted_less() -> None:
    xs, ys = two_heads(6000, seed=61)
    # the doubt: the clue's strength times the photo's probability that the other head's
    # words are wrong; 0 without words
    cat = xs["category"]
    n = np.arange(len(ys["category"]))
    named = cat.text.max(axis=1).argmax(axis=1)
    expected = np.where(cat.has_text, 1.0 - cat.image[n, named], 0.0)
    assert np.allclose(other_head_doubt(cat), expected)
    assert np.allclose(xs["colour"].doubts, expected)
    fusion = fit_head("colour", LABELS, xs["colour"], ys["colour"], image_threshold=0.9)
    assert fusion.doubt_log_scale < -0.5  # the fit finds out, nothing is set by hand
    held, held_y = two_heads(6000, seed=62)
    blind = HeadFusion.from_json({**fusion.as_json(), "doubt_log_scale": 0.0})
    x = held["colour"]
    has = x.has_text
    assert calibration.nll(fusion.probabilities(x)[has], held_y["colour"][has]) < calibration.nll(
        blind.probabilities(x)[has], held_y["colour"][has]
    )
    # without a second head (or fusion.json from before) nothing changes
    plain = HeadFeatures(x.image, x.text, x.network)
    assert np.array_equal(plain.doubts, np.zeros(len(x.image)))
    assert np.allclose(blind.probabilities(x), blind.probabilities(plain))


def test_fusion_json_round_trip_and_refusals(tmp_path: Path) -> None:
    x, y = generate(3000, seed=8)
    head = fit_head("colour", LABELS, x, y, image_threshold=0.9)
    Fusion({"colour": head}, {"note": "test"}).save(tmp_path)
    body = json.loads((tmp_path / FUSION_FILE).read_text(encoding="utf-8"))
    # the fitted reliabilities are there to read
    assert set(body["heads"]["colour"]["source_weights"]) == set(SOURCES)
    loaded = load_fusion(tmp_path, {"colour": LABELS})
    assert loaded is not None and loaded.metadata == {"note": "test"}
    d1 = decide(head, x, 0.9)
    d2 = decide(loaded.heads["colour"], x, 0.9)
    assert np.allclose(d1.probs, d2.probs) and np.array_equal(d1.auto, d2.auto)
    assert load_fusion(tmp_path / "nowhere", {"colour": LABELS}) is None
    with pytest.raises(ValueError, match="labels differ"):
        load_fusion(tmp_path, {"colour": LABELS[::-1]})
    (tmp_path / FUSION_FILE).write_text('{"heads": {"colour": {"head": "colour"}}}')
    with pytest.raises(ValueError, match="not a valid fusion file"):
        load_fusion(tmp_path, {"colour": LABELS})


def test_fusion_modules_never_load_tensorflow() -> None:
    code = (
        "import sys, classifier.fusion, classifier.fusion_fit, classifier.fusion_data, "
        "classifier.captions; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    assert out.stdout.split() == ["False", "False"]


def test_image_thresholds_with_the_runner_up_colour_counted() -> None:
    """The photo-alone thresholds the benchmark cross-fits count a colour as right when it is
    the labeller's runner-up, and never count a "Not sure" photo's category as right."""
    from catalog.evidence import PostText
    from catalog.taxonomy import CATEGORIES, COLOURS
    from classifier.data import Sample
    from classifier.fusion_fit import PostSet, alt_thresholds, sure_thresholds

    labels = {"category": list(CATEGORIES), "colour": list(COLOURS)}
    n = 40
    conf = np.linspace(0.99, 0.6, n)
    cat = np.full((n, len(CATEGORIES)), 0.0)
    col = np.full((n, len(COLOURS)), 0.0)
    cat[:, 0], cat[:, 1] = conf, 1 - conf  # always says T-Shirt
    col[:, 0], col[:, 1] = conf, 1 - conf  # always says black
    samples = [
        Sample(
            Path(f"{i}.jpg"),
            # the two most confident photos are "Not sure": their category is never right
            "Not sure" if i < 2 else "T-Shirt",
            # every second photo is navy-or-black: labelled blue with black as the runner-up
            "blue" if i % 2 else "black",
            f"k{i}",
            "black" if i % 2 else "",
        )
        for i in range(n)
    ]
    posts = PostSet(
        samples,
        [PostText()] * n,
        ["none"] * n,
        {"category": cat, "colour": col},
        [TextEvidence.of([], set())] * n,
    )
    t = alt_thresholds(posts, labels, 0.95)
    # colour: all 40 right once the runner-up counts, so every photo passes
    assert t["colour"] == pytest.approx(conf.min())
    # category: the two "Not sure" photos at the top are wrong, so no threshold reaches 95%
    # until enough right ones follow them (38 of 40 = 95%): only the lowest admits them all
    assert t["category"] == pytest.approx(conf.min())
    # the conflict rule's "sure photo": the labeller's own colour only (every second photo is
    # blue, not black), so only the most confident photo is sure; category as published
    sure = sure_thresholds(posts, labels, 0.95)
    assert sure["colour"] == pytest.approx(conf.max()) and sure["category"] == t["category"]
    posts.samples[2] = Sample(Path("2.jpg"), "Not sure", "black", "k2")
    assert alt_thresholds(posts, labels, 0.95)["category"] == 1.0  # 37 of 40 at best
