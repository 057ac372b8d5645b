"""`vitrina train-embedding`: fit classifier.embedding's projection for a trained model.

The model runs once over the training split (its pooled backbone features are cached under
var/embedding/ by model version and list of photos, so a refit costs seconds), the projection is
fitted with the photos' category and colour labels, and embedding.npz is written next to
model.keras. Only the backbone's features are read: retraining the heads alone leaves it valid.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from catalog.taxonomy import CATEGORIES, COLOURS
from classifier import embedding
from classifier.data import Sample
from classifier.model import VitrinaModel

DEFAULT_CACHE = Path("var") / "embedding"


@dataclass
class EmbeddingFit:
    path: Path
    photos: int
    seconds: float
    tag: str

    def line(self) -> str:
        return (
            f"fitted the embedding projection on {self.photos} training photos in "
            f"{self.seconds:.0f} s: {self.path} (vectors tagged +{self.tag})"
        )


def pooled_features(
    model: VitrinaModel,
    paths: Sequence[Path],
    cache_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """(N, F) L2-normalised pooled features of `paths`, cached by model version and path list."""
    import tensorflow as tf

    from classifier.images import load_rgb

    if model.with_features is None:
        raise ValueError(f"model {model.path} has no pooled-features output to fit an embedding on")
    digest = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:12]
    cache = cache_dir / f"{model.version}-{digest}.npy"
    if cache.is_file():
        return np.load(cache)
    run = tf.function(lambda x: model.with_features(x, training=False)["features"])
    parts = []
    for i in range(0, len(paths), batch_size):
        pixels = np.stack([load_rgb(p, model.image_size) for p in paths[i : i + batch_size]])
        parts.append(run(tf.constant(pixels)).numpy())
        if progress:
            progress(min(i + batch_size, len(paths)), len(paths))
    feats = embedding.normalised(np.concatenate(parts).astype(np.float32))
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(cache, feats)
    return feats


def label_indices(samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """Category and colour index per sample; -1 where it is not a catalogue label
    ("Not sure", "Other"): those photos teach the other head only."""
    cats = {c: i for i, c in enumerate(CATEGORIES)}
    cols = {c: i for i, c in enumerate(COLOURS)}
    return (
        np.array([cats.get(s.category, -1) for s in samples]),
        np.array([cols.get(s.colour, -1) for s in samples]),
    )


def train_embedding(
    model: VitrinaModel,
    samples: Sequence[Sample],
    *,
    cache_dir: Path = DEFAULT_CACHE,
    epochs: int = 40,
    out: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EmbeddingFit:
    started = time.perf_counter()
    cat, col = label_indices(samples)
    if not np.any(cat >= 0) or not np.any(col >= 0):
        raise ValueError("no training photo has a catalogue category and colour")
    feats = pooled_features(model, [Path(s.path) for s in samples], cache_dir, progress)
    mean, learned = embedding.fit(feats, cat, col, epochs=epochs)
    path = embedding.save_projection(out or model.path / embedding.EMBEDDING_FILE, mean, learned)
    projection = embedding.load_projection(path)
    assert projection is not None
    return EmbeddingFit(path, len(samples), time.perf_counter() - started, projection.tag)
