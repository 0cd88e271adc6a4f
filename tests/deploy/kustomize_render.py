"""A small renderer for the subset of kustomize that k8s/ uses, so the tests can check an
overlay's output without a kustomize binary.

Supported: `resources` (files and folders with a kustomization), `namespace`, `patches`
(strategic-merge patch files, matched by kind and name), `images` (newName, newTag, digest)
and `configMapGenerator` (literals, files, envs; behavior create, merge, replace; a content-hash
suffix on the name, with every reference rewritten). The suffix is computed like kustomize's
(sha256 of the content) but is not byte-for-byte the same. Any other key is refused, so a
kustomization never silently renders differently here than under `kubectl apply -k`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "namespace", "patches", "images", "configMapGenerator"}
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
                  "CustomResourceDefinition", "PriorityClass", "IngressClass"}  # fmt: skip
# Strategic-merge keys of the lists our patches touch; other lists are replaced, as in kustomize.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "ports": "containerPort", "envFrom": None}  # fmt: skip
GENERATED = "memethresher.test/generated-name"

Resource = dict[str, Any]


def render(folder: Path) -> list[Resource]:
    """The resources `kustomize build folder` would print, in the subset described above."""
    resources = _build(folder)
    renames = {}
    for resource in resources:
        original = resource["metadata"].get("annotations", {}).pop(GENERATED, None)
        if original is not None:
            if not resource["metadata"]["annotations"]:
                del resource["metadata"]["annotations"]
            digest = hashlib.sha256(json.dumps(resource["data"], sort_keys=True).encode()).hexdigest()[:10]
            resource["metadata"]["name"] = f"{original}-{digest}"
            renames[original] = resource["metadata"]["name"]
    for resource in resources:
        _rename_config_refs(resource, renames)
    return resources


def _build(folder: Path) -> list[Resource]:
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unsupported = set(spec) - SUPPORTED_KEYS
    if unsupported:
        raise ValueError(f"{folder}: kustomization keys {sorted(unsupported)} are not rendered by the tests")
    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = folder / entry
        if path.is_dir():
            resources += _build(path)
        else:
            resources += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for generator in spec.get("configMapGenerator", []):
        _generate_config_map(folder, generator, resources)
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise ValueError(f"{folder}: only `patches: - path: file` is rendered by the tests")
        for doc in yaml.safe_load_all((folder / patch["path"]).read_text()):
            target = _find(resources, doc["kind"], doc["metadata"]["name"])
            resources[resources.index(target)] = strategic_merge(target, doc)
    for image in spec.get("images", []):
        for resource in resources:
            _set_image(resource, image)
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]
    return resources


def _find(resources: list[Resource], kind: str, name: str) -> Resource:
    for resource in resources:
        if resource["kind"] == kind and resource["metadata"]["name"] == name:
            return resource
    raise ValueError(f"no {kind}/{name} to patch")


def _generate_config_map(folder: Path, generator: dict[str, Any], resources: list[Resource]) -> None:
    data: dict[str, str] = {}
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    for entry in generator.get("files", []):
        key, _, path = entry.rpartition("=") if "=" in entry else (Path(entry).name, "", entry)
        data[key] = (folder / path).read_text()
    for env_file in generator.get("envs", []):
        for line in (folder / env_file).read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                data[key.strip()] = value
    name, behavior = generator["name"], generator.get("behavior", "create")
    existing = [r for r in resources if r["kind"] == "ConfigMap" and
                r["metadata"].get("annotations", {}).get(GENERATED) == name]  # fmt: skip
    if behavior == "create":
        if existing:
            raise ValueError(f"ConfigMap {name} generated twice; use behavior: merge or replace")
        metadata = {"name": name, "annotations": {GENERATED: name}}
        resources.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})
    elif behavior in ("merge", "replace") and existing:
        existing[0]["data"] = {**existing[0]["data"], **data} if behavior == "merge" else data
    else:
        raise ValueError(f"ConfigMap {name}: behavior {behavior!r} needs a generated ConfigMap in a base")


def strategic_merge(base: Any, patch: Any, key: str = "") -> Any:
    """Merge `patch` into `base`: maps recursively, keyed lists by their merge key, null deletes."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for name, value in patch.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = strategic_merge(base[name], value, name) if name in base else copy.deepcopy(value)
        return merged
    merge_key = MERGE_KEYS.get(key)
    if isinstance(base, list) and isinstance(patch, list) and merge_key:
        merged_list = [copy.deepcopy(item) for item in base]
        for item in patch:
            match = next((i for i, old in enumerate(merged_list) if old.get(merge_key) == item.get(merge_key)), None)
            if match is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[match] = strategic_merge(merged_list[match], item)
        return merged_list
    return copy.deepcopy(patch)


def pod_spec(resource: Resource) -> dict[str, Any] | None:
    """The pod spec inside a workload, or None for other kinds."""
    spec = resource.get("spec", {})
    if resource["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return spec["template"]["spec"]
    return None


def containers(resource: Resource, init: bool = True) -> list[dict[str, Any]]:
    pod = pod_spec(resource) or {}
    return [*pod.get("containers", []), *(pod.get("initContainers", []) if init else [])]


def _set_image(resource: Resource, image: dict[str, Any]) -> None:
    for container in containers(resource):
        reference = container["image"]
        name = reference.split("@", 1)[0].rsplit(":", 1)[0] if ":" in reference.split("/")[-1] else reference
        if name != image["name"]:
            continue
        new = image.get("newName", name)
        if "digest" in image:
            container["image"] = f"{new}@{image['digest']}"
        else:
            tag = image.get("newTag", reference[len(name) + 1 :] if reference != name else "")
            container["image"] = f"{new}:{tag}" if tag else new


def _rename_config_refs(node: Any, renames: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key in ("configMap", "configMapRef", "configMapKeyRef"):
            ref = node.get(key)
            if isinstance(ref, dict) and ref.get("name") in renames:
                ref["name"] = renames[ref["name"]]
        for value in node.values():
            _rename_config_refs(value, renames)
    elif isinstance(node, list):
        for value in node:
            _rename_config_refs(value, renames)
