"""Facts written once and read by every part that needs them."""

from __future__ import annotations

from pathlib import Path

from catalog.config import load_settings
from tests.support.common import write_config


def test_the_pipeline_empties_the_very_keys_the_crawler_queues_under(tmp_path: Path) -> None:
    from crawler.run import SPIDERS
    from crawler.settings import for_crawl
    from pipeline.frontier import frontier_keys

    cfg = write_config(
        tmp_path, f"sqlite:///{tmp_path}/c.db", '[crawler]\nfrontier = "redis://127.0.0.1:1/0"\n'
    )
    settings = load_settings(cfg, environ={})
    scrapy = for_crawl(settings, [])
    crawler_keys = {
        scrapy[name] % {"spider": spider}
        for spider in SPIDERS
        for name in ("SCHEDULER_QUEUE_KEY", "SCHEDULER_DUPEFILTER_KEY", "DUPEFILTER_KEY")
    }
    assert set(frontier_keys(settings)) == crawler_keys and len(crawler_keys) == 8


def test_train_options_default_to_the_training_config() -> None:
    import typer.main

    from classifier.train_config import TrainConfig
    from vitrina_cli.main import app

    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    defaults = {p.name: p.default for p in command.params}
    assert defaults["image_size"] == TrainConfig.image_size
    assert defaults["head_epochs"] == TrainConfig.head_epochs
    assert defaults["compare"] == TrainConfig.compare_colour_stats


def test_retraining_counts_every_decision_kind_and_no_undo() -> None:
    from catalog.moderation import DECISIONS

    assert {"accept", "correct", "reject", "bulk_accept", "bulk_reject"} <= set(DECISIONS)
    assert "undo" not in DECISIONS


def test_spiders_yield_items_and_never_write_the_catalogue() -> None:
    """In Scrapy's model spiders yield and item pipelines store (ShopUpdate for the shop row)."""
    import ast

    spiders = Path(__file__).resolve().parents[3] / "crawler" / "spiders"
    for path in sorted(spiders.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        assert not imported & {"catalog.db", "catalog.crud", "catalog"}, path.name


def test_photos_per_status_is_counted_in_one_place(engine) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from catalog import crud
    from catalog.db import session_scope
    from catalog.models import Photo, utcnow

    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "mastodon", "m", base_url="https://m.example")
        post = crud.upsert_post(s, shop.id, "mastodon", "1")
        for i, status in enumerate(("pending", "needs_review", "approved", "approved")):
            added = crud.add_photo(s, post.id, f"{i}" * 64, position=i)
            photo = s.get(Photo, added.id)
            assert photo is not None
            photo.status = status
            photo.labelled_at = None if status == "pending" else utcnow() - timedelta(hours=i)
            s.add(photo)
    with session_scope(engine) as s:
        assert crud.photos_per_status(s) == {"pending": 1, "needs_review": 1, "approved": 2}
        recent = crud.photos_per_status(s, labelled_since=utcnow() - timedelta(minutes=150))
        assert recent == {"needs_review": 1, "approved": 1}
        assert crud.counts(s)["photos_approved"] == 2
