"""The evaluation page's pure measures: ROC, percentile bands, precision at the top, the CDF, charts."""

import itertools

import numpy as np
from memethresher_api import evaluation, svg


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
