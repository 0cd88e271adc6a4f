"""What a curve says (labels to reach a level, AUROC at given labels, the largest drop between rounds), pooled
per family over worlds and draws, and the verdict by the worst family."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from memethresher_trainer.stopping import shown_share

AT = (128, 256, 512, 1024)
LEVELS = (0.80, 0.90)
HALF = 0.5  # the goal: the seed recipe's final AUROC with at most half of its labels
MAX_DROP = 0.01  # the goal: no round worse than the one before by more than this


def by_comparisons(curve: list[dict]) -> list[dict]:
    """The curve against the comparisons the trainer saw instead of the person's interactions (a best of
    four is one interaction, three comparisons; a keep or discard is no comparison: it stays counted)."""
    return [p | {"labels": p.get("comparisons", p["labels"]) + p.get("decisions", 0)} for p in curve]


def labels_to_reach(curve: list[dict], level: float) -> int | None:
    return next((point["labels"] for point in curve if point["auroc"] >= level), None)


def auroc_at(curve: list[dict], labels: int) -> float | None:
    """AUROC of the last model trained on at most `labels` ratings."""
    points = [point["auroc"] for point in curve if point["labels"] <= labels]
    return points[-1] if points else None


def largest_drop(curve: list[dict], after: int = 0) -> float:
    """The largest fall of AUROC from one round to the next, among rounds from `after` labels on."""
    values = [point["auroc"] for point in curve if point["labels"] >= after]
    return max([0.0] + [before - after for before, after in zip(values, values[1:], strict=False)])


def summarize(curve: list[dict], seed: list[dict]) -> dict[str, Any]:
    """One run against its world's seed-recipe curve."""
    final, seed_labels = seed[-1]["auroc"], seed[-1]["labels"]
    reached = labels_to_reach(curve, final)
    vs_seed = {}
    for point in seed:
        ours = auroc_at(curve, point["labels"])
        beyond = ours is None or point["labels"] > curve[-1]["labels"]
        vs_seed[str(point["labels"])] = None if beyond or ours is None else ours - point["auroc"]
    return {"to_seed_final": reached, "label_ratio": None if reached is None else reached / seed_labels,
            **{f"to_{level:.2f}": labels_to_reach(curve, level) for level in LEVELS},
            **{f"at_{n}": auroc_at(curve, n) if n <= curve[-1]["labels"] else None for n in AT},
            "vs_seed": vs_seed, "largest_drop": largest_drop(curve), "drop_after_200": largest_drop(curve, 200),
            "final_labels": curve[-1]["labels"], "final_auroc": curve[-1]["auroc"]}  # fmt: skip


def median_or_none(values: list[float | None]) -> float | None:
    """Median where None (never reached) counts as worse than any value; None if that is the median."""
    if not values:
        return None
    median = float(np.median([np.inf if v is None else v for v in values]))
    return None if np.isinf(median) else median


def mean_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known and len(known) == len(values) else None


def pool(rows: list[dict]) -> dict[str, Any]:
    """One strategy's runs in one family (worlds x draws): median labels, mean AUROC, worst drop."""
    out: dict[str, Any] = {"runs": len(rows)}
    for key in ("to_seed_final", "label_ratio", *(f"to_{level:.2f}" for level in LEVELS)):
        out[key] = median_or_none([row[key] for row in rows])
    for key in (*(f"at_{n}" for n in AT), "final_auroc"):
        out[key] = mean_or_none([row[key] for row in rows])
    checkpoints = sorted({k for row in rows for k in row["vs_seed"]}, key=int)
    out["vs_seed"] = {k: mean_or_none([row["vs_seed"].get(k) for row in rows]) for k in checkpoints}
    out["largest_drop"] = max(row["largest_drop"] for row in rows)
    out["drop_after_200"] = max(row["drop_after_200"] for row in rows)
    return out


def verdict(families: dict[str, dict[str, dict]], strategy: str) -> dict[str, Any]:
    """The worst family decides: its margin over the seed recipe at equal labels, its labels to the seed's
    final, and the largest drop between rounds in any run."""
    rows = {family: by[strategy] for family, by in families.items() if strategy in by}
    margins = {f: min((v for v in row["vs_seed"].values() if v is not None), default=None) for f, row in rows.items()}
    known = {f: m for f, m in margins.items() if m is not None}
    worst_margin = min(known, key=lambda f: known[f]) if known else None
    ratios = {f: row["label_ratio"] for f, row in rows.items()}
    worst_ratio = max(ratios, key=lambda f: np.inf if ratios[f] is None else ratios[f]) if ratios else None
    drop_family = max(rows, key=lambda f: rows[f]["largest_drop"]) if rows else None
    return {
        "strategy": strategy,
        "worst_margin_family": worst_margin, "worst_margin": known.get(worst_margin) if worst_margin else None,
        "never_worse_than_seed": bool(known) and min(known.values()) >= 0,
        "worst_ratio_family": worst_ratio, "worst_label_ratio": ratios.get(worst_ratio) if worst_ratio else None,
        "half_the_labels": bool(ratios) and all(r is not None and r <= HALF for r in ratios.values()),
        "largest_drop_family": drop_family, "largest_drop": rows[drop_family]["largest_drop"] if drop_family else None,
        "drops_within": bool(rows) and all(row["largest_drop"] <= MAX_DROP for row in rows.values()),
        "drop_after_200": max((row["drop_after_200"] for row in rows.values()), default=None),
    }  # fmt: skip


def _cell(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:+.{-digits}f}" if digits < 0 else (f"{value:.{digits}f}" if digits else f"{round(value)}")


def print_table(families: dict[str, dict[str, dict]], held_out: dict[str, bool]) -> None:
    at = " ".join(f"{'@' + str(n):>6}" for n in AT)
    print(f"{'family':12} {'strategy':28} {'to seed':>7} {'ratio':>5} {'to .80':>6} {'to .90':>6} {at} "
          f"{'vs seed at its labels':>26} {'drop':>6} {'>200':>6}")  # fmt: skip
    for family, by in families.items():
        for name, row in by.items():
            margins = "" if name == "seed recipe" else " ".join(_cell(v, -3) for v in row["vs_seed"].values())
            print(f"{family + ('' if held_out[family] else '*'):12} {name:28} {_cell(row['to_seed_final'], 0):>7} "
                  f"{_cell(row['label_ratio'], 2):>5} {_cell(row['to_0.80'], 0):>6} {_cell(row['to_0.90'], 0):>6} "
                  + " ".join(f"{_cell(row[f'at_{n}']):>6}" for n in AT)
                  + f" {margins:>26} {row['largest_drop']:6.3f} {row['drop_after_200']:6.3f}", flush=True)  # fmt: skip
    print("(* tuning family; 'ratio': labels to the seed recipe's final AUROC over its labels, median over runs)")


def plot(curves: dict[str, dict[str, list[list[dict]]]], held_out: dict[str, bool], path: Path) -> None:
    """AUROC against labels, one panel per family, the mean over worlds and draws per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = list(curves)
    cols = min(3, len(families))
    rows = -(-len(families) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False, sharey=True)
    # One colour per strategy in every panel, and every strategy in the legend, also those that ran in
    # some families only.
    names = list(dict.fromkeys(name for family in families for name in curves[family] if name != "seed recipe"))
    colours = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(names)} | {"seed recipe": "black"}
    handles: dict[str, Any] = {}
    for ax, family in zip(axes.flat, families, strict=False):
        for name, runs in curves[family].items():
            labels = sorted({p["labels"] for run in runs for p in run})
            mean = [np.mean([auroc_at(run, n) or np.nan for run in runs]) for n in labels]
            style = {"marker": "s", "linestyle": "--"} if name == "seed recipe" else {}
            if name.endswith("by comparisons"):
                style = {"linestyle": ":"}
            (handles[name],) = ax.plot(labels, mean, label=name, color=colours[name], **style)
        ax.set_title(f"{family} ({'held out' if held_out[family] else 'tuning'})")
        ax.set_xlabel("interactions (a pair, a four or a decision each)")
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("AUROC on held-out memes")
    for ax in list(axes.flat)[len(families) :]:
        ax.axis("off")
    order = [name for name in ["seed recipe", *names] if name in handles]
    axes[0, 0].legend([handles[name] for name in order], order, fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def verdict_line(v: dict[str, Any]) -> str:
    return (f"{v['strategy']}: worst family at equal labels {v['worst_margin_family']} "
            f"({_cell(v['worst_margin'], -3)}); labels to the seed's final, worst {v['worst_ratio_family']} "
            f"(ratio {_cell(v['worst_label_ratio'], 2)}); largest drop {v['largest_drop_family']} "
            f"({_cell(v['largest_drop'])}; from 200 labels on {_cell(v['drop_after_200'])})")  # fmt: skip


LITTLE = 0.02  # "little will change": at most 2% of keep/discard decisions expected to flip


# The signals each round records (loop.stopping_signals) and the one the product shows from them: the top
# level of a stopping entry is the disagreement estimate's (as before the others were added).
SIGNALS: dict[str, Callable[[dict], float | None]] = {
    "observed": lambda p: p.get("observed_change"),
    "shown": lambda p: shown_share(p["predicted_change"], p.get("observed_change")),
}


def stopping_accuracy(curves: list[list[dict]], signal: Callable[[dict], float | None] | None = None) -> dict[str, Any]:
    """A stopping signal (of each round; default the disagreement estimate) against what happened:
    predicted share of changed decisions from the next 100 ratings, and the share that did change, over
    every round of every run."""
    signal = signal or (lambda p: p.get("predicted_change"))
    points = [(signal(p), p["actual_change"]) for c in curves for p in c
              if p.get("actual_change") is not None and p.get("predicted_change") is not None]  # fmt: skip
    points = [point for point in points if point[0] is not None]
    if not points:
        return {"rounds": 0}
    predicted, actual = np.array(points).T
    little = predicted <= LITTLE
    # For comparison, the plainest forecast: the share that changed over the previous 100 ratings (a window
    # that ends at or before this round, so it knows nothing of what comes next).
    past = []
    for c in curves:
        for i, p in enumerate(c):
            j = max((j for j in range(i) if c[j]["labels"] <= p["labels"] - 100), default=None)
            if j is not None and p.get("actual_change") is not None and c[j].get("actual_change") is not None:
                past.append((c[j]["actual_change"], p["actual_change"]))
    before, after = np.array(past).T if past else (np.zeros(0), np.zeros(0))
    return {"rounds": len(points), "mean_predicted": float(predicted.mean()), "mean_actual": float(actual.mean()),
            "mean_abs_error": float(np.abs(predicted - actual).mean()),
            "previous_round_change_mean_abs_error": float(np.abs(before - after).mean()) if past else None,
            "correlation": float(np.corrcoef(predicted, actual)[0, 1]) if len(points) > 2 else None,
            "little_rounds": int(little.sum()),
            "little_actual_mean": float(actual[little].mean()) if little.any() else None,
            "little_actual_p90": float(np.quantile(actual[little], 0.9)) if little.any() else None}  # fmt: skip


def stopping_report(curves: list[list[dict]]) -> dict[str, Any]:
    """Every signal's accuracy over the same runs: the disagreement estimate's at the top level."""
    rows = {name: stopping_accuracy(curves, signal) for name, signal in SIGNALS.items()}
    return stopping_accuracy(curves) | {name: row for name, row in rows.items() if row["rounds"]}
