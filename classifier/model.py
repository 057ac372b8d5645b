"""Vitrina's classifier: one Keras functional model, a shared backbone, two softmax heads.

    uint8 RGB (S×S) ─▶ PixelScaling ─▶ backbone (stem ▸ top) ─▶ features ─┬▶ category head (17)
                   └─▶ GarmentColourStats (28 numbers) ──────────────────┴▶ colour head (13)

Preprocessing lives inside the model, so `model.keras` takes the raw pixels `classifier.images`
decodes. A model directory holds `model.keras`, `metadata.json` and the report.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from catalog.taxonomy import CATEGORIES, COLOURS
from catalog.vectors import EMBEDDING_DIM
from classifier import backbones
from classifier.embedding import (
    EMBEDDING_FILE,
    RANDOM_TAG,
    Projection,
    ProjectionError,
    load_projection,
    random_projection,
)
from classifier.fusion import Fusion, load_fusion
from classifier.layers import COLOUR_FEATURES, GarmentColourStats, PixelScaling, TemperatureSoftmax

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL_NAME = "vitrina-lite0-192"
MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
# metadata.json's record of the libraries a model was saved with, checked again on load.
LIBRARIES_KEY = "libraries"

log = logging.getLogger("vitrina.classifier")


@dataclass
class BackboneParts:
    """A backbone cut in two so that the frozen `stem` runs once per photo during training and
    only the `top` (None: nothing) is trained on its cached output."""

    name: str
    image_size: int
    stem: keras.Model
    top: keras.Model | None
    feature_dim: int
    scaling: tuple[float, float]


def backbone_parts(
    name: str,
    image_size: int,
    *,
    pretrained: bool = True,
    fine_tune: bool = True,
    split_block: int | None = None,
) -> BackboneParts:
    """`name`'s network, an EfficientNet-Lite cut at `split_block` (default: where its last two
    stages start) so that the part after the cut can be fine-tuned on cached features."""
    shape = (image_size, image_size, 3)
    scaling = backbones.pixel_scaling(name)
    variant = backbones.LITE_VARIANTS.get(name)
    if variant is not None and fine_tune:
        from classifier.torch_weights import load_state_dict

        split = variant.split_block if split_block is None else split_block
        if not 0 < split < variant.blocks:
            raise ValueError(f"{name} has blocks 1..{variant.blocks - 1} to fine-tune from")
        short = name.removeprefix("efficientnet_")
        stem = backbones.efficientnet_lite(variant, shape, last_block=split, name=f"{short}_stem")
        top = backbones.efficientnet_lite(
            variant, stem.output_shape[1:], first_block=split, name=f"{short}_top"
        )
        if pretrained:
            state = load_state_dict(backbones.lite_weights_path(variant))
            backbones.port_lite_weights(stem, state, variant)
            backbones.port_lite_weights(top, state, variant)
        return BackboneParts(name, image_size, stem, top, backbones.LITE0_FEATURES, scaling)
    stem = backbones.make_backbone(name, shape, pretrained=pretrained)
    return BackboneParts(name, image_size, stem, None, stem.output_shape[-1], scaling)


def build_heads(
    feature_dim: int,
    *,
    colour_stats: bool = True,
    stats_mean: np.ndarray | None = None,
    stats_var: np.ndarray | None = None,
    hidden: int = 256,
    dropout: float = 0.4,
) -> keras.Model:
    """The two heads on top of the pooled features (and the garment colour statistics)."""
    feats = keras.Input((feature_dim,), name="features")
    stats = keras.Input((COLOUR_FEATURES,), name="colour_stats")
    x = layers.Dropout(dropout, name="category_dropout")(feats)
    x = layers.Dense(hidden, activation="relu", name="category_hidden")(x)
    x = layers.Dropout(dropout / 2, name="category_dropout2")(x)
    category = layers.Dense(len(CATEGORIES), name="category_logits")(x)
    category = TemperatureSoftmax(name="category")(category)

    y = layers.Dropout(dropout, name="colour_dropout")(feats)
    if colour_stats:
        norm = layers.Normalization(mean=stats_mean, variance=stats_var, name="colour_stats_norm")
        y = layers.Concatenate(name="colour_inputs")([y, norm(stats)])
    y = layers.Dense(hidden, activation="relu", name="colour_hidden")(y)
    y = layers.Dropout(dropout / 2, name="colour_dropout2")(y)
    colour = layers.Dense(len(COLOURS), name="colour_logits")(y)
    colour = TemperatureSoftmax(name="colour")(colour)
    return keras.Model([feats, stats], {"category": category, "colour": colour}, name="heads")


def assemble(parts: BackboneParts, heads: keras.Model) -> keras.Model:
    """The deployable model: raw uint8 pixels in, {"category", "colour"} probabilities out."""
    size = parts.image_size
    pixels = keras.Input((size, size, 3), dtype="uint8", name="pixels")
    mean, std = parts.scaling
    x = PixelScaling(mean, std, name="scaling")(pixels)
    x = parts.stem(x)
    if parts.top is not None:
        x = parts.top(x)
    stats = GarmentColourStats(name="garment_colour")(pixels)
    out = heads([x, stats])
    return keras.Model(
        pixels, {"category": out["category"], "colour": out["colour"]}, name="vitrina"
    )


def set_temperatures(model: keras.Model, temperatures: dict[str, float]) -> None:
    heads = model.get_layer("heads")
    for head, t in temperatures.items():
        heads.get_layer(head).set_temperature(t)


def default_model_dir() -> Path:
    return MODELS_DIR / DEFAULT_MODEL_NAME


def resolve_model_dir(configured: str | Path | None, base_dir: str | Path | None = None) -> Path:
    """`--model`, else `[classifier] model_dir` (relative to the config's folder), else the
    committed default model."""
    if not configured:
        return default_model_dir()
    path = Path(configured)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


class ModelNotFound(FileNotFoundError):
    pass


class InvalidModel(ValueError):
    """A model folder with a file that cannot be used (e.g. a damaged fusion.json)."""


@dataclass
class VitrinaModel:
    """A loaded model directory: the Keras model, its metadata and its thresholds, and the
    fusion of photo and words when the folder has a fusion.json (None: the photo alone)."""

    path: Path
    keras_model: keras.Model
    metadata: dict[str, Any]
    fusion: Fusion | None = field(default=None)
    # The same model with a third output, "features": the pooled backbone features the heads
    # read, for "more like this" (one model run gives labels and embedding).
    with_features: keras.Model | None = field(default=None, repr=False)
    # The learned projection to the stored vector (classifier.embedding; embedding.npz), or
    # random directions for a model folder without one.
    projection: Projection | None = field(default=None, repr=False)

    def embed(self, features: np.ndarray, category: np.ndarray, colour: np.ndarray) -> np.ndarray:
        """One photo per row → (N, EMBEDDING_DIM) float32 unit vectors for "more like this"
        (classifier.embedding: the learned projection of the pooled features, a perceptual part
        for copies, and the heads' own probabilities; cosine is a dot product)."""
        if self.projection is None:
            self.projection = random_projection(np.asarray(features).shape[1])
        return self.projection.apply(features, category, colour)

    @property
    def embedding_version(self) -> str:
        """What the stored vectors are tagged with: the model and its projection, so that a new
        model or a refitted embedding.npz makes classify rewrite every vector."""
        tag = self.projection.tag if self.projection is not None else RANDOM_TAG
        return f"{self.version}+{tag}"

    @property
    def embedding_dim(self) -> int:
        return EMBEDDING_DIM

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def image_size(self) -> int:
        return int(self.metadata["image_size"])

    @property
    def labels(self) -> dict[str, list[str]]:
        return {"category": self.metadata["categories"], "colour": self.metadata["colours"]}

    def thresholds(self, overrides: dict[str, float | None] | None = None) -> dict[str, float]:
        out = {h: float(v) for h, v in self.metadata["thresholds"].items()}
        for head, value in (overrides or {}).items():
            if value is not None:
                out[head] = float(value)
        return out


def library_versions() -> dict[str, str]:
    """The versions of the libraries that shape a saved model's file and its numbers."""
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def check_library_versions(metadata: dict[str, Any], where: Path) -> list[str]:
    """Warn (and return the lines) for each library whose major.minor differs from the saver's.

    Keras/TensorFlow minor releases have changed layer defaults and the .keras format before: a
    model may still load yet score differently, which should be visible in the log.
    """
    saved = metadata.get(LIBRARIES_KEY) or {}
    now = library_versions()
    lines = [
        f"model {where} was saved with {lib} {saved[lib]}, this is {lib} {now[lib]}: "
        "its predictions may differ from its report; retrain or evaluate it again"
        for lib in now
        if lib in saved and _minor(str(saved[lib])) != _minor(now[lib])
    ]
    for line in lines:
        log.warning(line)
    return lines


def load_model(model_dir: str | Path) -> VitrinaModel:
    model_dir = Path(model_dir)
    keras_file, meta_file = model_dir / MODEL_FILE, model_dir / METADATA_FILE
    if not keras_file.is_file() or not meta_file.is_file():
        raise ModelNotFound(
            f"{model_dir} is not a Vitrina model folder (needs {MODEL_FILE} and {METADATA_FILE}); "
            "train one with `vitrina train --data DIR --out FOLDER`"
        )
    metadata = json.loads(meta_file.read_text(encoding="utf-8"))
    check_library_versions(metadata, model_dir)
    model = keras.saving.load_model(keras_file, compile=False, safe_mode=True)
    # Read only where a fusion.json needs them (older or hand-made metadata may lack the lists).
    labels = {"category": metadata.get("categories", []), "colour": metadata.get("colours", [])}
    try:
        fusion = load_fusion(model_dir, labels)
    except ValueError as exc:
        raise InvalidModel(str(exc)) from exc
    try:
        featured: keras.Model | None = with_features(model)
    except ValueError:  # not assembled by classifier.model (no "heads"): labels only, no vectors
        featured = None
    try:
        projection = load_projection(model_dir / EMBEDDING_FILE)
    except ProjectionError as exc:
        raise InvalidModel(str(exc)) from exc
    return VitrinaModel(model_dir, model, metadata, fusion, featured, projection)


def with_features(model: keras.Model) -> keras.Model:
    """`model` with a third output, "features": the tensor the `heads` sub-model takes first
    (shared layers and weights, nothing recomputed)."""
    features = model.get_layer("heads")._inbound_nodes[0].input_tensors[0]
    return keras.Model(model.input, {**model.output, "features": features}, name="vitrina_f")


def save_model(model: keras.Model, metadata: dict[str, Any], model_dir: str | Path) -> Path:
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    model.save(model_dir / MODEL_FILE)
    metadata = {**metadata, LIBRARIES_KEY: library_versions()}
    (model_dir / METADATA_FILE).write_text(
        json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return model_dir
