"""Several garments in one photo: a small anchor-free head on the backbone's last feature map.

    photo ─▶ backbone (the classifier's, frozen, same run) ─┬▶ 6×6×1280 map ─▶ 1×1 conv ─▶ ×2 ─┐
                                                            └▶ 12×12×112 map ─▶ 1×1 conv ───── + ─▶
          3×3 conv ─▶ per cell of a 12×12 grid: objectness + box (centre offset, width, height)

Each cell near a garment's centre says "a garment is centred here" and regresses that garment's
box (FCOS/CenterNet-style, one box per garment after non-maximum suppression). A photo is split
only when at least two confident boxes remain; a single-garment photo stays one entry.

There is no box-labelled data: the head is trained on composites made from the shared
single-item photos (side by side, 2×2 grids, flat-lays at random scale and place on plain
backgrounds), each pasted photo being one garment, and on single photos (one box: the whole
photo). Held-out composites are built from the validation split only. The head is a few
hundred kilobytes of NumPy weights (`regions.npz` beside model.keras) and runs in NumPy on the
feature map the classify pass already computes: no second model, no second backbone pass.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REGIONS_FILE = "regions.npz"
GRID = 12  # the grid boxes are predicted on: the stride-16 map at 192 px


@dataclass(frozen=True)
class Box:
    """A region in a photo, as fractions of its width and height (0..1), and its score."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0

    def as_list(self) -> list[float]:
        return [round(v, 4) for v in (self.x0, self.y0, self.x1, self.y1)]

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        return (
            max(0, int(round(self.x0 * width))),
            max(0, int(round(self.y0 * height))),
            min(width, int(round(self.x1 * width))),
            min(height, int(round(self.y1 * height))),
        )


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / union if union > 0 else 0.0


def union_box(boxes: Sequence[Box]) -> Box:
    return Box(
        min(b.x0 for b in boxes),
        min(b.y0 for b in boxes),
        max(b.x1 for b in boxes),
        max(b.y1 for b in boxes),
        max(b.score for b in boxes),
    )


def contained(a: Box, b: Box) -> float:
    """The share of the smaller box that lies inside the other one."""
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    smaller = min((a.x1 - a.x0) * (a.y1 - a.y0), (b.x1 - b.x0) * (b.y1 - b.y0))
    return ix * iy / smaller if smaller > 0 else 0.0


def nms(boxes: list[Box], threshold: float, inside: float = 0.7) -> list[Box]:
    """Greedy suppression by score: a box overlapping a kept one by IoU ≥ `threshold`, or
    lying mostly (`inside`) within it or around it (a part of one garment), is dropped."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b.score):
        if all(iou(box, k) < threshold and contained(box, k) < inside for k in kept):
            kept.append(box)
    return kept


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


@dataclass
class RegionHead:
    """The trained head's weights and the rule that turns its output into boxes."""

    w1: np.ndarray  # (1280, H) 1×1 conv on the last map, then upsampled ×2
    b1: np.ndarray
    w0: np.ndarray  # (112, H) 1×1 conv on the stride-16 map
    b0: np.ndarray
    w2: np.ndarray  # (3, 3, H, H) 3×3 conv
    b2: np.ndarray
    w3: np.ndarray  # (H, 5) 1×1 conv: objectness logit, dx, dy, w, h
    b3: np.ndarray
    threshold: float = 0.5  # a box counts from this objectness
    nms_iou: float = 0.3
    min_boxes: int = 2  # fewer confident boxes: the photo is one garment
    meta: dict | None = None

    def raw(self, maps: dict[str, np.ndarray]) -> np.ndarray:
        """The backbone's maps (runtime.SPATIAL, SPATIAL16) → (N, 12, 12, 5) outputs (the
        Keras head's maths)."""
        top = np.maximum(maps["spatial"].astype(np.float32, copy=False) @ self.w1 + self.b1, 0.0)
        top = top.repeat(2, axis=1).repeat(2, axis=2)
        mid = np.maximum(maps["spatial16"].astype(np.float32, copy=False) @ self.w0 + self.b0, 0.0)
        x = top + mid
        n, h, w, c = x.shape
        padded = np.zeros((n, h + 2, w + 2, c), np.float32)
        padded[:, 1:-1, 1:-1] = x
        y = np.zeros((n, h, w, self.w2.shape[-1]), np.float32) + self.b2
        for i in range(3):
            for j in range(3):
                y += padded[:, i : i + h, j : j + w] @ self.w2[i, j]
        return np.maximum(y, 0.0) @ self.w3 + self.b3

    def candidates(
        self, maps: dict[str, np.ndarray], threshold: float | None = None
    ) -> list[list[Box]]:
        """Every photo's boxes above `threshold` after non-maximum suppression."""
        t = self.threshold if threshold is None else threshold
        out = self.raw(maps)
        n, h, w, _ = out.shape
        score = _sigmoid(out[..., 0])
        result: list[list[Box]] = []
        for k in range(n):
            boxes = []
            for i, j in zip(*np.nonzero(score[k] >= t), strict=True):
                dx, dy, bw, bh = out[k, i, j, 1:5]
                cx, cy = (j + 0.5 + dx) / w, (i + 0.5 + dy) / h
                bw, bh = float(np.clip(bw, 0.02, 1.0)), float(np.clip(bh, 0.02, 1.0))
                boxes.append(
                    Box(
                        float(max(0.0, cx - bw / 2)),
                        float(max(0.0, cy - bh / 2)),
                        float(min(1.0, cx + bw / 2)),
                        float(min(1.0, cy + bh / 2)),
                        float(score[k, i, j]),
                    )
                )
            result.append(nms(boxes, self.nms_iou))
        return result

    def regions(self, maps: dict[str, np.ndarray]) -> list[list[Box]]:
        """Per photo: its garments' boxes when it shows several, else [] (one entry)."""
        return [b if len(b) >= self.min_boxes else [] for b in self.candidates(maps)]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        rule = {"threshold": self.threshold, "nms_iou": self.nms_iou, "min_boxes": self.min_boxes}
        np.savez_compressed(
            path,
            w1=self.w1.astype(np.float16),
            b1=self.b1,
            w0=self.w0.astype(np.float16),
            b0=self.b0,
            w2=self.w2.astype(np.float16),
            b2=self.b2,
            w3=self.w3,
            b3=self.b3,
            meta=np.array(json.dumps({**(self.meta or {}), **rule})),
        )
        return path


def load_region_head(model_dir: str | Path) -> RegionHead | None:
    """The head in `model_dir/regions.npz`, or None where the folder has none."""
    path = Path(model_dir) / REGIONS_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path) as d:
            meta = json.loads(str(d["meta"]))
            arrays = {
                k: d[k].astype(np.float32) for k in ("w1", "b1", "w0", "b0", "w2", "b2", "w3", "b3")
            }
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path} is not a usable region head: {exc}") from exc
    if arrays["w3"].shape[-1] != 5 or arrays["w2"].shape[:2] != (3, 3):
        raise ValueError(f"{path}: unexpected weight shapes {[a.shape for a in arrays.values()]}")
    rule = {k: meta.pop(k) for k in ("threshold", "nms_iou", "min_boxes") if k in meta}
    return RegionHead(**arrays, **rule, meta=meta)


# -- composites ------------------------------------------------------------------------------

LAYOUTS = ("side", "flat")
BACKGROUNDS = [(245, 245, 245), (236, 230, 220), (250, 250, 247), (225, 228, 232), (240, 236, 228)]


@dataclass
class Composite:
    image: Image.Image
    boxes: list[Box]  # one per garment
    sources: list[int]  # index of each garment's photo in the pool
    layout: str


def _open(path: Path, longest: int = 400) -> Image.Image:
    with Image.open(path) as img:
        img.draft("RGB", (longest, longest))
        img = img.convert("RGB")
    img.thumbnail((longest, longest))
    return img


def side_by_side(photos: Sequence[Image.Image], rng: random.Random) -> tuple[Image.Image, list]:
    """2–3 in a row, or 4 in a 2×2 grid, with a small random gap and margin."""
    n = len(photos)
    cols, rows = (2, 2) if n == 4 else (n, 1)
    cw, ch = 300, 400
    gap, margin = rng.randint(0, 16), rng.randint(0, 20)
    width, height = (
        margin * 2 + cols * cw + (cols - 1) * gap,
        margin * 2 + rows * ch + (rows - 1) * gap,
    )
    canvas = Image.new("RGB", (width, height), rng.choice(BACKGROUNDS))
    boxes = []
    for k, photo in enumerate(photos):
        r, c = divmod(k, cols)
        x, y = margin + c * (cw + gap), margin + r * (ch + gap)
        canvas.paste(photo.resize((cw, ch)), (x, y))
        boxes.append((x, y, x + cw, y + ch))
    return canvas, [Box(a / width, b / height, c / width, d / height) for a, b, c, d in boxes]


def flat_lay(photos: Sequence[Image.Image], rng: random.Random) -> tuple[Image.Image, list]:
    """Items at random scale and place on a plain background, barely overlapping."""
    size = 800
    canvas = Image.new("RGB", (size, size), rng.choice(BACKGROUNDS))
    placed: list[Box] = []
    n = len(photos)
    scale_range = {2: (0.38, 0.55), 3: (0.32, 0.46), 4: (0.3, 0.42)}[min(n, 4)]
    for photo in photos:
        for _attempt in range(60):
            s = rng.uniform(*scale_range)
            aspect = photo.width / photo.height * rng.uniform(0.85, 1.15)
            w, h = (s * size * min(aspect, 1.2), s * size / max(aspect, 0.8))
            x, y = rng.uniform(0, size - w), rng.uniform(0, size - h)
            box = Box(x / size, y / size, (x + w) / size, (y + h) / size)
            if all(iou(box, p) < 0.05 for p in placed):
                break
        canvas.paste(photo.resize((int(w), int(h))), (int(x), int(y)))
        placed.append(box)
    return canvas, placed


def make_composite(
    pool: Sequence[Path], n: int, layout: str, rng: random.Random, cache: dict | None = None
) -> Composite:
    picks = rng.sample(range(len(pool)), n)
    photos = []
    for i in picks:
        if cache is not None and i in cache:
            photos.append(cache[i])
            continue
        img = _open(pool[i])
        if cache is not None:
            cache[i] = img
        photos.append(img)
    build = side_by_side if layout == "side" else flat_lay
    image, boxes = build(photos, rng)
    return Composite(image, boxes, picks, layout)


def pixels_of(image: Image.Image, size: int) -> np.ndarray:
    """The model's input for an in-memory image: stretched like classifier.images.load_rgb."""
    return np.asarray(
        image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR), np.uint8
    )


# -- training --------------------------------------------------------------------------------


def targets(boxes_per_image: Sequence[Sequence[Box]], grid: int = GRID) -> tuple[np.ndarray, ...]:
    """Objectness (a Gaussian peak at each garment's centre cell), and per cell the box it
    should regress with its weight: cells within one cell of a centre learn that garment's box,
    so every confident cell points at the same box and suppression keeps one."""
    n = len(boxes_per_image)
    heat = np.zeros((n, grid, grid), np.float32)
    box = np.zeros((n, grid, grid, 4), np.float32)
    weight = np.zeros((n, grid, grid), np.float32)
    ys, xs = np.mgrid[0:grid, 0:grid] + 0.5
    for k, boxes in enumerate(boxes_per_image):
        for b in sorted(boxes, key=lambda b: (b.x1 - b.x0) * (b.y1 - b.y0), reverse=True):
            cx, cy = (b.x0 + b.x1) / 2 * grid, (b.y0 + b.y1) / 2 * grid
            # narrow peaks: a cell the box regression is not trained on must not look sure
            sigma = max(0.5, min(b.x1 - b.x0, b.y1 - b.y0) * grid / 12)
            g = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))
            peak = (np.abs(xs - cx) <= 0.5 + 1e-6) & (np.abs(ys - cy) <= 0.5 + 1e-6)
            heat[k] = np.maximum(heat[k], np.where(peak, 1.0, g))
            near = (np.abs(xs - cx) <= 1.5) & (np.abs(ys - cy) <= 1.5)
            box[k][near] = np.stack(
                [
                    cx - xs[near],
                    cy - ys[near],
                    np.full(near.sum(), b.x1 - b.x0),
                    np.full(near.sum(), b.y1 - b.y0),
                ],
                axis=1,
            )
            weight[k][near] = g[near]
    return heat, box, weight


def build_keras_head(channels: int, mid_channels: int, hidden: int = 64):  # noqa: ANN201
    import keras
    from keras import layers

    top = keras.Input((GRID // 2, GRID // 2, channels), name="spatial")
    mid = keras.Input((GRID, GRID, mid_channels), name="spatial16")
    a = layers.Conv2D(hidden, 1, activation="relu", name="reduce")(top)
    a = layers.UpSampling2D(2, interpolation="nearest")(a)
    b = layers.Conv2D(hidden, 1, activation="relu", name="reduce16")(mid)
    h = layers.Dropout(0.2)(layers.Add()([a, b]))
    h = layers.Conv2D(hidden, 3, padding="same", activation="relu", name="context")(h)
    out = layers.Conv2D(5, 1, name="out")(h)
    return keras.Model([top, mid], out, name="regions")


def fit_head(
    maps: dict[str, np.ndarray],
    boxes: Sequence[Sequence[Box]],
    *,
    epochs: int = 30,
    hidden: int = 64,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> RegionHead:
    """Train the head on cached feature maps; returns it in NumPy form."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    heat, box, weight = targets(boxes)
    y = np.concatenate([heat[..., None], box, weight[..., None]], axis=-1)

    def loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        h, b, w = y_true[..., 0], y_true[..., 1:5], y_true[..., 5]
        p = tf.sigmoid(y_pred[..., 0])
        # focal-style: easy cells count little; peaks (h == 1) are the positives
        pos = tf.cast(h >= 0.999, tf.float32)
        eps = 1e-6
        l_pos = -pos * tf.pow(1 - p, 2) * tf.math.log(p + eps)
        l_neg = -(1 - pos) * tf.pow(1 - h, 4) * tf.pow(p, 2) * tf.math.log(1 - p + eps)
        n_pos = tf.maximum(tf.reduce_sum(pos), 1.0)
        l_obj = (tf.reduce_sum(l_pos) + tf.reduce_sum(l_neg)) / n_pos
        l_box = tf.reduce_sum(w[..., None] * tf.abs(y_pred[..., 1:5] - b)) / tf.maximum(
            tf.reduce_sum(w), 1.0
        )
        return l_obj + 2.0 * l_box

    model = build_keras_head(maps["spatial"].shape[-1], maps["spatial16"].shape[-1], hidden)
    out_bias = model.get_layer("out")
    kernel, bias = out_bias.get_weights()
    bias[0] = -2.2  # start from "no garment here" (CenterNet's prior)
    out_bias.set_weights([kernel, bias])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=loss)
    order = np.random.default_rng(seed).permutation(len(y))

    class Log(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if epoch % 5 == 4 or epoch == epochs - 1:
                log(f"  epoch {epoch + 1}/{epochs}: loss {(logs or {}).get('loss', 0):.4f}")

    model.fit(
        [maps["spatial"][order].astype(np.float32), maps["spatial16"][order].astype(np.float32)],
        y[order],
        batch_size=64,
        epochs=epochs,
        verbose=0,
        callbacks=[Log()],
    )
    (w1, b1), (w0, b0), (w2, b2), (w3, b3) = (
        model.get_layer(n).get_weights() for n in ("reduce", "reduce16", "context", "out")
    )
    return RegionHead(w1[0, 0], b1, w0[0, 0], b0, w2, b2, w3[0, 0], b3)


# -- evaluation ------------------------------------------------------------------------------


def matched(truth: Sequence[Box], found: Sequence[Box], at: float = 0.5) -> int:
    """Garments found: greedy one-to-one matching by IoU, each counting at IoU ≥ `at`."""
    pairs = sorted(
        ((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)),
        reverse=True,
    )
    used_t: set[int] = set()
    used_f: set[int] = set()
    hits = 0
    for value, i, j in pairs:
        if value < at:
            break
        if i in used_t or j in used_f:
            continue
        used_t.add(i)
        used_f.add(j)
        hits += 1
    return hits


def composite_plan(counts: Sequence[int], per_case: int) -> Iterator[tuple[int, str]]:
    for n in counts:
        for layout in LAYOUTS:
            for _ in range(per_case):
                yield n, layout


# -- the training command --------------------------------------------------------------------


def multi_item_paths(folder: str | Path) -> list[Path]:
    """The dataset's photos flagged `multi-item` (several garments, no boxes)."""
    import csv

    folder = Path(folder)
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as f:
        return [folder / r["image"] for r in csv.DictReader(f) if r.get("flag") == "multi-item"]


def single_item_split(folder: str | Path, val_fraction: float) -> tuple[list[Path], list[Path]]:
    """(train, validation) photos of one garment, split exactly as the classifier's data."""
    from classifier import data

    flagged = set(multi_item_paths(folder))
    train, val = data.split(data.read_labels(folder), val_fraction)
    return (
        [s.path for s in train if s.path not in flagged],
        [s.path for s in val if s.path not in flagged],
    )


class FeatureMaps:
    """The committed model's last feature map for in-memory images, in batches (TFLite)."""

    def __init__(self, model) -> None:  # noqa: ANN001 - classifier.model.VitrinaModel
        from classifier.runtime import SPATIAL, SPATIAL16, make_runtime

        self.runtime = make_runtime(model, "auto")
        self.size = model.image_size
        self.keys = (SPATIAL, SPATIAL16)

    def __call__(
        self, images: Sequence[Image.Image | np.ndarray], batch: int = 32
    ) -> dict[str, np.ndarray]:
        out: dict[str, list[np.ndarray]] = {k: [] for k in self.keys}
        for i in range(0, len(images), batch):
            chunk = [
                im if isinstance(im, np.ndarray) else pixels_of(im, self.size)
                for im in images[i : i + batch]
            ]
            run = self.runtime.run(np.stack(chunk))
            for k in self.keys:
                out[k].append(run[k].astype(np.float16))
        return {k: np.concatenate(v) for k, v in out.items()}


def concat_maps(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _examples(
    pool: Sequence[Path],
    plan: Sequence[tuple[int, str]],
    singles: Sequence[Path],
    seed: int,
    maps: FeatureMaps,
    log: Callable[[str], None],
    what: str,
) -> tuple[dict[str, np.ndarray], list[list[Box]], list[Composite]]:
    """Feature maps and boxes of `plan`'s composites, then of `singles` (one full box each)."""
    rng = random.Random(seed)
    comps = [make_composite(pool, n, layout, rng) for n, layout in plan]
    log(f"{what}: {len(comps)} composites and {len(singles)} single photos")
    feats = [maps([c.image for c in comps[i : i + 256]]) for i in range(0, len(comps), 256)]
    from classifier.images import load_rgb

    single_px = [load_rgb(p, maps.size) for p in singles]
    feats.append(maps(single_px))
    boxes = [c.boxes for c in comps] + [[Box(0.0, 0.0, 1.0, 1.0)] for _ in singles]
    return concat_maps(feats), boxes, comps


def choose_threshold(
    head: RegionHead,
    maps: dict[str, np.ndarray],
    boxes: Sequence[Sequence[Box]],
    *,
    singles_target: float = 0.99,
) -> tuple[float, dict[str, float]]:
    """The objectness threshold with the best composite recall among those that keep at least
    `singles_target` of the single photos one entry (on a tuning set, never the validation)."""
    multi = [i for i, b in enumerate(boxes) if len(b) >= 2]
    single = [i for i, b in enumerate(boxes) if len(b) < 2]
    best: tuple[float, dict[str, float]] | None = None
    for t in np.arange(0.2, 0.91, 0.05):
        head.threshold = float(t)
        found = head.regions(maps)
        stay = np.mean([len(found[i]) == 0 for i in single]) if single else 1.0
        hits = sum(matched(boxes[i], found[i]) for i in multi)
        recall = hits / max(1, sum(len(boxes[i]) for i in multi))
        score = (stay >= singles_target, recall, stay)
        if best is None or score > (best[1]["ok"], best[1]["recall"], best[1]["stay"]):
            best = (float(t), {"ok": stay >= singles_target, "recall": recall, "stay": stay})
    assert best is not None
    head.threshold = best[0]
    return best


def _cached(
    folder: Path | None, key: str, make: Callable[[], tuple]
) -> tuple[dict[str, np.ndarray], list[list[Box]]]:
    """Feature maps and boxes from `folder/key.npz`, or made now and kept there."""
    path = None if folder is None else Path(folder) / f"{key}.npz"
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as d:
            flat = d["boxes"]
            counts = d["counts"]
            maps = {k: d[k] for k in ("spatial", "spatial16")}
        boxes, at = [], 0
        for n in counts:
            boxes.append([Box(*map(float, flat[at + i])) for i in range(n)])
            at += n
        return maps, boxes
    maps, boxes = make()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        flat = np.array([[b.x0, b.y0, b.x1, b.y1] for bs in boxes for b in bs], np.float32)
        np.savez(path, boxes=flat, counts=np.array([len(b) for b in boxes]), **maps)
    return maps, boxes


def train_regions(
    data_dir: str | Path,
    model_dir: str | Path,
    *,
    per_case: int = 200,
    singles: int = 1000,
    epochs: int = 40,
    seed: int = 0,
    log: Callable[[str], None] = print,
    cache: Path | None = None,
) -> tuple[RegionHead, dict]:
    """Train the region head for the model in `model_dir` and save it there as regions.npz.

    Training composites and single photos come from the model's TRAIN split; the threshold is
    chosen on other composites of the train split; the validation split is never seen.
    `cache`: a folder keeping the feature maps between runs with the same options."""
    import time

    from classifier.model import load_model

    started = time.perf_counter()
    model = load_model(model_dir)
    val_fraction = float(model.metadata.get("data", {}).get("val_fraction", 0.2))
    train, _val = single_item_split(data_dir, val_fraction)
    rng = random.Random(seed)
    rng.shuffle(train)
    cut = int(len(train) * 0.85)
    fit_pool, tune_pool = train[:cut], train[cut:]
    maps = FeatureMaps(model)
    plan = list(composite_plan((2, 3, 4), per_case))
    fit_singles = rng.sample(fit_pool, min(singles, len(fit_pool)))
    x, boxes = _cached(
        cache, f"fit-{per_case}-{singles}-{seed}",
        lambda: _examples(fit_pool, plan, fit_singles, seed, maps, log, "fit")[:2],
    )  # fmt: skip
    log(f"feature maps ready in {time.perf_counter() - started:.0f} s; training the head")
    head = fit_head(x, boxes, epochs=epochs, seed=seed, log=log)
    tune_plan = list(composite_plan((2, 3, 4), max(10, per_case // 5)))
    tx, tboxes = _cached(
        cache, f"tune-{per_case}-{seed}",
        lambda: _examples(tune_pool, tune_plan, tune_pool, seed + 1, maps, log, "tune")[:2],
    )  # fmt: skip
    threshold, tuned = choose_threshold(head, tx, tboxes)
    head.meta = {
        "model_version": model.version,
        "trained_on": f"{len(plan)} composites + {len(boxes) - len(plan)} single photos "
        "of the train split",
        "tuning": {k: round(float(v), 4) for k, v in tuned.items()},
        "seconds": round(time.perf_counter() - started, 1),
        "command": f"vitrina train-regions --data {data_dir} --model {model_dir} "
        f"--per-case {per_case} --singles {singles} --epochs {epochs} --seed {seed}",
    }
    path = head.save(Path(model_dir) / REGIONS_FILE)
    log(
        f"threshold {threshold:.2f}: tuning recall {tuned['recall']:.1%}, singles kept whole "
        f"{tuned['stay']:.1%}; saved {path} ({path.stat().st_size / 1024:.0f} KiB)"
    )
    return head, head.meta
