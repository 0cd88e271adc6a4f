"""The tables. Every schema change goes through an Alembic migration in `shared/migrations/`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


# Named constraints so Alembic migrations are the same on SQLite (batch mode) and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Source(Base):
    """Where memes come from: a folder, or one Reddit listing (subreddits, multireddit, user, front page).

    A source is its kind, target, sort and time window: the same target sorted another way is another listing."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "folder" | "reddit"
    target: Mapped[str] = mapped_column(String(512))  # folder path, or "r/a+b", "user/NAME/m/MULTI", "front"
    # Empty for folders (not NULL: a unique constraint treats NULLs as all different).
    sort: Mapped[str] = mapped_column(String(16), default="", server_default="")
    time_window: Mapped[str] = mapped_column(String(16), default="", server_default="")  # only for sort "top"
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # watch, stream, take_link_previews, ...
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_s: Mapped[int] = mapped_column(Integer, default=3600)
    last_crawl_at: Mapped[datetime | None]
    last_result: Mapped[dict[str, Any] | None]  # counts and the error, if any, of the last crawl
    # The crawler's own bookkeeping: "gaps", listing cursors where a crawl was cut off, to resume from.
    crawl_state: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("kind", "target", "sort", "time_window", name="uq_sources_listing"),)


class Post(Base):
    """One item of a source: a Reddit post or a file in a folder. It may carry several images."""

    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(512), unique=True)  # Reddit fullname "t3_x", or "file:<path>"
    subreddit: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(128))
    permalink: Mapped[str | None] = mapped_column(String(1024))
    url: Mapped[str | None] = mapped_column(String(2048))
    created_utc: Mapped[datetime | None]
    reddit_score: Mapped[int | None]
    skip_reason: Mapped[str | None] = mapped_column(String(256))  # why nothing was taken from it
    # How its images were taken: "image", "imgur page", "gallery", "preview of a link", "file".
    taken_as: Mapped[str | None] = mapped_column(String(32))
    crawled_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set while its images failed only for passing reasons (timeouts, 429, 5xx): fetch them again then.
    retry_at: Mapped[datetime | None] = mapped_column(index=True)
    retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # retries that failed so far


class Meme(Base):
    """One distinct image (unique by sha256), however many posts carry it."""

    __tablename__ = "memes"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    storage_key: Mapped[str] = mapped_column(String(256))  # path inside the image store
    title: Mapped[str] = mapped_column(Text, default="")  # from the first post that carried it
    subreddit: Mapped[str | None] = mapped_column(String(128))
    format: Mapped[str] = mapped_column(String(16))  # "JPEG", "PNG", ...
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)  # new|embedded|failed
    failure_reason: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Already in LIBRARY_DIR: embedded so curation can skip its near-duplicates, never a curation candidate.
    in_library: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false(), index=True)


class PostMeme(Base):
    """Which images a post carries, in order (a gallery has several)."""

    __tablename__ = "post_memes"
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    meme_id: Mapped[int] = mapped_column(ForeignKey("memes.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Embedding(Base):
    """An L2-normalised float16 vector of one meme under one encoder."""

    __tablename__ = "embeddings"
    meme_id: Mapped[int] = mapped_column(ForeignKey("memes.id", ondelete="CASCADE"), primary_key=True)
    encoder: Mapped[str] = mapped_column(String(128), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float16, little-endian, `dim` values
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    """A trained ensemble: its config, metrics, the encoder it was trained on, and its weights."""

    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    encoder: Mapped[str] = mapped_column(String(128), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    artifact: Mapped[str] = mapped_column(String(512))  # folder in the store holding the weights
    n_ratings: Mapped[int] = mapped_column(Integer, default=0)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    # A pinned current version is not replaced by automatic retrains until it is unpinned.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_prompt_prior(self) -> bool:
        """Scores from the user's taste prompts, published before any model is trained from ratings."""
        return bool(self.config.get("kind") == PROMPT_PRIOR_KIND)


class TrainingMetric(Base):
    """One point of a loss curve."""

    __tablename__ = "training_metrics"
    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    train_loss: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    val_accuracy: Mapped[float | None] = mapped_column(Float)


class AcquisitionBatch(Base):
    """Pairs the model chose to be rated next, and why."""

    __tablename__ = "acquisition_batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), index=True)
    strategy: Mapped[str] = mapped_column(String(32))  # variance | uncertainty | bald | random
    # The rating axis whose head chose the pairs (each axis gets its own batch per training).
    axis: Mapped[str] = mapped_column(String(32), default="overall", server_default="overall")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AcquisitionPair(Base):
    __tablename__ = "acquisition_pairs"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("acquisition_batches.id", ondelete="CASCADE"), index=True)
    a_id: Mapped[int] = mapped_column(ForeignKey("memes.id", ondelete="CASCADE"))
    b_id: Mapped[int] = mapped_column(ForeignKey("memes.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    acquisition: Mapped[float] = mapped_column(Float)  # the strategy's value for this pair
    # pending | rated | skipped (by the user) | superseded (a newer batch of the encoder replaced it)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    __table_args__ = (UniqueConstraint("batch_id", "a_id", "b_id"),)


# The rating page's next pairs in the order they are asked (by position, so the batches of the axes
# take turns; the newer batch first on a tie): read straight off this index instead of sorting every
# pending pair on each request.
Index(
    "ix_acquisition_pairs_pending_order",
    AcquisitionPair.status,
    AcquisitionPair.position,
    AcquisitionPair.batch_id.desc(),
    AcquisitionPair.id,
)


class Rating(Base):
    """One judgement: which of two memes is better, on the 5-point scale a+/a/tie/b/b+."""

    __tablename__ = "ratings"
    id: Mapped[int] = mapped_column(primary_key=True)
    a_id: Mapped[int] = mapped_column(ForeignKey("memes.id", ondelete="CASCADE"), index=True)
    b_id: Mapped[int] = mapped_column(ForeignKey("memes.id", ondelete="CASCADE"), index=True)
    choice: Mapped[str] = mapped_column(String(4))
    axis: Mapped[str] = mapped_column(String(32), default="overall")
    origin: Mapped[str] = mapped_column(String(16), default="random")  # random | acquisition
    acquisition_pair_id: Mapped[int | None] = mapped_column(
        ForeignKey("acquisition_pairs.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class RatingEdit(Base):
    """A rating changed or undone: kept so the edit counts toward the next retrain like a new rating.
    No foreign key: an undone rating's row is gone, its edit stays."""

    __tablename__ = "rating_edits"
    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))  # change | undo
    choice_before: Mapped[str] = mapped_column(String(4))
    choice_after: Mapped[str | None] = mapped_column(String(4))  # None for an undo
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Score(Base):
    """A meme's score under one model version on one rating axis: the ensemble mean and its spread."""

    __tablename__ = "scores"
    meme_id: Mapped[int] = mapped_column(ForeignKey("memes.id", ondelete="CASCADE"), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True)
    axis: Mapped[str] = mapped_column(String(32), primary_key=True, default="overall", server_default="overall")
    mean: Mapped[float] = mapped_column(Float)
    spread: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_scores_version_axis_mean", "model_version_id", "axis", "mean"),)


class CurationItem(Base):
    """A high-scoring meme waiting for the user to keep (with a name) or discard.

    One item per meme, whichever axes score it high: keeping copies the meme into the library once,
    so the decision is about the meme. `axis` is the axis whose threshold queued it (the first to)."""

    __tablename__ = "curation_queue"
    id: Mapped[int] = mapped_column(primary_key=True)
    meme_id: Mapped[int] = mapped_column(ForeignKey("memes.id", ondelete="CASCADE"), unique=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"))
    axis: Mapped[str] = mapped_column(String(32), default="overall", server_default="overall", index=True)
    score: Mapped[float] = mapped_column(Float)  # on `axis`
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|kept|discarded
    name: Mapped[str | None] = mapped_column(String(256))
    library_path: Mapped[str | None] = mapped_column(String(1024))  # file name inside LIBRARY_DIR
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    # Times its keep or discard was undone: each undo is a rating event, like undoing a rating.
    undone: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class EvaluationLabel(Base):
    """The user's good/bad verdict on a random meme, for measuring a model."""

    __tablename__ = "evaluation_labels"
    meme_id: Mapped[int] = mapped_column(ForeignKey("memes.id", ondelete="CASCADE"), primary_key=True)
    good: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PendingImport(Base):
    """An imported rating, label or curation decision whose images are not here yet; applied when they arrive."""

    __tablename__ = "pending_imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # rating | label | curation
    # The record's identity in the export format, so importing the same file twice keeps one copy.
    key: Mapped[str] = mapped_column(String(512), unique=True)
    sha_a: Mapped[str] = mapped_column(String(64), index=True)
    sha_b: Mapped[str | None] = mapped_column(String(64), index=True)  # ratings only
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the line as exported
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EncoderSwitch(Base):
    """One switch from the active encoder to another, blue/green: the newest `done` row names the active
    encoder (the setting does before any), a row still embedding, training or comparing is the pending one."""

    __tablename__ = "encoder_switches"
    id: Mapped[int] = mapped_column(primary_key=True)
    encoder: Mapped[str] = mapped_column(String(128))  # the encoder switched to
    previous: Mapped[str] = mapped_column(String(128))  # the one active when the switch began
    # embedding | training | comparing | done | rejected | cancelled
    status: Mapped[str] = mapped_column(String(16), default="embedding", index=True)
    total: Mapped[int] = mapped_column(Integer, default=0)  # memes to embed when it began
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"))
    comparison: Mapped[dict[str, Any]] = mapped_column(default=dict)  # old and new model on the same pairs
    reason: Mapped[str | None] = mapped_column(Text)  # why it was rejected or cancelled
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


# The `kind` in the config of a model version that scores with the taste prompts, not trained from ratings.
PROMPT_PRIOR_KIND = "prompt prior"


class TastePrompt(Base):
    """A sentence the user wrote about their taste ("programming jokes"), liked or disliked: with an
    encoder that has a text tower, it scores the memes before the first rating (the prompt prior)."""

    __tablename__ = "taste_prompts"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200), unique=True)
    liked: Mapped[bool] = mapped_column(Boolean)  # False: memes like this are worse
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PromptVector(Base):
    """A taste prompt's L2-normalised float16 text vector under one encoder (stored as `Embedding.vector`)."""

    __tablename__ = "prompt_vectors"
    prompt_id: Mapped[int] = mapped_column(ForeignKey("taste_prompts.id", ondelete="CASCADE"), primary_key=True)
    encoder: Mapped[str] = mapped_column(String(128), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
