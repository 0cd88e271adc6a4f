"""Taste prompts into text vectors of an encoder, stored like the memes' vectors."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from memethresher_shared.db import session_scope, upsert_insert
from memethresher_shared.models import PromptVector, TastePrompt
from memethresher_shared.vectors import to_stored
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from memethresher_embedder.encoders import Encoder
from memethresher_embedder.registry import parse_encoder_id

log = logging.getLogger(__name__)


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


def embed_prompts_for(encoders: list[str], encoder_of: Callable[[str], Encoder]) -> dict[str, list[int]]:
    """Embed the waiting prompts for each of `encoders` that has a text tower: {encoder: prompt ids}. An
    encoder whose text tower could not load is skipped with the reason logged; its prompts wait."""
    embedded: dict[str, list[int]] = {}
    for encoder_id in encoders:
        if not parse_encoder_id(encoder_id).has_text_tower:
            continue
        encoder = encoder_of(encoder_id)
        if encoder.text is None:
            log.warning("taste prompts not embedded: encoder %s's text tower %s", encoder_id, encoder.text_missing)
            continue
        with session_scope() as session:
            embedded[encoder_id] = embed_prompts(session, encoder_id, encoder.encode_text)
    return embedded
