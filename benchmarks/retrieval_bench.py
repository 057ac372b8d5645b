"""Benchmark "more like this": how often a photo's nearest neighbours are the same kind of garment.

    .venv/bin/python benchmarks/retrieval_bench.py [--model DIR] [--fit-projection DIMS]

On the model's own validation split of ../shared/datasets/clothing (classifier.evaluate's
`select_samples`), each validation photo queries the other validation photos by cosine:
- precision@10, same category: the share of its 10 nearest whose category is the query's;
- precision@10, same category + colour (a colour counts as right when it is either photo's
  `colour_alt` too);
- near-duplicate recall@1: a resized (50%), a cropped (centre 85%) and a re-encoded (JPEG q=40)
  copy of every validation photo is added to the pool; the copy's nearest neighbour must be its
  original.
Figures come for the raw pooled features (L2-normalised) and for the model's projection. The
pooled features of every photo (training split too, for --fit-projection) are cached under var/.

--fit-projection DIMS fits a PCA of the training split's features and saves it as the model's
embedding.npz (classifier.model.EMBEDDING_FILE).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "clothing"
CACHE = REPO / "var" / "retrieval"
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

COPIES = ("resized", "cropped", "reencoded")


def machine() -> str:
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        name = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines()
                     if ln.startswith("Model name")), "?")
    except OSError:
        name = "?"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"CPU: {name}, {os.cpu_count()} logical cores; load average {load}"


def make_copy(src: Path, kind: str) -> bytes:
    from PIL import Image, ImageOps

    with Image.open(src) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        if kind == "resized":
            im = im.resize((max(1, im.width // 2), max(1, im.height // 2)), Image.BILINEAR)
        elif kind == "cropped":
            dx, dy = int(im.width * 0.075), int(im.height * 0.075)
            im = im.crop((dx, dy, im.width - dx, im.height - dy))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=40 if kind == "reencoded" else 90)
        return buf.getvalue()


def raw_features(model, paths: list[Path], name: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """L2-normalised pooled features of `paths` (cached by model version and the paths)."""
    import tensorflow as tf

    from classifier.images import load_rgb
    from classifier.model import normalised

    digest = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:12]
    cache = CACHE / f"{model.version}-{name}-{digest}.npy"
    if cache.is_file():
        return np.load(cache)
    run = tf.function(lambda x: model.with_features(x, training=False)["features"])
    started = time.perf_counter()
    parts = []
    for i in range(0, len(paths), 64):
        pixels = np.stack([load_rgb(p, model.image_size) for p in paths[i : i + 64]])
        parts.append(run(tf.constant(pixels)).numpy())
    out = normalised(np.concatenate(parts)).astype(np.float32)
    print(f"  embedded {len(paths)} {name} photos in {time.perf_counter() - started:.0f} s")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cache, out)
    return out


def precision_at(emb: np.ndarray, same: np.ndarray, k: int = 10) -> float:
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :k]
    return float(np.mean(np.take_along_axis(same, top, axis=1)))


def dup_recall(originals: np.ndarray, copies: dict[str, np.ndarray]) -> dict[str, float]:
    """Each copy queries the originals plus every other copy; its nearest must be its original."""
    n = len(originals)
    pool = np.concatenate([originals, *copies.values()])
    out = {}
    for j, (kind, emb) in enumerate(copies.items()):
        sims = emb @ pool.T
        own = n * (j + 1) + np.arange(n)
        sims[np.arange(n), own] = -np.inf  # not itself
        out[kind] = float(np.mean(np.argmax(sims, axis=1) == np.arange(n)))
    return out


def figures(model, val, feats, copies) -> dict[str, float]:  # type: ignore[no-untyped-def]
    cats = np.array([s.category for s in val])
    cols = np.array([s.colour for s in val])
    alts = np.array([s.colour_alt or "-" for s in val])
    same_cat = cats[:, None] == cats[None, :]
    colour_ok = (
        (cols[:, None] == cols[None, :])
        | (cols[:, None] == alts[None, :])
        | (alts[:, None] == cols[None, :])
    )
    emb = model.embed(feats)
    out = {
        "dims": emb.shape[1],
        "p10_category": precision_at(emb, same_cat),
        "p10_category_colour": precision_at(emb, same_cat & colour_ok),
    }
    for kind, r in dup_recall(emb, {k: model.embed(v) for k, v in copies.items()}).items():
        out[f"dup_recall1_{kind}"] = r
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--fit-projection", type=int, default=0, metavar="DIMS")
    args = ap.parse_args()
    if not (DATASET / "labels.csv").is_file():
        raise SystemExit(f"{DATASET} is missing (the shared clothing dataset)")
    from classifier.evaluate import select_samples
    from classifier.model import default_model_dir, load_model, save_projection

    print(machine())
    model = load_model(args.model or default_model_dir())
    val = select_samples(model, DATASET, "validation")
    print(f"model {model.version}; validation split: {len(val)} photos")
    feats = raw_features(model, [s.path for s in val], "validation")
    copy_dir = CACHE / "copies"
    copies = {}
    for kind in COPIES:
        paths = []
        for s in val:
            p = copy_dir / kind / f"{Path(s.path).stem}.jpg"
            if not p.is_file():
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(make_copy(Path(s.path), kind))
            paths.append(p)
        copies[kind] = raw_features(model, paths, kind)
    if args.fit_projection:
        train = select_samples(model, DATASET, "training")
        tf_ = raw_features(model, [s.path for s in train], "training")
        mean = tf_.mean(0)
        _u, _s, vt = np.linalg.svd(tf_ - mean, full_matrices=False)
        path = save_projection(model.path, mean, vt[: args.fit_projection])
        print(f"saved a PCA of {len(train)} training photos to {args.fit_projection} dims: {path}")
        model = load_model(model.path)
    from classifier.model import default_projection

    projection = model.projection
    dim = feats.shape[1]
    rows = []
    for name, proj in (
        (f"raw features ({dim}-d)", (np.zeros(dim, np.float32), np.eye(dim, dtype=np.float32))),
        ("random projection", default_projection(dim, 256)),
        ("model projection (embedding.npz)", projection),
    ):
        if proj is not None:
            model.projection = proj
            rows.append((name, figures(model, val, feats, copies)))
    for name, f in rows:
        print(
            f"{name} ({f['dims']}-d): precision@10 same category {f['p10_category']:.1%}, "
            f"same category + colour {f['p10_category_colour']:.1%}; near-duplicate recall@1 "
            + ", ".join(f"{k} {f[f'dup_recall1_{k}']:.1%}" for k in COPIES)
        )
    print(machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
