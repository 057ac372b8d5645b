"""Fitting the fusion on paired posts, and the figures it is judged by.

`fit_fusion` is what `vitrina fit-fusion` runs: the model's validation photos, each paired with a
real title (classifier.fusion_data), the text extracted by `classifier.text.extract`, one
`HeadFusion` per head fitted on every photo with titles from the "fit" part of names.csv. The
figures saved with it are cross-fitted: fitted on one half of the photos (fit titles), measured
on the other half (report titles: the fifth of names.csv the text lexicon was not tuned on),
both ways, so no reported figure comes from fitted data.

A label counts as right when it is the labeller's (for colour: or the labeller's runner-up); a
"Not sure"/"Other" photo's category never is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from catalog.evidence import NO_EVIDENCE, PostText, TextEvidence
from classifier import calibration, fusion_data
from classifier.data import Sample, right_labels
from classifier.fusion import (
    CONFIDENT_STRENGTH,
    PRECISION_Z,
    STRATA,
    Fusion,
    HeadFeatures,
    HeadFusion,
    decide,
    fit_heads,
    text_features,
    with_doubts,
)

HEADS = ("category", "colour")
Extract = Callable[[PostText], TextEvidence]


@dataclass
class PostSet:
    """Paired posts with the image's probabilities and the words' evidence."""

    samples: list[Sample]
    texts: list[PostText]
    kinds: list[str]
    image: dict[str, np.ndarray]
    evidence: list[TextEvidence]

    def __len__(self) -> int:
        return len(self.samples)

    def heads(
        self, labels: dict[str, list[str]]
    ) -> dict[str, tuple[HeadFeatures, np.ndarray, np.ndarray]]:
        """Per head: features (with the other head's doubt, fusion.with_doubts), true label
        index and the (N, K) "counts as right" mask."""
        networks = [t.network for t in self.texts]
        features = with_doubts(
            {
                h: HeadFeatures(self.image[h], text_features(self.evidence, h, labels[h]), networks)
                for h in HEADS
            }
        )
        out = {}
        for head, x in features.items():
            truth = [s.category if head == "category" else s.colour for s in self.samples]
            # -1: no label of this head is right ("Not sure"/"Other" photos' category)
            y = np.array([labels[head].index(v) if v in labels[head] else -1 for v in truth], int)
            out[head] = (x, y, right_labels(self.samples, head, labels[head]))
        return out


def post_set(
    pairs: Sequence[fusion_data.Pair],
    probs: dict[str, np.ndarray],
    keys: Sequence[str],
    extract: Extract,
) -> PostSet:
    """`probs` rows are aligned with `keys` (sample keys); unreadable photos (NaN) are left out."""
    row_of = {k: i for i, k in enumerate(keys)}
    kept = [
        p
        for p in pairs
        if p.sample.key in row_of and not np.isnan(probs["category"][row_of[p.sample.key]]).any()
    ]
    idx = [row_of[p.sample.key] for p in kept]
    return PostSet(
        [p.sample for p in kept],
        [p.text for p in kept],
        [p.kind for p in kept],
        {h: probs[h][idx] for h in HEADS},
        [NO_EVIDENCE if p.text.is_empty() else extract(p.text) for p in kept],
    )


@dataclass
class Outcomes:
    """Per post and head: published automatically, right, conflict; and the text's own call."""

    auto: dict[str, np.ndarray] = field(default_factory=dict)
    right: dict[str, np.ndarray] = field(default_factory=dict)
    conflict: dict[str, np.ndarray] = field(default_factory=dict)
    text_named: dict[str, np.ndarray] = field(default_factory=dict)  # the words named a label
    text_right: dict[str, np.ndarray] = field(default_factory=dict)  # ... and it was right
    stratum: dict[str, np.ndarray] = field(default_factory=dict)  # fusion.STRATA
    kind: np.ndarray = field(default_factory=lambda: np.zeros(0, str))  # fusion_data.Pair.kind

    def subset(self, mask: np.ndarray) -> Outcomes:
        out = Outcomes(kind=self.kind[mask])
        for name in ("auto", "right", "conflict", "text_named", "text_right", "stratum"):
            getattr(out, name).update({h: v[mask] for h, v in getattr(self, name).items()})
        return out

    @staticmethod
    def concat(parts: Sequence[Outcomes]) -> Outcomes:
        out = Outcomes()
        for name in ("auto", "right", "conflict", "text_named", "text_right", "stratum"):
            getattr(out, name).update(
                {h: np.concatenate([getattr(p, name)[h] for p in parts]) for h in HEADS}
            )
        out.kind = np.concatenate([p.kind for p in parts])
        return out


def outcomes(
    posts: PostSet,
    labels: dict[str, list[str]],
    heads: dict[str, HeadFusion] | None,
    image_thresholds: dict[str, float],
) -> Outcomes:
    """What the production rule (`fusion.decide`) does on `posts`; heads=None: image only."""
    out = Outcomes(kind=np.array(posts.kinds, str))
    for head, (x, _y, right) in posts.heads(labels).items():
        d = decide(None if heads is None else heads.get(head), x, image_thresholds[head])
        n = np.arange(len(posts))
        out.auto[head] = d.auto
        out.right[head] = right[n, d.probs.argmax(axis=1)]
        out.conflict[head] = d.conflict
        out.stratum[head] = d.stratum
        strongest = x.text.max(axis=1)
        out.text_named[head] = x.has_text
        out.text_right[head] = x.has_text & right[n, strongest.argmax(axis=1)]
    return out


def _share(num: np.ndarray | int, den: np.ndarray | int) -> float | None:
    num, den = int(np.sum(num)), int(np.sum(den))
    return num / den if den else None


def figures(o: Outcomes, *, per_label: bool = True) -> dict[str, Any]:
    """The benchmark's columns. per_label=False: today's rule, a photo is published only when
    both heads pass (and a moderator then reviews both of its labels)."""
    n = len(o.auto["category"])
    both = o.auto["category"] & o.auto["colour"]
    auto = {h: o.auto[h] if per_label else both for h in HEADS}
    labels_auto = sum(int(auto[h].sum()) for h in HEADS)
    photos_auto = both
    right_published = sum(int((auto[h] & o.right[h]).sum()) for h in HEADS)
    out: dict[str, Any] = {
        "photos": n,
        "labels_auto": _share(labels_auto, 2 * n),
        "photos_auto": _share(photos_auto, n),
        "label_precision": _share(right_published, labels_auto),
        "photo_precision": _share(
            photos_auto & o.right["category"] & o.right["colour"], photos_auto
        ),
        # every label not published is one decision a moderator makes
        "moderator_decisions_per_100": 100 * (2 * n - labels_auto) / n if n else None,
        "conflicts_per_100": 100 * sum(int(o.conflict[h].sum()) for h in HEADS) / n if n else None,
    }
    for h in HEADS:
        out[h] = {
            "auto": _share(auto[h], n),
            "precision": _share(auto[h] & o.right[h], auto[h]),
            "text_named": _share(o.text_named[h], n),
            "text_precision": _share(o.text_right[h], o.text_named[h]),
        }
        if per_label:
            # how each stratum fared: its share of posts, published share, precision
            out[h]["strata"] = {
                s: {
                    "posts": _share(o.stratum[h] == s, n),
                    "auto": _share(auto[h] & (o.stratum[h] == s), o.stratum[h] == s),
                    "precision": _share(
                        auto[h] & (o.stratum[h] == s) & o.right[h], auto[h] & (o.stratum[h] == s)
                    ),
                }
                for s in STRATA
            }
    return out


def _fit(
    posts: PostSet,
    labels: dict[str, list[str]],
    image_thresholds: dict[str, float],
    target: float,
    confident_strength: float = CONFIDENT_STRENGTH,
    z: float = PRECISION_Z,
) -> dict[str, HeadFusion]:
    """Both heads fitted, their thresholds chosen together (the target is on all published
    labels pooled), the conflict rule's "sure photo" chosen on the same posts
    (`sure_thresholds`)."""
    per_head = []
    for head, (x, y, right) in posts.heads(labels).items():
        per_head.append((head, labels[head], x, y, right, image_thresholds[head]))
    fitted = fit_heads(
        per_head,
        conflict_thresholds=sure_thresholds(posts, labels, target),
        target_precision=target,
        confident_strength=confident_strength,
        z=z,
    )
    return dict(zip(HEADS, fitted, strict=True))


def sure_thresholds(
    posts: PostSet, labels: dict[str, list[str]], target: float
) -> dict[str, float]:
    """Per head, the image threshold from which the photo alone names the labeller's own label
    `target` of the time (no runner-up colour; a "Not sure"/"Other" photo's category is
    wrong): where a photo is sure enough to contradict the shop's words (the conflict rule)."""
    return alt_thresholds(posts, labels, target, runner_up=False)


def alt_thresholds(
    posts: PostSet, labels: dict[str, list[str]], target: float, *, runner_up: bool = True
) -> dict[str, float]:
    """Per head, the image threshold at which the photo alone is `target` right on `posts`,
    a colour counting as right when it is the labeller's or the runner-up (not with
    runner_up=False), a "Not sure"/"Other" photo's category never (the rule the model's
    thresholds are chosen by)."""
    right = {h: right_labels(posts.samples, h, labels[h], runner_up=runner_up) for h in HEADS}
    return calibration.published_thresholds(posts.image, right, target)


@dataclass
class FitResult:
    fusion: Fusion
    report: dict[str, Any]  # cross-fitted figures: image only, both-heads rule, fused
    # fit_fusion(recalibrate=True): the image thresholds chosen and their figures (metadata.json)
    thresholds: tuple[dict[str, float], dict[str, dict[str, float]]] | None = None


def fit_and_measure(
    samples: Sequence[Sample],
    probs: dict[str, np.ndarray],
    titles: Sequence[fusion_data.Title],
    labels: dict[str, list[str]],
    image_thresholds: dict[str, float],
    extract: Extract,
    *,
    target: float = 0.95,
    confident_strength: float = CONFIDENT_STRENGTH,
    pairing_seed: str = fusion_data.PAIRING_SEED,
    baseline_thresholds: dict[str, float] | None = None,
    refit_image_thresholds: bool = True,
) -> FitResult:
    """Cross-fitted figures and the fusion fitted on every photo. `pairing_seed` draws which
    photo gets which title (and which no text or another product's title).

    `image_thresholds` are those the fusion is fitted with and deployed on; chosen on these same
    validation photos, so with `refit_image_thresholds` each fold's fused figures use image
    thresholds re-chosen (`alt_thresholds`, the model's rule) on its fitting half only.
    `baseline_thresholds` (default `image_thresholds`): the "today" row's, photo only."""
    baseline = baseline_thresholds or image_thresholds
    keys = [s.key for s in samples]
    fit_titles = [t for t in titles if fusion_data.title_half(t) == "fit"]
    report_titles = [t for t in titles if fusion_data.title_half(t) == "report"]
    fit_pairs = fusion_data.pair_posts(samples, fit_titles, seed=pairing_seed)
    report_pairs = fusion_data.pair_posts(samples, report_titles, seed=pairing_seed)
    parts: dict[str, list[Outcomes]] = {"fused": [], "image": [], "image_alt": []}
    folds = []
    for fold in (0, 1):
        train = post_set(
            [p for p in fit_pairs if fusion_data.photo_half(p.sample) == fold], probs, keys, extract
        )
        held = post_set(
            [p for p in report_pairs if fusion_data.photo_half(p.sample) != fold],
            probs,
            keys,
            extract,
        )
        # the photo alone on thresholds chosen on the fitting half with the "right"
        # (colour_alt counted): what per-label publication gains without any words
        fold_alt = alt_thresholds(train, labels, target)
        fold_image = fold_alt if refit_image_thresholds else image_thresholds
        heads = _fit(train, labels, fold_image, target, confident_strength)
        folds.append({h: heads[h].as_json() for h in HEADS} | {"image_thresholds": fold_image})
        parts["fused"].append(outcomes(held, labels, heads, fold_image))
        parts["image"].append(outcomes(held, labels, None, baseline))
        parts["image_alt"].append(outcomes(held, labels, None, fold_alt))
    fused, image = Outcomes.concat(parts["fused"]), Outcomes.concat(parts["image"])
    image_alt = Outcomes.concat(parts["image_alt"])
    everything = post_set(fit_pairs, probs, keys, extract)
    heads = _fit(everything, labels, image_thresholds, target, confident_strength)
    kinds = {k: everything.kinds.count(k) for k in sorted(set(everything.kinds))}
    report = {
        "measured": "cross-fitted: fitted on one half of the validation photos (titles from 4/5 "
        "of names.csv), measured on the other half (titles from the held-out fifth the text "
        "lexicon was not tuned on), both ways",
        "posts": len(everything),
        "post_kinds": kinds,
        "target_precision": target,
        "image_thresholds": image_thresholds,
        "image_thresholds_per_fold": "re-chosen on each fitting half (colour_alt counted)"
        if refit_image_thresholds
        else "the model's",
        "baseline_thresholds": baseline,
        "image_only_both_heads": figures(image, per_label=False),
        "image_only_per_label": figures(image),
        "image_only_per_label_alt": figures(image_alt),
        "photo_and_words": figures(fused),
        # the same, left out the "Not sure"/"Other" photos (as the figures before they counted)
        "photo_and_words_with_category": figures(fused.subset(fused.kind != "unsure")),
        "folds": folds,
    }
    meta = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fitted_on": f"{len(everything)} validation photos paired with product-names titles "
        "(30% no text, 10% another product's title; 'Not sure'/'Other' photos without words)",
        "image_thresholds": image_thresholds,
        "report": report,
    }
    return FitResult(Fusion(heads, meta), report)


def threshold_metrics(
    samples: Sequence[Sample],
    probs: dict[str, np.ndarray],
    labels: dict[str, list[str]],
    thresholds: dict[str, float],
) -> dict[str, dict[str, float]]:
    """metadata.json's figures at `thresholds` on these photos, as train.py writes them:
    coverage and precision with the labeller's label only (category on photos that have one),
    and precision of all published labels as thresholds are chosen (colour_alt counted)."""
    ok = ~np.isnan(probs["category"]).any(axis=1)
    kept = [s for s, k in zip(samples, ok, strict=True) if k]
    out: dict[str, dict[str, float]] = {}
    published: dict[str, np.ndarray] = {}
    strict_right: dict[str, np.ndarray] = {}
    has_label: dict[str, np.ndarray] = {}
    for head in HEADS:
        p = probs[head][ok]
        pick, pub = p.argmax(1), p.max(1) >= thresholds[head]
        right = right_labels(kept, head, labels[head])[np.arange(len(pick)), pick]
        truth = [s.category if head == "category" else s.colour for s in kept]
        has = np.array([v in labels[head] for v in truth])
        strict = np.array([v == labels[head][k] for v, k in zip(truth, pick, strict=True)])
        out[head] = {
            "threshold": thresholds[head],
            "coverage": float(pub[has].mean()),
            "precision_at_threshold": float(strict[has & pub].mean()) if (has & pub).any() else 1.0,
            "precision_as_published": float(right[pub].mean()) if pub.any() else 1.0,
            "coverage_all_photos": float(pub.mean()),
        }
        published[head], strict_right[head], has_label[head] = pub, strict, has
    labelled, auto = has_label["category"], published["category"] & published["colour"]
    both = strict_right["category"] & strict_right["colour"]
    out["decision"] = {  # today's both-heads rule, as train.py reports it
        "auto_accepted": float(auto[labelled].mean()),
        "auto_precision_both_heads": float(both[labelled & auto].mean())
        if (labelled & auto).any()
        else 1.0,
        "unsure_photos": int((~labelled).sum()),
        "unsure_sent_to_review": float((~auto[~labelled]).mean()) if (~labelled).any() else 1.0,
    }
    return out


def write_thresholds(
    model_dir: str | Path, thresholds: dict[str, float], metrics: dict[str, dict[str, float]]
) -> Path:
    """Replace metadata.json's thresholds (and their figures); the first time, keep the ones
    chosen on the labeller's label alone as "thresholds_labeller_only" (the benchmarks'
    baseline)."""
    path = Path(model_dir) / "metadata.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("thresholds_rule") != calibration.THRESHOLDS_RULE:
        meta.setdefault("thresholds_labeller_only", meta["thresholds"])
    meta["thresholds"] = thresholds
    meta["thresholds_rule"] = calibration.THRESHOLDS_RULE
    meta["thresholds_chosen_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    for head, figures_ in metrics.items():
        meta["metrics"][head].update(figures_)
    path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def fit_fusion(
    model,  # type: ignore[no-untyped-def]  # classifier.model.VitrinaModel
    data_dir: str | Path,
    names_dir: str | Path,
    *,
    cache_dir: str | Path = "var/fusion",
    target: float = 0.95,
    thresholds: dict[str, float | None] | None = None,
    extract: Extract | None = None,
    confident_strength: float = CONFIDENT_STRENGTH,
    recalibrate: bool = False,
) -> FitResult:
    """Everything `vitrina fit-fusion` does except writing the files. `recalibrate`: first
    re-choose the model's image thresholds on its validation photos (calibration.THRESHOLDS_RULE),
    fit the fusion with them and put them, with their figures, in `result.thresholds`."""
    from classifier.evaluate import select_samples

    if extract is None:
        from classifier.text import extract
    samples = select_samples(model, data_dir, "validation")
    titles = fusion_data.read_titles(names_dir)
    probs = fusion_data.image_probs(model, samples, cache_dir)
    image_thresholds = model.thresholds(thresholds)
    chosen = None
    if recalibrate:
        chosen = calibration.published_thresholds(
            probs, {h: right_labels(samples, h, model.labels[h]) for h in HEADS}, target
        )
        image_thresholds = chosen
    result = fit_and_measure(
        samples,
        probs,
        titles,
        model.labels,
        image_thresholds,
        extract,
        target=target,
        confident_strength=confident_strength,
        baseline_thresholds=model.metadata.get("thresholds_labeller_only") or model.thresholds(),
        # a threshold set by hand (config) is kept as it is in every fold
        refit_image_thresholds=recalibrate
        or (
            model.metadata.get("thresholds_rule") == calibration.THRESHOLDS_RULE
            and not any(v is not None for v in (thresholds or {}).values())
        ),
    )
    result.fusion.metadata["model_version"] = model.version
    if chosen is not None:
        result.thresholds = (
            chosen,
            threshold_metrics(samples, probs, model.labels, chosen),
        )
    return result
