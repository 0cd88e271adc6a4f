"""Ratings needed to learn a taste: simulated raters of several taste families, our learner and strategies
against the seed's recipe, judged by the worst family.

    python benchmarks/bench_learning.py [--quick] [--families pixels,conv] [--worlds 0,1,2] [--draws 2]
                                        [--strategies uncertainty,random@raw] [--stand-in 128] [--no-twin]
    python benchmarks/bench_learning.py --seed-only --families conv --worlds 0   # fill the seed cache
    python benchmarks/bench_learning.py --strategies diverse,diverse/four,diverse+curation   # signals

A strategy is acquisition[+random][+curation[N]][/four[:answer]][@learner]: `uncertainty+random` draws half
of each batch at random; `/four`: every interaction of the person is the best of four memes (two of the
strategy's pairs, stored as three comparisons, each the answer "a"; `/four:a+` stores them as "a+");
`+curation`: after each retrain the person also keeps or discards the memes the curation queue offers, one
decision per 4 pairs (`+curation2`: per 2 pairs; see benchmarks/learning/signals.py); `@raw`: a learner
variant. Curves and tables count interactions (a pair, a
four or a decision is one); for a best of four the report adds a row "... by comparisons".

Memes are the demo's sample memes embedded by the offline encoder (EfficientNet-Lite0, 1280-d); a world
draws 1,000 of them (700 to rate, 300 held out and split good = top 30% of the hidden taste / bad), a taste
of one family (benchmarks/learning/worlds.py: most are defined on the images, not on the embedding) and a
rater answering on the 5-point scale with Bradley-Terry noise. Families and worlds used to choose defaults
are declared in worlds.py (TUNING_*); the report worlds 0-2 are never tuned on. Our runs follow the product
loop (a retrain every round, the next pairs from the new model), `--draws` runs per strategy and world, each
its own candidate sample. The seed recipe runs once a world at its own width; its curves are cached in
benchmarks/results/learning_seed.json (20-35 min a world here). `--stand-in W` runs it at width W where no
full-width curve is cached (W = 128 was within 0.002 of the full width in RESULTS.md); the report says
which worlds used it. Writes benchmarks/results/learning.json and docs/research/learning.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.learning import report  # noqa: E402
from benchmarks.learning.loop import LEARNERS, TWIN, learner_config, run_ours, strategy_chooser  # noqa: E402
from benchmarks.learning.memes import load_memes  # noqa: E402
from benchmarks.learning.seed_recipe import PLAN, QUICK_PLAN, cache_key, key_for, load_cache, seed_curve  # noqa: E402
from benchmarks.learning.signals import parse_signals  # noqa: E402
from benchmarks.learning.worlds import FAMILIES, REPORT_WORLDS, TUNING_FAMILIES, World, make_world  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "learning.json"
PLOT = ROOT / "docs" / "research" / "learning.png"
DEFAULT = "random"  # the product's default acquisition, with the product's default learner
COLLECTION = 3000  # memes embedded; each world draws its own from them


def split_strategy(name: str) -> tuple[str, str]:
    strategy, _, learner = name.partition("@")
    if (learner or "default") not in LEARNERS:
        raise SystemExit(f"unknown learner {learner!r} in {name!r}; known: {sorted(LEARNERS)}")
    return strategy, learner or "default"


def seed_for(world: World, args: argparse.Namespace) -> dict:
    """The seed recipe's curve at full width if cached (or `--stand-in 0`), else at the stand-in width."""
    plan = QUICK_PLAN if args.quick else PLAN
    full = 128 if args.quick else world.x.shape[1]
    if args.stand_in and cache_key(world, full, plan) not in load_cache():
        return seed_curve(world, args.stand_in, plan)
    torch.set_num_threads(args.seed_threads)  # bandwidth-bound: two threads ~1.5x faster than one
    try:
        return seed_curve(world, full, plan)
    finally:
        torch.set_num_threads(1)


def run_world(world: World, args: argparse.Namespace) -> dict[str, Any]:
    seed = seed_for(world, args)
    runs: dict[str, list[dict]] = {}
    for name in args.strategies.split(","):
        strategy, learner = split_strategy(name)
        signals = parse_signals(strategy)
        config = learner_config(world, learner)
        runs[name] = []
        for draw in range(args.first_draw, args.first_draw + args.draws):
            choose = strategy_chooser(signals.acquisition, draw, world.x[world.pool])
            curve = run_ours(world, choose, args.budget, config, signals, TWIN and not args.no_twin)
            runs[name].append({"draw": draw, "summary": report.summarize(curve, seed["curve"]), "curve": curve})
        print(f"  {world.name} {name}: AUROC at the end {[r['curve'][-1]['auroc'] for r in runs[name]]}", flush=True)
    return {"family": world.family, "world": world.seed, "seed_hidden": seed["hidden"],
            "seed_curve": seed["curve"], "runs": runs}  # fmt: skip


def family_curves(worlds: list[dict], family: str) -> dict[str, list[tuple[list[dict], list[dict]]]]:
    """Each strategy's runs in a family as (curve, its world's seed curve); a strategy whose interactions
    hold more comparisons than one each (best of four) also as "... by comparisons"."""
    mine = [w for w in worlds if w["family"] == family]
    runs: dict[str, list[tuple[list[dict], list[dict]]]] = {}
    for name in dict.fromkeys(name for w in mine for name in w["runs"]):
        runs[name] = [(r["curve"], w["seed_curve"]) for w in mine for r in w["runs"].get(name, [])]
        if any(report.by_comparisons(c) != c for c, _ in runs[name]):
            runs[f"{name} by comparisons"] = [(report.by_comparisons(c), seed) for c, seed in runs[name]]
    return runs


def pool_families(worlds: list[dict]) -> dict[str, dict[str, dict]]:
    families: dict[str, dict[str, dict]] = {}
    for family in dict.fromkeys(w["family"] for w in worlds):
        seeds = [report.summarize(w["seed_curve"], w["seed_curve"]) for w in worlds if w["family"] == family]
        families[family] = {"seed recipe": report.pool(seeds)}
        for name, runs in family_curves(worlds, family).items():
            families[family][name] = report.pool([report.summarize(curve, seed) for curve, seed in runs])
    return families


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 memes, 450 labels, world 0, one draw")
    parser.add_argument("--families", default=",".join(FAMILIES), help=f"taste families of {sorted(FAMILIES)}")
    parser.add_argument("--worlds", help="world indices (default 0,1,2; --quick 0); tuning worlds are 100-102")
    parser.add_argument("--draws", type=int, help="runs of each strategy a world (default 2; --quick 1)")
    parser.add_argument("--first-draw", type=int, default=0,
                        help="index of the first draw: adds draws to an earlier run's, for --merge")  # fmt: skip
    parser.add_argument("--strategies", default=",".join(dict.fromkeys([DEFAULT, "random"])),
                        help=f"acquisition[@learner], learners {sorted(LEARNERS)}; '+random': half random")  # fmt: skip
    parser.add_argument("--stand-in", type=int, default=0,
                        help="seed-recipe width where no full-width curve is cached (0: run it)")  # fmt: skip
    parser.add_argument("--seed-threads", type=int, default=2, help="torch threads for the seed recipe")
    parser.add_argument("--seed-only", action="store_true", help="only run (or find) the seed recipe's curves")
    parser.add_argument("--no-twin", action="store_true",
                        help="stopping signal from the members themselves, no twin: half the fits")  # fmt: skip
    parser.add_argument("--features", type=Path, help="cache of the embedded sample memes (.npz)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file")
    parser.add_argument("--plot", type=Path, default=PLOT, help="AUROC against labels (PNG)")
    parser.add_argument("--budget", type=int, help="interactions a run (default 1,512; --quick 450)")
    parser.add_argument("--merge", type=Path, nargs="+", help="pool these results files into one report")
    args = parser.parse_args()
    worlds = args.worlds or ("0" if args.quick else ",".join(map(str, REPORT_WORLDS)))
    args.worlds = [int(w) for w in worlds.split(",")]
    args.draws = args.draws or (1 if args.quick else 2)
    args.memes, budget = (500, 450) if args.quick else (1000, 1512)
    args.budget = args.budget or budget
    return args


def merge_worlds(parts: list[dict]) -> list[dict]:
    """One record per world, with the strategies of every part that ran in it; a strategy's draws from
    several parts are pooled (a later part's run of the same draw replaces the earlier one)."""
    merged: dict[tuple[str, int], dict] = {}
    for world in (w for part in parts for w in part["worlds"]):
        key = (world["family"], world["world"])
        record = merged.setdefault(key, dict(world, runs={}))
        for name, runs in world["runs"].items():
            draws = {run["draw"]: run for run in record["runs"].get(name, [])} | {run["draw"]: run for run in runs}
            record["runs"][name] = [draws[d] for d in sorted(draws)]
    return list(merged.values())


def with_full_width_seed(worlds: list[dict], cache: dict[str, dict], memes: int, full: int,
                         plan: tuple[int, tuple[int, ...]]) -> list[dict]:  # fmt: skip
    """Worlds whose parts ran against a stand-in width get the seed recipe's full-width curve where one has
    been cached since (`--seed-only`), and their runs' summaries are measured against it."""
    upgraded = []
    for world in worlds:
        entry = cache.get(key_for(f"{world['family']}/{world['world']}", memes, full, plan))
        if world["seed_hidden"] == full or entry is None:
            upgraded.append(world)
            continue
        runs = {name: [dict(run, summary=report.summarize(run["curve"], entry["curve"])) for run in rs]
                for name, rs in world["runs"].items()}  # fmt: skip
        upgraded.append(dict(world, seed_hidden=full, seed_curve=entry["curve"], runs=runs))
    return upgraded


def write_report(worlds: list[dict], args: argparse.Namespace, seconds: float) -> None:
    """The per-family table, the verdicts, the stopping signal's accuracy, the plot and the results file."""
    families = pool_families(worlds)
    held_out = {family: family not in TUNING_FAMILIES for family in families}
    report.print_table(families, held_out)
    full = 128 if args.quick else 1280  # the seed recipe's own width: the encoder's embedding width
    stand_ins = sorted(f"{w['family']}/{w['world']}" for w in worlds if w["seed_hidden"] != full)
    names = list(dict.fromkeys(name for w in worlds for name in w["runs"]))
    verdicts = {name: report.verdict(families, name) for name in names}
    for v in verdicts.values():
        print(report.verdict_line(v))
    if stand_ins:
        print(f"seed recipe at a stand-in width (not {full}) in: {', '.join(stand_ins)}")
    curves = {f: {"seed recipe": [w["seed_curve"] for w in worlds if w["family"] == f]}
              | {n: [c for c, _ in runs] for n, runs in family_curves(worlds, f).items()}
              for f in families}  # fmt: skip
    report.plot(curves, held_out, args.plot)
    stopping = {n: report.stopping_report([c for f in families for c in curves[f].get(n, [])]) for n in names}
    for name, row in stopping.items():
        print(f"stopping signal, {name}: {row}")
    result = {"families": families, "held_out": held_out, "verdict": verdicts, "default": DEFAULT, "stopping": stopping,
              "seed_stand_in": stand_ins, "worlds": worlds, "draws": args.draws, "memes": args.memes,
              "budget": args.budget, "quick": args.quick, "seconds": round(seconds)}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


def main() -> None:
    args = parse()
    started = time.perf_counter()
    if args.merge:
        # Parts run as separate processes (e.g. a family each), pooled into one report.
        parts = [json.loads(path.read_text()) for path in args.merge]
        args.draws, args.memes, args.budget, args.quick = (parts[0][k] for k in ("draws", "memes", "budget", "quick"))
        full, plan = (128, QUICK_PLAN) if args.quick else (1280, PLAN)
        worlds = with_full_width_seed(merge_worlds(parts), load_cache(), args.memes, full, plan)
        write_report(worlds, args, sum(p["seconds"] for p in parts))
        return
    torch.set_num_threads(1)  # as the trainer runs (MEMETHRESHER_TRAINER_THREADS)
    memes = load_memes(COLLECTION, args.features)
    worlds = []
    for family in args.families.split(","):
        for index in args.worlds:
            world = make_world(memes, family, index, args.memes)
            if args.seed_only:
                seed = seed_for(world, args)
                print(f"{world.name}: seed recipe (width {seed['hidden']}) {seed['curve']}", flush=True)
                continue
            worlds.append(run_world(world, args))
            # Written after every world, so that a long run stopped early keeps what it measured.
            write_report(worlds, args, time.perf_counter() - started)


if __name__ == "__main__":
    main()
