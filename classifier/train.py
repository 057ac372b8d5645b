"""Training Vitrina's classifier, top to bottom.

1. Read the labelled photos (a dataset folder and/or moderator decisions from the catalogue) and
   hold out a fixed, stratified validation split that training never sees.
2. Run the frozen lower part of the pretrained backbone (EfficientNet-Lite0 with ported ImageNet
   weights) once per photo and per augmented view (original + mirrored) and cache its output: on
   a 2-core CPU this is what makes training take minutes rather than hours.
3. Train the two heads on the cached features (class-weighted, early stopping on a slice of the
   training data), then fine-tune the backbone's last stage together with the heads, then (when
   `full_fine_tune_epochs` > 0) the whole network end to end on randomly flipped and zoomed
   photos, BatchNorm statistics frozen.
4. Assemble the deployable model (raw uint8 pixels in), fit one temperature per head on the
   validation split, choose the thresholds that reach the target precision, and write
   `model.keras`, `metadata.json` and the report.
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from catalog.taxonomy import CATEGORIES, COLOURS
from classifier import backbones, calibration, data
from classifier.data import Sample
from classifier.images import UnreadableImage, load_rgb
from classifier.layers import GarmentColourStats, PixelScaling
from classifier.model import (
    BackboneParts,
    assemble,
    backbone_parts,
    build_heads,
    save_model,
    set_temperatures,
)
from classifier.train_config import TrainConfig

console = Console(stderr=True)


# ---------------------------------------------------------------------------------------------
# 1. Data


def load_samples(cfg: TrainConfig) -> list[Sample]:
    samples: list[Sample] = []
    for folder in cfg.data_dirs:
        samples.extend(data.read_labels(folder))
    samples.extend(cfg.extra_samples)
    if cfg.limit:
        samples = sorted(samples, key=lambda s: hashlib.sha1(s.key.encode()).hexdigest())
        samples = samples[: cfg.limit]
    if not samples:
        raise data.DatasetError("no training photos: give --data DIR and/or --from-catalog")
    return samples


def targets(samples: Sequence[Sample], alt_weight: float) -> dict[str, np.ndarray]:
    """One-hot category targets (zeros for "Not sure"/"Other"), colour targets that give the
    labeller's runner-up colour some weight, and the per-head sample masks."""
    n = len(samples)
    cat = np.zeros((n, len(CATEGORIES)), np.float32)
    col = np.zeros((n, len(COLOURS)), np.float32)
    cat_mask = np.zeros(n, np.float32)
    for i, s in enumerate(samples):
        if s.has_category:
            cat[i, CATEGORIES.index(s.category)] = 1.0
            cat_mask[i] = 1.0
        if s.colour_alt:
            col[i, COLOURS.index(s.colour)] = 1.0 - alt_weight
            col[i, COLOURS.index(s.colour_alt)] = alt_weight
        else:
            col[i, COLOURS.index(s.colour)] = 1.0
    return {"category": cat, "colour": col, "category_mask": cat_mask}


def class_weights(onehot: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-sample weights ∝ 1/sqrt(class frequency), mean 1 over the used samples: rare classes
    count more without letting 20 blouses dominate the loss."""
    freq = (onehot * mask[:, None]).sum(0) + 1.0
    per_class = 1.0 / np.sqrt(freq)
    w = (onehot @ per_class) * mask
    used = mask > 0
    return (w / w[used].mean() if used.any() else w).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# 2. Cached backbone features


@dataclass
class Encoded:
    samples: list[Sample]  # the readable ones, in order
    stem: np.ndarray  # (N, views, ...) frozen stem output, float16
    stats: np.ndarray  # (N, views, COLOUR_FEATURES) garment colour statistics
    unreadable: list[tuple[Sample, str]]
    pixels: np.ndarray | None = None  # (N, S, S, 3) uint8, when asked for (end-to-end stage)


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def encode(
    parts: BackboneParts,
    samples: Sequence[Sample],
    *,
    views: int,
    what: str,
    workers: int = 2,
    keep_pixels: bool = False,
) -> Encoded:
    """Decode each photo, make `views` views (1: as is; 2: + mirrored; 3: + zoomed) and run the
    frozen stem on each. No colour jitter or hue shifts: colour is a label here."""
    size = parts.image_size
    scaling = PixelScaling(*parts.scaling)
    colour = GarmentColourStats()

    @tf.function(reduce_retracing=True)
    def run(pixels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return parts.stem(scaling(pixels), training=False), colour(pixels)

    def decode(s: Sample) -> np.ndarray | str:
        try:
            return load_rgb(s.path, size)
        except UnreadableImage as exc:
            return str(exc)

    kept: list[Sample] = []
    stems: list[np.ndarray] = []
    stats: list[np.ndarray] = []
    pixels: list[np.ndarray] = []
    bad: list[tuple[Sample, str]] = []
    batch = 64
    with _progress() as progress, ThreadPoolExecutor(workers) as pool:
        task = progress.add_task(f"encoding {what}", total=len(samples))
        for start in range(0, len(samples), batch):
            chunk = samples[start : start + batch]
            imgs = []
            for s, img in zip(chunk, pool.map(decode, chunk), strict=True):
                if isinstance(img, str):
                    bad.append((s, img))
                else:
                    kept.append(s)
                    imgs.append(img)
            if imgs:
                x = np.stack(imgs)
                if keep_pixels:
                    pixels.append(x)
                xs = [x, x[:, :, ::-1], _zoom(x)][:views]
                outs = [run(tf.constant(v)) for v in xs]
                stems.append(np.stack([o[0].numpy().astype(np.float16) for o in outs], axis=1))
                stats.append(np.stack([o[1].numpy() for o in outs], axis=1))
            progress.advance(task, len(chunk))
    if not kept:
        raise data.DatasetError(f"none of the {len(samples)} {what} photos could be read")
    return Encoded(
        kept,
        np.concatenate(stems),
        np.concatenate(stats),
        bad,
        np.concatenate(pixels) if keep_pixels else None,
    )


def _zoom(x: np.ndarray, keep: float = 0.85) -> np.ndarray:
    """The centre `keep` of each image scaled back up, mirrored: a third training view."""
    size = x.shape[1]
    m = int(round(size * (1 - keep) / 2))
    crop = tf.image.resize(x[:, m : size - m, m : size - m, :], (size, size), method="bilinear")
    return np.clip(np.round(crop.numpy()), 0, 255).astype(np.uint8)[:, :, ::-1]


def pooled_features(parts: BackboneParts, stem: np.ndarray) -> np.ndarray:
    """Backbone features from cached stem outputs (N, views, ...) → (N, views, F)."""
    if parts.top is None:
        return stem.astype(np.float32)
    flat = stem.reshape((-1, *stem.shape[2:]))
    out = parts.top.predict(flat.astype(np.float32), batch_size=256, verbose=0)
    return out.reshape((*stem.shape[:2], -1))


# ---------------------------------------------------------------------------------------------
# 3. Training


def _dataset(
    inputs: list[np.ndarray],
    y: dict[str, np.ndarray],
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
) -> tf.data.Dataset:
    """(inputs of shape (N, views, ...)) → batches of one randomly chosen view per photo."""
    views = inputs[0].shape[1]
    n = inputs[0].shape[0]
    tensors = (
        tuple(inputs),
        {"category": y["category"], "colour": y["colour"]},
        {"category": y["category_weight"], "colour": y["colour_weight"]},
    )
    ds = tf.data.Dataset.from_tensor_slices(tensors)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)

    def pick(x: tuple[tf.Tensor, ...], t: dict, w: dict) -> tuple:
        v = tf.random.uniform((), 0, views, dtype=tf.int32) if shuffle else 0
        return tuple(tf.cast(a[v], tf.float32) for a in x), t, w

    return ds.map(pick, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(2)


def _compile(
    model: keras.Model, lr: float | keras.optimizers.schedules.LearningRateSchedule
) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss={"category": "categorical_crossentropy", "colour": "categorical_crossentropy"},
        metrics={"category": ["categorical_accuracy"], "colour": ["categorical_accuracy"]},
        jit_compile=bool(tf.config.list_physical_devices("GPU")),  # XLA helps on GPU only
    )


def fit(
    model: keras.Model,
    train_ds: tf.data.Dataset,
    stop_ds: tf.data.Dataset,
    epochs: int,
    lr: float,
    patience: int,
) -> dict[str, list[float]]:
    _compile(model, lr)
    history = model.fit(
        train_ds,
        validation_data=stop_ds,
        epochs=epochs,
        verbose=2 if os.environ.get("CI") else 1,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=patience, restore_best_weights=True
            ),
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3, patience=2),
        ],
    )
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def fine_tune_model(parts: BackboneParts, heads: keras.Model) -> keras.Model:
    """stem output → top → heads, BatchNorm frozen (batches of 64 are too small to re-estimate)."""
    assert parts.top is not None
    for layer in parts.top.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    stem_out = keras.Input(parts.stem.output_shape[1:], name="stem_out")
    stats = keras.Input(heads.inputs[1].shape[1:], name="colour_stats")
    return keras.Model([stem_out, stats], heads([parts.top(stem_out), stats]))


def _augment(size: int) -> Callable[[tf.Tensor], tf.Tensor]:
    """Random mirror and zoom (a square crop of 80-100% of the side, scaled back up) of uint8
    pixels. Geometry only: brightness, contrast or hue changes would change the colour label."""

    def augment(x: tf.Tensor) -> tf.Tensor:
        x = tf.image.random_flip_left_right(x)
        side = tf.cast(tf.round(tf.random.uniform((), 0.8, 1.0) * size), tf.int32)
        x = tf.image.random_crop(x, tf.stack([side, side, 3]))
        x = tf.image.resize(x, (size, size), method="bilinear")
        return tf.cast(tf.clip_by_value(tf.round(x), 0, 255), tf.uint8)

    return augment


def fit_end_to_end(
    model: keras.Model,
    parts: BackboneParts,
    fit_e: Encoded,
    y_fit: dict[str, np.ndarray],
    stop_e: Encoded,
    y_stop: dict[str, np.ndarray],
    cfg: TrainConfig,
) -> dict[str, list[float]]:
    """Every layer of the deployable model (pixels in) trained on augmented photos, BatchNorm
    frozen (its statistics came from ImageNet; batches of 32 would only add noise)."""
    assert fit_e.pixels is not None and stop_e.pixels is not None
    backbone = [parts.stem] + ([parts.top] if parts.top is not None else [])
    for part in backbone:
        part.trainable = True
        for layer in part.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False

    def dataset(e: Encoded, y: dict[str, np.ndarray], train: bool) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices(
            (
                e.pixels,
                {"category": y["category"], "colour": y["colour"]},
                {"category": y["category_weight"], "colour": y["colour_weight"]},
            )
        )
        if train:
            augment = _augment(parts.image_size)
            ds = ds.shuffle(len(e.pixels), seed=cfg.seed, reshuffle_each_iteration=True).map(
                lambda x, t, w: (augment(x), t, w), num_parallel_calls=tf.data.AUTOTUNE
            )
        return ds.batch(32 if train else 128).prefetch(2)

    # A fixed number of epochs on a cosine-decaying rate (the keras.io fine-tuning recipe):
    # early stopping on the 10% slice stopped after two epochs, its loss too noisy to steer by.
    train_ds = dataset(fit_e, y_fit, True)
    steps = cfg.full_fine_tune_epochs * int(train_ds.cardinality().numpy())
    _compile(model, keras.optimizers.schedules.CosineDecay(cfg.full_fine_tune_lr, steps))
    history = model.fit(
        train_ds,
        validation_data=dataset(stop_e, y_stop, False),
        epochs=cfg.full_fine_tune_epochs,
        verbose=2 if os.environ.get("CI") else 1,
    ).history
    for part in backbone:
        part.trainable = False
    return {k: [float(v) for v in vals] for k, vals in history.items()}


# ---------------------------------------------------------------------------------------------
# 4. Calibration, thresholds, metrics


def head_metrics(
    probs: dict[str, np.ndarray], samples: Sequence[Sample], target_precision: float
) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
    """Fit temperatures and thresholds on the validation predictions → (T, thresholds, metrics).

    `probs` are the model's outputs at temperature 1, so log(probs) are logits up to a constant.
    """
    temps: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    metrics: dict[str, Any] = {}
    labelled = np.array([s.has_category for s in samples])
    ys = {
        "category": np.array(
            [CATEGORIES.index(s.category) if s.has_category else -1 for s in samples]
        ),
        "colour": np.array([COLOURS.index(s.colour) for s in samples]),
    }
    calibrated: dict[str, np.ndarray] = {}
    heads = (("category", CATEGORIES), ("colour", COLOURS))
    for head, _labels in heads:
        mask = labelled if head == "category" else np.ones(len(samples), bool)
        logits = np.log(np.clip(probs[head], 1e-12, None))
        temps[head] = calibration.fit_temperature(logits[mask], ys[head][mask])
        calibrated[head] = calibration.softmax(logits, temps[head])
    # thresholds on the target users feel (issue #14): published labels `target_precision`
    # right, a colour right when it is the labeller's or their runner-up, a "Not sure"/"Other"
    # photo's category never
    thresholds.update(
        calibration.published_thresholds(
            calibrated,
            {h: data.right_labels(samples, h, labels) for h, labels in heads},
            target_precision,
        )
    )
    for head, labels in heads:
        mask = labelled if head == "category" else np.ones(len(samples), bool)
        p, y, thr = calibrated[head], ys[head][mask], thresholds[head]
        m = calibration.summarise(p[mask], y, thr, list(labels))
        m["ece_before_scaling"] = calibration.expected_calibration_error(
            probs[head][mask].max(1), probs[head][mask].argmax(1) == y
        )
        m["top3_accuracy"] = float(
            np.mean([yy in row for yy, row in zip(y, np.argsort(-p[mask], 1)[:, :3], strict=True)])
        )
        if head == "colour":
            alt = np.array([COLOURS.index(s.colour_alt) if s.colour_alt else -1 for s in samples])
            m["accuracy_incl_runner_up"] = float(np.mean((p.argmax(1) == y) | (p.argmax(1) == alt)))
        # the same published labels judged as thresholds are chosen (colour_alt counted)
        right = data.right_labels(samples, head, labels)
        pub = p.max(1) >= thr
        m["precision_as_published"] = (
            float(right[pub, p[pub].argmax(1)].mean()) if pub.any() else 1.0
        )
        m["coverage_all_photos"] = float(pub.mean())
        metrics[head] = m
    auto = (calibrated["category"].max(1) >= thresholds["category"]) & (
        calibrated["colour"].max(1) >= thresholds["colour"]
    )
    both_ok = (calibrated["category"].argmax(1) == ys["category"]) & (
        calibrated["colour"].argmax(1) == ys["colour"]
    )
    metrics["decision"] = {
        "auto_accepted": float(auto[labelled].mean()) if labelled.any() else 0.0,
        "auto_precision_both_heads": float(both_ok[labelled & auto].mean())
        if (labelled & auto).any()
        else 1.0,
        "unsure_photos": int((~labelled).sum()),
        "unsure_sent_to_review": float((~auto[~labelled]).mean()) if (~labelled).any() else 1.0,
    }
    return temps, thresholds, metrics


def device_description() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def configure_device() -> str:
    """Mixed precision on a GPU (float16 compute, float32 variables and softmax); CPU as is."""
    if tf.config.list_physical_devices("GPU"):
        keras.mixed_precision.set_global_policy("mixed_float16")
    return device_description()


# ---------------------------------------------------------------------------------------------
# The whole run


@dataclass
class TrainResult:
    model_dir: Path
    metadata: dict[str, Any]


def train(cfg: TrainConfig, log: Callable[[str], None] = console.print) -> TrainResult:
    started = time.perf_counter()
    keras.utils.set_random_seed(cfg.seed)
    device = configure_device()

    # 1. Data and the fixed validation split.
    samples = load_samples(cfg)
    train_s, val_s = data.split(samples, cfg.val_fraction)
    fit_s, stop_s = data.split(train_s, 0.1, seed="vitrina-early-stopping")
    log(
        f"{len(samples)} photos: {len(fit_s)} to fit, {len(stop_s)} for early stopping, "
        f"{len(val_s)} held out for validation (never trained on)"
    )

    # 2. Backbone and cached features.
    if cfg.fine_tune_from is None and cfg.backbone in backbones.LITE_VARIANTS:
        cfg.fine_tune_from = backbones.LITE_VARIANTS[cfg.backbone].split_block  # recorded
    parts = backbone_parts(
        cfg.backbone, cfg.image_size, pretrained=cfg.pretrained, split_block=cfg.fine_tune_from
    )
    parts.stem.trainable = False
    end_to_end = cfg.full_fine_tune_epochs > 0
    fit_e = encode(
        parts,
        fit_s,
        views=cfg.views,
        what="training photos",
        workers=cfg.workers,
        keep_pixels=end_to_end,
    )
    stop_e = encode(
        parts,
        stop_s,
        views=1,
        what="early-stopping photos",
        workers=cfg.workers,
        keep_pixels=end_to_end,
    )
    # The validation photos are encoded up front only for the colour study (heads compared on
    # the frozen features); otherwise once, after training, when the backbone is final.
    val_e = (
        encode(parts, val_s, views=1, what="validation photos", workers=cfg.workers)
        if cfg.compare_colour_stats
        else None
    )
    t_encoded = time.perf_counter()

    def labels_for(e: Encoded) -> dict[str, np.ndarray]:
        y = targets(e.samples, cfg.label_smoothing_alt)
        y["category_weight"] = class_weights(y["category"], y["category_mask"])
        y["colour_weight"] = class_weights(y["colour"], np.ones(len(e.samples), np.float32))
        return y

    y_fit, y_stop = labels_for(fit_e), labels_for(stop_e)
    stats_flat = fit_e.stats.reshape(-1, fit_e.stats.shape[-1])
    stats_mean, stats_var = stats_flat.mean(0), stats_flat.var(0) + 1e-6

    # 3a. Heads on pooled features (fast: no backbone in the loop).
    if parts.top is not None:
        parts.top.trainable = False
    feats_fit = pooled_features(parts, fit_e.stem)
    feats_stop = pooled_features(parts, stop_e.stem)

    def train_heads(colour_stats: bool) -> tuple[keras.Model, dict]:
        heads = build_heads(
            parts.feature_dim,
            colour_stats=colour_stats,
            stats_mean=stats_mean,
            stats_var=stats_var,
        )
        hist = fit(
            heads,
            _dataset([feats_fit, fit_e.stats], y_fit, cfg.batch_size, shuffle=True, seed=cfg.seed),
            _dataset([feats_stop, stop_e.stats], y_stop, 256, shuffle=False, seed=cfg.seed),
            cfg.head_epochs,
            1e-3,
            patience=6,
        )
        return heads, hist

    log("training the heads on cached features")
    heads, head_history = train_heads(cfg.colour_stats)
    colour_study: dict[str, Any] = {}
    if cfg.compare_colour_stats:
        assert val_e is not None  # encoded up front for this
        # Same features, same split, same schedule: only the colour head's second input differs.
        log("training the heads again without the garment colour statistics (for comparison)")
        other, _ = train_heads(not cfg.colour_stats)
        feats_val = pooled_features(parts, val_e.stem)
        for name, model in ((cfg.colour_stats, heads), (not cfg.colour_stats, other)):
            probs = model.predict([feats_val[:, 0], val_e.stats[:, 0]], verbose=0)
            y = np.array([COLOURS.index(s.colour) for s in val_e.samples])
            acc = float((probs["colour"].argmax(1) == y).mean())
            colour_study["with_colour_stats" if name else "without_colour_stats"] = acc
        colour_study["note"] = "colour top-1 on the validation split, heads-only stage"
        log(f"colour head with vs without garment colour statistics: {colour_study}")

    # 3b. Fine-tune the backbone's last stage with the heads (Lite0 only).
    fine_history: dict[str, list[float]] = {}
    if parts.top is not None and cfg.fine_tune_epochs > 0:
        log("fine-tuning the last backbone stage with the heads")
        parts.top.trainable = True
        ft = fine_tune_model(parts, heads)
        fine_history = fit(
            ft,
            _dataset([fit_e.stem, fit_e.stats], y_fit, cfg.batch_size, shuffle=True, seed=cfg.seed),
            _dataset([stop_e.stem, stop_e.stats], y_stop, 256, shuffle=False, seed=cfg.seed),
            cfg.fine_tune_epochs,
            2e-4,
            patience=3,
        )

    # 3c. The whole network end to end on augmented photos.
    full_history: dict[str, list[float]] = {}
    if end_to_end:
        log("fine-tuning the whole network end to end on augmented photos")
        full_history = fit_end_to_end(
            assemble(parts, heads), parts, fit_e, y_fit, stop_e, y_stop, cfg
        )
    if val_e is None or end_to_end:  # not encoded yet, or its cached stem outputs are stale
        val_e = encode(parts, val_s, views=1, what="validation photos", workers=cfg.workers)
    t_trained = time.perf_counter()

    # 4. The deployable model, calibrated on the validation split.
    model = assemble(parts, heads)
    val_probs = predict_cached(parts, heads, val_e)
    temps, thresholds, metrics = head_metrics(val_probs, val_e.samples, cfg.target_precision)
    set_temperatures(model, temps)
    val_calibrated = predict_cached(parts, heads, val_e)
    check_end_to_end(model, parts, heads, val_e)

    version = f"{cfg.out.name}-{datetime.now(UTC):%Y%m%d%H%M%S}"
    metadata: dict[str, Any] = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": cfg.command,
        "backbone": cfg.backbone,
        "pretrained": f"ImageNet ({cfg.backbone} ported from "
        f"{backbones.LITE_VARIANTS[cfg.backbone].distribution})"
        if cfg.pretrained and cfg.backbone in backbones.LITE_VARIANTS
        else ("ImageNet (keras.applications)" if cfg.pretrained else "none (from scratch)"),
        "image_size": cfg.image_size,
        "resize": "stretch to a square, bilinear, EXIF-rotated, alpha on white",
        "input": "uint8 RGB, shape (batch, S, S, 3); scaling happens inside the model",
        "categories": list(CATEGORIES),
        "colours": list(COLOURS),
        "colour_stats_input": cfg.colour_stats,
        "temperatures": temps,
        "thresholds": thresholds,
        "thresholds_rule": calibration.THRESHOLDS_RULE,
        "target_precision": cfg.target_precision,
        "metrics": metrics,
        "colour_stats_study": colour_study,
        "data": {
            "sources": [str(d) for d in cfg.data_dirs]
            + (["catalogue"] if cfg.extra_samples else []),
            "fingerprint": data.fingerprint(train_s, val_s),
            "val_fraction": cfg.val_fraction,
            "split_seed": data.SPLIT_SEED,
            "train": len(train_s),
            "validation": len(val_s),
            "unreadable": [
                f"{s.key}: {why}" for e in (fit_e, stop_e, val_e) for s, why in e.unreadable
            ],
            "train_counts": data.counts(train_s),
            "validation_counts": data.counts(val_s),
        },
        "training": {
            "device": device,
            "seconds_total": round(time.perf_counter() - started, 1),
            "seconds_encoding": round(t_encoded - started, 1),
            "seconds_fitting": round(t_trained - t_encoded, 1),
            "head_epochs": len(head_history.get("loss", [])),
            "fine_tune_epochs": len(fine_history.get("loss", [])),
            "full_fine_tune_epochs": len(full_history.get("loss", [])),
            "history": {
                "heads": head_history,
                "fine_tune": fine_history,
                "full_fine_tune": full_history,
            },
            "config": {
                k: (str(v) if isinstance(v, Path) else v)
                for k, v in asdict(cfg).items()
                if k not in ("extra_samples", "data_dirs", "out")
            },
        },
    }
    metadata["throughput"] = measure_throughput(model, metadata, val_e.samples, cfg.runtime)
    save_model(model, metadata, cfg.out)
    metadata["training"]["seconds_total"] = round(time.perf_counter() - started, 1)
    from classifier.report import write_report

    write_report(cfg.out, metadata, val_calibrated, val_e.samples)
    save_model(model, metadata, cfg.out)
    return TrainResult(cfg.out, metadata)


def predict_cached(parts: BackboneParts, heads: keras.Model, e: Encoded) -> dict[str, np.ndarray]:
    """The model's temperature-1 outputs for encoded photos (first view), via the cached stem."""
    feats = pooled_features(parts, e.stem[:, :1])[:, 0]
    return heads.predict([feats, e.stats[:, 0]], batch_size=256, verbose=0)


def check_end_to_end(
    model: keras.Model, parts: BackboneParts, heads: keras.Model, e: Encoded
) -> None:
    """The assembled model on raw pixels must agree with the cached path it was evaluated on."""
    n = min(8, len(e.samples))
    pixels = np.stack([load_rgb(s.path, parts.image_size) for s in e.samples[:n]])
    direct = model.predict(pixels, verbose=0)
    cached = predict_cached(parts, heads, Encoded(e.samples[:n], e.stem[:n], e.stats[:n], []))
    for head in ("category", "colour"):
        # the cache holds float16 stem outputs, hence the tolerance
        if not np.allclose(direct[head], cached[head], atol=0.05):
            raise RuntimeError(f"assembled model disagrees with the trained heads on {head}")


def measure_throughput(
    model: keras.Model,
    metadata: dict[str, Any],
    samples: Sequence[Sample],
    runtime: str = "auto",
    n: int = 256,
) -> dict[str, Any]:
    """Photos/s of batched prediction from files (decode + resize + model) on this device, with
    the runtime the configuration asks for (TFLite exports the model being trained first)."""
    from classifier.inference import Predictor
    from classifier.model import VitrinaModel

    predictor = Predictor(VitrinaModel(Path("."), model, metadata), batch_size=64, runtime=runtime)
    paths = [s.path for s in samples[:n]]
    list(predictor.predict_paths(paths[:64]))  # trace once
    t0 = time.perf_counter()
    list(predictor.predict_paths(paths))
    seconds = time.perf_counter() - t0
    return {
        "photos_per_second": round(len(paths) / seconds, 1),
        "photos": len(paths),
        "batch_size": 64,
        "runtime": predictor.runtime.name,
        "device": device_description(),
    }
