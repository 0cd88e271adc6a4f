"""The Bradley-Terry ensemble: M MLP members over an embedding, computed together with batched weights.

P(a beats b) = sigmoid(s(a) - s(b)); each member has its own initial weights (seeded per member)
and, in `train.py`, its own data order. A keep or discard is a comparison with a learned keep
threshold t per member and axis: P(keep) = sigmoid(s(meme) - t). Scores stay relative; t is only
read in training.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from memethresher_shared.settings import CHOICE_TARGETS, OVERALL
from torch import nn

Activation = Callable[[torch.Tensor], torch.Tensor]
ACTIVATIONS: dict[str, Activation] = {"silu": F.silu, "relu": F.relu, "gelu": F.gelu, "tanh": torch.tanh}


@dataclass(frozen=True)
class EnsembleConfig:
    """Architecture and training recipe; saved beside the weights as config.json."""

    dim: int
    members: int = 16
    hidden: int = 64
    depth: int = 1
    dropout: float = 0.1
    activation: str = "silu"
    axes: tuple[str, ...] = (OVERALL,)
    targets: dict[str, float] = field(default_factory=lambda: dict(CHOICE_TARGETS))
    # A keep or discard in the curation queue as a target against the keep threshold: softer than
    # 1 / 0, as a clear win is, since whether a meme makes the library also depends on the day.
    keep_target: float = 0.9
    discard_target: float = 0.1
    # Memes the person put in the library folder themselves (never queued) count as keeps on overall.
    library_keeps: bool = True
    # Whiten the input onto the collection's top principal components (0: raw embeddings); only
    # when that shrinks it. Raw embeddings with weight decay 0.1 were chosen on tastes not built from
    # those components (benchmarks/RESULTS.md, issue 15): 64 components lost 0.02 to the seed's recipe
    # on a taste of pixel statistics, and won only on a taste made of those very components.
    input_components: int = 0
    lr: float = 1e-3
    weight_decay: float = 0.1
    batch_size: int = 32
    max_epochs: int = 150
    min_epochs: int = 5
    patience: int = 12
    val_fraction: float = 0.2
    # Without enough validation pairs, early stopping is noise: train a fixed number of epochs instead.
    min_val_pairs: int = 8
    fixed_epochs: int = 20
    # After early stopping, retrain on every rating (validation memes too) for the chosen epochs, but
    # at least `min_refit_epochs`: with a few hundred ratings the validation loss bottoms out at
    # once, while ranking keeps improving for a while (measured in bench_learning).
    refit: bool = True
    min_refit_epochs: int = 15
    # Each member weighs every answer by its own Poisson(1) draw (a bootstrap of the answers). Members that
    # see the same answers agree far more than refits on new answers do: their spread understated the
    # change the next 100 ratings bring by 10x; bootstrapped, the stopping signal's error fell from 0.107 to
    # 0.034 and AUROC at 1,000-1,512 ratings stayed within 0.004, but the first 512 ratings lost up to
    # 0.07 on one taste family in all three draws (benchmarks/RESULTS.md, tenth round), so it is off.
    bootstrap: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dim < 1 or self.members < 1 or self.hidden < 1 or self.depth < 0:
            raise ValueError("dim, members and hidden must be positive and depth non-negative")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not {self.activation!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")
        if not 0 < self.val_fraction < 1:
            raise ValueError("val_fraction must be in (0, 1)")
        decisions = {"keep": self.keep_target, "discard": self.discard_target}
        for choice, target in (self.targets | decisions).items():
            if not 0 <= target <= 1:
                raise ValueError(f"target for {choice!r} must be in [0, 1], not {target}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["axes"] = list(self.axes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnsembleConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "axes" in kwargs:
            kwargs["axes"] = tuple(kwargs["axes"])
        return cls(**kwargs)


def layer_sizes(config: EnsembleConfig) -> list[tuple[int, int]]:
    sizes = [config.dim] + [config.hidden] * config.depth + [len(config.axes)]
    return list(zip(sizes[:-1], sizes[1:], strict=True))


def member_seed(seed: int, member: int) -> int:
    """A distinct, reproducible seed per member."""
    return seed * 1_000_003 + member * 7919 + 1


class Ensemble(nn.Module):
    """M MLPs with weights stacked on a leading member axis: layer i holds (M, in, out)."""

    def __init__(self, config: EnsembleConfig) -> None:
        super().__init__()
        self.config = config
        self.activation = ACTIVATIONS[config.activation]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in layer_sizes(config):
            self.weights.append(nn.Parameter(torch.empty(config.members, fan_in, fan_out)))
            self.biases.append(nn.Parameter(torch.zeros(config.members, 1, fan_out)))
        self.threshold = nn.Parameter(torch.zeros(config.members, 1, len(config.axes)))  # (M, 1, A)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform like nn.Linear, each member from its own generator."""
        with torch.no_grad():
            for m in range(self.config.members):
                gen = torch.Generator().manual_seed(member_seed(self.config.seed, m))
                for w, b in zip(self.weights, self.biases, strict=True):
                    bound = 1.0 / math.sqrt(w.shape[1])
                    w[m].uniform_(-bound, bound, generator=gen)
                    b[m].uniform_(-bound, bound, generator=gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores of per-member inputs: x (M, B, D) -> (M, B, A)."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)  # (M, B, out)
            if i < last:
                x = self.activation(x)
                if self.config.dropout and self.training:
                    x = F.dropout(x, self.config.dropout, training=True)
        return x

    def score_all(self, x: torch.Tensor) -> torch.Tensor:
        """Every member scores every meme: x (N, D) -> (N, M, A), without copying x per member."""
        h = torch.einsum("nd,mdh->mnh", x, self.weights[0]) + self.biases[0]  # (M, N, H)
        if len(self.weights) > 1:
            h = self.activation(h)
            for i in range(1, len(self.weights)):
                h = torch.baddbmm(self.biases[i], h, self.weights[i])
                if i < len(self.weights) - 1:
                    h = self.activation(h)
        return h.permute(1, 0, 2)

    def state(self) -> dict[str, torch.Tensor]:
        """A detached copy of the weights, keyed as in the safetensors artifact."""
        out: dict[str, torch.Tensor] = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            out[f"layer{i}.weight"] = w.detach().clone()
            out[f"layer{i}.bias"] = b.detach().clone()
        out["threshold"] = self.threshold.detach().clone()
        return out

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        """Weights as `state()` keys them; artifacts from before the keep threshold start it at zero."""
        with torch.no_grad():
            for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                w.copy_(state[f"layer{i}.weight"])
                b.copy_(state[f"layer{i}.bias"])
            if "threshold" in state:
                self.threshold.copy_(state["threshold"])
            else:
                self.threshold.zero_()
