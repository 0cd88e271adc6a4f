"""Paths and loaders for the deployment files (compose, Dockerfiles, .env.example, k8s), for the tests."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_SCHEMA = REPO / "tests" / "data" / "compose-spec.json"
SERVICES = ("api", "crawler", "embedder", "trainer")
SETTINGS_BASES = {"Settings", "BaseSettings"}


class ComposeLoader(yaml.SafeLoader):
    """YAML loader that understands Compose's `!reset` tag (an override that removes a key)."""


ComposeLoader.add_constructor("!reset", lambda loader, node: RESET)
RESET = object()


def load_compose(name: str) -> dict[str, Any]:
    with (REPO / name).open() as handle:
        return yaml.load(handle, Loader=ComposeLoader)  # noqa: S506 - SafeLoader subclass


def without_reset(value: Any) -> Any:
    """The document as JSON Schema sees it after Compose resolved `!reset` (to nothing)."""
    if isinstance(value, dict):
        return {k: without_reset(v) for k, v in value.items() if v is not RESET}
    if isinstance(value, list):
        return [without_reset(v) for v in value if v is not RESET]
    return value


def merge_compose(base: Any, override: Any) -> Any:
    """Compose's merge of an override file: maps merge, `!reset` removes, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if value is RESET:
                merged.pop(key, None)
            else:
                merged[key] = merge_compose(base.get(key), value) if key in base else without_reset(value)
        return merged
    return without_reset(override)


def settings_fields() -> dict[str, str]:
    """Every `MEMETHRESHER_*` variable a settings class declares, read from the source (no imports)."""
    sources = [
        *REPO.glob("shared/memethresher_shared/**/*.py"),
        *REPO.glob("services/*/memethresher_*/**/*.py"),
    ]
    trees = [(path, ast.parse(path.read_text())) for path in sorted(sources) if "migrations" not in path.parts]
    classes = [(path, node) for path, tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    settings_classes, grew = set(SETTINGS_BASES), True
    while grew:  # subclasses of subclasses (`class XSettings(Settings)`, and so on)
        found = {node.name for _, node in classes if {getattr(b, "id", None) for b in node.bases} & settings_classes}
        grew = not found <= settings_classes
        settings_classes |= found
    fields: dict[str, str] = {}
    for path, node in classes:
        if node.name in settings_classes:
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    if item.target.id != "model_config" and "ClassVar" not in ast.unparse(item.annotation):
                        fields[f"MEMETHRESHER_{item.target.id.upper()}"] = f"{path.name}:{node.name}"
    return fields


def env_example_names() -> set[str]:
    """Variables .env.example mentions, set or commented out (`# NAME=default`)."""
    text = (REPO / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def dockerfile(service: str) -> str:
    return (REPO / "services" / service / "Dockerfile").read_text()
