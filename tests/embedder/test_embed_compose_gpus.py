"""tools/compose_gpus.py: one embedder per GPU, each pinned to its card, valid against the compose schema."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
import yaml

from tests.deploy.deploy_files import COMPOSE_SCHEMA, REPO, load_compose, merge_compose, without_reset


def generated(gpus: int) -> dict:
    result = subprocess.run([sys.executable, "tools/compose_gpus.py", "--gpus", str(gpus)], cwd=REPO,
                            capture_output=True, text=True, check=True)  # fmt: skip
    return yaml.safe_load(result.stdout)


def schema_errors(document: dict) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    return [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(document)]


def test_each_gpu_gets_an_embedder_of_its_own() -> None:
    override = generated(3)
    base = load_compose("docker-compose.yml")
    merged = merge_compose(base, override)
    assert schema_errors(override) == [] and schema_errors(without_reset(merged)) == []
    pinned = {name: s for name, s in merged["services"].items() if name.startswith("embedder-gpu")}
    assert sorted(pinned) == ["embedder-gpu0", "embedder-gpu1", "embedder-gpu2"]
    assert merged["services"]["embedder"]["deploy"]["replicas"] == 0, "no unpinned embedder on top"
    devices = [s["deploy"]["resources"]["reservations"]["devices"] for s in pinned.values()]
    assert [d[0]["device_ids"] for d in devices] == [["0"], ["1"], ["2"]]
    assert all(len(d) == 1 and "count" not in d[0] for d in devices), "exactly the one card each"
    plain = base["services"]["embedder"]
    for name, service in pinned.items():
        argv = service["command"]
        node = argv[argv.index("-n") + 1]
        assert node == f"{name}@%h" and f"-d {name}@$$HOSTNAME" in service["healthcheck"]["test"][1]
        # Everything else is the shipped embedder: same image, settings, pool and tasks held.
        assert [a for a in argv if a != node] == [a for a in plain["command"] if a != "embedder@%h"]
        assert service["environment"] == plain["environment"] and service["image"] == plain["image"]


def test_no_gpus_is_refused() -> None:
    with pytest.raises(subprocess.CalledProcessError) as failure:
        generated(0)
    assert "at least 1" in failure.value.stderr
