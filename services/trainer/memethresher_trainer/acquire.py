"""Active learning: which pairs to ask about next.

Each member scores each meme once (N x M); a candidate pair then costs M subtractions and a
sigmoid, so millions of candidates are cheap. A batch spreads over many memes: each meme
appears in at most `max_per_meme` pairs. `diverse` needs no model: random pairs among memes spread over the
embedding space by greedy k-center selection.

Two strategies from the literature for this case (issue 15, section 3):
- `epig`: expected predictive information gain (Bickford Smith et al., AISTATS 2023), here the information a
  pair's answer carries about the keep/discard decision on a sample of the stream, so pairs that settle
  memes near the curation threshold are worth more than pairs that settle the order far from it.
- `balpm`: BAL-PM (Melo et al., NeurIPS 2024): BALD's epistemic uncertainty plus a bonus for memes far from
  every meme already rated or chosen in the batch, the nearest-neighbour estimate of the gain in entropy of
  the rated memes' feature distribution; the batch is chosen greedily, the bonus updated after each pick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

STRATEGIES = ("variance", "uncertainty", "bald", "random", "diverse", "epig", "balpm")
NEEDS_VECTORS = ("diverse", "balpm")
# k-center alone returns to the same outlying memes every batch; choosing among the least rated memes,
# this many per pick, moves each batch on to memes the earlier ones left out.
POOL_PER_PICK = 4
# Small chunks keep the (chunk, M) temporaries in cache: several times faster than large ones.
CHUNK = 1 << 16
# EPIG and BAL-PM read every candidate against many memes or once per pick: on a random sample of this many
# unrated pairs a batch among 50,000 memes takes 0.7-3 s (benchmarks/RESULTS.md, acquisition).
SAMPLED_CANDIDATES = 200_000
EPIG_TARGETS = 256  # memes of the stream whose keep/discard decision the information is about
BALPM_WEIGHT = 1.0  # the entropy bonus against BALD, both standardised over the candidates
# Distances over the full embedding up to about this many multiply-adds a batch (the learning benchmark's
# 700 memes stay exact); beyond it, over a random projection to PROJECTED_DIM dimensions.
BALPM_EXACT_WORK = 2e9
PROJECTED_DIM = 128


@dataclass
class Proposal:
    """Chosen pairs as indices into the scored memes, with each pair's acquisition value."""

    a: np.ndarray
    b: np.ndarray
    value: np.ndarray
    strategy: str
    chosen_by: np.ndarray  # per pair: the strategy, or "random" for exploration picks


def _variance(d: torch.Tensor) -> torch.Tensor:
    """The seed's method: how much the members disagree on P(a beats b). Overwrites `d`."""
    p = d.sigmoid_()
    mean = p.mean(dim=1)
    return p.mul_(p).mean(dim=1).sub_(mean * mean)


def _uncertainty(d: torch.Tensor) -> torch.Tensor:
    """Closeness of the ensemble's P(a beats b) to a coin flip. Overwrites `d`."""
    return 0.5 - (d.sigmoid_().mean(dim=1) - 0.5).abs()


def _bald(d: torch.Tensor) -> torch.Tensor:
    """Mutual information between the answer and the member: H(mean p) - mean H(p)."""
    p = torch.sigmoid(d)
    mean_p = p.mean(dim=1).clamp(1e-6, 1 - 1e-6)
    total = -(mean_p * mean_p.log() + (1 - mean_p) * (1 - mean_p).log())
    # H(sigmoid(d)) = softplus(-d) + (1 - p) d, finite for large |d|.
    member_entropy = F.softplus(-d).add_(p.neg_().add_(1).mul_(d))
    return total - member_entropy.mean(dim=1)


ACQUISITION: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "variance": _variance,
    "uncertainty": _uncertainty,
    "bald": _bald,
}


def pair_values(member_scores: torch.Tensor, a: torch.Tensor, b: torch.Tensor, strategy: str) -> torch.Tensor:
    """Acquisition value of each candidate pair from per-member scores (N, M): (C,)."""
    if strategy not in ACQUISITION:
        raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    fn = ACQUISITION[strategy]
    out = torch.empty(len(a), dtype=member_scores.dtype)
    with torch.no_grad():
        for start in range(0, len(a), CHUNK):
            sl = slice(start, start + CHUNK)
            d = torch.index_select(member_scores, 0, a[sl])  # (C, M)
            d.sub_(torch.index_select(member_scores, 0, b[sl]))
            out[sl] = fn(d)  # (C,)
    return out


def pair_keys(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Order-free key of a pair, so (a, b) and (b, a) are the same pair."""
    return np.minimum(a, b) * n + np.maximum(a, b)


def candidate_pairs(n: int, max_candidates: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Every pair when there are few memes, else a random sample of distinct unordered pairs."""
    total = n * (n - 1) // 2
    if total <= max_candidates:
        a, b = np.triu_indices(n, k=1)
        return a.astype(np.int64), b.astype(np.int64)
    a = rng.integers(0, n, size=max_candidates, dtype=np.int64)
    b = rng.integers(0, n - 1, size=max_candidates, dtype=np.int64)
    b = b + (b >= a)  # never a meme against itself
    keys = np.sort(pair_keys(a, b, n))
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]  # distinct; several times faster than np.unique here
    return keys // n, keys % n


def unrated_pairs(
    n: int, max_candidates: int, rng: np.random.Generator, rated: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs of `n` memes (see `candidate_pairs`) less the `rated` ones, in either order."""
    a, b = candidate_pairs(n, max_candidates, rng)
    if rated is not None and len(rated[0]):
        keep = ~np.isin(pair_keys(a, b, n), pair_keys(rated[0], rated[1], n))
        a, b = a[keep], b[keep]
    return a, b


def select(
    a: np.ndarray,
    b: np.ndarray,
    order: np.ndarray,
    n_pairs: int,
    max_per_meme: int,
    uses: dict[int, int] | None = None,
    taken: set[int] | None = None,
) -> list[int]:
    """Greedy in `order`, skipping pairs whose memes already appear `max_per_meme` times."""
    uses = {} if uses is None else uses
    taken = set() if taken is None else taken
    chosen: list[int] = []
    for i in order:
        if len(chosen) == n_pairs:
            break
        ai, bi = int(a[i]), int(b[i])
        if int(i) in taken or uses.get(ai, 0) >= max_per_meme or uses.get(bi, 0) >= max_per_meme:
            continue
        uses[ai] = uses.get(ai, 0) + 1
        uses[bi] = uses.get(bi, 0) + 1
        taken.add(int(i))
        chosen.append(int(i))
    return chosen


def k_center(vectors: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Greedy farthest-point selection of `k` memes: each the farthest (cosine) from those chosen before it,
    the first drawn from `rng`. Returns their indices and each one's distance to the earlier ones."""
    x = F.normalize(torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)), dim=1)
    k = min(k, len(x))
    chosen = [int(rng.integers(len(x)))]
    radius = [2.0]  # no earlier meme: the largest distance two unit vectors can have
    with torch.no_grad():
        # Squared distance of unit vectors, 2 - 2 cos, from one matrix-vector product per chosen meme.
        nearest = (2 - 2 * (x @ x[chosen[0]])).clamp_(min=0)
        nearest[chosen[0]] = -1.0  # never chosen twice, even among identical vectors
        for _ in range(k - 1):
            i = int(torch.argmax(nearest))
            radius.append(float(nearest[i].sqrt()))
            chosen.append(i)
            torch.minimum(nearest, (2 - 2 * (x @ x[i])).clamp_(min=0), out=nearest)
            nearest[i] = -1.0  # the earlier ones stay at -1 under the minimum
    return np.asarray(chosen, dtype=np.int64), np.asarray(radius)


def least_rated(n: int, rated: tuple[np.ndarray, np.ndarray] | None, at_least: int) -> np.ndarray:
    """The memes rated no more often than the `at_least`-th least rated one (ties all in)."""
    counts = np.zeros(n, dtype=np.int64)
    if rated is not None and len(rated[0]):
        counts = np.bincount(np.r_[rated[0], rated[1]], minlength=n)
    threshold = np.sort(counts)[min(at_least, n) - 1]
    return np.flatnonzero(counts <= threshold)


def diverse_pairs(
    vectors: np.ndarray, n_pairs: int, rng: np.random.Generator, rated: tuple[np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every unrated pair among 2 x `n_pairs` k-center memes of the least rated ones, in random order, valued
    by the smaller of its memes' k-center distances (how far apart from the rest of the batch they are)."""
    pool = least_rated(len(vectors), rated, POOL_PER_PICK * 2 * n_pairs)
    local, radius = k_center(vectors[pool], 2 * n_pairs, rng)
    centres = pool[local]
    i, j = np.triu_indices(len(centres), k=1)
    a, b = centres[i], centres[j]
    value = np.minimum(radius[i], radius[j])
    if rated is not None and len(rated[0]):
        n = len(vectors)
        keep = ~np.isin(pair_keys(a, b, n), pair_keys(rated[0], rated[1], n))
        a, b, value = a[keep], b[keep], value[keep]
    order = rng.permutation(len(a))
    return a[order], b[order], value[order]


def _diverse_choice(
    vectors: np.ndarray,
    pool: tuple[np.ndarray, np.ndarray],
    n_pairs: int,
    max_per_meme: int,
    rng: np.random.Generator,
    exclude: tuple[np.ndarray, np.ndarray] | None,
    uses: dict[int, int],
    taken: set[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Pairs among the k-center memes, each meme once; topped up from the random `pool` by memes not yet in
    the batch, then by memes up to `max_per_meme` times. Returns the candidate arrays and the chosen ones,
    the most spread pairs first."""
    ca, cb, cvalue = diverse_pairs(vectors, n_pairs, rng, exclude)
    n = len(vectors)
    fresh = ~np.isin(pair_keys(pool[0], pool[1], n), pair_keys(ca, cb, n))  # no pair twice in the arrays
    a, b = np.r_[ca, pool[0][fresh]], np.r_[cb, pool[1][fresh]]
    value = np.r_[cvalue, np.zeros(int(fresh.sum()))]
    order = np.r_[np.arange(len(ca)), len(ca) + rng.permutation(int(fresh.sum()))]
    chosen = select(a, b, order, n_pairs, 1, uses, taken)
    chosen += select(a, b, order, n_pairs - len(chosen), max_per_meme, uses, taken)
    chosen.sort(key=lambda c: -value[c])
    return a, b, value, chosen


def keep_probabilities(member_scores: torch.Tensor, keep_fraction: float) -> torch.Tensor:
    """Each member's P(keep) of each meme (N, M): sigmoid of its score less that member's curation threshold,
    the score of its top `keep_fraction` (the learned keep threshold's form, P(keep) = sigmoid(s - t))."""
    # kthvalue, not quantile: quantile refuses inputs of over 16M scores.
    n = len(member_scores)
    kept = min(n, max(1, int(np.ceil(n * keep_fraction))))
    threshold = member_scores.kthvalue(n - kept + 1, dim=0).values  # the lowest of each member's top `kept`
    return torch.sigmoid(member_scores - threshold)


def _entropy(p: torch.Tensor) -> torch.Tensor:
    """-p log p, 0 at p = 0 (and for the tiny negatives rounding leaves in a joint probability)."""
    return -p * p.clamp(min=1e-12).log()


def epig_values(member_scores: torch.Tensor, a: torch.Tensor, b: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the `targets`' keep probabilities (T, M) of the mutual information between a pair's answer
    and a target meme's keep/discard decision, under the ensemble as a uniform mixture of its members: (C,).

    I(answer; decision) = H(answer) + H(decision) - H(answer, decision); only the joint term is (C, T)."""
    q = targets.t().contiguous()  # (M, T)
    members = member_scores.shape[1]
    keep = targets.mean(dim=1).unsqueeze(0)  # (1, T)
    decision_entropy = (_entropy(keep) + _entropy(1 - keep)).mean()
    out = torch.empty(len(a), dtype=member_scores.dtype)
    with torch.no_grad():
        for start in range(0, len(a), CHUNK // 8):  # (chunk, T) temporaries
            sl = slice(start, start + CHUNK // 8)
            p = (member_scores[a[sl]] - member_scores[b[sl]]).sigmoid_()  # (C, M): P(a beats b) per member
            win = p.mean(dim=1, keepdim=True)
            both = p @ q / members  # P(a wins and the target is kept)
            joint = _entropy(both)
            joint += _entropy(win - both)
            joint += _entropy(keep - both)
            joint += _entropy(1 - win - keep + both)
            answer_entropy = (_entropy(win) + _entropy(1 - win)).squeeze(1)
            out[sl] = answer_entropy + decision_entropy - joint.mean(dim=1)
    return out


def _epig_value(
    member_scores: np.ndarray, a: np.ndarray, b: np.ndarray, keep_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    scores = torch.from_numpy(np.ascontiguousarray(member_scores, dtype=np.float32))
    stream = rng.choice(len(scores), size=min(EPIG_TARGETS, len(scores)), replace=False)
    targets = keep_probabilities(scores, keep_fraction)[torch.from_numpy(stream)]
    return epig_values(scores, torch.from_numpy(a), torch.from_numpy(b), targets).numpy()


def nearest_distance(x: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """Each unit vector's distance to the nearest of the unit vectors `others` (2, the largest, if none)."""
    out = torch.full((len(x),), 2.0)
    with torch.no_grad():
        for start in range(0, len(others), 4096):  # (N, 4096) at a time
            cos = x @ others[start : start + 4096].t()
            torch.minimum(out, (2 - 2 * cos.max(dim=1).values).clamp_(min=0).sqrt_(), out=out)
    return out


def _standard(v: np.ndarray) -> tuple[float, float]:
    return float(v.mean()), float(v.std()) or 1.0


def _balpm_choice(
    member_scores: np.ndarray,
    vectors: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    n_pairs: int,
    max_per_meme: int,
    exclude: tuple[np.ndarray, np.ndarray] | None,
    uses: dict[int, int],
    taken: set[int],
) -> tuple[np.ndarray, list[int]]:
    """Greedy BAL-PM batch: each pick maximises standardised BALD plus `BALPM_WEIGHT` x the standardised
    log distance of its memes to the nearest meme rated or picked so far (the Kozachenko-Leonenko entropy
    estimate grows with the log of that distance). Returns each candidate's value when it was picked (0 for
    the others) and the chosen candidates."""
    scores = torch.from_numpy(np.ascontiguousarray(member_scores, dtype=np.float32))
    bald = pair_values(scores, torch.from_numpy(a), torch.from_numpy(b), "bald").numpy()
    x = F.normalize(torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)), dim=1)
    rated = np.unique(np.r_[exclude[0], exclude[1]]) if exclude is not None else np.empty(0, dtype=np.int64)
    if x.shape[0] * x.shape[1] * (len(rated) + 2 * n_pairs) > BALPM_EXACT_WORK and x.shape[1] > PROJECTED_DIM:
        # A random projection keeps distances between unit vectors roughly (Johnson-Lindenstrauss) at a tenth
        # of the reads: among 50,000 memes after 5,000 rated pairs a batch took 3.0 s, against 13-36 s (under
        # load) over the full embedding (benchmarks/RESULTS.md, acquisition).
        gen = torch.Generator().manual_seed(0)
        x = F.normalize(x @ torch.randn(x.shape[1], PROJECTED_DIM, generator=gen), dim=1)
    distance = nearest_distance(x, x[torch.from_numpy(rated.astype(np.int64))])
    log_distance = distance.clamp(min=1e-3).log().numpy()
    novelty = (log_distance[a] + log_distance[b]) / 2
    (bald_mu, bald_sd), (nov_mu, nov_sd) = _standard(bald), _standard(novelty)  # fixed: one scale per batch
    base = (bald - bald_mu) / bald_sd
    blocked = np.zeros(len(a), dtype=bool)
    blocked[list(taken)] = True
    for meme, count in uses.items():
        if count >= max_per_meme:
            blocked |= (a == meme) | (b == meme)
    picked = np.zeros(len(a))
    chosen: list[int] = []
    while len(chosen) < n_pairs and not blocked.all():
        novelty = (log_distance[a] + log_distance[b]) / 2
        value = np.where(blocked, -np.inf, base + BALPM_WEIGHT * (novelty - nov_mu) / nov_sd)
        i = int(np.argmax(value))
        picked[i] = value[i]
        chosen.append(i)
        taken.add(i)
        blocked[i] = True
        for meme in (int(a[i]), int(b[i])):
            uses[meme] = uses.get(meme, 0) + 1
            if uses[meme] >= max_per_meme:
                blocked |= (a == meme) | (b == meme)
            near = (2 - 2 * (x @ x[meme])).clamp_(min=0).sqrt_().clamp_(min=1e-3).log_().numpy()
            np.minimum(log_distance, near, out=log_distance)
    return picked, chosen


def _values(
    member_scores: np.ndarray, a: np.ndarray, b: np.ndarray, strategy: str, rng: np.random.Generator
) -> np.ndarray:
    """Each candidate pair's value by a model strategy, or a random one."""
    if strategy == "random":
        return rng.random(len(a))
    scores = torch.from_numpy(np.ascontiguousarray(member_scores, dtype=np.float32))
    return pair_values(scores, torch.from_numpy(a), torch.from_numpy(b), strategy).numpy()


def propose(
    member_scores: np.ndarray,
    n_pairs: int,
    strategy: str,
    exclude: tuple[np.ndarray, np.ndarray] | None = None,
    max_per_meme: int = 2,
    max_candidates: int = 2_000_000,
    seed: int = 0,
    random_fraction: float = 0.0,
    vectors: np.ndarray | None = None,
    keep_fraction: float = 0.05,
) -> Proposal:
    """Choose up to `n_pairs` pairs to rate from member scores (N, M); `exclude` holds rated pairs.

    A `random_fraction` of the batch is drawn at random (exploration); the rest by `strategy`. `diverse`
    and `balpm` read the memes' embeddings `vectors` (N, D), in the rows of `member_scores`; `epig` the
    curation queue's share of the memes, `keep_fraction`.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    if member_scores.ndim != 2:
        raise ValueError(f"member scores must be (N, M), got {member_scores.shape}")
    n = member_scores.shape[0]
    rng = np.random.default_rng(seed)
    if strategy in NEEDS_VECTORS and (vectors is None or len(vectors) != n):
        raise ValueError(f"the {strategy} strategy needs the embeddings of the {n} scored memes")
    if not 0 < keep_fraction < 1:
        raise ValueError(f"keep_fraction must be in (0, 1), not {keep_fraction}")
    a, b = unrated_pairs(n, max_candidates, rng, exclude)
    if strategy in ("epig", "balpm") and len(a) > SAMPLED_CANDIDATES:
        sample = np.sort(rng.choice(len(a), size=SAMPLED_CANDIDATES, replace=False))
        a, b = a[sample], b[sample]
    n_random = int(round(n_pairs * random_fraction)) if strategy != "random" else 0
    uses: dict[int, int] = {}
    taken: set[int] = set()
    if vectors is not None and strategy == "diverse":
        a, b, value, chosen = _diverse_choice(
            vectors, (a, b), n_pairs - n_random, max_per_meme, rng, exclude, uses, taken
        )
    elif vectors is not None and strategy == "balpm":
        value, chosen = _balpm_choice(
            member_scores, vectors, a, b, n_pairs - n_random, max_per_meme, exclude, uses, taken
        )
    elif strategy == "epig":
        value = _epig_value(member_scores, a, b, keep_fraction, rng)
        chosen = select(a, b, np.argsort(-value, kind="stable"), n_pairs - n_random, max_per_meme, uses, taken)
    else:
        value = _values(member_scores, a, b, strategy, rng)
        chosen = select(a, b, np.argsort(-value, kind="stable"), n_pairs - n_random, max_per_meme, uses, taken)
    explored = select(a, b, rng.permutation(len(a)), n_random, max_per_meme, uses, taken)
    picked = np.asarray(chosen + explored, dtype=np.int64)
    # Show each pair in a random left/right order, so position says nothing about the model.
    flip = rng.random(len(picked)) < 0.5
    ca, cb = a[picked], b[picked]
    by = np.array([strategy] * len(chosen) + ["random"] * len(explored), dtype=object)
    return Proposal(np.where(flip, cb, ca), np.where(flip, ca, cb), value[picked].astype(float), strategy, by)
