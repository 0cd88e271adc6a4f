"""Fixtures for the export and backup tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def small_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ensembles of four, and a second rating axis (every process of the test reads these)."""
    monkeypatch.setenv("MEMETHRESHER_ENSEMBLE_MEMBERS", "4")
    monkeypatch.setenv("MEMETHRESHER_RATING_AXES", '["funny"]')
