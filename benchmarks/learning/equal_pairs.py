"""What keeps and discards add to the pairs a person rated anyway: a `+curation` run's AUROC against the
pairs-only run of the same world at the same number of pairs (the decisions come free, as in the product,
where a person curates because they want the memes, not to teach the model).

    python -m benchmarks.learning.equal_pairs benchmarks/results/learning_signals.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.learning.report import auroc_at

AT = (256, 512, 1024, 1512)  # interactions of the curation run


def gains(results: dict, base: str = "diverse") -> dict[str, dict[str, list[tuple[int, int, float]]]]:
    """{run name: {family: [(interactions, pairs, AUROC with decisions minus pairs-only at those pairs)]}}."""
    out: dict[str, dict[str, list[tuple[int, int, float]]]] = {}
    for world in results["worlds"]:
        if base not in world["runs"]:
            continue
        alone = world["runs"][base][0]["curve"]
        for name, runs in world["runs"].items():
            if "+curation" not in name:
                continue
            for point in (p for p in runs[0]["curve"] if p["labels"] in AT and "comparisons" in p):
                same = auroc_at(alone, point["comparisons"])
                if same is not None:
                    row = (point["labels"], point["comparisons"], point["auroc"] - same)
                    out.setdefault(name, {}).setdefault(world["family"], []).append(row)
    return out


def main() -> None:
    for name, families in gains(json.loads(Path(sys.argv[1]).read_text())).items():
        print(name)
        for family, rows in families.items():
            print(f"  {family:11s} " + "  ".join(f"{n} ({pairs} pairs): {gain:+.3f}" for n, pairs, gain in rows))
        for n in AT:
            cells = [gain for rows in families.values() for m, _, gain in rows if m == n]
            if cells:
                print(f"  mean at {n} interactions: {sum(cells) / len(cells):+.3f} over {len(cells)} families")


if __name__ == "__main__":
    main()
