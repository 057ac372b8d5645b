"""The seed paper's CNN as a baseline, trained on the same split as Vitrina's model.

Korobko et al. 2021, Model 2: three 3×3 convolutions (32, 64, 128 filters) each followed by 2×2
max-pooling, flatten, dropout 0.5, dense 512, softmax; 150×150 input; RMSprop. The paper has one
softmax; here the same trunk feeds two (category and colour) so both heads compare side by side.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from catalog.taxonomy import CATEGORIES, COLOURS
from classifier import calibration, data
from classifier.data import Sample
from classifier.images import UnreadableImage, load_rgb
from classifier.report import BASELINE_FILE
from classifier.train import TrainConfig, class_weights, load_samples, targets

SIZE = 150


def korobko_model2() -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 3), dtype="uint8")
    x = layers.Rescaling(1 / 255.0)(inputs)
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(512, activation="relu")(x)
    return keras.Model(
        inputs,
        {
            "category": layers.Dense(len(CATEGORIES), activation="softmax", name="category")(x),
            "colour": layers.Dense(len(COLOURS), activation="softmax", name="colour")(x),
        },
        name="korobko2021_model2",
    )


def _pixels(samples: Sequence[Sample]) -> tuple[np.ndarray, list[Sample]]:
    kept, imgs = [], []
    for s in samples:
        try:
            imgs.append(load_rgb(s.path, SIZE))
            kept.append(s)
        except UnreadableImage:
            continue
    return np.stack(imgs), kept


def train_baseline(
    data_dirs: Sequence[Path],
    model_dir: Path,
    *,
    val_fraction: float = 0.2,
    epochs: int = 30,
    limit: int | None = None,
) -> dict[str, Any]:
    """Train on the training part of the split the model in `model_dir` used; write
    `baseline.json` there with validation figures; return them."""
    started = time.perf_counter()
    # the same photos (and so the same split) as `vitrina train` with the same --data/--limit
    samples = load_samples(TrainConfig(out=model_dir, data_dirs=list(data_dirs), limit=limit))
    train_s, val_s = data.split(samples, val_fraction)
    fit_s, stop_s = data.split(train_s, 0.1, seed="vitrina-early-stopping")
    (x_fit, fit_s), (x_stop, stop_s), (x_val, val_s) = map(_pixels, (fit_s, stop_s, val_s))

    def ys(ss: list[Sample]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        y = targets(ss, 0.0)
        w = {
            "category": class_weights(y["category"], y["category_mask"]),
            "colour": class_weights(y["colour"], np.ones(len(ss), np.float32)),
        }
        return {"category": y["category"], "colour": y["colour"]}, w

    (y_fit, w_fit), (y_stop, w_stop) = ys(fit_s), ys(stop_s)
    model = korobko_model2()
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-4),
        loss={"category": "categorical_crossentropy", "colour": "categorical_crossentropy"},
    )
    history = model.fit(
        x_fit,
        y_fit,
        sample_weight=w_fit,
        validation_data=(x_stop, y_stop, w_stop),
        epochs=epochs,
        batch_size=32,
        verbose=2,
        callbacks=[
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=4, restore_best_weights=True)
        ],
    )
    probs = model.predict(x_val, batch_size=64, verbose=0)
    metrics = {}
    labelled = np.array([s.has_category for s in val_s])
    for head, labels in (("category", CATEGORIES), ("colour", COLOURS)):
        mask = labelled if head == "category" else np.ones(len(val_s), bool)
        y = np.array(
            [
                labels.index(s.category if head == "category" else s.colour)
                for s, m in zip(val_s, mask, strict=True)
                if m
            ]
        )
        m = calibration.summarise(probs[head][mask], y, 1.0, list(labels))
        m.pop("per_class")
        metrics[head] = m
    result = {
        "name": "Korobko et al. 2021, Model 2",
        "description": "conv 32/64/128 3×3 + 2×2 max-pooling, flatten, dropout 0.5, dense 512, "
        "softmax (one per head); 150×150 input; RMSprop 1e-4; same split, same class weights, "
        "early stopping on the same training slice; no pretrained weights.",
        "metrics": metrics,
        "epochs": len(history.history["loss"]),
        "parameters": int(model.count_params()),
        "seconds": round(time.perf_counter() - started, 1),
        "validation": len(val_s),
    }
    (Path(model_dir) / BASELINE_FILE).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result
