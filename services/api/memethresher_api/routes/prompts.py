"""Taste prompts: sentences about memes the user likes or dislikes, which score the memes before the
first rating when the active encoder has a text tower (SigLIP). The embedder embeds them, the trainer
scores with them (a model version of kind "prompt prior") until a model is trained from ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from memethresher_shared import tasks
from memethresher_shared.celery_app import send
from memethresher_shared.encoder_registry import parse_encoder_id
from memethresher_shared.encoder_state import serving_encoder
from memethresher_shared.models import PromptVector, TastePrompt
from memethresher_shared.versions import current_version
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from memethresher_api.deps import IdPath, SessionDep, SettingsDep, not_found
from memethresher_api.errors import Conflict
from memethresher_api.routes.admin import enqueue

router = APIRouter(prefix="/api/prompts", tags=["prompts"])

# SigLIP reads 64 tokens of text: a few dozen words; a longer prompt would be cut without a word.
MAX_PROMPT = 200


class PromptIn(BaseModel):
    text: str = Field(description='what the memes show, e.g. "programming jokes"', examples=["programming jokes"])
    like: bool = Field(default=True, description="false: memes like this are worse")

    @field_validator("text", mode="before")
    @classmethod
    def _clear_text(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = " ".join(value.split())
        if not text:
            raise ValueError("write a few words about memes you like or dislike, e.g. 'programming jokes'")
        if len(text) > MAX_PROMPT:
            raise ValueError(f"a prompt is at most {MAX_PROMPT} characters, not {len(text)}: the encoder reads no more")
        if "\x00" in text:
            raise ValueError("a prompt cannot hold a NUL character")
        return text


class PromptOut(BaseModel):
    id: int
    text: str
    like: bool
    created_at: datetime
    embedded: bool = Field(description="whether the active encoder has embedded it (only then it scores)")


# What scores the memes: "prompts", the prompt prior is the current version; "ratings", a model trained from
# ratings took over; "none", no version yet.
Scoring = Literal["prompts", "ratings", "none"]


class PromptsOut(BaseModel):
    encoder: str
    text_tower: bool = Field(description="whether the active encoder can embed prompts")
    scoring: Scoring
    prompts: list[PromptOut]


def _refuse_without_text_tower(encoder: str) -> None:
    if not parse_encoder_id(encoder).has_text_tower:
        raise Conflict(f"the active encoder {encoder} has no text tower: switch to a SigLIP encoder to use prompts")


@router.get("", response_model=PromptsOut)
def list_prompts(session: SessionDep, settings: SettingsDep) -> PromptsOut:
    """Every prompt, oldest first, whether the active encoder has embedded it, and what scores the memes."""
    encoder = serving_encoder(settings.embedder)
    embedded = set(session.scalars(select(PromptVector.prompt_id).where(PromptVector.encoder == encoder)))
    prompts = session.scalars(select(TastePrompt).order_by(TastePrompt.id)).all()
    model = current_version(session, encoder)
    scoring: Scoring = "none" if model is None else "prompts" if model.is_prompt_prior else "ratings"
    return PromptsOut(
        encoder=encoder,
        text_tower=parse_encoder_id(encoder).has_text_tower,
        scoring=scoring,
        prompts=[
            PromptOut(id=p.id, text=p.text, like=p.liked, created_at=p.created_at, embedded=p.id in embedded)
            for p in prompts
        ],
    )


@router.post("", status_code=201, response_model=PromptOut)
def add_prompt(body: PromptIn, session: SessionDep, settings: SettingsDep) -> PromptOut:
    """Add a prompt; the embedder embeds it and the memes are scored with the prompts (until ratings train
    a model). 409 when the active encoder has no text tower, or the prompt is there already."""
    encoder = serving_encoder(settings.embedder)
    _refuse_without_text_tower(encoder)
    if session.scalar(select(TastePrompt.id).where(TastePrompt.text == body.text)) is not None:
        raise Conflict(f"{body.text!r} is a prompt already: delete it first to change it")
    prompt = TastePrompt(text=body.text, liked=body.like)
    session.add(prompt)
    try:
        session.commit()  # before the embedder is asked to read it
    except IntegrityError:  # the same text added by a request in between
        session.rollback()
        raise Conflict(f"{body.text!r} is a prompt already: delete it first to change it") from None
    # With the broker away the prompt waits: the embedders' sweep sends the prompts still without a vector.
    enqueue("the embedding of prompts", lambda: send(tasks.EMBED_PROMPTS))
    return PromptOut(id=prompt.id, text=prompt.text, like=prompt.liked, created_at=prompt.created_at, embedded=False)


@router.delete("/{prompt_id}", status_code=204)
def delete_prompt(prompt_id: IdPath, session: SessionDep, settings: SettingsDep) -> Response:
    """Remove a prompt; the memes are scored again with the rest (with none left, the prompts stop scoring)."""
    prompt = session.get(TastePrompt, prompt_id)
    if prompt is None:
        not_found(f"no prompt {prompt_id}")
    session.delete(prompt)
    session.commit()
    encoder = serving_encoder(settings.embedder)
    if parse_encoder_id(encoder).has_text_tower:
        enqueue("scoring with the prompts", lambda: send(tasks.PROMPT_PRIOR, encoder))
    return Response(status_code=204)
