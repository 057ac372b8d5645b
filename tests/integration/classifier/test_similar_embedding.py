"""classifier.embedding: the learned "more like this" projection, its file and its version."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from catalog.taxonomy import CATEGORIES, COLOURS
from catalog.vectors import EMBEDDING_DIM
from classifier import embedding
from classifier.model import EMBEDDING_FILE, default_model_dir

F = 40  # feature size of the synthetic photos


def probs(n: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    p = rng.random((n, classes))
    return p / p.sum(1, keepdims=True)


def test_the_vector_is_unit_length_of_the_catalogues_size_and_repeatable() -> None:
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((5, F))
    a = embedding.random_projection(F)
    b = embedding.random_projection(F)
    cat, col = probs(5, len(CATEGORIES), rng), probs(5, len(COLOURS), rng)
    out = a.apply(feats, cat, col)
    assert out.shape == (5, EMBEDDING_DIM) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    assert np.array_equal(out, b.apply(feats, cat, col))  # seeded: same model, same vectors
    # the features are normalised first: a photo's scale says nothing about its looks
    assert np.allclose(a.apply(3 * feats, cat, col), out, atol=1e-5)
    assert a.tag == embedding.RANDOM_TAG


def test_a_saved_projection_loads_with_a_tag_that_follows_its_content(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / EMBEDDING_FILE
    mean, learned = rng.standard_normal(F), rng.standard_normal((embedding.LEARNED_DIM, F))
    embedding.save_projection(path, mean, learned)
    first = embedding.load_projection(path)
    assert first is not None and first.tag.startswith("e") and len(first.tag) == 11
    assert np.allclose(first.learned, learned) and first.weights == embedding.WEIGHTS
    embedding.save_projection(path, mean, learned + 0.01)  # refitted: vectors must be rebuilt
    second = embedding.load_projection(path)
    assert second is not None and second.tag != first.tag
    assert embedding.load_projection(tmp_path / "none.npz") is None


def test_a_projection_of_the_wrong_size_or_a_damaged_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / EMBEDDING_FILE
    embedding.save_projection(path, np.zeros(F), np.zeros((10, F)))
    with pytest.raises(embedding.ProjectionError, match=r"needs \(66, F\).*train-embedding"):
        embedding.load_projection(path)
    path.write_bytes(b"not numpy")
    with pytest.raises(embedding.ProjectionError, match="not a usable embedding projection"):
        embedding.load_projection(path)


def test_the_committed_model_ships_a_learned_projection() -> None:
    projection = embedding.load_projection(default_model_dir() / EMBEDDING_FILE)
    assert projection is not None
    assert projection.learned.shape == (embedding.LEARNED_DIM, 1280)
    assert projection.tag != embedding.RANDOM_TAG


@pytest.mark.slow
def test_fitting_brings_photos_of_one_label_together() -> None:
    """Synthetic photos: the category hides in 4 of 200 noisy features; after fitting, a photo's
    nearest others share its category more often than with the raw features."""
    rng = np.random.default_rng(2)
    n, f = 600, 200
    cat = rng.integers(0, 4, n)
    col = rng.integers(0, 3, n)
    centres = np.zeros((4, f))
    centres[np.arange(4), np.arange(4)] = 3.0
    feats = embedding.normalised(centres[cat] + rng.standard_normal((n, f)))
    cat[:20] = -1  # "Not sure": teaches the colour head only
    mean, learned = embedding.fit(feats[:400], cat[:400], col[:400], epochs=60)
    assert learned.shape == (embedding.LEARNED_DIM, f)
    flat_c = np.full((n, len(CATEGORIES)), 1 / len(CATEGORIES))
    flat_o = np.full((n, len(COLOURS)), 1 / len(COLOURS))

    def p_at_5(e: np.ndarray) -> float:
        sims = e @ e.T
        np.fill_diagonal(sims, -np.inf)
        top = np.argsort(-sims, axis=1)[:, :5]
        c = cat[400:]
        return float(np.mean(c[top] == c[:, None]))

    random = embedding.random_projection(f)
    learned_only = (1.0, 0.0, 0.0, 0.0)
    fitted = replace(random, mean=mean, learned=learned, weights=learned_only, tag="e-test")
    applied = fitted.apply(feats[400:], flat_c[400:], flat_o[400:])
    assert p_at_5(feats[400:]) < 0.6 < 0.65 < p_at_5(applied)  # 0.57 → 0.67 with this seed
    with pytest.raises(ValueError, match="3 feature rows for 2"):
        embedding.fit(feats[:3], cat[:2], col[:2])
