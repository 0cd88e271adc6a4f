"""The History page in a real Chromium: ratings listed with both thumbnails, one changed and another
undone, both still so after a reload (server state), by mouse and by keyboard."""

from __future__ import annotations

import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import AcquisitionPair, Rating
from sqlalchemy import select

from tests.api import test_browser
from tests.api.helpers import add_batch, add_memes, add_model

pytest.importorskip("playwright")
from playwright.sync_api import Page  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]
# The rating page tests' fixtures: the app under uvicorn, and a Chromium tab on it.
server, page = test_browser.server, test_browser.page


def add_ratings(pairs: list[tuple[int, int, int | None]]) -> list[int]:
    with session_scope() as session:
        rows = [
            Rating(a_id=a, b_id=b, choice="a", origin="acquisition" if pair else "random", acquisition_pair_id=pair)
            for a, b, pair in pairs
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def stored() -> dict[int, str]:
    with session_scope() as session:
        return {r.id: r.choice for r in session.scalars(select(Rating))}


def row(page: Page, rating: int):  # type: ignore[no-untyped-def]
    return page.locator(f"tr[data-rating='{rating}']")


def wait_listed(page: Page, count: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('tr[data-rating]').length === {count}")


def test_history_lists_ratings_and_a_change_and_an_undo_survive_a_reload(env, page: Page) -> None:  # type: ignore[no-untyped-def]
    ids = add_memes(6, photos=True)
    batch, pairs = add_batch(add_model(), [(ids[4], ids[5])], strategy="bald")
    with session_scope() as session:
        session.get_one(AcquisitionPair, pairs[0]).status = "rated"
    first, second, asked = add_ratings([(ids[0], ids[1], None), (ids[2], ids[3], None), (ids[4], ids[5], pairs[0])])
    page.goto("/history")
    wait_listed(page, 3)
    assert page.locator("nav a[aria-current]").inner_text() == "History"
    assert row(page, asked).locator(".origin").inner_text() == f"batch {batch} (bald)"
    assert row(page, first).locator(".origin").inner_text() == "random"
    thumbs = row(page, first).locator("img.thumb")
    assert [thumbs.nth(i).get_attribute("src") for i in range(2)] == [
        f"/api/memes/{ids[0]}/thumb/1024",
        f"/api/memes/{ids[1]}/thumb/1024",
    ]
    page.wait_for_function(  # the thumbnails really load
        "[...document.querySelectorAll('img.thumb')].every((img) => img.complete && img.naturalWidth > 0)"
    )

    row(page, first).locator("select.choice").select_option("b+")
    page.wait_for_function("document.getElementById('toast').textContent.includes('is now b+')")
    row(page, second).get_by_role("button", name="Undo").click()
    wait_listed(page, 2)
    page.reload()
    wait_listed(page, 2)
    assert row(page, first).locator("select.choice").input_value() == "b+"
    assert row(page, second).count() == 0
    assert stored() == {first: "b+", asked: "a"}

    # By keyboard: focus the newest rating, 5 sets b+, j moves down to the next, u undoes it.
    row(page, asked).focus()
    page.keyboard.press("5")
    page.wait_for_function(f"document.getElementById('toast').textContent.includes('rating {asked} is now b+')")
    page.keyboard.press("j")
    page.keyboard.press("u")
    wait_listed(page, 1)
    page.reload()
    wait_listed(page, 1)
    assert row(page, asked).locator("select.choice").input_value() == "b+"
    assert stored() == {asked: "b+"}
    with session_scope() as session:  # the undone acquisition rating's pair stays rated: it was not undone
        assert session.get_one(AcquisitionPair, pairs[0]).status == "rated"


def test_history_filters_by_meme_and_pages_back(env, page: Page) -> None:  # type: ignore[no-untyped-def]
    ids = add_memes(4)
    many = add_ratings([(ids[i % 3], ids[3], None) for i in range(55)])
    page.goto("/history")
    wait_listed(page, 50)
    page.get_by_role("button", name="Older ratings").click()
    wait_listed(page, 55)
    assert page.get_by_role("button", name="Older ratings").is_hidden()
    assert row(page, many[0]).count() == 1
    page.locator("input[name='meme']").fill(str(ids[0]))
    page.get_by_role("button", name="Show").click()
    wait_listed(page, 19)  # i = 0, 3, ..., 54
