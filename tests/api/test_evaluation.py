import itertools

import numpy as np
import pytest
from memethresher_api import evaluation, svg


def brute_auroc(scores: np.ndarray, good: np.ndarray) -> float:
    wins = [1.0 if g > b else 0.5 if g == b else 0.0
            for g, b in itertools.product(scores[good], scores[~good])]  # fmt: skip
    return float(np.mean(wins))


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_pairwise_definition_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 40).astype(float)  # many ties
    good = rng.random(40) < 0.4
    assert evaluation.auroc(scores, good) == pytest.approx(brute_auroc(scores, good))


def test_auroc_of_perfect_and_inverted_rankings() -> None:
    scores = np.arange(10.0)
    good = scores >= 5
    assert evaluation.auroc(scores, good) == 1.0
    assert evaluation.auroc(-scores, good) == 0.0
    assert evaluation.auroc(scores, np.ones(10, bool)) is None


def test_roc_runs_from_origin_to_corner_and_never_goes_down() -> None:
    rng = np.random.default_rng(1)
    scores, good = rng.random(50), rng.random(50) < 0.5
    points = evaluation.roc_curve(scores, good)
    assert points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)
    assert all(b[0] >= a[0] and b[1] >= a[1] for a, b in itertools.pairwise(points))


def test_percentile_bands_count_every_labelled_meme_once() -> None:
    all_scores = np.arange(100.0)
    labelled = np.array([5.0, 55.0, 95.0, 99.0])
    good = np.array([False, True, True, False])
    bands = evaluation.percentile_bands(all_scores, labelled, good)
    assert sum(b.labelled for b in bands) == 4
    top = bands[-1]
    assert (top.low, top.high, top.labelled, top.good, top.precision) == (90, 100, 2, 1, 0.5)
    assert bands[0].labelled == 1 and bands[0].precision == 0.0


def test_precision_at_top_and_cdf() -> None:
    scores = np.array([0.9, 0.8, 0.1, 0.2])
    good = np.array([True, False, False, True])
    assert evaluation.precision_at_top(scores, good, 0.25) == 1.0
    assert evaluation.precision_at_top(scores, good, 0.5) == 0.5
    cdf = evaluation.score_cdf(scores)
    assert cdf[0] == (0.1, 0.25) and cdf[-1] == (0.9, 1.0)


def test_svg_escapes_labels() -> None:
    chart = svg.line_chart("<b>t</b>", [("<x>", [(0, 0), (1, 1)])], "x&", "y")
    assert "<b>" not in chart and "&lt;x&gt;" in chart and "x&amp;" in chart
