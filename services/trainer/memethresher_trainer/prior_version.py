"""The prompt prior published as a model version of kind "prompt prior": while no model is trained from
ratings it is the current version, so scores, the curation queue and the first acquisition batch follow
the prompts; the first version trained from ratings replaces it as any newer version does."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from memethresher_shared.models import PROMPT_PRIOR_KIND as PRIOR_KIND
from memethresher_shared.models import ModelVersion, PromptVector, TastePrompt
from memethresher_shared.settings import OVERALL
from memethresher_shared.vectors import from_stored
from safetensors.numpy import save_file
from sqlalchemy import select
from sqlalchemy.orm import Session

from memethresher_trainer import artifacts, data, jobs, publish
from memethresher_trainer.acquire import propose
from memethresher_trainer.prior import favoured, prior_direction
from memethresher_trainer.settings import TrainerSettings


def trained_version(session: Session, encoder: str) -> ModelVersion | None:
    """The newest version of `encoder` trained from ratings (any kind but the prior)."""
    versions = session.scalars(
        select(ModelVersion).where(ModelVersion.encoder == encoder).order_by(ModelVersion.id.desc())
    )
    return next((v for v in versions if not v.is_prompt_prior), None)


def prompt_vectors(session: Session, encoder: str) -> tuple[list[list[Any]], np.ndarray, np.ndarray]:
    """The prompts with a vector of `encoder`: [[id, like], ...] by id, their vectors (P, D) and likes (P,)."""
    query = (
        select(TastePrompt.id, TastePrompt.liked, PromptVector.dim, PromptVector.vector)
        .join(PromptVector, PromptVector.prompt_id == TastePrompt.id)
        .where(PromptVector.encoder == encoder)
        .order_by(TastePrompt.id)
    )
    rows = session.execute(query).all()
    key = [[int(row.id), bool(row.liked)] for row in rows]
    vectors = np.stack([from_stored(row.vector, row.dim) for row in rows]) if rows else np.zeros((0, 0), np.float32)
    return key, vectors, np.array([row.liked for row in rows], dtype=bool)


def save_prior(folder: Path, direction: np.ndarray, config: dict[str, Any]) -> None:
    """The prior as a one-layer wide model (D, 1): the trainer's scoring reads it like a trained version."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {"layer0.weight": direction.reshape(-1, 1), "layer0.bias": np.zeros(1, dtype=np.float32)}
    save_file(tensors, str(folder / artifacts.WIDE))
    (folder / artifacts.CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True))
    (folder / artifacts.METRICS).write_text(json.dumps({"kind": PRIOR_KIND}, indent=2))


def publish_prior(session: Session, settings: TrainerSettings, encoder: str) -> dict[str, Any]:
    """Score every meme of `encoder` with its taste prompts, as the current version, while no version is
    trained from ratings; with no prompts left, the prior stops being current."""
    trained = trained_version(session, encoder)
    if trained is not None:
        return {"status": "skipped", "reason": f"version {trained.id}, trained from ratings, scores the memes"}
    key, vectors, like = prompt_vectors(session, encoder)
    current = data.current_version(session, encoder)
    if not key:
        if current is None:
            return {"status": "skipped", "reason": f"no taste prompt has a vector of {encoder}"}
        current.is_current = False
        return {"status": "retired", "model_version_id": current.id}
    if current is not None and current.config.get("prompts") == key:
        return {"status": "skipped", "reason": "already scored with these prompts", "model_version_id": current.id}
    config = {"kind": PRIOR_KIND, "dim": int(vectors.shape[1]), "members": 1, "axes": [OVERALL], "prompts": key}
    version = publish.add_version(session, encoder, config, {"kind": PRIOR_KIND, "prompts": len(key)}, 0)
    folder = jobs.artifact_folder(settings, version.id)
    save_prior(folder, prior_direction(vectors, like), config)
    version.artifact = str(folder)
    publish.make_current(session, version)
    return {"status": "published", "model_version_id": version.id, "prompts": len(key)} | _publish(
        session, settings, version
    )


def _publish(session: Session, settings: TrainerSettings, version: ModelVersion) -> dict[str, Any]:
    """Scores and curation as for any current version; the acquisition batch among the favoured memes."""
    vectors = data.load_vectors(session, version.encoder)
    if len(vectors.ids) < 2:
        return {"scored": 0, "queued": 0, "pairs": 0}  # memes embedded later are scored as they come
    member, means = jobs.score(session, settings, version, vectors)
    pool = favoured(means[OVERALL])
    favourites = data.Vectors(vectors.ids[pool], vectors.matrix[pool])
    proposal = propose(
        member[pool, :, 0],
        settings.acquisition_batch_size,
        settings.acquisition_strategy,
        exclude=data.rated_pairs(session, favourites),
        max_per_meme=settings.acquisition_max_per_meme,
        random_fraction=settings.acquisition_random_fraction,
        seed=version.id,
        vectors=favourites.matrix,
        keep_fraction=settings.curation_top_fraction_of(OVERALL),
    )
    # Named for what chose the memes, so the rating page does not call them pairs spread over all memes.
    proposal = dataclasses.replace(proposal, strategy=PRIOR_KIND)
    batch_id = publish.publish_batch(session, version.id, proposal, favourites.ids)
    queued = jobs.curate(session, settings, version, vectors, means[OVERALL], means[OVERALL])
    return {"scored": len(vectors.ids), "acquisition_batch_id": batch_id, "pairs": len(proposal.a), "queued": queued}
