"""docker-compose.yml, its CPU variant, the Dockerfiles and .env.example: valid and consistent.

Docker cannot run here, so the compose files are checked against the Compose specification's
JSON schema and for the properties a user relies on (one beat, GPU embedders that scale, nothing
starting before the migration)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from memethresher_shared import tasks
from memethresher_shared.launcher import EMBEDDER_TASKS_AHEAD

from tests.deploy.deploy_files import (
    COMPOSE_SCHEMA,
    REPO,
    SERVICES,
    dockerfile,
    env_example_names,
    load_compose,
    merge_compose,
    settings_fields,
    without_reset,
)

APP_SERVICES = ("api", "crawler", "embedder", "trainer", "scorer", "beat", "flower")
TORCH_PACKAGES = {"torch", "torchvision", "open-clip-torch", "open_clip_torch", "timm"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose("docker-compose.yml")


@pytest.fixture(scope="module")
def cpu_compose(compose: dict[str, Any]) -> dict[str, Any]:
    return merge_compose(compose, load_compose("docker-compose.cpu.yml"))


def command(service: dict[str, Any]) -> list[str]:
    return list(service["command"])


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.cpu.yml"])
def test_compose_files_follow_the_compose_specification(name: str) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(
        without_reset(load_compose(name)))]  # fmt: skip
    assert errors == []


def test_the_schema_check_catches_a_broken_file(compose: dict[str, Any]) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    broken = {
        **compose,
        "services": {**compose["services"], "api": {**compose["services"]["api"], "ports": 8000}},
    }
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_every_part_of_the_topology_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"redis", "postgres", "migrate", "backup", *APP_SERVICES}
    assert set(compose["volumes"]) >= {"redis", "postgres", "images"}


def test_redis_keeps_an_append_only_file_and_postgres_a_volume(compose: dict[str, Any]) -> None:
    redis, postgres = compose["services"]["redis"], compose["services"]["postgres"]
    assert "--appendonly" in redis["command"] and redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert "redis:/data" in redis["volumes"]
    assert "postgres:/var/lib/postgresql/data" in postgres["volumes"]


def test_every_folder_the_api_writes_is_on_a_volume(compose: dict[str, Any]) -> None:
    from memethresher_api.folders import configured_folders
    from memethresher_api.settings import ApiSettings

    api = compose["services"]["api"]
    names = ("data_dir", "storage", "library_dir")
    settings = ApiSettings(**{n: api["environment"][f"MEMETHRESHER_{n.upper()}"] for n in names})
    mounts = [Path(volume.split(":")[-1]) for volume in api["volumes"] if not volume.endswith(":ro")]
    for name, folder in configured_folders(settings).items():
        assert folder in mounts, f"the {name} ({folder}) is not on a volume"


def test_nothing_starts_before_the_migration_succeeded(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert command(migrate) == ["memethresher", "migrate"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        depends = compose["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_beat_runs_exactly_once(compose: dict[str, Any]) -> None:
    beat = compose["services"]["beat"]
    assert beat["deploy"]["replicas"] == 1
    # A fixed container name is what makes `docker compose up --scale beat=2` refuse.
    assert beat["container_name"]
    schedulers = [name for name, s in compose["services"].items() if "beat" in s.get("command", [])]
    assert schedulers == ["beat"]


def test_embedders_reserve_one_gpu_each_and_can_be_scaled(compose: dict[str, Any]) -> None:
    embedder = compose["services"]["embedder"]
    (device,) = embedder["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"] and device["count"] == 1
    for name in ("embedder", "crawler", "trainer", "scorer"):
        # Scaling needs containers without fixed names or host ports.
        assert "container_name" not in compose["services"][name] and "ports" not in compose["services"][name]


def test_cpu_variant_has_no_gpu_and_one_cpu_encoder_everywhere(cpu_compose: dict[str, Any]) -> None:
    embedder = cpu_compose["services"]["embedder"]
    assert "deploy" not in embedder
    assert embedder["environment"]["MEMETHRESHER_EMBEDDER_DEVICE"] == "cpu"
    encoders = {cpu_compose["services"][name]["environment"]["MEMETHRESHER_EMBEDDER"] for name in APP_SERVICES}
    assert len(encoders) == 1 and "SO400M" not in encoders.pop()
    # The override keeps the settings it does not name.
    assert embedder["environment"]["MEMETHRESHER_BROKER_URL"] == "redis://redis:6379/0"


def test_workers_consume_every_queue_with_their_own_code(compose: dict[str, Any]) -> None:
    consumed = {}
    for name, service in compose["services"].items():
        argv = command(service) if "command" in service else []
        if "worker" in argv:
            consumed[argv[argv.index("-Q") + 1]] = (name, argv[argv.index("-A") + 1])
    assert set(consumed) == set(tasks.QUEUES)
    assert consumed["crawl"][1] == "memethresher_crawler.tasks"
    assert consumed["embed"][1] == "memethresher_embedder.tasks"
    assert consumed["train"][1] == consumed["score"][1] == "memethresher_trainer.tasks"
    trainer = command(compose["services"]["trainer"])
    assert trainer[trainer.index("--concurrency") + 1] == "1"
    # The embedder holds as many tasks as `memethresher up` gives it, in threads sharing one model.
    embedder = command(compose["services"]["embedder"])
    assert embedder[embedder.index("--pool") + 1] == "threads"
    assert embedder[embedder.index("--concurrency") + 1] == str(EMBEDDER_TASKS_AHEAD)
    for argv in (trainer, embedder):
        assert argv[argv.index("--prefetch-multiplier") + 1] == "1"


def test_flower_asks_for_a_password(compose: dict[str, Any]) -> None:
    flower = compose["services"]["flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    assert flower["ports"] == ["${MEMETHRESHER_FLOWER_BIND:-127.0.0.1}:${MEMETHRESHER_FLOWER_PORT:-5555}:5555"]
    assert compose["services"]["api"]["environment"]["MEMETHRESHER_API_TOKEN"].startswith("${MEMETHRESHER_API_TOKEN:?")


def test_long_running_services_have_healthchecks(compose: dict[str, Any]) -> None:
    # beat has nothing to answer a ping with; migrate is a one-shot.
    for name in set(compose["services"]) - {"migrate", "beat"}:
        assert compose["services"][name]["healthcheck"]["test"], name
    for name in ("crawler", "embedder", "trainer", "scorer"):
        probe = compose["services"][name]["healthcheck"]["test"][1]
        node = command(compose["services"][name])[command(compose["services"][name]).index("-n") + 1]
        assert f"-d {node.replace('%h', '$$HOSTNAME')}" in probe, name


def test_every_variable_compose_reads_is_documented() -> None:
    used = set()
    for name in ("docker-compose.yml", "docker-compose.cpu.yml"):
        used |= set(re.findall(r"\$\{([A-Z0-9_]+)", (REPO / name).read_text()))
    assert used - env_example_names() == set()


def test_every_setting_is_documented_in_env_example() -> None:
    fields = settings_fields()
    assert {"MEMETHRESHER_DATABASE_URL", "MEMETHRESHER_METRICS_PORT"} <= set(fields)
    missing = {name: where for name, where in fields.items() if name not in env_example_names()}
    assert missing == {}


def test_env_example_names_only_real_settings_or_compose_variables() -> None:
    compose_text = "".join((REPO / n).read_text() for n in ("docker-compose.yml", "docker-compose.cpu.yml"))
    settings = settings_fields()
    unknown = {name for name in env_example_names() if name.startswith("MEMETHRESHER_")
               and name not in settings and f"${{{name}" not in compose_text}  # fmt: skip
    assert unknown == set()


def dependencies(folder: str) -> set[str]:
    project = tomllib.loads((REPO / folder / "pyproject.toml").read_text())["project"]
    return {re.split(r"[<>=\[; ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}


def copied_packages(service: str) -> list[str]:
    return re.findall(r"^COPY (shared|services/\w+) ", dockerfile(service), flags=re.MULTILINE)


@pytest.mark.parametrize("service", ["api", "crawler"])
def test_api_and_crawler_images_install_no_torch(service: str) -> None:
    text = dockerfile(service)
    instructions = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert "torch" not in instructions.replace("pip show torch", "").lower()
    assert copied_packages(service) == ["shared", f"services/{service}"]
    for folder in copied_packages(service):
        assert dependencies(folder) & TORCH_PACKAGES == set(), folder
    assert "! pip show torch" in text, "the build should fail if torch ever sneaks in"


@pytest.mark.parametrize("service", ["embedder", "trainer"])
def test_gpu_images_pin_torch(service: str) -> None:
    text = dockerfile(service)
    assert re.search(r"^ARG TORCH_VERSION=2\.14\.1$", text, flags=re.MULTILINE)
    assert '"torch==${TORCH_VERSION}"' in text
    assert "torch==2.14.1" in (REPO / "services/constraints.txt").read_text().splitlines()


@pytest.mark.parametrize("service", SERVICES)
def test_images_are_pinned_multi_stage_and_run_as_non_root(service: str) -> None:
    text = dockerfile(service)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+$", text, flags=re.MULTILINE)
    assert len(re.findall(r"^FROM ", text, flags=re.MULTILINE)) >= 2
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert "--constraint /tmp/constraints.txt" in text
    for source in re.findall(r"^COPY (?!--from)(\S+) ", text, flags=re.MULTILINE):
        assert (REPO / source).exists(), source


def test_compose_pins_every_third_party_image(compose: dict[str, Any]) -> None:
    for name in ("redis", "postgres"):
        assert re.fullmatch(r"[a-z]+:\d+\.\d+(\.\d+)?-alpine", compose["services"][name]["image"]), name


@pytest.mark.parametrize("service", SERVICES)
def test_image_default_command_is_what_compose_runs(service: str, compose: dict[str, Any]) -> None:
    (cmd,) = re.findall(r"^CMD (\[.*\])$", dockerfile(service), flags=re.MULTILINE)
    assert json.loads(cmd) == command(compose["services"][service])


def test_dockerignore_keeps_build_context_small_but_complete() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert {".git", "**/.venv", "data", "tests", ".env"} <= set(ignored)
    assert not {"shared", "services", "services/constraints.txt"} & set(ignored)
