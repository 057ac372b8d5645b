"""Each spider's parsing of real API answers, recorded by others (../shared/api-reference/recorded,
see its PROVENANCE.md): every post and photo read with its text, time and links exact.

The answers are given to the spiders' own callbacks as Scrapy responses, the way the engine
hands them over; nothing of ours is replaced."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from scrapy import Request
from scrapy.exceptions import CloseSpider

from crawler.items import PageItem, PostData, ShopUpdate
from crawler.spiders.base import ShopSpider, ShopTask
from crawler.spiders.bluesky import BlueskySpider
from crawler.spiders.instagram import InstagramSpider
from crawler.spiders.mastodon import MastodonSpider
from crawler.spiders.shopify import ShopifySpider
from crawler.spiders.text import html_to_text
from tests.support.common import REPO
from tests.support.recorded import answer, one_page, spider

RECORDED = REPO.parent / "shared" / "api-reference" / "recorded"


@pytest.fixture(scope="module", autouse=True)
def _recorded_present() -> None:
    if not (RECORDED / "PROVENANCE.md").is_file():
        pytest.fail(
            f"the recorded API answers are missing: expected {RECORDED} (../shared beside the "
            "clone, as in CI); these tests need them"
        )


def raw(network: str, name: str) -> Any:
    return json.loads((RECORDED / network / name).read_text(encoding="utf-8"))


def store_updates(sp: ShopSpider) -> list[ShopUpdate]:
    """What the last answer's callback yielded about the shop, through the real pipeline."""
    from crawler.pipelines import CatalogPipeline

    pipeline = CatalogPipeline(sp.crawler)
    updates = list(sp.yielded_updates)  # type: ignore[attr-defined]
    for u in updates:
        pipeline.process_item(u)
    pipeline.engine.dispose()
    return updates


def brief(post: PostData) -> tuple[str, str, str, str]:
    return (post.network_post_id, post.posted_at, post.permalink, post.caption)


# ---- Instagram -------------------------------------------------------------------------------


def ig(name: str, composed: bool = False) -> tuple[PageItem, list[Request], Any]:
    data = raw("instagram", name)
    if composed:  # a /media edge page placed in a business_discovery envelope (PROVENANCE)
        data["paging"].pop("next", None)
        data["paging"].pop("previous", None)
        data = {"business_discovery": {"media": data}}
    task = ShopTask(1, "instagram", "facebookfordevelopers", account_id="17841407673135339")
    items, requests = answer(spider(InstagramSpider), "parse_media", data, task)
    return one_page(items), requests, data


def media_url(data: Any, media_id: str) -> str:
    return next(
        m["media_url"] for m in data["business_discovery"]["media"]["data"] if m["id"] == media_id
    )


def test_instagram_business_discovery_pages():
    page, requests, data = ig("python-facebook__instagram_apidata_discovery_medias_p1.json")
    assert [brief(p) for p in page.posts] == [
        (
            "17885103395504675",
            "2021-08-17T19:00:42+00:00",
            "https://www.instagram.com/p/CSr71Gzlqo4/",
            "To attract new players, the team behind state_of_survival partnered with "
            "quantumuniverse.co and Facebook Creative Shop to build an AR ad in SparkARCreators "
            "that transported their audience into the gaming universe. Learn how this campaign, "
            "launched across Facebook and Instagram, led to a 49% decrease in cost per install "
            "by checking out the link in our bio.",
        ),
        (
            "17886271043461692",
            "2021-08-16T17:35:10+00:00",
            "https://www.instagram.com/p/CSpNPqgFxE0/",
            "Today, we are excited to announce that developers can now build Instagram "
            "messaging experiences for all business accounts! Read more on how to get started "
            "and help businesses drive meaningful conversations, increase customer "
            "satisfaction, and grow sales. Learn more, link in bio.",
        ),
    ]
    assert page.posts[0].photo_urls == [media_url(data, "17885103395504675")]
    assert (
        page.posts[0]
        .photo_urls[0]
        .startswith(
            "https://scontent-nrt1-1.cdninstagram.com/v/t51.29350-15/"
            "238148161_1969671383189052_5307788044451392664_n.jpg?"
        )
    )
    assert page.posts[1].photo_urls == [media_url(data, "17886271043461692")]
    assert page.top == {
        "id": "17885103395504675",
        "key": "2021-08-17T19:00:42.000000|17885103395504675",
        "at": "2021-08-17T19:00:42+00:00",
    }
    # the next page is asked for with the recorded cursor, and only the recorded token
    assert len(requests) == 1 and "media.after%28after%29" in requests[0].url

    page, requests, data = ig("python-facebook__instagram_apidata_discovery_medias_p2.json")
    assert [brief(p) for p in page.posts] == [
        (
            "17939347456563225",
            "2021-08-11T19:56:42+00:00",
            "https://www.instagram.com/p/CScld93rm4W/",
            "BathandBodyWorksArabia experienced a sharp 64% increase in messages throughout "
            "2020 and needed to scale their customer communication on social media to provide "
            "more efficient customer care.  By working with Emplifi to integrate Messenger API "
            "for Instagram into their customer relationship management platform, they boosted "
            "resolved customer queries by 42% and gained 40% operational time savings. Learn "
            "more about this increase in speed and efficiency at the link in our bio.",
        )
    ]
    assert page.posts[0].photo_urls == [media_url(data, "17939347456563225")]
    assert page.skipped == 1  # the VIDEO post (an mp4): no photo to label, not stored


def test_instagram_videos_are_skipped_not_stored_as_photo_less_posts():
    page, requests, data = ig("python-facebook__base_discovery_medias_p1.json")
    assert [brief(p) for p in page.posts] == [
        (
            "17892723104499705",
            "2021-10-05T00:34:47+00:00",
            "https://www.instagram.com/p/CUoIN-kJMRI/",
            "",
        )
    ]  # recorded without asking for captions
    assert page.posts[0].photo_urls == [media_url(data, "17892723104499705")]
    assert page.skipped == 4 and len(requests) == 1
    # the newest post is a video: the watermark still moves over it
    assert page.top is not None and page.top["id"] == "17984016661384418"

    page, requests, _ = ig("python-facebook__base_discovery_medias_p2.json")
    # five videos, one of them served without media_url; only a `before` cursor: the end
    assert page.posts == [] and page.skipped == 5 and page.final and requests == []


def test_instagram_captionless_posts_and_a_carousel_with_a_video_child():
    page, _, data = ig("python-facebook__instagram_apidata_users_medias_p1.json", composed=True)
    assert [brief(p) for p in page.posts] == [
        (
            "17895731045244887",
            "2021-08-13T08:25:28+00:00",
            "https://www.instagram.com/p/CSgf9BChwVq/",
            "",
        ),
        (
            "17896622936197745",
            "2021-08-13T08:02:40+00:00",
            "https://www.instagram.com/p/CSgdWACBeKr/",
            "",
        ),
    ]
    assert [p.photo_urls for p in page.posts] == [
        [media_url(data, "17895731045244887")],
        [media_url(data, "17896622936197745")],
    ]
    page, _, data = ig("python-facebook__instagram_apidata_users_medias_p2.json", composed=True)
    assert [brief(p) for p in page.posts] == [
        (
            "17896129349106152",
            "2021-07-26T10:45:20+00:00",
            "https://www.instagram.com/p/CRyZpmrjYC4/",
            "ALBUM",
        ),
        (
            "17893085207160254",
            "2021-06-09T09:47:29+00:00",
            "https://www.instagram.com/p/CP5Rq0bjBzn/",
            "Peach new",
        ),
    ]
    children = data["business_discovery"]["media"]["data"][0]["children"]["data"]
    # the two IMAGE children in order; the VIDEO child (and its thumbnail) is not a photo
    assert page.posts[0].photo_urls == [children[0]["media_url"], children[1]["media_url"]]
    assert page.posts[1].photo_urls == [media_url(data, "17893085207160254")]


def test_instagram_missing_permission_error_stops_the_network_as_an_auth_problem():
    sp = spider(InstagramSpider)
    task = ShopTask(1, "instagram", "facebookfordevelopers", account_id="x")
    sp.tasks = [task, ShopTask(2, "instagram", "other_shop")]
    body = raw("instagram", "python-facebook__base_error_data.json")
    with pytest.raises(CloseSpider):
        answer(sp, "parse_media", body, task, status=400)
    reports = sp.report.shops
    assert {k: r.status for k, r in reports.items()} == {
        "instagram:facebookfordevelopers": "auth",
        "instagram:other_shop": "auth",
    }
    (message,) = sp.report.errors  # said once for the network, not again per shop
    assert all(not r.errors for r in reports.values())
    assert "(#100) Object does not exist, cannot be loaded due to missing permission" in message
    assert "code 100" in message and "after retries" not in message


# ---- Mastodon --------------------------------------------------------------------------------


def masto(statuses: list[dict[str, Any]], **kw: Any) -> tuple[PageItem, list[Request]]:
    task = ShopTask(1, "mastodon", "h", base_url="https://mastodon.social", account_id="1")
    items, requests = answer(spider(MastodonSpider), "parse_statuses", statuses, task, **kw)
    return one_page(items), requests


def test_mastodon_statuses_of_mastodon_social():
    statuses = raw("mastodon", "tg_toot4warder__FAKE_TOOTS_DATA.json")
    page, requests = masto(statuses)
    assert [brief(p) for p in page.posts] == [
        (
            "107751441476337212",
            "2022-02-06T14:08:36.668000+00:00",
            "https://mastodon.social/@thislight/107751441476337212",
            "简单触发一个编译器bug……",
        )
    ]
    assert page.posts[0].photo_urls == [
        "https://files.mastodon.social/media_attachments/files/107/751/441/304/672/354/"
        "original/94096d3d3db6de24.png"
    ]
    assert page.skipped == 2  # text and a link card
    # The recording kept the body only. An answer without any Link header is how Pixelfed pages
    # (Mastodon and GoToSocial send one with every non-empty page): on by max_id, until a page
    # is empty.
    assert [r.url for r in requests] == ["https://api.test/x?max_id=107722294184788555"]
    assert not page.final
    # the text of the link post, whose URL Mastodon splits across invisible spans
    assert [html_to_text(s["content"]) for s in statuses] == [
        "Orz又又又又要住院了……",
        "简单触发一个编译器bug……",
        "Crytek宣布了Crysis 4\n\nhttps://youtu.be/PQ_dmFUR2N8",
    ]


def test_mastodon_documentation_status_entities_and_ellipsis_link():
    status = raw("mastodon", "mastodon-documentation__entities_Status_example.json")
    assert html_to_text(status["content"]) == (
        '"I lost my inheritance with one wrong digit on my sort code"\n\n'
        "https://www.theguardian.com/money/2019/dec/07/"
        "i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code"
    )
    page, _ = masto([status])
    assert page.posts == [] and page.skipped == 1  # no media: not a catalogue post


def test_mastodon_media_statuses_two_images_kept_videos_skipped():
    names = [
        "Mastodon.py__test_status_update_with_media_edit__interaction3_PUT_statuses.json",
        "Mastodon.py__test_media_post_multiple__interaction4_POST_statuses.json",
        "Mastodon.py__test_media_post_True__interaction2_POST_statuses.json",
        "Mastodon.py__test_media_post_False__interaction2_POST_statuses.json",
    ]
    statuses = sorted((raw("mastodon", n) for n in names), key=lambda s: -int(s["id"]))
    page, _ = masto(statuses)
    assert [brief(p) for p in page.posts] == [
        (
            "117020576664345360",
            "2026-08-01T13:51:35.294000+00:00",
            "http://localhost:3000/@mastodonpy_test/117020576664345360",
            "LOL check this out",
        )
    ]
    assert page.posts[0].photo_urls == [
        "http://localhost:3000/system/media_attachments/files/117/020/576/646/493/592/"
        "original/963111bc1b0bd6b6.jpg",
        "http://localhost:3000/system/media_attachments/files/117/020/576/661/238/952/"
        "original/c71a1b53ce29a852.jpg",
    ]
    assert page.skipped == 3  # the three video statuses (one edited)
    assert page.top is not None and page.top["id"] == "117020620300441304"


def cassette(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((RECORDED / "mastodon" / name).read_text("utf-8"))["interactions"]


def test_mastodon_link_header_paging_of_a_real_server():
    got = cassette("Mastodon.py__test_fetch_next_previous.yaml")
    first = next(i for i in got if i["request"]["uri"].endswith("/statuses?limit=5"))
    response = first["response"]
    page, requests = masto(
        json.loads(response["body"]["string"]),
        headers={"Link": response["headers"]["link"][0]},
    )
    assert page.posts == [] and page.skipped == 5  # "Toot number 9!" … 5: words alone
    assert page.top is not None and page.top["id"] == "117020580518794573"
    assert [r.url for r in requests] == [
        "http://localhost:3000/api/v1/accounts/117020565966271181/statuses"
        "?limit=5&max_id=117020580489281910"
    ]


def test_mastodon_account_lookup_found_and_not_found(sqlite_url: str):
    from catalog import crud
    from catalog.db import make_engine, session_scope
    from catalog.models import Shop

    engine = make_engine(sqlite_url)
    with session_scope(engine) as s:
        found = crud.upsert_shop(s, "mastodon", "mastodonpy_test", base_url="http://localhost:3000")
        gone = crud.upsert_shop(
            s, "mastodon", "kljadklajsdkljlkjlkjlkjasdasd", base_url="http://localhost:3000"
        )
    got = {
        i["request"]["uri"].rsplit("acct=", 1)[-1]: i["response"]
        for i in cassette("Mastodon.py__test_account_lookup.yaml")
        if "lookup" in i["request"]["uri"]
    }
    sp = spider(MastodonSpider, sqlite_url)
    task = ShopTask(found.id, "mastodon", "mastodonpy_test", base_url="http://localhost:3000")
    ok = got["mastodonpy_test"]
    _, requests = answer(sp, "parse_account", ok["body"]["string"].encode(), task)
    (update,) = store_updates(sp)  # the spider yields what it learnt; the pipeline stores it
    assert update.account_id == "117020565966271181" and update.inactive_reason is None
    assert [r.url for r in requests] == [
        "http://localhost:3000/api/v1/accounts/117020565966271181/statuses"
        "?limit=40&only_media=true&exclude_replies=true&exclude_reblogs=true"
    ]
    task = ShopTask(
        gone.id, "mastodon", "kljadklajsdkljlkjlkjlkjasdasd", base_url="http://localhost:3000"
    )
    missing = got["kljadklajsdkljlkjlkjlkjasdasd"]
    assert missing["status"]["code"] == 404
    _, (ask,) = answer(sp, "parse_account", missing["body"]["string"].encode(), task, status=404)
    # A 404 from /accounts/lookup is also how Pixelfed says it has no such route: the spider
    # asks the instance what it runs (nodeinfo) before marking the shop gone. The discovery
    # document is synthetic; the nodeinfo is mastodon.social's, recorded by TootSDK.
    assert ask.url == "http://localhost:3000/.well-known/nodeinfo"
    href = "http://localhost:3000/nodeinfo/2.0"
    links = {"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": href}]}
    _, (doc,) = answer(sp, "parse_nodeinfo_links", links, task, url=ask.url)
    assert doc.url == href
    nodeinfo = (REPO / "tests/data/recorded/nodeinfo/TootSDK__nodeinfo_mastodon.json").read_bytes()
    answer(sp, "parse_nodeinfo", nodeinfo, task, url=href)
    (update,) = store_updates(sp)
    assert "HTTP 404" in (update.inactive_reason or "") and gone.id in sp.stopped_shops
    with session_scope(engine) as s:
        shop = s.get(Shop, found.id)
        assert shop is not None and shop.account_id == "117020565966271181"
        assert shop.display_name == "John Lennon"
        shop = s.get(Shop, gone.id)
        assert shop is not None and not shop.active and "HTTP 404" in shop.inactive_reason
    engine.dispose()


# ---- Bluesky ---------------------------------------------------------------------------------

CDN = "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:ys5aypbbeqmwn42edy5t3sho/"


def test_bluesky_author_feed_of_mkbhd():
    data = raw("bluesky", "DeKoxD-personal-website__mockRes_getAuthorFeed.json")
    task = ShopTask(1, "bluesky", "mkbhd.com", account_id="did:plc:ys5aypbbeqmwn42edy5t3sho")
    items, requests = answer(spider(BlueskySpider), "parse_feed", data, task)
    page = one_page(items)
    at = "at://did:plc:ys5aypbbeqmwn42edy5t3sho/app.bsky.feed.post/"
    web = "https://bsky.app/profile/mkbhd.com/post/"
    expected = [
        (
            "3lsjk7iog322t",
            "2025-06-26T16:27:50.479000+00:00",
            "I’m a simple man",
            ["bafkreigzpu363ka3yynw2423kxulinx6wf6ptyphqr4wxfaf5gpjz2wpya"],
        ),
        (
            "3lr6vyfav5k22",
            "2025-06-09T17:34:08.119000+00:00",
            "iOS 26. Adding WAY more glass",
            [
                "bafkreiebfhcqm5hhdabcdssd7hg3dgpldxykydn4upvhp2xy54smk24cj4",
                "bafkreicbkb4h73y4yjku4l6gmxdaufrfr4lwhe3hmcd4a5kjxszzqukhty",
            ],
        ),
        (
            "3lpcmfkbsbk2v",
            "2025-05-16T18:02:47.911000+00:00",
            "🙏🏾",
            ["bafkreibjv6yymtrlwgnwgk5nrs4gw4qtk6kord2m577fijhhrzu2222tli"],
        ),
        (
            "3lnicr3nq5k2h",
            "2025-04-23T13:35:52.975000+00:00",
            'Today is the 20 year anniversary of the first YouTube upload EVER. "Me at the zoo" '
            "now has 355 million views and over 10 million comments 🎂\n\n"
            "https://www.youtube.com/watch?v=jNQXAC9IVRw",  # shown shortened
            ["bafkreif5edbo45bezrnidzxhni6gqois7fczcqezlsgcp2uo3ssd45q2fy"],
        ),
        (
            "3lmkdtuvm2k2j",
            "2025-04-11T15:35:28.163000+00:00",
            "Soon",
            ["bafkreiazegfumzmutmitxjjlbdnlnjsikmw63hshv3rpw5adej45viwvsy"],
        ),
        (
            "3lmatjhxdzc26",
            "2025-04-07T20:49:21.532000+00:00",
            "I have so many thoughts I didn’t realize I’d have, after trying this minimal phone "
            "AKA Light Phone 3. Maybe worth a video…",
            ["bafkreiduz2ykigau6bt2gj2g7mer3oag3p3tkijmhrsmr2admflqcccgky"],
        ),
        (
            "3llopc3t4522d",
            "2025-03-31T15:45:43.643000+00:00",
            "The idea vs the execution",
            [
                "bafkreifs5syrhbw646xtj2bqjhlavz52hikrtyckteogmvio3566g4dvru",
                "bafkreiai2cbzzaxrauspqfnzm7k2s5mbmlmelzg4fdrla3qgdrane4yqpe",
            ],
        ),
        (
            "3lioxr6uwbc23",
            "2025-02-21T14:01:45.236000+00:00",
            "Confirmed: The OnePlus Watch 3 has a typo in the back: Meda in China 🫠",
            [
                "bafkreidvtaqlfzfcpau3bogjcef4iiohi5cul6rylv6zdpkxvlhlltavvy",
                "bafkreifam6xle4vbaos6vwg5z52qi7xwb2aiu6mnqolu7zykd34nvihtnu",
            ],
        ),
        (
            "3lhjiwbnc7k2y",
            "2025-02-06T16:27:39.434000+00:00",
            "The pear on the computer in the background. It's the little things. If you know, "
            "you know 🤓",
            ["bafkreiasccp5khh3g6slla5rgxk2vwinvr5abrsd3ahi4nsapgpwgj4xli"],
        ),
        (
            "3lgvsssjysc2r",
            "2025-01-29T20:31:25.613000+00:00",
            None,
            ["bafkreibogst5riyngx6yb4oe4tvdn4v5z3nntcodaoti3r3i37ictlygla"],
        ),
        (
            "3lgdxc7klpc2k",
            "2025-01-22T18:03:42.261000+00:00",
            "NEW VIDEO - Hands-on with the Samsung Galaxy S25 series... I swear these are the new "
            "phones, even though they look exactly like last year. Full video: "
            "https://youtu.be/SAb4zRyxrD4",
            ["bafkreiaq3haw7bkfqgg7f57vfq236j754kqpd7bzxud7rmzx62hc5cysui"],
        ),
    ]
    assert [p.network_post_id for p in page.posts] == [at + e[0] for e in expected]
    assert [p.permalink for p in page.posts] == [web + e[0] for e in expected]
    assert [p.posted_at for p in page.posts] == [e[1] for e in expected]
    for post, (_, _, caption, photos) in zip(page.posts, expected, strict=True):
        if caption is not None:
            assert post.caption == caption
        assert post.photo_urls == [f"{CDN}{cid}@jpeg" for cid in photos]
    assert page.posts[9].caption.startswith("I get so many ridiculous dumb emails")
    # 10 text-only, 6 link cards, 2 quotes and 1 video: nothing to label
    assert page.skipped == 19
    assert [r.url for r in requests] == [
        "https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed?"
        "actor=did%3Aplc%3Ays5aypbbeqmwn42edy5t3sho&filter=posts_with_media&limit=50"
        "&cursor=2025-01-09T16%3A54%3A06.992Z"
    ]


def test_bluesky_quote_with_media_and_empty_text():
    thread = raw("bluesky", "MarshalX-atproto__thread_view_post_with_embed_media.json")
    task = ShopTask(1, "bluesky", "test.marshal.dev", account_id="did:plc:kvwvcn5iqfooopmyzvb4qzba")
    items, _ = answer(
        spider(BlueskySpider), "parse_feed", {"feed": [{"post": thread["thread"]["post"]}]}, task
    )
    page = one_page(items)
    assert [brief(p) for p in page.posts] == [
        (
            "at://did:plc:kvwvcn5iqfooopmyzvb4qzba/app.bsky.feed.post/3kaheyt6vpc22",
            "2023-09-28T12:49:36.735000+00:00",
            "https://bsky.app/profile/test.marshal.dev/post/3kaheyt6vpc22",
            "",
        )
    ]
    assert page.posts[0].photo_urls == [
        "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:kvwvcn5iqfooopmyzvb4qzba/"
        "bafkreic3cp5ky525vsukjvrzxsc2h3jka2gud74l2hgeatw2rhj2qycnmq@jpeg"
    ]


# ---- Shopify ---------------------------------------------------------------------------------


def test_shopify_products_of_a_real_store():
    data = raw("shopify", "localboxes-shopify__products.json")
    task = ShopTask(1, "shopify", "annies", base_url="https://annies.test")
    items, requests = answer(spider(ShopifySpider), "parse_products", data, task, page=1)
    page = one_page(items)
    assert requests == [] and page.final  # 17 products < 250: the only page
    assert len(page.posts) == 17 and page.skipped == 0
    by_id = {p.network_post_id: p for p in page.posts}
    eggs = by_id["7163975041219"]
    assert (eggs.title, eggs.price, eggs.vendor, eggs.caption) == (
        "Organic Eggs ( 6)",
        "3.00",
        "Annie's Organic Farm",
        "6 Irish organic eggs from Trim Co Meath.",
    )  # the vendor is recorded with a trailing space
    assert eggs.permalink == "https://annies.test/products/organic-eggs-6"
    assert eggs.posted_at == "2022-02-21T20:10:12+00:00"  # recorded 21:10:12+01:00
    box = by_id["7184716955843"]
    assert box.posted_at == "2022-03-08T20:09:19+00:00"  # recorded 2022-03-08T21:09:19+01:00
    assert box.caption.startswith(
        "Introducing our new box!\n\nDesigned for 1- 2 person households.\n\n"
        "A mix of fruit and veg essentials to get you through the week.\n\n"
        "Eg Potatoes, Carrots, Parsnip, Onions, Broccoli & Garlic ,Cauliflower,"
    )
    assert by_id["4736068288575"].posted_at == "2020-08-08T17:01:53+00:00"  # +02:00
    salad = by_id["9163003474"]
    assert salad.caption == (
        "Annie's Farm Salad & Herb bag 100g x 2\n1x Organic Rocket\n1x Organic Beetroot\n"
        "Organic Carrots\nOrganic Spinach Bag\nOrganic Tomatoes\nOrganic Cucumber\n"
        "Organic Avacado\nHerbs & edible flowers (seasonal)\nRadish\n\n"
        "Contents may vary depending on availability"
    )  # a <ul> of items, &amp; decoded
    raw_salad = next(p for p in data["products"] if p["id"] == 9163003474)
    assert (
        salad.photo_urls
        == [i["src"] for i in sorted(raw_salad["images"], key=lambda i: i["position"])]
        and len(salad.photo_urls) == 9
    )
    assert sum(len(p.photo_urls) for p in page.posts) == 29
    for post in page.posts:
        assert (
            "&amp;" not in post.caption and "&nbsp;" not in post.caption and "<" not in post.caption
        )
        assert post.vendor == post.vendor.strip() and post.posted_at.endswith("+00:00")
