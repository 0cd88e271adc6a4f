"""The deployments back up on a schedule: a compose service and a Kubernetes CronJob that run
`memethresher backup` on the store and their own backup volume, with PostgreSQL's client tools."""

from __future__ import annotations

import re

from tests.deploy.deploy_files import REPO, load_compose
from tests.deploy.kustomize_render import render


def test_compose_backs_up_the_store_into_a_host_folder_on_a_schedule() -> None:
    service = load_compose("docker-compose.yml")["services"]["backup"]
    assert service["command"][:3] == ["memethresher", "backup", "--every"]
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "images:/data/images" in service["volumes"]  # writable: a restore runs in this service too
    backups = service["environment"]["MEMETHRESHER_BACKUP_DIR"]
    assert any(v.endswith(f":{backups}") and v.startswith("${MEMETHRESHER_BACKUP_HOST_DIR") for v in service["volumes"])
    assert "backup.json" in service["healthcheck"]["test"][1]


def test_the_backup_image_has_a_pg_dump_as_new_as_the_compose_server() -> None:
    text = (REPO / "services/backup/Dockerfile").read_text()
    server = load_compose("docker-compose.yml")["services"]["postgres"]["image"]
    major = re.search(r"postgres:(\d+)\.", server).group(1)  # type: ignore[union-attr]
    assert f"ARG POSTGRES_MAJOR={major}" in text and '"postgresql-client-${POSTGRES_MAJOR}"' in text
    (cmd,) = re.findall(r"^CMD (\[.*\])$", text, flags=re.MULTILINE)
    assert cmd.startswith('["memethresher", "backup"')
    assert re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)[-1] == "10001:10001"


def test_kubernetes_runs_a_nightly_backup_onto_its_own_volume() -> None:
    assert "- name: memethresher-backup\n    newTag:" in (REPO / "k8s/base/kustomization.yaml").read_text()
    for overlay in ("cpu", "gpu"):
        rendered = render(REPO / "k8s" / "overlays" / overlay)
        (job,) = [r for r in rendered if r["kind"] == "CronJob"]
        assert job["spec"]["concurrencyPolicy"] == "Forbid"
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert container["command"] == ["memethresher", "backup"]
        assert container["image"].split(":")[0] == "memethresher-backup"
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in pod["volumes"]}
        assert claims[mounts["/data/images"]["name"]] == "memethresher-data" and mounts["/data/images"]["readOnly"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert claims[mounts[env["MEMETHRESHER_BACKUP_DIR"]]["name"]] == "memethresher-backups"
        assert {r["metadata"]["name"] for r in rendered if r["kind"] == "PersistentVolumeClaim"} >= {
            "memethresher-backups"
        }
