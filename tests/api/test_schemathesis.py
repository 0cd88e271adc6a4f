"""Every operation of our own OpenAPI document, fed generated requests: never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from memethresher_api.main import create_app

from tests.api.helpers import add_batch, add_memes, add_model, add_scores

EXAMPLES_PER_OPERATION = 15


def test_no_server_errors_from_generated_requests(env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_ALLOWED_HOSTS", '["testserver"]')  # the name schemathesis sends
    ids = add_memes(4)
    model = add_model()
    add_batch(model, [(ids[0], ids[1])])
    add_scores(model, {ids[0]: 0.5, ids[1]: 0.1}, curate=True)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25

    calls = 0
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    for operation, mode in ((op, mode) for op in operations for mode in modes):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case) -> None:  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            response = case.call()
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.body!r}: {response.status_code} {response.text[:300]}"
                )

        try:
            check()
        except Unsatisfiable:  # an operation without parameters has no invalid request to make
            assert mode is schemathesis.GenerationMode.NEGATIVE
    assert calls > 10 * len(operations)
    assert not failures, "\n".join(failures[:20])
