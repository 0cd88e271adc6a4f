"""Simulated raters for measuring how many ratings the learner needs (`python benchmarks/bench_learning.py`).

worlds: the memes, their image features and the families of hidden tastes; rater: Bradley-Terry answers
on the product's 5-point scale; loop: the product's rating loop; seed_recipe: the seed's recipe, its
curves cached per world; report: the per-family summary, verdict and plot.
"""
