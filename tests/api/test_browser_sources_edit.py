"""The Sources page in a real Chromium: a source edited there (sort, time window, interval, stream,
enabled) is changed as shown, an edit into another source's listing is refused in words, and a source
removed there is gone; the dashboard shows a failing source's reasons and retries it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from memethresher_shared import tasks
from memethresher_shared.db import session_scope
from memethresher_shared.models import Post, Source, utcnow
from memethresher_shared.sources import add_source

from tests.api.test_browser import page, server  # noqa: F401 - the browser and the app, as there
from tests.support.queues import queued_tasks

pytest.importorskip("playwright")
from playwright.sync_api import Page  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def _row(tab: Page, source_id: int) -> str:
    selector = f"tr[data-source-id='{source_id}']"
    tab.wait_for_selector(selector)
    return tab.locator(selector).inner_text()


def test_a_source_is_edited_and_removed_on_the_page(env, page: Page) -> None:  # type: ignore[no-untyped-def] # noqa: F811
    with session_scope() as session:
        memes = add_source(session, "reddit", "r/memes").id
        lemmy = add_source(session, "lemmy", "memes@lemmy.ml").id
        twin = add_source(session, "reddit", "r/memes", sort="controversial", time="week").id
    page.goto("/sources")
    assert "memes@lemmy.ml" in _row(page, lemmy)

    page.locator(f"tr[data-source-id='{memes}'] button", has_text="Edit").click()
    assert page.locator("#edit-time").is_hidden()  # "new" has no time window
    page.select_option("#edit-sort", "controversial")
    page.select_option("#edit-time", "week")
    page.fill("#edit-interval", "600")
    page.click("#edit-save")
    page.wait_for_function("document.getElementById('edit-error').textContent !== ''")
    assert f"source #{twin} is already that listing" in page.locator("#edit-error").inner_text()

    page.select_option("#edit-time", "month")
    page.check("#edit-stream")
    page.uncheck("#edit-enabled")
    page.click("#edit-save")
    page.wait_for_function("document.getElementById('edit-source').hidden")
    page.wait_for_function(f"document.querySelector(\"tr[data-source-id='{memes}']\")?.innerText.includes('600 s')")
    row = _row(page, memes)
    assert "controversial, month" in row and "stream" in row and "no" in row.split("\t")
    with session_scope() as session:
        source = session.get(Source, memes)
        assert source is not None
        assert (source.sort, source.time_window, source.interval_s, source.enabled) == (
            "controversial",
            "month",
            600,
            False,
        )
        assert source.options == {"stream": True}

    page.locator(f"tr[data-source-id='{lemmy}'] button", has_text="Edit").click()
    assert page.locator("#edit-sort option", has_text="rising").is_hidden()  # Lemmy has no rising
    page.click("#edit-cancel")

    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(f"tr[data-source-id='{lemmy}'] button", has_text="Remove").click()
    page.wait_for_function(f"document.querySelector(\"tr[data-source-id='{lemmy}']\") === null")
    with session_scope() as session:
        assert session.get(Source, lemmy) is None and session.get(Source, memes) is not None


def test_the_dashboard_shows_a_source_that_failed_and_retries_it(env, page: Page, redis_conn) -> None:  # type: ignore[no-untyped-def] # noqa: F811
    with session_scope() as session:
        source = add_source(session, "reddit", "r/memes")
        source.last_crawl_at = utcnow()
        source.last_result = {"error": "ListingError: listing /r/memes/new.json failed after 6 tries: HTTP 503",
                              "image_failures": {"http_404": 2, "timeout": 1}}  # fmt: skip
        session.flush()
        session.add(Post(source_id=source.id, key="t3_slow", title="a slow meme", skip_reason="timed out",
                         retry_at=utcnow() + timedelta(hours=1)))  # fmt: skip
        source_id = source.id
    page.goto("/dashboard")
    row = page.locator(f"#crawl-failures tr[data-source-id='{source_id}']")
    row.wait_for()
    text = row.inner_text()
    assert "crawl failed: ListingError: listing /r/memes/new.json failed after 6 tries: HTTP 503" in text
    assert "3 images not downloaded (2 HTTP 404, 1 timed out)" in text
    assert '1 posts waiting to be fetched again. For example "a slow meme": timed out' in text
    row.locator("button", has_text="Retry").click()
    page.wait_for_function("document.getElementById('toast').textContent.includes('queued')")
    assert "1 waiting posts fetched again" in page.locator("#toast").inner_text()
    assert queued_tasks(redis_conn, tasks.CRAWL_QUEUE) == [(tasks.CRAWL_SOURCE, [source_id])]
