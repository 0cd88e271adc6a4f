"""The pages in a real Chromium against the app served by uvicorn, on a real database and Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import AcquisitionPair, CurationItem, Rating
from sqlalchemy import select

from tests.api.helpers import Server, add_batch, add_memes, add_model, add_scores

pytest.importorskip("playwright")
from playwright.sync_api import Page, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
# Key pressed -> the choice it stores, relative to the pair as shown (a = left).
KEYS = [("ArrowLeft", "a"), ("ArrowRight", "b"), ("Shift+ArrowLeft", "a+"), ("Shift+ArrowRight", "b+"),
        ("ArrowDown", "tie"), ("1", "a"), ("2", "b"), ("0", "tie")]  # fmt: skip


@pytest.fixture
def server(env) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is needed: apt-get install chromium")
    running = Server(env.vars, env.root / "uvicorn.log")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture
def page(server: Server) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        tab = browser.new_page(viewport={"width": 1280, "height": 860}, base_url=server.url)
        yield tab
        browser.close()


def shown(page: Page, serial: int) -> tuple[int, int, str]:
    """Wait for the `serial`-th pair on screen; its (left id, right id, acquisition pair id)."""
    page.wait_for_function(f"document.getElementById('pair').dataset.serial === '{serial}'")
    pair = page.locator("#pair")
    return (int(page.locator("#left").get_attribute("data-meme-id") or 0),
            int(page.locator("#right").get_attribute("data-meme-id") or 0),
            pair.get_attribute("data-pair-id") or "")  # fmt: skip


def test_rate_30_pairs_by_keyboard_with_undo_and_skip(env, page: Page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add_memes(24, title="sample meme {i} <b>& friends</b>", photos=True)
    _, batch_pairs = add_batch(add_model(), [(ids[i], ids[i + 1]) for i in range(0, 10, 2)])
    page.goto("/rate")
    serial = 1
    _, _, skipped_pair = shown(page, serial)
    assert skipped_pair == str(batch_pairs[0])  # the newest batch comes first
    page.keyboard.press("s")
    expected: list[tuple[int, int, str]] = []
    for i in range(30):
        serial += 1
        left, right, _ = shown(page, serial)
        key, choice = KEYS[i % len(KEYS)]
        page.keyboard.press(key)
        expected.append((left, right, choice))
    serial += 1  # the pair after the 30th is on screen
    shown(page, serial)
    for key in ("Backspace", "u"):
        page.keyboard.press(key)
        serial += 1
        left, right, _ = shown(page, serial)
        assert (left, right) == expected.pop()[:2]  # the undone pair is back in front
    page.wait_for_function("document.getElementById('save-state').dataset.pending === '0'", timeout=20000)
    assert page.locator("#save-state").get_attribute("data-failed") == "0"
    with session_scope() as session:
        stored = [(r.a_id, r.b_id, r.choice) for r in session.scalars(select(Rating).order_by(Rating.id))]
        statuses = {p.id: p.status for p in session.scalars(select(AcquisitionPair))}
    assert sorted(stored) == sorted(expected)  # saves run concurrently, so ids need not follow key order
    assert len(stored) == 28
    assert statuses[batch_pairs[0]] == "skipped"
    assert [statuses[p] for p in batch_pairs[1:]] == ["rated"] * 4
    page.wait_for_function("document.getElementById('total').textContent === '28'", timeout=20000)
    assert "<b>& friends</b>" in page.locator("#left-title").inner_text()  # crawled text shown as text
    page.screenshot(path=str(tmp_path / "rate.png"))


def test_the_page_says_the_default_batch_is_random_pairs_not_the_models_choice(env, page: Page) -> None:  # type: ignore[no-untyped-def]
    ids = add_memes(6)
    batch, _ = add_batch(add_model(), [(ids[0], ids[1])], strategy="random")
    page.goto("/rate")
    shown(page, 1)
    why = page.locator("#why").inner_text()
    assert why.startswith("random pairs (") and "beat random pairs" in why
    assert f"batch {batch}" in why
    page.keyboard.press("s")  # the batch's one pair skipped: a random pair, with no batch behind it
    shown(page, 2)
    assert page.locator("#why").inner_text() == "random pair (no acquisition batch waiting)"


def test_curation_keep_discard_undo_writes_the_library(env, page: Page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add_memes(5, photos=True, title="a sample meme, number {i}")
    add_scores(add_model(), {meme_id: 1.0 - i / 10 for i, meme_id in enumerate(ids)}, curate=True)
    page.goto("/curate")
    name = page.locator("#name")

    def wait_item(meme_id: int) -> None:
        page.wait_for_function(f"document.getElementById('item-img').dataset.memeId === '{meme_id}'")

    wait_item(ids[0])
    page.screenshot(path=str(tmp_path / "curate.png"))
    name.fill("Best meme ever")
    name.press("Enter")
    wait_item(ids[1])
    name.press("Enter")  # empty name: discard
    wait_item(ids[2])
    name.fill("best meme ever!")
    name.press("Enter")
    wait_item(ids[3])
    page.keyboard.press("Delete")
    wait_item(ids[4])
    page.keyboard.press("Control+z")  # undo the last discard
    wait_item(ids[3])
    assert sorted(os.listdir(env.library)) == ["Best-meme-ever.jpg", "best-meme-ever-2.jpg"]
    with session_scope() as session:
        items = {c.meme_id: c.status for c in session.scalars(select(CurationItem))}
    assert [items[m] for m in ids] == ["kept", "discarded", "kept", "pending", "pending"]


def test_label_20_memes_and_see_the_auroc(env, page: Page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add_memes(24, photos=True)
    model = add_model()
    add_scores(model, {meme_id: float(i) for i, meme_id in enumerate(ids)})
    page.goto("/evaluate")
    previous = ""
    for i in range(20):
        page.wait_for_function(
            f"(() => {{ const m = document.getElementById('eval-img').dataset.memeId;"
            f" return m && m !== '{previous}'; }})()"
        )
        previous = page.locator("#eval-img").get_attribute("data-meme-id") or ""
        # The model ranks by index; this rater agrees: good iff in the top half.
        page.keyboard.press("g" if ids.index(int(previous)) >= 12 else "b")
        page.wait_for_function(f"document.getElementById('labelled').textContent === '{i + 1}'")
    page.wait_for_function(
        "document.getElementById('auroc') && document.getElementById('auroc').textContent === '1.000'"
    )
    assert page.locator("#report svg").count() == 3
    page.screenshot(path=str(tmp_path / "evaluate.png"), full_page=True)


def test_dashboard_sources_and_models_pages(env, page: Page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_memes(6)
    add_model()
    page.goto("/sources")
    page.locator("input[name=target]").fill("r/no spaces")
    page.locator("#add-source button").click()
    page.wait_for_function("document.getElementById('source-error').textContent.includes('invalid subreddit')")
    page.locator("input[name=target]").fill("r/memes+dankmemes")
    page.locator("#add-source button").click()
    page.wait_for_selector("text=r/memes+dankmemes")
    page.screenshot(path=str(tmp_path / "sources.png"))
    page.goto("/models")
    page.wait_for_selector("text=v1")
    page.screenshot(path=str(tmp_path / "models.png"))
    page.goto("/dashboard")
    page.wait_for_selector("#queues >> text=embed")
    page.screenshot(path=str(tmp_path / "dashboard.png"))


def test_a_save_that_fails_is_retried_until_the_server_is_back(env, server: Server, page: Page) -> None:  # type: ignore[no-untyped-def]
    add_memes(12)
    page.goto("/rate")
    left, right, _ = shown(page, 1)
    server.stop()  # the API goes away mid-session
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("document.getElementById('save-state').textContent.includes('retrying')")
    assert page.locator("#save-state").get_attribute("data-pending") == "1"
    restarted = Server(env.vars, env.root / "uvicorn-2.log", port=server.port)
    try:
        restarted.wait_ready()
        page.wait_for_function("document.getElementById('save-state').dataset.pending === '0'", timeout=30000)
    finally:
        restarted.stop()
    with session_scope() as session:
        stored = [(r.a_id, r.b_id, r.choice) for r in session.scalars(select(Rating))]
    assert stored == [(left, right, "a")]
