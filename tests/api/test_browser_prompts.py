"""The dashboard's taste prompts in a real Chromium: add a liked and a disliked prompt, see each wait for
the embedder and then show as embedded, remove one; an encoder without a text tower says what to do."""

from __future__ import annotations

import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import PromptVector, TastePrompt
from sqlalchemy import select

from tests.api import test_browser
from tests.conftest import Env

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]
server, page = test_browser.server, test_browser.page
TINY = "tiny-siglip:random"


@pytest.fixture
def siglip(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    """An open_clip encoder configured, for the server started after this."""
    monkeypatch.setenv("MEMETHRESHER_EMBEDDER", TINY)
    env.vars["MEMETHRESHER_EMBEDDER"] = TINY
    return env


def test_add_see_embedded_and_remove_prompts(siglip: Env, page: Page) -> None:
    page.goto("/dashboard")
    expect(page.locator("#prompt-list")).to_contain_text("no prompts")
    page.fill("#prompt-text", "programming jokes")
    page.click("#prompt-form button[type=submit]")
    expect(page.locator("#prompt-list")).to_contain_text("programming jokes")
    page.fill("#prompt-text", "screenshots of tweets")
    page.select_option("#prompt-like", "false")
    page.press("#prompt-text", "Enter")
    rows = page.locator("#prompt-list tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("dislike")
    expect(rows.nth(1)).to_contain_text("waiting for the embedder")

    page.fill("#prompt-text", "   ")
    page.click("#prompt-form button[type=submit]")
    expect(page.locator("#toast")).to_contain_text("write a few words")

    with session_scope() as session:  # what the embedder leaves behind
        first = session.scalar(select(TastePrompt.id).where(TastePrompt.text == "programming jokes"))
        session.add(PromptVector(prompt_id=first, encoder=TINY, dim=2, vector=b"\0" * 4))
    page.reload()
    expect(rows.nth(0)).to_contain_text("embedded")
    expect(rows.nth(0)).not_to_contain_text("waiting")
    rows.nth(1).get_by_role("button", name="Remove").click()
    expect(rows).to_have_count(1)
    with session_scope() as session:
        assert session.scalars(select(TastePrompt.text)).all() == ["programming jokes"]


def test_an_encoder_without_a_text_tower_says_to_switch(env: Env, page: Page) -> None:
    page.goto("/dashboard")
    expect(page.locator("#prompts-status")).to_contain_text("has no text tower: switch to a SigLIP encoder")
    expect(page.locator("#prompt-form")).to_be_hidden()
