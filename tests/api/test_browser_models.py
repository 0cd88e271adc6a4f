"""The Models page in a real Chromium: pinning a version, unpinning it, pinning an older one."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from memethresher_shared.db import session_scope
from memethresher_shared.models import ModelVersion
from sqlalchemy import select

from tests.api import test_browser
from tests.api.helpers import add_model

pytest.importorskip("playwright")
from playwright.sync_api import Page  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]
# The rating page tests' fixtures: the app under uvicorn, and a Chromium tab on it.
server, page = test_browser.server, test_browser.page


def pins() -> dict[int, tuple[bool, bool]]:
    """Each version's (current, pinned), as stored."""
    with session_scope() as session:
        return {v.id: (v.is_current, v.pinned) for v in session.scalars(select(ModelVersion))}


def state_of(page: Page, version: int) -> str:
    return page.locator(f"tr[data-version='{version}'] td.state").inner_text()


def wait_state(page: Page, version: int, text: str) -> None:
    page.wait_for_function(
        f"document.querySelector(\"tr[data-version='{version}'] td.state\").textContent === '{text}'"
    )


def test_pin_and_unpin_on_the_models_page(env, page: Page, redis_conn: redis.Redis, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old = add_model(n_ratings=20, current=False)
    current = add_model(n_ratings=40)
    page.goto("/models")
    page.wait_for_selector(f"tr[data-version='{current}']")
    assert state_of(page, current) == "current" and state_of(page, old) == ""

    page.locator(f"tr[data-version='{current}'] button", has_text="Pin").click()
    wait_state(page, current, "current, pinned")
    assert "retrains will not replace it" in page.locator("#toast").inner_text()
    assert pins() == {old: (False, False), current: (True, True)}
    page.screenshot(path=str(tmp_path / "models-pinned.png"))

    page.locator(f"tr[data-version='{current}'] button", has_text="Unpin").click()
    wait_state(page, current, "current")
    assert pins()[current] == (True, False)

    # Pinning the older version: the pin moves to it, and the trainer is asked to make it current.
    page.locator(f"tr[data-version='{old}'] button", has_text="Pin").click()
    wait_state(page, old, "pinned (being made current)")
    assert "being made current" in page.locator("#toast").inner_text()
    assert pins() == {old: (False, True), current: (True, False)}
    assert redis_conn.llen("train") == 1  # the make-current task, waiting for a trainer
