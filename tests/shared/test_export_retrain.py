"""After a move from SQLite to PostgreSQL the trainer, retraining with a fixed seed on the same new
ratings, scores every meme as it would have on the original install."""

from __future__ import annotations

from pathlib import Path

import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme, ModelVersion, Rating, Score
from memethresher_shared.settings import get_settings
from memethresher_trainer import jobs
from memethresher_trainer.settings import get_trainer_settings
from sqlalchemy import select

from tests.conftest import Env, reset_all
from tests.shared.rated_install import START, fill, memethresher

pytestmark = pytest.mark.usefixtures("small_models")


def retrain_on(url: str, storage: Path, shas: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Ten more ratings (by sha256), a retrain by the real trainer; the new version's scores by sha256."""
    monkeypatch.setenv("MEMETHRESHER_DATABASE_URL", url)
    monkeypatch.setenv("MEMETHRESHER_STORAGE", str(storage))
    reset_all()
    get_trainer_settings.cache_clear()
    with session_scope() as session:
        ids = {sha: meme_id for sha, meme_id in session.execute(select(Meme.sha256, Meme.id))}
        for n in range(10):
            session.add(Rating(a_id=ids[shas[n]], b_id=ids[shas[-1 - n]], choice="a+", created_at=START))
    with session_scope() as session:
        outcome = jobs.train(session, get_trainer_settings(), get_settings().embedder)
        assert outcome["status"] == "trained", outcome
        version = session.scalars(select(ModelVersion).where(ModelVersion.is_current)).one()
        rows = session.execute(select(Meme.sha256, Score.mean).join(Meme).where(Score.model_version_id == version.id))
        return {sha: round(mean, 6) for sha, mean in rows}


@pytest.mark.postgres
def test_retraining_after_a_move_gives_the_same_scores(
    env: Env, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill()
    with session_scope() as session:
        shas = list(session.scalars(select(Meme.sha256).order_by(Meme.sha256)))
    memethresher("export", tmp_path / "export", env=env.vars)
    moved = {"MEMETHRESHER_DATABASE_URL": postgres_url, "MEMETHRESHER_STORAGE": str(tmp_path / "pg-images")}
    memethresher("migrate", env=moved)
    memethresher("import", tmp_path / "export", env=moved)

    before = retrain_on(env.database_url, env.storage, shas, monkeypatch)
    after = retrain_on(postgres_url, tmp_path / "pg-images", shas, monkeypatch)

    assert len(before) == 24 and after == before
