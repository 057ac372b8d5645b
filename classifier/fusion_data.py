"""Fitting data for the fusion: the model's validation photos paired with real product titles.

Each validation photo with a true category becomes a post: with a seeded draw, 30% get no usable
text, 10% the title of a different product, the rest a real title of the same true category and
colour from `product-names/names.csv`. A "Not sure"/"Other" photo becomes a post without words
whose category is never right. Titles come from one of two disjoint parts of names.csv
(by a hash of the product id), so reported figures use titles the fit never saw; photos are
split in two halves for cross-fitting by a hash of their key.

The model's probabilities for the validation photos are cached under `var/` (keyed by model
version and split fingerprint): inference of ~1,000 photos is the only slow step.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from catalog.evidence import PostText
from classifier import data
from classifier.data import Sample

NO_TEXT_SHARE = 0.30
WRONG_TEXT_SHARE = 0.10
NETWORKS = ("shopify", "instagram", "mastodon", "bluesky")
PAIRING_SEED = "vitrina-fusion-pairing-v1"


@dataclass(frozen=True)
class Title:
    id: str
    title: str
    category: str
    colour: str


@dataclass(frozen=True)
class Pair:
    """One validation photo as a post: what its words are and how they were chosen."""

    sample: Sample
    text: PostText
    # "match" | "none" | "wrong" (a different product's title) | "unmatched" | "unsure" (a
    # "Not sure"/"Other" photo, without words)
    kind: str


def _unit(seed: str, key: str) -> float:
    """A uniform draw in [0, 1) fixed by (seed, key)."""
    return int(hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()[:12], 16) / 16**12


def read_titles(folder: str | Path) -> list[Title]:
    path = Path(folder) / "names.csv"
    if not path.is_file():
        raise data.DatasetError(f"{path} not found: --names takes the product-names folder")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"id", "title", "category", "colour"} - set(reader.fieldnames or ())
        if missing:
            raise data.DatasetError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return [
            Title(r["id"], r["title"].strip(), r["category"].strip(), r["colour"].strip())
            for r in reader
            if r["title"].strip()
        ]


def title_half(t: Title) -> str:
    """ "fit" or "report": which part of names.csv a title belongs to. "report" is the fifth the
    text lexicon was never tuned on (benchmarks/text_labelling.py `split_of`: sha1 of
    "vitrina-text:<id>", one in five), so reported figures use titles neither fit has seen."""
    h = int(hashlib.sha1(f"vitrina-text:{t.id}".encode()).hexdigest(), 16)
    return "report" if h % 5 == 0 else "fit"


def photo_half(s: Sample) -> int:
    """0 or 1: the cross-fitting fold of a validation photo."""
    return int(_unit("vitrina-fusion-photos", s.key) >= 0.5)


def pair_posts(
    samples: Sequence[Sample], titles: Sequence[Title], *, seed: str = PAIRING_SEED
) -> list[Pair]:
    """One post per photo (the draw is fixed by `seed` and the photo)."""
    by_label: dict[tuple[str, str], list[Title]] = defaultdict(list)
    for t in titles:
        if t.category and t.colour:
            by_label[(t.category, t.colour)].append(t)
    pool = sorted((t for t in titles if t.category and t.colour), key=lambda t: t.id)
    out: list[Pair] = []
    for s in samples:
        u = _unit(seed, s.key)
        pick = _unit(seed + ":title", s.key)
        network = NETWORKS[int(_unit(seed + ":network", s.key) * len(NETWORKS))]
        if not s.has_category:
            # a "Not sure"/"Other" photo: no category is right for it, and no title names its
            # kind; it stays a post (without words), so that thresholds count what publishing
            # a category for it costs
            out.append(Pair(s, PostText(network=network), "unsure"))
            continue
        if u < NO_TEXT_SHARE:
            out.append(Pair(s, PostText(network=network), "none"))
            continue
        if u < NO_TEXT_SHARE + WRONG_TEXT_SHARE:
            others = [t for t in pool if (t.category, t.colour) != (s.category, s.colour)]
            title, kind = others[int(pick * len(others))] if others else None, "wrong"
        else:
            same = by_label.get((s.category, s.colour)) or by_label.get(
                (s.category, s.colour_alt), []
            )
            title, kind = (same[int(pick * len(same))], "match") if same else (None, "unmatched")
        if title is None:
            out.append(Pair(s, PostText(network=network), kind))
            continue
        out.append(Pair(s, post_for(title.title, network), kind))
    return out


def post_for(title: str, network: str) -> PostText:
    """A Shopify product's title, or the same words as a social post's caption."""
    if network == "shopify":
        return PostText(network=network, title=title)
    return PostText(network=network, caption=title)


def image_probs(
    model,  # type: ignore[no-untyped-def]  # classifier.model.VitrinaModel (TF stays lazy)
    samples: Sequence[Sample],
    cache_dir: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """{"category": (N, 17), "colour": (N, 13)} for `samples`, cached under `cache_dir`.

    Unreadable photos get NaN rows (the caller drops them)."""
    fp = hashlib.sha256(json.dumps([model.version, [s.key for s in samples]]).encode()).hexdigest()[
        :16
    ]
    cache = Path(cache_dir) / f"image-probs-{fp}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            return {h: z[h] for h in ("category", "colour")}
    from classifier.inference import Predictor

    predictor = Predictor(model)
    out = {h: np.full((len(samples), len(v)), np.nan) for h, v in model.labels.items()}
    for i, row in enumerate(predictor.predict_paths([s.path for s in samples])):
        if not row.error:
            for h in out:
                out[h][i] = row.probs[h]
        if progress and (i + 1) % 64 == 0:
            progress(64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, **out)
    return out
