"""Vitrina's crawler: a Scrapy project (settings, items, pipelines, middlewares, spiders) and
the local emulator of the four APIs it reads (crawler.emulator). Entry point: crawler.run.crawl."""
