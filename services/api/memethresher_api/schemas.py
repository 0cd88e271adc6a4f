"""Request and response bodies of the JSON API (the OpenAPI document is built from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from memethresher_shared.settings import CHOICES
from pydantic import BaseModel, ConfigDict, Field

# The shared 5-point scale (mypy cannot read a Literal built from a constant; pydantic and OpenAPI can).
Choice = Literal[CHOICES]  # type: ignore[valid-type]
DbId = Field(ge=1, le=2**31 - 1)


class MemeOut(BaseModel):
    id: int
    image_url: str
    thumb_url: str
    title: str
    subreddit: str | None = None


class PairOut(BaseModel):
    a: MemeOut
    b: MemeOut
    origin: Literal["random", "acquisition"]
    pair_id: int | None = None
    batch_id: int | None = None
    strategy: str | None = None
    acquisition: float | None = None
    model_version_id: int | None = None
    axis: str | None = None  # the rating axis whose head chose an acquisition pair


class PairsOut(BaseModel):
    pairs: list[PairOut]


class RatingIn(BaseModel):
    a: int = DbId
    b: int = DbId
    choice: Choice
    axis: str | None = Field(default=None, max_length=32)
    pair_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class RatingsIn(BaseModel):
    """Several axes of one pair, saved together."""

    ratings: list[RatingIn] = Field(min_length=1, max_length=16)


class OfferedPairIn(BaseModel):
    """A pair as the page was offered it: its memes, and its acquisition pair (none for a random pair)."""

    a: int = DbId
    b: int = DbId
    pair_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class BestOfFourIn(BaseModel):
    """One answer in the best-of-four mode: two offered pairs shown together, and the best of their
    four memes (on the overall axis)."""

    pairs: list[OfferedPairIn] = Field(min_length=2, max_length=2)
    best: int = DbId


class RatingOut(BaseModel):
    id: int
    a: int
    b: int
    choice: str
    axis: str
    origin: str
    pair_id: int | None
    created_at: datetime


class RatingChangeIn(BaseModel):
    """A new choice for a stored rating."""

    choice: Choice


class HistoryRatingOut(BaseModel):
    """A stored rating as the History page shows it: both memes, and where the pair came from."""

    id: int
    a: MemeOut
    b: MemeOut
    choice: str
    axis: str
    origin: str
    pair_id: int | None
    batch_id: int | None  # the acquisition batch that asked for the pair (None: a random pair)
    strategy: str | None
    created_at: datetime


class HistoryPageOut(BaseModel):
    ratings: list[HistoryRatingOut]
    # Pass as `before` for the next (older) page; None on the last page.
    next_before: int | None


class StoppingOut(BaseModel):
    """When to stop rating: keep/discard decisions the next `next_ratings` ratings are expected to change
    (computed by the trainer when it trained): the larger of the estimate from the disagreement of a
    bootstrapped twin of the ensemble and the share that changed since the version trained `next_ratings`
    ratings earlier (none before one)."""

    next_ratings: int
    decision_change_share: float
    decision_changes: int
    disagreement_share: float | None = None  # none from a model trained before the two were told apart
    observed_change_share: float | None = None


class StatsOut(BaseModel):
    memes: int
    embedded: int
    failed: int
    ratings: int
    model_versions: int
    scored: int  # on the overall axis
    curation_pending: int
    library: int
    ratings_by_axis: dict[str, int] = {}
    scored_by_axis: dict[str, int] = {}  # by the current model
    curation_queued_by_axis: dict[str, int] = {}  # pending items, by the axis that queued them
    stopping: StoppingOut | None = None  # none before a model trained with the signal


class RatingStatusOut(BaseModel):
    ratings_today: int
    ratings_total: int
    pending_in_batch: int
    model_version_id: int | None
    model_trained_at: datetime | None
    retrain_running: bool | None
    stopping: StoppingOut | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    broker: bool
    # One message per folder the API cannot write (which one, and why); any makes /healthz fail.
    folders: list[str] = []


class CurationItemOut(BaseModel):
    id: int
    meme: MemeOut
    score: float  # the current model's score; the queuing model's if the current one has none
    spread: float | None
    score_axis: str  # the axis `score` is on: the one the queue is ordered by
    scores: dict[str, float] = {}  # the current model's score on each axis
    scored_by_version_id: int | None  # the version whose score `score` is
    queued_by_version_id: int | None
    axis: str  # the axis whose curation threshold queued it
    # Set when the current model no longer ranks it within its top fraction: it waits behind the others.
    sunk_reason: str | None = None
    status: str
    name: str | None
    library_path: str | None
    near_duplicate: MemeOut | None = None
    near_duplicate_cosine: float | None = None
    pending: int


class KeepIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class EvaluationLabelIn(BaseModel):
    meme_id: int = DbId
    good: bool


class EvaluationMemeOut(BaseModel):
    meme: MemeOut
    labelled: int


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["folder", "reddit", "lemmy"]
    target: str = Field(min_length=1, max_length=512)
    options: dict[str, Any] = Field(default_factory=dict)


class SourcePatch(BaseModel):
    """What may change of a source; a field left out stays, null puts an option back to its default."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    sort: str | None = None
    time: str | None = None
    interval_s: int | None = None
    watch: bool | None = None
    stream: bool | None = None
    take_link_previews: bool | None = None


class SourceOut(BaseModel):
    id: int
    kind: str
    target: str
    sort: str  # with kind and target, what makes a source one listing ("" for folders)
    time_window: str
    options: dict[str, Any]
    enabled: bool
    interval_s: int
    last_crawl_at: datetime | None
    last_result: dict[str, Any] | None
    already_there: bool = False  # on adding: the same listing was there, and is the one answered


class ModelVersionOut(BaseModel):
    id: int
    encoder: str
    n_ratings: int
    is_current: bool
    pinned: bool
    created_at: datetime
    metrics: dict[str, Any]
    config: dict[str, Any]


class QueuedOut(BaseModel):
    queued: bool
    detail: str
