"""The Sources page in a real Chromium: a folder added there with watch on is crawled again and again by a
real crawler worker, so a file dropped into it later becomes a meme; the same listing added twice is
"already there"."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from memethresher_crawler.crawl import crawl_due_sources
from memethresher_shared import tasks
from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme, Post, PostMeme, Source, utcnow
from sqlalchemy import func, select

from tests.api.test_browser import page, server  # noqa: F401 - the browser and the app, as there
from tests.conftest import wait_until
from tests.support.images import image_bytes

pytest.importorskip("playwright")
from playwright.sync_api import Page  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def _memes_of(source_id: int) -> int:
    with session_scope() as session:
        query = select(func.count(PostMeme.meme_id)).join(Post).where(Post.source_id == source_id)
        return session.scalar(query) or 0


def _an_interval_passes(source_id: int) -> None:
    """As if the source's interval had passed since its last crawl (the beat then finds it due)."""
    with session_scope() as session:
        source = session.get(Source, source_id)
        assert source is not None and source.last_crawl_at is not None
        source.last_crawl_at = utcnow() - timedelta(seconds=source.interval_s + 1)


def _add_folder(tab: Page, folder: Path, watch: bool) -> str:
    """Fill in the form as a person would; the page's answer ("added: #3 folder …", "already there: …")."""
    tab.evaluate("document.getElementById('source-added').textContent = ''")
    tab.select_option("#source-kind", "folder")
    tab.fill("input[name=target]", str(folder))
    tab.fill("input[name=interval_s]", "60")
    if watch:
        tab.check("input[name=watch]")
    tab.click("#add-source button")
    tab.wait_for_function("document.getElementById('source-added').textContent !== ''")
    return tab.locator("#source-added").inner_text()


def test_a_watched_folder_added_on_the_page_imports_files_dropped_in_later(  # type: ignore[no-untyped-def]
    env,
    page: Page,  # noqa: F811 - the imported fixture
    start_worker,
    tmp_path: Path,
) -> None:
    watched, once = tmp_path / "watched", tmp_path / "once"
    for seed, folder in enumerate((watched, once)):
        folder.mkdir()
        (folder / "first.png").write_bytes(image_bytes("PNG", seed=seed))
    page.goto("/sources")
    assert page.locator("input[name=watch]").is_hidden()  # a Reddit option set is shown first
    assert _add_folder(page, watched, watch=True).startswith("added: #")
    assert _add_folder(page, once, watch=False).startswith("added: #")
    assert _add_folder(page, watched, watch=True).startswith("already there: #")
    with session_scope() as session:
        rows = {s.target: s for s in session.scalars(select(Source).where(Source.kind == "folder"))}
    watched_id, once_id = rows[str(watched)].id, rows[str(once)].id
    assert rows[str(watched)].options == {"watch": True} and rows[str(watched)].interval_s == 60
    assert rows[str(once)].options == {"watch": False}
    page.wait_for_function(f"document.querySelector('tr[data-source-id=\"{watched_id}\"]') !== null")
    assert "watched" in page.locator(f"tr[data-source-id='{watched_id}']").inner_text()

    start_worker("memethresher_crawler.tasks", tasks.CRAWL_QUEUE, env.vars)
    assert {watched_id, once_id} <= set(crawl_due_sources())  # what the beat runs every minute
    wait_until(lambda: _memes_of(watched_id) == 1 and _memes_of(once_id) == 1, timeout_s=60, message="first crawls")

    (watched / "dropped later.png").write_bytes(image_bytes("PNG", seed=4242))
    (once / "dropped later.png").write_bytes(image_bytes("PNG", seed=4343))
    for source_id in (watched_id, once_id):
        _an_interval_passes(source_id)
    due = crawl_due_sources()
    assert watched_id in due and once_id not in due  # a folder not watched is imported once
    wait_until(lambda: _memes_of(watched_id) == 2, timeout_s=60, message="the dropped file to become a meme")
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Meme)) == 3
    page.reload()
    page.wait_for_function(f"document.querySelector('tr[data-source-id=\"{watched_id}\"]') !== null")
    assert "1 new posts, 1 new images" in page.locator(f"tr[data-source-id='{watched_id}']").inner_text()
