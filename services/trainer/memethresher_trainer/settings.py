"""Trainer settings: the ensemble recipe and acquisition, on top of the shared settings."""

from __future__ import annotations

import dataclasses
import functools

import torch
from memethresher_shared.settings import CHOICE_TARGETS, Settings
from pydantic import Field, field_validator

from memethresher_trainer.acquire import STRATEGIES
from memethresher_trainer.model import EnsembleConfig

# The recipe's defaults live in EnsembleConfig alone; the settings only name them for the environment.
_RECIPE = {f.name: f.default for f in dataclasses.fields(EnsembleConfig) if f.default is not dataclasses.MISSING}


class TrainerSettings(Settings):
    """`MEMETHRESHER_ENSEMBLE_MEMBERS`, `MEMETHRESHER_ACQUISITION_STRATEGY`, ..."""

    ensemble_members: int = Field(default=_RECIPE["members"], ge=1)
    ensemble_hidden: int = Field(default=_RECIPE["hidden"], ge=1)
    ensemble_depth: int = Field(default=_RECIPE["depth"], ge=0)
    ensemble_dropout: float = Field(default=_RECIPE["dropout"], ge=0, lt=1)
    ensemble_lr: float = Field(default=_RECIPE["lr"], gt=0)
    ensemble_weight_decay: float = Field(default=_RECIPE["weight_decay"], ge=0)
    # Whitened principal components of the collection the ensemble learns on (0: raw embeddings).
    ensemble_input_components: int = Field(default=_RECIPE["input_components"], ge=0)
    ensemble_max_epochs: int = Field(default=_RECIPE["max_epochs"], ge=1)
    ensemble_patience: int = Field(default=_RECIPE["patience"], ge=1)
    # Each member weighs the answers by its own Poisson(1) draws, so that the members' disagreement says
    # how unsure the model is (the stopping signal reads it; see EnsembleConfig.bootstrap).
    ensemble_bootstrap: bool = _RECIPE["bootstrap"]
    # Read the stopping signal's disagreement from a bootstrapped twin of the ensemble, fitted on the same
    # answers beside it (a second fit per retrain): the ensemble's own members barely disagree.
    stopping_spread_twin: bool = True
    choice_targets: dict[str, float] = Field(default_factory=lambda: dict(CHOICE_TARGETS))
    # A keep and a discard in the curation queue, as targets against the learned keep threshold.
    keep_target: float = Field(default=_RECIPE["keep_target"], ge=0, le=1)
    discard_target: float = Field(default=_RECIPE["discard_target"], ge=0, le=1)
    # Memes put in the library folder by hand (never through the queue) count as keeps.
    library_keeps: bool = _RECIPE["library_keeps"]
    # Random pairs, each meme in at most `acquisition_max_per_meme` pairs of a batch: a strategy is the
    # default only if it beats random pairs on the benchmark's taste families by more than the spread
    # between draws. Uncertainty did not (fifth round), nor did k-center spreading ("diverse"): over 2-3
    # draws of six families it was 0.005 AUROC behind random pairs at 1,000-1,512 ratings on average and
    # worse in the worst family (conv -0.013 against the seed recipe, random pairs' worst -0.004), and
    # behind at 128 ratings in three families (benchmarks/RESULTS.md, learning, eighth round). EPIG and
    # BAL-PM trailed random pairs in all six families over two draws (ninth round).
    acquisition_strategy: str = Field(default="random", pattern=f"^({'|'.join(STRATEGIES)})$")
    acquisition_max_per_meme: int = Field(default=2, ge=1)
    # Share of each batch drawn at random, for exploring the whole collection (see above for 0).
    acquisition_random_fraction: float = Field(default=0.0, ge=0, le=1)
    score_summary: str = Field(default="mean", pattern="^(mean|median)$")
    # A training that finds the lock held retries after this long; requests meanwhile coalesce.
    train_retry_s: int = Field(default=5, ge=1)
    seed: int = 0
    # Threads torch may use for training and scoring; 0 keeps torch's default (one per core).
    # One by default: the default ensemble is small, and with the cores shared by the API and the
    # other workers, two threads made training several times slower (benchmarks/RESULTS.md); on an
    # idle machine two are only about 15% faster (bench_train).
    trainer_threads: int = Field(default=1, ge=0)

    @field_validator("choice_targets")
    @classmethod
    def _whole_scale(cls, targets: dict[str, float]) -> dict[str, float]:
        if set(targets) != set(CHOICE_TARGETS):
            raise ValueError(f"MEMETHRESHER_CHOICE_TARGETS needs a target for each of {list(CHOICE_TARGETS)}")
        return targets

    def ensemble_config(self, dim: int, **overrides: object) -> EnsembleConfig:
        values: dict[str, object] = {
            "dim": dim,
            "members": self.ensemble_members,
            "hidden": self.ensemble_hidden,
            "depth": self.ensemble_depth,
            "dropout": self.ensemble_dropout,
            "lr": self.ensemble_lr,
            "weight_decay": self.ensemble_weight_decay,
            "input_components": self.ensemble_input_components,
            "max_epochs": self.ensemble_max_epochs,
            "patience": self.ensemble_patience,
            "bootstrap": self.ensemble_bootstrap,
            "targets": dict(self.choice_targets),
            "keep_target": self.keep_target,
            "discard_target": self.discard_target,
            "library_keeps": self.library_keeps,
            "axes": self.all_axes,
            "seed": self.seed,
        }
        values.update(overrides)
        return EnsembleConfig(**values)  # type: ignore[arg-type]


@functools.cache
def get_trainer_settings() -> TrainerSettings:
    settings = TrainerSettings()
    if settings.trainer_threads:
        torch.set_num_threads(settings.trainer_threads)
    return settings
