"""The Models page says what each version learnt from: rated pairs and keeps/discards (real Chromium)."""

from __future__ import annotations

import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import ModelVersion
from memethresher_shared.settings import get_settings

from tests.api import test_browser

pytest.importorskip("playwright")
from playwright.sync_api import Page  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]
server, page = test_browser.server, test_browser.page


def add_version(n_ratings: int, metrics: dict) -> int:
    with session_scope() as session:
        version = ModelVersion(encoder=get_settings().embedder, artifact="models/x", n_ratings=n_ratings,
                               is_current=False, metrics=metrics)  # fmt: skip
        session.add(version)
        session.flush()
        return version.id


def test_each_version_shows_its_pairs_and_decisions(env, page: Page) -> None:  # type: ignore[no-untyped-def]
    older = add_version(30, {"val_loss": 0.6})  # trained before decisions were learnt from
    newer = add_version(52, {"pairs": 40, "decisions": 9, "library_keeps": 0})
    library = add_version(60, {"pairs": 40, "decisions": 9, "library_keeps": 3})
    page.goto("/models")
    page.wait_for_selector(f"tr[data-version='{library}'] td.learnt")

    def learnt(version: int) -> str:
        return page.locator(f"tr[data-version='{version}'] td.learnt").inner_text()

    assert learnt(older) == "30 ratings"
    assert learnt(newer) == "40 pairs + 9 decisions"
    assert learnt(library) == "40 pairs + 12 decisions (3 from the library folder)"
