"""A labelled dataset of the emulator's synthetic garments, and a small model trained on it.

The committed model was trained on real photos and is unsure of these drawings (most would go
to review, and its guesses are often wrong), so the demo labels synthetic photos with a model
trained on the same renderer: a published catalogue with right labels, and a review queue.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from catalog.taxonomy import CATEGORIES, COLOURS


def write_dataset(folder: Path, per_category: int = 4, size: tuple[int, int] = (160, 200)) -> int:
    """labels.csv + JPEGs of synthetic garments, every category and colour represented."""
    from crawler.emulator.synth import garment_jpeg

    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "category", "colour"])
        for i in range(per_category * len(CATEGORIES)):
            cat, col = CATEGORIES[i % len(CATEGORIES)], COLOURS[(i * 7) % len(COLOURS)]
            (folder / f"{i}.jpg").write_bytes(garment_jpeg(cat, col, 10_000 + i, size))
            writer.writerow([f"{i}.jpg", cat, col])
            n += 1
    return n


def train_tiny_model(
    out: Path,
    data: Path,
    *,
    epochs: int = 2,
    pretrained: bool = False,
    image_size: int = 96,
    log: Path | None = None,
    timeout: float = 900,
) -> Path:
    """`vitrina train` on `data`; returns the model folder.

    pretrained=False: a from-scratch network at 64 px (seconds; labels are mostly unsure, fine
    for tests). pretrained=True: the ported ImageNet EfficientNet-Lite0, heads only; at 128 px
    on 40 garments per category it takes about a minute on a CPU and labels the emulator's
    garments well (about 88 % category, 96 % colour top-1; ~80 % auto-accepted).
    """
    argv = [sys.executable, "-m", "vitrina_cli.main", "train", "--data", str(data)]
    argv += ["--out", str(out), "--head-epochs", str(epochs), "--fine-tune-epochs", "0"]
    argv += ["--full-fine-tune-epochs", "0", "--no-compare"]
    if pretrained:
        argv += ["--backbone", "efficientnet_lite0", "--image-size", str(image_size)]
    else:
        argv += ["--backbone", "scratch", "--from-scratch", "--image-size", "64"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0 or not (out / "model.keras").is_file():
        raise RuntimeError(f"training the demo model failed: {(done.stderr or done.stdout)[-800:]}")
    return out
