"""Training the ensemble on rated pairs, keeps and discards: a validation split by meme, loss curves,
early stopping."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from memethresher_trainer.model import Ensemble, EnsembleConfig, member_seed
from memethresher_trainer.whiten import Whitening

# `Pairs.b` of an absolute label: meme `a` against its axis' keep threshold, target 1 kept, 0 discarded.
THRESHOLD = -1


@dataclass
class Pairs:
    """Rated pairs as indices into a vector table: target = P(a beats b) on rating axis `axis`.

    A row whose `b` is `THRESHOLD` is a keep or discard of meme `a`: target = P(a beats the keep
    threshold)."""

    a: np.ndarray  # (P,) int64
    b: np.ndarray  # (P,) int64
    target: np.ndarray  # (P,) float32
    axis: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (P,) int64

    def __post_init__(self) -> None:
        self.a = np.asarray(self.a, dtype=np.int64)
        self.b = np.asarray(self.b, dtype=np.int64)
        self.target = np.asarray(self.target, dtype=np.float32)
        if len(self.axis) != len(self.a):
            self.axis = np.zeros(len(self.a), dtype=np.int64)
        self.axis = np.asarray(self.axis, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.a)

    @classmethod
    def join(cls, *parts: Pairs) -> Pairs:
        """The rows of every part, in order."""
        fields = ("a", "b", "target", "axis")
        return cls(*(np.concatenate([getattr(part, f) for part in parts]) for f in fields))

    def subset(self, mask: np.ndarray) -> Pairs:
        return Pairs(self.a[mask], self.b[mask], self.target[mask], self.axis[mask])

    @property
    def absolute(self) -> np.ndarray:
        """(P,) bool: the rows that compare a meme with the keep threshold."""
        return self.b == THRESHOLD

    def b_or_a(self) -> np.ndarray:
        """`b`, with `a` standing in on threshold rows: a valid meme index everywhere."""
        return np.where(self.absolute, self.a, self.b)


def threshold_rows(rows: Sequence[tuple[int, float, int]]) -> Pairs:
    """(meme index, target, axis) -> pairs of those memes against their axis' keep threshold."""
    if not rows:
        return Pairs(np.zeros(0), np.zeros(0), np.zeros(0))
    memes, target, axis = (np.array(column) for column in zip(*rows, strict=True))
    return Pairs(memes, np.full(len(rows), THRESHOLD), target, axis)


@dataclass
class EpochMetric:
    step: int
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None


@dataclass
class FitResult:
    model: Ensemble
    curve: list[EpochMetric]
    metrics: dict[str, Any]


def validation_memes(keys: Sequence[object], fraction: float, salt: str = "memethresher") -> np.ndarray:
    """Which memes are held out, decided by a hash of each meme's key so it is stable across retrains."""
    cut = int(fraction * 2**32)
    out = np.empty(len(keys), dtype=bool)
    for i, key in enumerate(keys):
        digest = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=4).digest()
        out[i] = int.from_bytes(digest, "little") < cut
    return out


def split_pairs(pairs: Pairs, held_out: np.ndarray) -> tuple[Pairs, Pairs]:
    """Train pairs touch only training memes; every validation pair holds a held-out meme (a keep or
    discard is a validation row when its meme is held out)."""
    touches = held_out[pairs.a] | held_out[pairs.b_or_a()]
    return pairs.subset(~touches), pairs.subset(touches)


def pair_logits(model: Ensemble, x: torch.Tensor, pairs: Pairs) -> torch.Tensor:
    """Per-member logits of P(a beats b) without dropout: (M, P), scoring each meme once; on a
    threshold row, of P(a beats its axis' keep threshold)."""
    used, inverse = np.unique(np.concatenate([pairs.a, pairs.b_or_a()]), return_inverse=True)
    with torch.no_grad():
        scores = model.score_all(x[torch.from_numpy(used)])  # (U, M, A)
        ia, ib = torch.from_numpy(inverse[: len(pairs)]), torch.from_numpy(inverse[len(pairs) :])
        ax = torch.from_numpy(pairs.axis)
        sb = scores[ib, :, ax]  # (P, M)
        absolute = torch.from_numpy(pairs.absolute)
        if bool(absolute.any()):
            threshold = model.threshold[:, 0, :].T  # (A, M)
            sb = torch.where(absolute.unsqueeze(1), threshold[ax], sb)
        diff = scores[ia, :, ax] - sb  # (P, M)
    return diff.T


def evaluate_pairs(model: Ensemble, x: torch.Tensor, pairs: Pairs) -> tuple[float, float | None]:
    """Mean member BCE and the ensemble's pairwise accuracy on non-tied pairs."""
    logits = pair_logits(model, x, pairs)  # (M, P)
    target = torch.from_numpy(pairs.target).expand_as(logits)
    loss = F.binary_cross_entropy_with_logits(logits, target).item()
    p = torch.sigmoid(logits).mean(0)
    decided = torch.from_numpy(pairs.target != 0.5)
    if not bool(decided.any()):
        return loss, None
    truth = torch.from_numpy(pairs.target > 0.5)
    accuracy = ((p > 0.5) == truth)[decided].float().mean().item()
    return loss, accuracy


# P(Poisson(1) <= k) for k = 0..7; beyond 7 (probability 1e-5) a weight stays 8.
POISSON1_CDF = np.cumsum([np.exp(-1.0) / np.prod(np.arange(1, k + 1)) for k in range(8)])


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: uint64 in, well-spread uint64 out (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def answer_weights(config: EnsembleConfig, pairs: Pairs, meme_keys: np.ndarray) -> torch.Tensor | None:
    """Per-member weights of the answers (M, P) with `bootstrap`, else None (all 1): Poisson(1) draws
    keyed by the answer (its memes' keys, its kind and axis) and the member, so an answer keeps its weight
    from one retrain to the next and members do not reshuffle each time a few answers are added."""
    if not config.bootstrap:
        return None
    with np.errstate(over="ignore"):
        key = meme_keys[pairs.a].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        key = _mix(key ^ meme_keys[pairs.b_or_a()].astype(np.uint64))
        key = _mix(key ^ (pairs.absolute.astype(np.uint64) << np.uint64(32)) ^ pairs.axis.astype(np.uint64))
        members = np.arange(config.members, dtype=np.uint64)[:, None]
        bits = _mix(key[None, :] ^ _mix(members + np.uint64(member_seed(config.seed, config.members))))
    uniform = (bits >> np.uint64(11)).astype(np.float64) / float(1 << 53)  # (M, P) in [0, 1)
    return torch.from_numpy(np.searchsorted(POISSON1_CDF, uniform).astype(np.float32))


def meme_key_array(keys: Sequence[object] | None, n: int) -> np.ndarray:
    """The memes' keys as integers (their ids in the product); positions when they are not integers."""
    if keys is not None and all(isinstance(k, (int, np.integer)) for k in keys):
        return np.asarray(keys, dtype=np.int64)
    return np.arange(n, dtype=np.int64)


def _epoch(
    model: Ensemble,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    pairs: Pairs,
    gen: torch.Generator,
    weights: torch.Tensor | None = None,
) -> float:
    """One pass; each member sees the pairs in its own order, each answer weighed by `weights` (M, P) if
    given. Returns the mean member loss."""
    cfg = model.config
    n = len(pairs)
    order = torch.rand(cfg.members, n, generator=gen).argsort(dim=1)  # (M, P): one order per member
    w = None if weights is None else weights.gather(1, order)  # (M, P)
    # Every index the epoch needs, gathered once: per step only slices, no Python-side bookkeeping.
    a, b = torch.from_numpy(pairs.a)[order], torch.from_numpy(pairs.b_or_a())[order]  # (M, P)
    t = torch.from_numpy(pairs.target)[order]  # (M, P)
    ax = torch.from_numpy(pairs.axis)[order].unsqueeze(-1) if len(cfg.axes) > 1 else None  # (M, P, 1)
    absolute = torch.from_numpy(pairs.absolute)[order].unsqueeze(-1) if pairs.absolute.any() else None  # (M, P, 1)
    model.train()
    total = torch.zeros(())
    for start in range(0, n, cfg.batch_size):
        stop = min(n, start + cfg.batch_size)
        both = torch.cat([a[:, start:stop], b[:, start:stop]], dim=1)  # (M, 2B)
        # One index_select (twice as fast as advanced indexing here, benchmarks/RESULTS.md) and one bmm for both sides.
        scores = model(x.index_select(0, both.view(-1)).view(*both.shape, -1))  # (M, 2B, A)
        sa, sb = scores.split(stop - start, dim=1)
        if absolute is not None:
            # A keep or discard compares its meme with the keep threshold (M, 1, A) instead of a second meme.
            sb = torch.where(absolute[:, start:stop], model.threshold, sb)
        logits = sa - sb  # (M, B, A)
        logits = logits.squeeze(-1) if ax is None else logits.gather(2, ax[:, start:stop]).squeeze(-1)  # (M, B)
        # Sum over members of each member's mean loss: every member gets exactly its own gradient.
        losses = F.binary_cross_entropy_with_logits(logits, t[:, start:stop], reduction="none")  # (M, B)
        loss = (losses if w is None else losses * w[:, start:stop]).mean(1).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * (stop - start)
    return float(total) / (n * cfg.members)


def fit(
    vectors: np.ndarray,
    pairs: Pairs,
    config: EnsembleConfig,
    keys: Sequence[object] | None = None,
) -> FitResult:
    """Train on `pairs` (rated pairs, keeps and discards) over `vectors` (N, D); early stopping on
    memes held out by key."""
    if len(pairs) == 0:
        raise ValueError("no rated pairs, keeps or discards to train on")
    if vectors.ndim != 2 or vectors.shape[1] != config.dim:
        raise ValueError(f"vectors must be (N, {config.dim}), got {vectors.shape}")
    started = time.perf_counter()
    torch.manual_seed(config.seed)  # dropout masks
    x = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    whitening = Whitening.fit(vectors, config.input_components)
    if whitening is not None:
        # Train on the collection's whitened principal components, then fold them into layer 0.
        inner = _fit(whitening.apply(x), pairs, whitening.inner_config(config), keys)
        inner.metrics["input_components"] = whitening.basis.shape[1]
        inner.metrics["train_seconds"] = round(time.perf_counter() - started, 3)
        return FitResult(whitening.fold(inner.model, config), inner.curve, inner.metrics)
    result = _fit(x, pairs, config, keys)
    result.metrics["train_seconds"] = round(time.perf_counter() - started, 3)
    return result


def _fit(
    x: torch.Tensor,
    pairs: Pairs,
    config: EnsembleConfig,
    keys: Sequence[object] | None,
) -> FitResult:
    held_out = validation_memes(keys if keys is not None else range(len(x)), config.val_fraction)
    train_pairs, val_pairs = split_pairs(pairs, held_out)
    if len(val_pairs) < config.min_val_pairs or len(train_pairs) == 0:
        train_pairs, val_pairs = pairs, pairs.subset(np.zeros(len(pairs), dtype=bool))
    model = Ensemble(config)
    meme_keys = meme_key_array(keys, len(x))
    curve, best_epoch = _train_loop(model, x, train_pairs, val_pairs, answer_weights(config, train_pairs, meme_keys))
    metrics = _summary(model, x, train_pairs, val_pairs, curve, best_epoch)
    if config.refit and len(val_pairs):
        # The split kept a third of the ratings out of training; with the stopping point known,
        # train again on all of them. The metrics above stay those measured on unseen memes.
        metrics["refit_epochs"] = max(best_epoch + 1, config.min_refit_epochs)
        model = _refit(config, x, pairs, metrics["refit_epochs"], answer_weights(config, pairs, meme_keys))
    return FitResult(model, curve, metrics)


def _refit(
    config: EnsembleConfig, x: torch.Tensor, pairs: Pairs, epochs: int, weights: torch.Tensor | None
) -> Ensemble:
    model = Ensemble(config)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    gen = torch.Generator().manual_seed(config.seed)
    for _ in range(epochs):
        _epoch(model, opt, x, pairs, gen, weights)
    return model.eval()


def _train_loop(
    model: Ensemble, x: torch.Tensor, train: Pairs, val: Pairs, weights: torch.Tensor | None = None
) -> tuple[list[EpochMetric], int]:
    """Epochs until validation loss stops improving; the best epoch's weights are restored."""
    cfg = model.config
    # fused: one kernel updates every weight tensor, instead of a Python loop per tensor.
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    gen = torch.Generator().manual_seed(cfg.seed)
    use_val = len(val) > 0
    epochs = cfg.max_epochs if use_val else cfg.fixed_epochs
    curve: list[EpochMetric] = []
    best_loss, best_epoch, best_state, stale = float("inf"), epochs - 1, None, 0
    for epoch in range(epochs):
        train_loss = _epoch(model, opt, x, train, gen, weights)
        if not use_val:
            curve.append(EpochMetric(epoch, train_loss, None, None))
            continue
        model.eval()
        val_loss, val_acc = evaluate_pairs(model, x, val)
        curve.append(EpochMetric(epoch, train_loss, val_loss, val_acc))
        if val_loss < best_loss - 1e-5:
            best_loss, best_epoch, best_state, stale = val_loss, epoch, model.state(), 0
        else:
            stale += 1
            if stale >= cfg.patience and epoch + 1 >= cfg.min_epochs:
                break
    if best_state is not None:
        model.load_state(best_state)
    model.eval()
    return curve, best_epoch


def _summary(
    model: Ensemble, x: torch.Tensor, train: Pairs, val: Pairs, curve: list[EpochMetric], best_epoch: int
) -> dict[str, Any]:
    train_loss, train_acc = evaluate_pairs(model, x, train)
    val_loss, val_acc = evaluate_pairs(model, x, val) if len(val) else (None, None)
    return {
        "best_epoch": best_epoch,
        "epochs_run": len(curve),
        "train_loss": train_loss,
        "train_accuracy": train_acc,
        "val_loss": val_loss,
        "val_accuracy": val_acc,
        "n_train_pairs": int((~train.absolute).sum()),
        "n_val_pairs": int((~val.absolute).sum()),
        "n_train_absolute": int(train.absolute.sum()),
        "n_val_absolute": int(val.absolute.sum()),
    }
