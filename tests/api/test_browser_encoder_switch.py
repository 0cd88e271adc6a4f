"""The Models page's encoder switch in a real Chromium: start one, watch n of N grow as vectors land,
see the training and the verdict; cancel one."""

from __future__ import annotations

from pathlib import Path

import pytest
from memethresher_shared import encoder_state
from memethresher_shared.db import session_scope
from memethresher_shared.models import Embedding, EncoderSwitch

from tests.api import test_browser
from tests.api.helpers import add_memes

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]
server, page = test_browser.server, test_browser.page
NEW = "tiny-siglip:random"


def land_vectors(meme_ids: list[int]) -> None:
    """What an embedder leaves behind for the pending encoder."""
    with session_scope() as session:
        for meme_id in meme_ids:
            session.add(Embedding(meme_id=meme_id, encoder=NEW, dim=4, vector=b"\0" * 8))


def move_switch(status: str, reason: str | None = None) -> None:
    with session_scope() as session:
        pending = encoder_state.pending_switch(session)
        assert pending is not None
        encoder_state.move(pending, status, reason)


def test_the_switch_progress_on_the_models_page(env, page: Page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add_memes(6)
    page.goto("/models")
    expect(page.locator("#encoder-active")).to_have_text("efficientnet_lite0:imagenet")
    page.select_option("#encoder-choice", NEW)
    page.click("#encoder-switch")
    expect(page.locator("#toast")).to_contain_text("switching to tiny-siglip:random: 6 memes to embed")
    progress = page.locator("#encoder-progress-text")
    expect(progress).to_contain_text("tiny-siglip:random: embedding, 0 of 6 embedded")
    expect(page.locator("#encoder-switch")).to_be_disabled()

    land_vectors(ids[:4])  # the page polls: the bar and the count follow without a reload
    expect(progress).to_contain_text("4 of 6 embedded, about")
    assert page.locator("#encoder-progress").get_attribute("max") == "6"
    page.screenshot(path=str(tmp_path / "models-encoder-switch.png"))

    land_vectors(ids[4:])
    move_switch("training")
    expect(progress).to_contain_text("training a model on the new vectors, 6 of 6 embedded")
    move_switch("comparing")
    move_switch("rejected", "worse than the current encoder: held-out log-loss 0.6900 vs 0.5100 on 40 pairs")
    last = page.locator("#encoder-last")
    expect(last).to_contain_text("efficientnet_lite0:imagenet → tiny-siglip:random: rejected (worse than the current")
    expect(page.locator("#encoder-pending")).to_be_hidden()
    expect(page.locator("#encoder-active")).to_have_text("efficientnet_lite0:imagenet")


def test_cancel_a_switch_on_the_models_page(env, page: Page) -> None:  # type: ignore[no-untyped-def]
    add_memes(3)
    page.goto("/models")
    page.select_option("#encoder-choice", NEW)
    page.click("#encoder-switch")
    expect(page.locator("#encoder-cancel")).to_be_visible()
    page.click("#encoder-cancel")
    expect(page.locator("#toast")).to_contain_text("switch cancelled; efficientnet_lite0:imagenet stays active")
    expect(page.locator("#encoder-last")).to_contain_text("cancelled (cancelled by the user)")
    expect(page.locator("#encoder-cancel")).to_be_hidden()
    with session_scope() as session:
        assert [s.status for s in session.query(EncoderSwitch)] == ["cancelled"]
