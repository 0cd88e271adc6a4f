"""Reads for the evaluation page: labels joined with a model version's scores, and loss curves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from memethresher_shared.models import Embedding, EvaluationLabel, Meme, ModelVersion, Score, TrainingMetric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from memethresher_api import evaluation, svg

TOP_FRACTIONS = (0.05, 0.1, 0.25, 0.5)


@dataclass
class Report:
    """Everything the evaluation page shows for one model version."""

    model_version_id: int
    labelled: int
    scored_labelled: int
    auroc: float | None
    precision_at_top: dict[str, float | None]
    bands: list[dict[str, Any]]
    roc_svg: str
    cdf_svg: str
    loss_svg: str

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_svg")}


def next_unlabelled(session: Session, encoder: str) -> Meme | None:
    labelled = select(EvaluationLabel.meme_id)
    return session.scalar(
        select(Meme)
        .join(Embedding, (Embedding.meme_id == Meme.id) & (Embedding.encoder == encoder))
        .where(Meme.id.not_in(labelled))
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


def report(session: Session, model: ModelVersion) -> Report:
    labelled = session.execute(
        select(Score.mean, EvaluationLabel.good)
        .join(EvaluationLabel, EvaluationLabel.meme_id == Score.meme_id)
        .where(Score.model_version_id == model.id)
    ).all()
    scores = np.array([s for s, _ in labelled], dtype=np.float64)
    good = np.array([g for _, g in labelled], dtype=bool)
    all_scores = np.array(
        list(session.scalars(select(Score.mean).where(Score.model_version_id == model.id))), dtype=np.float64
    )
    roc = evaluation.roc_curve(scores, good)
    auroc = evaluation.auroc(scores, good)
    roc_title = f"ROC (AUROC {auroc:.3f})" if auroc is not None else "ROC (needs good and bad labels)"
    return Report(
        model_version_id=model.id,
        labelled=label_count(session),
        scored_labelled=len(labelled),
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
