"""The curation page in a real Chromium with two rating axes: ordered by either axis, narrowed to
what one axis queued, each item showing its score on every axis; a reload keeps the choice."""

from __future__ import annotations

import pytest

from tests.api import test_browser
from tests.api.test_curation_axes_api import queue

pytest.importorskip("playwright")
from playwright.sync_api import Page  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]
server, page = test_browser.server, test_browser.page


@pytest.fixture
def env(env):  # type: ignore[no-untyped-def]
    """The test's install, with a second axis, "funny", for the server it starts."""
    env.vars["MEMETHRESHER_RATING_AXES"] = '["funny"]'
    return env


def wait_item(page: Page, meme_id: int) -> None:
    page.wait_for_function(f"document.getElementById('item-img').dataset.memeId === '{meme_id}'")


def test_order_by_funny_then_show_what_overall_queued(env, page: Page) -> None:  # type: ignore[no-untyped-def]
    ids = queue([0.9, 0.1, 0.5], [0.2, 0.8, 0.3], ["overall", "funny", "overall"])
    page.goto("/curate")
    wait_item(page, ids[0])
    assert page.locator("#item-axes").inner_text() == "overall 0.900 · funny 0.200 · queued by overall"
    page.select_option("#sort-axis", "funny")
    wait_item(page, ids[1])
    assert page.locator("#item-score").inner_text() == "0.800"
    page.select_option("#queued-by", "overall")
    wait_item(page, ids[2])  # of what overall queued, the funniest
    assert page.locator("#pending").inner_text() == "2"
    page.reload()
    wait_item(page, ids[2])
    assert page.locator("#sort-axis").input_value() == "funny"
    page.locator("#name").press("Enter")  # discard it: the next is overall's other pick
    wait_item(page, ids[0])
