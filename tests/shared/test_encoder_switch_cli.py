"""`memethresher encoder …` as a person types it, against a real database and broker."""

from __future__ import annotations

import subprocess
import sys

from tests.api.helpers import add_memes
from tests.conftest import REPO, Env


def memethresher(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "memethresher_shared.cli", *args]
    return subprocess.run(command, env=env.vars, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_switch_status_and_cancel_from_the_command_line(env: Env) -> None:
    add_memes(5)
    status = memethresher(env, "encoder", "status")
    assert status.returncode == 0, status.stderr
    assert "active: efficientnet_lite0:imagenet" in status.stdout and "tiny-siglip:random" in status.stdout
    unknown = memethresher(env, "encoder", "switch", "nope:nothing")
    assert unknown.returncode != 0 and "unknown encoder 'nope:nothing'" in unknown.stderr
    started = memethresher(env, "encoder", "switch", "tiny-siglip:random")
    assert started.returncode == 0, started.stderr
    assert "efficientnet_lite0:imagenet → tiny-siglip:random: 5 memes to cover" in started.stdout
    assert "1 embed batches queued" in started.stdout
    pending = memethresher(env, "encoder", "status").stdout
    assert "pending: tiny-siglip:random (embedding), 0 of 5 embedded" in pending
    cancelled = memethresher(env, "encoder", "cancel")
    assert cancelled.returncode == 0 and "efficientnet_lite0:imagenet stays active" in cancelled.stdout
    assert (
        "last switch: efficientnet_lite0:imagenet → tiny-siglip:random cancelled"
        in memethresher(env, "encoder", "status").stdout
    )
    again = memethresher(env, "encoder", "cancel")
    assert again.returncode != 0 and "no encoder switch is under way" in again.stderr
