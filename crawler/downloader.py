"""Scrapy's downloader, with its per-slot concurrency enforced (the DOWNLOADER setting).

Scrapy 2.19 starts each download as an asyncio task that marks the request as transferring only
once the task runs. `_process_queue` meanwhile checks the slot's free transfer places in a loop,
sees them all still free and starts every queued request at once: the photos of a page (queued
together by the FilesPipeline) went out 100 at a time whatever `concurrency` said, each on a new
connection. Marking the request before the task is created keeps the limit, and lets the
connection pool reuse its keep-alive connections.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.core.downloader import Downloader as ScrapyDownloader
from scrapy.core.downloader import Slot


class Downloader(ScrapyDownloader):
    def _wait_for_download(self, slot: Slot, request: Request, queue_dfd: Any) -> Any:
        slot.transferring.add(request)  # _download adds it again (a set) and removes it
        return super()._wait_for_download(slot, request, queue_dfd)
