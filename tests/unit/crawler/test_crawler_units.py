"""The crawler's pure parts: crawl state, rate-limit headers, the SSRF guard, photo processing."""

from __future__ import annotations

import io

import imagehash
import pytest
from PIL import Image

from crawler import ratelimit
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.media import MediaRenderer
from crawler.photos import PhashIndex, PhotoRejected, perceptual_hash, process
from crawler.ssrf import Refused, check_url
from crawler.state import commit_page, start_point

LIMITS = {"max_pixels": 40_000_000, "min_side": 120, "thumb_size": 320}


def top(n: int) -> dict[str, str]:
    return {"id": str(n), "key": f"{n:05d}", "at": ""}


def test_pages_stored_out_of_order_move_the_watermark_only_when_all_are_in():
    state = {"watermark_key": "00010"}
    r = commit_page(state, seq=1, cursor="c2", final=False, top=top(40), stop_key="00010", posts=5)
    assert not r.finished and start_point(r.state).cursor is None  # page 0 is not stored yet
    r = commit_page(r.state, seq=2, cursor=None, final=True, top=top(30), stop_key="00010", posts=3)
    assert not r.finished
    r = commit_page(
        r.state, seq=0, cursor="c1", final=False, top=top(50), stop_key="00010", posts=5
    )
    assert r.finished and r.top == top(50) and r.state == {"watermark_key": "00050"}


def test_resume_point_is_the_end_of_the_unbroken_run_of_stored_pages():
    r = commit_page({}, seq=0, cursor="c1", final=False, top=top(9), stop_key="", posts=5)
    r = commit_page(r.state, seq=1, cursor="c2", final=False, top=top(8), stop_key="", posts=5)
    r = commit_page(r.state, seq=3, cursor="c4", final=False, top=top(6), stop_key="", posts=5)
    sp = start_point(r.state)
    assert (sp.seq, sp.cursor, sp.posts_so_far) == (2, "c2", 15)


def test_rate_limit_signals():
    now = 1_700_000_000.0
    assert ratelimit.retry_after_seconds("2.5", now) == 2.5
    assert ratelimit.retry_after_seconds("Tue, 14 Nov 2023 22:13:30 GMT", now) == pytest.approx(10)
    assert ratelimit.reset_seconds("2023-11-14T22:13:50.000000Z", now) == pytest.approx(30)
    assert ratelimit.reset_seconds(str(int(now) + 7), now) == 7
    assert ratelimit.server_wait({"RateLimit-Reset": str(int(now) + 4)}, now) == 4
    assert ratelimit.server_wait({}, now) is None
    body = b'{"error":{"message":"(#4) Application request limit reached","code":4}}'
    assert ratelimit.is_rate_limited(403, {}, body)
    assert not ratelimit.is_rate_limited(400, {}, b'{"error":{"code":190}}')
    assert ratelimit.exhausted_budget({"X-App-Usage": '{"call_count":97,"total_time":3}'})
    assert ratelimit.exhausted_budget({"X-RateLimit-Remaining": "0"})


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:9/a.jpg", "loopback"),
        ("http://169.254.169.254/x", "link-local"),
        ("http://192.168.1.4/p.jpg", "private"),
        ("http://[::1]/p.jpg", "loopback"),
        ("http://0.0.0.0/p.jpg", "unspecified"),
    ],
)
def test_ssrf_guard_refuses_internal_addresses(url: str, kind: str):
    with pytest.raises(Refused, match=kind):
        check_url(url, frozenset())


def test_ssrf_guard_allowlist_is_per_host_or_host_and_port():
    check_url("http://127.0.0.1:8765/media/x.jpg", frozenset({"127.0.0.1:8765"}))
    check_url("http://localhost/x.jpg", frozenset({"localhost"}))
    with pytest.raises(Refused):
        check_url("http://127.0.0.1:9999/x.jpg", frozenset({"127.0.0.1:8765"}))
    check_url("http://93.184.215.14/x.jpg", frozenset())  # public: allowed


def test_photo_processing_of_each_variant():
    cat = Catalogue.demo(2, 1)
    media = MediaRenderer(cat.photos, (240, 300))
    by_variant = {p.variant: media.render(k)[0] for k, p in cat.photos.items()}
    meta, data, thumb = process(by_variant["exif"], **LIMITS)
    img = Image.open(io.BytesIO(data))
    assert meta.rewritten and img.size == (240, 300) and 0x8825 not in img.getexif()
    assert Image.open(io.BytesIO(thumb)).format == "WEBP"
    plain, copy = process(by_variant["plain"], **LIMITS), process(by_variant["copy"], **LIMITS)
    assert not plain[0].rewritten and plain[1] == by_variant["plain"]  # stored untouched
    near = process(by_variant["resized"], **LIMITS)[0]
    index = PhashIndex(6)
    index.add(1, copy[0].phash)
    assert index.nearest(near.phash) == 1
    for variant, reason in [
        ("tiny", "too small"),
        ("corrupt", "not an image"),
        ("truncated", "truncated"),
        ("bomb", "decompression bomb"),
    ]:
        with pytest.raises(PhotoRejected, match=reason):
            process(by_variant[variant], **LIMITS)


def test_perceptual_hash_has_imagehash_phash_bits():
    """The crawl's own phash (two matrix products, no SciPy) gives imagehash.phash's bits, so
    near-duplicates match photos stored before it."""
    cat = Catalogue(seed=4)
    cat.add_shop("mastodon", "h")
    cat.add_posts("mastodon", "h", 40, 1)
    media = MediaRenderer(cat.photos, (96, 120))
    for key in cat.photos:
        grey = Image.open(io.BytesIO(media.render(key)[0])).convert("L")
        assert perceptual_hash(grey) == str(imagehash.phash(grey)), key


def test_bulk_upserts_are_idempotent_and_report_what_was_new(engine):  # type: ignore[no-untyped-def]
    from catalog import crud
    from catalog.db import session_scope

    with session_scope(engine) as s:
        shop = crud.upsert_shop(s, "mastodon", "bulk")
        first = crud.upsert_posts(
            s,
            shop.id,
            "mastodon",
            [{"network_post_id": "1"}, {"network_post_id": "2"}, {"network_post_id": "1"}],
        )
        assert [u.created for u in first] == [True, True, False] and first[0].id == first[2].id
        again = crud.upsert_posts(
            s, shop.id, "mastodon", [{"network_post_id": "2", "caption": "changed"}]
        )
        assert again == [crud.Upserted(first[1].id, False)]
        photos = crud.add_photos(
            s,
            [
                {"post_id": first[0].id, "sha256": "a" * 64},
                {"post_id": first[1].id, "sha256": "a" * 64},
            ],
        )
        assert [u.created for u in photos] == [True, False]
        near = crud.add_photos(
            s, [{"post_id": first[1].id, "sha256": "b" * 64, "duplicate_of_id": photos[0].id}]
        )
        assert near[0].created
        with pytest.raises(TypeError, match="unknown photo fields"):
            crud.add_photos(s, [{"post_id": 1, "sha256": "c", "colour": "red"}])
