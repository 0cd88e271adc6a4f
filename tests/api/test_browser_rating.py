"""The rating page in a real Chromium: a remapped key map (its hint and its keys) and the touch
controls for every choice, against the app served by uvicorn on a real database."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import ModelVersion, Rating
from sqlalchemy import select

from tests.api.helpers import Server, add_memes, add_model

pytest.importorskip("playwright")
from playwright.sync_api import Page, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
REMAPPED = {"q": "a+", "w": "a", "e": "tie", "r": "b", "t": "b+", "z": "undo", "x": "skip", "h": "help"}


@pytest.fixture
def page(env) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A touch-screen tab on the rating page, the API run with the remapped keys."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is needed: apt-get install chromium")
    remapped = {**env.vars, "MEMETHRESHER_KEY_MAP": json.dumps(REMAPPED)}
    with Server(remapped, env.root / "uvicorn.log") as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        context = browser.new_context(viewport={"width": 420, "height": 860}, has_touch=True, base_url=server.url)
        yield context.new_page()
        browser.close()


def shown(page: Page, serial: int) -> tuple[int, int]:
    """Wait for the `serial`-th pair on screen; its (left id, right id)."""
    page.wait_for_function(f"document.getElementById('pair').dataset.serial === '{serial}'")
    return (int(page.locator("#left").get_attribute("data-meme-id") or 0),
            int(page.locator("#right").get_attribute("data-meme-id") or 0))  # fmt: skip


def stored_when_saved(page: Page) -> list[tuple[int, int, str]]:
    page.wait_for_function("document.getElementById('save-state').dataset.pending === '0'", timeout=20000)
    assert page.locator("#save-state").get_attribute("data-failed") == "0"
    with session_scope() as session:
        return sorted((r.a_id, r.b_id, r.choice) for r in session.scalars(select(Rating)))


def test_a_remapped_key_map_is_what_the_hint_shows_and_what_the_keys_do(page: Page) -> None:
    add_memes(12)
    page.goto("/rate")
    hint = page.locator("#key-hint").inner_text()
    assert hint == (
        "W left better · R right better · Q left much better · T right much better · E tie · Z undo · X skip · H help"
    )
    expected = []
    left, right = shown(page, 1)
    page.keyboard.press("ArrowLeft")  # the default key, no longer mapped: nothing happens
    for serial, (key, choice) in enumerate([("w", "a"), ("e", "tie"), ("t", "b+")], start=1):
        left, right = shown(page, serial)
        page.keyboard.press(key)
        expected.append((left, right, choice))
    assert stored_when_saved(page) == sorted(expected)


def test_tapping_the_controls_stores_every_choice(page: Page) -> None:
    add_memes(12)
    page.goto("/rate")
    expected = []
    for serial, choice in enumerate(["tie", "a+", "b+", "a", "b"], start=1):
        left, right = shown(page, serial)
        page.locator(f"#choices [data-choice='{choice}']").tap()
        expected.append((left, right, choice))
    assert stored_when_saved(page) == sorted(expected)
    shown(page, 6)
    page.locator("#choices [data-action='undo']").tap()  # the last choice, "b", is taken back
    assert shown(page, 7) == expected[-1][:2]  # its pair in front again
    assert stored_when_saved(page) == sorted(expected[:-1])


def test_the_stopping_signal_reads_as_a_floor_until_a_version_100_ratings_back_exists(page: Page) -> None:
    add_memes(4)
    version = add_model()
    early = {"next_ratings": 100, "decision_change_share": 0.012, "decision_changes": 6,
             "disagreement_share": 0.012, "observed_change_share": None}  # fmt: skip
    with session_scope() as session:
        session.get_one(ModelVersion, version).metrics = {"stopping": early}
    page.goto("/rate")
    signal = page.locator("#stopping-changes")
    signal.wait_for()
    assert signal.inner_text() == "at least 6 keep/discard decisions (1.2%) may change; too early to say how many more"
    later = dict(early, decision_change_share=0.034, decision_changes=17, observed_change_share=0.048)
    with session_scope() as session:
        session.get_one(ModelVersion, version).metrics = {"stopping": later}
    page.reload()
    page.wait_for_function("document.getElementById('stopping-changes').textContent.startsWith('~')")
    assert signal.inner_text() == "~17 keep/discard decisions (3.4%) may change"
