"""Build `demo/photos/`: real photos for the demo, from the clothing dataset's validation split.

    PYTHONPATH=. python -m demo.make_photos --data PATH/TO/datasets/clothing [--count 150]

Only photos the committed default model never trained on (the validation side of
`classifier.data.split`, with that model's `val_fraction`), so the demo's labels are honest.
The choice is seeded and covers every category and colour, plus a few photos whose labeller
named no category (`Not sure` / `Other`). Each is downsized to at most 320 px on its long side;
the dataset's CC0 LICENSE goes beside them. This reads the dataset at build time only: the demo
serves the committed output and never needs the dataset.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
from collections import Counter
from pathlib import Path

from PIL import Image, ImageOps

from catalog.taxonomy import CATEGORIES, COLOURS
from classifier.data import UNSURE_CATEGORIES, Sample, read_labels, split

HERE = Path(__file__).resolve().parent
OUT = HERE / "photos"
DEFAULT_MODEL = HERE.parent / "classifier" / "models" / "vitrina-lite0-192"
LONG_SIDE = 320
BUDGET_BYTES = 4 * 1024 * 1024
SEED = "vitrina-demo-photos-v1"


def validation_samples(data: Path, model: Path) -> list[Sample]:
    """The model's own validation photos (as `classifier.evaluate.select_samples` picks them),
    without loading TensorFlow: the split needs only the metadata's val_fraction."""
    meta = json.loads((model / "metadata.json").read_text(encoding="utf-8"))
    val_fraction = float(meta.get("data", {}).get("val_fraction", 0.2))
    _, val = split(read_labels(data), val_fraction)
    # Several garments in one photo would make any caption or label half wrong.
    flagged = _flagged(data)
    return [s for s in val if s.key not in flagged]


def _flagged(data: Path) -> set[str]:
    with (data / "labels.csv").open(newline="", encoding="utf-8") as fh:
        return {r["image"] for r in csv.DictReader(fh) if (r.get("flag") or "").strip()}


def choose(
    samples: list[Sample],
    count: int,
    *,
    per_category: int = 7,
    per_colour: int = 6,
    unsure: int = 6,
) -> list[Sample]:
    """A seeded choice of `count` photos: at least `per_category` of every category and
    `per_colour` of every colour (fewer only when the split has fewer), `unsure` without a
    category, the rest at random."""
    rng = random.Random(SEED)
    pool = sorted(samples, key=lambda s: s.key)
    rng.shuffle(pool)
    chosen: list[Sample] = []
    taken: set[str] = set()

    def take(s: Sample) -> None:
        chosen.append(s)
        taken.add(s.key)

    for cat in CATEGORIES:
        for s in [s for s in pool if s.category == cat][:per_category]:
            take(s)
    have = Counter(s.colour for s in chosen)
    for col in COLOURS:
        for s in [s for s in pool if s.colour == col and s.key not in taken]:
            if have[col] >= per_colour:
                break
            take(s)
            have[col] += 1
    n_unsure = 0
    for s in pool:
        if n_unsure >= unsure:
            break
        if s.category in UNSURE_CATEGORIES and s.key not in taken:
            take(s)
            n_unsure += 1
    for s in pool:
        if len(chosen) >= count:
            break
        if s.key not in taken and s.category in CATEGORIES:
            take(s)
    return chosen[:count]


def downsize(src: Path, dst: Path) -> tuple[int, int]:
    with Image.open(src) as im:
        img = ImageOps.exif_transpose(im).convert("RGB")
    img.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    # No EXIF kept: the demo photos carry pixels only.
    img.save(dst, "JPEG", quality=84, optimize=True, progressive=True)
    return img.size


def build(data: Path, model: Path, out: Path, count: int) -> dict[str, int]:
    if not (data / "labels.csv").is_file():
        raise SystemExit(f"{data}: no labels.csv (the clothing dataset, see its README)")
    chosen = choose(validation_samples(data, model), count)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rows = []
    for i, s in enumerate(sorted(chosen, key=lambda s: s.key)):
        name = f"{i:03d}-{Path(s.key).stem[:8]}.jpg"
        downsize(s.path, out / name)
        rows.append([name, s.category, s.colour, s.colour_alt, s.key])
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "category", "colour", "colour_alt", "source"])
        writer.writerows(rows)
    shutil.copyfile(data / "LICENSE", out / "LICENSE")
    (out / "README.md").write_text(
        f"# Demo photos\n\n{len(rows)} photos of the clothing dataset by Alexey Grigorev and "
        "contributors (CC0 1.0, see LICENSE), from the validation split of the default model "
        "`classifier/models/vitrina-lite0-192` (it never trained on them), downsized to "
        f"{LONG_SIDE} px on the long side. Colour labels were added for Vitrina.\n\n"
        "`labels.csv`: image, category, colour, colour_alt (the labeller's runner-up) and "
        "source (the photo's path in the dataset).\n\n"
        "Made by `python -m demo.make_photos`; the demo serves them (`vitrina demo`).\n",
        encoding="utf-8",
    )
    total = sum(p.stat().st_size for p in out.iterdir())
    if total > BUDGET_BYTES:
        raise SystemExit(f"{out}: {total} bytes, over the {BUDGET_BYTES} budget")
    return {"photos": len(rows), "bytes": total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="the clothing dataset folder")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--count", type=int, default=150)
    args = ap.parse_args()
    print(build(args.data, args.model, args.out, args.count))


if __name__ == "__main__":
    main()
