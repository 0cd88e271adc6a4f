"""Reads for the evaluation page: labels joined with a model version's scores, and loss curves.

Labels measure a model only on memes it never learnt from: the page offers memes that appear in
no rating, and the report leaves out labels on memes rated since they were labelled (training data
for this model or the next, which would make AUROC look better than it is)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from memethresher_shared import metrics
from memethresher_shared.models import Embedding, EvaluationLabel, Meme, ModelVersion, Rating, Score, TrainingMetric
from memethresher_shared.settings import OVERALL
from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from memethresher_api import evaluation, svg

TOP_FRACTIONS = (0.05, 0.1, 0.25, 0.5)


@dataclass
class Report:
    """Everything the evaluation page shows for one model version."""

    model_version_id: int
    labelled: int  # every label
    rests_on: int  # the labels this report counts
    left_out: dict[str, int]  # labels not counted, by reason
    auroc: float | None
    precision_at_top: dict[str, float | None]
    bands: list[dict[str, Any]]
    roc_svg: str
    cdf_svg: str
    loss_svg: str

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_svg")}


def is_rated(meme_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """Whether the meme is in any rating, on either side."""
    return exists().where(or_(Rating.a_id == meme_id, Rating.b_id == meme_id))


def next_unlabelled(session: Session, encoder: str) -> Meme | None:
    """A random embedded meme neither labelled nor in any rating."""
    labelled = select(EvaluationLabel.meme_id)
    return session.scalar(
        select(Meme)
        .join(Embedding, (Embedding.meme_id == Meme.id) & (Embedding.encoder == encoder))
        .where(Meme.id.not_in(labelled), ~is_rated(Meme.id))
        .order_by(func.random())
        .limit(1)
    )


def label_count(session: Session) -> int:
    return int(session.scalar(select(func.count(EvaluationLabel.meme_id))) or 0)


def _loss_svg(session: Session, model_version_id: int) -> str:
    rows = session.execute(
        select(TrainingMetric.step, TrainingMetric.train_loss, TrainingMetric.val_loss)
        .where(TrainingMetric.model_version_id == model_version_id)
        .order_by(TrainingMetric.step)
    ).all()
    train = [(float(s), float(t)) for s, t, _ in rows if t is not None]
    val = [(float(s), float(v)) for s, _, v in rows if v is not None]
    return svg.line_chart("Loss during training", [("train", train), ("validation", val)], "step", "loss")


def held_out_labels(session: Session, model_version_id: int) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Scores (N,) and verdicts (N,) of the labelled memes never rated and scored by this model, and
    how many labels were left out, by reason."""
    rows = session.execute(
        select(Score.mean, EvaluationLabel.good, is_rated(EvaluationLabel.meme_id)).outerjoin(
            Score,
            (Score.meme_id == EvaluationLabel.meme_id)
            & (Score.model_version_id == model_version_id)
            & (Score.axis == OVERALL),  # a good/bad verdict is about the meme overall
        )
    ).all()
    counted = [(mean, good) for mean, good, rated in rows if not rated and mean is not None]
    left_out = {
        "rated since labelled": sum(1 for _, _, rated in rows if rated),
        "not scored by this model": sum(1 for mean, _, rated in rows if not rated and mean is None),
    }
    scores = np.array([mean for mean, _ in counted], dtype=np.float64)
    return scores, np.array([good for _, good in counted], dtype=bool), left_out


def report(session: Session, model: ModelVersion) -> Report:
    scores, good, left_out = held_out_labels(session, model.id)
    all_scores = np.array(
        list(session.scalars(select(Score.mean).where(Score.model_version_id == model.id, Score.axis == OVERALL))),
        dtype=np.float64,
    )
    roc = evaluation.roc_curve(scores, good)
    auroc = metrics.auroc(scores, good)
    roc_title = f"ROC (AUROC {auroc:.3f})" if auroc is not None else "ROC (needs good and bad labels)"
    return Report(
        model_version_id=model.id,
        labelled=label_count(session),
        rests_on=len(scores),
        left_out=left_out,
        auroc=auroc,
        precision_at_top={f"{f:g}": evaluation.precision_at_top(scores, good, f) for f in TOP_FRACTIONS},
        bands=[
            {"low": b.low, "high": b.high, "labelled": b.labelled, "good": b.good, "precision": b.precision}
            for b in evaluation.percentile_bands(all_scores, scores, good)
        ],
        roc_svg=svg.line_chart(
            roc_title,
            [("model", roc)],
            "false positive rate",
            "true positive rate",
            (0, 1, 0, 1),
            diagonal=True,
        ),
        cdf_svg=svg.line_chart(
            "Score CDF", [("all memes", evaluation.score_cdf(all_scores))], "score", "fraction at or below"
        ),
        loss_svg=_loss_svg(session, model.id),
    )
