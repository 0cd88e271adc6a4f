"""Typed settings shared by every service, read from `MEMETHRESHER_*` environment variables.

Settings are built on first use through `get_settings()`, never at import, so tests and
`memethresher up` can set the environment first and call `get_settings.cache_clear()`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MEMETHRESHER_"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# The 5-point rating scale, each choice with the soft target the trainer learns: P(a is better).
CHOICE_TARGETS: dict[str, float] = {"a+": 0.95, "a": 0.8, "tie": 0.5, "b": 0.2, "b+": 0.05}
CHOICES = tuple(CHOICE_TARGETS)
# The axis every rating page asks about; `rating_axes` adds others.
OVERALL = "overall"


class Settings(BaseSettings):
    """Settings every service needs; each service adds its own class for the rest."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str = "sqlite:///./data/memethresher.db"
    # Empty means "start an embedded Redis" (only `memethresher up` does that).
    broker_url: str = ""
    storage: Path = Path("./data/images")
    # Encoder id "<architecture>:<weights tag>", as in open_clip (see encoder_registry): the initial one;
    # an encoder switch (encoder_state) replaces it without a restart.
    embedder: str = "efficientnet_lite0:imagenet"
    # An encoder switch trains the new encoder's model once this share of memes has its vectors.
    encoder_switch_coverage: float = Field(default=0.95, gt=0, le=1)
    # How far below the active encoder's the new one's held-out log-loss must be for the switch to
    # complete: 0 means "at least as good"; a negative value accepts one up to that much worse (a faster one).
    encoder_switch_min_gain: float = 0.0
    library_dir: Path = Path("./data/library")
    # `memethresher backup` writes timestamped folders here and keeps the newest `backup_keep`.
    backup_dir: Path = Path("./data/backups")
    backup_keep: int = Field(default=7, ge=1)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    flower_port: int = Field(default=5555, ge=0, le=65535)
    # Required when `host` is not loopback: the API asks for it, and so does Flower under `memethresher up`.
    api_token: str = ""

    embed_batch_size: int = Field(default=32, ge=1)
    retrain_every: int = Field(default=20, ge=1, description="new ratings that trigger a retrain")
    acquisition_batch_size: int = Field(default=64, ge=2)
    curation_top_fraction: float = Field(default=0.05, gt=0, le=1)
    # An axis' own share, e.g. {"funny": 0.02}; an axis not named takes `curation_top_fraction`.
    curation_top_fraction_by_axis: dict[str, float] = Field(default_factory=dict)
    near_duplicate_cosine: float = Field(default=0.95, gt=0, le=1)
    # An unacknowledged task (its worker vanished) goes back on its queue after this long.
    task_visibility_timeout_s: int = Field(default=900, ge=10)
    # Extra rating axes beside "overall", which is always rated and trained (listing it changes nothing).
    rating_axes: list[str] = Field(default_factory=list, description='extra axes, e.g. ["funny", "useful"]')

    @field_validator("rating_axes")
    @classmethod
    def _extra_axes(cls, axes: list[str]) -> list[str]:
        for axis in axes:
            if not axis.isidentifier() or len(axis) > 32:
                raise ValueError(f"MEMETHRESHER_RATING_AXES: {axis!r} must be a short identifier")
        return list(dict.fromkeys(axis for axis in axes if axis != OVERALL))

    @property
    def all_axes(self) -> tuple[str, ...]:
        """Every axis a rating may have: "overall" first, then the extra ones."""
        return (OVERALL, *self.rating_axes)

    @model_validator(mode="after")
    def _fractions_of_known_axes(self) -> Self:
        for axis, fraction in self.curation_top_fraction_by_axis.items():
            if axis not in self.all_axes:
                raise ValueError(f"MEMETHRESHER_CURATION_TOP_FRACTION_BY_AXIS: {axis!r} is not one of {self.all_axes}")
            if not 0 < fraction <= 1:
                raise ValueError(f"MEMETHRESHER_CURATION_TOP_FRACTION_BY_AXIS: {axis!r} needs a share in (0, 1]")
        return self

    def curation_top_fraction_of(self, axis: str) -> float:
        """The share of scored memes the curation queue takes on `axis`."""
        return self.curation_top_fraction_by_axis.get(axis, self.curation_top_fraction)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite", "postgresql")):
            raise ValueError("MEMETHRESHER_DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL")
        return url

    @property
    def needs_token(self) -> bool:
        return self.host not in LOOPBACK_HOSTS


@functools.cache
def get_settings() -> Settings:
    return Settings()
