"""Best of four on the rating page in a real Chromium: switched on by its key (and remembered over a
reload), the first two pairs of the batch shown as four, answered by the digit keys and by a tap,
the next four shown at once, its keys in the help, skipped, undone as a whole, and switched back
to pairs."""

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


@pytest.fixture
def env(env, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The test's install; a test may name rating axes for the server it starts (an indirect parameter)."""
    if hasattr(request, "param"):
        env.vars["MEMETHRESHER_RATING_AXES"] = request.param
    return env


FOUR_HINT = "1 / 2 / 3 / 4 best of the four · Backspace / U undo · S skip · ? help · F pairs"


def four_shown(page: Page, serial: int) -> tuple[list[int], str]:
    """Wait for the `serial`-th pair or four on screen, in four: its memes in reading order, and the
    acquisition pairs they come from."""
    page.wait_for_function(f"document.getElementById('four').dataset.serial === '{serial}'")
    assert page.locator("#four").is_visible() and not page.locator("#pair").is_visible()
    memes = [int(place.get_attribute("data-meme-id") or 0) for place in page.locator("#four figure").all()]
    return memes, page.locator("#four").get_attribute("data-pair-id") or ""


def stored() -> list[tuple[int, int, str, str]]:
    with session_scope() as session:
        return sorted((r.a_id, r.b_id, r.choice, r.origin) for r in session.scalars(select(Rating)))


def stored_when_saved(page: Page) -> list[tuple[int, int, str, str]]:
    page.wait_for_function("document.getElementById('save-state').dataset.pending === '0'", timeout=20000)
    assert page.locator("#save-state").get_attribute("data-failed") == "0"
    return stored()


def beaten(memes: list[int], best: int) -> list[tuple[int, int, str, str]]:
    return [(memes[best], meme, "a", "four") for meme in memes if meme != memes[best]]


def pair_statuses() -> dict[int, str]:
    with session_scope() as session:
        return {pair.id: pair.status for pair in session.scalars(select(AcquisitionPair))}


def test_best_of_four_by_keys_with_skip_undo_and_back_to_pairs(page: Page) -> None:
    ids = add_memes(24)
    _, batch = add_batch(add_model(), [(ids[i], ids[i + 1]) for i in range(0, 8, 2)])
    page.goto("/rate")
    page.wait_for_function("document.getElementById('pair').dataset.serial === '1'")
    assert page.locator("#mode").get_attribute("aria-pressed") == "false"
    page.keyboard.press("f")
    first, pairs = four_shown(page, 2)
    assert pairs == f"{batch[0]} {batch[1]}"  # the batch's first two pairs, as pairs would come
    assert len(set(first)) == 4 and page.locator("#key-hint").inner_text() == FOUR_HINT
    assert page.locator("#mode").get_attribute("aria-pressed") == "true"
    assert not page.locator("#choices [data-choice='a']").is_visible()
    page.keyboard.press("?")
    assert page.locator("#help-keys tr").first.inner_text().split() == ["1", "best:", "top", "left"]
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()
    page.keyboard.press("3")
    second, pairs = four_shown(page, 3)
    assert pairs == f"{batch[2]} {batch[3]}" and not set(second) & set(first)
    page.locator("#four figure").nth(1).click()  # a tap or click picks too
    assert stored_when_saved(page) == sorted(beaten(first, 2) + beaten(second, 1))
    assert {pair_id: pair_statuses()[pair_id] for pair_id in batch} == dict.fromkeys(batch, "rated")
    four_shown(page, 4)
    page.keyboard.press("s")
    four_shown(page, 5)
    page.keyboard.press("Backspace")  # the second answer, all three of its ratings
    assert four_shown(page, 6)[0] == second
    assert stored_when_saved(page) == sorted(beaten(first, 2))
    assert [pair_statuses()[pair_id] for pair_id in batch] == ["rated", "rated", "pending", "pending"]
    page.reload()
    four_shown(page, 1)  # still best of four
    assert page.locator("#mode").get_attribute("aria-pressed") == "true"
    page.keyboard.press("f")
    page.wait_for_function("document.getElementById('pair').dataset.serial === '2'")
    assert page.locator("#pair").is_visible() and not page.locator("#four").is_visible()
    assert page.locator("#key-hint").inner_text().startswith("← / 1 left better")
    assert stored() == sorted(beaten(first, 2))


@pytest.mark.parametrize("env", ['["funny"]'], indirect=True)
def test_with_several_axes_best_of_four_asks_the_overall_axis_only_and_says_so(page: Page) -> None:
    ids = add_memes(16)
    model = add_model()
    _, overall = add_batch(model, [(ids[0], ids[1]), (ids[2], ids[3])])
    _, funny = add_batch(model, [(ids[4], ids[5]), (ids[6], ids[7])], axis="funny")
    page.goto("/rate")
    page.wait_for_function("document.getElementById('pair').dataset.serial === '1'")
    assert page.locator("#axis-prompt").inner_text() == "axis: overall (1 of 2)"
    page.keyboard.press("f")
    first, pairs = four_shown(page, 2)
    assert pairs == f"{overall[0]} {overall[1]}"  # the funny batch's pairs, queued between them, wait
    assert "overall axis only" in page.locator("#axis-prompt").inner_text()
    page.keyboard.press("4")
    _, pairs = four_shown(page, 3)
    assert not {str(pair_id) for pair_id in funny} & set(pairs.split())
    assert stored_when_saved(page) == sorted(beaten(first, 3))
    with session_scope() as session:
        assert {r.axis for r in session.scalars(select(Rating))} == {"overall"}
    assert [pair_statuses()[pair_id] for pair_id in overall + funny] == ["rated", "rated", "pending", "pending"]
