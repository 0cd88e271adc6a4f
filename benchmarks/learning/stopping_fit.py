"""The weight of the observed change in the stopping signal, fitted on the tuning families of a results file
and checked on the held-out ones: `python -m benchmarks.learning.stopping_fit benchmarks/results/learning.json`.

A round's observed change is the one the run recorded (`observed_change`); a results file from before it
was recorded stands in the realised change of the latest round at least 100 ratings back (a window that
ends at or before this round, so it knows nothing of what comes next; the two differ where rounds are
far apart)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from memethresher_trainer.stopping import NEXT

WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def rounds(curve: list[dict]) -> list[tuple[float, float, float]]:
    """(disagreement estimate, observed change, realised change) of each round that has all three."""
    out = []
    for i, p in enumerate(curve):
        back = max((j for j in range(i) if curve[j]["labels"] <= p["labels"] - NEXT), default=None)
        stand_in = None if back is None else curve[back].get("actual_change")
        observed = p.get("observed_change", stand_in)
        if observed is not None and p.get("actual_change") is not None:
            out.append((p["predicted_change"], observed, p["actual_change"]))
    return out


def errors(points: np.ndarray) -> dict[float, tuple[float, float]]:
    """Mean absolute error and bias of max(estimate, weight * observed) for each weight."""
    out = {}
    for weight in WEIGHTS:
        shown = np.maximum(points[:, 0], weight * points[:, 1])
        out[weight] = (float(np.abs(shown - points[:, 2]).mean()), float((shown - points[:, 2]).mean()))
    return out


def main(path: Path) -> None:
    result = json.loads(path.read_text())
    for strategy in dict.fromkeys(name for w in result["worlds"] for name in w["runs"]):
        for held_out in (False, True):
            points = [point for w in result["worlds"] if result["held_out"][w["family"]] == held_out
                      for run in w["runs"].get(strategy, []) for point in rounds(run["curve"])]  # fmt: skip
            if not points:
                continue
            table, alone = errors(np.array(points)), np.array(points)
            cells = "  ".join(f"{w}: {e:.3f} ({b:+.3f})" for w, (e, b) in table.items())
            estimate = np.abs(alone[:, 0] - alone[:, 2]).mean()
            print(f"{strategy:24} {'held-out' if held_out else 'tuning  '} {len(points):4} rounds  "
                  f"estimate alone {estimate:.3f}  weight: error (bias) {cells}")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]))
