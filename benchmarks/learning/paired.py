"""Strategies against random pairs run for run: the same world and the same draw (the same first random
pairs and rater), so the difference is the strategy's and not the luck of the draw. For each family, the
mean over draws of (strategy minus random pairs) in the margin over the seed recipe (mean of 1,000 / 1,256 /
1,512 ratings) and in AUROC at 128 / 256 / 512 / 1,024 ratings, and the spread of that difference between
draws (standard deviation; none from one draw).

    python -m benchmarks.learning.paired benchmarks/results/learning_epig_balpm.json [--against random]
        [--out benchmarks/results/learning_epig_balpm_paired.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

AT = ("at_128", "at_256", "at_512", "at_1024")


def margin(summary: dict) -> float:
    return float(np.mean(list(summary["vs_seed"].values())))


def paired(results: dict, against: str = "random") -> dict[str, dict[str, dict[str, Any]]]:
    """{strategy: {family: {"draws", "margin", "margin_spread", "at_128", ...}}} over the runs that have a
    run of `against` of the same world and draw."""
    runs: dict[tuple[str, int, int], dict[str, dict]] = {}
    for world in results["worlds"]:
        for name, draws in world["runs"].items():
            for run in draws:
                runs.setdefault((world["family"], world["world"], run["draw"]), {})[name] = run["summary"]
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (family, _, _), by_name in runs.items():
        if against not in by_name:
            continue
        base = by_name[against]
        for name, summary in by_name.items():
            if name == against:
                continue
            row = out.setdefault(name, {}).setdefault(family, {"margins": [], **{c: [] for c in AT}})
            row["margins"].append(margin(summary) - margin(base))
            for c in AT:
                if summary.get(c) is not None and base.get(c) is not None:
                    row[c].append(summary[c] - base[c])
    for rows in out.values():
        for row in rows.values():
            diffs = row.pop("margins")
            row |= {"draws": len(diffs), "margin": float(np.mean(diffs)),
                    "margin_spread": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else None}  # fmt: skip
            for c in AT:
                row[c] = float(np.mean(row[c])) if row[c] else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--against", default="random")
    parser.add_argument("--out", type=Path, help="write the table as JSON")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    table = paired(results, args.against)
    for name, rows in table.items():
        print(f"{name} minus {args.against}, paired by world and draw")
        print(f"  {'family':12} {'draws':>5} {'margin':>7} {'spread':>7} " + " ".join(f"{c[3:]:>7}" for c in AT))
        for family, row in rows.items():
            tuning = "" if results["held_out"].get(family, True) else "*"
            spread = "-" if row["margin_spread"] is None else f"{row['margin_spread']:.3f}"
            cells = " ".join("      -" if row[c] is None else f"{row[c]:+7.3f}" for c in AT)
            print(f"  {family + tuning:12} {row['draws']:5} {row['margin']:+7.3f} {spread:>7} {cells}")
    print("(* tuning family)")
    if args.out:
        args.out.write_text(json.dumps({"against": args.against, "paired": table}, indent=1))


if __name__ == "__main__":
    main()
