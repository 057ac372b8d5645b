"""Benchmark the labelling decision: photo only (today), words only, photo + words (fusion).

    PYTHONPATH=. .venv/bin/python benchmarks/labelling_bench.py [--model DIR]

One table, all rows measured in the same run:
- photo only, today's rule (a photo is published only when both heads pass their threshold);
- photo only, per label (each head published on its own threshold);
- words only: the text extractor's label on product-names titles held out from the fit;
- photo + words: the validation photos paired with real titles of the same product kind (30% no
  text, 10% another product's title), the fusion fitted on one half of the photos and measured on
  the other, both ways (classifier.fusion_fit).
A colour counts as right when it is the labeller's colour or their runner-up (colour_alt).
"Moderator decisions" counts the labels a moderator has to set; under today's rule a photo in
review has both its labels looked at.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TARGETS = {"label_precision": 0.95, "labels_auto": 0.80, "photos_auto": 0.65}


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    name = fields.get("Model name", "unknown CPU").strip()
    return f"{name}, {fields.get('CPU(s)', '?').strip()} CPU(s)"


def words_only(titles: list[Any], extract: Any) -> dict[str, Any]:
    """The extractor alone on held-out titles: how often it names a label, how often rightly."""
    from catalog.evidence import PostText
    from classifier import fusion_data

    held = [t for t in titles if fusion_data.title_half(t) == "report" and t.category and t.colour]
    named = {"category": 0, "colour": 0}
    right = {"category": 0, "colour": 0}
    both = both_right = 0
    for t in held:
        ev = extract(PostText(network="shopify", title=t.title))
        calls = {h: ev.best(h) for h in ("category", "colour")}
        for h, truth in (("category", t.category), ("colour", t.colour)):
            if calls[h] is not None:
                named[h] += 1
                right[h] += calls[h][0] == truth
        if calls["category"] and calls["colour"]:
            both += 1
            both_right += calls["category"][0] == t.category and calls["colour"][0] == t.colour
    n = len(held)
    labels = named["category"] + named["colour"]
    return {
        "photos": n,
        "labels_auto": labels / (2 * n),
        "photos_auto": both / n,
        "label_precision": (right["category"] + right["colour"]) / labels if labels else None,
        "photo_precision": both_right / both if both else None,
        "moderator_decisions_per_100": 100 * (2 * n - labels) / n,
        "conflicts_per_100": 0.0,
        **{h: {"auto": named[h] / n, "precision": right[h] / max(named[h], 1)} for h in named},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=SHARED / "clothing")
    ap.add_argument("--names", type=Path, default=SHARED / "product-names")
    args = ap.parse_args()
    for folder, file in ((args.data, "labels.csv"), (args.names, "names.csv")):
        if not (folder / file).is_file():
            print(f"error: {folder / file} is missing", file=sys.stderr)
            return 1  # a benchmark without its data fails, in CI and elsewhere

    from rich.console import Console
    from rich.table import Table

    from classifier import fusion_data
    from classifier.evaluate import select_samples
    from classifier.fusion_fit import fit_and_measure
    from classifier.model import default_model_dir, load_model
    from classifier.text import extract

    console = Console()
    load_before = os.getloadavg()
    started = time.perf_counter()
    model = load_model(args.model or default_model_dir())
    samples = select_samples(model, args.data, "validation")
    titles = fusion_data.read_titles(args.names)
    probs = fusion_data.image_probs(model, samples, REPO / "var" / "fusion")
    t_fit = time.perf_counter()
    result = fit_and_measure(
        samples, probs, titles, model.labels, model.thresholds(), extract, target=0.95
    )
    fit_seconds = time.perf_counter() - t_fit
    report = result.report
    text_rows = words_only(titles, extract)

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    table = Table(
        "decided by",
        "on",
        "labels auto",
        "photos auto",
        "precision (labels)",
        "precision (photos)",
        "category auto / prec.",
        "colour auto / prec.",
        "moderator decisions /100 photos",
        "conflicts /100",
        title=f"labelling decisions, {model.version}",
    )
    rows = [
        (
            "photo only, both heads (today)",
            f"{report['posts']} val. photos",
            report["image_only_both_heads"],
        ),
        ("photo only, per label", f"{report['posts']} val. photos", report["image_only_per_label"]),
        ("words only (title)", f"{text_rows['photos']} held-out titles", text_rows),
        (
            "photo + words (fusion)",
            f"{report['posts']} val. photos + titles",
            report["photo_and_words"],
        ),
    ]
    for name, on, f in rows:
        table.add_row(
            name,
            on,
            pct(f["labels_auto"]),
            pct(f["photos_auto"]),
            pct(f["label_precision"]),
            pct(f["photo_precision"]),
            f"{pct(f['category']['auto'])} / {pct(f['category']['precision'])}",
            f"{pct(f['colour']['auto'])} / {pct(f['colour']['precision'])}",
            f"{f['moderator_decisions_per_100']:.1f}",
            f"{f['conflicts_per_100']:.1f}",
        )
    console.print(table)
    fused = report["photo_and_words"]
    for key, target in TARGETS.items():
        ok = fused[key] is not None and fused[key] >= target
        console.print(
            f"  {'✓' if ok else '✗'} photo + words {key} {pct(fused[key])} (target ≥ {pct(target)})"
        )
    console.print(
        f"posts: {report['post_kinds']} (match: same kind of product; none: no usable text;"
    )
    console.print(
        "       wrong: another product's title; unmatched: no title of that kind, so none)"
    )
    for head, f in result.fusion.heads.items():
        w = f.source_weights()
        console.print(
            f"{head}: photo weight {f.image_weight:.2f}, words "
            + ", ".join(f"{s} {w[s]:.2f}" for s in f.fitted_on.get("sources", {}))
            + f"; fused threshold {f.threshold:.3f}"
        )
    console.print(
        f"CPU: {cpu_model()}; load average before {load_before[0]:.2f}, after "
        f"{os.getloadavg()[0]:.2f}; fitting + measuring {fit_seconds:.1f} s, whole run "
        f"{time.perf_counter() - started:.1f} s (image probabilities cached under var/fusion)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
