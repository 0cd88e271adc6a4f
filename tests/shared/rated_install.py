"""A lived-in install for export and backup tests: memes with real images and vectors, sources, ratings
on two axes, evaluation labels, a model trained by the real trainer, and curation decisions; and a
snapshot of all of it by sha256, to compare two databases."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from memethresher_shared.db import session_scope
from memethresher_shared.models import (
    CurationItem,
    EvaluationLabel,
    Meme,
    ModelVersion,
    Rating,
    RatingEdit,
    Score,
    Source,
)
from memethresher_shared.portable.records import iso
from memethresher_shared.rating_events import rating_events
from memethresher_shared.sources import add_source
from memethresher_trainer import jobs
from memethresher_trainer.settings import get_trainer_settings
from sqlalchemy.orm import Session, aliased

from tests.api.helpers import add_memes
from tests.conftest import REPO

CHOICES = ("a+", "a", "tie", "b", "b+")
START = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)


def fill(n_memes: int = 24, n_ratings: int = 60) -> list[int]:
    """Fill the configured database; returns the meme ids."""
    get_trainer_settings.cache_clear()  # this test's store and ensemble size, not an earlier test's
    ids = add_memes(n_memes)
    rng = np.random.default_rng(7)
    with session_scope() as session:
        add_source(session, "folder", "/memes/inbox")
        add_source(session, "reddit", "r/me_irl", sort="top", time="week")
        for n in range(n_ratings):
            a, b = rng.choice(ids, 2, replace=False)
            axis = "funny" if n % 7 == 0 else "overall"
            session.add(Rating(a_id=int(a), b_id=int(b), choice=CHOICES[n % 5], axis=axis, origin="random",
                               created_at=START + timedelta(seconds=n, microseconds=n)))  # fmt: skip
        edit_ratings(session, ids)
        for n, meme_id in enumerate(ids[:10]):
            session.add(EvaluationLabel(meme_id=meme_id, good=n % 3 == 0, created_at=START + timedelta(minutes=n)))
    with session_scope() as session:
        outcome = jobs.train(session, get_trainer_settings(), get_trainer_settings().embedder)
        assert outcome["status"] == "trained", outcome
    with session_scope() as session:
        items = session.scalars(sa.select(CurationItem).order_by(CurationItem.id)).all()
        assert items, "the trained model queued nothing for curation"
        items[0].status, items[0].name, items[0].decided_at = "kept", "the one", START
        if len(items) > 1:
            items[1].status, items[1].decided_at = "discarded", START
    return ids


def edit_ratings(session: Session, ids: list[int]) -> None:
    """The first rating changed, and one more rating made and undone (the 60 ratings stay)."""
    session.flush()
    first = session.scalars(sa.select(Rating).order_by(Rating.id).limit(1)).one()
    session.add(RatingEdit(rating_id=first.id, kind="change", choice_before=first.choice, choice_after="tie",
                           created_at=START + timedelta(hours=1)))  # fmt: skip
    first.choice = "tie"
    undone = Rating(a_id=ids[0], b_id=ids[1], choice="a", axis="funny", created_at=START + timedelta(hours=2))
    session.add(undone)
    session.flush()
    session.add(RatingEdit(rating_id=undone.id, kind="undo", choice_before="a", created_at=START + timedelta(hours=3)))
    session.delete(undone)


def snapshot(database_url: str) -> dict[str, Any]:
    """Everything a person would miss, keyed by sha256 and moments (never database ids)."""
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as session:
            return _snapshot(session)
    finally:
        engine.dispose()


def _snapshot(session: Session) -> dict[str, Any]:
    a, b = aliased(Meme), aliased(Meme)
    versions = {v.id: (v.encoder, iso(v.created_at)) for v in session.scalars(sa.select(ModelVersion))}
    ratings = session.execute(
        sa.select(a.sha256, b.sha256, Rating.choice, Rating.axis, Rating.origin, Rating.created_at)
        .join(a, a.id == Rating.a_id).join(b, b.id == Rating.b_id)
    ).all()  # fmt: skip
    labels = session.execute(sa.select(Meme.sha256, EvaluationLabel.good).join(Meme)).all()
    curation = session.execute(
        sa.select(Meme.sha256, CurationItem.status, CurationItem.name, CurationItem.score, CurationItem.axis).join(Meme)
    ).all()
    scores = session.execute(
        sa.select(Meme.sha256, Score.model_version_id, Score.axis, Score.mean).join(Meme, Meme.id == Score.meme_id)
    ).all()
    edited = session.execute(
        sa.select(RatingEdit.kind, RatingEdit.choice_before, RatingEdit.choice_after, RatingEdit.created_at,
                  a.sha256, Rating.created_at)
        .outerjoin(Rating, Rating.id == RatingEdit.rating_id).outerjoin(a, a.id == Rating.a_id)
    ).all()  # fmt: skip
    return {
        "memes": sorted(session.execute(sa.select(Meme.sha256, Meme.width, Meme.height, Meme.format, Meme.status))),
        "ratings": sorted((x, y, c, ax, o, iso(t)) for x, y, c, ax, o, t in ratings),
        "labels": sorted(labels),
        "curation": sorted(curation),
        "sources": sorted(session.execute(sa.select(Source.kind, Source.target, Source.sort, Source.time_window))),
        "versions": sorted(
            (v.encoder, iso(v.created_at), v.n_ratings, v.is_current, v.metrics.get("val_loss"))
            for v in session.scalars(sa.select(ModelVersion))
        ),
        "scores": sorted((sha, versions[v], axis, round(mean, 6)) for sha, v, axis, mean in scores),
        # Each edit with the rating it changed (by its first image and moment), if that rating is here.
        "rating_edits": sorted(
            (k, before, after, iso(t), sha, iso(rated)) for k, before, after, t, sha, rated in edited
        ),
        "rating_events": session.scalar(sa.select(rating_events())),
        "embeddings": session.scalar(sa.text("SELECT count(*) FROM embeddings")),
    }


def memethresher(*args: str | Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """The `memethresher` command in its own process, with `env`'s settings."""
    command = [sys.executable, "-m", "memethresher_shared.cli", *map(str, args)]
    done = subprocess.run(command, env={**os.environ, **env}, cwd=REPO, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done
