"""Benchmark text labelling on real product titles: the lexicon against a plain keyword match.

    PYTHONPATH=. .venv/bin/python -m benchmarks.text_labelling [--names FILE] [--split train|test]

Data: `../shared/datasets/product-names/names.csv` (Myntra titles with category and colour
mapped to Vitrina's taxonomy). A seeded split by hash of the id holds out 20% as `test`; the
lexicon was tuned by reading only the other 80% (`--split train`). One table, same run:
- keyword baseline: the first category word and the first colour word of the title, from the
  taxonomy's own names and a few obvious forms (plural, "tshirt", "navy");
- lexicon: `classifier.text.extract` on `PostText(title=…)`, a label where its best clue is at
  least 0.5 strong (the fusion's floor) and the head is not ambiguous; and at 0.8 (auto).
Metrics: category precision and coverage on rows that have a category; colour precision and
coverage on rows that have a colour; share of rows without a category that get none; ms per post.
The scoring is `classifier.text.titles` (`run(names_csv)` gives the table's rows, for the
combined labelling benchmark and the tests too).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.machine import machine  # noqa: E402
from classifier.text.titles import HEADER, load, run  # labelling_bench reads load and run here

REPO = Path(__file__).resolve().parents[1]
NAMES = REPO.parent / "shared" / "datasets" / "product-names" / "names.csv"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", type=Path, default=NAMES)
    ap.add_argument("--split", choices=("test", "train", "all"), default="test")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    rows = load(args.names, args.split)
    print(f"{machine()}; {len(rows)} {args.split} rows of {args.names.name}")
    results = run(args.names, args.split)
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for r in results:
        print("| " + " | ".join(r.cells()) + " |")
    print("* names.csv maps every polo t-shirt to T-Shirt; Vitrina's taxonomy has Polo.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
