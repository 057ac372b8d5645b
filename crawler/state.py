"""Crawl state kept in `shops.crawl_state`, advanced one committed page at a time.

A *pass* walks a shop's feed from the newest post down to the watermark. Pages may be stored out
of order (photos of one page download faster than another's, or another process stored it), so
the resume point only moves over an unbroken run of stored pages, and the watermark only moves
when the whole pass is stored. Killing the crawl at any moment therefore loses nothing: the next
run resumes at the first page not stored, and re-storing a page is a no-op (idempotent writes).

    {"watermark_key": "...",                       # newest post of the last finished pass
     "pass": {"stop_key": "...", "done": 3,        # pages 0..3 are stored
              "cursor": "...", "ahead": {"5": ...}, # resume point; pages stored out of order
              "top": {"id","key","at"}, "posts": 120, "final_seq": null}}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PageResult:
    state: dict[str, Any]
    finished: bool  # the pass is complete: move the watermark to `top`
    top: dict[str, str] | None


def _newer(a: dict[str, str] | None, b: dict[str, str] | None) -> dict[str, str] | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if b["key"] > a["key"] else a


def commit_page(
    state: dict[str, Any],
    *,
    seq: int,
    cursor: str | None,
    final: bool,
    top: dict[str, str] | None,
    stop_key: str,
    posts: int,
) -> PageResult:
    """The crawl state after page `seq` of the current pass has been stored."""
    state = dict(state)
    p = dict(
        state.get("pass")
        or {
            "stop_key": stop_key,
            "done": -1,
            "cursor": None,
            "ahead": {},
            "top": None,
            "posts": 0,
            "final_seq": None,
        }
    )
    ahead = dict(p.get("ahead") or {})
    p["top"] = _newer(p.get("top"), top)
    p["posts"] = int(p.get("posts", 0)) + posts
    if final:
        p["final_seq"] = seq
    if seq > p["done"]:
        ahead[str(seq)] = cursor
    while str(p["done"] + 1) in ahead:
        p["done"] += 1
        p["cursor"] = ahead.pop(str(p["done"]))
    p["ahead"] = ahead
    if p["final_seq"] is not None and p["done"] >= p["final_seq"]:
        new = {k: v for k, v in state.items() if k != "pass"}
        finished_top = p["top"]
        if finished_top is not None:
            new["watermark_key"] = max(finished_top["key"], state.get("watermark_key", ""))
        return PageResult(new, True, finished_top)
    state["pass"] = p
    return PageResult(state, False, None)


@dataclass(frozen=True)
class StartPoint:
    """Where a shop's crawl starts this run."""

    seq: int
    cursor: str | None  # None: from the newest post
    stop_key: str
    posts_so_far: int


def start_point(state: dict[str, Any]) -> StartPoint:
    p = state.get("pass")
    if p and p.get("done", -1) >= 0 and p.get("cursor"):
        return StartPoint(p["done"] + 1, p["cursor"], p.get("stop_key", ""), p.get("posts", 0))
    return StartPoint(0, None, state.get("watermark_key", ""), 0)
