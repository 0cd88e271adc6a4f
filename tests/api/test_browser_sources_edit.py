"""The Sources page in a real Chromium: a source edited there (sort, time window, interval, stream,
enabled) is changed as shown, an edit into another source's listing is refused in words, and a source
removed there is gone."""

from __future__ import annotations

import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import Source
from memethresher_shared.sources import add_source

from tests.api.test_browser import page, server  # noqa: F401 - the browser and the app, as there

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
