"""Benchmark the garment-region head (classifier/regions.py) on photos it never saw.

    .venv/bin/python benchmarks/regions_bench.py [--per-case 50] [--photos 480] [--model DIR]

- Held-out composites built from the VALIDATION split only (2, 3 and 4 garments, side by side
  and flat-lay, seeded): garments found at IoU ≥ 0.5 (one-to-one matching; a photo left whole
  finds none), photos split into the right number of entries, and the category of each found
  region's crop (same model) vs the category the model gives the garment's own photo (the
  baseline: the crop should be labelled as well as the photo it came from).
- The validation split's single-garment photos: the share that stays one entry.
- The dataset's `flag = multi-item` photos (no boxes given): how many entries each gives.
- Classify throughput over the validation photos, through Predictor.predict_paths: without
  the region head (baseline) and with it, same runtime, same run.

Prints the CPU model and the load average (the figures move with a loaded machine).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "clothing"
sys.path.insert(0, str(REPO))
from benchmarks.machine import machine  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-case", type=int, default=50, help="composites per (n, layout)")
    parser.add_argument("--photos", type=int, default=480, help="photos for the throughput")
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()

    import numpy as np

    from classifier import data
    from classifier.images import load_rgb
    from classifier.inference import Predictor
    from classifier.model import default_model_dir, load_model
    from classifier.regions import (
        LAYOUTS,
        FeatureMaps,
        composite_plan,
        load_region_head,
        make_composite,
        matched,
        multi_item_paths,
        pixels_of,
        single_item_split,
    )
    from classifier.runtime import configure_tf_threads

    configure_tf_threads()
    model_dir = args.model or default_model_dir()
    vm = load_model(model_dir)
    head = load_region_head(model_dir)
    if head is None:
        print(f"{model_dir} has no regions.npz: run `vitrina train-regions` first")
        return 2
    val_fraction = float(vm.metadata.get("data", {}).get("val_fraction", 0.2))
    _train, val = single_item_split(DATASET, val_fraction)
    category_of = {s.path: s.category for s in data.read_labels(DATASET)}
    maps = FeatureMaps(vm)
    predictor = Predictor(vm, regions=False)
    labels = vm.labels["category"]
    size = vm.image_size
    print(f"model {vm.version}, region head threshold {head.threshold:.2f}; {machine()}")

    # -- held-out composites ------------------------------------------------------------------
    rng = random.Random(args.seed)
    plan = list(composite_plan((2, 3, 4), args.per_case))
    started = time.perf_counter()
    comps = [make_composite(val, n, layout, rng) for n, layout in plan]
    found = head.regions(maps([c.image for c in comps]))
    rows = []
    crop_ok = crop_n = photo_ok = 0
    own = {}  # the model's category for each source photo, alone
    for (n, layout), group in _groups(plan, comps, found):
        truth = sum(n for _ in group)
        hits = sum(matched(c.boxes, f) for c, f in group)
        exact = sum(len(f) == n for _c, f in group)
        rows.append((f"{n} items, {'side by side' if layout == 'side' else 'flat-lay'}",
                     len(group), hits / truth, exact / len(group)))  # fmt: skip
    for c, f in zip(comps, found, strict=True):
        if not f:
            continue
        crops, sources = [], []
        for box in f:
            best = max(range(len(c.boxes)), key=lambda k: _iou(c.boxes[k], box))
            if _iou(c.boxes[best], box) < 0.5:
                continue
            w, h = c.image.size
            crops.append(pixels_of(c.image.crop(box.pixels(w, h)), size))
            sources.append(val[c.sources[best]])
        if not crops:
            continue
        probs = predictor.predict_arrays(np.stack(crops))["category"]
        for src, p in zip(sources, probs, strict=True):
            truth_label = category_of.get(src)
            if truth_label not in labels:
                continue
            if src not in own:
                own[src] = labels[int(predictor.predict_arrays(load_rgb(src, size)[None])[
                    "category"][0].argmax())]  # fmt: skip
            crop_n += 1
            crop_ok += labels[int(p.argmax())] == truth_label
            photo_ok += own[src] == truth_label
    all_truth = sum(len(c.boxes) for c in comps)
    all_hits = sum(matched(c.boxes, f) for c, f in zip(comps, found, strict=True))
    comp_s = time.perf_counter() - started

    # -- single photos ----------------------------------------------------------------------
    single = head.regions(maps([load_rgb(p, size) for p in val]))
    stays = sum(not f for f in single) / len(single)
    multi = multi_item_paths(DATASET)
    multi_found = head.regions(maps([load_rgb(p, size) for p in multi])) if multi else []

    # -- throughput -----------------------------------------------------------------------------
    files = sorted(val)[: args.photos]
    # Alternating rounds, median of each: one pass each in a row moved by ±10% between runs.
    predictors = {
        name: Predictor(vm, regions=with_regions)
        for name, with_regions in (("without regions (baseline)", False), ("with regions", True))
    }
    for p in predictors.values():
        list(p.predict_paths(files[:64]))  # plan once
    rates: dict[str, list[float]] = {name: [] for name in predictors}
    split: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, p in predictors.items():
            t0 = time.perf_counter()
            out = list(p.predict_paths(files))
            rates[name].append(len(files) / (time.perf_counter() - t0))
            split[name] = sum(bool(r.regions) for r in out)
    speed = {name: (statistics.median(rates[name]), split[name]) for name in predictors}

    print()
    print(f"Held-out composites from the validation split ({len(comps)}, {comp_s:.0f} s)")
    print(f"{'case':<26} {'photos':>6} {'found@IoU0.5':>13} {'right count':>12}")
    for name, n, recall, exact in rows:
        print(f"{name:<26} {n:>6} {recall:>12.1%} {exact:>12.1%}")
    right = sum(len(f) == len(c.boxes) for c, f in zip(comps, found, strict=True)) / len(comps)
    print(f"{'all':<26} {len(comps):>6} {all_hits / all_truth:>12.1%} {right:>12.1%}")
    if crop_n:
        print(
            f"category of found regions' crops: {crop_ok / crop_n:.1%} right vs "
            f"{photo_ok / crop_n:.1%} for the same garments' own photos "
            f"(ratio {crop_ok / max(1, photo_ok):.2f}, {crop_n} garments)"
        )
    print()
    print(
        f"Single-garment validation photos staying one entry: {stays:.2%} of {len(single)}"
        f" ({sum(bool(f) for f in single)} split)"
    )
    print(f"Dataset's multi-item photos (flag = multi-item, no boxes): {len(multi)}")
    for path, f in zip(multi, multi_found, strict=True):
        print(
            f"  {path.name}: {len(f) or 1} entr{'ies' if len(f) > 1 else 'y'}"
            + (f" (boxes {', '.join(str(b.as_list()) for b in f)})" if f else "")
        )
    print()
    base = speed["without regions (baseline)"][0]
    print(f"{'classify (Predictor.predict_paths)':<36} {'photos/s':>9} {'ratio':>7} {'split':>6}")
    for name, (rate, split) in speed.items():
        print(f"{name:<36} {rate:>9.1f} {rate / base:>7.2f} {split:>6}")
    print(f"{len(files)} validation photos; layouts {', '.join(LAYOUTS)}; {machine()}")
    return 0


def _iou(a, b) -> float:  # noqa: ANN001
    from classifier.regions import iou

    return iou(a, b)


def _groups(plan, comps, found):  # noqa: ANN001, ANN202
    groups: dict = {}
    for case, c, f in zip(plan, comps, found, strict=True):
        groups.setdefault(case, []).append((c, f))
    return groups.items()


if __name__ == "__main__":
    raise SystemExit(main())
