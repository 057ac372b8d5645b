"""The text labeller scored on product titles with known labels: the lexicon against a plain
keyword match, on a seeded split (one row in five held out by a hash of its id).

`run(names_csv)` gives the rows of `benchmarks/text_labelling.py`'s table (and of the combined
labelling benchmark); tests check the held-out targets with it. A CSV has columns id, title,
category, colour (empty where the title names none). Pure Python, like the rest of
classifier.text: no TensorFlow.
"""

from __future__ import annotations

import csv
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from catalog.evidence import PostText
from classifier.text.extract import extract

SEED = "vitrina-text"
TEST_SHARE = 5  # one row in five is held out

Labeller = Callable[[str], tuple[str | None, str | None]]


def split_of(row_id: str) -> str:
    h = int(hashlib.sha1(f"{SEED}:{row_id}".encode()).hexdigest(), 16)
    return "test" if h % TEST_SHARE == 0 else "train"


def load(names_csv: Path, split: str = "test") -> list[dict[str, str]]:
    if not names_csv.is_file():
        raise FileNotFoundError(f"{names_csv} not found (the shared datasets are beside the repo)")
    with names_csv.open(newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if split == "all" or split_of(r["id"]) == split]


# -- the keyword baseline: about five minutes of work, kept honest ----------------------------
_BASE_CATEGORIES = {
    "T-Shirt": ["t-shirt", "tshirt", "t-shirts", "tshirts", "tee"],
    "Longsleeve": ["longsleeve", "sweater", "sweaters"],
    "Pants": ["pants", "trousers", "jeans"],
    "Shoes": ["shoes", "shoe", "sneakers", "sandals", "heels", "flats", "slippers", "boots"],
    "Shirt": ["shirt", "shirts"],
    "Dress": ["dress", "dresses"],
    "Outwear": ["jacket", "jackets", "coat", "coats"],
    "Shorts": ["shorts"],
    "Hat": ["hat", "hats", "cap", "caps"],
    "Skirt": ["skirt", "skirts"],
    "Polo": ["polo"],
    "Undershirt": ["undershirt", "vest", "vests"],
    "Blazer": ["blazer", "blazers"],
    "Hoodie": ["hoodie", "hoodies", "sweatshirt", "sweatshirts"],
    "Body": ["body", "bodysuit", "jumpsuit"],
    "Top": ["top", "tops"],
    "Blouse": ["blouse", "blouses"],
}
_BASE_COLOURS = {
    "black": ["black"], "white": ["white"], "grey": ["grey", "gray"], "beige": ["beige"],
    "brown": ["brown"], "red": ["red"], "pink": ["pink"], "orange": ["orange"],
    "yellow": ["yellow"], "green": ["green"], "blue": ["blue", "navy"], "purple": ["purple"],
    "multicolour": ["multicolour", "multicolor", "multi"],
}  # fmt: skip
_CAT_WORD = {w: c for c, ws in _BASE_CATEGORIES.items() for w in ws}
_COL_WORD = {w: c for c, ws in _BASE_COLOURS.items() for w in ws}
_TOKEN = re.compile(r"[\w-]+")


def keyword_baseline(title: str) -> tuple[str | None, str | None]:
    toks = _TOKEN.findall(title.lower())
    cat = next((_CAT_WORD[t] for t in toks if t in _CAT_WORD), None)
    col = next((_COL_WORD[t] for t in toks if t in _COL_WORD), None)
    return cat, col


def lexicon_labeller(floor: float) -> Labeller:
    def label(title: str) -> tuple[str | None, str | None]:
        ev = extract(PostText(title=title))
        out: list[str | None] = []
        for head in ("category", "colour"):
            b = ev.best(head)
            out.append(b[0] if b and b[1] >= floor else None)
        return out[0], out[1]

    return label


@dataclass
class Result:
    method: str
    cat_precision: float
    cat_coverage: float
    col_precision: float
    col_coverage: float
    none_when_none: float
    ms_per_post: float

    def cells(self) -> list[str]:
        return [
            self.method,
            f"{self.cat_precision:.1%}",
            f"{self.cat_coverage:.1%}",
            f"{self.col_precision:.1%}",
            f"{self.col_coverage:.1%}",
            f"{self.none_when_none:.1%}",
            f"{self.ms_per_post:.3f}",
        ]


HEADER = [
    "method",
    "category precision",
    "category coverage",
    "colour precision",
    "colour coverage",
    "no category → none",
    "CPU ms/post",
]


def score(method: str, labeller: Labeller, rows: Iterable[dict[str, str]]) -> Result:
    rows = list(rows)
    # CPU time of this process: the shared benchmark machine's load does not inflate it.
    t0 = time.process_time()
    preds = [labeller(r["title"]) for r in rows]
    ms = (time.process_time() - t0) * 1000 / max(1, len(rows))
    cat_rows = [(r, p) for r, p in zip(rows, preds, strict=True) if r["category"]]
    col_rows = [(r, p) for r, p in zip(rows, preds, strict=True) if r["colour"]]
    none_rows = [(r, p) for r, p in zip(rows, preds, strict=True) if not r["category"]]

    def pc(pairs: list, i: int, key: str) -> tuple[float, float]:
        said = [(r, p) for r, p in pairs if p[i] is not None]
        right = sum(p[i] == r[key] for r, p in said)
        return right / max(1, len(said)), len(said) / max(1, len(pairs))

    cp, cc = pc(cat_rows, 0, "category")
    op, oc = pc(col_rows, 1, "colour")
    nn = sum(p[0] is None for _, p in none_rows) / max(1, len(none_rows))
    return Result(method, cp, cc, op, oc, nn, ms)


def run(names_csv: Path, split: str = "test") -> list[Result]:
    """The table's rows: keyword baseline, lexicon (cold: first pass, stems not yet cached),
    lexicon at the auto floor (warm)."""
    rows = load(names_csv, split)
    return [
        score("keyword baseline", keyword_baseline, rows),
        score("lexicon (strength ≥ 0.5), first pass", lexicon_labeller(0.5), rows),
        score("lexicon (strength ≥ 0.5), again", lexicon_labeller(0.5), rows),
        score("lexicon (strength ≥ 0.8)", lexicon_labeller(0.8), rows),
        score("keyword baseline, Polo as T-Shirt*", _polo_as_tshirt(keyword_baseline), rows),
        score("lexicon (≥ 0.5), Polo as T-Shirt*", _polo_as_tshirt(lexicon_labeller(0.5)), rows),
    ]


def _polo_as_tshirt(labeller: Labeller) -> Labeller:
    """names.csv has no Polo class (its "Tshirts" include polos); Vitrina's photos do. The
    lexicon says Polo for "polo t-shirt": this row scores that as the dataset's T-Shirt."""

    def label(title: str) -> tuple[str | None, str | None]:
        cat, col = labeller(title)
        return ("T-Shirt" if cat == "Polo" else cat), col

    return label
