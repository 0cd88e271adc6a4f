"""Taste prompts into text vectors of an encoder, stored like the memes' vectors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from memethresher_shared.db import upsert_insert
from memethresher_shared.models import PromptVector, TastePrompt
from memethresher_shared.vectors import to_stored
from sqlalchemy import exists, select
from sqlalchemy.orm import Session


def prompts_missing_vectors(session: Session, encoder_id: str) -> list[tuple[int, str]]:
    """(id, text) of the prompts with no vector for `encoder_id`, oldest first."""
    has_vector = exists().where(PromptVector.prompt_id == TastePrompt.id, PromptVector.encoder == encoder_id)
    query = select(TastePrompt.id, TastePrompt.text).where(~has_vector).order_by(TastePrompt.id)
    return [(int(prompt_id), str(text)) for prompt_id, text in session.execute(query)]


def embed_prompts(session: Session, encoder_id: str, encode_text: Callable[[list[str]], np.ndarray]) -> list[int]:
    """Store a vector of `encoder_id` for every prompt without one; returns their ids. A prompt deleted or
    embedded by another worker meanwhile is left as it is."""
    missing = prompts_missing_vectors(session, encoder_id)
    if not missing:
        return []
    vectors = encode_text([text for _, text in missing])  # (P, D)
    by_id = {prompt_id: vector for (prompt_id, _), vector in zip(missing, vectors, strict=True)}
    alive = sorted(session.scalars(select(TastePrompt.id).where(TastePrompt.id.in_(list(by_id)))))
    rows = [
        {"prompt_id": i, "encoder": encoder_id, "dim": int(by_id[i].shape[0]), "vector": to_stored(by_id[i])}
        for i in alive
    ]
    if rows:
        session.execute(upsert_insert(session, PromptVector).values(rows).on_conflict_do_nothing())
    return alive
