"""Pooling the learning benchmark's runs: parts run as separate processes (draws added later join the
earlier ones instead of replacing them), and strategies against random pairs run for run."""

from __future__ import annotations

import pytest

from benchmarks.bench_learning import merge_worlds, with_full_width_seed
from benchmarks.learning.paired import paired
from benchmarks.learning.seed_recipe import key_for


def part(draws: list[int], strategies: tuple[str, ...] = ("epig",), auroc: float = 0.8) -> dict:
    runs = {name: [{"draw": d, "curve": [{"labels": 20, "auroc": auroc}]} for d in draws] for name in strategies}
    return {"worlds": [{"family": "conv", "world": 0, "seed_curve": [], "runs": runs}]}


def test_draws_of_one_strategy_from_two_parts_are_pooled_in_draw_order() -> None:
    merged = merge_worlds([part([1], auroc=0.7), part([0]), part([0], strategies=("random",))])
    assert len(merged) == 1
    assert [r["draw"] for r in merged[0]["runs"]["epig"]] == [0, 1]
    assert [r["draw"] for r in merged[0]["runs"]["random"]] == [0]


def test_a_later_run_of_the_same_draw_replaces_the_earlier() -> None:
    merged = merge_worlds([part([0], auroc=0.7), part([0], auroc=0.9)])
    assert [r["curve"][0]["auroc"] for r in merged[0]["runs"]["epig"]] == [0.9]


def summary(margin: float, at_128: float) -> dict:
    return {"vs_seed": {"1000": margin - 0.01, "1256": margin, "1512": margin + 0.01}, "at_128": at_128,
            "at_256": None, "at_512": 0.9, "at_1024": 0.95}  # fmt: skip


def test_strategies_are_compared_with_random_pairs_of_the_same_world_and_draw() -> None:
    def runs(**by_draw: list[tuple[float, float]]) -> dict:
        return {name: [{"draw": d, "summary": summary(*v)} for d, v in enumerate(values)]
                for name, values in by_draw.items()}  # fmt: skip

    results = {"worlds": [
        # The lucky draw 1 helps both strategies alike: only the differences count.
        {"family": "conv", "world": 0,
         "runs": runs(random=[(-0.02, 0.6), (0.03, 0.8)], epig=[(-0.03, 0.7), (0.02, 0.8)])},
        {"family": "conv", "world": 1, "runs": runs(epig=[(0.5, 0.9)])},  # no random run to pair with: left out
    ]}  # fmt: skip
    row = paired(results)["epig"]["conv"]
    assert row["draws"] == 2
    assert row["margin"] == pytest.approx(-0.01)
    assert row["margin_spread"] == pytest.approx(0.0, abs=1e-12)
    assert row["at_128"] == pytest.approx(0.05)
    assert row["at_256"] is None and row["at_512"] == pytest.approx(0.0)


def test_a_full_width_seed_curve_cached_since_replaces_the_stand_in() -> None:
    curve = [{"labels": 1000, "auroc": 0.9}]
    world = {"family": "conv", "world": 0, "seed_hidden": 128, "seed_curve": [{"labels": 1000, "auroc": 0.8}],
             "runs": {"random": [{"draw": 0, "curve": curve, "summary": {}}]}}  # fmt: skip
    plan = (1000, (256, 256))
    cache = {key_for("conv/0", 1000, 1280, plan): {"curve": [{"labels": 1000, "auroc": 0.95}], "hidden": 1280}}
    upgraded = with_full_width_seed([world, dict(world, world=1)], cache, 1000, 1280, plan)
    assert upgraded[0]["seed_hidden"] == 1280
    assert upgraded[0]["runs"]["random"][0]["summary"]["vs_seed"]["1000"] == pytest.approx(-0.05)
    assert upgraded[1] == dict(world, world=1)  # nothing cached for conv/1: the stand-in stays, and says so
