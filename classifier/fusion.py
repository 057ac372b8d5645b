"""One calibrated decision per label from the photo and the shop's words.

Per head, a multinomial logistic model on the image's calibrated probabilities and the text's
clues (catalog.evidence.TextEvidence):

    logit_k = a · log p_img(k) + r · Σ_source w_source · s_source(k) + b_k
    w_source = w_text + δ_source,   r = exp(ρ_network + γ · doubt)

where s_source(k) is the strength of the strongest clue for label k in that field of the post,
and doubt how far the photo contradicts what the same words say for the post's other head (a
title whose category the photo rules out probably names another product, colour included:
`other_head_doubt`). Everything is fitted by L-BFGS on labelled posts (`fit_head`); δ, ρ and γ
are shrunk towards 0, so a source or network the fitting data never showed simply gets the
shared text weight, and the fitted values show how far each source is trusted. A head whose
text names no label keeps the image's own probabilities (decided on the "none" stratum's
threshold below).

A label is published when its probability reaches the threshold of its stratum: "agree" (the
words name the label the fused model picks), "disagree" (they name another: the photo
overruled them) or "none" (no words: the image's own probability). The fused probability is
calibrated differently in each, so each has its threshold, all chosen together on out-of-fold
probabilities (`joint_thresholds`): as many labels of both heads as possible published while
the published labels, pooled, are the target precision right with 95% confidence (a lower bound).

One rule sits on top: confident words (a clue of strength 1.0, a title or an option) naming
another label than a sure photo send that label to review and flag the conflict, whatever the
fused probability says. A photo is sure when its top probability reaches the head's conflict
threshold: the image threshold at which the photo alone names the labeller's own label at the
target precision (`HeadFusion.conflict_threshold`). That is stricter than the publication
threshold of colour, whose labels count as right when they are the labeller's runner-up: a
photo 60% sure of "black" is published as black (navy would do), but it does not contradict a
title saying "navy".

numpy/scipy only: importing this module never loads TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from catalog.evidence import SOURCES, TextEvidence
from classifier import calibration

FUSION_FILE = "fusion.json"
EPS = 1e-6
# Ridge penalties (per fitted post): light on the shared weights, firm on the per-source and
# per-network offsets, which only move where the data clearly asks for it.
L2_BIAS = 1e-3
L2_OFFSET = 3e-3
L2_NETWORK = 3e-2  # firmer: networks differ in habits more than in how often shops are right
L2_DOUBT = 3e-3  # as a source's offset: one number, fitted on every post whose words name both
THRESHOLD_FOLDS = 5
STRATA = ("agree", "disagree", "none")
# Thresholds are chosen so that the one-sided lower confidence bound of the published labels'
# out-of-fold precision, not the precision itself, reaches the target (normal approximation,
# z = 1.645: 95% one-sided). Choosing the thresholds that publish most is optimistic on a finite
# sample; the bound asks for more where fewer posts back a choice and less as the fitting posts
# grow: 0.95 on ~770 labels published (the benchmark's fitting half) aims at ≈ 0.963, on the
# ~1,500 of all 960 validation photos at ≈ 0.959. (It replaced a fixed aim of 0.965 whatever
# the number of posts; held-out pooled precision stayed ≥ 95.1% in every pairing with both.)
PRECISION_Z = 1.645


# A stratum with fewer out-of-fold posts than this gets no threshold of its own: it falls back
# to the head's threshold for fused posts, or for "none" to the image threshold.
MIN_STRATUM_POSTS = 20
# "1.0: the words plainly name this label for the product" (catalog.evidence.Clue); the text
# extractor gives that to titles and options, and discounts captions (0.9) and hashtags.
CONFIDENT_STRENGTH = 1.0


@dataclass(frozen=True)
class HeadFeatures:
    """A batch of posts for one head: image probabilities and text clue strengths."""

    image: np.ndarray  # (N, K) calibrated image probabilities
    text: np.ndarray  # (N, S, K) strongest clue strength per source and label
    network: list[str]  # (N,) the post's network ("" when unknown)
    # (N,) in [0, 1]: how far the photo contradicts what the same words say for the post's
    # other head (`other_head_doubt`); None: nothing known (0)
    doubt: np.ndarray | None = None

    @property
    def has_text(self) -> np.ndarray:
        return self.text.reshape(len(self.text), -1).max(axis=1, initial=0.0) > 0

    @property
    def doubts(self) -> np.ndarray:
        return np.zeros(len(self.image)) if self.doubt is None else self.doubt

    def subset(self, mask: np.ndarray) -> HeadFeatures:
        idx = np.flatnonzero(mask)
        return HeadFeatures(
            self.image[idx],
            self.text[idx],
            [self.network[i] for i in idx],
            None if self.doubt is None else self.doubt[idx],
        )


def other_head_doubt(other: HeadFeatures) -> np.ndarray:
    """(N,): for a post whose words name a label of the other head, the strength of that clue
    times the photo's probability that it is not that label; 0 where they name none.

    A title whose category the photo contradicts probably describes another product, so its
    colour is worth less (and the other way round): the fit learns how much less
    (`HeadFusion.doubt_log_scale`)."""
    strongest = other.text.max(axis=1)  # (N, K)
    label = strongest.argmax(axis=1)
    n = np.arange(len(label))
    return strongest[n, label] * (1.0 - other.image[n, label])


def with_doubts(features: dict[str, HeadFeatures]) -> dict[str, HeadFeatures]:
    """Each head's features with the doubt its post's other heads' words cast on the words."""
    doubt = {h: other_head_doubt(x) for h, x in features.items()}
    out = {}
    for head, x in features.items():
        others = [d for h, d in doubt.items() if h != head]
        cast = np.max(others, axis=0) if others else None
        out[head] = HeadFeatures(x.image, x.text, x.network, cast)
    return out


def text_features(evidence: Sequence[TextEvidence], head: str, labels: Sequence[str]) -> np.ndarray:
    """(N, S, K): for each post, source and label, the strongest clue's strength (0 when the
    words name nothing for `head` or name several labels plainly)."""
    index = {label: k for k, label in enumerate(labels)}
    out = np.zeros((len(evidence), len(SOURCES), len(labels)))
    for n, ev in enumerate(evidence):
        if head in ev.ambiguous:
            continue
        for clue in ev.for_head(head):
            s, k = SOURCES.index(clue.source), index[clue.label]
            out[n, s, k] = max(out[n, s, k], clue.strength)
    return out


@dataclass
class HeadFusion:
    head: str
    labels: list[str]
    image_weight: float = 1.0  # a
    text_weight: float = 0.0  # w_text, shared by every source
    source_offsets: dict[str, float] = field(default_factory=dict)  # δ_source
    network_log_scales: dict[str, float] = field(default_factory=dict)  # ρ_network
    # γ: the words' weight is scaled by exp(γ · doubt) (HeadFeatures.doubt); fitted, shrunk to 0
    doubt_log_scale: float = 0.0
    bias: list[float] = field(default_factory=list)  # b_k
    # on the fused probability for posts whose words name a label: the fallback for a stratum
    # without a threshold of its own (and the only threshold of a fusion.json before strata)
    threshold: float = 1.0
    # per stratum (STRATA), chosen jointly with the other head's; a missing one falls back
    thresholds: dict[str, float] = field(default_factory=dict)
    # the image threshold the strata were chosen with: a caller who decides with another one
    # (an operator's override) gets exactly that one on photos without words
    image_threshold: float | None = None
    # Words are confident when a clue is at least this strong (catalog.evidence.Clue: 1.0 is
    # the words plainly naming the label); the conflict rule applies to those only.
    confident_strength: float = CONFIDENT_STRENGTH
    # The photo is sure of its label (for the conflict rule) from this top probability on:
    # where the image alone names the labeller's own label at the target precision. None (a
    # fusion.json from before): the image threshold the head is decided with.
    conflict_threshold: float | None = None
    fitted_on: dict[str, Any] = field(default_factory=dict)  # counts per source/network, target

    def source_weights(self) -> dict[str, float]:
        return {s: self.text_weight + self.source_offsets.get(s, 0.0) for s in SOURCES}

    def network_scales(self) -> dict[str, float]:
        return {n: float(np.exp(r)) for n, r in self.network_log_scales.items()}

    def text_scales(self, x: HeadFeatures) -> np.ndarray:
        """(N,): how much each post's words are trusted (network and doubt)."""
        rho = np.array([self.network_log_scales.get(n, 0.0) for n in x.network], float)
        return np.exp(rho + self.doubt_log_scale * x.doubts)

    def text_logits(self, x: HeadFeatures) -> np.ndarray:
        """(N, K): what the words alone add to each label's logit."""
        w = np.array([self.source_weights()[s] for s in SOURCES])
        return self.text_scales(x)[:, None] * np.einsum("nsk,s->nk", x.text, w)

    def conflicts(self, x: HeadFeatures, image_threshold: float) -> np.ndarray:
        """Per post: confident words naming another label than a sure photo (at the conflict
        threshold; without one, at `image_threshold`)."""
        sure_from = image_threshold if self.conflict_threshold is None else self.conflict_threshold
        strongest = x.text.max(axis=1)  # (N, K): the strongest clue per label, any source
        confident = strongest.max(axis=1, initial=0.0) >= self.confident_strength
        text_label = strongest.argmax(axis=1)
        image_label, image_conf = x.image.argmax(axis=1), x.image.max(axis=1)
        return confident & (image_conf >= sure_from) & (text_label != image_label)

    def stratum_thresholds(self, image_threshold: float) -> dict[str, float]:
        """The threshold each stratum is decided on, fallbacks filled in."""
        out = {"agree": self.threshold, "disagree": self.threshold, "none": image_threshold}
        out.update(self.thresholds)
        if self.image_threshold is None or not np.isclose(image_threshold, self.image_threshold):
            out["none"] = image_threshold
        return out

    def probabilities(self, x: HeadFeatures) -> np.ndarray:
        """(N, K) fused probabilities (for every post; callers keep the image's where the
        words named nothing)."""
        bias = np.asarray(self.bias) if self.bias else np.zeros(len(self.labels))
        logits = self.image_weight * np.log(x.image + EPS) + self.text_logits(x) + bias
        return calibration.softmax(logits)

    def as_json(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "labels": self.labels,
            "image_weight": self.image_weight,
            "text_weight": self.text_weight,
            "source_weights": self.source_weights(),
            "source_offsets": self.source_offsets,
            "network_log_scales": self.network_log_scales,
            "network_scales": self.network_scales(),
            "doubt_log_scale": self.doubt_log_scale,
            "bias": self.bias,
            "threshold": self.threshold,
            "thresholds": self.thresholds,
            "image_threshold": self.image_threshold,
            "confident_strength": self.confident_strength,
            "conflict_threshold": self.conflict_threshold,
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HeadFusion:
        return cls(
            head=d["head"],
            labels=list(d["labels"]),
            image_weight=float(d["image_weight"]),
            text_weight=float(d["text_weight"]),
            source_offsets={k: float(v) for k, v in d.get("source_offsets", {}).items()},
            network_log_scales={k: float(v) for k, v in d.get("network_log_scales", {}).items()},
            doubt_log_scale=float(d.get("doubt_log_scale", 0.0)),
            bias=[float(b) for b in d.get("bias", [])],
            threshold=float(d["threshold"]),
            thresholds={k: float(v) for k, v in d.get("thresholds", {}).items() if k in STRATA},
            image_threshold=None
            if d.get("image_threshold") is None
            else float(d["image_threshold"]),
            confident_strength=float(d.get("confident_strength", CONFIDENT_STRENGTH)),
            conflict_threshold=None
            if d.get("conflict_threshold") is None
            else float(d["conflict_threshold"]),
            fitted_on=dict(d.get("fitted_on", {})),
        )


@dataclass
class Decision:
    """One head's outcome for a batch of posts."""

    probs: np.ndarray  # (N, K): fused where the words named a label, else the image's own
    auto: np.ndarray  # (N,) bool
    conflict: np.ndarray  # (N,) bool
    fused: np.ndarray  # (N,) bool: the words took part
    stratum: np.ndarray  # (N,) str: STRATA


def strata(x: HeadFeatures, probs: np.ndarray) -> np.ndarray:
    """Per post: "agree" (the words' strongest label is the decided one), "disagree" or
    "none" (the words named nothing for this head)."""
    text_label = x.text.max(axis=1).argmax(axis=1)
    agree = text_label == probs.argmax(axis=1)
    return np.where(~x.has_text, "none", np.where(agree, "agree", "disagree"))


def decide(fusion: HeadFusion | None, x: HeadFeatures, image_threshold: float) -> Decision:
    """Probabilities and auto/review per post for one head. Without a fusion the image decides
    alone against `image_threshold`, as before fusion existed; with one, a post without words
    keeps the image's probabilities and is decided on the "none" stratum's threshold."""
    probs = x.image.copy()
    n = len(probs)
    fused = x.has_text if fusion is not None else np.zeros(n, bool)
    conflict = np.zeros(n, bool)
    if fusion is not None and fused.any():
        idx = np.flatnonzero(fused)
        probs[idx] = fusion.probabilities(x.subset(fused))
        conflict[idx] = fusion.conflicts(x.subset(fused), image_threshold)
    stratum = strata(x, probs)
    if fusion is None:
        limit = np.full(n, image_threshold)
    else:
        by_stratum = fusion.stratum_thresholds(image_threshold)
        limit = np.array([by_stratum[s] for s in stratum], float)
    auto = (probs.max(axis=1, initial=0.0) >= limit) & ~conflict
    return Decision(probs, auto, conflict, fused, stratum)


# -- thresholds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidates:
    """Out-of-fold posts of one head a threshold is chosen on: the decided label's probability,
    whether it is right, its stratum; posts the conflict rule sends to review are left out."""

    conf: np.ndarray
    correct: np.ndarray
    stratum: np.ndarray


def joint_thresholds(
    groups: dict[Any, tuple[np.ndarray, np.ndarray]], target: float, z: float = 0.0
) -> dict[Any, float]:
    """One threshold per group (head × stratum) publishing as many posts as possible
    while the published posts of all groups together are at least `target` right; with z > 0,
    while their precision's lower confidence bound is (`calibration.lower_bound_need`).

    Maximising Σ n_g subject to Σ gain_g(n_g) ≥ need(Σ n_g), where gain_g(n) = Σ over the n
    most confident of (right − target), through its Lagrangian: for a multiplier μ every group
    takes the n maximising n + μ·gain(n), a vertex of the upper concave hull of its (n, gain)
    points. As μ falls from ∞ the groups step along their hulls in the order of the segments'
    slopes, so every μ's solution is a prefix of that order; the walk visits each exactly (a
    grid of μ missed some) and stops at the first infeasible one, since gain only falls and
    need only grows along it. A group accepts whole runs of equal confidence only. 1.0 means
    "publish nothing"."""
    curves = {}
    steps: list[tuple[float, int, Any, int]] = []  # (slope, order, group, point) of hull segments
    for key, (conf, correct) in groups.items():
        order = np.argsort(-conf, kind="stable")
        c, r = conf[order], np.asarray(correct, float)[order]
        # how many posts each candidate threshold publishes: the ends of runs of equal conf
        run_end = np.append(c[1:] != c[:-1], True) if len(c) else np.zeros(0, bool)
        ends = np.concatenate([[0], np.flatnonzero(run_end) + 1])
        gain = np.concatenate([[0.0], np.cumsum(r - target)])[ends]
        # μ → ∞: the most gain (of equal gains, the most posts)
        start = len(gain) - 1 - int(np.argmax(gain[::-1]))
        hull = [start]
        for j in range(start + 1, len(ends)):
            while len(hull) >= 2:
                a, b = hull[-2], hull[-1]
                # b lies on or under the chord a → j: not a vertex of the upper hull
                if (gain[b] - gain[a]) * (ends[j] - ends[a]) <= (gain[j] - gain[a]) * (
                    ends[b] - ends[a]
                ):
                    hull.pop()
                else:
                    break
            hull.append(j)
        for a, b in zip(hull, hull[1:], strict=False):
            slope = (gain[b] - gain[a]) / (ends[b] - ends[a])
            steps.append((float(slope), len(steps), key, b))
        curves[key] = (c, ends, gain, start)
    at = {k: curve[3] for k, curve in curves.items()}
    total = sum(float(curves[k][1][i]) for k, i in at.items())
    total_gain = sum(float(curves[k][2][i]) for k, i in at.items())

    def need(n: float) -> float:
        return float(calibration.lower_bound_need(target, n, z)) - 1e-9

    best = dict(at) if total_gain >= need(total) else None
    for _slope, _n, key, point in sorted(steps, key=lambda s: (-s[0], s[1])):
        _c, ends, gain, _start = curves[key]
        total += float(ends[point] - ends[at[key]])
        total_gain += float(gain[point] - gain[at[key]])
        at[key] = point
        if total_gain < need(total):
            break
        best = dict(at)
    out = {k: 1.0 for k in groups}
    for k, i in (best or {}).items():
        c, ends = curves[k][0], curves[k][1]
        out[k] = float(c[ends[i] - 1]) if ends[i] > 0 else 1.0
    return out


def choose_thresholds(
    heads: Sequence[HeadFusion],
    candidates: Sequence[Candidates],
    target: float,
    z: float = PRECISION_Z,
) -> None:
    """Set every head's stratum thresholds together (the lower bound of the pooled precision
    ≥ target on their out-of-fold candidates, `joint_thresholds`). A stratum with under
    MIN_STRATUM_POSTS candidates keeps its fallback (`HeadFusion.stratum_thresholds`), which
    reaches the target on its own (with the same lower bound)."""
    groups = {}
    for h, (fusion, cand) in enumerate(zip(heads, candidates, strict=True)):
        fusion.thresholds = {}
        for s in STRATA:
            m = cand.stratum == s
            if m.sum() >= MIN_STRATUM_POSTS:
                groups[(h, s)] = (cand.conf[m], cand.correct[m])
    for (h, s), t in joint_thresholds(groups, target, z).items():
        heads[h].thresholds[s] = t
    for fusion in heads:
        fusion.fitted_on["thresholds_from"] = (
            f"{THRESHOLD_FOLDS}-fold out-of-fold probabilities, strata of every head together, "
            f"pooled precision's lower bound (z = {z:g}) ≥ {target:g}"
        )


# -- fitting ------------------------------------------------------------------------------


def fit_head(
    head: str,
    labels: Sequence[str],
    x: HeadFeatures,
    y: np.ndarray,
    *,
    right: np.ndarray | None = None,
    image_threshold: float,
    conflict_threshold: float | None = None,
    target_precision: float = 0.95,
    confident_strength: float = CONFIDENT_STRENGTH,
    z: float = PRECISION_Z,
) -> HeadFusion:
    """Fit one head: the model on posts whose words name a label; its stratum thresholds on
    out-of-fold probabilities of every post (posts without words: the image's own), this head
    alone (`fit_heads` chooses them for several heads together).

    `y` is the true label index (-1: none is right); `right` (N, K) bool marks labels that count
    as right when published (the true one, and for colour the labeller's runner-up); default:
    y only. `conflict_threshold`: HeadFusion.conflict_threshold (None: `image_threshold`)."""
    fusion, cand = _fit_with_candidates(
        head,
        labels,
        x,
        y,
        right,
        image_threshold,
        conflict_threshold,
        target_precision,
        confident_strength,
        z,
    )
    choose_thresholds([fusion], [cand], target_precision, z)
    return fusion


def fit_heads(
    heads: Sequence[tuple[str, Sequence[str], HeadFeatures, np.ndarray, np.ndarray | None, float]],
    *,
    conflict_thresholds: dict[str, float] | None = None,
    target_precision: float = 0.95,
    confident_strength: float = CONFIDENT_STRENGTH,
    z: float = PRECISION_Z,
) -> list[HeadFusion]:
    """Fit several heads of the same posts, (head, labels, x, y, right, image_threshold) each,
    with their thresholds chosen together: the precision target is on their labels pooled.
    `conflict_thresholds`: per head, HeadFusion.conflict_threshold (missing: the image's)."""
    conflict_at = conflict_thresholds or {}
    fitted = [
        _fit_with_candidates(
            h,
            labels,
            x,
            y,
            right,
            thr,
            conflict_at.get(h),
            target_precision,
            confident_strength,
            z,
        )
        for h, labels, x, y, right, thr in heads
    ]
    fusions = [f for f, _c in fitted]
    choose_thresholds(fusions, [c for _f, c in fitted], target_precision, z)
    return fusions


def _fit_with_candidates(
    head: str,
    labels: Sequence[str],
    x_all: HeadFeatures,
    y_all: np.ndarray,
    right_all: np.ndarray | None,
    image_threshold: float,
    conflict_threshold: float | None,
    target_precision: float,
    confident_strength: float,
    z: float,
) -> tuple[HeadFusion, Candidates]:
    y_all = np.asarray(y_all)
    if right_all is None:
        right_all = np.eye(len(labels), dtype=bool)[y_all] & (y_all >= 0)[:, None]
    # y < 0: no label is right (a "Not sure"/"Other" photo's category): such a post counts
    # against the "none" threshold when it has no words, and is never fitted on
    keep = x_all.has_text & (y_all >= 0)
    bare = ~x_all.has_text
    x, y, right = x_all.subset(keep), y_all[keep], np.asarray(right_all)[keep]
    fusion = HeadFusion(
        head,
        list(labels),
        confident_strength=confident_strength,
        image_threshold=image_threshold,
        conflict_threshold=conflict_threshold,
    )
    networks = sorted(set(x.network))
    fusion.fitted_on = {
        "posts": int(len(y)),
        "posts_without_words": int(bare.sum()),
        "sources": {
            s: int((x.text[:, i].max(axis=1) > 0).sum())
            for i, s in enumerate(SOURCES)
            if (x.text[:, i] > 0).any()
        },
        "networks": {n: x.network.count(n) for n in networks},
        "target_precision": target_precision,
        "precision_z": z,
    }
    # posts without words: the image's own probabilities (nothing fitted here sees them)
    img = x_all.image[bare]
    none_conf = img.max(axis=1, initial=0.0)
    none_right = np.asarray(right_all)[bare][np.arange(len(img)), img.argmax(axis=1)]
    if len(y) == 0:
        cand = Candidates(none_conf, none_right, np.full(len(img), "none"))
        return fusion, cand
    _fit_parameters(fusion, x, y, networks)
    # Thresholds are chosen on out-of-fold probabilities: each post's fused probability comes
    # from a fit that did not see it, so the thresholds do not lean on the fit's optimism.
    probs = np.zeros_like(x.image)
    fold = np.random.default_rng(0).permutation(len(y)) % THRESHOLD_FOLDS
    for k in range(THRESHOLD_FOLDS):
        inner = HeadFusion(head, list(labels), fitted_on=dict(fusion.fitted_on))
        _fit_parameters(inner, x.subset(fold != k), y[fold != k], networks)
        probs[fold == k] = inner.probabilities(x.subset(fold == k))
    conf = probs.max(axis=1)
    correct = right[np.arange(len(y)), probs.argmax(axis=1)]
    ok = ~fusion.conflicts(x, image_threshold)  # sent to review whatever the probability
    # the fallback for strata too small to have their own threshold: this head's fused posts
    fusion.threshold = calibration.threshold_for_precision(
        conf[ok], correct[ok], target_precision, z=z
    )
    cand = Candidates(
        np.concatenate([conf[ok], none_conf]),
        np.concatenate([correct[ok], none_right]),
        np.concatenate([strata(x, probs)[ok], np.full(len(img), "none")]),
    )
    return fusion, cand


def _fit_parameters(
    fusion: HeadFusion, x: HeadFeatures, y: np.ndarray, networks: Sequence[str]
) -> None:
    n, k = x.image.shape
    s = len(SOURCES)
    logp = np.log(x.image + EPS)
    onehot = np.eye(k)[y]
    net_index = np.array([networks.index(v) for v in x.network])
    net_onehot = np.eye(len(networks))[net_index]  # (N, R)
    doubt = x.doubts

    def unpack(
        theta: np.ndarray,
    ) -> tuple[float, np.ndarray, float, np.ndarray, float, np.ndarray]:
        a, b, w0 = theta[0], theta[1 : 1 + k], theta[1 + k]
        return a, b, w0, theta[2 + k : 2 + k + s], theta[2 + k + s], theta[3 + k + s :]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b, w0, delta, gamma, rho = unpack(theta)
        w = w0 + delta
        r = (net_onehot @ np.exp(rho)) * np.exp(gamma * doubt)  # (N,)
        t = np.einsum("nsk,s->nk", x.text, w)  # (N, K) text term before the network scale
        logits = a * logp + r[:, None] * t + b
        logits -= logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(logits).sum(axis=1, keepdims=True))
        log_q = logits - log_z
        loss = -(onehot * log_q).sum() / n
        g = (np.exp(log_q) - onehot) / n  # dL/dlogits
        grad_a = (g * logp).sum()
        grad_b = g.sum(axis=0)
        grad_w = np.einsum("nk,nsk->s", g * r[:, None], x.text)
        grad_rho = net_onehot.T @ ((g * t).sum(axis=1) * r)
        grad_gamma = ((g * t).sum(axis=1) * r * doubt).sum()
        loss += (
            L2_BIAS * (b @ b)
            + L2_OFFSET * (delta @ delta)
            + L2_NETWORK * (rho @ rho)
            + L2_DOUBT * gamma**2
        )
        grad = np.concatenate(
            [
                [grad_a],
                grad_b + 2 * L2_BIAS * b,
                [grad_w.sum()],
                grad_w + 2 * L2_OFFSET * delta,
                [grad_gamma + 2 * L2_DOUBT * gamma],
                grad_rho + 2 * L2_NETWORK * rho,
            ]
        )
        return loss, grad

    theta0 = np.zeros(3 + k + s + len(networks))
    theta0[0] = 1.0
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B")
    a, b, w0, delta, gamma, rho = unpack(res.x)
    seen = set(fusion.fitted_on.get("sources", {}))
    fusion.image_weight = float(a)
    fusion.bias = [float(v) for v in b]
    fusion.text_weight = float(w0)
    fusion.source_offsets = {
        src: float(d) for src, d in zip(SOURCES, delta, strict=True) if src in seen
    }
    # r·w is unchanged by moving a constant from every ρ into the weights: do so, so that the
    # average post's network has scale 1 (as has a network the fitting data never showed)
    shift = float(np.exp(rho) @ net_onehot.mean(axis=0)) if len(networks) else 1.0
    fusion.text_weight = float(w0 * shift)
    fusion.source_offsets = {src: d * shift for src, d in fusion.source_offsets.items()}
    fusion.network_log_scales = {
        net: float(v - np.log(shift)) for net, v in zip(networks, rho, strict=True)
    }
    fusion.doubt_log_scale = float(gamma)
    fusion.fitted_on["nll"] = float(res.fun)
    fusion.fitted_on["converged"] = bool(res.success)


# -- storage --------------------------------------------------------------------------------


@dataclass
class Fusion:
    """A model folder's fusion.json: one HeadFusion per head plus how it was measured."""

    heads: dict[str, HeadFusion]
    metadata: dict[str, Any] = field(default_factory=dict)

    def no_words_thresholds(self, image_thresholds: dict[str, float]) -> dict[str, float]:
        """The threshold a photo whose words name nothing for a head is decided on."""
        return {
            h: self.heads[h].stratum_thresholds(t)["none"] if h in self.heads else t
            for h, t in image_thresholds.items()
        }

    def save(self, model_dir: str | Path) -> Path:
        path = Path(model_dir) / FUSION_FILE
        body = {"heads": {h: f.as_json() for h, f in self.heads.items()}, **self.metadata}
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def load_fusion(model_dir: str | Path, labels: dict[str, list[str]]) -> Fusion | None:
    """The folder's fusion.json, or None when it has none. A file whose labels do not match
    the model's is refused: it was fitted for another model."""
    path = Path(model_dir) / FUSION_FILE
    if not path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        heads = {h: HeadFusion.from_json(d) for h, d in body["heads"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a valid fusion file ({type(exc).__name__}: {exc})") from exc
    for head, fusion in heads.items():
        if fusion.labels != list(labels.get(head, [])):
            raise ValueError(f"{path}: {head} labels differ from the model's; refit it")
    return Fusion(heads, {k: v for k, v in body.items() if k != "heads"})
