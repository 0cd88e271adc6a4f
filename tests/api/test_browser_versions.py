"""The Models page in a real Chromium: comparing two versions side by side, and deleting an old one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import redis
from memethresher_shared.db import session_scope
from memethresher_shared.models import EvaluationLabel, ModelVersion

from tests.api import test_browser
from tests.api.helpers import add_memes, add_model, add_scores

pytest.importorskip("playwright")
from playwright.sync_api import Page  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]
server, page = test_browser.server, test_browser.page


def test_compare_two_versions_then_delete_the_worse(env, page: Page, redis_conn: redis.Redis, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = add_memes(20)
    taste = np.linspace(-1, 1, 20)
    worse, better = add_model(current=False), add_model()
    add_scores(worse, {m: -float(t) for m, t in zip(ids, taste, strict=True)})
    add_scores(better, {m: float(t) for m, t in zip(ids, taste, strict=True)})
    with session_scope() as session:
        session.add_all(EvaluationLabel(meme_id=m, good=i >= 15) for i, m in enumerate(ids))
    page.goto("/models")
    page.wait_for_selector(f"tr[data-version='{worse}']")

    page.select_option("#compare-a", str(worse))
    page.select_option("#compare-b", str(better))
    page.click("#compare-go")
    page.wait_for_selector("#compare-sides td.auroc")
    assert page.locator(f"#compare-sides tr[data-version='{better}'] td.auroc").inner_text() == "1.000"
    assert page.locator(f"#compare-sides tr[data-version='{worse}'] td.auroc").inner_text() == "0.000"
    assert page.locator("#compare-memes tr[data-meme]").count() == 12
    page.screenshot(path=str(tmp_path / "models-compare.png"))

    assert page.locator(f"tr[data-version='{better}'] button", has_text="Delete").count() == 0
    delete = page.locator(f"tr[data-version='{worse}'] button", has_text="Delete")
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    delete.click()
    page.wait_for_timeout(300)
    assert questions == [f"Delete v{worse}, its scores and its weights?"]
    assert page.locator(f"#model-list tr[data-version='{worse}']").count() == 1  # asked, then kept
    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    page.wait_for_selector(f"#model-list tr[data-version='{worse}']", state="detached")
    assert f"v{worse} deleted" in page.locator("#toast").inner_text()
    with session_scope() as session:
        assert [v.id for v in session.query(ModelVersion)] == [better]
