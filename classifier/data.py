"""Training data: the shared dataset's `labels.csv` format, moderator decisions from the catalogue,
and the fixed, stratified validation split.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from catalog.taxonomy import CATEGORIES, COLOURS

# Category labels that name no category: kept for colour training and to check they go to review.
UNSURE_CATEGORIES = ("Not sure", "Other")
SPLIT_SEED = "vitrina-split-v1"


@dataclass(frozen=True)
class Sample:
    path: Path
    category: str  # one of CATEGORIES, or one of UNSURE_CATEGORIES
    colour: str  # one of COLOURS
    key: str  # stable identity for the split: the path relative to the dataset, or photo:<sha256>
    colour_alt: str = ""  # the labeller's runner-up colour, when they hesitated

    @property
    def has_category(self) -> bool:
        return self.category in CATEGORIES


def right_labels(
    samples: Sequence[Sample], head: str, labels: Sequence[str], *, runner_up: bool = True
) -> np.ndarray:
    """The (N, K) mask of labels that count as right, the target users feel (issue #14): the
    labeller's label, for colour also their runner-up (colour_alt; not with runner_up=False:
    the labeller's own label only); a "Not sure"/"Other" photo's category never is."""
    truth = [s.category if head == "category" else s.colour for s in samples]
    right = np.zeros((len(samples), len(labels)), bool)
    for n, v in enumerate(truth):
        if v in labels:
            right[n, labels.index(v)] = True
        if runner_up and head == "colour" and samples[n].colour_alt in labels:
            right[n, labels.index(samples[n].colour_alt)] = True
    return right


class DatasetError(ValueError):
    pass


def read_labels(folder: str | Path) -> list[Sample]:
    """Rows of `folder/labels.csv` (columns image, category, colour; others ignored)."""
    folder = Path(folder)
    csv_path = folder / "labels.csv"
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path} not found: a dataset folder holds labels.csv + images")
    samples: list[Sample] = []
    problems: list[str] = []
    with csv_path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"image", "category", "colour"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            cat, col = row["category"].strip(), row["colour"].strip().lower()
            if cat not in CATEGORIES and cat not in UNSURE_CATEGORIES:
                problems.append(f"line {line}: unknown category {cat!r}")
                continue
            if col not in COLOURS:
                problems.append(f"line {line}: unknown colour {col!r}")
                continue
            alt = (row.get("colour_alt") or "").strip().lower()
            alt = alt if alt in COLOURS and alt != col else ""
            samples.append(Sample(folder / row["image"], cat, col, row["image"], alt))
    if problems and len(problems) > len(samples) // 10:
        raise DatasetError(f"{csv_path}: {len(problems)} bad rows, e.g. " + "; ".join(problems[:3]))
    if not samples:
        raise DatasetError(f"{csv_path}: no usable rows")
    return samples


def _rank(key: str, seed: str) -> str:
    return hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()


def split(
    samples: Sequence[Sample], val_fraction: float, *, seed: str = SPLIT_SEED
) -> tuple[list[Sample], list[Sample]]:
    """(train, validation), stratified by category and fixed by a hash of each sample's key:
    the same photo always lands on the same side, whatever else is in the dataset."""
    by_cat: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_cat[s.category].append(s)
    train: list[Sample] = []
    val: list[Sample] = []
    for group in by_cat.values():
        group = sorted(group, key=lambda s: _rank(s.key, seed))
        n_val = round(len(group) * val_fraction)
        if len(group) >= 2:
            n_val = max(n_val, 1)
        val.extend(group[:n_val])
        train.extend(group[n_val:])
    return train, val


def fingerprint(train: Iterable[Sample], val: Iterable[Sample]) -> str:
    """sha256 over every (split, key, category, colour): two models with the same fingerprint
    saw the same data and were validated on the same photos."""
    h = hashlib.sha256()
    for name, part in (("train", train), ("val", val)):
        for s in sorted(part, key=lambda s: s.key):
            h.update(json.dumps([name, s.key, s.category, s.colour]).encode())
    return h.hexdigest()


def counts(samples: Iterable[Sample]) -> dict[str, dict[str, int]]:
    samples = list(samples)
    return {
        "category": dict(Counter(s.category for s in samples).most_common()),
        "colour": dict(Counter(s.colour for s in samples).most_common()),
    }
