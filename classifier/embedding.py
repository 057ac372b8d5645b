"""The stored "more like this" vector: a learned projection of the backbone's pooled features.

    embedding = unit( 1.0 · unit(W (f − μ))          66 numbers, trained with the labels
                    ⊕ 0.4 · unit(R f)                32, fixed random directions (copies)
                    ⊕ 1.2 · √p(category)             17, the heads' own view
                    ⊕ 1.0 · √p(colour) )             13          → 128 numbers, cosine = dot

`f` is the L2-normalised pooled feature vector the heads read. W is fitted by
`vitrina train-embedding` on the training split's pooled features (cached under var/embedding/):
a linear map to 66 numbers, unit length, then cosine softmax against one prototype per category
and per colour (temperature 0.05, input dropout against the fine-tuned backbone's over-confident
training features). It is saved next to the model as embedding.npz; without one W is random
(seeded), which is what an untrained model gets. R keeps resized, cropped and re-encoded copies
of a photo nearest to it. Everything here is NumPy: classify applies it to the features of the
same model run that gives the labels (no second model), and the web app never needs it.

The projection only reads the backbone's features, so a retrain of the heads alone keeps it
valid; the stored vectors carry `embedding_version` (model version + the file's digest) and
classify rewrites them whenever either changes.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from catalog.taxonomy import CATEGORIES, COLOURS
from catalog.vectors import EMBEDDING_DIM

EMBEDDING_FILE = "embedding.npz"
PERCEPTUAL_DIM = 32
LEARNED_DIM = EMBEDDING_DIM - PERCEPTUAL_DIM - len(CATEGORIES) - len(COLOURS)
# learned, perceptual, category, colour: picked by benchmarks/retrieval_bench.py among a few
# settings on the validation split (so its figures are slightly optimistic)
WEIGHTS = (1.0, 0.4, 1.2, 1.0)
RANDOM_TAG = "rnd0"


class ProjectionError(ValueError):
    """An embedding.npz that does not fit the model or the catalogue's vector size."""


def normalised(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def random_directions(features: int, dims: int, seed: int) -> np.ndarray:
    """(dims, features) orthonormal rows, the same for the same seed (identity when F ≤ D)."""
    if features <= dims:
        return np.eye(dims, features, dtype=np.float32)
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((features, dims)))
    return q.T.astype(np.float32)


@dataclass(frozen=True, eq=False)
class Projection:
    mean: np.ndarray  # (F,)
    learned: np.ndarray  # (LEARNED_DIM, F)
    perceptual: np.ndarray  # (PERCEPTUAL_DIM, F)
    weights: tuple[float, float, float, float]
    tag: str  # RANDOM_TAG, or "e" + the file's digest: part of the stored vectors' version

    @cached_property
    def _stacked(self) -> np.ndarray:
        return np.ascontiguousarray(np.concatenate([self.learned, self.perceptual]), np.float32)

    @cached_property
    def _offset(self) -> np.ndarray:
        return (self.mean @ self.learned.T).astype(np.float32)  # W(f − μ) = Wf − Wμ

    def apply(self, features: np.ndarray, category: np.ndarray, colour: np.ndarray) -> np.ndarray:
        """(N, F) pooled features + (N, 17) and (N, 13) probabilities → (N, 128) unit vectors."""
        f = normalised(np.asarray(features, np.float32))
        w = self.weights
        # One pass over both projections, in einsum's own loop: a BLAS matmul this small spends
        # more time waking its threads than computing (100 ms a batch on a loaded 2-core CPU).
        both = np.einsum("nf,df->nd", f, self._stacked)
        k = self.learned.shape[0]
        parts = [
            w[0] * normalised(both[:, :k] - self._offset),
            w[1] * normalised(both[:, k:]),
            w[2] * np.sqrt(np.clip(np.asarray(category, np.float32), 0, None)),
            w[3] * np.sqrt(np.clip(np.asarray(colour, np.float32), 0, None)),
        ]
        out = normalised(np.concatenate(parts, axis=1)).astype(np.float32)
        if out.shape[1] != EMBEDDING_DIM:
            raise ProjectionError(f"the embedding has {out.shape[1]} numbers, not {EMBEDDING_DIM}")
        return out


def random_projection(features: int) -> Projection:
    return Projection(
        np.zeros(features, np.float32),
        random_directions(features, LEARNED_DIM, seed=0),
        random_directions(features, PERCEPTUAL_DIM, seed=1),
        WEIGHTS,
        RANDOM_TAG,
    )


def load_projection(path: Path) -> Projection | None:
    """embedding.npz → Projection; None when the file does not exist."""
    if not path.is_file():
        return None
    raw = path.read_bytes()
    try:
        with np.load(io.BytesIO(raw)) as data:
            mean = data["mean"].astype(np.float32)
            learned = data["learned"].astype(np.float32)
            weights = tuple(float(x) for x in data["weights"])
    except (OSError, KeyError, ValueError) as exc:
        raise ProjectionError(f"{path} is not a usable embedding projection: {exc}") from exc
    if learned.shape != (LEARNED_DIM, mean.shape[0]) or len(weights) != 4:
        raise ProjectionError(
            f"{path}: projection {learned.shape} / mean {mean.shape} / {len(weights)} weights; "
            f"the catalogue stores {EMBEDDING_DIM} numbers, so it needs ({LEARNED_DIM}, F), "
            "(F,) and 4 weights: fit it again with `vitrina train-embedding`"
        )
    return Projection(
        mean,
        learned,
        random_directions(mean.shape[0], PERCEPTUAL_DIM, seed=1),
        weights,  # type: ignore[arg-type]
        "e" + hashlib.sha256(raw).hexdigest()[:10],
    )


def save_projection(path: Path, mean: np.ndarray, learned: np.ndarray) -> Path:
    buf = io.BytesIO()
    np.savez(
        buf,
        mean=mean.astype(np.float32),
        learned=learned.astype(np.float32),
        weights=np.asarray(WEIGHTS, np.float64),
    )
    path.write_bytes(buf.getvalue())
    return path


def fit(
    features: np.ndarray,
    category: Sequence[int],
    colour: Sequence[int],
    *,
    epochs: int = 40,
    temperature: float = 0.05,
    dropout: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, F) L2-normalised pooled features and label indices (-1: no label, e.g. "Not sure")
    → (mean (F,), W (LEARNED_DIM, F)): cosine softmax over categories and colours, jointly."""
    import keras

    x = np.asarray(features, np.float32)
    cat, col = np.asarray(category), np.asarray(colour)
    if len(x) != len(cat) or len(x) != len(col):
        raise ValueError(f"{len(x)} feature rows for {len(cat)} / {len(col)} labels")
    if len(x) < 2:
        raise ValueError("fitting an embedding needs at least two labelled photos")
    keras.utils.set_random_seed(seed)
    mean = x.mean(axis=0)
    inp = keras.Input((x.shape[1],))
    h = keras.layers.GaussianNoise(0.02)(keras.layers.Dropout(dropout)(inp))
    z = keras.layers.Dense(LEARNED_DIM, use_bias=False, name="projection")(h)
    z = keras.layers.UnitNormalization()(z)
    outputs = {}
    for name, n in (("category", len(CATEGORIES)), ("colour", len(COLOURS))):
        proto = keras.layers.Dense(
            n, use_bias=False, kernel_constraint=keras.constraints.UnitNorm(axis=0)
        )(z)
        scaled = keras.layers.Rescaling(1 / temperature)(proto)
        outputs[name] = keras.layers.Activation("softmax", name=name)(scaled)
    model = keras.Model(inp, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss={h: "sparse_categorical_crossentropy" for h in outputs},
    )
    model.fit(
        x - mean,
        {"category": np.maximum(cat, 0), "colour": np.maximum(col, 0)},
        sample_weight={
            "category": (cat >= 0).astype(np.float32),
            "colour": (col >= 0).astype(np.float32),
        },
        epochs=epochs,
        batch_size=128,
        verbose=0,
    )
    w = model.get_layer("projection").get_weights()[0]  # (F, LEARNED_DIM)
    return mean, w.T.astype(np.float32)
