"""Pixelfed and GoToSocial through the Mastodon spider: their recorded answers parsed exactly
(tests/data/recorded, see its PROVENANCE.md), the way each finds an account, pages and wants a
token, and whole crawls against the emulator in each flavour over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from catalog.config import ConfigError, Settings, load_settings, shop_problems
from catalog.models import Photo, Post, Shop
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.server import ACCESS_TOKEN, EmulatorServer
from crawler.items import PageItem, ShopUpdate
from crawler.report import CrawlReport
from crawler.run import crawl_subprocess
from crawler.spiders.base import ShopTask
from crawler.spiders.mastodon import MastodonSpider
from tests.support.common import REPO
from tests.support.crawl import rows

DATA = REPO / "tests" / "data" / "recorded"
NODEINFO_LINKS = {  # synthetic: the discovery document (PROVENANCE.md)
    "links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": ""}]
}


def recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def spider(**instances: dict[str, str]) -> MastodonSpider:
    settings = Settings()
    settings.networks.mastodon = settings.networks.mastodon.model_validate({"instances": instances})
    crawler = get_crawler(
        MastodonSpider,
        {"VITRINA_SETTINGS": settings, "VITRINA_MAX_POSTS_PER_SHOP": 1000, "RETRY_TIMES": 0},
    )
    return MastodonSpider.from_crawler(crawler, report=CrawlReport())


def answer(
    sp: MastodonSpider,
    callback: str,
    body: Any,
    task: ShopTask,
    url: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> tuple[list[PageItem], list[Request], list[ShopUpdate]]:
    request = Request(url, meta={"task": task, "seq": 0})
    data = json.dumps(body).encode()
    response = TextResponse(url, status=status, body=data, headers=headers, request=request)
    out = list(getattr(sp, callback)(response))
    return (
        [o for o in out if isinstance(o, PageItem)],
        [o for o in out if isinstance(o, Request)],
        [o for o in out if isinstance(o, ShopUpdate)],
    )


# ---- Pixelfed, recorded ----------------------------------------------------------------------


def test_pixelfed_statuses_of_pixelfed_de_exact_and_paged_by_max_id():
    statuses = recorded("pixelfed/PixelDroid__MockServer_feedJson.json")
    sp = spider(pf={"url": "https://pixelfed.de", "kind": "pixelfed", "access_token": "tok-1234"})
    task = ShopTask(1, "mastodon", "Miike", base_url="https://pixelfed.de", account_id="1")
    url = "https://pixelfed.de/api/v1/accounts/1/statuses?limit=40&only_media=true"
    (page,), requests, _ = answer(sp, "parse_statuses", statuses, task, url)
    assert [
        (p.network_post_id, p.posted_at, p.permalink, p.caption, p.tags) for p in page.posts
    ] == [
        (
            "140364967936397312",
            "2020-03-03T08:00:16+00:00",
            "https://pixelfed.de/p/Miike/140364967936397312",
            "@dante",
            ["hiking", "nature", "rotavicentina"],
        ),
        (
            "140349785193451520",
            "2020-03-03T06:59:56+00:00",
            "https://pixelfed.de/p/stephan/140349785193451520",
            "#salvador",
            [],
        ),
        (
            "140276879742603264",
            "2020-03-03T02:10:14+00:00",
            "https://pixelfed.de/p/fegrimaldi/140276879742603264",
            "february 2 is the day to give flowers to Iemanjá. #salvador #bahia #brazil #iemanja",
            ["salvador", "bahia", "brazil", "iemanja"],
        ),
    ]
    store = "https://pixelfed.de/storage/m/113a3e2124a33b1f5511e531953f5ee48456e0c7/"
    assert [p.photo_urls for p in page.posts] == [  # the originals, never the _thumb previews
        [
            store
            + "34dd6d9fb1762dac8c7ddeeaf789d2d8fa083c9f/JtjO0eAbELpgO1UZqF5ydrKbCKRVyJUM1WAaqIeB"
            + ".jpeg"
        ],
        [
            store
            + "a1349f5183c2bac7d52880e8f5188df0f3b2d62a/mvT3nYV6Wdu42Xh56Ny4VYaWU0OzbnC3wjxiqnKS"
            + ".jpeg"
        ],
        [
            store
            + "feb878b4bd60b85ac840670c6b9c809fd76b628b/lYMrx0WF8LDqn0vTRgNJaRs7stMKtAXrgzpMrWEr"
            + ".jpeg"
        ],
    ]
    # No Link header (Pixelfed never sends one): the next page is asked by max_id, with the token
    assert not page.final and [r.url for r in requests] == [url + "&max_id=140276879742603264"]
    assert requests[0].headers["Authorization"] == b"Bearer tok-1234"
    # an empty page ends the pass
    (last,), requests, _ = answer(sp, "parse_statuses", [], task, requests[0].url)
    assert last.final and requests == []


def test_pixelfed_account_found_by_search_with_the_token():
    sp = spider(
        pf={"url": "https://pixelfed.social", "kind": "pixelfed", "access_token": "tok-1234"}
    )
    task = ShopTask(1, "mastodon", "technicat@pixelfed.social", base_url="https://pixelfed.social")
    (first,) = sp.first_requests(task)
    assert first.url == "https://pixelfed.social/api/v1/accounts/search?q=technicat&limit=40"
    assert first.headers["Authorization"] == b"Bearer tok-1234"
    account = recorded("pixelfed/TootSDK__account_pixelfed.json")
    other = dict(account, id="1", acct="technicat_fan", username="technicat_fan")
    _, requests, (update,) = answer(sp, "parse_search", [other, account], task, first.url)
    assert update.account_id == "569707951076919035"
    assert update.profile == {
        "display_name": "Technicat",
        "profile_url": "https://pixelfed.social/technicat",
    }
    assert [r.url for r in requests] == [
        "https://pixelfed.social/api/v1/accounts/569707951076919035/statuses"
        "?limit=40&only_media=true&exclude_replies=true&exclude_reblogs=true"
    ]
    # no exact match among fewer than the 40 asked: the account is gone
    gone = ShopTask(2, "mastodon", "nobody", base_url="https://pixelfed.social")
    _, requests, (update,) = answer(sp, "parse_search", [other], gone, first.url)
    assert requests == [] and "account search" in (update.inactive_reason or "")


def test_an_undeclared_instance_is_asked_its_software_before_a_shop_is_marked_gone():
    sp = spider()
    task = ShopTask(1, "mastodon", "technicat", base_url="https://pixelfed.social")
    lookup = "https://pixelfed.social/api/v1/accounts/lookup?acct=technicat"
    # Pixelfed's `accounts/{id}` route answers /accounts/lookup like a missing account
    _, (ask,), updates = answer(
        sp, "parse_account", {"error": "Record not found"}, task, lookup, status=404
    )
    assert updates == [] and ask.url == "https://pixelfed.social/.well-known/nodeinfo"
    links = {
        "links": [
            dict(NODEINFO_LINKS["links"][0], href="https://pixelfed.social/api/nodeinfo/2.0.json")
        ]
    }
    _, (doc,), _ = answer(sp, "parse_nodeinfo_links", links, task, ask.url)
    assert doc.url == "https://pixelfed.social/api/nodeinfo/2.0.json"
    _, (search,), _ = answer(
        sp, "parse_nodeinfo", recorded("nodeinfo/TootSDK__nodeinfo_pixelfed.json"), task, doc.url
    )
    assert search.url == "https://pixelfed.social/api/v1/accounts/search?q=technicat&limit=40"
    assert "Authorization" not in search.headers  # no token configured for it
    # a Mastodon instance's 404 is a missing account, once its nodeinfo says so
    masto = ShopTask(2, "mastodon", "gone", base_url="https://mastodon.social")
    url = "https://mastodon.social/api/v1/accounts/lookup?acct=gone"
    _, (ask,), _ = answer(
        sp, "parse_account", {"error": "Record not found"}, masto, url, status=404
    )
    nodeinfo = recorded("nodeinfo/TootSDK__nodeinfo_mastodon.json")
    _, requests, (update,) = answer(
        sp, "parse_nodeinfo", nodeinfo, masto, "https://mastodon.social/nodeinfo/2.0"
    )
    assert requests == [] and "HTTP 404" in (update.inactive_reason or "")
    # a discovery document pointing at another host is not followed
    elsewhere = {"links": [dict(NODEINFO_LINKS["links"][0], href="https://evil.example/nodeinfo")]}
    third = ShopTask(3, "mastodon", "x", base_url="https://unknown.example")
    _, requests, updates = answer(
        sp, "parse_nodeinfo_links", elsewhere, third, "https://unknown.example/.well-known/nodeinfo"
    )
    assert requests == [] and updates == []
    assert any("set [networks.mastodon] kind" in e for e in sp.report.shops["mastodon:x"].errors)


# ---- GoToSocial, recorded --------------------------------------------------------------------


def test_gotosocial_status_ulids_and_link_header():
    status = recorded("gotosocial/gotosocial__internaltofrontend_test__TestStatusToFrontend.json")
    link = (
        (DATA / "gotosocial/gotosocial__statuses_test__TestGetStatusesPublicOnlyMediaOnly.link.txt")
        .read_text()
        .strip()
    )
    sp = spider(gts={"url": "http://localhost:8080", "access_token": "tok-5678"})
    task = ShopTask(
        1,
        "mastodon",
        "admin",
        base_url="http://localhost:8080",
        account_id="01F8MH17FWEB39HZJ76B6VXSKF",
    )
    url = "http://localhost:8080/api/v1/accounts/01F8MH17FWEB39HZJ76B6VXSKF/statuses?limit=20&only_media=true"
    (page,), (nxt,), _ = answer(sp, "parse_statuses", [status], task, url, headers={"Link": link})
    (post,) = page.posts
    assert (post.network_post_id, post.posted_at, post.permalink, post.caption, post.tags) == (
        "01F8MH75CBF9JFX4ZAD54N0W0R",
        "2021-10-20T11:36:45+00:00",
        "http://localhost:8080/@admin/statuses/01F8MH75CBF9JFX4ZAD54N0W0R",
        "hello world! #welcome ! first post on the instance :rainbow: !",
        ["welcome"],
    )
    assert post.photo_urls == [  # the original, not the `small` preview
        "http://localhost:8080/fileserver/01F8MH17FWEB39HZJ76B6VXSKF/attachment/original/"
        "01F8MH6NEM8D7527KZAECTCR76.jpg"
    ]
    assert nxt.url.startswith(
        "http://localhost:8080/api/v1/accounts/01F8MH17FWEB39HZJ76B6VXSKF/statuses?limit=20&max_id=01F8MH75CBF9JFX4ZAD54N0W0R"
    )
    assert nxt.headers["Authorization"] == b"Bearer tok-5678"
    assert page.top is not None and page.top["id"] == "01F8MH75CBF9JFX4ZAD54N0W0R"
    # the watermark goes back as given: its leading 0 stays
    later = ShopTask(
        1,
        "mastodon",
        "admin",
        base_url="http://localhost:8080",
        account_id="01F8MH17FWEB39HZJ76B6VXSKF",
        stop_key=page.top["key"],
        watermark_id=page.top["id"],
    )
    assert "since_id=01F8MH75CBF9JFX4ZAD54N0W0R" in sp.statuses_request(later).url


def test_gotosocial_lookup_keeps_the_leading_zero_and_the_token_stays_home():
    account = recorded("gotosocial/TootSDK__instancev2_gotosocial.json")["contact"]["account"]
    sp = spider(
        gts={"url": "https://social.browser.org", "kind": "gotosocial", "access_token": "tok-5678"}
    )
    task = ShopTask(1, "mastodon", "placeholder", base_url="https://social.browser.org")
    (lookup,) = sp.first_requests(task)
    assert lookup.url == "https://social.browser.org/api/v1/accounts/lookup?acct=placeholder"
    _, (statuses,), (update,) = answer(sp, "parse_account", account, task, lookup.url)
    assert update.account_id == "017MQHX7FAW3VSDAQ8TZ9Z2DB2"
    assert "/accounts/017MQHX7FAW3VSDAQ8TZ9Z2DB2/statuses?" in statuses.url
    # a Link header naming another host gets no token
    other = sp.api_request("https://elsewhere.example/api/v1/x", task, sp.parse_statuses, seq=1)
    assert "Authorization" not in other.headers


def test_a_refusal_stops_that_instance_only_and_says_what_to_set():
    sp = spider()
    tasks = [
        ShopTask(1, "mastodon", "a", base_url="https://gts.example"),
        ShopTask(2, "mastodon", "b", base_url="https://gts.example"),
        ShopTask(3, "mastodon", "c", base_url="https://mastodon.social"),
    ]
    sp.tasks = tasks
    for t in tasks:
        sp.report.shop(t.key)
    body = {"error": "Unauthorized: token not supplied"}
    for t in tasks[:2]:
        answer(
            sp,
            "parse_account",
            body,
            t,
            f"https://gts.example/api/v1/accounts/lookup?acct={t.handle}",
            status=401,
        )
    assert {k: r.status for k, r in sp.report.shops.items()} == {
        "mastodon:a": "auth",
        "mastodon:b": "auth",
        "mastodon:c": "ok",
    }
    (message,) = sp.report.errors  # once for the instance
    assert "https://gts.example refused the request (HTTP 401" in message
    assert "Unauthorized: token not supplied" in message and "access_token" in message


# ---- config ----------------------------------------------------------------------------------


def test_instance_config_keys_env_token_and_mistakes(tmp_path: Path):
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[networks.mastodon]\nkind = "auto"\n\n'
        '[networks.mastodon.instances.pixelfed_social]\nurl = "https://Pixelfed.social/"\n'
        'kind = "pixelfed"\n',
        encoding="utf-8",
    )
    env = {"VITRINA_NETWORKS__MASTODON__INSTANCES__PIXELFED_SOCIAL__ACCESS_TOKEN": "secret-tok"}
    settings = load_settings(cfg, environ=env)
    masto = settings.networks.mastodon
    assert masto.instance("https://pixelfed.social").access_token == "secret-tok"  # type: ignore[union-attr]
    assert masto.kind_of("https://pixelfed.social") == "pixelfed"
    assert (
        masto.kind_of("https://mastodon.social") == "auto"
        and masto.instance("https://mastodon.social") is None
    )
    cfg.write_text(
        '[networks.mastodon.instances.x]\nurl = "pixelfed.social"\nkind = "friendica"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, environ={})
    text = str(err.value)
    assert "networks.mastodon.instances.x.url" in text and "base URL" in text
    assert "networks.mastodon.instances.x.kind" in text
    cfg.write_text(
        '[networks.mastodon.instances.a]\nurl = "https://gts.example"\n'
        '[networks.mastodon.instances.b]\nurl = "https://gts.example/"\n',
        encoding="utf-8",
    )
    (problem,) = shop_problems(load_settings(cfg, environ={}))
    assert "gts.example is already [networks.mastodon.instances.a]" in str(problem)


# ---- whole crawls against the emulator, each flavour -----------------------------------------


def _config(
    tmp_path: Path,
    db_url: str,
    emus: list[EmulatorServer],
    shops: list[tuple[str, str]],
    extra: str = "",
) -> Path:
    hosts = ", ".join(f'"{e.host}:{e.port}"' for e in emus)
    text = (
        f'[database]\nurl = "{db_url}"\n\n[storage]\nmedia_dir = "{tmp_path / "media"}"\n\n'
        f"[crawler]\nallowed_private_hosts = [{hosts}]\n"
        "retry_backoff = 0.05\nautothrottle = false\n\n"
        "[networks.mastodon]\npage_size = 4\n\n" + extra
    )
    for handle, url in shops:
        text += f'[[shops]]\nnetwork = "mastodon"\nhandle = "{handle}"\nurl = "{url}"\n\n'
    cfg = tmp_path / "config.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def _catalogue(handle: str, seed: int) -> Catalogue:
    cat = Catalogue(seed=seed)
    cat.add_shop("mastodon", handle)
    cat.add_posts("mastodon", handle, 9, 1)
    return cat


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["pixelfed", "gotosocial"])
def test_a_whole_crawl_of_each_flavour_then_an_incremental_one(
    tmp_path: Path, sqlite_url: str, flavour: str
):
    cat = _catalogue("fl_shop", 21)
    with EmulatorServer(cat, flavour=flavour, image_size=(200, 250)) as emu:
        token = (
            f'[networks.mastodon.instances.here]\nurl = "{emu.base_url}"\n'
            f'access_token = "{ACCESS_TOKEN}"\n\n'
        )
        cfg = _config(tmp_path, sqlite_url, [emu], [("fl_shop", emu.base_url)], token)  # kind: auto
        first = crawl_subprocess(cfg)
        assert first.status == "ok", first
        posts = rows(sqlite_url, Post)
        assert len(posts) == 9 and len(rows(sqlite_url, Photo)) == 9
        if flavour == "gotosocial":
            assert all(p.network_post_id.startswith("0") for p in posts)  # ULIDs, zeros kept
        api = [path for kind, path, _ in emu.requests if kind == "api"]
        # Pixelfed's lookup 404 makes the spider ask what it runs; GoToSocial's lookup works
        asked = [path for path in api if path.startswith("/.well-known/nodeinfo")]
        assert len(asked) == (1 if flavour == "pixelfed" else 0), api
        assert not any("_thumb" in path for kind, path, _ in emu.requests)  # no preview fetched
        emu.reset_counts()
        emu.add_posts("mastodon", "fl_shop", 2, 1)
        again = crawl_subprocess(cfg)
        assert again.status == "ok" and again.shops["mastodon:fl_shop"].new_posts == 2
        statuses = [path for kind, path, _ in emu.requests if kind == "api"]
        # the account is known: no lookup, no nodeinfo; two new posts fit on the first page
        assert len(statuses) == 1 and "/statuses?" in statuses[0], statuses
    shop = rows(sqlite_url, Shop)[0]
    assert shop.watermark == max(p.network_post_id for p in rows(sqlite_url, Post))


@pytest.mark.slow
def test_without_a_token_the_pixelfed_shop_stops_and_a_mastodon_shop_goes_on(
    tmp_path: Path, sqlite_url: str
):
    with (
        EmulatorServer(_catalogue("pf_shop", 22), flavour="pixelfed", image_size=(200, 250)) as pf,
        EmulatorServer(_catalogue("masto_shop", 23), image_size=(200, 250)) as masto,
    ):
        cfg = _config(
            tmp_path,
            sqlite_url,
            [pf, masto],
            [("pf_shop", pf.base_url), ("masto_shop", masto.base_url)],
        )
        summary = crawl_subprocess(cfg)
        assert summary.shops["mastodon:pf_shop"].status == "auth"
        assert summary.shops["mastodon:masto_shop"].status == "ok"
        assert summary.shops["mastodon:masto_shop"].new_posts == 9
        (message,) = [e for e in summary.run_errors if pf.base_url in e]
        assert "HTTP 401" in message and "Unauthenticated." in message and "access_token" in message
        # no token was sent anywhere (none configured), and none reached the Mastodon emulator
    assert len(rows(sqlite_url, Post)) == 9


def test_a_refused_token_is_named_but_never_shown():
    sp = spider(pf={"url": "https://pixelfed.social", "access_token": "tok-secret-9876"})
    task = ShopTask(1, "mastodon", "a", base_url="https://pixelfed.social")
    sp.tasks = [task]
    (request,) = sp.first_requests(task)
    assert request.headers["Authorization"] == b"Bearer tok-secret-9876"
    answer(sp, "parse_account", {"message": "Unauthenticated."}, task, request.url, status=401)
    (message,) = sp.report.errors
    assert "its access token was refused" in message and "tok-secret-9876" not in message
