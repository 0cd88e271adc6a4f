"""Pooling parts of the learning benchmark run as separate processes: draws added later join the earlier
ones instead of replacing them."""

from __future__ import annotations

from benchmarks.bench_learning import merge_worlds


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
