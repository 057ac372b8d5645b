"""Benchmark the labelling decision: photo only (today), words only, photo + words (fusion).

    PYTHONPATH=. .venv/bin/python benchmarks/labelling_bench.py [--model DIR] [--pairings 5]

One table, all rows measured in the same run:
- photo only, today's rule (a photo is published only when both heads pass their threshold);
- photo only, per label (each head published on its own threshold);
- words only: benchmarks/text_labelling.py's lexicon row on its held-out product-names titles;
- photo + words: the validation photos paired with real titles of the same product kind (30% no
  text, 10% another product's title), the fusion fitted on one half of the photos and measured on
  the other, both ways (classifier.fusion_fit); its thresholds per stratum (words agree with the
  decided label / disagree / no words) chosen for both heads together on out-of-fold posts of
  the fitting half, and a second table shows each stratum's figures.
A colour counts as right when it is the labeller's colour or their runner-up (colour_alt).
"Moderator decisions" counts the labels a moderator has to set; under today's rule a photo in
review has both its labels looked at.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
sys.path.insert(0, str(REPO))
from benchmarks.machine import cpu_model  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TARGETS = {"label_precision": 0.95, "labels_auto": 0.80, "photos_auto": 0.65}


def words_only(names_csv: Path) -> dict[str, Any] | None:
    """The text helper's benchmark (benchmarks/text_labelling.py) on its held-out titles: the
    lexicon's label where its best clue is at least 0.5 strong."""
    try:
        from benchmarks import text_labelling
    except ImportError:
        return None
    r = next(x for x in text_labelling.run(names_csv) if x.method.endswith("again"))
    labels = (r.cat_coverage + r.col_coverage) / 2
    return {
        "labels_auto": labels,
        "photos_auto": None,
        "label_precision": (r.cat_precision * r.cat_coverage + r.col_precision * r.col_coverage)
        / (r.cat_coverage + r.col_coverage),
        "photo_precision": None,
        "moderator_decisions_per_100": 200 * (1 - labels),
        "conflicts_per_100": 0.0,
        "category": {"auto": r.cat_coverage, "precision": r.cat_precision},
        "colour": {"auto": r.col_coverage, "precision": r.col_precision},
        "rows": len(text_labelling.load(names_csv)),
    }


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def spread(values: list[float | None]) -> str:
    """Mean, and the range over pairings when there were several."""
    got = [v for v in values if v is not None]
    if not got:
        return "-"
    mean = sum(got) / len(got)
    return pct(mean) if len(got) == 1 else f"{pct(mean)} ({pct(min(got))}–{pct(max(got))})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=SHARED / "clothing")
    ap.add_argument("--names", type=Path, default=SHARED / "product-names")
    ap.add_argument(
        "--pairings",
        type=int,
        default=5,
        help="seeded draws of which photo gets which title: photo + words is fitted and measured "
        "once per draw, the table gives the mean and the range (first draw: fusion.json's)",
    )
    args = ap.parse_args()
    for folder, file in ((args.data, "labels.csv"), (args.names, "names.csv")):
        if not (folder / file).is_file():
            print(f"error: {folder / file} is missing", file=sys.stderr)
            return 1  # a benchmark without its data fails, in CI and elsewhere

    from rich.console import Console
    from rich.table import Table

    from classifier import fusion_data
    from classifier.calibration import THRESHOLDS_RULE
    from classifier.evaluate import select_samples
    from classifier.fusion_fit import fit_and_measure
    from classifier.model import default_model_dir, load_model
    from classifier.text import extract

    # a file or pipe gets the whole table, not one squeezed to 80 columns
    console = Console(width=None if sys.stdout.isatty() else 220)
    load_before = os.getloadavg()
    started = time.perf_counter()
    model = load_model(args.model or default_model_dir())
    samples = select_samples(model, args.data, "validation")
    titles = fusion_data.read_titles(args.names)
    t_probs = time.perf_counter()
    probs = fusion_data.image_probs(model, samples, REPO / "var" / "fusion")
    probs_seconds = time.perf_counter() - t_probs
    t_fit = time.perf_counter()
    seeds = [fusion_data.PAIRING_SEED] + [f"bench-{k}" for k in range(1, args.pairings)]
    results = [
        fit_and_measure(
            samples,
            probs,
            titles,
            model.labels,
            model.thresholds(),
            extract,
            pairing_seed=seed,
            # "today": the thresholds chosen on the labeller's label alone, before issue #14
            baseline_thresholds=model.metadata.get("thresholds_labeller_only"),
            refit_image_thresholds=model.metadata.get("thresholds_rule") == THRESHOLDS_RULE,
        )
        for seed in seeds
    ]
    fit_seconds = (time.perf_counter() - t_fit) / len(seeds)
    first = results[0].report
    words = words_only(args.names / "names.csv")

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

    def add(name: str, on: str, figures: list[dict[str, Any]]) -> None:
        def col(key: str, head: str | None = None) -> str:
            return spread([(f[head] if head else f)[key] for f in figures])

        def per100(key: str) -> str:
            values = [f[key] for f in figures]
            mean = sum(values) / len(values)
            return (
                f"{mean:.1f}"
                if len(values) == 1
                else f"{mean:.1f} ({min(values):.1f}–{max(values):.1f})"
            )

        table.add_row(
            name,
            on,
            col("labels_auto"),
            col("photos_auto"),
            col("label_precision"),
            col("photo_precision"),
            f"{col('auto', 'category')} / {col('precision', 'category')}",
            f"{col('auto', 'colour')} / {col('precision', 'colour')}",
            per100("moderator_decisions_per_100"),
            per100("conflicts_per_100"),
        )

    photos_on = f"{first['posts']} val. photos"
    add("photo only, both heads (today)", photos_on, [first["image_only_both_heads"]])
    add("photo only, per label, today's thresholds", photos_on, [first["image_only_per_label"]])
    add(
        "photo only, per label, thresholds with colour_alt (cross-fitted)",
        photos_on,
        [r.report["image_only_per_label_alt"] for r in results],
    )
    if words is not None:
        add("words only (title, lexicon ≥ 0.5)", f"{words['rows']} held-out titles", [words])
    else:
        console.print("(benchmarks/text_labelling.py not found: no words-only row)")
    add(
        f"photo + words (fusion), {len(seeds)} pairing(s)",
        f"{photos_on} + held-out titles",
        [r.report["photo_and_words"] for r in results],
    )
    with_category = [r.report["photo_and_words_with_category"] for r in results]
    add(
        "  … photos with a category only",
        f"{with_category[0]['photos']} val. photos + held-out titles",
        with_category,
    )
    console.print(table)
    fused = [r.report["photo_and_words"] for r in results]
    for key, target in TARGETS.items():
        mean = sum(f[key] for f in fused) / len(fused)
        mark = "✓" if mean >= target else "✗"
        console.print(f"  {mark} photo + words {key}: mean {pct(mean)} (target ≥ {pct(target)})")
    console.print(
        f"posts (first pairing): {first['post_kinds']} — match: a title of the same kind of "
        "product; none: no usable text; wrong: another product's title; unmatched: names.csv has "
        "no title of that kind (Polo, Blouse…), so no text; unsure: a 'Not sure'/'Other' photo, "
        "no words, no category right"
    )
    for head, f in results[0].fusion.heads.items():
        w = f.source_weights()
        by_stratum = f.stratum_thresholds(model.thresholds()[head])
        console.print(
            f"{head} (fusion.json's fit): photo weight {f.image_weight:.2f}, words "
            + ", ".join(f"{s} {w[s]:.2f}" for s in f.fitted_on.get("sources", {}))
            + "; thresholds "
            + ", ".join(f"{s} {t:.3f}" for s, t in by_stratum.items())
            + f" (image alone, without fusion: {model.thresholds()[head]:.3f})"
        )
    strata = Table(
        "head",
        "stratum",
        "share of posts",
        "published",
        "precision",
        title="photo + words by stratum (mean, range over pairings): agree = the words name the "
        "decided label, disagree = another, none = no words",
    )
    for head in ("category", "colour"):
        for s in ("agree", "disagree", "none"):
            rows = [f[head]["strata"][s] for f in fused]
            strata.add_row(
                head, s, *(spread([r[k] for r in rows]) for k in ("posts", "auto", "precision"))
            )
    console.print(strata)
    console.print(
        f"CPU: {cpu_model()}; load average before {load_before[0]:.2f}, after "
        f"{os.getloadavg()[0]:.2f}; image probabilities {probs_seconds:.1f} s (cached under "
        f"var/fusion after the first run), fitting + measuring {fit_seconds:.1f} s per pairing, "
        f"whole run {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
