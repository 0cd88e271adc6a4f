"""Reddit access on the pages, in a real Chromium against the API served by uvicorn and a real crawler
worker: a shut door in the Sources list and on the dashboard with what to do, and the check of every door
asked from the Sources page and answered by the worker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from memethresher_crawler.crawl import crawl_source
from memethresher_crawler.settings import get_crawler_settings
from memethresher_shared import tasks
from memethresher_shared.db import session_scope
from memethresher_shared.sources import add_source

from tests.api.helpers import Server
from tests.support import reddit_posts as rp
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
EXPIRED = {"MEMETHRESHER_REDDIT_ACCESS": "session", "MEMETHRESHER_REDDIT_COOKIE": "reddit_session=expired"}


@contextmanager
def browser_page(server: Server) -> Iterator[Page]:
    """Chromium on the served API; opened after the crawls, which run their own event loop."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is needed: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser.new_page(viewport={"width": 1280, "height": 900}, base_url=server.url)
        browser.close()


def test_a_shut_door_and_the_check_on_the_pages(reddit_env, fake_reddit: FakeReddit, monkeypatch, start_worker) -> None:  # type: ignore[no-untyped-def]
    image = fake_reddit.add_image("one.jpg", image_bytes("JPEG", (8, 8)))
    fake_reddit.add_posts("memes", [rp.post(n, image) for n in range(6)])
    with session_scope() as session:
        source = add_source(session, "reddit", "r/memes").id
    for name, value in EXPIRED.items():
        monkeypatch.setenv(name, value)
    get_crawler_settings.cache_clear()
    assert crawl_source(source)["refusal"]["kind"] == "network_security"
    start_worker("memethresher_crawler.tasks", tasks.CRAWL_QUEUE, {**reddit_env.vars, **EXPIRED}, name="checker")
    with Server(reddit_env.vars, reddit_env.root / "uvicorn.log") as server, browser_page(server) as page:
        _check_pages(page, source)


def _check_pages(page: Page, source: int) -> None:
    page.goto("/sources")
    row = page.locator(f"#source-list tr[data-source-id='{source}']")
    expect(row).to_contain_text("Reddit refused the session request: Reddit blocked the request by network security")
    expect(row).to_contain_text("What to do: export your cookies again")
    expect(page.locator("#reddit-checked")).to_have_text("not checked yet")

    page.click("#check-reddit")
    oauth, session, feed = (page.locator(f"#reddit-check tr[data-mode='{m}']") for m in ("oauth", "session", "feed"))
    expect(oauth).to_contain_text("works", timeout=30_000)
    expect(oauth).to_contain_text("100 listing requests a minute")
    expect(session).to_contain_text("refused")
    expect(session).to_contain_text("used by crawls now")
    expect(feed).to_contain_text("works")
    expect(page.locator("#reddit-checked")).to_contain_text("against r/memes")

    page.goto("/dashboard")
    expect(page.locator("#refusals")).to_contain_text(f"#{source} r/memes")
    expect(page.locator("#refusals")).to_contain_text("home connection rather than a cloud IP")
