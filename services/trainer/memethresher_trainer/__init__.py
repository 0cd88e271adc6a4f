"""MemeThresher trainer: Bradley-Terry ensemble, active learning, scoring and curation."""
