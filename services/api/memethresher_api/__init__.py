"""MemeThresher API: rating, curation, evaluation and dashboard pages; REST + OpenAPI."""
