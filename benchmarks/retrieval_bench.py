"""Benchmark "more like this": how often a photo's nearest neighbours are the same kind of garment.

    .venv/bin/python benchmarks/retrieval_bench.py [--model DIR]
    .venv/bin/python benchmarks/retrieval_bench.py --latency 100000

On the model's own validation split of ../shared/datasets/clothing (classifier.evaluate's
`select_samples`), each validation photo queries the other validation photos by cosine:
- precision@10, same category: the share of its 10 nearest whose category is the query's;
- precision@10, same category + colour (a colour counts as right when it is either photo's
  `colour_alt` too);
- near-duplicate recall@1: a resized (50%), a cropped (centre 85%) and a re-encoded (JPEG q=40)
  copy of every validation photo is added to the pool; the copy's nearest neighbour must be its
  original.
Figures come for the pooled features alone (L2-normalised, 1280-d), for the baseline (migration
v001's embedding: 226 random directions + label probabilities, 256-d), and for the stored
embedding (classifier.embedding, 128-d) with random directions and with the learned projection
of embedding.npz (`vitrina train-embedding`). The model's outputs are cached under var/retrieval/.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "clothing"
CACHE = REPO / "var" / "retrieval"
sys.path.insert(0, str(REPO))
from benchmarks.machine import machine  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

COPIES = ("resized", "cropped", "reencoded")
KEYS = ("feat", "category", "colour")


def legacy_embed(o: dict[str, np.ndarray]) -> np.ndarray:
    """The embedding of migration v001 (before embedding.npz): the pooled features through 226
    seeded random directions, then the square roots of both heads' probabilities, 256-d."""
    from classifier.embedding import normalised

    dims = 256 - o["category"].shape[1] - o["colour"].shape[1]
    gauss = np.random.default_rng(0).standard_normal((o["feat"].shape[1], dims))
    q = np.linalg.qr(gauss)[0].T.astype(np.float32)
    parts = [normalised(o["feat"] @ q.T), np.sqrt(o["category"]), np.sqrt(o["colour"])]
    return normalised(np.concatenate(parts, axis=1))


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


def outputs(model, paths: list[Path], name: str, keys=KEYS) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """The L2-normalised pooled features ("feat") and the model's category and colour
    probabilities of `paths`, cached under var/ by model version and the list of paths."""
    import tensorflow as tf

    from classifier.embedding import normalised
    from classifier.images import load_rgb

    digest = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:12]
    cache = CACHE / f"{model.version}-{name}-{digest}.npz"
    if cache.is_file():
        with np.load(cache) as data:
            if all(k in data for k in keys):
                return {k: data[k] for k in keys}
    run = tf.function(lambda x: model.with_features(x, training=False))
    started = time.perf_counter()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in KEYS}
    for i in range(0, len(paths), 64):
        pixels = np.stack([load_rgb(p, model.image_size) for p in paths[i : i + 64]])
        out = run(tf.constant(pixels))
        for k, src in zip(KEYS, ("features", "category", "colour"), strict=True):
            parts[k].append(out[src].numpy())
    result = {k: np.concatenate(v).astype(np.float32) for k, v in parts.items()}
    result["feat"] = normalised(result["feat"])
    print(f"  ran the model on {len(paths)} {name} photos in {time.perf_counter() - started:.0f} s")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **result)
    return result


def precision_at(emb: np.ndarray, same: np.ndarray, k: int = 10) -> float:
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :k]
    return float(np.mean(np.take_along_axis(same, top, axis=1)))


def dup_recall(originals: np.ndarray, copy: np.ndarray) -> float:
    """Each copy queries the originals: its nearest must be its own original."""
    return float(np.mean(np.argmax(copy @ originals.T, axis=1) == np.arange(len(originals))))


def figures(val, embed, val_out, copies) -> dict[str, float]:  # type: ignore[no-untyped-def]
    cats = np.array([s.category for s in val])
    cols = np.array([s.colour for s in val])
    alts = np.array([s.colour_alt or "-" for s in val])
    same_cat = cats[:, None] == cats[None, :]
    colour_ok = (
        (cols[:, None] == cols[None, :])
        | (cols[:, None] == alts[None, :])
        | (alts[:, None] == cols[None, :])
    )
    emb = embed(val_out)
    out = {
        "dims": emb.shape[1],
        "p10_category": precision_at(emb, same_cat),
        "p10_category_colour": precision_at(emb, same_cat & colour_ok),
    }
    for kind, c in copies.items():
        out[f"dup_recall1_{kind}"] = dup_recall(emb, embed(c))
    return out


def latency(photos: int, queries: int = 200) -> None:
    """`vectors.similar` and GET /api/v1/items/{id}/similar on a SQLite catalogue of `photos`
    rows (benchmarks.web_bench.build_sqlite), each photo with a vector near its category's."""
    import random
    import tempfile

    from fastapi.testclient import TestClient
    from sqlalchemy import text
    from sqlmodel import Session

    from benchmarks.web_bench import build_sqlite
    from catalog import vectors
    from catalog.config import load_settings
    from catalog.db import make_engine
    from catalog.queries import Filters
    from catalog.taxonomy import CATEGORIES
    from web.app import create_app

    with tempfile.TemporaryDirectory(dir=REPO / "var") as tmp:
        db = Path(tmp) / "catalogue.db"
        started = time.perf_counter()
        build_sqlite(db, photos)
        engine = make_engine(f"sqlite:///{db}")
        rng = np.random.default_rng(3)
        centre = {c: rng.standard_normal(vectors.EMBEDDING_DIM) for c in CATEGORIES}
        with Session(engine) as s:
            rows = s.execute(text("SELECT id, category FROM photos")).all()
            for i in range(0, len(rows), 5000):
                for pid, cat in rows[i : i + 5000]:
                    v = centre[cat] + 1.5 * rng.standard_normal(vectors.EMBEDDING_DIM)
                    vectors.store(s, pid, v / np.linalg.norm(v), "bench")
                s.commit()
            public = [
                r[0]
                for r in s.execute(
                    text(
                        "SELECT id FROM photos WHERE duplicate_of_id IS NULL AND status IN "
                        "('auto_accepted', 'partly_accepted', 'approved', 'corrected')"
                    )
                )
            ]
        print(f"built {photos} photos with vectors in {time.perf_counter() - started:.0f} s")
        picks = random.Random(5).sample(public, queries)
        for name, kwargs in (
            ("no filter", {}),
            ("same category", {"same": True}),
            ("other shops only", {"other_shops": True}),
        ):
            times = []
            with Session(engine) as s:
                for pid in picks:
                    t = time.perf_counter()
                    f = None
                    if kwargs.get("same"):
                        cat = s.execute(
                            text("SELECT category FROM photos WHERE id = :i"), {"i": pid}
                        ).scalar()
                        f = Filters(category=(cat,))
                    found = vectors.similar(
                        s, pid, f, 12, other_shops=kwargs.get("other_shops", False)
                    )
                    times.append(time.perf_counter() - t)
                    assert found is not None
            ms = np.array(times) * 1000
            print(
                f"  vectors.similar, {name}: p50 {np.percentile(ms, 50):.0f} ms, "
                f"p95 {np.percentile(ms, 95):.0f} ms ({queries} photos)"
            )
        config = Path(tmp) / "config.toml"
        config.write_text(f'[database]\nurl = "sqlite:///{db}"\n[storage]\nmedia_dir = "{tmp}"\n')
        with TestClient(create_app(load_settings(config, environ={}))) as client:
            times = []
            for pid in picks[:100]:
                t = time.perf_counter()
                assert client.get(f"/api/v1/items/{pid}/similar").status_code == 200
                times.append(time.perf_counter() - t)
            ms = np.array(times) * 1000
            print(
                f"  GET /api/v1/items/{{id}}/similar (in-process client): "
                f"p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms"
            )
        engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument(
        "--latency",
        type=int,
        default=0,
        metavar="PHOTOS",
        help="only time /similar on a SQLite catalogue of PHOTOS rows (e.g. 100000)",
    )
    args = ap.parse_args()
    if args.latency:
        print(machine())
        latency(args.latency)
        print(machine())
        return 0
    if not (DATASET / "labels.csv").is_file():
        raise SystemExit(f"{DATASET} is missing (the shared clothing dataset)")
    from classifier.evaluate import select_samples
    from classifier.model import default_model_dir, load_model

    print(machine())
    model = load_model(args.model or default_model_dir())
    val = select_samples(model, DATASET, "validation")
    print(f"model {model.version}; validation split: {len(val)} photos")
    val_out = outputs(model, [s.path for s in val], "validation")
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
        copies[kind] = outputs(model, paths, kind)
    from classifier.embedding import random_projection

    def pooled(o: dict[str, np.ndarray]) -> np.ndarray:
        return o["feat"]

    def with_projection(proj):  # type: ignore[no-untyped-def]
        def embed(o: dict[str, np.ndarray]) -> np.ndarray:
            model.projection = proj
            return model.embed(o["feat"], o["category"], o["colour"])

        return embed

    learned = model.projection
    variants = [
        ("pooled features only", pooled),
        ("baseline: v001 embedding (random 226 + probabilities)", legacy_embed),
        (
            "embedding, random projection, no embedding.npz",
            with_projection(random_projection(1280)),
        ),
    ]
    if learned is not None:
        variants.append(
            (f"embedding, learned (embedding.npz +{learned.tag})", with_projection(learned))
        )
    rows = []
    for name, embed in variants:
        f = figures(val, embed, val_out, copies)
        rows.append((name, f))
    base = rows[1][1]
    print(f"\n{'variant':<58} {'dims':>5} {'p@10 cat':>9} {'p@10 cat+col':>13} {'dup@1 min':>10}")
    for name, f in rows:
        dup = min(f[f"dup_recall1_{k}"] for k in COPIES)
        print(
            f"{name:<58} {f['dims']:>5} {f['p10_category']:>9.1%} {f['p10_category_colour']:>13.1%}"
            f" {dup:>10.1%}"
        )
    for name, f in rows[2:]:
        print(
            f"ratio vs baseline, {name}: p@10 category "
            f"{f['p10_category'] / base['p10_category']:.3f}x, category + colour "
            f"{f['p10_category_colour'] / base['p10_category_colour']:.3f}x"
        )
    print(machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
