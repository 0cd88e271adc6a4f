"""The kustomize output of each overlay: valid against the Kubernetes schemas, and wired the
way the issue asks (GPU embedders that KEDA scales on the `embed` queue, one beat, RWX store)."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from memethresher_shared import tasks
from memethresher_shared.migrate import upgrade

from tests.deploy.deploy_files import REPO, load_compose
from tests.deploy.kustomize_render import containers, pod_spec, render

KUBERNETES_VERSION = "1.31"
OVERLAYS = ("cpu", "gpu")
WORKLOADS = ("api", "crawler", "embedder", "trainer", "scorer", "beat", "flower")
GPU = "nvidia.com/gpu"

# The parts of KEDA's ScaledObject CRD (keda.sh/v1alpha1) these manifests use; the Kubernetes
# schemas do not cover custom resources.
SCALED_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {"type": "object", "required": ["name"],
                                   "properties": {"name": {"type": "string"}, "kind": {"type": "string"}}},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "triggers": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["type", "metadata"],
                    "properties": {"type": {"type": "string"}, "metadata": {
                        "type": "object", "additionalProperties": {"type": "string"}}}}},
            },
        },
    },
}  # fmt: skip
REDIS_TRIGGER_KEYS = {"address", "databaseIndex", "listName", "listLength", "activationListLength"}


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(REPO / "k8s" / "overlays" / request.param)


def objects(rendered: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in rendered if r["kind"] == kind}


def main_container(rendered: list[dict[str, Any]], name: str) -> dict[str, Any]:
    workload = objects(rendered, "Deployment")[name]
    return containers(workload, init=False)[0]


def validate(resource: dict[str, Any]) -> None:
    if resource["kind"] == "ScaledObject":
        jsonschema.validate(resource, SCALED_OBJECT_SCHEMA)
    else:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_every_resource_is_valid_kubernetes(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, rendered = overlay
    for resource in rendered:
        validate(resource)
    kinds = {r["kind"] for r in rendered}
    assert kinds == {"Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "StatefulSet", "Service",
                     "Job", "CronJob", "Deployment", "Ingress", "ScaledObject"}  # fmt: skip


def test_validation_rejects_broken_manifests(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, rendered = overlay
    deployment = copy.deepcopy(objects(rendered, "Deployment")["api"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    scaled = copy.deepcopy(objects(rendered, "ScaledObject")["embedder"])
    scaled["spec"]["maxReplicas"] = 3
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)


def test_everything_lives_in_one_namespace(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, rendered = overlay
    (namespace,) = objects(rendered, "Namespace")
    assert {r["metadata"].get("namespace") for r in rendered if r["kind"] != "Namespace"} == {namespace}


def test_only_the_gpu_overlay_gives_embedders_a_gpu_each(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    name, rendered = overlay
    for workload in objects(rendered, "Deployment").values():
        pod = pod_spec(workload) or {}
        limits = containers(workload, init=False)[0]["resources"]["limits"]
        if name == "gpu" and workload["metadata"]["name"] == "embedder":
            assert limits[GPU] == 1 and containers(workload, init=False)[0]["resources"]["requests"][GPU] == 1
            assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
            assert {"key": GPU, "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
        else:
            assert GPU not in limits and "tolerations" not in pod, workload["metadata"]["name"]
    embedder = next(c for c in objects(rendered, "ConfigMap").values() if "MEMETHRESHER_EMBEDDER" in c["data"])
    expected = {"cpu": "ViT-B-16-SigLIP2:webli", "gpu": "ViT-SO400M-14-SigLIP-384:webli"}[name]
    assert embedder["data"]["MEMETHRESHER_EMBEDDER"] == expected


def test_keda_scales_embedders_and_crawlers_on_their_queues(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    _, rendered = overlay
    scaled = objects(rendered, "ScaledObject")
    assert set(scaled) == {"embedder", "crawler"}
    (namespace,) = objects(rendered, "Namespace")
    redis_port = objects(rendered, "Service")["redis"]["spec"]["ports"][0]["port"]
    for name, queue in (("embedder", tasks.EMBED_QUEUE), ("crawler", tasks.CRAWL_QUEUE)):
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name and spec["minReplicaCount"] == 0
        assert spec["maxReplicaCount"] >= 2
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "redis" and set(trigger["metadata"]) == REDIS_TRIGGER_KEYS
        # Celery's Redis transport keeps a queue as a list named after it.
        assert trigger["metadata"]["listName"] == queue
        assert trigger["metadata"]["address"] == f"redis.{namespace}.svc.cluster.local:{redis_port}"
        command = main_container(rendered, name)["command"]
        assert command[command.index("-Q") + 1] == queue
        assert "replicas" not in objects(rendered, "Deployment")[name]["spec"], "KEDA owns the replica count"


def test_beat_is_one_replica_replaced_not_rolled(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, rendered = overlay
    beat = objects(rendered, "Deployment")["beat"]
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"] == {"type": "Recreate"}
    schedulers = [
        n for n, d in objects(rendered, "Deployment").items() if "beat" in main_container(rendered, n)["command"]
    ]
    assert schedulers == ["beat"]


def test_every_container_has_probes_requests_and_limits(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, rendered = overlay
    for workload in [*objects(rendered, "Deployment").values(), *objects(rendered, "StatefulSet").values(),
                     *objects(rendered, "Job").values()]:  # fmt: skip
        pod = pod_spec(workload) or {}
        assert pod["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        for container in containers(workload):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"]), container["name"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
        if workload["kind"] != "Job":
            for container in containers(workload, init=False):
                assert container["readinessProbe"] and container["livenessProbe"], container["name"]


def test_references_resolve_to_objects_in_the_output(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, rendered = overlay
    config_maps, secrets = objects(rendered, "ConfigMap"), objects(rendered, "Secret")
    claims = objects(rendered, "PersistentVolumeClaim")

    def walk(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict):
                    yield key, value
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for workload in rendered:
        for key, ref in walk(pod_spec(workload) or {}):
            if key in ("configMap", "configMapRef", "configMapKeyRef"):
                assert ref["name"] in config_maps, ref
            elif key == "secretKeyRef":
                assert ref.get("optional") or ref["key"] in secrets[ref["name"]]["stringData"], ref
            elif key == "persistentVolumeClaim":
                assert ref["claimName"] in claims, ref


def test_services_and_ingress_reach_pods(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, rendered = overlay
    pods = [w["spec"]["template"]["metadata"]["labels"] for w in rendered if pod_spec(w) is not None]
    services = objects(rendered, "Service")
    for service in services.values():
        selector = service["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in pods), service["metadata"]["name"]
    for rule in objects(rendered, "Ingress")["memethresher"]["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"]["name"] in services


def test_the_image_store_is_one_read_write_many_volume(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, rendered = overlay
    assert objects(rendered, "PersistentVolumeClaim")["memethresher-data"]["spec"]["accessModes"] == ["ReadWriteMany"]
    (config,) = [c for c in objects(rendered, "ConfigMap").values() if "MEMETHRESHER_STORAGE" in c["data"]]
    for name in ("api", "crawler", "embedder", "trainer", "scorer"):
        mounts = {m["mountPath"]: m for m in main_container(rendered, name)["volumeMounts"]}
        assert mounts[config["data"]["MEMETHRESHER_STORAGE"]]["name"] == "data", name


def test_every_folder_the_api_writes_is_on_a_mounted_volume(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    from memethresher_api.folders import configured_folders
    from memethresher_api.settings import ApiSettings

    _, rendered = overlay
    (config,) = [c for c in objects(rendered, "ConfigMap").values() if "MEMETHRESHER_DATA_DIR" in c["data"]]
    names = ("data_dir", "storage", "library_dir")
    settings = ApiSettings(**{n: config["data"][f"MEMETHRESHER_{n.upper()}"] for n in names})
    api = main_container(rendered, "api")
    assert api["securityContext"]["readOnlyRootFilesystem"] is True  # so only volumes can be written
    mounts = [Path(m["mountPath"]) for m in api["volumeMounts"] if not m.get("readOnly")]
    for name, folder in configured_folders(settings).items():
        assert any(folder.is_relative_to(mount) for mount in mounts), f"the {name} ({folder}) is not on a volume"


def test_images_are_tagged_and_workers_run_what_compose_runs(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    _, rendered = overlay
    compose = load_compose("docker-compose.yml")["services"]
    for name in WORKLOADS:
        container = main_container(rendered, name)
        assert container["image"].startswith("memethresher-") and container["image"].endswith(":0.1.0")
        if name in ("crawler", "embedder", "trainer", "scorer", "flower"):
            assert container["command"] == compose[name]["command"], name


def test_schema_wait_script_holds_services_until_the_migration_ran(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'memethresher.db'}"
    script = REPO / "k8s" / "base" / "wait_for_schema.py"
    env = {"MEMETHRESHER_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(script), "1"], env=env, capture_output=True, text=True, timeout=60)

    before = run()
    assert before.returncode == 1 and "has the migration Job run?" in before.stderr
    upgrade(url)
    after = run()
    assert after.returncode == 0, after.stderr


def test_renderer_refuses_what_it_does_not_render(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({"resources": [], "helmCharts": []}))
    with pytest.raises(ValueError, match="helmCharts"):
        render(tmp_path)


def test_prometheus_finds_every_metrics_endpoint(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, rendered = overlay
    (config,) = [c for c in objects(rendered, "ConfigMap").values() if "MEMETHRESHER_METRICS_PORT" in c["data"]]
    for name in ("crawler", "embedder", "trainer", "scorer"):
        annotations = objects(rendered, "Deployment")[name]["spec"]["template"]["metadata"]["annotations"]
        ports = {p["name"]: p["containerPort"] for p in main_container(rendered, name)["ports"]}
        assert annotations["prometheus.io/port"] == config["data"]["MEMETHRESHER_METRICS_PORT"] == str(ports["metrics"])
    api = objects(rendered, "Deployment")["api"]["spec"]["template"]["metadata"]["annotations"]
    assert api["prometheus.io/path"] == "/metrics" and api["prometheus.io/port"] == "8000"


def test_every_encoder_the_deployments_name_is_one_the_embedder_knows() -> None:
    from memethresher_embedder.registry import known_encoders

    named = {c["data"]["MEMETHRESHER_EMBEDDER"] for overlay in OVERLAYS
             for c in objects(render(REPO / "k8s" / "overlays" / overlay), "ConfigMap").values()
             if "MEMETHRESHER_EMBEDDER" in c["data"]}  # fmt: skip
    compose_text = "".join((REPO / n).read_text() for n in ("docker-compose.yml", "docker-compose.cpu.yml"))
    named |= set(re.findall(r"MEMETHRESHER_EMBEDDER(?:_CPU)?:-([^}]+)\}", compose_text))
    assert len(named) >= 2 and named <= set(known_encoders())


def test_the_crawler_is_given_the_reddit_user_its_user_agent_names(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, rendered = overlay
    config_maps = objects(rendered, "ConfigMap")
    crawler = main_container(rendered, "crawler")
    given = {key for ref in crawler.get("envFrom", []) if "configMapRef" in ref
             for key in config_maps[ref["configMapRef"]["name"]]["data"]}  # fmt: skip
    assert "MEMETHRESHER_REDDIT_USERNAME" in given
    # Compose passes .env to the crawler, and .env.example offers the setting.
    env_files = [
        f["path"] if isinstance(f, dict) else f
        for f in load_compose("docker-compose.yml")["services"]["crawler"]["env_file"]
    ]
    assert ".env" in env_files
    assert "MEMETHRESHER_REDDIT_USERNAME=" in (REPO / ".env.example").read_text()
