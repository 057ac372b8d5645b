"""Helpers shared by the classifier tests: the shared dataset and a few real photos."""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from catalog import crud
from catalog.db import session_scope

REPO = Path(__file__).resolve().parents[2]
DATASET = REPO.parent / "shared" / "datasets" / "clothing"


def dataset() -> Path:
    """The shared clothing dataset; CI must have it (fail, never skip, there)."""
    if not (DATASET / "labels.csv").is_file():
        message = f"the shared dataset is missing at {DATASET}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI runs every test)")
        pytest.skip(message)
    return DATASET


def rows(category: str | None = None, n: int = 10) -> list[dict[str, str]]:
    with (dataset() / "labels.csv").open(newline="", encoding="utf-8") as f:
        out = [r for r in csv.DictReader(f) if category is None or r["category"] == category]
    return out[:n]


def photos(category: str | None = None, n: int = 10) -> list[Path]:
    return [dataset() / r["image"] for r in rows(category, n)]


def store_photos(engine: Engine, media: Path, files: list[Path], **photo_fields) -> list[int]:  # type: ignore[no-untyped-def]
    """Photos stored the way the crawler stores them: content-addressed under media_dir."""
    ids = []
    with session_scope(engine) as session:
        shop = crud.upsert_shop(session, "mastodon", "atelier", base_url="https://m.example")
        for i, f in enumerate(files):
            data = f.read_bytes()
            sha = hashlib.sha256(data + str(i).encode()).hexdigest()
            rel = f"{sha[:2]}/{sha[2:4]}/{sha}{f.suffix}"
            (media / rel).parent.mkdir(parents=True, exist_ok=True)
            (media / rel).write_bytes(data)
            post = crud.upsert_post(session, shop.id, "mastodon", f"post-{sha[:12]}")
            ids.append(crud.add_photo(session, post.id, sha, stored_path=rel, **photo_fields).id)
    return ids
